/**
 * The feature server with its online state in Redis: on the shared Redis (127.0.0.1:6379, a
 * namespace of its own per test, removed after) and on a 3-master cluster of our own, it answers
 * exactly what memory-mode serving answers for the same log and the same requests, before and after
 * the same posted events, and a second server on the namespace resumes from it. A Redis of our own
 * is stopped under a serving server (defaults with status UNAVAILABLE, Feast INVALID, /health
 * degraded, errors counted, events refused with 503 and not logged) and restarted empty: the server
 * rebuilds the state from the log by itself. Also `recsignal serve --online redis://...` as a process.
 */
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../src/cli/main.ts';
import { loadFeatureSet } from '../src/plan/load-features.ts';
import { writeGenerated } from '../src/events/generate-write.ts';
import { openReader, readItemsFile, readUsersFile } from '../src/events/readers/index.ts';
import { createEventValidator } from '../src/events/validate.ts';
import type { CompiledFeatureSet } from '../src/plan/compile.ts';
import { DuckDBEngine, sqlString } from '../src/store/offline/duckdb-engine.ts';
import { EventLog } from '../src/store/offline/event-log.ts';
import { ingest } from '../src/store/offline/ingest.ts';
import { RecsignalError } from '../src/core/errors.ts';
import type { OnlineStore } from '../src/store/online/online-store.ts';
import { RedisStore } from '../src/store/online/redis/redis-store.ts';
import { RedisClusterStore } from '../src/store/online/redis-cluster/redis-cluster-store.ts';
import { FeatureServer } from '../src/serve/server.ts';
import type { ServingState } from '../src/serve/online-state.ts';
import { StoreState } from '../src/serve/store-state.ts';
import { valuesEqual } from './helpers/compare.ts';
import { startServe } from './helpers/serve-process.ts';
import { dropNamespace, redisBinariesMissing, redisUnreachable, startRedisCluster, startRedisServer, testWithoutRedis, type TestRedisCluster, type TestRedisServer } from './helpers/redis-cluster.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const STREAMING = join(ROOT, 'examples', 'streaming', 'features.ts');
const DAY = 86_400_000;
const START = Date.UTC(2024, 0, 1);
const DAYS = 3;
const NOW = START + DAYS * DAY + 10 * 60_000;
const SHARED = 'redis://127.0.0.1:6379';

const tmp = mkdtempSync(join(tmpdir(), 'recsignal-serve-redis-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

let compiled: CompiledFeatureSet;
/** The ingested log; each server gets a copy, since every server appends what it is sent. */
let pristine: string;
let copies = 0;
/** The most active users with their usual devices, and items: played by the first, not, unknown. */
let users: { user: string; device: string }[];
let items: string[];

interface Res {
  status: number;
  body: any;
  text: string;
}

async function call(base: string, method: string, path: string, body?: unknown): Promise<Res> {
  const r = await fetch(`${base}${path}`, { method, ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }) });
  const text = await r.text();
  let parsed: unknown = null;
  try {
    parsed = text === '' ? null : JSON.parse(text);
  } catch {
    parsed = null;
  }
  return { status: r.status, body: parsed, text };
}

async function query(sql: string): Promise<Record<string, unknown>[]> {
  const engine = await DuckDBEngine.open();
  try {
    return await engine.query(sql);
  } finally {
    engine.close();
  }
}

function logCopy(): EventLog {
  const dir = join(tmp, `log-${++copies}`);
  cpSync(pristine, dir, { recursive: true });
  return new EventLog(dir);
}

function uniqueNamespace(what: string): string {
  return `rs-test:serve-${what}:${process.pid}-${Date.now()}-${Math.floor(Math.random() * 1e6)}`;
}

async function startServer(log: EventLog, store?: OnlineStore, namespace?: string, storeProbeMs?: number): Promise<FeatureServer<ServingState>> {
  const server = await FeatureServer.start({
    compiled, log, port: 0, clock: () => NOW, flushIntervalMs: 60_000,
    ...(store === undefined ? {} : { store, ...(namespace === undefined ? {} : { namespace }), ...(storeProbeMs === undefined ? {} : { storeProbeMs }) }),
  });
  await server.ready;
  return server;
}

