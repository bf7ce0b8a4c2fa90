/**
 * Embeddings as features, end to end: `recsignal embed` publishes versions learned from the log;
 * a training set reads each row's version as of its time (never a later one); `consistency` finds
 * the online path equal to batch; the server serves the vectors and their cross with their version
 * time, in its own and in Feast's shapes.
 */
import { test, after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../src/cli/main.ts';
import { loadFeatureSet } from '../src/plan/load-features.ts';
import type { CompiledFeatureSet } from '../src/plan/compile.ts';
import { DuckDBEngine, sqlString } from '../src/store/offline/duckdb-engine.ts';
import { EventLog } from '../src/store/offline/event-log.ts';
import { readEmbeddings, writeEmbeddings, type EmbeddingTable } from '../src/store/offline/embeddings.ts';
import { publishedItemIndex } from '../src/models/embeddings.ts';
import { FeatureServer } from '../src/serve/server.ts';
import type { ServingState } from '../src/serve/online-state.ts';
import { RedisStore } from '../src/store/online/redis/redis-store.ts';
import { dropNamespace, redisUnreachable, testWithoutRedis } from './helpers/redis-cluster.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const FEATURES = join(ROOT, 'examples', 'embeddings', 'features.ts');
const DAY = 86_400_000;
const START = Date.UTC(2024, 0, 1);
const FIRST = START + 2 * DAY;
const tmp = mkdtempSync(join(tmpdir(), 'recsignal-embeddings-test-'));
const logDir = join(tmp, 'log');
let compiled: CompiledFeatureSet;
let second: number;
let tables: Map<string, EmbeddingTable>;
let server: FeatureServer<ServingState> | undefined;

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, (s) => (out += s), (s) => (err += s));
  return { code, out, err };
}

async function post(to: FeatureServer<ServingState>, path: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${to.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, body: await res.json() };
}

const redisDown = await redisUnreachable(6379);

const dot = (a: readonly number[], b: readonly number[]) => a.reduce((s, x, k) => s + x * (b[k] as number), 0);

before(async () => {
  compiled = await loadFeatureSet(FEATURES);
  const gen = await run('generate', '--users', '80', '--items', '50', '--days', '4', '--seed', '3', '--out', join(tmp, 'events.jsonl'));
  assert.equal(gen.code, 0, gen.err);
  const ing = await run('ingest', join(tmp, 'events.jsonl'), '--format', 'jsonl', '--log', logDir);
  assert.equal(ing.code, 0, ing.err);
});

