/**
 * The Redis Streams consumer applies each event exactly once: two consumer processes share a
 * stream, one is killed with SIGKILL between a commit and its XACK and restarted, and the state
 * they leave in Redis gives the batch engine's features (0 mismatches) with every distinct event
 * applied once. Needs Redis on 127.0.0.1:6379 (skipped without it, except under CI=true).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis, type RedisKey } from 'ioredis';
import { compileFeatureSet } from '../src/plan/compile.ts';
import { featureColumns } from '../src/plan/rows.ts';
import { generateEvents } from '../src/events/generate.ts';
import { eventToJson, itemColumns, type InteractionEvent, type ItemMetadata } from '../src/events/schema.ts';
import { StreamEngine } from '../src/compute/stream/engine.ts';
import streamingDemo from '../examples/streaming/features.ts';
import { createEventValidator } from '../src/events/validate.ts';
import type { RecsignalError } from '../src/core/errors.ts';
import { EventLog } from '../src/store/offline/event-log.ts';
import { ingest } from '../src/store/offline/ingest.ts';
import { featuresFor } from '../src/compute/batch/training-set.ts';
import { sameValue } from '../src/monitor/consistency.ts';
import { readCheckpoint, StreamConsumer, type ConsumerCounts } from '../src/compute/stream/consumer.ts';
import { EXPIRY_SLACK_MS, readStoredFeatures, stateKeys, type StoredQuery } from '../src/compute/stream/store-backed.ts';
import { deleteMatching } from '../src/store/online/redis/redis-shared.ts';
import allOps from './fixtures/all-ops.ts';
import type { ConsumerProcessConfig } from './helpers/consumer-process.ts';

const REDIS = 'redis://127.0.0.1:6379';
const compiled = compileFeatureSet(allOps);

async function redisOrSkip(t: { skip: (m: string) => void }): Promise<Redis | null> {
  const client = new Redis(REDIS, { lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.ping();
    return client;
  } catch (e) {
    client.disconnect();
    if (process.env['CI'] === 'true') throw new Error(`Redis at ${REDIS} is not answering under CI (${(e as Error).message}); start it: redis-server --daemonize yes --port 6379 --save "" --appendonly no`);
    t.skip(`no Redis at ${REDIS} (${(e as Error).message})`);
    return null;
  }
}

async function cleanup(client: Redis, prefix: string): Promise<void> {
  await deleteMatching(client, prefix);
}

async function xaddAll(client: Redis, stream: string, messages: readonly string[]): Promise<void> {
  for (let i = 0; i < messages.length; i += 1000) {
    const p = client.pipeline();
    for (const m of messages.slice(i, i + 1000)) p.xadd(stream, '*', 'event', m);
    await p.exec();
  }
}

function sumCounts(list: readonly ConsumerCounts[]): ConsumerCounts {
  return list.reduce((s, c) => ({ applied: s.applied + c.applied, duplicates: s.duplicates + c.duplicates, late: s.late + c.late, invalid: s.invalid + c.invalid }), { applied: 0, duplicates: 0, late: 0, invalid: 0 });
}

/** The counts of group g's named consumers, summed from their checkpoints. */
async function groupCounts(client: Redis, namespace: string, consumers: readonly string[]): Promise<ConsumerCounts> {
  return sumCounts(await Promise.all(consumers.map(async (name) => (await readCheckpoint(client, namespace, 'g', name)).counts)));
}

function startConsumer(config: ConsumerProcessConfig): { child: ChildProcess; commits: () => number; exited: Promise<number | null>; output: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/helpers/consumer-process.ts', JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let commits = 0;
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
    commits = (out.match(/^committed /gm) ?? []).length;
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, commits: () => commits, exited, output: () => out };
}