/** The same requests, against every endpoint that reads state. */
function featureRequests() {
  return users.map(({ user, device }) => ({ user_id: user, items, context: { device } }));
}

function feastRequest() {
  return {
    features: ['user_engagement:play_count_7d', 'user_session:session_event_count', 'item_popularity:play_count_7d', 'user_item:plays', 'user_daypart:play_count_30d', 'item_meta:genres', 'request_features:genre_match'],
    entities: { user_id: items.map(() => (users[0] as { user: string }).user), item_id: items },
    full_feature_names: true,
  };
}

/**
 * `b`'s event times, with memory's (`a`'s) put where `b` does not know it: a derived negative (it
 * happens at impression + timeout, after the request time) hides the times of the older negatives
 * once they are folded, and the store keeps no times beside the state (docs/serving.md says so).
 */
function knownTimes(features: readonly string[], a: readonly (number | null)[], b: readonly (number | null)[]): (number | null)[] {
  return b.map((t, j) => (t === null && features[j]?.startsWith('user_negatives:') ? (a[j] ?? null) : t));
}

/** Every answer of `a` equals `b`'s: statuses and event times exactly, values as the engines' differential tests compare them. */
async function assertSameAnswers(a: string, b: string): Promise<void> {
  const diffs: string[] = [];
  for (const req of featureRequests()) {
    const [x, y] = await Promise.all([call(a, 'POST', '/v1/features', req), call(b, 'POST', '/v1/features', req)]);
    assert.equal(x.status, 200, x.text);
    assert.equal(y.status, 200, y.text);
    assert.deepEqual(x.body.user.features, y.body.user.features);
    assert.deepEqual(x.body.items.features, y.body.items.features);
    assert.deepEqual(x.body.user.statuses, y.body.user.statuses, `user statuses of ${req.user_id}`);
    assert.deepEqual(x.body.user.event_ts, knownTimes(x.body.user.features, x.body.user.event_ts, y.body.user.event_ts), `user event times of ${req.user_id}`);
    assert.deepEqual(x.body.items.statuses, y.body.items.statuses, `item statuses of ${req.user_id}`);
    x.body.items.event_ts.forEach((row: (number | null)[], i: number) => assert.deepEqual(row, knownTimes(x.body.items.features, row, y.body.items.event_ts[i]), `event times of ${req.user_id} × ${items[i]}`));
    x.body.user.features.forEach((f: string, j: number) => {
      if (!valuesEqual(x.body.user.values[j], y.body.user.values[j])) diffs.push(`${req.user_id} ${f}: ${JSON.stringify(x.body.user.values[j])} vs ${JSON.stringify(y.body.user.values[j])}`);
    });
    items.forEach((item, i) => {
      x.body.items.features.forEach((f: string, j: number) => {
        if (!valuesEqual(x.body.items.values[i][j], y.body.items.values[i][j])) diffs.push(`${req.user_id} ${item} ${f}: ${JSON.stringify(x.body.items.values[i][j])} vs ${JSON.stringify(y.body.items.values[i][j])}`);
      });
    });
  }
  const [fx, fy] = await Promise.all([call(a, 'POST', '/get-online-features', feastRequest()), call(b, 'POST', '/get-online-features', feastRequest())]);
  assert.equal(fx.status, 200, fx.text);
  assert.deepEqual(fx.body.metadata, fy.body.metadata);
  fx.body.results.forEach((col: { values: unknown[]; statuses: string[]; event_timestamps: string[] }, j: number) => {
    const other = fy.body.results[j];
    assert.deepEqual(col.statuses, other.statuses, `Feast statuses of ${fx.body.metadata.feature_names[j]}`);
    assert.deepEqual(col.event_timestamps, other.event_timestamps);
    col.values.forEach((v, i) => {
      if (!valuesEqual(v as never, other.values[i])) diffs.push(`feast ${fx.body.metadata.feature_names[j]}[${i}]: ${JSON.stringify(v)} vs ${JSON.stringify(other.values[i])}`);
    });
  });
  assert.deepEqual(diffs, []);
}

