/**
 * @module Step 1 of bench/stream.ts: apply throughput on one core. The whole generated stream, held
 * in memory in time order, goes through `StreamEngine.apply` (demo feature set, then the all-ops
 * fixture), and through `OnlineState.apply` (engine plus key index: what the server does per event).
 */
import { loadFeatureSet } from '../src/plan/load-features.ts';
import { StreamEngine } from '../src/compute/stream/engine.ts';
import type { InteractionEvent } from '../src/events/schema.ts';
import type { CompiledFeatureSet } from '../src/plan/compile.ts';
import { compileFeatureSet } from '../src/plan/compile.ts';
import { OnlineState } from '../src/serve/online-state.ts';
import { servingPlan } from '../src/serve/plan.ts';
import allOps from '../test/fixtures/all-ops.ts';
import { DEMO_FEATURES, LATENESS_MS, parseStreamOptions, report, say, worldInMemory, type World } from './stream-common.ts';

const o = parseStreamOptions(process.argv.slice(2));
const demo = await loadFeatureSet(DEMO_FEATURES);
const t0 = performance.now();
const world = worldInMemory(o);
say(`apply: ${world.events.length.toLocaleString('en-US')} events generated and sorted in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

interface ApplyRun {
  readonly subject: string;
  readonly featureSet: string;
  readonly views: number;
  readonly events: number;
  readonly seconds: number;
  readonly eventsPerSecond: number;
  readonly outcomes: { applied: number; duplicates: number; late: number };
  /** Throughput of each tenth of the stream: state grows, so the rate may drift. */
  readonly tenthsEventsPerSecond: number[];
}

/** The first events, applied to a throwaway instance first so that the timed run measures compiled code, not the JIT warming up. */
const WARMUP = Math.min(50_000, Math.floor(world.events.length / 10));

function timed(subject: string, compiled: CompiledFeatureSet, create: () => (e: InteractionEvent) => string, w: World): ApplyRun {
  const events = w.events;
  {
    const warm = create();
    for (let i = 0; i < WARMUP; i++) warm(events[i] as InteractionEvent);
  }
  const apply = create();
  const outcomes = { applied: 0, duplicates: 0, late: 0 };
  const tenths: number[] = [];
  const step = Math.ceil(events.length / 10);
  const start = performance.now();
  let mark = start;
  for (let i = 0; i < events.length; i++) {
    const r = apply(events[i] as InteractionEvent);
    if (r === 'applied') outcomes.applied++;
    else if (r === 'duplicate') outcomes.duplicates++;
    else outcomes.late++;
    if ((i + 1) % step === 0 || i === events.length - 1) {
      const now = performance.now();
      const n = (i % step) + 1;
      tenths.push(Math.round(n / ((now - mark) / 1000)));
      mark = now;
    }
  }
  const seconds = (performance.now() - start) / 1000;
  const run = { subject, featureSet: compiled.ir.name, views: compiled.ir.views.length, events: events.length, seconds: Math.round(seconds * 100) / 100, eventsPerSecond: Math.round(events.length / seconds), outcomes, tenthsEventsPerSecond: tenths };
  say(`apply: ${subject} on ${compiled.ir.name}: ${run.eventsPerSecond.toLocaleString('en-US')} events/s (${run.seconds} s)`);
  return run;
}

const runs: ApplyRun[] = [];
const engineOf = (compiled: CompiledFeatureSet) => () => {
  const engine = new StreamEngine(compiled, { lateness: LATENESS_MS, items: world.items, users: world.users });
  return (e: InteractionEvent) => engine.apply(e);
};
runs.push(timed('StreamEngine.apply', demo, engineOf(demo), world));
runs.push(
  timed('OnlineState.apply (engine + key index, the server path)', demo, () => {
    const state = new OnlineState({ plan: servingPlan(demo), items: world.items, users: world.users, lateness: LATENESS_MS });
    return (e: InteractionEvent) => state.apply(e);
  }, world),
);
const allOpsCompiled = compileFeatureSet(allOps);
runs.push(timed('StreamEngine.apply', allOpsCompiled, engineOf(allOpsCompiled), world));
report({ events: world.events.length, warmupEvents: WARMUP, users: world.users.length, items: world.items.length, latenessMs: LATENESS_MS, runs });
