/**
 * @module Steps 2 and 3 of bench/stream.ts: feature fetch latency. A `FeatureServer` bootstraps
 * its state from the whole generated stream (held in memory) on a fixed clock just after the last
 * event. Step 2 calls the route's own function (`fetchFeatures` over the server's state and plan)
 * in process for random users with random candidate sets; step 3 loads the server over HTTP on
 * loopback from a second process (bench/stream-load.ts) at a steady rate.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadFeatureSet } from '../src/plan/load-features.ts';
import type { InteractionEvent } from '../src/events/schema.ts';
import { featuresResponseJson, fetchFeatures } from '../src/serve/fetch.ts';
import { selectRefs } from '../src/serve/plan.ts';
import { FeatureServer } from '../src/serve/server.ts';
import { DEMO_FEATURES, parseStreamOptions, report, requestMaker, runChild, say, summarize, worldInMemory, type World, benchServerOptions } from './stream-common.ts';

const o = parseStreamOptions(process.argv.slice(2));
const compiled = await loadFeatureSet(DEMO_FEATURES);
const world: { items: World['items']; users: World['users']; events: InteractionEvent[] | null } = worldInMemory(o);
const { items, users } = world;
const eventCount = (world.events as InteractionEvent[]).length;
const watermark = ((world.events as InteractionEvent[]).at(-1) as InteractionEvent).ts;
// The server's "now": one second after the newest event, fixed, so every run reads the same state.
const NOW = watermark + 1000;
const tmp = mkdtempSync(join(tmpdir(), 'recsignal-bench-stream-'));
// Replayed once, then dropped: the server holds its state, not the events, while it is measured.
async function* replay(): AsyncGenerator<InteractionEvent> {
  const all = world.events as InteractionEvent[];
  world.events = null;
  yield* all;
}
const t0 = performance.now();
const server = await FeatureServer.start(benchServerOptions({ compiled, events: replay(), items, users, now: NOW, dir: tmp }));
await server.ready;
const bootstrapS = (performance.now() - t0) / 1000;
say(`fetch: server bootstrapped ${server.bootstrapped.toLocaleString('en-US')} events in ${bootstrapS.toFixed(1)} s at ${server.url}`);

const sel = selectRefs(server.plan, undefined);
const request = requestMaker(o, NOW);

const first = fetchFeatures(server.state, server.plan, sel, request(), server.requestStats);
const shape = {
  userFeatures: first.user.features.length,
  itemFeatures: first.items.features.length,
  crossFeatures: sel.perItem.filter((r) => r.view === null).length,
  candidates: first.items.item_ids.length,
  valuesPerResponse: first.user.features.length + first.items.features.length * first.items.item_ids.length,
};
const presentShare = (r: typeof first) => {
  let present = 0;
  let all = 0;
  for (const row of r.items.statuses) for (const s of row) (all++, s === 'PRESENT' && present++);
  for (const s of r.user.statuses) (all++, s === 'PRESENT' && present++);
  return present / all;
};

// Warm-up, then the measured requests: first the fetch alone (the goal's measure), then fetch and
// JSON serialisation together (what the HTTP path does, with the route's serialiser). Two loops, so that the
// garbage of one measure does not trigger the collections timed in the other.
const WARMUP = Math.min(1000, o.requests);
for (let i = 0; i < WARMUP; i++) fetchFeatures(server.state, server.plan, sel, request(), server.requestStats);
const fetchMs: number[] = [];
const withJsonMs: number[] = [];
let present = 0;
// The young-generation collections during the fetch-only loop: each pauses the requests it lands
// in, so their count against the requests says whether the p99 is a collection or not.
const scavenges: number[] = [];
const gcObserver = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if ((e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR) scavenges.push(e.duration);
});
gcObserver.observe({ entryTypes: ['gc'] });
for (let i = 0; i < o.requests; i++) {
  const q = request();
  const a = performance.now();
  const r = fetchFeatures(server.state, server.plan, sel, q, server.requestStats);
  fetchMs.push(performance.now() - a);
  present += presentShare(r);
}
await new Promise((r) => setTimeout(r, 50)); // the observer is told after the loop yields
gcObserver.disconnect();
for (let i = 0; i < o.requests; i++) {
  const q = request();
  const a = performance.now();
  featuresResponseJson(fetchFeatures(server.state, server.plan, sel, q, server.requestStats));
  withJsonMs.push(performance.now() - a);
}
const fetchScavenges = { count: scavenges.length, meanPauseMs: Math.round((scavenges.reduce((x, y) => x + y, 0) / Math.max(1, scavenges.length)) * 100) / 100, maxPauseMs: Math.round(Math.max(0, ...scavenges) * 100) / 100 };
const inProcess = { requests: o.requests, warmup: WARMUP, fetch: summarize(fetchMs), fetchAndJson: summarize(withJsonMs), fetchScavenges, presentShare: Math.round((present / o.requests) * 1000) / 1000 };
say(`fetch: in process p50 ${inProcess.fetch.p50Ms} ms, p99 ${inProcess.fetch.p99Ms} ms, p999 ${inProcess.fetch.p999Ms} ms`);

const load = await runChild('stream-load.ts', ['--url', server.url, '--rate', String(o.rate), '--duration', String(o.duration), '--warmup', '3', '--users', String(o.users), '--items', String(o.items), '--candidates', String(o.candidates)], {
  timeoutS: o.duration + 90,
});
say(`fetch: HTTP ${load.ok ? `p50 ${(load.report?.['latency'] as { p50Ms: number }).p50Ms} ms, p99 ${(load.report?.['latency'] as { p99Ms: number }).p99Ms} ms` : `failed: ${load.error}`}`);
await server.close();
rmSync(tmp, { recursive: true, force: true });
report({ events: eventCount, nowMs: NOW, bootstrapS: Math.round(bootstrapS * 10) / 10, shape, inProcess, http: load.ok ? load.report : { error: load.error }, requestFeatureErrors: server.requestStats.errors });
process.exit(0);