/** New events near NOW for the first users: plays, an impression, a completion, a late one and a duplicate. */
function liveEvents(tag: string) {
  const [u0, u1] = users as [{ user: string; device: string }, { user: string; device: string }];
  return [
    { event_id: `${tag}-1`, user_id: u0.user, item_id: items[0], ts: NOW - 60_000, type: 'play', context: { device: u0.device } },
    { event_id: `${tag}-2`, user_id: u0.user, item_id: items[3], ts: NOW - 50_000, type: 'impression', context: { device: u0.device } },
    { event_id: `${tag}-3`, user_id: u1.user, item_id: items[1], ts: NOW - 40_000, type: 'complete', value: 600, duration: 1200, context: { device: u1.device } },
    { event_id: `${tag}-4`, user_id: u1.user, item_id: items[4], ts: NOW - 30_000, type: 'play', context: { device: 'tv' } },
    { event_id: `${tag}-1`, user_id: u0.user, item_id: items[0], ts: NOW - 60_000, type: 'play', context: { device: u0.device } },
    { event_id: `${tag}-late`, user_id: u1.user, item_id: items[2], ts: NOW - 3 * 3_600_000, type: 'play' },
  ];
}

async function eventually(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) assert.fail(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

before(async () => {
  compiled = await loadFeatureSet(STREAMING);
  const gen = await writeGenerated({ users: 30, items: 100, days: DAYS, seed: 23, start: START, out: join(tmp, 'gen', 'events.jsonl') });
  const log = new EventLog(join(tmp, 'log'));
  await ingest(openReader(gen.out, { format: 'jsonl' }), {
    log,
    validator: createEventValidator({ extraTypes: compiled.ir.extraTypes, now: NOW }),
    items: await readItemsFile(gen.itemsPath),
    users: await readUsersFile(gen.usersPath),
  });
  pristine = log.dir;
  const ev = log.eventsRelation();
  users = (await query(`SELECT user_id, mode(device) AS device FROM ${ev} WHERE type = 'play' GROUP BY user_id ORDER BY count(*) DESC, user_id LIMIT 3`)).map((r) => ({ user: String(r['user_id']), device: String(r['device']) }));
  const top = sqlString((users[0] as { user: string }).user);
  const played = (await query(`SELECT DISTINCT item_id FROM ${ev} WHERE type = 'play' AND user_id = ${top} ORDER BY item_id LIMIT 3`)).map((r) => String(r['item_id']));
  const other = (await query(`SELECT DISTINCT item_id FROM ${ev} WHERE item_id NOT IN (SELECT item_id FROM ${ev} WHERE user_id = ${top}) ORDER BY item_id LIMIT 2`)).map((r) => String(r['item_id']));
  items = [...played, ...other, 'i-unknown'];
});

const sharedDown = await redisUnreachable(6379);
if (sharedDown !== undefined) {
  testWithoutRedis('serve on the shared Redis (127.0.0.1:6379)', sharedDown);
} else {
  describe('serve on the shared Redis (127.0.0.1:6379)', () => {
    test('built from the log, it answers what memory-mode serving answers, before and after the same events; a second server resumes from it', async () => {
      const namespace = uniqueNamespace('single');
      const memory = await startServer(logCopy());
      // With the tracked cache, as `recsignal serve` opens it by default.
      const store = await RedisStore.connect(SHARED, { cacheBytes: 64 * 1024 * 1024 });
      let redis: FeatureServer<ServingState> | undefined;
      let again: FeatureServer<ServingState> | undefined;
      try {
        redis = await startServer(logCopy(), store, namespace);
        assert.ok(redis.state instanceof StoreState);
        assert.equal(redis.state.started, 'built');
        assert.equal(redis.bootstrapped, memory.bootstrapped);
        assert.equal(redis.state.watermark, memory.state.watermark);
        await assertSameAnswers(memory.url, redis.url);

        const events = liveEvents('single');
        const [rm, rr] = await Promise.all([call(memory.url, 'POST', '/v1/events', events), call(redis.url, 'POST', '/v1/events', events)]);
        assert.equal(rr.status, 200, rr.text);
        assert.deepEqual(rr.body, rm.body, 'the same outcomes: accepted, duplicate, late, with the same messages');
        assert.deepEqual([rr.body.accepted, rr.body.duplicates, rr.body.late], [4, 1, 1]);
        await assertSameAnswers(memory.url, redis.url);
        const h = await call(redis.url, 'GET', '/health');
        assert.equal(h.status, 200, h.text);
        assert.equal(h.body.online_store, 'redis up');
        // Answered through the tracked cache: its hits and misses are in /metrics.
        const metrics = (await call(redis.url, 'GET', '/metrics')).text;
        const hits = Number(/^recsignal_online_cache_hits_total (\d+)$/m.exec(metrics)?.[1]);
        const misses = Number(/^recsignal_online_cache_misses_total (\d+)$/m.exec(metrics)?.[1]);
        assert.ok(hits > 0 && misses > 0, `cache counters in /metrics: hits ${hits}, misses ${misses}`);

        // A second server on the namespace finds the state (the checkpoint) and does not rebuild it.
        again = await startServer(logCopy(), store, namespace);
        assert.ok(again.state instanceof StoreState);
        assert.equal(again.state.started, 'resumed');
        assert.equal(again.state.watermark, redis.state.watermark);
        await assertSameAnswers(memory.url, again.url);
      } finally {
        await again?.close();
        await redis?.close();
        await memory.close();
        await store.close();
        await dropNamespace(SHARED, namespace);
      }
    });

    test('events older than a resume re-applies, ingested into the log while the server was stopped: the next start rebuilds (it said nothing and served without them); without such events it resumes', async () => {
      const namespace = uniqueNamespace('gained');
      const store = await RedisStore.connect(SHARED);
      const log = logCopy();
      const servers: FeatureServer<ServingState>[] = [];
      try {
        const first = await startServer(log, store, namespace);
        servers.push(first);
        const watermark = first.state.watermark;
        await first.close();
        // A clean stop, nothing gained: a resume.
        const second = await startServer(log, store, namespace);
        servers.push(second);
        assert.equal((second.state as StoreState).started, 'resumed');
        await second.close();
        // Five plays from two days before the watermark, far older than it minus the lateness.
        const { user, device } = users[0] as { user: string; device: string };
        const file = join(tmp, 'gained.jsonl');
        const rows = Array.from({ length: 5 }, (_, i) => JSON.stringify({ event_id: `gained-${i}`, user_id: user, item_id: items[0], type: 'play', ts: watermark - 2 * DAY + i, context: { device } }));
        writeFileSync(file, `${rows.join('\n')}\n`);
        assert.equal(await main(['ingest', file, '--format', 'jsonl', '--log', log.dir], () => undefined, () => undefined), 0);
        const third = await startServer(log, store, namespace);
        servers.push(third);
        assert.equal((third.state as StoreState).started, 'rebuilt');
        assert.equal((third.state as StoreState).rebuiltFor, 5);
        const memory = await startServer(log);
        servers.push(memory);
        await assertSameAnswers(memory.url, third.url);
      } finally {
        for (const s of servers) await s.close();
        await store.close();
        await dropNamespace(SHARED, namespace);
      }
    });

    test('a log that lost events older than a resume re-applies (restored from an older copy): the next start rebuilds, and what only the lost events made is gone from the store', async () => {
      const namespace = uniqueNamespace('lost');
      const store = await RedisStore.connect(SHARED);
      const servers: FeatureServer<ServingState>[] = [];
      try {
        // The first log holds five plays of a user the second one never had, from two days before its end.
        const withLost = logCopy();
        const probe = await startServer(logCopy());
        const watermark = probe.state.watermark;
        await probe.close();
        const file = join(tmp, 'lost.jsonl');
        const rows = Array.from({ length: 5 }, (_, i) => JSON.stringify({ event_id: `lost-${i}`, user_id: 'u-lost', item_id: items[0], type: 'play', ts: watermark - 2 * DAY + i, context: { device: 'tv' } }));
        writeFileSync(file, `${rows.join('\n')}\n`);
        assert.equal(await main(['ingest', file, '--format', 'jsonl', '--log', withLost.dir], () => undefined, () => undefined), 0);
        const first = await startServer(withLost, store, namespace);
        servers.push(first);
        const before = await call(first.url, 'POST', '/v1/features', { user_id: 'u-lost', features: ['user_engagement:play_count_7d'] });
        assert.deepEqual(before.body.user.statuses, ['PRESENT'], before.text);
        await first.close();

        const log = logCopy();
        const second = await startServer(log, store, namespace);
        servers.push(second);
        const s = second.state as StoreState;
        assert.equal(s.started, 'rebuilt');
        assert.equal(s.rebuiltFor, -5);
        assert.ok(s.staleKeysDeleted > 0, `old keys deleted before the rebuild: ${s.staleKeysDeleted}`);
        const after = await call(second.url, 'POST', '/v1/features', { user_id: 'u-lost', features: ['user_engagement:play_count_7d'] });
        assert.deepEqual([after.body.user.statuses, after.body.user.values], [['NOT_FOUND'], [0]], after.text);
        const memory = await startServer(logCopy());
        servers.push(memory);
        await assertSameAnswers(memory.url, second.url);
      } finally {
        for (const s of servers) await s.close();
        await store.close();
        await dropNamespace(SHARED, namespace);
      }
    });

    test('Redis back from an outage with an older state (a restart from its last save): the server applies the log again from that checkpoint, as at a start', async () => {
      const namespace = uniqueNamespace('older');
      const inner = await RedisStore.connect(SHARED);
      const client = new Redis(SHARED);
      // The store as the server sees it, with an outage we switch on and off.
      let down = false;
      const fail = () => Promise.reject(new RecsignalError('IO_FAILED', 'Redis at 127.0.0.1:6379: outage'));
      const store: OnlineStore = {
        kind: 'redis',
        getMany: (k) => (down ? fail() : inner.getMany(k)),
        setMany: (w, c) => (down ? fail() : inner.setMany(w, c)),
        deletePrefix: (p) => (down ? fail() : inner.deletePrefix(p)),
        ping: async () => !down && (await inner.ping()),
        close: () => inner.close(),
      };
      const keys = async () => {
        const out: string[] = [];
        let cursor = '0';
        do {
          const [next, batch] = await client.scan(cursor, 'MATCH', `${namespace}*`, 'COUNT', 1000);
          out.push(...batch);
          cursor = next;
        } while (cursor !== '0');
        return out;
      };
      const server = await FeatureServer.start({ compiled, log: logCopy(), port: 0, clock: () => NOW, flushIntervalMs: 60_000, store, namespace, storeProbeMs: 50 });
      try {
        await server.ready;
        const u = users[0] as { user: string; device: string };
        const play = (id: string, ts: number) => ({ event_id: id, user_id: u.user, item_id: items[1], ts, type: 'play', context: { device: u.device } });
        const plays = async () => {
          const r = await call(server.url, 'POST', '/v1/features', { user_id: u.user, items: [items[1]], features: ['user_item:plays'] });
          return [r.body.items.values[0][0], r.body.items.statuses[0][0]];
        };
        const before = (await plays())[0] as number;
        assert.equal((await call(server.url, 'POST', '/v1/events?wait=true', [play('older-a', NOW - 60_000)])).body.accepted, 1);
        // What Redis saves now; then more events, acknowledged and logged.
        const saved = await Promise.all((await keys()).map(async (k) => [k, await client.dumpBuffer(k)] as const));
        assert.equal((await call(server.url, 'POST', '/v1/events?wait=true', [play('older-b', NOW - 50_000), play('older-c', NOW - 40_000)])).body.accepted, 2);
        assert.deepEqual(await plays(), [before + 3, 'PRESENT']);
        down = true;
        await eventually('the server noticing the outage', 5_000, async () => (await call(server.url, 'GET', '/health')).status === 503);
        // Redis comes back from its save: the namespace as it was after the first event.
        for (const k of await keys()) await client.del(k);
        for (const [k, v] of saved) await client.restore(k, 0, v as Buffer, 'REPLACE');
        down = false;
        await eventually('the server recovering', 10_000, async () => (await call(server.url, 'GET', '/health')).status === 200);
        assert.equal((server.state as StoreState).rebuilds, 0, 'resumed from the checkpoint, not rebuilt');
        assert.deepEqual(await plays(), [before + 3, 'PRESENT'], 'the events acknowledged after the save are applied again from the log');
      } finally {
        await server.close();
        await store.close();
        client.disconnect();
        await dropNamespace(SHARED, namespace);
      }
    });

    test('recsignal serve --online redis://127.0.0.1:6379 as a process: builds the state, answers, takes an event, stops on SIGTERM', async () => {
      const namespace = uniqueNamespace('cli');
      const log = logCopy();
      const p = await startServe(ROOT, ['--features', STREAMING, '--log', log.dir, '--online', SHARED, '--namespace', namespace, '--port', '0'], 30_000);
      const { child, exited, base } = p;
      try {
        assert.match(p.out(), new RegExp(`online state in redis 127\\.0\\.0\\.1:6379 under ${namespace}`), `${p.out()}\n${p.err()}`);
        assert.match(p.out(), /^ready: \d+ events replayed and written to the store/m, `${p.out()}\n${p.err()}`);
        const u = (users[0] as { user: string }).user;
        const f = await call(base, 'POST', '/v1/features', { user_id: u, features: ['user_engagement:play_count_7d', 'user_engagement:play_count_30d'], ts: NOW });
        assert.equal(f.status, 200, f.text);
        assert.deepEqual(f.body.user.statuses, ['PRESENT', 'PRESENT']);
        assert.ok(f.body.user.values[1] > 0);
        const e = await call(base, 'POST', '/v1/events', [{ event_id: 'cli-redis-1', user_id: u, item_id: 'i1', ts: Date.now() - 1000, type: 'play' }]);
        assert.equal(e.body.accepted, 1, e.text);
        child.kill('SIGTERM');
        assert.equal(await exited, 0, p.err());
        assert.match(p.out(), /^stopped \(SIGTERM\): received 1, applied 1, .*appended 1 to the log$/m);
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
        await dropNamespace(SHARED, namespace);
      }
    });

    test('the command line: a Redis that does not answer is exit 1 saying what to check; bad URLs are exit 2', async () => {
      const log = logCopy();
      let err = '';
      const started = Date.now();
      const code = await main(['serve', '--features', STREAMING, '--log', log.dir, '--online', 'redis://127.0.0.1:1', '--port', '0'], () => undefined, (s) => (err += s));
      assert.equal(code, 1, err);
      assert.match(err, /Redis at 127\.0\.0\.1:1: connecting failed .*redis-cli -h 127\.0\.0\.1 -p 1 ping/);
      assert.ok(Date.now() - started < 10_000);
      for (const bad of ['redis-cluster://nohost', 'memcached://x:1']) {
        err = '';
        assert.equal(await main(['serve', '--features', STREAMING, '--log', log.dir, '--online', bad], () => undefined, (s) => (err += s)), 2, bad);
        assert.match(err, /redis-cluster:\/\/|use memory, redis:\/\/host:port/);
      }
    });
  });
}

const binariesMissing = await redisBinariesMissing();
if (binariesMissing !== undefined) {
  testWithoutRedis('serve on a Redis Cluster and through a Redis outage', binariesMissing);
} else {
  describe('serve on a 3-master Redis Cluster', () => {
    let cluster: TestRedisCluster;
    before(async () => {
      cluster = await startRedisCluster(3);
    });
    after(async () => {
      await cluster?.stop();
    });

    test('it answers what memory-mode serving answers, before and after the same events', async () => {
      const memory = await startServer(logCopy());
      // With the tracked cache, as `recsignal serve` opens it by default.
      const store = await RedisClusterStore.connect(cluster.url, { cacheBytes: 64 * 1024 * 1024 });
      let served: FeatureServer<ServingState> | undefined;
      try {
        served = await startServer(logCopy(), store);
        assert.ok(served.state instanceof StoreState);
        assert.equal(served.state.started, 'built');
        await assertSameAnswers(memory.url, served.url);
        const events = liveEvents('cluster');
        const [rm, rc] = await Promise.all([call(memory.url, 'POST', '/v1/events', events), call(served.url, 'POST', '/v1/events', events)]);
        assert.equal(rc.status, 200, rc.text);
        assert.deepEqual(rc.body, rm.body);
        await assertSameAnswers(memory.url, served.url);
        assert.equal((await call(served.url, 'GET', '/health')).body.online_store, 'redis-cluster up');
        const cache = store.cacheStats();
        assert.ok(cache !== null && cache.ready && cache.hits > 0 && cache.misses > 0, `answered through the tracked cache: ${JSON.stringify(cache)}`);
      } finally {
        await served?.close();
        await memory.close();
        await store.close();
      }
    });
  });

  describe('a Redis outage under a serving server', () => {
    let redis: TestRedisServer;
    before(async () => {
      redis = await startRedisServer();
    });
    after(async () => {
      await redis?.stop();
    });

    test('defaults with UNAVAILABLE, 503 for events (nothing logged), degraded health, errors counted; after a restart with nothing on disk it rebuilds from the log', async () => {
      const log = logCopy();
      const store = await RedisStore.connect(`redis://127.0.0.1:${redis.port}`, { commandTimeoutMs: 300, cacheBytes: 64 * 1024 * 1024 });
      let server: FeatureServer<ServingState> | undefined;
      try {
        server = await startServer(log, store, undefined, 100);
        const base = server.url;
        const [u0] = users as [{ user: string; device: string }];
        const req = { user_id: u0.user, items, context: { device: u0.device } };
        const before = await call(base, 'POST', '/v1/features', req);
        assert.equal(before.status, 200, before.text);
        assert.equal(before.body.user.statuses[before.body.user.features.indexOf('user_engagement:play_count_7d')], 'PRESENT');
        // Defaults: what an unknown user and item read as.
        const unknown = await call(base, 'POST', '/v1/features', { user_id: 'nobody', items: ['i-unknown'], context: { device: u0.device } });

        // An event acknowledged before the outage: applied, then buffered for the log (not flushed yet).
        const pre = await call(base, 'POST', '/v1/events', [{ event_id: 'outage-pre', user_id: u0.user, item_id: items[0], ts: NOW - 20_000, type: 'play', context: { device: u0.device } }]);
        assert.equal(pre.body.accepted, 1, pre.text);
        const withPre = await call(base, 'POST', '/v1/features', req);

        // SIGTERM: Redis shuts down as on SHUTDOWN; with --save '' it keeps nothing on disk.
        await redis.kill('SIGTERM');
        // Once the store's connections have seen Redis go (the tracked cache serves only while its
        // invalidation connection is up); a request in the same instant as the kill may still be
        // answered from the cache, which was valid then.
        await eventually('the store seeing Redis gone', 5_000, async () => !(await store.ping()));

        const t0 = performance.now();
        const down = await call(base, 'POST', '/v1/features', req);
        assert.ok(performance.now() - t0 < 1000, 'no request hangs on the missing store');
        assert.equal(down.status, 200, down.text);
        const stateful = (ref: string) => !ref.startsWith('item_meta:') && !ref.startsWith('user_meta:') && ref !== 'request_features:item_age_days';
        down.body.user.features.forEach((ref: string, j: number) => {
          assert.equal(down.body.user.statuses[j], stateful(ref) ? 'UNAVAILABLE' : 'PRESENT', ref);
          if (stateful(ref)) assert.deepEqual(down.body.user.values[j], unknown.body.user.values[j], `${ref} is its default`);
          assert.equal(down.body.user.event_ts[j], null);
        });
        down.body.items.features.forEach((ref: string, j: number) => {
          for (let i = 0; i < items.length; i++) {
            if (ref.startsWith('item_meta:') || ref === 'request_features:item_age_days') {
              assert.equal(down.body.items.statuses[i][j], before.body.items.statuses[i][j], `${ref}: metadata is in process`);
              continue;
            }
            assert.equal(down.body.items.statuses[i][j], 'UNAVAILABLE', `${items[i]} ${ref}`);
            if (!ref.startsWith('request_features:')) assert.deepEqual(down.body.items.values[i][j], unknown.body.items.values[0][j], `${ref} is its default`);
          }
        });

        const feast = await call(base, 'POST', '/get-online-features', feastRequest());
        assert.equal(feast.status, 200, feast.text);
        const names: string[] = feast.body.metadata.feature_names;
        const col = (name: string) => feast.body.results[names.indexOf(name)];
        assert.deepEqual(col('user_engagement__play_count_7d').statuses, items.map(() => 'INVALID'));
        assert.deepEqual(col('user_engagement__play_count_7d').values, items.map(() => null));
        assert.deepEqual(col('item_meta__genres').statuses, before.body.items.statuses.map(() => 'PRESENT').map((s: string, i: number) => (items[i] === 'i-unknown' ? 'NOT_FOUND' : s)));

        const health = await call(base, 'GET', '/health');
        assert.equal(health.status, 503);
        assert.equal(health.body.status, 'degraded');
        assert.equal(health.body.online_store, 'redis down');
        assert.match(health.body.message, /the online store \(redis\) is unavailable .*UNAVAILABLE.*503/);

        const received = server.intake.counts.received;
        const refused = await call(base, 'POST', '/v1/events', [{ event_id: 'outage-refused', user_id: u0.user, item_id: items[1], ts: NOW - 10_000, type: 'play' }]);
        assert.equal(refused.status, 503, refused.text);
        assert.equal(refused.body.error.code, 'UNAVAILABLE');
        assert.match(refused.body.error.message, /none of the 1 events of this batch was applied or logged.*resend the batch/);
        assert.equal(server.intake.counts.received, received, 'a refused batch is not counted as received');
        const pushed = await call(base, 'POST', '/push', { push_source_name: 'events', df: { event_id: ['outage-push'], user_id: [u0.user], item_id: [items[1]], type: ['play'], ts: [NOW - 9_000] }, to: 'online_and_offline' });
        assert.equal(pushed.status, 503, pushed.text);

        const metrics = (await call(base, 'GET', '/metrics')).text;
        assert.ok(Number(/^recsignal_online_store_errors_total (\d+)$/m.exec(metrics)?.[1]) >= 2, metrics);
        assert.match(metrics, /^recsignal_online_store_up 0$/m);

        // Back, with nothing on disk: the server notices the missing checkpoint and rebuilds from the log.
        await redis.start();
        await eventually('the server serving from the store again', 20_000, async () => (await call(base, 'GET', '/health')).status === 200);
        assert.ok(server.state instanceof StoreState);
        assert.equal(server.state.rebuilds, 1);
        const back = await call(base, 'POST', '/v1/features', req);
        assert.deepEqual(back.body.user.statuses, withPre.body.user.statuses);
        assert.deepEqual(back.body.items.statuses, withPre.body.items.statuses);
        assert.deepEqual(back.body.user.event_ts, withPre.body.user.event_ts);
        back.body.user.values.forEach((v: never, j: number) => assert.ok(valuesEqual(v, withPre.body.user.values[j]), `${back.body.user.features[j]}: the acknowledged event survived the outage`));
        assert.match((await call(base, 'GET', '/metrics')).text, /^recsignal_online_store_up 1$/m);

        const resent = await call(base, 'POST', '/v1/events?wait=true', [{ event_id: 'outage-refused', user_id: u0.user, item_id: items[1], ts: NOW - 10_000, type: 'play' }]);
        assert.equal(resent.status, 200, resent.text);
        assert.equal(resent.body.accepted, 1);
        const inLog = await query(`SELECT event_id, count(*) AS n FROM ${log.eventsRelation()} WHERE event_id LIKE 'outage-%' GROUP BY event_id ORDER BY event_id`);
        assert.deepEqual(inLog.map((r) => [r['event_id'], Number(r['n'])]), [['outage-pre', 1], ['outage-refused', 1]], 'each acknowledged event once; refused ones only once resent');
      } finally {
        await server?.close();
        await store.close();
      }
    });
  });
}