after(async () => {
  await server?.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe('recsignal embed and embedding views', () => {
  test('embed publishes a version at --at, and by default just after the last event', async () => {
    const r1 = await run('embed', '--features', FEATURES, '--log', logDir, '--at', new Date(FIRST).toISOString(), '--json');
    assert.equal(r1.code, 0, r1.err);
    const a = JSON.parse(r1.out);
    assert.equal(a.at, FIRST);
    assert.equal(a.dims, 32);
    assert.ok(a.items.learned > 0 && a.users.learned > 0, r1.out);
    assert.equal(a.items.table, 'als_items');
    const r2 = await run('embed', '--features', FEATURES, '--log', logDir, '--json');
    assert.equal(r2.code, 0, r2.err);
    second = JSON.parse(r2.out).at;
    assert.equal(second, ((await new EventLog(logDir).lastEventTs()) as number) + 1);
    assert.ok(JSON.parse(r2.out).interactions > a.interactions, 'the later version learns from more events');
    tables = await readEmbeddings(new EventLog(logDir), compiled.ir.views);
    const bad = await run('embed', '--features', FEATURES, '--log', logDir, '--at', new Date(START - DAY).toISOString());
    assert.notEqual(bad.code, 0);
    assert.match(bad.err, /no interactions before/);
    // Vectors that would not fit the views reading the tables are refused before anything is written.
    const short = await run('embed', '--features', FEATURES, '--log', logDir, '--factors', '4');
    assert.equal(short.code, 2);
    assert.match(short.err, /--factors 4: view user_als reads als_users with dims 32; give --factors 32/);
  });

  test('vectors with NaN are refused when written, and a table that does not fit its views fails a training set as it fails serving', async () => {
    const other = new EventLog(join(tmp, 'log-bad-vectors'));
    cpSync(logDir, other.dir, { recursive: true });
    await assert.rejects(writeEmbeddings(other, 'als_users', [{ key: 'u1', ts: FIRST, vector: [Number.NaN, 1] }]), /key 'u1'.*not finite numbers.*nothing was written/);
    // A table of 4-value vectors (written by hand, or by an older embed), read by views of dims 32.
    await writeEmbeddings(other, 'als_users', [{ key: 'u1', ts: FIRST, vector: [1, 2, 3, 4] }]);
    const spine = join(tmp, 'spine-bad-vectors.csv');
    writeFileSync(spine, `user_id,item_id,ts\nu1,i1,${FIRST + DAY}\n`);
    const r = await run('training-set', '--features', FEATURES, '--log', other.dir, '--spine', spine, '--out', join(tmp, 'bad-vectors.parquet'));
    assert.equal(r.code, 1);
    assert.match(r.err, /embedding table 'als_users': the vector of key 'u1' at ts \d+ has 4 values; the view declares dims 32/);
  });

  test('a table written by another job with a row without a key or a time, or two versions of a key at one time, is refused in batch and in serving alike', async () => {
    const zeros = 'list_transform(range(32), x -> 0.5)';
    const cases: [string, string, RegExp][] = [
      ['dup', `('u1', ${FIRST}::BIGINT, ${zeros}), ('u1', ${FIRST}::BIGINT, list_transform(range(32), x -> 1.5))`, /key 'u1' has 2 versions at ts \d+/],
      ['nots', `('u1', NULL::BIGINT, ${zeros})`, /a version of key 'u1' has no ts/],
      ['nokey', `(NULL::VARCHAR, ${FIRST}::BIGINT, ${zeros})`, /a row has no key/],
    ];
    for (const [name, rows, why] of cases) {
      const other = new EventLog(join(tmp, `log-versions-${name}`));
      cpSync(logDir, other.dir, { recursive: true });
      const db = await DuckDBEngine.open();
      try {
        await db.run(`COPY (SELECT * FROM (VALUES ${rows}) AS t(key, ts, vector)) TO ${sqlString(join(other.dir, 'embeddings', 'als_users.parquet'))} (FORMAT parquet)`);
      } finally {
        db.close();
      }
      const spine = join(tmp, `spine-versions-${name}.csv`);
      writeFileSync(spine, `user_id,item_id,ts\nu1,i1,${FIRST + DAY}\n`);
      const r = await run('training-set', '--features', FEATURES, '--log', other.dir, '--spine', spine, '--out', join(tmp, `versions-${name}.parquet`));
      assert.equal(r.code, 1, name);
      assert.match(r.err, new RegExp(`embedding table 'als_users': ${why.source}`), name);
      await assert.rejects(readEmbeddings(other, compiled.ir.views), why, name);
    }
  });

  test('a training set reads each row\'s version as of its time, and the cross over both vectors', async () => {
    const engine = await DuckDBEngine.open();
    let users: string[];
    let items: string[];
    try {
      users = (await engine.query(`SELECT DISTINCT user_id FROM ${new EventLog(logDir).eventsRelation()} WHERE ts < ${FIRST} ORDER BY user_id LIMIT 3`)).map((r) => String(r['user_id']));
      items = (await engine.query(`SELECT DISTINCT item_id FROM ${new EventLog(logDir).eventsRelation()} WHERE ts < ${FIRST} AND item_id IS NOT NULL ORDER BY item_id LIMIT 3`)).map((r) => String(r['item_id']));
    } finally {
      engine.close();
    }
    const times = [FIRST - 1, FIRST, FIRST + 1, second - 1, second + 1];
    const rows = times.flatMap((ts) => users.map((u, k) => ({ user_id: u, item_id: items[k] as string, ts })));
    const spine = join(tmp, 'spine.csv');
    writeFileSync(spine, `user_id,item_id,ts\n${rows.map((r) => `${r.user_id},${r.item_id},${r.ts}`).join('\n')}\n`);
    const outPath = join(tmp, 'training.parquet');
    const r = await run('training-set', '--features', FEATURES, '--log', logDir, '--spine', spine, '--out', outPath);
    assert.equal(r.code, 0, r.err);
    const db = await DuckDBEngine.open();
    try {
      const got = await db.query(`SELECT * FROM read_parquet(${sqlString(outPath)})`);
      assert.equal(got.length, rows.length);
      const userTable = tables.get('als_users') as EmbeddingTable;
      const itemTable = tables.get('als_items') as EmbeddingTable;
      got.forEach((g, i) => {
        const q = rows[i] as (typeof rows)[number];
        const u = userTable.at(q.user_id, q.ts)?.vector ?? null;
        const it = itemTable.at(q.item_id, q.ts)?.vector ?? null;
        if (q.ts <= FIRST) assert.equal(u, null, 'no version is served at or before its time');
        else assert.ok(u !== null && it !== null, `row ${i} has both vectors`);
        assert.deepEqual(g['user_als__vector'], u, `row ${i} user vector`);
        assert.deepEqual(g['item_als__vector'], it, `row ${i} item vector`);
        const affinity = g['als_affinity'] as number | null;
        if (u === null || it === null) assert.equal(affinity, null);
        else assert.ok(Math.abs((affinity as number) - dot(u, it)) < 1e-9, `row ${i} affinity`);
      });
      // Between the two versions the first is read; after the second, the second.
      const mid = got[users.length * 3] as Record<string, unknown>;
      const late = got[users.length * 4] as Record<string, unknown>;
      assert.notDeepEqual(mid['user_als__vector'], late['user_als__vector']);
    } finally {
      db.close();
    }
  });

  test('consistency: the stream engine equals the batch engine on embedding views (0 mismatches)', async () => {
    const r = await run('consistency', '--features', FEATURES, '--log', logDir, '--probes', '300', '--json');
    assert.equal(r.code, 0, r.err + r.out);
    const report = JSON.parse(r.out);
    assert.equal(report.mismatches, 0);
    assert.ok(report.features.some((f: { feature: string }) => f.feature === 'item_als__vector'));
  });

  test('served: /v1/features and /get-online-features carry the vectors, their version time and the cross', async () => {
    const now = second + 60_000;
    server = await FeatureServer.start({ compiled, log: new EventLog(logDir), port: 0, clock: () => now });
    await server.ready;
    const userTable = tables.get('als_users') as EmbeddingTable;
    const itemTable = tables.get('als_items') as EmbeddingTable;
    const user = userTable.keys().next().value as string;
    const items = [...itemTable.keys()].slice(0, 5);
    const r = await post(server, '/v1/features', { user_id: user, items: [...items, 'no-such-item'], features: ['user_als:vector', 'item_als:vector', 'request_features:als_affinity'] });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body.user.features, ['user_als:vector']);
    assert.deepEqual(r.body.user.values, [userTable.at(user, now)?.vector]);
    assert.deepEqual(r.body.user.statuses, ['PRESENT']);
    assert.deepEqual(r.body.user.event_ts, [second]);
    const f = r.body.items.features as string[];
    const vi = f.indexOf('item_als:vector');
    const ai = f.indexOf('request_features:als_affinity');
    items.forEach((it, k) => {
      const v = itemTable.at(it, now)?.vector as readonly number[];
      assert.deepEqual(r.body.items.values[k][vi], v);
      assert.equal(r.body.items.statuses[k][vi], 'PRESENT');
      assert.ok(Math.abs(r.body.items.values[k][ai] - dot(userTable.at(user, now)?.vector as number[], v)) < 1e-9);
    });
    assert.equal(r.body.items.statuses[items.length][vi], 'NOT_FOUND');
    assert.equal(r.body.items.values[items.length][vi], null);

    const feast = await post(server, '/get-online-features', { features: ['item_als:vector'], entities: { item_id: items.slice(0, 2) } });
    assert.equal(feast.status, 200, JSON.stringify(feast.body));
    assert.deepEqual(feast.body.results[1].values, items.slice(0, 2).map((it) => itemTable.at(it, now)?.vector));
    assert.deepEqual(feast.body.results[1].event_timestamps.map((t: string) => new Date(t).getTime()), [second, second]);

    const registry = (await (await fetch(`${server.url}/v1/feature-views`)).json()) as { views: { name: string; join_keys: string[] }[] };
    const view = registry.views.find((v) => v.name === 'item_als');
    assert.ok(view, JSON.stringify(registry).slice(0, 300));
    assert.deepEqual(view.join_keys, ['item_id']);
  });

  if (redisDown !== undefined) {
    testWithoutRedis('embedding views served with a Redis store', redisDown);
  } else {
    test('with a Redis store the server answers embedding views as memory-mode serving does', async () => {
      const namespace = `recsignal-test-embeddings:${process.pid}:${Date.now()}`;
      const store = await RedisStore.connect('redis://127.0.0.1:6379');
      let onRedis: FeatureServer<ServingState> | undefined;
      try {
        const now = second + 60_000;
        onRedis = await FeatureServer.start({ compiled, log: new EventLog(logDir), port: 0, clock: () => now, store, namespace });
        await onRedis.ready;
        const itemTable = tables.get('als_items') as EmbeddingTable;
        const body = { user_id: (tables.get('als_users') as EmbeddingTable).keys().next().value, items: [...[...itemTable.keys()].slice(0, 4), 'no-such-item'] };
        const m = await post(server as FeatureServer<ServingState>, '/v1/features', body);
        const r = await post(onRedis, '/v1/features', body);
        assert.equal(r.status, 200, JSON.stringify(r.body));
        assert.ok(r.body.items.features.includes('item_als:vector'));
        assert.deepEqual(r.body, m.body);
      } finally {
        await onRedis?.close();
        await store.close();
        await dropNamespace('redis://127.0.0.1:6379', namespace);
      }
    });
  }

  test('a version published while the server runs is served once the server reads the table again', async () => {
    const now = second + 60_000;
    const watching = await FeatureServer.start({ compiled, log: new EventLog(logDir), port: 0, clock: () => now, embeddingsCheckMs: 50 });
    try {
      await watching.ready;
      const user = (tables.get('als_users') as EmbeddingTable).keys().next().value as string;
      const servedTs = async () => (await post(watching, '/v1/features', { user_id: user, features: ['user_als:vector'] })).body.user.event_ts[0];
      assert.equal(await servedTs(), second);
      const third = second + 30_000;
      const r = await run('embed', '--features', FEATURES, '--log', logDir, '--at', String(third));
      assert.equal(r.code, 0, r.err);
      const deadline = Date.now() + 5000;
      while ((await servedTs()) !== third) {
        if (Date.now() > deadline) assert.fail('the new version was not served within 5 s');
        await new Promise((res) => setTimeout(res, 50));
      }
    } finally {
      await watching.close();
    }
  });
});

test('a table rewritten while the server runs that fails to read: /health is degraded, naming it, and the table read before is still served', async () => {
  const copy = new EventLog(join(tmp, 'log-rewritten-bad'));
  cpSync(logDir, copy.dir, { recursive: true });
  const now = second + 60_000;
  const watching = await FeatureServer.start({ compiled, log: copy, port: 0, clock: () => now, embeddingsCheckMs: 50 });
  try {
    await watching.ready;
    const user = (tables.get('als_users') as EmbeddingTable).keys().next().value as string;
    const before = (await post(watching, '/v1/features', { user_id: user, features: ['user_als:vector'] })).body.user;
    assert.equal((await fetch(`${watching.url}/health`)).status, 200);
    // Another writer publishes 4-value vectors for views of dims 32.
    await writeEmbeddings(copy, 'als_users', [{ key: user, ts: second + 1, vector: [1, 2, 3, 4] }]);
    const deadline = Date.now() + 5000;
    let health: { status: number; body: { status: string; message?: string } };
    for (;;) {
      const r = await fetch(`${watching.url}/health`);
      health = { status: r.status, body: (await r.json()) as { status: string; message?: string } };
      if (health.status === 503 || Date.now() > deadline) break;
      await new Promise((res) => setTimeout(res, 50));
    }
    assert.equal(health.status, 503, 'degraded within 5 s');
    assert.equal(health.body.status, 'degraded');
    assert.match(health.body.message ?? '', /embedding table 'als_users': .*has 4 values; the view declares dims 32: the table as read before is served, and a restart would fail on it/);
    assert.deepEqual((await post(watching, '/v1/features', { user_id: user, features: ['user_als:vector'] })).body.user, before);
  } finally {
    await watching.close();
  }
});

test('the retrieval index of a published table holds each item\'s version as of t', async () => {
  const itemTable = (await readEmbeddings(new EventLog(logDir), compiled.ir.views)).get('als_items') as EmbeddingTable;
  assert.equal(publishedItemIndex(itemTable, FIRST), null, 'no version before the first');
  const mid = publishedItemIndex(itemTable, FIRST + 1) as NonNullable<ReturnType<typeof publishedItemIndex>>;
  assert.equal(mid.newest, FIRST);
  const late = publishedItemIndex(itemTable, second + 1) as NonNullable<ReturnType<typeof publishedItemIndex>>;
  assert.equal(late.newest, second);
  assert.equal(late.index.size, itemTable.size);
  const some = [...itemTable.keys()][0] as string;
  const want = itemTable.at(some, second + 1)?.vector as readonly number[];
  const got = late.index.vector(some) as ArrayLike<number>;
  const norm = Math.hypot(...want);
  // The index keeps unit vectors (cosine) in float32.
  want.forEach((x, k) => assert.ok(Math.abs((got[k] as number) - x / norm) < 1e-6, `coordinate ${k}`));
  // An item's nearest neighbour by its own vector is itself.
  assert.equal(late.index.search(want, 1)[0]?.id, some);
});

test('recsignal sql reads each embedding view from the relation named as its table', async () => {
  const r = await run('sql', '--features', FEATURES, '--dialect', 'postgres');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /JOIN als_items AS e ON CAST\(e\.key AS VARCHAR\) = k\.__k0 AND e\.ts < k\.__t/);
  assert.match(r.out, /JOIN als_users AS e/);
});
