/**
 * @module `node --import tsx bench/stream-apply-views.ts [stream options]`: where the apply time
 * goes, by view. The demo feature set's stateful views are applied one at a time (with the lookups,
 * which cost nothing to apply), each over the whole generated stream, and their rates are compared
 * with all views together and with none: the marginal microseconds an event costs per view. Not a
 * step of bench/stream.ts; the figures inform the state layout (BENCHMARKS.md, stream notes).
 */
import type { FeatureSetDef } from '../src/features/dsl.ts';
import { StreamEngine } from '../src/compute/stream/engine.ts';
import type { InteractionEvent } from '../src/events/schema.ts';
import { compileFeatureSet } from '../src/plan/compile.ts';
import demo from '../examples/streaming/features.ts';
import { LATENESS_MS, parseStreamOptions, report, say, worldInMemory } from './stream-common.ts';

const o = parseStreamOptions(process.argv.slice(2));
const world = worldInMemory(o);
const events = world.events;
const REPEATS = 2;

/** Events per second through a fresh engine of `views` (request features left out), the best of REPEATS. */
function rate(views: FeatureSetDef['views']): number {
  const compiled = compileFeatureSet({ ...demo, views, requestFeatures: [] });
  let best = 0;
  for (let r = 0; r < REPEATS; r++) {
    const engine = new StreamEngine(compiled, { lateness: LATENESS_MS, items: world.items, users: world.users });
    const t = performance.now();
    for (let i = 0; i < events.length; i++) engine.apply(events[i] as InteractionEvent);
    best = Math.max(best, events.length / ((performance.now() - t) / 1000));
  }
  return Math.round(best);
}

const lookups = demo.views.filter((v) => v.kind === 'lookup_view');
const all = rate(demo.views);
const none = rate(lookups);
const us = (r: number) => Math.round((1e6 / r) * 100) / 100;
say(`all views: ${all.toLocaleString('en-US')} events/s (${us(all)} µs an event); lookups only: ${none.toLocaleString('en-US')} (${us(none)} µs)`);
const views = demo.views
  .filter((v) => v.kind !== 'lookup_view')
  .map((v) => {
    const r = rate([...lookups, v]);
    const marginal = Math.round((us(r) - us(none)) * 100) / 100;
    say(`${v.name}: ${r.toLocaleString('en-US')} events/s alone, +${marginal} µs an event`);
    return { view: v.name, eventsPerSecond: r, marginalMicros: marginal };
  });
report({ events: events.length, repeats: REPEATS, all: { eventsPerSecond: all, micros: us(all) }, lookupsOnly: { eventsPerSecond: none, micros: us(none) }, views, sumOfMarginalMicros: Math.round(views.reduce((s, v) => s + v.marginalMicros, us(none)) * 100) / 100 });
