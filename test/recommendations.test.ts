/**
 * `POST /v1/recommendations` over real HTTP on 127.0.0.1: a server on a generated log with a ranker
 * trained on that log's training set. Ranked k items whose reasons add up to their scores, cold
 * start for a new user, unknown candidates, every bad body a 400, and 404 without a model.
 */
import { test, after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDemo, DEMO_FEATURES } from '../src/cli/demo.ts';
import { loadFeatureSet } from '../src/plan/load-features.ts';
import { loadFeatureRanker } from '../src/models/feature-ranker.ts';
import { itemEmbeddingIndex, logInteractions, type ItemEmbeddingIndex } from '../src/models/embeddings.ts';
import { readMetadata } from '../src/store/offline/metadata.ts';
import { candidateRecallBySource } from '../src/serve/candidate-recall.ts';
import { DuckDBEngine, sqlString } from '../src/store/offline/duckdb-engine.ts';
import { EventLog } from '../src/store/offline/event-log.ts';
import { FeatureServer } from '../src/serve/server.ts';
import { servingPlan } from '../src/serve/plan.ts';
import { findSignals } from '../src/serve/recommend.ts';
import type { ServingState } from '../src/serve/online-state.ts';
import { RedisStore } from '../src/store/online/redis/redis-store.ts';
import { dropNamespace, redisUnreachable, startRedisServer, testWithoutRedis } from './helpers/redis-cluster.ts';

const DAY = 86_400_000;
const START = Date.UTC(2024, 0, 1);
const DAYS = 7;
const NOW = START + DAYS * DAY + 10 * 60_000;

const tmp = mkdtempSync(join(tmpdir(), 'recsignal-recommend-test-'));
let server: FeatureServer;
let bare: FeatureServer;
let similar: FeatureServer;
let embeddings: ItemEmbeddingIndex;
let active: string;
let demoDir: string;

after(async () => {
  await server?.close();
  await bare?.close();
  await similar?.close();
  rmSync(tmp, { recursive: true, force: true });
});

before(async () => {
  const dir = join(tmp, 'demo');
  demoDir = dir;
  await runDemo({ users: 150, items: 80, days: DAYS, seed: 5, dir, serve: false }, () => undefined);
  const compiled = await loadFeatureSet(DEMO_FEATURES);
  const log = new EventLog(join(dir, 'log'));
  const engine = await DuckDBEngine.open();
  try {
    const r = await engine.query(`SELECT user_id, count(*) AS n FROM read_parquet(${sqlString(join(dir, 'training.parquet'))}) WHERE label = 1 GROUP BY user_id ORDER BY n DESC, user_id LIMIT 1`);
    active = String(r[0]?.['user_id']);
  } finally {
    engine.close();
  }
  server = await FeatureServer.start({ compiled, log, port: 0, clock: () => NOW, ranker: loadFeatureRanker(join(dir, 'model.json')) });
  bare = await FeatureServer.start({ compiled, log, port: 0, clock: () => NOW });
  embeddings = (await itemEmbeddingIndex(log, NOW, compiled.ir.weights, await readMetadata(log))) as ItemEmbeddingIndex;
  similar = await FeatureServer.start({ compiled, log, port: 0, clock: () => NOW, ranker: loadFeatureRanker(join(dir, 'model.json')), embeddings: embeddings.index });
  await Promise.all([server.ready, bare.ready, similar.ready]);
});

interface Item {
  item: string;
  score: number;
  why: { feature: string; value: number | null; contribution: number }[];
}