/** Where the state a group left in Redis differs from the batch engine over the same events, at the probes. */
async function mismatchesAgainstBatch(client: Redis, o: { namespace: string; lateness: number; items: readonly ItemMetadata[] }, log: EventLog, probes: readonly StoredQuery[]): Promise<string[]> {
  const online = await readStoredFeatures({ compiled, namespace: o.namespace, lateness: o.lateness, items: o.items }, probes, (keys) => client.mget(...keys));
  const offline = await featuresFor(compiled, log, probes);
  const columns = featureColumns(compiled.ir);
  return probes.flatMap((p, i) => columns.flatMap((c, j) => (sameValue(online[i]?.[j] ?? null, offline[i]?.[j] ?? null) ? [] : [`${c.column} for ${JSON.stringify(p)}: stream ${JSON.stringify(online[i]?.[j])}, batch ${JSON.stringify(offline[i]?.[j])}`])));
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('two consumers, one killed with SIGKILL mid-run and restarted: Redis state equals the batch engine, each event applied once', { timeout: 90_000 }, async (t) => {
  const client = await redisOrSkip(t);
  if (client === null) return;
  const prefix = `rs-test-${process.pid}-${Date.now()}`;
  const dir = mkdtempSync(join(tmpdir(), 'rs-consumer-'));
  try {
    const world = generateEvents({ users: 100, items: 120, days: 5, seed: 11 });
    const events = [...world.events()].sort((a, b) => a.ts - b.ts || (a.eventId < b.eventId ? -1 : 1));
    const span = (events[events.length - 1] as InteractionEvent).ts - (events[0] as InteractionEvent).ts;
    // Retransmitted copies of some events, and messages that fail validation.
    const copies = events.filter((_, i) => i % 97 === 5);
    const invalid = ['{"event_id":"bad1","user_id":"u1","ts":"never","type":"play","item_id":"i1"}', 'not json', JSON.stringify({ event_id: 'bad3', user_id: 'u2', ts: events[0]?.ts, type: 'teleport', item_id: 'i1' })];
    const messages = events.map((e) => JSON.stringify(eventToJson(e)));
    messages.splice(Math.floor(messages.length / 2), 0, ...copies.map((e) => JSON.stringify(eventToJson(e))), ...invalid);
    const stream = `${prefix}:events`;
    await xaddAll(client, stream, messages);

    const log = new EventLog(join(dir, 'log'));
    await ingest(events.map((e, i) => ({ position: String(i), raw: eventToJson(e) })), { log, validator: createEventValidator(), items: world.items, users: world.users });
    const itemsPath = join(dir, 'items.json');
    writeFileSync(itemsPath, JSON.stringify(world.items));

    const base = { redis: REDIS, stream, group: 'g', namespace: `${prefix}:state`, lateness: span + 1, batch: 25, itemsPath };
    // b pauses too (less than a), so that it cannot drain the stream before a has committed three batches.
    const a = startConsumer({ ...base, consumer: 'a', delayMs: 400 });
    const b = startConsumer({ ...base, consumer: 'b', delayMs: 100 });
    // Kill `a` right after its third commit: during its pause between EXEC and XACK.
    await until('consumer a to commit 3 batches', () => a.commits() >= 3 || a.child.exitCode !== null, 40_000);
    a.child.kill('SIGKILL');
    await a.exited;
    const pendingOfA = (await client.xpending(stream, 'g', '-', '+', 1000, 'a')) as unknown[];
    assert.ok(pendingOfA.length > 0, 'the killed consumer left unacknowledged messages');
    const lastId = (await client.xrevrange(stream, '+', '-', 'COUNT', 1))[0]?.[0] as string;
    const deliveredId = async () => {
      const g = ((await client.xinfo('GROUPS', stream)) as unknown[][])[0] as unknown[];
      return g[g.indexOf('last-delivered-id') + 1];
    };
    assert.notEqual(await deliveredId(), lastId, 'a was killed mid-run: the stream was not yet all delivered');
    const a2 = startConsumer({ ...base, consumer: 'a', delayMs: 0 });

    await until(
      'the group to consume and acknowledge the whole stream',
      async () => {
        const summary = (await client.xpending(stream, 'g')) as [number, ...unknown[]];
        return summary[0] === 0 && (await deliveredId()) === lastId;
      },
      60_000,
    );
    for (const c of [a2, b]) c.child.kill('SIGTERM');
    assert.equal(await b.exited, 0, b.output());
    assert.equal(await a2.exited, 0, a2.output());
    assert.match(a2.output(), /"alreadyApplied":[1-9]/, `the restarted consumer found its last batch applied but not acknowledged:\n${a2.output()}`);

    const counts = await groupCounts(client, base.namespace, ['a', 'b']);
    assert.deepEqual(counts, { applied: events.length, duplicates: copies.length, late: 0, invalid: invalid.length });
    assert.equal(await client.xlen(`${stream}:dead`), invalid.length);

    // Probes: entities of sampled events, at the event's own time, a random time in the span, and after the end.
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    const t0 = (events[0] as InteractionEvent).ts;
    const probes: StoredQuery[] = events.filter((_, i) => i % 23 === 0).map((e, i) => ({
      fields: { user_id: e.userId, item_id: e.itemId, device: (e.context['device'] as string | undefined) ?? null },
      ts: i % 3 === 0 ? e.ts : i % 3 === 1 ? t0 + Math.floor(random() * span) : t0 + span + 1,
    }));
    const mismatches = await mismatchesAgainstBatch(client, { namespace: base.namespace, lateness: base.lateness, items: world.items }, log, probes);
    assert.equal(mismatches.length, 0, `${mismatches.length} values differ:\n${mismatches.slice(0, 10).join('\n')}`);
  } finally {
    await cleanup(client, prefix);
    client.disconnect();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a batch delivered again after a crash between EXEC and XACK is acknowledged, not applied twice', { timeout: 30_000 }, async (t) => {
  const client = await redisOrSkip(t);
  if (client === null) return;
  const prefix = `rs-test-redeliver-${process.pid}-${Date.now()}`;
  const state = new Redis(REDIS);
  try {
    const world = generateEvents({ users: 20, items: 30, days: 2, seed: 3 });
    const events = [...world.events()].sort((a, b) => a.ts - b.ts);
    assert.ok(events.length > 30, `${events.length} events: too few for three batches`);
    const stream = `${prefix}:events`;
    await xaddAll(client, stream, events.map((e) => JSON.stringify(eventToJson(e))));
    const options = { compiled, namespace: `${prefix}:state`, lateness: 86_400_000, items: world.items, stream, group: 'g', consumer: 'c', validator: createEventValidator(), batch: 10, blockMs: 50, untilIdle: true };
    const crashing = new StreamConsumer(client, state, {
      ...options,
      afterCommit: (_id, stats) => {
        if (stats.batches === 2) throw new Error('crash between EXEC and XACK');
      },
    });
    await assert.rejects(crashing.run(), /crash between EXEC and XACK/);
    const summary = (await client.xpending(stream, 'g')) as [number, ...unknown[]];
    assert.equal(summary[0], 10, 'the crashed batch is still pending');

    const restarted = new StreamConsumer(client, state, options);
    const stats = await restarted.run();
    assert.equal(stats.alreadyApplied, 10);
    assert.equal(stats.applied, events.length - 20);
    assert.equal(((await client.xpending(stream, 'g')) as [number])[0], 0);
    const { counts } = await readCheckpoint(client, options.namespace, 'g', 'c');
    assert.deepEqual(counts, { applied: events.length, duplicates: 0, late: 0, invalid: 0 });
  } finally {
    await cleanup(client, prefix);
    state.disconnect();
    client.disconnect();
  }
});

test('entries delivered to a consumer whose reply it never received (a connection lost mid-read, the read sent again) are applied before the batch after them, not acknowledged as applied', { timeout: 30_000 }, async (t) => {
  const client = await redisOrSkip(t);
  if (client === null) return;
  const prefix = `rs-test-unreceived-${process.pid}-${Date.now()}`;
  const state = new Redis(REDIS);
  const thief = new Redis(REDIS);
  try {
    const world = generateEvents({ users: 20, items: 30, days: 2, seed: 3 });
    const events = [...world.events()].sort((a, b) => a.ts - b.ts);
    const stream = `${prefix}:events`;
    await xaddAll(client, stream, events.map((e) => JSON.stringify(eventToJson(e))));
    const options = { compiled, namespace: `${prefix}:state`, lateness: 86_400_000, items: world.items, stream, group: 'g', consumer: 'c', validator: createEventValidator(), batch: 10, blockMs: 50, untilIdle: true };
    let lost: string[] = [];
    const consumer = new StreamConsumer(client, state, {
      ...options,
      afterCommit: async (_id, stats) => {
        // After the first batch, 3 entries are delivered to 'c' on a connection whose reply never reaches it.
        if (stats.batches !== 1) return;
        const reply = (await thief.xreadgroup('GROUP', 'g', 'c', 'COUNT', 3, 'STREAMS', stream, '>')) as [string, [string, string[]][]][];
        lost = (reply[0]?.[1] ?? []).map(([id]) => id);
      },
    });
    const stats = await consumer.run();
    assert.equal(lost.length, 3);
    assert.equal(stats.unreceived, 3);
    assert.deepEqual([stats.applied, stats.pendingOwn, stats.pendingInGroup], [events.length, 0, 0]);
    assert.deepEqual((await readCheckpoint(client, options.namespace, 'g', 'c')).counts, { applied: events.length, duplicates: 0, late: 0, invalid: 0 });
    // A restart finds nothing left to acknowledge as "applied before a crash".
    const again = await new StreamConsumer(client, state, options).run();
    assert.deepEqual([again.applied, again.alreadyApplied], [0, 0]);
  } finally {
    await cleanup(client, prefix);
    thief.disconnect();
    state.disconnect();
    client.disconnect();
  }
});

test('entries trimmed from the stream before the group read them are counted and dead-lettered once, not passed over in silence', { timeout: 30_000 }, async (t) => {
  const client = await redisOrSkip(t);
  if (client === null) return;
  const prefix = `rs-test-trimmed-${process.pid}-${Date.now()}`;
  const state = new Redis(REDIS);
  try {
    const world = generateEvents({ users: 10, items: 10, days: 1, seed: 4 });
    const events = [...world.events()].sort((a, b) => a.ts - b.ts).slice(0, 30);
    const stream = `${prefix}:events`;
    await client.xgroup('CREATE', stream, 'g', '0', 'MKSTREAM');
    await xaddAll(client, stream, events.map((e) => JSON.stringify(eventToJson(e))));
    const options = { compiled, namespace: `${prefix}:state`, lateness: 86_400_000, items: world.items, stream, group: 'g', validator: createEventValidator(), batch: 4, blockMs: 50, untilIdle: true };
    // Another consumer reads 6, then the stream is cut to its newest 10: 14 entries go unread.
    await client.xreadgroup('GROUP', 'g', 'other', 'COUNT', 6, 'STREAMS', stream, '>');
    await client.xtrim(stream, 'MAXLEN', 10);
    const stats = await new StreamConsumer(client, state, { ...options, consumer: 'c' }).run();
    assert.deepEqual([stats.applied + stats.duplicates, stats.removedUnread], [10, 14]);
    const dead = (await client.xrange(`${stream}:dead`, '-', '+')).map(([, fields]) => fields[fields.indexOf('reason') + 1] as string);
    assert.equal(dead.length, 1);
    assert.match(dead[0] as string, /^14 entries were removed from the stream \(trimmed by MAXLEN or MINID, or deleted\) after ID \d+-\d+ and before group 'g' read them/);
    // Told once: another consumer of the group, later, finds no gap.
    const later = await new StreamConsumer(client, state, { ...options, consumer: 'c2' }).run();
    assert.equal(later.removedUnread, 0);
    assert.equal(await client.xlen(`${stream}:dead`), 1);
  } finally {
    await cleanup(client, prefix);
    state.disconnect();
    client.disconnect();
  }
});

test('a state connection that drops and comes back between WATCH and EXEC: the batch starts over, so another consumer\'s commit is seen', { timeout: 30_000 }, async (t) => {
  const client = await redisOrSkip(t);
  if (client === null) return;
  const prefix = `rs-test-reconnect-${process.pid}-${Date.now()}`;
  const other = new Redis(REDIS);
  // As \`recsignal stream\` opens it: commands in flight at a drop are not resent on the new connection.
  const state = new Redis(REDIS, { autoResendUnfulfilledCommands: false });
  state.on('error', () => undefined);
  try {
    const at = Date.UTC(2024, 0, 1);
    const stream = `${prefix}:events`;
    const namespace = `${prefix}:state`;
    await xaddAll(client, stream, [JSON.stringify({ event_id: 'e1', user_id: 'u1', item_id: 'i1', ts: at, type: 'play' })]);
    const seenKey = stateKeys(namespace).seen('u1');
    let blip = true;
    // After the consumer's WATCH and read of u1's seen ids: another consumer commits e1, and the connection drops and comes back.
    const mget = state.mget.bind(state) as (...keys: string[]) => Promise<(string | null)[]>;
    (state as unknown as { mget: (...keys: string[]) => Promise<(string | null)[]> }).mget = async (...keys: string[]) => {
      const values = await mget(...keys);
      if (!blip || !keys.includes(seenKey)) return values;
      blip = false;
      await other.set(seenKey, JSON.stringify([['e1', at]]));
      const reconnected = new Promise((r) => state.once('ready', r));
      await other.client('KILL', 'ID', String(await state.client('ID')));
      await reconnected;
      return values;
    };
    const stats = await new StreamConsumer(client, state, { compiled, namespace, lateness: 3_600_000, stream, group: 'g', consumer: 'c', validator: createEventValidator({ now: at + 1000 }), batch: 10, blockMs: 50, untilIdle: true }).run();
    assert.equal(blip, false, 'the connection was dropped');
    assert.deepEqual([stats.conflicts, stats.applied, stats.duplicates], [1, 0, 1], 'started over, e1 is a duplicate of the other commit, not applied twice');
  } finally {
    await cleanup(client, prefix);
    other.disconnect();
    state.disconnect();
    client.disconnect();
  }
});

test('recsignal stream: consumes a Redis Stream until SIGTERM, dead-letters invalid messages, and its state serves the in-process engine\'s features', { timeout: 60_000 }, async (t) => {
  const client = await redisOrSkip(t);
  if (client === null) return;
  const prefix = `rs-test-cli-${process.pid}-${Date.now()}`;
  const dir = mkdtempSync(join(tmpdir(), 'rs-cli-stream-'));
  try {
    const demo = compileFeatureSet(streamingDemo);
    const world = generateEvents({ users: 20, items: 30, days: 2, seed: 5 });
    const events = [...world.events()].sort((a, b) => a.ts - b.ts);
    const stream = `${prefix}:events`;
    // Two invalid messages: one missing its fields, one from a clock an hour ahead (past --max-future's default minute).
    const ahead = JSON.stringify({ event_id: 'ahead', user_id: 'u1', item_id: 'i1', ts: Date.now() + 3_600_000, type: 'play' });
    await xaddAll(client, stream, [...events.map((e) => JSON.stringify(eventToJson(e))), '{"event_id":"x"}', ahead]);
    const itemsPath = join(dir, 'items.jsonl');
    writeFileSync(itemsPath, world.items.map((i) => JSON.stringify(itemColumns(i))).join('\n'));
    const namespace = `${prefix}:state`;
    const child = spawn(process.execPath, ['bin/recsignal.js', 'stream', '--features', 'examples/streaming/features.ts', '--source', `redis-stream://127.0.0.1:6379/${encodeURIComponent(stream)}`,
      '--group', 'g', '--consumer', 'c1', '--online', REDIS, '--lateness', '1h', '--batch', '100', '--namespace', namespace, '--items', itemsPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await until('the consumer to acknowledge every message', async () => {
      const pending = (await client.xpending(stream, 'g').catch(() => [1])) as [number];
      const info = (await client.xinfo('GROUPS', stream).catch(() => [])) as unknown[][];
      const g = info[0];
      return g !== undefined && pending[0] === 0 && g[g.indexOf('entries-read') + 1] === events.length + 2;
    }, 40_000);
    child.kill('SIGTERM');
    assert.equal(await exited, 0, out);
    assert.match(out, new RegExp(`applied ${events.length}, duplicates 0, late 0, invalid 2 `), out);
    const dead = await client.xrange(`${stream}:dead`, '-', '+');
    assert.equal(dead.length, 2);
    assert.match(dead[1]?.[1].join(' ') ?? '', /is in the future: more than 1m past now/);

    const engine = new StreamEngine(demo, { lateness: 3_600_000, items: world.items });
    for (const e of events) engine.apply(e);
    const end = (events[events.length - 1] as InteractionEvent).ts + 1;
    const probes = events.filter((_, i) => i % 7 === 0).map((e) => ({ fields: { user_id: e.userId, item_id: e.itemId, device: (e.context['device'] as string | undefined) ?? null }, ts: end }));
    const stored = await readStoredFeatures({ compiled: demo, namespace, lateness: 3_600_000, items: world.items }, probes, (keys) => client.mget(...keys));
    // Folding happens at other moments than in process, so floats may differ in the last bits.
    const columns = featureColumns(demo.ir);
    probes.forEach((p, i) => {
      const expected = engine.features(p.fields, p.ts);
      columns.forEach((c, j) => assert.ok(sameValue(stored[i]?.[j] ?? null, expected[j] ?? null), `${c.column} for ${JSON.stringify(p)}: stored ${JSON.stringify(stored[i]?.[j])}, in process ${JSON.stringify(expected[j])}`));
    });
  } finally {
    await cleanup(client, prefix);
    client.disconnect();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('an event later than the allowed lateness is counted and dead-lettered with its reason', { timeout: 30_000 }, async (t) => {
  const client = await redisOrSkip(t);
  if (client === null) return;
  const prefix = `rs-test-late-${process.pid}-${Date.now()}`;
  const state = new Redis(REDIS);
  try {
    const at = Date.UTC(2024, 0, 1, 12);
    const event = (id: string, ts: number) => JSON.stringify({ event_id: id, user_id: 'u1', item_id: 'i1', ts, type: 'play' });
    const stream = `${prefix}:events`;
    await xaddAll(client, stream, [event('e1', at), event('e2', at - 2 * 3_600_000), event('e3', at - 1_000), event('e1', at)]);
    const consumer = new StreamConsumer(client, state, { compiled, namespace: `${prefix}:state`, lateness: 3_600_000, stream, group: 'g', consumer: 'c', validator: createEventValidator(), batch: 2, blockMs: 50, untilIdle: true });
    const stats = await consumer.run();
    assert.deepEqual({ applied: stats.applied, late: stats.late, duplicates: stats.duplicates }, { applied: 2, late: 1, duplicates: 1 });
    const dead = await client.xrange(`${stream}:dead`, '-', '+');
    assert.equal(dead.length, 1);
    assert.match(dead[0]?.[1].join(' ') ?? '', /reason late: .*"event_id":"e2"/);
  } finally {
    await cleanup(client, prefix);
    state.disconnect();
    client.disconnect();
  }
});

test('state built from one stream refuses another, and a stream deleted and written again from lower IDs: their entries would be taken as applied', { timeout: 30_000 }, async (t) => {
  const client = await redisOrSkip(t);
  if (client === null) return;
  const prefix = `rs-test-streams-${process.pid}-${Date.now()}`;
  const state = new Redis(REDIS);
  try {
    const at = Date.UTC(2024, 0, 1, 12);
    const event = (id: string, ts: number) => JSON.stringify({ event_id: id, user_id: 'u1', item_id: 'i1', ts, type: 'play' });
    const namespace = `${prefix}:state`;
    const consume = (stream: string) => new StreamConsumer(client, state, { compiled, namespace, lateness: 3_600_000, stream, group: 'g', consumer: 'c', validator: createEventValidator({ now: at + 10_000 }), batch: 10, blockMs: 50, untilIdle: true }).run();
    const a = `${prefix}:a`;
    for (const [id, e] of [['5-1', event('e1', at)], ['5-2', event('e2', at + 1)]] as const) await client.xadd(a, id, 'event', e);
    assert.equal((await consume(a)).applied, 2);
    const b = `${prefix}:b`;
    await xaddAll(client, b, [event('e3', at + 2)]);
    await assert.rejects(consume(b), (e: RecsignalError) => e.code === 'INVALID_ARGUMENT' && /built from stream '.*:a'.*own --namespace/.test(e.message));
    // The same stream, deleted and written again with IDs below the checkpoint (5-2).
    await client.del(a);
    await client.xadd(a, '1-1', 'event', event('e4', at + 3));
    await assert.rejects(consume(a), (e: RecsignalError) => e.code === 'INVALID_ARGUMENT' && /up to ID 5-2, but the stream's newest ID is 1-1/.test(e.message));
  } finally {
    await cleanup(client, prefix);
    state.disconnect();
    client.disconnect();
  }
});

test('odd sources and members: a key of another type is a clear error, a BOM before the JSON is skipped, consumers long gone leave the members set', { timeout: 30_000 }, async (t) => {
  const client = await redisOrSkip(t);
  if (client === null) return;
  const prefix = `rs-test-odd-${process.pid}-${Date.now()}`;
  const state = new Redis(REDIS);
  try {
    const at = Date.UTC(2024, 0, 1, 12);
    const namespace = `${prefix}:state`;
    const options = (stream: string, consumer: string) => ({ compiled, namespace, lateness: 3_600_000, stream, group: 'g', consumer, validator: createEventValidator({ now: at + 10_000 }), batch: 10, blockMs: 50, untilIdle: true, takeOverAfterMs: 100, staleAfterMs: 300 });
    await client.set(`${prefix}:plain`, 'x');
    await assert.rejects(new StreamConsumer(client, state, options(`${prefix}:plain`, 'c')).run(), (e: RecsignalError) => e.code === 'INVALID_ARGUMENT' && /holds a string, not a stream/.test(e.message));

    const stream = `${prefix}:events`;
    await xaddAll(client, stream, [`\ufeff${JSON.stringify({ event_id: 'e1', user_id: 'u1', item_id: 'i1', ts: at, type: 'play' })}`]);
    const first = await new StreamConsumer(client, state, options(stream, 'old')).run();
    assert.deepEqual([first.applied, first.invalid], [1, 0], 'the byte-order mark is skipped');
    const membersKey = stateKeys(namespace).members('g');
    assert.deepEqual(await client.smembers(membersKey), ['old']);
    await new Promise((r) => setTimeout(r, 400)); // 'old' holds nothing and has not read for longer than staleAfterMs
    await xaddAll(client, stream, [JSON.stringify({ event_id: 'e2', user_id: 'u1', item_id: 'i1', ts: at + 1, type: 'play' })]);
    const second = await new StreamConsumer(client, state, options(stream, 'new')).run();
    assert.equal(second.applied, 1);
    assert.deepEqual(await client.smembers(membersKey), ['new'], "'old' left the members");
    assert.equal((await readCheckpoint(client, namespace, 'g', 'old')).counts.applied, 1, 'its checkpoint and counts stay');
  } finally {
    await cleanup(client, prefix);
    state.disconnect();
    client.disconnect();
  }
});

test('bookkeeping keys expire: a user\'s recent ids and a pair\'s plays and impressions carry a time-to-live, view state none', { timeout: 30_000 }, async (t) => {
  const client = await redisOrSkip(t);
  if (client === null) return;
  const prefix = `rs-test-ttl-${process.pid}-${Date.now()}`;
  const state = new Redis(REDIS);
  try {
    const at = Date.UTC(2024, 0, 1, 12);
    const lateness = 300_000;
    const event = (id: string, user: string, item: string, type: string, ts: number) => JSON.stringify({ event_id: id, user_id: user, item_id: item, ts, type });
    const stream = `${prefix}:events`;
    await xaddAll(client, stream, [event('e1', 'u1', 'i1', 'impression', at), event('e2', 'u1', 'i2', 'play', at + 1000), event('e3', 'u2', 'i1', 'play', at + 2000)]);
    const demo = compileFeatureSet(streamingDemo);
    const stats = await new StreamConsumer(client, state, { compiled: demo, namespace: `${prefix}:state`, lateness, stream, group: 'g', consumer: 'c', validator: createEventValidator({ now: at + 10_000 }), batch: 10, blockMs: 50, untilIdle: true }).run();
    assert.equal(stats.applied, 3);
    const ttls = async (pattern: string): Promise<number[]> => {
      const keys = (await client.keys(`${prefix}:state:{${pattern}`)).sort();
      return Promise.all(keys.map((k) => client.pttl(k)));
    };
    // Kept until forgotten in event time (the newest event + the span below, less the watermark), plus a day of slack.
    const [seen, pairs, views] = [await ttls('seen:*'), await ttls('pair:*'), await ttls('view:*')];
    assert.equal(seen.length, 2, 'u1 and u2');
    for (const ms of seen) assert.ok(ms > EXPIRY_SLACK_MS - 60_000 && ms <= EXPIRY_SLACK_MS + lateness, `seen ids: PTTL ${ms}`);
    assert.ok(pairs.length >= 1, 'u1 × i1 holds a pending impression');
    for (const ms of pairs) assert.ok(ms > EXPIRY_SLACK_MS - 60_000 && ms <= EXPIRY_SLACK_MS + 600_000 + 2 * lateness, `pair: PTTL ${ms}`);
    assert.ok(views.length > 0);
    assert.deepEqual([...new Set(views)], [-1], 'view state does not expire');
  } finally {
    await cleanup(client, prefix);
    state.disconnect();
    client.disconnect();
  }
});

test('two consumers with a lateness shorter than a batch\'s time span: no event is judged late, features after the end equal the batch engine', { timeout: 60_000 }, async (t) => {
  const client = await redisOrSkip(t);
  if (client === null) return;
  const prefix = `rs-test-lateness-${process.pid}-${Date.now()}`;
  const dir = mkdtempSync(join(tmpdir(), 'rs-consumer-late-'));
  try {
    const world = generateEvents({ users: 40, items: 60, days: 3, seed: 13 });
    const events = [...world.events()].sort((a, b) => a.ts - b.ts || (a.eventId < b.eventId ? -1 : 1));
    const stream = `${prefix}:events`;
    await xaddAll(client, stream, events.map((e) => JSON.stringify(eventToJson(e))));
    const log = new EventLog(join(dir, 'log'));
    await ingest(events.map((e, i) => ({ position: String(i), raw: eventToJson(e) })), { log, validator: createEventValidator(), items: world.items, users: world.users });
    const itemsPath = join(dir, 'items.json');
    writeFileSync(itemsPath, JSON.stringify(world.items));
    // 50 events span about 40 minutes here: with a watermark shared naively, one consumer's batch would make the other's late.
    const base = { redis: REDIS, stream, group: 'g', namespace: `${prefix}:state`, lateness: 10 * 60_000, batch: 50, itemsPath, delayMs: 0 };
    const consumers = ['a', 'b'].map((name) => startConsumer({ ...base, consumer: name }));
    await until('the group to consume the whole stream', async () => {
      const pending = (await client.xpending(stream, 'g').catch(() => [1])) as [number];
      const g = ((await client.xinfo('GROUPS', stream).catch(() => [])) as unknown[][])[0];
      return g !== undefined && pending[0] === 0 && g[g.indexOf('entries-read') + 1] === events.length;
    }, 40_000);
    for (const c of consumers) c.child.kill('SIGTERM');
    for (const c of consumers) assert.equal(await c.exited, 0, c.output());
    const counts = await groupCounts(client, base.namespace, ['a', 'b']);
    assert.deepEqual(counts, { applied: events.length, duplicates: 0, late: 0, invalid: 0 });

    const end = (events[events.length - 1] as InteractionEvent).ts + 1;
    const probes: StoredQuery[] = events.filter((_, i) => i % 11 === 0).map((e) => ({ fields: { user_id: e.userId, item_id: e.itemId, device: (e.context['device'] as string | undefined) ?? null }, ts: end }));
    const mismatches = await mismatchesAgainstBatch(client, { namespace: base.namespace, lateness: base.lateness, items: world.items }, log, probes);
    assert.equal(mismatches.length, 0, mismatches.slice(0, 10).join('\n'));
  } finally {
    await cleanup(client, prefix);
    client.disconnect();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('consumers that died and were not restarted: a live one applies their pending entries for them, once, and acknowledges them', { timeout: 60_000 }, async (t) => {
  const client = await redisOrSkip(t);
  if (client === null) return;
  const prefix = `rs-test-takeover-${process.pid}-${Date.now()}`;
  const dir = mkdtempSync(join(tmpdir(), 'rs-consumer-takeover-'));
  const state = new Redis(REDIS);
  try {
    const world = generateEvents({ users: 30, items: 40, days: 2, seed: 17 });
    const events = [...world.events()].sort((a, b) => a.ts - b.ts || (a.eventId < b.eventId ? -1 : 1));
    assert.ok(events.length > 100, `${events.length} events: too few`);
    const stream = `${prefix}:events`;
    await xaddAll(client, stream, events.map((e) => JSON.stringify(eventToJson(e))));
    const log = new EventLog(join(dir, 'log'));
    await ingest(events.map((e, i) => ({ position: String(i), raw: eventToJson(e) })), { log, validator: createEventValidator(), items: world.items, users: world.users });
    const span = (events[events.length - 1] as InteractionEvent).ts - (events[0] as InteractionEvent).ts;
    const takeOverAfterMs = 300;
    const options = { compiled, namespace: `${prefix}:state`, lateness: span + 1, items: world.items, stream, group: 'g', validator: createEventValidator(), batch: 10, blockMs: 50, untilIdle: true, takeOverAfterMs };

    // `crashed` dies between EXEC and XACK of its second batch: 10 entries applied, not acknowledged.
    const crashed = new StreamConsumer(client, state, { ...options, consumer: 'crashed', afterCommit: (_id, stats) => {
      if (stats.batches === 2) throw new Error('crash between EXEC and XACK');
    } });
    await assert.rejects(crashed.run(), /crash between EXEC and XACK/);
    // `ghost` read 15 entries and died before applying any.
    await client.xreadgroup('GROUP', 'g', 'ghost', 'COUNT', 15, 'STREAMS', stream, '>');
    const pendingOf = async (name: string) => ((await client.xpending(stream, 'g', '-', '+', 1000, name)) as unknown[]).length;
    assert.deepEqual([await pendingOf('crashed'), await pendingOf('ghost')], [10, 15]);

    // A live consumer that starts before they count as dead leaves them alone.
    const early = await new StreamConsumer(client, state, { ...options, consumer: 'live', takeOverAfterMs: 60_000 }).run();
    assert.equal(early.takenOver, 0);
    assert.deepEqual([await pendingOf('crashed'), await pendingOf('ghost')], [10, 15]);
    assert.equal(early.applied, events.length - 20 - 15);
    assert.equal(early.pendingInGroup, 25, 'the run says what the group still holds');

    await new Promise((r) => setTimeout(r, takeOverAfterMs + 200));
    const live = await new StreamConsumer(client, state, { ...options, consumer: 'live' }).run();
    assert.equal(live.takenOver, 25, 'the dead consumers\' entries were handled by the live one');
    assert.equal(live.pendingInGroup, 0);
    assert.equal(live.applied, 15, 'only the ghost\'s 15 were applied; the crashed one\'s 10 were found applied');
    assert.equal(((await client.xpending(stream, 'g')) as [number])[0], 0, 'nothing is left pending');
    const ghost = await readCheckpoint(client, options.namespace, 'g', 'ghost');
    assert.equal(ghost.takenOverBy, 'live');
    const counts = await groupCounts(client, options.namespace, ['crashed', 'ghost', 'live']);
    assert.deepEqual(counts, { applied: events.length, duplicates: 0, late: 0, invalid: 0 }, 'each event applied once, counted under the consumer it was delivered to');

    const end = (events[events.length - 1] as InteractionEvent).ts + 1;
    const probes: StoredQuery[] = events.filter((_, i) => i % 5 === 0).map((e, i) => ({ fields: { user_id: e.userId, item_id: e.itemId, device: (e.context['device'] as string | undefined) ?? null }, ts: i % 2 === 0 ? e.ts : end }));
    const mismatches = await mismatchesAgainstBatch(client, options, log, probes);
    assert.equal(mismatches.length, 0, mismatches.slice(0, 10).join('\n'));

    // The ghost, restarted, finds nothing to do and keeps its counts.
    const back = await new StreamConsumer(client, state, { ...options, consumer: 'ghost' }).run();
    assert.deepEqual([back.applied, back.alreadyApplied], [0, 0]);
    const after = await readCheckpoint(client, options.namespace, 'g', 'ghost');
    assert.deepEqual([after.counts, after.takenOverBy], [ghost.counts, undefined]);
  } finally {
    await cleanup(client, prefix);
    state.disconnect();
    client.disconnect();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a consumer frozen mid-batch and taken over goes on from the taker\'s commit when it wakes: nothing applied twice', { timeout: 30_000 }, async (t) => {
  const client = await redisOrSkip(t);
  if (client === null) return;
  const prefix = `rs-test-frozen-${process.pid}-${Date.now()}`;
  const frozenState = new Redis(REDIS);
  const sleeperStreams = new Redis(REDIS);
  const state = new Redis(REDIS);
  try {
    const world = generateEvents({ users: 20, items: 30, days: 1, seed: 19 });
    const events = [...world.events()].sort((a, b) => a.ts - b.ts || (a.eventId < b.eventId ? -1 : 1));
    const stream = `${prefix}:events`;
    await xaddAll(client, stream, events.map((e) => JSON.stringify(eventToJson(e))));
    const options = { compiled, namespace: `${prefix}:state`, lateness: 7 * 86_400_000, items: world.items, stream, group: 'g', validator: createEventValidator(), batch: 10, blockMs: 50, untilIdle: true, takeOverAfterMs: 300 };
    // The frozen consumer's first state read (after its WATCH) waits until it is released.
    let release: () => void = () => undefined;
    const released = new Promise<void>((r) => (release = r));
    let frozen = false;
    const mget = frozenState.mget.bind(frozenState) as (...keys: string[]) => Promise<(string | null)[]>;
    (frozenState as unknown as { mget: typeof mget }).mget = async (...keys: string[]) => {
      const values = await mget(...keys);
      if (!frozen) {
        frozen = true;
        await released;
      }
      return values;
    };
    const sleeper = new StreamConsumer(sleeperStreams, frozenState, { ...options, consumer: 'sleeper' }).run();
    await until('the sleeper to freeze in its first batch', () => frozen, 10_000);
    await new Promise((r) => setTimeout(r, options.takeOverAfterMs + 200));
    const live = await new StreamConsumer(client, state, { ...options, consumer: 'live' }).run();
    assert.equal(live.takenOver, 10);
    release();
    const woke = await sleeper;
    assert.equal(woke.applied, 0, 'its batch had been applied for it');
    assert.ok(woke.conflicts >= 1, 'its commit was refused, since its checkpoint moved');
    const counts = await groupCounts(client, options.namespace, ['sleeper', 'live']);
    assert.deepEqual(counts, { applied: events.length, duplicates: 0, late: 0, invalid: 0 });
    assert.equal(((await client.xpending(stream, 'g')) as [number])[0], 0);
  } finally {
    await cleanup(client, prefix);
    frozenState.disconnect();
    sleeperStreams.disconnect();
    state.disconnect();
    client.disconnect();
  }
});

test('a consumer back after the others settled past its events: they are judged late against the group\'s settled watermark, not applied to folded state', { timeout: 60_000 }, async (t) => {
  const client = await redisOrSkip(t);
  if (client === null) return;
  const prefix = `rs-test-floor-${process.pid}-${Date.now()}`;
  const dir = mkdtempSync(join(tmpdir(), 'rs-consumer-floor-'));
  const crashingState = new Redis(REDIS);
  const state = new Redis(REDIS);
  try {
    const world = generateEvents({ users: 30, items: 40, days: 3, seed: 23 });
    const events = [...world.events()].sort((a, b) => a.ts - b.ts || (a.eventId < b.eventId ? -1 : 1));
    const stream = `${prefix}:events`;
    await xaddAll(client, stream, events.map((e) => JSON.stringify(eventToJson(e))));
    const lateness = 10 * 60_000;
    // No takeover: the consumer's own return is what is tested. It is stale after 200 ms.
    const options = { compiled, namespace: `${prefix}:state`, lateness, items: world.items, stream, group: 'g', validator: createEventValidator(), batch: 25, blockMs: 50, untilIdle: true, staleAfterMs: 200, takeOverAfterMs: 3_600_000 };
    // `a` reads the first 25 events and dies before its first commit.
    (crashingState as unknown as { mget: () => Promise<never> }).mget = () => Promise.reject(new Error('crash before commit'));
    await assert.rejects(new StreamConsumer(client, crashingState, { ...options, consumer: 'a' }).run(), /crash before commit/);
    await new Promise((r) => setTimeout(r, 300));
    // `b` no longer waits for it, and folds and forgets as it consumes the rest (three days, lateness 10 minutes).
    const b = await new StreamConsumer(client, state, { ...options, consumer: 'b' }).run();
    assert.equal(b.applied, events.length - 25);
    const back = await new StreamConsumer(client, state, { ...options, consumer: 'a' }).run();
    assert.deepEqual([back.applied, back.late], [0, 25], 'its events, days behind what the group settled, are late');
    const dead = await client.xrange(`${stream}:dead`, '-', '+');
    assert.equal(dead.filter(([, f]) => /^late: /.test(f[f.indexOf('reason') + 1] ?? '')).length, 25);
    const counts = await groupCounts(client, options.namespace, ['a', 'b']);
    assert.deepEqual(counts, { applied: events.length - 25, duplicates: 0, late: 25, invalid: 0 });

    // The state is the batch engine's over the events that were not late.
    const log = new EventLog(join(dir, 'log'));
    await ingest(events.slice(25).map((e, i) => ({ position: String(i), raw: eventToJson(e) })), { log, validator: createEventValidator(), items: world.items, users: world.users });
    const end = (events[events.length - 1] as InteractionEvent).ts + 1;
    const probes: StoredQuery[] = events.filter((_, i) => i % 9 === 0).map((e) => ({ fields: { user_id: e.userId, item_id: e.itemId, device: (e.context['device'] as string | undefined) ?? null }, ts: end }));
    const mismatches = await mismatchesAgainstBatch(client, options, log, probes);
    assert.equal(mismatches.length, 0, mismatches.slice(0, 10).join('\n'));
  } finally {
    await cleanup(client, prefix);
    crashingState.disconnect();
    state.disconnect();
    client.disconnect();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A generated stream for the takeover races, with one invalid message among the first batch. */
async function takeoverStream(client: Redis, stream: string, seed: number): Promise<{ events: InteractionEvent[]; messages: number; world: ReturnType<typeof generateEvents> }> {
  const world = generateEvents({ users: 20, items: 30, days: 1, seed });
  const events = [...world.events()].sort((a, b) => a.ts - b.ts || (a.eventId < b.eventId ? -1 : 1));
  const messages = events.map((e) => JSON.stringify(eventToJson(e)));
  messages.splice(12, 0, 'not json');
  await xaddAll(client, stream, messages);
  return { events, messages: messages.length, world };
}

test('a dead consumer restarted while another takes it over: its start does not overwrite the taker\'s commit for it', { timeout: 30_000 }, async (t) => {
  const client = await redisOrSkip(t);
  if (client === null) return;
  const prefix = `rs-test-restart-race-${process.pid}-${Date.now()}`;
  const restartState = new Redis(REDIS);
  const restartStreams = new Redis(REDIS);
  const state = new Redis(REDIS);
  try {
    const stream = `${prefix}:events`;
    const { events, world } = await takeoverStream(client, stream, 29);
    const options = { compiled, namespace: `${prefix}:state`, lateness: 7 * 86_400_000, items: world.items, stream, group: 'g', validator: createEventValidator(), batch: 10, blockMs: 50, untilIdle: true, takeOverAfterMs: 300 };
    const key = stateKeys(options.namespace).checkpoint('g', 'd');
    // `d` read 25 messages and died.
    await client.xgroup('CREATE', stream, 'g', '0', 'MKSTREAM');
    await client.xreadgroup('GROUP', 'g', 'd', 'COUNT', 25, 'STREAMS', stream, '>');
    await new Promise((r) => setTimeout(r, 500));
    // Restarted, it reads its checkpoint, and is held there until a taker has committed for it.
    let release: () => void = () => undefined;
    const released = new Promise<void>((r) => (release = r));
    let held = false;
    const get = restartState.get.bind(restartState);
    (restartState as unknown as { get: typeof get }).get = async (k: RedisKey) => {
      const value = await get(k);
      if (!held && k === key) {
        held = true;
        await released;
      }
      return value;
    };
    const restarted = new StreamConsumer(restartStreams, restartState, { ...options, consumer: 'd', batch: 25 }).run();
    await until('the restarted consumer to read its checkpoint', () => held, 10_000);
    const taker = new StreamConsumer(client, state, { ...options, consumer: 't' }).run();
    await until('the taker to commit for it', async () => /takenOverBy/.test((await client.get(key)) ?? ''), 10_000);
    release();
    await Promise.all([restarted, taker]);
    assert.equal(((await client.xpending(stream, 'g')) as [number])[0], 0);
    const counts = await groupCounts(client, options.namespace, ['d', 't']);
    assert.deepEqual(counts, { applied: events.length, duplicates: 0, late: 0, invalid: 1 }, 'every message counted once, under one consumer');
    assert.equal(await client.xlen(`${stream}:dead`), 1);
  } finally {
    await cleanup(client, prefix);
    restartState.disconnect();
    restartStreams.disconnect();
    state.disconnect();
    client.disconnect();
  }
});

test('a frozen consumer taken over twice while it wakes adopts each of the taker\'s commits as written: nothing counted twice', { timeout: 30_000 }, async (t) => {
  const client = await redisOrSkip(t);
  if (client === null) return;
  const prefix = `rs-test-frozen-twice-${process.pid}-${Date.now()}`;
  const sleeperState = new Redis(REDIS);
  const sleeperStreams = new Redis(REDIS);
  const takerState = new Redis(REDIS);
  try {
    const stream = `${prefix}:events`;
    const { events, world } = await takeoverStream(client, stream, 31);
    const options = { compiled, namespace: `${prefix}:state`, lateness: 7 * 86_400_000, items: world.items, stream, group: 'g', validator: createEventValidator(), blockMs: 50, untilIdle: true, takeOverAfterMs: 300 };
    const key = stateKeys(options.namespace).checkpoint('g', 's');
    const gate = () => {
      let open: () => void = () => undefined;
      const opened = new Promise<void>((r) => (open = r));
      return { open, opened };
    };
    const wake = gate();
    const second = gate();
    let sleeperReads = 0;
    let takerReads = 0;
    let takerAtSecond = false;
    // The sleeper freezes at its first read of its checkpoint (with the others'); at its read that
    // finds it taken over, it lets the taker commit again before its read returns.
    const sleeperMget = sleeperState.mget.bind(sleeperState) as (...keys: string[]) => Promise<(string | null)[]>;
    (sleeperState as unknown as { mget: typeof sleeperMget }).mget = async (...keys: string[]) => {
      const values = await sleeperMget(...keys);
      if (keys[0] !== key) return values;
      sleeperReads++;
      if (sleeperReads === 1) await wake.opened;
      else if (/takenOverBy/.test(values[0] ?? '') && sleeperReads === 2) {
        const seen = values[0];
        second.open();
        await until('the taker to commit again', async () => (await client.get(key)) !== seen, 10_000);
      }
      return values;
    };
    // The taker stops before its second batch for the sleeper until then.
    const takerMget = takerState.mget.bind(takerState) as (...keys: string[]) => Promise<(string | null)[]>;
    (takerState as unknown as { mget: typeof takerMget }).mget = async (...keys: string[]) => {
      if (keys[0] === key && ++takerReads === 2) {
        takerAtSecond = true;
        await second.opened;
      }
      return takerMget(...keys);
    };
    const sleeper = new StreamConsumer(sleeperStreams, sleeperState, { ...options, consumer: 's', batch: 25 }).run();
    await until('the sleeper to freeze', () => sleeperReads === 1, 10_000);
    await new Promise((r) => setTimeout(r, 500));
    const taker = new StreamConsumer(client, takerState, { ...options, consumer: 't', batch: 10 }).run();
    await until('the taker to commit once for the sleeper and stop before its second batch', () => takerAtSecond, 10_000);
    wake.open();
    await Promise.all([sleeper, taker]);
    assert.equal(((await client.xpending(stream, 'g')) as [number])[0], 0);
    const counts = await groupCounts(client, options.namespace, ['s', 't']);
    assert.deepEqual(counts, { applied: events.length, duplicates: 0, late: 0, invalid: 1 });
    assert.equal(await client.xlen(`${stream}:dead`), 1, 'the invalid message is dead-lettered once');
  } finally {
    await cleanup(client, prefix);
    sleeperState.disconnect();
    sleeperStreams.disconnect();
    takerState.disconnect();
    client.disconnect();
  }
});

test('recsignal stream as the issue writes it, --source and --group only: the demo feature set, the state in the source\'s Redis, the consumer named <host>-<pid>', { timeout: 60_000 }, async (t) => {
  const client = await redisOrSkip(t);
  if (client === null) return;
  const prefix = `rs-test-cli-defaults-${process.pid}-${Date.now()}`;
  try {
    const world = generateEvents({ users: 10, items: 20, days: 1, seed: 37 });
    const events = [...world.events()].sort((a, b) => a.ts - b.ts);
    const stream = `${prefix}:events`;
    await xaddAll(client, stream, events.map((e) => JSON.stringify(eventToJson(e))));
    const namespace = `${prefix}:state`;
    // --until-idle and --json to end and read it; --namespace keeps the shared Redis clean.
    const child = spawn(process.execPath, ['bin/recsignal.js', 'stream', '--source', `redis-stream://127.0.0.1:6379/${encodeURIComponent(stream)}`, '--group', 'g', '--until-idle', '--json', '--namespace', namespace], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    assert.equal(await new Promise<number | null>((resolve) => child.once('exit', resolve)), 0, out);
    assert.equal((JSON.parse(out.trim().split('\n').pop() as string) as { applied: number }).applied, events.length, out);
    const members = await client.smembers(stateKeys(namespace).members('g'));
    assert.equal(members.length, 1);
    const name = members[0] as string;
    assert.ok(name.startsWith(`${hostname()}-`) && /^\d+$/.test(name.slice(hostname().length + 1)), `named <host>-<pid>: ${name}`);
    const checkpoint = await readCheckpoint(client, namespace, 'g', name);
    assert.equal(checkpoint.counts.applied, events.length, 'the checkpoint is kept in the source\'s Redis');
    const demoViews = compileFeatureSet(streamingDemo).ir.views.filter((v) => v.kind === 'aggregation').map((v) => v.name);
    const stateKeysFound = (await client.keys(`${namespace}*`)).join('\n');
    assert.ok(demoViews.some((v) => stateKeysFound.includes(`view:${v}`)), `state of the demo's views under ${namespace}:\n${stateKeysFound.slice(0, 500)}`);
  } finally {
    await cleanup(client, prefix);
    client.disconnect();
  }
});
