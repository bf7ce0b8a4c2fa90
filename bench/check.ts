/** @module Child step: compares two result files and prints the comparison as JSON (see compare.ts). */
import { compareResults } from './compare.ts';

const [a, b, keys, mode] = process.argv.slice(2);
if (a === undefined || b === undefined) throw new Error('check: usage: check.ts A.parquet B.parquet [key1,key2|-] [a-in-b]');
const r = await compareResults(a, b, keys && keys !== '-' ? keys.split(',') : null, { aInB: mode === 'a-in-b' });
process.stdout.write(`${JSON.stringify(r)}\n`);
