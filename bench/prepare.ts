/** @module Child step: makes sure the cached world (and the reference slice) exist; prints where they are as JSON. */
import { DEMO_FEATURES } from '../src/cli/demo.ts';
import { loadFeatureSet } from '../src/plan/load-features.ts';
import { prepareSlice, prepareWorld } from './data.ts';
import { parseOptions } from './options.ts';

const o = parseOptions(process.argv.slice(2));
const compiled = await loadFeatureSet(DEMO_FEATURES);
const say = (s: string) => process.stderr.write(`${s}\n`);
const world = await prepareWorld(o, compiled, say);
const slice = o.skipReference ? null : await prepareSlice(o, world, compiled, say);
process.stdout.write(`${JSON.stringify({ world, slice })}\n`);
