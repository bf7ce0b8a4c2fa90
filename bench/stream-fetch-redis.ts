/**
 * @module `node --import tsx bench/stream-fetch-redis.ts [stream options]`: feature fetch for 1 user
 * + N candidates in process with the state in Redis (127.0.0.1:6379): the server's own route code
 * (`state.reader` — one getMany for the user and every candidate — then `fetchFeatures`), timed per
 * request after a warm-up. The state is built from a generated world into a namespace of its own,
 * deleted afterwards. Use a smaller world than the memory bench (building the state writes every key).
 * `BENCH_REDIS_CACHE_MB` sets the store's tracked cache (default 256, as `serve`; 0: off).
 * `BENCH_REDIS`: another redis:// URL, a redis-cluster:// one, or `cluster` for a throwaway 3-master
 * cluster on loopback ports (started and stopped here, as the tests do).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadFeatureSet } from '../src/plan/load-features.ts';
import type { InteractionEvent } from '../src/events/schema.ts';
import { featureReads, fetchFeatures } from '../src/serve/fetch.ts';
import { selectRefs } from '../src/serve/plan.ts';
import { FeatureServer } from '../src/serve/server.ts';
import type { OnlineStore } from '../src/store/online/online-store.ts';
import { parseRedisClusterUrl, RedisClusterStore } from '../src/store/online/redis-cluster/redis-cluster-store.ts';
import { RedisStore } from '../src/store/online/redis/redis-store.ts';
import { dropNamespace, startRedisCluster } from '../test/helpers/redis-cluster.ts';
import { DEMO_FEATURES, parseStreamOptions, report, requestMaker, say, summarize, worldInMemory, benchServerOptions } from './stream-common.ts';

const asked = process.env['BENCH_REDIS'] ?? 'redis://127.0.0.1:6379';
const throwaway = asked === 'cluster' ? await startRedisCluster(3) : undefined;
const URL = throwaway?.url ?? asked;
const isCluster = URL.startsWith('redis-cluster://');
const o = parseStreamOptions(process.argv.slice(2));
const compiled = await loadFeatureSet(DEMO_FEATURES);
const world = worldInMemory(o);
const events = world.events as InteractionEvent[];
const NOW = (events.at(-1) as InteractionEvent).ts + 1000;
const namespace = `recsignal-bench:${process.pid}`;
const tmp = mkdtempSync(join(tmpdir(), 'recsignal-bench-redis-'));
async function* replay(): AsyncGenerator<InteractionEvent> {
  yield* events;
}
const cacheBytes = Number(process.env['BENCH_REDIS_CACHE_MB'] ?? 256) * 1024 * 1024;
const store: OnlineStore = isCluster ? await RedisClusterStore.connect(URL, { cacheBytes }) : await RedisStore.connect(URL, { cacheBytes });
const t0 = performance.now();
const server = await FeatureServer.start({ ...benchServerOptions({ compiled, events: replay(), items: world.items, users: world.users, now: NOW, dir: tmp }), store, namespace });
await server.ready;
const buildS = (performance.now() - t0) / 1000;
say(`fetch (${store.kind}): ${events.length.toLocaleString('en-US')} events built into ${URL} in ${buildS.toFixed(1)} s`);

const sel = selectRefs(server.plan, undefined);
const request = requestMaker(o, NOW);
const once = async () => {
  const q = request();
  const a = performance.now();
  fetchFeatures(await server.state.reader(q.t, featureReads(sel, q)), server.plan, sel, q, server.requestStats);
  return performance.now() - a;
};
const WARMUP = Math.min(500, o.requests);
for (let i = 0; i < WARMUP; i++) await once();
const ms: number[] = [];
for (let i = 0; i < o.requests; i++) ms.push(await once());
const fetch = summarize(ms);
say(`fetch (${store.kind}${cacheBytes > 0 ? `, tracked cache ${cacheBytes / 1024 / 1024} MiB` : ', no cache'}): in process p50 ${fetch.p50Ms} ms, p99 ${fetch.p99Ms} ms, p999 ${fetch.p999Ms} ms; cache ${JSON.stringify(store.cacheStats?.() ?? null)}`);
await server.close();
// A cluster's keys are spread over its masters: each is swept.
for (const node of isCluster ? parseRedisClusterUrl(URL).map((n) => `redis://${n.host}:${n.port}`) : [URL]) await dropNamespace(node, namespace);
const cache = store.cacheStats?.() ?? null;
await store.close();
await throwaway?.stop();
rmSync(tmp, { recursive: true, force: true });
report({ store: store.kind, events: events.length, users: o.users, items: o.items, candidates: o.candidates, cacheMiB: cacheBytes / 1024 / 1024, cache, buildS: Math.round(buildS * 10) / 10, requests: o.requests, warmup: WARMUP, fetch });
process.exit(0);
