/**
 * The feature server over real HTTP on 127.0.0.1: every endpoint, Feast's JSON shapes, bad input of
 * each kind (each a clear error or a rejection entry, and the server keeps serving), 413,
 * read-after-write, and online values equal to the batch engine's for the same (user, item, t),
 * request-time crosses included. Also the `serve` command as a subprocess and the serving demo.
 */
import { test, after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../src/cli/main.ts';
import { loadFeatureSet } from '../src/plan/load-features.ts';
import { writeGenerated } from '../src/events/generate-write.ts';
import { openReader, readItemsFile, readUsersFile } from '../src/events/readers/index.ts';
import { createEventValidator } from '../src/events/validate.ts';
import type { InteractionEvent } from '../src/events/schema.ts';
import type { FeatureValue } from '../src/features/ir.ts';
import { featuresFor } from '../src/compute/batch/training-set.ts';
import type { CompiledFeatureSet } from '../src/plan/compile.ts';
import { featureColumns } from '../src/plan/rows.ts';
import { DuckDBEngine, sqlString } from '../src/store/offline/duckdb-engine.ts';
import { EventLog } from '../src/store/offline/event-log.ts';
import { ingest } from '../src/store/offline/ingest.ts';
import { FeatureServer } from '../src/serve/server.ts';
import { valuesEqual } from './helpers/compare.ts';
import { startServe } from './helpers/serve-process.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const STREAMING = join(ROOT, 'examples', 'streaming', 'features.ts');
const DAY = 86_400_000;
const START = Date.UTC(2024, 0, 1);
const DAYS = 4;
/** The server's clock: ten minutes after the generated log ends. */
const NOW = START + DAYS * DAY + 10 * 60_000;

const tmp = mkdtempSync(join(tmpdir(), 'recsignal-serve-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

let compiled: CompiledFeatureSet;
let log: EventLog;
let server: FeatureServer;
let url: string;
/** The most active user, three items they played, two they did not, and their usual device. */
let user: string;
let device: string;
let played: string[];
let other: string[];

interface Res {
  status: number;
  body: any;
  text: string;
  type: string | null;
}

async function call(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Res> {
  const init: RequestInit = { method, headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers } };
  if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body);
  const r = await fetch(`${url}${path}`, init);
  const text = await r.text();
  let parsed: unknown = null;
  try {
    parsed = text === '' ? null : JSON.parse(text);
  } catch {
    parsed = null;
  }
  return { status: r.status, body: parsed, text, type: r.headers.get('content-type') };
}
const post = (path: string, body: unknown, headers?: Record<string, string>) => call('POST', path, body, headers);
/** A POST with exactly the given Content-Type, or none (fetch would add text/plain to a string body). */
function rawPost(path: string, body: string, type: string | undefined): Promise<{ status: number; text: string }> {
  return new Promise((done, fail) => {
    const target = new URL(path, url);
    const req = request({ host: target.hostname, port: target.port, path: target.pathname, method: 'POST', headers: { 'content-length': Buffer.byteLength(body), ...(type ? { 'content-type': type } : {}) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => done({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', fail);
    req.end(body);
  });
}
/** What a restart must still serve: user × item plays after an online-only push. */
const onlineOnly = { plays: -1 };
/** Rejected inputs the dead-letter test looks for, whole: the end of their dead-letter line. */
const deadLettered: string[] = [];

async function query(sql: string): Promise<Record<string, unknown>[]> {
  const engine = await DuckDBEngine.open();
  try {
    return await engine.query(sql);
  } finally {
    engine.close();
  }
}

async function logHas(eventId: string): Promise<number> {
  return Number((await query(`SELECT count(*) AS n FROM ${log.eventsRelation()} WHERE event_id = ${sqlString(eventId)}`))[0]?.['n']);
}

before(async () => {
  compiled = await loadFeatureSet(STREAMING);
  const gen = await writeGenerated({ users: 40, items: 150, days: DAYS, seed: 11, start: START, out: join(tmp, 'gen', 'events.jsonl') });
  log = new EventLog(join(tmp, 'log'));
  await ingest(openReader(gen.out, { format: 'jsonl' }), {
    log,
    validator: createEventValidator({ extraTypes: compiled.ir.extraTypes, now: NOW }),
    items: await readItemsFile(gen.itemsPath),
    users: await readUsersFile(gen.usersPath),
  });
  const ev = log.eventsRelation();
  const top = (await query(`SELECT user_id, mode(device) AS device FROM ${ev} WHERE type = 'play' GROUP BY user_id ORDER BY count(*) DESC, user_id LIMIT 1`))[0] ?? {};
  user = String(top['user_id']);
  device = String(top['device']);
  played = (await query(`SELECT DISTINCT item_id FROM ${ev} WHERE type = 'play' AND user_id = ${sqlString(user)} ORDER BY item_id LIMIT 3`)).map((r) => String(r['item_id']));
  other = (await query(`SELECT DISTINCT item_id FROM ${ev} WHERE item_id NOT IN (SELECT item_id FROM ${ev} WHERE user_id = ${sqlString(user)}) ORDER BY item_id LIMIT 2`)).map((r) => String(r['item_id']));
  server = await FeatureServer.start({ compiled, log, port: 0, clock: () => NOW, bodyLimit: 64 * 1024, flushIntervalMs: 60_000 });
  url = server.url;
  await server.ready;
});

after(async () => {
  await server?.close();
});

describe('online values equal the batch engine', () => {
  test('POST /v1/features: every feature, crosses included, equals featuresFor at the same (user, item, t)', async () => {
    const items = [...played, ...other, 'i-unknown'];
    const r = await post('/v1/features', { user_id: user, items, context: { device } });
    assert.equal(r.status, 200, r.text);
    const b = r.body;
    assert.deepEqual(Object.keys(b), ['ts', 'user_id', 'user', 'items']);
    assert.equal(b.ts, NOW);
    assert.deepEqual(Object.keys(b.user), ['features', 'values', 'statuses', 'event_ts']);
    assert.deepEqual(Object.keys(b.items), ['features', 'item_ids', 'values', 'statuses', 'event_ts']);
    assert.deepEqual(b.items.item_ids, items);
    const all = featureColumns(compiled.ir).map((c) => c.ref);
    assert.deepEqual([...b.user.features, ...b.items.features].sort(), [...all].sort(), 'default: every feature');
    assert.ok(b.items.features.includes('request_features:genre_match') && b.items.features.includes('user_item:plays'));
    assert.ok(!b.user.features.some((f: string) => f.startsWith('item_') || f.startsWith('user_item:')), 'user block holds no per-item view');

    const offline = await featuresFor(compiled, log, items.map((item_id) => ({ fields: { user_id: user, item_id, device }, ts: NOW })));
    const diffs: string[] = [];
    items.forEach((item, i) => {
      const row = offline[i] as FeatureValue[];
      const at = (ref: string) => row[all.indexOf(ref)] ?? null;
      b.user.features.forEach((ref: string, j: number) => {
        if (!valuesEqual(b.user.values[j], at(ref))) diffs.push(`${item} ${ref}: online ${JSON.stringify(b.user.values[j])} offline ${JSON.stringify(at(ref))}`);
      });
      b.items.features.forEach((ref: string, j: number) => {
        if (!valuesEqual(b.items.values[i][j], at(ref))) diffs.push(`${item} ${ref}: online ${JSON.stringify(b.items.values[i][j])} offline ${JSON.stringify(at(ref))}`);
      });
    });
    assert.deepEqual(diffs, []);

    // Statuses and event times: the user and played items are known; the unknown item is not.
    const col = (ref: string) => b.items.features.indexOf(ref);
    assert.ok(b.user.statuses.every((s: string) => s === 'PRESENT'), `user statuses: ${b.user.statuses}`);
    const lastEvent = Number((await query(`SELECT max(ts) AS t FROM ${log.eventsRelation()} WHERE user_id = ${sqlString(user)}`))[0]?.['t']);
    assert.equal(b.user.event_ts[b.user.features.indexOf('user_engagement:play_count_7d')], lastEvent, 'event time = the user\'s newest event before t');
    assert.equal(b.user.event_ts[b.user.features.indexOf('user_meta:country')], null, 'metadata has no event time');
    for (let i = 0; i < played.length; i++) assert.equal(b.items.statuses[i][col('user_item:plays')], 'PRESENT');
    assert.equal(b.items.statuses[3][col('user_item:plays')], 'NOT_FOUND', 'never met: no user × item state');
    const unknown = items.length - 1;
    for (const ref of ['item_popularity:play_count_7d', 'item_meta:genres', 'user_item:plays']) assert.equal(b.items.statuses[unknown][col(ref)], 'NOT_FOUND', ref);
    assert.equal(b.items.values[unknown][col('item_popularity:play_count_7d')], 0, 'NOT_FOUND carries the declared default');
    assert.equal(b.items.statuses[unknown][col('request_features:genre_match')], 'PRESENT');
  });

  test('features selects and orders refs; user-only and item-only requests work', async () => {
    const r = await post('/v1/features', { user_id: user, items: played.slice(0, 1), features: ['request_features:genre_match', 'user_engagement:play_count_7d', 'item_popularity:play_count_7d'] });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body.user.features, ['user_engagement:play_count_7d']);
    assert.deepEqual(r.body.items.features, ['request_features:genre_match', 'item_popularity:play_count_7d']);
    const noItems = await post('/v1/features', { user_id: user });
    assert.equal(noItems.status, 200);
    assert.deepEqual(noItems.body.items.values, []);
    const unknownUser = await post('/v1/features', { user_id: 'nobody', features: ['user_engagement:play_count_7d', 'user_session:session_event_count'] });
    assert.deepEqual(unknownUser.body.user.statuses, ['NOT_FOUND', 'NOT_FOUND']);
    assert.deepEqual(unknownUser.body.user.values, [0, 0]);
  });
});

describe('Feast-compatible endpoints', () => {
  test('POST /get-online-features: columnar results, join keys first, RFC 3339 times, statuses', async () => {
    const items = [played[0] as string, 'i-unknown'];
    const features = ['user_engagement:play_count_7d', 'item_popularity:play_count_7d', 'item_meta:genres', 'user_genre_taste:genre_affinity', 'request_features:genre_match'];
    const r = await post('/get-online-features', { features, entities: { user_id: [user, user], item_id: items }, full_feature_names: true });
    assert.equal(r.status, 200, r.text);
    const b = r.body;
    assert.deepEqual(Object.keys(b), ['metadata', 'results']);
    assert.deepEqual(b.metadata, {
      feature_names: ['user_id', 'item_id', 'user_engagement__play_count_7d', 'item_popularity__play_count_7d', 'item_meta__genres', 'user_genre_taste__genre_affinity', 'request_features__genre_match'],
    });
    assert.equal(b.results.length, 7);
    for (const c of b.results) {
      assert.deepEqual(Object.keys(c), ['values', 'statuses', 'event_timestamps']);
      assert.equal(c.values.length, 2);
      for (const t of c.event_timestamps) assert.match(t, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$/);
    }
    assert.deepEqual(b.results[0], { values: [user, user], statuses: ['PRESENT', 'PRESENT'], event_timestamps: ['1970-01-01T00:00:00Z', '1970-01-01T00:00:00Z'] });
    assert.deepEqual(b.results[1].values, items);
    const pop = b.results[3];
    assert.deepEqual(pop.statuses, ['PRESENT', 'NOT_FOUND']);
    assert.equal(pop.values[1], null, 'Feast gives no value for an unknown entity');
    assert.equal(pop.event_timestamps[1], '1970-01-01T00:00:00Z');
    assert.ok(Array.isArray(b.results[4].values[0]), 'lists are arrays');
    assert.equal(typeof b.results[5].values[0], 'object', 'histograms are maps');

    // The same values as /v1/features.
    const mine = await post('/v1/features', { user_id: user, items, features });
    assert.deepEqual(b.results[2].values[0], mine.body.user.values[0]);
    assert.deepEqual(b.results[3].values[0], mine.body.items.values[0][0]);
    assert.deepEqual(b.results[6].values, [mine.body.items.values[0][2], mine.body.items.values[1][2]]);
    const ts = new Date(b.results[2].event_timestamps[0]).getTime();
    assert.equal(ts, mine.body.user.event_ts[0]);
  });

  test('short names unless they collide; feature services and bad entities are clear 400s', async () => {
    const short = await post('/get-online-features', { features: ['item_popularity:play_count_7d'], entities: { item_id: [played[0]] } });
    assert.equal(short.status, 200, short.text);
    assert.deepEqual(short.body.metadata.feature_names, ['item_id', 'play_count_7d']);
    const collide = await post('/get-online-features', { features: ['item_popularity:play_count_7d', 'user_engagement:play_count_7d'], entities: { user_id: [user], item_id: [played[0]] } });
    assert.equal(collide.status, 400);
    assert.match(collide.body.error.message, /both named 'play_count_7d'.*full_feature_names/);
    const service = await post('/get-online-features', { feature_service: 'ranker_v1', entities: { user_id: [user] } });
    assert.equal(service.status, 400);
    assert.match(service.body.error.message, /feature services are not supported/);
    const ragged = await post('/get-online-features', { features: ['item_popularity:play_count_7d'], entities: { user_id: ['a', 'b'], item_id: ['x'] } });
    assert.equal(ragged.status, 400);
    assert.equal(ragged.body.error.problems[0].path, 'entities.item_id');
    // A join key or request data the features read, not sent: an error naming the column, not NOT_FOUND for every row.
    const noItem = await post('/get-online-features', { features: ['item_popularity:play_count_7d', 'user_engagement:play_count_7d', 'request_features:genre_match', 'request_features:recently_ignored_item'], entities: { user_id: [user] }, full_feature_names: true });
    assert.equal(noItem.status, 400, noItem.text);
    assert.deepEqual(noItem.body.error.problems.map((p: { path: string }) => p.path), ['entities.item_id']);
    assert.match(noItem.body.error.problems[0].message, /item_popularity:play_count_7d, request_features:genre_match, request_features:recently_ignored_item read it/);
    const noDevice = await post('/get-online-features', { features: ['user_device:play_count_30d'], entities: { user_id: [user] } });
    assert.equal(noDevice.status, 400, noDevice.text);
    assert.equal(noDevice.body.error.problems[0].path, 'entities.device');
    // Time-derived keys come from the request time.
    const daypart = await post('/get-online-features', { features: ['user_daypart:play_count_30d'], entities: { user_id: [user] } });
    assert.equal(daypart.status, 200, daypart.text);
  });

  test('POST /push maps df rows to events: 200 with the body null, as Feast does; features reflect them; a bad row writes nothing', async () => {
    const target = other[0] as string;
    const before = await post('/v1/features', { user_id: user, items: [target], features: ['user_item:plays', 'user_device:play_count_30d'], context: { device: 'console' } });
    const stamp = new Date(NOW - 60_000).toISOString().replace('T', ' ').replace('Z', '+00:00');
    const r = await post('/push', {
      push_source_name: 'events',
      df: { user_id: [user, user], item_id: [target, target], type: ['play', 'impression'], event_timestamp: [stamp, stamp], device: ['console', 'console'], created: [stamp, stamp] },
      to: 'online_and_offline',
      allow_registry_cache: true,
    });
    assert.equal(r.status, 200, r.text);
    // Feast's push returns None: FastAPI sends the JSON null.
    assert.equal(r.text, 'null');
    assert.match(r.type ?? '', /^application\/json/);
    const after = await post('/v1/features', { user_id: user, items: [target], features: ['user_item:plays', 'user_device:play_count_30d'], context: { device: 'console' } });
    assert.equal(after.body.items.values[0][0], before.body.items.values[0][0] + 1);
    assert.equal(after.body.user.values[0], before.body.user.values[0] + 1, 'device went to the context');
    assert.equal(after.body.items.event_ts[0][0], NOW - 60_000);
    // Retrying the same push is a duplicate (ids derive from the row), not two more events.
    const applied = server.intake.counts.accepted;
    await post('/push', { push_source_name: 'events', df: { user_id: [user], item_id: [target], type: ['play'], event_timestamp: [stamp], device: ['console'] }, to: 'online' });
    assert.equal(server.intake.counts.accepted, applied);

    const bad = await post('/push', { push_source_name: 'events', df: { user_id: [user, user], item_id: [target, target], type: ['play', 'teleport'], ts: [NOW - 1000, NOW - 1000] } });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.problems[0].path, 'df[1].type');
    assert.equal(server.intake.counts.accepted, applied, 'no row of a rejected push is applied');
    const dest = await post('/push', { push_source_name: 'events', df: { user_id: [user] }, to: 'warehouse' });
    assert.equal(dest.status, 400);
  });

  test('integer entity keys as Feast clients send them: pushed and read as numbers, int64 ones beyond 2^53 kept exact, not read as a neighbour', async () => {
    const stamp = new Date(NOW - 30_000).toISOString();
    // 2^53 + 1: as a JavaScript number it is 2^53, another user.
    const big = '9007199254740993';
    const pushed = await post('/push', `{"push_source_name":"events","df":{"user_id":[${big}, 4242],"item_id":[17, 17],"type":["play","play"],"event_timestamp":["${stamp}","${stamp}"]},"to":"online"}`);
    assert.equal(pushed.status, 200, pushed.text);
    const read = await post('/get-online-features', `{"features":["user_engagement:play_count_7d"],"entities":{"user_id":[${big}, 9007199254740992, 4242]}}`);
    assert.equal(read.status, 200, read.text);
    const [keys, plays] = read.body.results;
    assert.deepEqual(keys.values, [big, '9007199254740992', 4242], 'beyond 2^53 the key comes back as its digits');
    assert.deepEqual(plays.statuses, ['PRESENT', 'NOT_FOUND', 'PRESENT']);
    assert.deepEqual(plays.values, [1, null, 1]);
    // Feast serves feature_service when set; recsignal has none, so with features given too it reads those.
    const both = await post('/get-online-features', { feature_service: 'ranker_v1', features: ['user_engagement:play_count_7d'], entities: { user_id: ['4242'] } });
    assert.equal(both.status, 200, both.text);
    assert.deepEqual(both.body.results[1].values, [1]);
  });
});

describe('events', () => {
  test('read-after-write: a posted event shows in /v1/features at once; wait=true also puts it in the log', async () => {
    const item = other[1] as string;
    const ask = () => post('/v1/features', { user_id: user, items: [item], features: ['user_item:plays', 'user_item:impressions_7d'] });
    const before = await ask();
    assert.equal(before.body.items.statuses[0][0], 'NOT_FOUND');
    const r = await post('/v1/events?wait=true', [{ event_id: 'raw-1', user_id: user, item_id: item, ts: NOW - 5_000, type: 'play', context: { device } }]);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.body, { received: 1, accepted: 1, rejected: 0, duplicates: 0, late: 0, rejections: [] });
    const after = await ask();
    assert.deepEqual(after.body.items.values[0], [1, 0]);
    assert.deepEqual(after.body.items.statuses[0], ['PRESENT', 'PRESENT']);
    assert.deepEqual(after.body.items.event_ts[0], [NOW - 5_000, NOW - 5_000]);
    assert.equal(await logHas('raw-1'), 1, 'in the offline log on return');
  });

  test('a mixed batch: accepted, invalid, duplicate, late, future; counts add up and nothing is lost', async () => {
    const ok = { user_id: user, item_id: played[0], ts: NOW - 4_000, type: 'impression' };
    const r = await post('/v1/events?wait=true', [
      { ...ok, event_id: 'mix-ok' },
      { ...ok, event_id: 'mix-ok' },
      { event_id: 'mix-no-user', item_id: 'i1', ts: NOW - 1000, type: 'play' },
      { ...ok, event_id: 'mix-late', ts: NOW - DAY },
      { ...ok, event_id: 'mix-future', ts: NOW + 3 * DAY },
      { ...ok, event_id: 'mix-type', type: 'teleport', valu: 3 },
      'not an event',
    ]);
    assert.equal(r.status, 200, r.text);
    const b = r.body;
    assert.deepEqual({ ...b, rejections: undefined }, { received: 7, accepted: 1, rejected: 4, duplicates: 1, late: 1, rejections: undefined });
    assert.equal(b.received, b.accepted + b.rejected + b.duplicates + b.late);
    const reasons = Object.fromEntries(b.rejections.map((x: { index: number; reason: string; problems: { path: string }[] }) => [x.index, [x.reason, x.problems.map((p) => p.path).sort().join(',')]]));
    assert.deepEqual(reasons, { 2: ['invalid', 'user_id'], 3: ['late', 'ts'], 4: ['invalid', 'ts'], 5: ['invalid', 'type,valu'], 6: ['invalid', '(event)'] });
    for (const x of b.rejections) for (const p of x.problems) assert.ok(p.message && p.fix, 'each problem says what and how to fix');
    assert.equal(await logHas('mix-ok'), 1, 'one copy of a duplicated id');
    assert.equal(await logHas('mix-late'), 1, 'a late event is kept offline (batch is the source of truth)');
    assert.equal(await logHas('mix-future'), 0);
    // The late event is deduplicated against the log when sent again.
    await post('/v1/events?wait=true', [{ ...ok, event_id: 'mix-late', ts: NOW - DAY }]);
    assert.equal(await logHas('mix-late'), 1);
  });

  test('JSON lines: a line that does not parse is a rejection of that line, not an error', async () => {
    const lines = [
      JSON.stringify({ event_id: 'nd-1', user_id: user, item_id: played[1], ts: NOW - 3_000, type: 'impression' }),
      '',
      '{"event_id": "nd-2", "user_id": ',
      JSON.stringify({ event_id: 'nd-3', user_id: user, item_id: played[1], ts: NOW - 2_000, type: 'impression' }),
    ].join('\n');
    const r = await post('/v1/events', lines, { 'content-type': 'application/x-ndjson' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.received, 3);
    assert.equal(r.body.accepted, 2);
    assert.deepEqual(r.body.rejections.map((x: { index: number; reason: string }) => [x.index, x.reason]), [[1, 'invalid']]);
    assert.match(r.body.rejections[0].problems[0].path, /^\(line 3\)$/);
  });
});

describe('events: what does not fit', () => {
  test('a record nested too deeply for JSON.stringify, a clock far ahead, a long line that does not parse: rejected alone, dead-lettered whole', async () => {
    const deep = `${'['.repeat(20_000)}${']'.repeat(20_000)}`;
    const ok = { event_id: 'fit-ok', user_id: user, item_id: played[0], ts: NOW - 3_000, type: 'impression' };
    const r = await post('/v1/events', `[${deep},${JSON.stringify(ok)},${JSON.stringify({ ...ok, event_id: 'fit-ahead', ts: NOW + 120_000 })}]`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual([r.body.accepted, r.body.rejected], [1, 2]);
    assert.deepEqual(r.body.rejections.map((x: { index: number }) => x.index), [0, 2]);
    // The server's default: one minute ahead of its clock at most (an accepted event moves the watermark).
    assert.match(r.body.rejections[1].problems[0].message, /in the future: more than 1m past now/);
    const long = `{"event_id": "fit-long", "note": "${'x'.repeat(3_000)}"`;
    const nd = await post('/v1/events', long, { 'content-type': 'application/x-ndjson' });
    assert.equal(nd.body.rejected, 1);
    deadLettered.push(`"input":${deep}}`, `"input":${JSON.stringify(long)}}`);
  });

  test('an event sent offline only, then again for the online state, is one row of the log', async () => {
    const row = { event_id: ['twice-1'], user_id: [user], item_id: [other[0] as string], type: ['play'], ts: [NOW - 2_000] };
    const offline = await post('/push', { push_source_name: 'events', df: row, to: 'offline' });
    assert.equal(offline.status, 200, offline.text);
    const online = await post('/v1/events?wait=true', [{ event_id: 'twice-1', user_id: user, item_id: other[0], type: 'play', ts: NOW - 2_000 }]);
    assert.equal(online.body.accepted, 1, 'new to the online state');
    assert.equal(await logHas('twice-1'), 1);
  });

  test('an event pushed for the online state only counts online, is not in the log, and survives a restart (see below)', async () => {
    const ask = () => post('/v1/features', { user_id: user, items: [other[1]], features: ['user_item:plays'] });
    const before = (await ask()).body.items.values[0][0] as number;
    const r = await post('/push', { push_source_name: 'events', df: { event_id: ['only-online-1'], user_id: [user], item_id: [other[1] as string], type: ['play'], ts: [NOW - 1_500] } });
    assert.equal(r.status, 200, r.text);
    onlineOnly.plays = (await ask()).body.items.values[0][0] as number;
    assert.equal(onlineOnly.plays, before + 1);
    await server.intake.flush();
    assert.equal(await logHas('only-online-1'), 0, "Feast's push to the online store skips the offline store");
    // Sent again for both: a duplicate online, and appended to the log, which lacks it (as after a
    // resend of a batch whose store write landed unconfirmed).
    const both = await post('/v1/events?wait=true', [{ event_id: 'only-online-1', user_id: user, item_id: other[1], type: 'play', ts: NOW - 1_500 }]);
    assert.deepEqual([both.body.accepted, both.body.duplicates], [0, 1]);
    assert.equal(await logHas('only-online-1'), 1);
    assert.equal((await ask()).body.items.values[0][0], onlineOnly.plays, 'not applied twice');
  });
});

describe('bad input: a clear error each, and the server keeps serving', () => {
  test('malformed JSON, wrong types, missing keys, unknown refs, unknown routes and media types', async () => {
    const malformed = await post('/v1/features', '{"user_id": "u1",');
    assert.equal(malformed.status, 400);
    assert.equal(malformed.body.error.code, 'INVALID_JSON');
    assert.match(malformed.body.error.message, /not valid JSON/);

    const types = await post('/v1/features', { user_id: 7, items: 'i1', contxt: {} });
    assert.equal(types.status, 400);
    assert.equal(types.body.error.code, 'INVALID_INPUT');
    assert.deepEqual(types.body.error.problems.map((p: { path: string }) => p.path).sort(), ['contxt', 'items', 'user_id']);
    for (const p of types.body.error.problems) assert.ok(p.fix.length > 0);

    const missing = await post('/v1/features', { items: ['i1'] });
    assert.equal(missing.status, 400);
    assert.match(missing.body.error.message, /user_id: is missing/);

    const unknown = await post('/v1/features', { user_id: user, features: ['item_popularity:play_count_7d', 'item_popularity:plays_7d', 'nope:x', 'no_colon'] });
    assert.equal(unknown.status, 400);
    assert.deepEqual(unknown.body.error.problems.map((p: { path: string }) => p.path), ['features[1]', 'features[2]', 'features[3]']);
    assert.match(unknown.body.error.problems[0].fix, /item_popularity:play_count_7d/);
    assert.match(unknown.body.error.problems[1].fix, /'nope' is not a view/);

    const pastHorizon = await post('/v1/features', { user_id: user, items: played, ts: START + DAY });
    assert.equal(pastHorizon.status, 400);
    assert.match(pastHorizon.body.error.message, /older than the online state keeps/);

    const ctx = await post('/v1/features', { user_id: user, context: { device: { kind: 'tv' }, item_id: 'i1' } });
    assert.deepEqual(ctx.body.error.problems.map((p: { path: string }) => p.path), ['context.device', 'context.item_id']);

    const notArray = await post('/v1/events', { event_id: 'e1' });
    assert.equal(notArray.status, 400);
    assert.match(notArray.body.error.problems[0].fix, /wrap events in \[/);
    const badWait = await post('/v1/events?wait=maybe', []);
    assert.equal(badWait.status, 400);

    const route = await call('GET', '/v1/nothing');
    assert.equal(route.status, 404);
    assert.equal(route.body.error.code, 'ROUTE_NOT_FOUND');
    const method = await call('GET', '/v1/features');
    assert.equal(method.status, 404);

    const media = await post('/v1/features', 'user_id=u1', { 'content-type': 'text/plain' });
    assert.equal(media.status, 415);
    assert.equal(media.body.error.code, 'UNSUPPORTED_MEDIA_TYPE');
    const ndjsonElsewhere = await post('/v1/features', '{}', { 'content-type': 'application/x-ndjson' });
    assert.equal(ndjsonElsewhere.status, 415);
    // A request time in seconds would read every feature as of 1970 (defaults, NOT_FOUND): refused as for events.
    const seconds = await post('/v1/features', { user_id: user, items: [], ts: Math.floor(NOW / 1000) });
    assert.equal(seconds.status, 400, seconds.text);
    assert.equal(seconds.body.error.problems[0].path, 'ts');
    assert.match(seconds.body.error.problems[0].fix, /milliseconds since the epoch: send \d+000/);
    assert.equal((await post('/v1/features', { user_id: user, items: [], ts: NOW })).status, 200);
    // Feast's Python client posts JSON with no Content-Type, its docs' curl with form encoding: Feast's routes read JSON anyway.
    const feastBody = JSON.stringify({ features: ['user_engagement:play_count_7d'], entities: { user_id: [user] } });
    for (const type of [undefined, 'application/x-www-form-urlencoded', 'text/plain']) {
      const r = await rawPost('/get-online-features', feastBody, type);
      assert.equal(r.status, 200, `${type ?? 'no content-type'}: ${r.text}`);
      assert.deepEqual(JSON.parse(r.text).metadata.feature_names, ['user_id', 'play_count_7d']);
    }
    assert.equal((await rawPost('/get-online-features', '{', undefined)).status, 400, 'not JSON: a 400, not a 415');
    assert.equal((await rawPost('/v1/features', JSON.stringify({ user_id: user, items: [] }), undefined)).status, 415, 'recsignal\'s own routes still want application/json');
    // A body starting with a byte-order mark (some Windows tools write one) is read as JSON, as fastify's own parser does.
    const bom = await rawPost('/v1/features', `\ufeff${JSON.stringify({ user_id: user, items: [] })}`, 'application/json');
    assert.equal(bom.status, 200, bom.text);
    assert.equal((await rawPost('/get-online-features', `\ufeff${feastBody}`, undefined)).status, 200, 'a BOM on a Feast route too');

    assert.equal((await call('GET', '/health')).status, 200);
  });

  test('an oversized body gets 413 with the limit, and nothing of it is applied', async () => {
    const received = server.intake.counts.received;
    const big = Array.from({ length: 1000 }, (_, i) => ({ event_id: `big-${i}`, user_id: user, item_id: 'i1', ts: NOW - 1000, type: 'impression', context: { pad: 'x'.repeat(60) } }));
    const r = await post('/v1/events', big);
    assert.equal(r.status, 413);
    assert.equal(r.body.error.code, 'BODY_TOO_LARGE');
    assert.match(r.body.error.message, /65536 bytes; split the batch/);
    assert.equal(server.intake.counts.received, received);
    assert.equal((await post('/v1/features', { user_id: user })).status, 200);
  });
});

describe('registry, health and metrics', () => {
  test('GET /v1/feature-views: views with join keys, typed features and semantic hashes', async () => {
    const r = await call('GET', '/v1/feature-views');
    assert.equal(r.status, 200);
    assert.equal(r.body.name, 'streaming_demo');
    assert.equal(r.body.hash, compiled.hash);
    const keys = Object.fromEntries(r.body.views.map((v: { name: string; join_keys: string[] }) => [v.name, v.join_keys]));
    assert.deepEqual(keys.user_item, ['user_id', 'item_id']);
    assert.deepEqual(keys.user_device, ['user_id', 'device']);
    for (const v of r.body.views) {
      assert.equal(v.hash, compiled.viewHashes[v.name]);
      for (const f of v.features) assert.equal(f.ref, `${v.name}:${f.name}`);
    }
    const pop = r.body.views.find((v: { name: string }) => v.name === 'item_popularity');
    assert.deepEqual(pop.features[0], { name: 'play_count_1d', type: 'int', ref: 'item_popularity:play_count_1d' });
    assert.deepEqual(r.body.request_features.map((f: { ref: string }) => f.ref), ['request_features:genre_match', 'request_features:item_age_days', 'request_features:recently_ignored_item']);
  });

  test('GET /metrics: Prometheus text with latency histograms per route, event counters and stream lag', async () => {
    const r = await call('GET', '/metrics');
    assert.equal(r.status, 200);
    assert.match(r.type ?? '', /^text\/plain; version=0\.0\.4/);
    const t = r.text;
    assert.match(t, /^# TYPE recsignal_http_request_duration_seconds histogram$/m);
    assert.match(t, /^recsignal_http_request_duration_seconds_bucket\{route="\/v1\/features",method="POST",le="0\.001"\} \d+$/m);
    assert.match(t, /^recsignal_http_request_duration_seconds_bucket\{route="\/v1\/features",method="POST",le="\+Inf"\} (\d+)$/m);
    assert.match(t, /^recsignal_http_requests_total\{route="\/v1\/events",method="POST",status="413"\} 1$/m);
    const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(t)?.[1]);
    const c = server.intake.counts;
    assert.equal(value('recsignal_events_received_total'), c.received);
    assert.equal(value('recsignal_events_accepted_total'), c.accepted);
    // Applied online: the accepted ones less those kept for the log only (an earlier test sent one offline only).
    assert.equal(value('recsignal_events_applied_total'), c.appliedOnline);
    assert.ok(c.appliedOnline < c.accepted, `applied online ${c.appliedOnline}, accepted ${c.accepted}`);
    assert.equal(value('recsignal_events_rejected_total'), c.rejected);
    assert.equal(value('recsignal_events_duplicates_total'), c.duplicates);
    assert.equal(value('recsignal_events_late_total'), 2);
    assert.equal(value('recsignal_stream_lag_seconds'), (NOW - server.state.engine.watermark) / 1000);
    assert.equal(value('recsignal_online_store_errors_total'), 0);
    assert.match(t, /^recsignal_online_keys\{view="user_item"\} \d+$/m);
  });

  test('not ready: /health is 503 and other endpoints say NOT_READY until the state is bootstrapped; then STALE past the max age', async () => {
    let release = () => undefined as void;
    const gate = new Promise<void>((res) => (release = res));
    async function* slow(): AsyncGenerator<InteractionEvent> {
      await gate;
      yield { eventId: 'b1', userId: 'u1', itemId: 'i1', ts: NOW - 1000, type: 'play', value: null, duration: null, context: {} };
    }
    const s = await FeatureServer.start({ compiled, log: new EventLog(join(tmp, 'empty-log')), port: 0, clock: () => NOW, bootstrap: slow(), metadata: { items: [], users: [] }, maxAgeMs: 500 });
    try {
      const h = await fetch(`${s.url}/health`);
      assert.equal(h.status, 503);
      assert.equal(((await h.json()) as { status: string }).status, 'starting');
      const f = await fetch(`${s.url}/v1/features`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"user_id":"u1"}' });
      assert.equal(f.status, 503);
      assert.equal(((await f.json()) as { error: { code: string } }).error.code, 'NOT_READY');
      release();
      await s.ready;
      assert.equal((await fetch(`${s.url}/health`)).status, 200);
      const g = await fetch(`${s.url}/v1/features`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"user_id":"u1","features":["user_engagement:play_count_7d"]}' });
      const gb = (await g.json()) as { user: { values: number[]; statuses: string[] } };
      assert.deepEqual(gb.user.values, [1]);
      assert.deepEqual(gb.user.statuses, ['STALE'], 'older than the max age');
      const feast = await fetch(`${s.url}/get-online-features`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"features":["user_engagement:play_count_7d"],"entities":{"user_id":["u1"]}}' });
      assert.deepEqual(((await feast.json()) as { results: { statuses: string[] }[] }).results[1]?.statuses, ['OUTSIDE_MAX_AGE']);
    } finally {
      await s.close();
    }
    assert.equal(s.status, 'stopped');
  });
});

describe('the command line', () => {
  test('serve --online with an unknown store: exit 2 naming the choices (Redis ones: test/serve-redis.test.ts)', async () => {
    let err = '';
    assert.equal(await main(['serve', '--features', STREAMING, '--log', log.dir, '--online', 'memcached'], () => undefined, (s) => (err += s)), 2);
    assert.match(err, /use memory, redis:\/\/host:port or redis-cluster:\/\/host:port,host:port/);
  });

  test('serve with --max-future not below --lateness: it starts, with a warning saying why that makes on-time events late', async () => {
    let err = '';
    const code = await main(['serve', '--features', STREAMING, '--log', log.dir, '--online', 'memory', '--port', '0', '--lateness', '1m', '--max-future', '10m', '--exit-after', '0.2'], () => undefined, (s) => (err += s));
    assert.equal(code, 0, err);
    assert.match(err, /warning: --max-future \(10m\) is not below --lateness \(1m\): one event from that far ahead makes every on-time event late/);
  });

  test('serve --embeddings without --model: exit 2 saying what it is for', async () => {
    let err = '';
    assert.equal(await main(['serve', '--features', STREAMING, '--log', log.dir, '--online', 'memory', '--embeddings'], () => undefined, (s) => (err += s)), 2);
    assert.match(err, /--embeddings feeds the recommendations' candidates: give --model too/);
  });

  test('recsignal serve as a process: replays the log, takes an event, stops cleanly on SIGTERM with the event in the log', async () => {
    // A copy: the in-process server of these tests holds the log's serving lock.
    const copy = join(tmp, 'process-log');
    cpSync(log.dir, copy, { recursive: true });
    rmSync(join(copy, 'serve.lock'), { force: true });
    const p = await startServe(ROOT, ['--features', STREAMING, '--log', copy, '--online', 'memory', '--port', '0'], 20_000);
    const { child, exited, base } = p;
    try {
      assert.match(p.out(), /^ready: \d+ events replayed/m, `${p.out()}\n${p.err()}`);
      const r = await fetch(`${base}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([{ event_id: 'proc-1', user_id: user, item_id: 'i1', ts: Date.now() - 1000, type: 'play' }]) });
      assert.equal(((await r.json()) as { accepted: number }).accepted, 1);
      child.kill('SIGTERM');
      assert.equal(await exited, 0, p.err());
      assert.match(p.out(), /^stopped \(SIGTERM\): received 1, applied 1, .*appended 1 to the log$/m);
      const n = await query(`SELECT count(*)::INT AS n FROM ${new EventLog(copy).eventsRelation()} WHERE event_id = 'proc-1'`);
      assert.equal(n[0]?.['n'], 1, 'buffered events are flushed on shutdown');
      assert.equal(existsSync(join(copy, 'serve.lock')), false, 'the serving lock is given back');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  test('one server per log: a second process is refused, naming the first; once the first is killed (SIGKILL), its lock is taken over', async () => {
    // Copied with the lock the in-process server holds on the original: a copy's lock is not its own, and is taken over.
    const copy = join(tmp, 'locked-log');
    cpSync(log.dir, copy, { recursive: true });
    assert.ok(existsSync(join(copy, 'serve.lock')));
    const p = await startServe(ROOT, ['--features', STREAMING, '--log', copy, '--online', 'memory', '--port', '0'], 20_000);
    try {
      assert.match(p.out(), /^ready: /m, p.err());
      await assert.rejects(FeatureServer.start({ compiled, log: new EventLog(copy), port: 0, clock: () => NOW }), new RegExp(`another recsignal server \\(pid ${p.child.pid} on .*one server per log`));
      p.child.kill('SIGKILL');
      await p.exited;
      const next = await FeatureServer.start({ compiled, log: new EventLog(copy), port: 0, clock: () => NOW });
      await next.ready;
      await next.close();
      assert.equal(existsSync(join(copy, 'serve.lock')), false);
    } finally {
      if (p.child.exitCode === null) p.child.kill('SIGKILL');
    }
  });

  test('demo (serving): the log up to its last day is the state, the rest streams in, and the printed example works', async () => {
    const dir = join(tmp, 'demo');
    let out = '';
    let fetched: Promise<Response> | null = null;
    const done = main(['demo', '--users', '40', '--items', '30', '--days', '2', '--port', '0', '--speed', '7200', '--exit-after', '2', '--dir', dir], (s) => {
      out += s;
      const m = /curl -s (http:\/\/\S+\/v1\/features) -H 'content-type: application\/json' -d '(.*)'$/m.exec(out);
      if (m && fetched === null) fetched = fetch(m[1] as string, { method: 'POST', headers: { 'content-type': 'application/json' }, body: m[2] as string });
    });
    assert.equal(await done, 0, out);
    assert.match(out, /^serving {4}http:\/\/127\.0\.0\.1:\d+: [\d,]+ events up to 2024-01-02T00:00:00\.000Z in the online state; the last day streams in at 7200×/m);
    assert.match(out, /^Ctrl-C stops the server\.$/m);
    assert.match(out, /^stopped \(time limit\) at .*: [1-9]\d* live events applied/m);
    // The ranker, the item embeddings (every catalogue item placed) and the candidates' recall of the streamed day.
    assert.match(out, /^ranker {5}binary GBDT on \d+ features/m);
    const emb = /^embeddings \d+-dim item vectors: (\d+) learned from interactions before 2024-01-02T00:00:00\.000Z, (\d+) from metadata/m.exec(out);
    assert.ok(emb && Number(emb[1]) > 0 && Number(emb[1]) + Number(emb[2]) <= 30, out); // items released after the served stream's start are not placed yet
    const recall = /^candidates recall of the streamed day's plays as of its start, (\d+) users: union (\d\.\d+) /m.exec(out);
    assert.ok(recall && Number(recall[1]) > 0 && Number(recall[2]) > 0 && Number(recall[2]) <= 1, out);
    assert.ok(fetched, 'the example was printed');
    const res = await (fetched as unknown as Promise<Response>);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { user: { statuses: string[] } };
    assert.ok(body.user.statuses.includes('PRESENT'), 'the example user has state');
    assert.ok(existsSync(join(dir, 'training.parquet')), 'the batch path ran first');
  });
});

describe('dead-letter', () => {
  test('rejected events are in the log\'s dead-letter folder with their reasons (after shutdown)', async () => {
    await server.close();
    const files = readdirSync(log.deadLetterDir).filter((f) => f.startsWith('serve-'));
    assert.equal(files.length, 1);
    const lines = readFileSync(join(log.deadLetterDir, files[0] as string), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { position: string; reason: string; input: unknown });
    assert.equal(lines.length, server.intake.counts.rejected);
    assert.ok(lines.some((l) => /user_id: is missing/.test(l.reason)));
    assert.ok(lines.some((l) => l.input === 'not an event'));
    // Whole, however deep or long.
    const text = readFileSync(join(log.deadLetterDir, files[0] as string), 'utf8');
    for (const input of deadLettered) assert.ok(text.includes(`${input}\n`), `${input.slice(0, 30)}… is in the dead-letter file whole`);
    assert.match(lines[0]?.position ?? '', /^POST \/v1\/events #\d+\[\d+\]$/);
  });

  test('a restart on the same log serves what was pushed online only: the server journals such events beside the log and replays them', async () => {
    const again = await FeatureServer.start({ compiled, log, port: 0, clock: () => NOW });
    try {
      await again.ready;
      const r = await fetch(`${again.url}/v1/features`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user_id: user, items: [other[1]], features: ['user_item:plays'] }) });
      const b = (await r.json()) as { items: { values: number[][] } };
      assert.ok(onlineOnly.plays > 0);
      assert.equal(b.items.values[0]?.[0], onlineOnly.plays);
      assert.equal(readdirSync(log.onlineOnlyDir).filter((f) => f.endsWith('.jsonl')).length, 1);
    } finally {
      await again.close();
    }
  });
});

describe('the online-only journal when it cannot be written', () => {
  /** A copy of the log, without its journal. */
  function copyOfLog(name: string): EventLog {
    const dir = join(tmp, name);
    cpSync(log.dir, dir, { recursive: true });
    rmSync(join(dir, 'online-only'), { recursive: true, force: true });
    return new EventLog(dir);
  }
  /** Once the server has started: its online-only folder becomes a file, so every journal write fails until it goes. */
  const block = (l: EventLog) => writeFileSync(l.onlineOnlyDir, 'in the way');
  // Earlier tests leave the log's newest event ahead of NOW (a server with its clock far ahead took one): times go from there.
  const pushOnline = (on: FeatureServer, ids: readonly string[]) =>
    fetch(`${on.url}/push`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ push_source_name: 'events', df: { event_id: ids, user_id: ids.map(() => user), item_id: ids.map(() => other[0]), type: ids.map(() => 'play'), ts: ids.map((_, i) => on.state.watermark - 2_000 + i) }, to: 'online' }) });
  const clockOf = async (l: EventLog) => {
    const last = Math.max(NOW, (await l.lastEventTs()) ?? NOW);
    return () => last + 1_000;
  };
  const plays = async (on: FeatureServer) => {
    const r = await fetch(`${on.url}/v1/features`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user_id: user, items: [other[0]], features: ['user_item:plays'] }) });
    return ((await r.json()) as { items: { values: number[][] } }).items.values[0]?.[0];
  };

  test('events applied online only wait in memory, /health says a restart would lose them, and they are written once the folder can be: a restart has them', async () => {
    const blocked = copyOfLog('journal-blocked');
    const clock = await clockOf(blocked);
    const first = await FeatureServer.start({ compiled, log: blocked, port: 0, clock, flushIntervalMs: 50 });
    let before: number | undefined;
    try {
      await first.ready;
      block(blocked);
      before = await plays(first);
      assert.equal((await pushOnline(first, ['j1', 'j2', 'j3'])).status, 200);
      assert.equal(first.intake.counts.accepted, 3);
      const health = await fetch(`${first.url}/health`);
      assert.equal(health.status, 503);
      const h = (await health.json()) as { status: string; message: string };
      assert.equal(h.status, 'degraded');
      assert.match(h.message, /journaling events applied for the online state only fails .*a restart now would lose them/);
      assert.match(await (await fetch(`${first.url}/metrics`)).text(), /^recsignal_online_journal_waiting_events 3$/m);
      rmSync(join(blocked.dir, 'online-only'));
      for (const until = Date.now() + 5_000; (await fetch(`${first.url}/health`)).status !== 200; ) {
        assert.ok(Date.now() < until, 'the journal is written within 5 s of the folder becoming possible');
        await new Promise((r) => setTimeout(r, 25));
      }
    } finally {
      await first.close();
    }
    const second = await FeatureServer.start({ compiled, log: blocked, port: 0, clock });
    try {
      await second.ready;
      assert.equal(await plays(second), (before as number) + 3, 'the three plays survived the restart');
    } finally {
      await second.close();
    }
  });

  test('a shutdown while they still cannot be written fails, saying how many events a restart will not have', async () => {
    const blocked = copyOfLog('journal-blocked-at-close');
    const s = await FeatureServer.start({ compiled, log: blocked, port: 0, clock: await clockOf(blocked), flushIntervalMs: 60_000 });
    let closed = false;
    try {
      await s.ready;
      block(blocked);
      assert.equal((await pushOnline(s, ['k1', 'k2'])).status, 200);
      closed = true;
      await assert.rejects(s.close(), /2 events applied for the online state only could not be journaled .*resend them/);
    } finally {
      if (!closed) await s.close();
    }
  });

  test('a shutdown that can write neither the log nor the dead-letter file puts the buffered events in the temporary folder, and says so', async () => {
    const l = copyOfLog('nothing-writable');
    const s = await FeatureServer.start({ compiled, log: l, port: 0, clock: await clockOf(l), flushIntervalMs: 60_000 });
    let closed = false;
    try {
      await s.ready;
      // The log's events and dead-letter folders become files: appending and dead-lettering both fail.
      for (const dir of [join(l.dir, 'events'), l.deadLetterDir]) {
        rmSync(dir, { recursive: true, force: true });
        writeFileSync(dir, 'in the way');
      }
      const r = await fetch(`${s.url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([{ event_id: 'unsaved-1', user_id: user, item_id: other[0], type: 'play', ts: s.state.watermark - 1_000 }]) });
      assert.equal(((await r.json()) as { accepted: number }).accepted, 1);
      closed = true;
      const error = await s.close().then(() => null, (e: Error) => e);
      assert.ok(error !== null, 'the shutdown fails');
      const m = /the dead-letter file could not be written either \(.*\), so they were written to (\S+recsignal-unsaved-\S+\.jsonl):/.exec(error.message);
      assert.ok(m, error.message);
      const lines = readFileSync(m[1] as string, 'utf8').trim().split('\n').map((x) => JSON.parse(x) as { input: { event_id: string } });
      assert.deepEqual(lines.map((x) => x.input.event_id), ['unsaved-1']);
      rmSync(m[1] as string);
    } finally {
      if (!closed) await s.close();
    }
  });

  test('a start on a log with a damaged part file fails naming the file and what to do with it', async () => {
    const l = copyOfLog('damaged-part');
    const day = readdirSync(join(l.dir, 'events')).sort()[0] as string;
    const part = readdirSync(join(l.dir, 'events', day)).sort()[0] as string;
    writeFileSync(join(l.dir, 'events', day, part), 'PAR1 cut short');
    const s = await FeatureServer.start({ compiled, log: l, port: 0, clock: () => NOW });
    try {
      await assert.rejects(s.ready, new RegExp(`${part.replace('.', '\\.')}.*a part file of .* may be damaged: move the file named there out of the log`));
    } finally {
      await s.close();
    }
  });

  test('a start on a log whose journal folder is not a folder fails, naming it', async () => {
    const blocked = copyOfLog('journal-not-a-folder');
    block(blocked);
    const s = await FeatureServer.start({ compiled, log: blocked, port: 0, clock: () => NOW });
    try {
      await assert.rejects(s.ready, new RegExp(`${blocked.onlineOnlyDir.replaceAll('/', '\\/')} is not a folder`));
    } finally {
      await s.close();
    }
  });
});