async function recommend(body: unknown, on: { readonly url: string } = server): Promise<{ status: number; body: any }> {
  const res = await fetch(`${on.url}/v1/recommendations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

function checkRanked(body: { base: number; items: Item[] }, k: number): void {
  assert.equal(body.items.length, k);
  assert.equal(new Set(body.items.map((i) => i.item)).size, k, 'no item twice');
  for (let i = 1; i < k; i++) assert.ok((body.items[i - 1] as Item).score >= (body.items[i] as Item).score, 'sorted by score');
  for (const it of body.items) {
    assert.ok(it.why.length > 0 && it.why.length <= 6, it.item);
    const sum = it.why.reduce((s, w) => s + w.contribution, body.base);
    assert.ok(Math.abs(sum - it.score) < 1e-9, `${it.item}: base + contributions ${sum} vs score ${it.score}`);
  }
}

describe('POST /v1/recommendations', () => {
  test('an active user: k items by score, each with its reasons; candidates by source', async () => {
    const r = await recommend({ user: active, k: 10, context: { device: 'tv' } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.user, active);
    assert.equal(r.body.cold_start, false);
    checkRanked(r.body, 10);
    const sources = r.body.candidates as Record<string, number>;
    assert.ok(Object.values(sources).reduce((s, n) => s + n, 0) >= 10, JSON.stringify(sources));
    assert.ok((sources['top_genres'] ?? 0) > 0 && (sources['trending'] ?? 0) > 0, JSON.stringify(sources));
    const first = (r.body.items[0] as Item).why[0];
    assert.match(first?.feature ?? '', /^[a-z_]+:[a-z0-9_]+(\.(length|sum))?$/);
  });

  test('an item ignored once and played since comes back as continue watching; k items come back whenever k are eligible', async () => {
    // A server of its own on a copy of the log: the events posted here must not reach the others'.
    const log = join(tmp, 'log-ignored');
    cpSync(join(demoDir, 'log'), log, { recursive: true });
    const own = await FeatureServer.start({ compiled: await loadFeatureSet(DEMO_FEATURES), log: new EventLog(log), port: 0, clock: () => NOW, ranker: loadFeatureRanker(join(demoDir, 'model.json')) });
    try {
      await own.ready;
      const user = 'ignored-then-played';
      const item = (await recommend({ user: active, k: 1 }, own)).body.items[0].item as string;
      const at = (ms: number, type: string, extra: Record<string, unknown> = {}) => ({ event_id: `${user}-${type}-${ms}`, user_id: user, item_id: item, ts: NOW - ms, type, ...extra });
      // Shown and not played within ten minutes (a negative), then played and paused a third in.
      const posted = await fetch(`${own.url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([at(14 * 60_000, 'impression'), at(2 * 60_000, 'play'), at(60_000, 'pause', { value: 30, duration: 100 })]) });
      assert.equal(((await posted.json()) as { accepted: number }).accepted, 3);
      const r = await recommend({ user, k: 1000 }, own);
      assert.ok((r.body.items as Item[]).some((i) => i.item === item), `${item} is recommended`);
      assert.equal(r.body.candidates['continue_watching'], 1);

      // A user who finished an item: it is a candidate (a recent play) that leaves the pool only once
      // its watch fraction is fetched; the pool is filled up again, so k items come back when k are eligible.
      const done = 'finished-one';
      const fin = { event_id: 'finished-one-complete', user_id: done, item_id: item, ts: NOW - 60_000, type: 'complete', value: 100, duration: 100 };
      assert.equal(((await (await fetch(`${own.url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([{ ...fin, event_id: 'finished-one-play', type: 'play', ts: NOW - 120_000 }, fin]) })).json()) as { accepted: number }).accepted, 2);
      const eligible = ((await recommend({ user: done, k: 1000 }, own)).body.items as Item[]).length;
      assert.ok(eligible > 10, `${eligible} eligible items`);
      for (const k of [eligible, eligible - 1, Math.ceil(eligible / 2), 10]) {
        const got = (await recommend({ user: done, k }, own)).body.items as Item[];
        assert.equal(got.length, k, `k = ${k} of ${eligible} eligible`);
        assert.ok(!got.some((i) => i.item === item), 'the finished item is not recommended');
      }
    } finally {
      await own.close();
    }
  });

  test('with item embeddings: an active user also gets the items nearest to their recent plays (source similar)', async () => {
    const log = new EventLog(join(demoDir, 'log'));
    const meta = await readMetadata(log);
    // Every item released by then has a vector: learned where the log has positive interactions, from genres and year otherwise.
    const released = meta.items.filter((i) => i.releaseTs === null || i.releaseTs < NOW);
    assert.equal(embeddings.learned + embeddings.fromMetadata, released.length);
    assert.ok(embeddings.learned > 0.5 * released.length, `${embeddings.learned} learned of ${released.length}`);
    // An item released later is not retrievable yet (it had been placed by its metadata, before its release).
    const mid = START + 3 * DAY;
    const early = (await itemEmbeddingIndex(log, mid, { play: 1, complete: 3, skip: -1 }, meta)) as ItemEmbeddingIndex;
    const later = meta.items.filter((x) => x.releaseTs !== null && x.releaseTs >= mid);
    assert.ok(later.length > 0, 'the generated catalogue has releases after the third day');
    for (const i of later) assert.equal(early.index.vector(i.itemId), undefined, `${i.itemId}, released ${i.releaseTs}, has no vector as of ${mid}`);
    assert.equal(early.learned + early.fromMetadata, meta.items.length - later.length);
    const pairs = await logInteractions(log, NOW, { play: 1, complete: 3, skip: -1 });
    assert.ok(pairs.length > 0 && pairs.every((p) => p.rating > 0 && p.ts < NOW), 'positive pairs before the time only');
    const r = await recommend({ user: active, k: 10, context: { device: 'tv' } }, similar);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    checkRanked(r.body, 10);
    assert.ok((r.body.candidates['similar'] ?? 0) > 0, JSON.stringify(r.body.candidates));
    // Without embeddings the same request has no such source.
    assert.equal((await recommend({ user: active, k: 10, context: { device: 'tv' } })).body.candidates['similar'], undefined);
    // A cold user has no recent plays to be similar to.
    assert.equal((await recommend({ user: 'never-seen-user', k: 10 }, similar)).body.candidates['similar'], undefined);
  });

  test('candidate recall by source: a source holding every later item scores 1, one holding none 0', async () => {
    const rec = similar.recommender!;
    const g = await rec.candidateSources({ user: active, context: {} }, NOW);
    const watching = g.sources.find(([s]) => s === 'continue_watching')![1];
    assert.ok(watching.length >= 2, `${active} has recent plays`);
    const truth = new Map([[active, new Set(watching.slice(0, 2))], ['nobody-with-nothing-later', new Set<string>()]]);
    const r = await candidateRecallBySource(rec, truth, NOW);
    assert.equal(r.users, 1, 'users without later items are not measured');
    assert.equal(r.bySource['continue_watching']!.recall, 1);
    assert.equal(r.bySource['continue_watching']!.items, watching.length);
    // similar excludes the recent plays themselves.
    assert.equal(r.bySource['similar']!.recall, 0);
    assert.deepEqual(Object.keys(r.bySource), ['continue_watching', 'similar', 'top_genres', 'trending', 'new_releases']);
    assert.ok(r.union.recall > 0 && r.union.items >= watching.length);
  });

  test('a user with no history: cold start, trending and new releases ranked by the model', async () => {
    const r = await recommend({ user: 'never-seen-user', k: 10 });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.cold_start, true);
    checkRanked(r.body, 10);
    assert.deepEqual(Object.keys(r.body.candidates).filter((s) => !['trending', 'new_releases', 'catalogue'].includes(s)), []);
  });

  test('given candidates: an unknown item is scored on defaults, not an error', async () => {
    const r = await recommend({ user: active, k: 5, candidates: ['i1', 'no-such-item', 'i2', 'i1'] });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.candidates, { request: 3 });
    checkRanked(r.body, 3);
    assert.ok((r.body.items as Item[]).some((i) => i.item === 'no-such-item' && Number.isFinite(i.score)));
  });

  test('bad bodies: 400 with every problem and its path', async () => {
    const cases: [unknown, string[]][] = [
      [{ user: active, k: 0 }, ['k']],
      [{ user: active, k: 1001 }, ['k']],
      [{ user: active, k: 2.5 }, ['k']],
      [{ k: 10 }, ['user']],
      [{ user: 7, k: 'ten', color: 'red' }, ['color', 'user', 'k']],
      [{ user: active, candidates: [] }, ['candidates']],
      [{ user: active, candidates: ['i1', 3] }, ['candidates[1]']],
      [{ user: active, context: { device: ['tv'] } }, ['context.device']],
      [{ user: active, context: { user_id: 'u2', ts: 0 } }, ['context.user_id', 'context.ts']],
      [[1, 2], ['(body)']],
    ];
    for (const [body, paths] of cases) {
      const r = await recommend(body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(r.body.error.code, 'INVALID_INPUT');
      assert.deepEqual(r.body.error.problems.map((p: { path: string }) => p.path).sort(), [...paths].sort(), JSON.stringify(body));
      for (const p of r.body.error.problems) assert.ok(p.fix.length > 0);
    }
    // The fix for a reserved key says what this route takes (its user is "user"; its time the server's clock).
    const reserved = await recommend({ user: active, context: { user_id: 'u2', ts: 0 } });
    const fixes = Object.fromEntries(reserved.body.error.problems.map((p: { path: string; fix: string }) => [p.path, p.fix]));
    assert.match(fixes['context.user_id'], /name the user in "user"/);
    assert.match(fixes['context.ts'], /server's clock/);
    const notJson = await recommend('{"user": ');
    assert.equal(notJson.status, 400);
    assert.equal(notJson.body.error.code, 'INVALID_JSON');
  });

  test('without a model: 404 saying to start serve with --model', async () => {
    const r = await recommend({ user: active, k: 10 }, bare);
    assert.equal(r.status, 404);
    assert.equal(r.body.error.code, 'NOT_FOUND');
    assert.match(r.body.error.message, /--model/);
  });

  test('a model trained on another feature set is refused at start, naming the features it lacks', async () => {
    const model = JSON.parse(readFileSync(join(demoDir, 'model.json'), 'utf8')) as { features: { column: string }[] };
    for (const f of model.features) f.column = f.column.replace(/^user_item__/, 'ui__');
    const renamed = join(demoDir, 'model-renamed.json');
    writeFileSync(renamed, JSON.stringify(model));
    const compiled = await loadFeatureSet(DEMO_FEATURES);
    await assert.rejects(
      FeatureServer.start({ compiled, log: new EventLog(join(demoDir, 'log')), port: 0, clock: () => NOW, ranker: loadFeatureRanker(renamed) }),
      /the model reads \d+ features? this feature set does not have \(ui__/,
    );
  });

  test('its latency is in /metrics like every route', async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(text, /^recsignal_http_request_duration_seconds_count\{route="\/v1\/recommendations",method="POST"\} [1-9]\d*$/m);
  });
});

test('a user embedding is no history: users without interactions get a vector from their metadata, so embedding views do not make a user warm', async () => {
  const signals = findSignals(servingPlan(await loadFeatureSet('examples/embeddings/features.ts')));
  assert.ok(signals.presence.length > 0, 'the aggregation views keyed by user count');
  assert.deepEqual(signals.presence.filter((ref) => ref.startsWith('user_als:')), []);
});

test('a log without an items table: the catalogue is the log\'s items, so a new user gets trending items, and an item first seen in POST /v1/events joins it', async () => {
  const log = join(tmp, 'no-metadata-log');
  cpSync(join(demoDir, 'log'), log, { recursive: true });
  for (const table of ['items.parquet', 'users.parquet']) rmSync(join(log, table), { force: true });
  const noMetadata = await FeatureServer.start({
    compiled: await loadFeatureSet(DEMO_FEATURES), log: new EventLog(log), port: 0, clock: () => NOW,
    ranker: loadFeatureRanker(join(demoDir, 'model.json')), trendingRefreshMs: 0,
  });
  try {
    await noMetadata.ready;
    const logItems = await new EventLog(log).itemIds();
    assert.ok(logItems.length > 20, `${logItems.length} items in the log`);
    const cold = await recommend({ user: 'never-seen-user', k: 10 }, noMetadata);
    assert.equal(cold.status, 200, JSON.stringify(cold.body));
    assert.equal(cold.body.cold_start, true);
    assert.equal(cold.body.items.length, 10, 'trending items for a new user (it was none without an items table)');
    assert.ok(cold.body.candidates.trending > 0, JSON.stringify(cold.body.candidates));
    // Every item the log has, then one more once an event brings it.
    const all = await recommend({ user: 'never-seen-user', k: 1000 }, noMetadata);
    assert.deepEqual([...all.body.items.map((i: Item) => i.item)].sort(), [...logItems].sort());
    const sent = await fetch(`${noMetadata.url}/v1/events`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ event_id: 'first-play-of-a-new-item', user_id: active, item_id: 'i-brand-new', type: 'play', ts: NOW - 60_000 }]),
    });
    assert.equal(sent.status, 200, await sent.text());
    const after = await recommend({ user: 'never-seen-user', k: 1000 }, noMetadata);
    assert.deepEqual([...after.body.items.map((i: Item) => i.item)].sort(), [...logItems, 'i-brand-new'].sort());
  } finally {
    await noMetadata.close();
  }
});

const redisDown = await redisUnreachable(6379);
if (redisDown !== undefined) {
  testWithoutRedis('POST /v1/recommendations with a Redis store', redisDown);
} else {
  test('POST /v1/recommendations with a Redis store answers what memory-mode serving answers', async () => {
    const namespace = `recsignal-test-recommend:${process.pid}:${Date.now()}`;
    const store = await RedisStore.connect('redis://127.0.0.1:6379');
    let onRedis: FeatureServer<ServingState> | undefined;
    try {
      onRedis = await FeatureServer.start({
        compiled: await loadFeatureSet(DEMO_FEATURES), log: new EventLog(join(demoDir, 'log')), port: 0, clock: () => NOW,
        ranker: loadFeatureRanker(join(demoDir, 'model.json')), store, namespace,
      });
      await onRedis.ready;
      for (const body of [{ user: active, k: 10, context: { device: 'tv' } }, { user: 'never-seen-user', k: 10 }, { user: active, k: 5, candidates: ['i1', 'no-such-item', 'i2'] }]) {
        const m = await recommend(body);
        const r = await recommend(body, onRedis);
        assert.equal(r.status, 200, JSON.stringify(r.body));
        assert.deepEqual(r.body.items.map((i: Item) => i.item), m.body.items.map((i: Item) => i.item), JSON.stringify(body));
        (r.body.items as Item[]).forEach((it, j) => {
          const other = m.body.items[j] as Item;
          assert.ok(Math.abs(it.score - other.score) < 1e-12, `${it.item}: ${it.score} vs ${other.score}`);
          assert.deepEqual(it.why, other.why);
        });
        assert.deepEqual(r.body.candidates, m.body.candidates);
      }
    } finally {
      await onRedis?.close();
      await store.close();
      await dropNamespace('redis://127.0.0.1:6379', namespace);
    }
  });

  test('POST /v1/recommendations while Redis is down: degraded, not a new user, and trending kept from before', { timeout: 60_000 }, async () => {
    const redis = await startRedisServer();
    const store = await RedisStore.connect(`redis://127.0.0.1:${redis.port}`, { commandTimeoutMs: 300 });
    let onRedis: FeatureServer<ServingState> | undefined;
    try {
      onRedis = await FeatureServer.start({
        compiled: await loadFeatureSet(DEMO_FEATURES), log: new EventLog(join(demoDir, 'log')), port: 0, clock: () => NOW,
        ranker: loadFeatureRanker(join(demoDir, 'model.json')), store, namespace: 'recommend-outage', trendingRefreshMs: 0,
      });
      await onRedis.ready;
      const up = await recommend({ user: active, k: 10 }, onRedis);
      assert.equal(up.status, 200, JSON.stringify(up.body));
      assert.deepEqual([up.body.cold_start, up.body.degraded], [false, false]);
      await redis.kill('SIGTERM');
      for (const until = Date.now() + 5_000; await store.ping(); ) {
        assert.ok(Date.now() < until, 'the store sees Redis gone within 5 s');
        await new Promise((r) => setTimeout(r, 50));
      }
      // Twice (the list is refreshed at every request here): a refresh while Redis is down must not replace it with an empty one.
      for (const round of [1, 2]) {
        const down = await recommend({ user: active, k: 10 }, onRedis);
        assert.equal(down.status, 200, JSON.stringify(down.body));
        assert.deepEqual([down.body.cold_start, down.body.degraded], [false, true], `round ${round}: the user's history could not be read; that is no new user`);
        assert.ok((down.body.candidates.trending ?? 0) > 0, `round ${round}: the trending list read before the outage is kept (${JSON.stringify(down.body.candidates)})`);
      }
    } finally {
      await onRedis?.close();
      await store.close();
      await redis.stop();
    }
  });
}
