/** @module Tests of the synthetic event generator and of its JSONL and Parquet writers. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';
import { RecsignalError } from '../core/errors.ts';
import { DAY_MS, MINUTE_MS } from '../core/time.ts';
import { generateEvents, MEAN_EVENTS_PER_USER_DAY, type GenerateOptions } from './generate.ts';
import { writeGenerated } from './generate-write.ts';
import { eventToJson, type InteractionEvent } from './schema.ts';
import { createEventValidator } from './validate.ts';

const SMALL: GenerateOptions = { users: 80, items: 400, days: 21, seed: 7 };
const START = Date.UTC(2024, 0, 1);
const TERMINAL = new Set(['complete', 'pause']);

const small = generateEvents(SMALL);
const events = [...small.events()];
const itemsById = new Map(small.items.map((it) => [it.itemId, it]));

function byUser(es: readonly InteractionEvent[]): Map<string, InteractionEvent[]> {
  const out = new Map<string, InteractionEvent[]>();
  for (const e of es) {
    const list = out.get(e.userId) ?? [];
    list.push(e);
    out.set(e.userId, list);
  }
  return out;
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('generateEvents', () => {
  test('the same seed gives identical output, another seed a different one', () => {
    const again = generateEvents(SMALL);
    assert.equal(JSON.stringify([...again.events()]), JSON.stringify(events));
    assert.equal(JSON.stringify(again.items), JSON.stringify(small.items));
    assert.equal(JSON.stringify(again.users), JSON.stringify(small.users));
    assert.equal(JSON.stringify([...small.events()]), JSON.stringify(events), 'events() replays the same stream');
    const other = generateEvents({ ...SMALL, seed: 8 });
    assert.notEqual(JSON.stringify([...other.events()]), JSON.stringify(events));
    assert.notEqual(JSON.stringify(other.items), JSON.stringify(small.items));
  });

  test('every event passes the validator unchanged and lies inside the period', () => {
    assert.ok(events.length > 5_000, `expected a sizeable stream, got ${events.length}`);
    const validate = createEventValidator({ now: Date.UTC(2100, 0, 1) });
    for (const e of events) {
      const r = validate(JSON.parse(JSON.stringify(eventToJson(e))));
      assert.ok(r.ok, `${e.eventId}: ${JSON.stringify(r)}`);
      assert.deepEqual(r.event, e);
      assert.ok(Number.isInteger(e.ts) && e.ts >= START && e.ts < START + SMALL.days * DAY_MS, `${e.eventId} ts ${e.ts}`);
      assert.equal(typeof e.context['device'], 'string');
      assert.equal(typeof e.context['country'], 'string');
      assert.match(String(e.context['session_id']), new RegExp(`^s${e.userId.slice(1)}-\\d+$`));
    }
    const types = new Set(events.map((e) => e.type));
    for (const t of ['impression', 'play', 'pause', 'progress', 'complete', 'skip', 'search', 'rating', 'add_to_list']) {
      assert.ok(types.has(t), `no ${t} event generated`);
    }
  });

  test('event ids are unique and follow g<seed>-<counter>', () => {
    assert.equal(new Set(events.map((e) => e.eventId)).size, events.length);
    events.forEach((e, i) => assert.equal(e.eventId, `g7-${i}`));
  });

  test('a user\'s events are in time order; sessions split at 30 minutes of silence', () => {
    for (const [user, es] of byUser(events)) {
      for (let i = 1; i < es.length; i++) {
        const prev = es[i - 1] as InteractionEvent;
        const cur = es[i] as InteractionEvent;
        const gap = cur.ts - prev.ts;
        assert.ok(gap > 0, `${user}: ${cur.eventId} not after ${prev.eventId}`);
        if (cur.context['session_id'] === prev.context['session_id']) {
          assert.ok(gap < 30 * MINUTE_MS, `${user}: ${gap}ms of silence inside ${String(cur.context['session_id'])}`);
        } else {
          assert.ok(gap >= 30 * MINUTE_MS, `${user}: sessions only ${gap}ms apart at ${cur.eventId}`);
        }
      }
    }
  });

  test('no event touches an item before its release, and new releases do get watched', () => {
    for (const e of events) {
      if (e.itemId === null) continue;
      const item = itemsById.get(e.itemId);
      assert.ok(item !== undefined && item.releaseTs !== null, `unknown item ${e.itemId}`);
      assert.ok(e.ts >= item.releaseTs, `${e.eventId} on ${e.itemId} before its release`);
    }
    const fresh = small.items.filter((it) => (it.releaseTs ?? 0) >= START);
    assert.ok(fresh.length > 0.08 * SMALL.items && fresh.length < 0.25 * SMALL.items, `${fresh.length} new releases`);
    const freshIds = new Set(fresh.map((it) => it.itemId));
    assert.ok(events.some((e) => e.type === 'play' && freshIds.has(e.itemId ?? '')), 'no new release was ever played');
  });

  test('metadata has the documented shape', () => {
    for (const it of small.items) {
      assert.match(it.itemId, /^i\d+$/);
      assert.ok(it.genres.length >= 1 && it.genres.length <= 3, `${it.itemId} genres ${it.genres.join()}`);
      assert.ok(it.duration !== null && ((it.duration >= 1800 && it.duration <= 3600) || (it.duration >= 5400 && it.duration <= 9000)));
      assert.equal(it.year, new Date(it.releaseTs ?? 0).getUTCFullYear());
    }
    assert.ok(new Set(small.items.flatMap((it) => it.genres)).size >= 15, 'genres cover the catalogue');
    for (const u of small.users) assert.match(u.userId, /^u\d+$/);
  });

  test('a play ends in exactly one complete or pause, heartbeats between, value on the last event only', () => {
    let plays = 0;
    for (const es of byUser(events).values()) {
      es.forEach((e, i) => {
        if (e.type !== 'play') return;
        plays++;
        const duration = itemsById.get(e.itemId ?? '')?.duration;
        assert.equal(e.duration, duration);
        assert.equal(e.value, null);
        let j = i + 1;
        while (es[j]?.type === 'progress') {
          assert.equal(es[j]?.itemId, e.itemId);
          assert.equal(es[j]?.value, null);
          j++;
        }
        const end = es[j];
        assert.ok(end !== undefined && TERMINAL.has(end.type) && end.itemId === e.itemId, `${e.eventId} has no terminal event`);
        assert.equal(end.duration, duration);
        assert.ok(end.value !== null && end.value > 0 && end.value <= (duration ?? 0));
        if (end.type === 'complete') assert.equal(end.value, duration);
      });
    }
    assert.equal(events.filter((e) => TERMINAL.has(e.type)).length, plays);
  });

  test('searches carry no item and a query; ratings are whole stars', () => {
    for (const e of events) {
      if (e.type === 'search') {
        assert.equal(e.itemId, null);
        assert.equal(e.value, null);
        assert.equal(typeof e.context['query'], 'string');
      }
      if (e.type === 'rating') assert.ok(e.value !== null && Number.isInteger(e.value) && e.value >= 1 && e.value <= 5);
    }
  });

  test('affinity drives watching: high-affinity plays are watched further and rated higher', () => {
    const low: number[] = [];
    const high: number[] = [];
    const ratingsLow: number[] = [];
    const ratingsHigh: number[] = [];
    for (const e of events) {
      if (e.itemId === null || e.value === null || (!TERMINAL.has(e.type) && e.type !== 'rating')) continue;
      const aff = small.affinity(e.userId, e.itemId, e.ts);
      if (e.type === 'rating') (aff >= 0.6 ? ratingsHigh : aff < 0.3 ? ratingsLow : []).push(e.value);
      else (aff >= 0.6 ? high : aff < 0.3 ? low : []).push(e.value / (e.duration ?? 1));
    }
    assert.ok(low.length > 20 && high.length > 100, `too few plays to compare: ${low.length} low, ${high.length} high`);
    assert.ok(mean(high) > mean(low) + 0.3, `mean watch fraction ${mean(high)} (high affinity) vs ${mean(low)} (low)`);
    assert.ok(ratingsHigh.length > 10 && ratingsLow.length > 0 && mean(ratingsHigh) > mean(ratingsLow));
    assert.throws(() => small.affinity('u999999', 'i0', START), RecsignalError);
  });

  test('some users join after the first days, and activity varies widely', () => {
    const perUser = [...byUser(events).values()];
    const late = perUser.filter((es) => (es[0] as InteractionEvent).ts >= START + 3 * DAY_MS);
    assert.ok(late.length >= 3, `only ${late.length} users start late`);
    const counts = perUser.map((es) => es.length).sort((a, b) => a - b);
    assert.ok((counts.at(-1) ?? 0) > 8 * (counts[Math.floor(counts.length / 4)] ?? 0), 'heavy and light users');
  });

  test('streams ~300k events in flat memory, at the documented rate per user-day', () => {
    const opts = { users: 2_500, items: 3_000, days: 20, seed: 3 };
    let count = 0;
    let last = '';
    const activeDays = new Set<string>();
    for (const e of generateEvents(opts).events()) {
      count++;
      last = e.eventId;
      activeDays.add(`${e.userId}:${Math.floor(e.ts / DAY_MS)}`);
    }
    assert.ok(count > 250_000, `only ${count} events`);
    assert.equal(last, `g3-${count - 1}`);
    const perUserDay = count / opts.users / opts.days;
    assert.ok(Math.abs(perUserDay / MEAN_EVENTS_PER_USER_DAY - 1) < 0.15, `${perUserDay} events per user-day vs documented ${MEAN_EVENTS_PER_USER_DAY}`);
    const perActive = count / activeDays.size;
    assert.ok(perActive >= 15 && perActive <= 25, `${perActive} events per active user-day`);
  });

  test('rejects options that cannot make a world, saying what to give', () => {
    assert.throws(() => generateEvents({ ...SMALL, users: 0 }), (e: unknown) => e instanceof RecsignalError && e.code === 'INVALID_ARGUMENT' && /users/.test(e.message));
    assert.throws(() => generateEvents({ ...SMALL, seed: 1.5 }), /seed must be a whole number/);
  });
});

describe('writeGenerated', () => {
  const opts: GenerateOptions = { users: 30, items: 200, days: 10, seed: 11 };
  const expected = [...generateEvents(opts).events()];

  test('JSONL round-trips, with snake_case metadata beside it', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'recsignal-gen-test-'));
    try {
      const progress: number[] = [];
      const r = await writeGenerated({ ...opts, out: path.join(dir, 'demo.jsonl'), onProgress: (n) => progress.push(n) });
      assert.equal(r.events, expected.length);
      assert.equal(r.itemsPath, path.join(dir, 'demo.items.jsonl'));
      assert.equal(r.usersPath, path.join(dir, 'demo.users.jsonl'));
      assert.equal(progress.at(-1), expected.length);
      const lines = fs.readFileSync(r.out, 'utf8').trimEnd().split('\n');
      assert.deepEqual(lines.map((l) => JSON.parse(l)), expected.map((e) => JSON.parse(JSON.stringify(eventToJson(e)))));
      const items = fs.readFileSync(r.itemsPath, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
      assert.equal(items.length, opts.items);
      assert.deepEqual(Object.keys(items[0]), ['item_id', 'title', 'year', 'genres', 'release_ts', 'duration']);
      const users = fs.readFileSync(r.usersPath, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
      assert.equal(users.length, opts.users);
      assert.deepEqual(Object.keys(users[0]), ['user_id', 'age', 'gender', 'occupation', 'country']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('Parquet round-trips through DuckDB', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'recsignal-gen-test-'));
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    try {
      const out = path.join(dir, "it's.parquet"); // a quote in the path must not break the COPY
      const r = await writeGenerated({ ...opts, out });
      assert.equal(r.events, expected.length);
      assert.ok(fs.existsSync(path.join(dir, "it's.items.jsonl")));
      const file = out.replaceAll("'", "''");
      const schema = (await connection.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${file}')`)).getRowObjectsJS();
      assert.deepEqual(schema.map((c) => `${String(c['column_name'])} ${String(c['column_type'])}`), [
        'event_id VARCHAR', 'user_id VARCHAR', 'item_id VARCHAR', 'ts BIGINT', 'type VARCHAR', 'value DOUBLE', 'duration DOUBLE', 'context VARCHAR',
      ]);
      const rows = (await connection.runAndReadAll(`SELECT * FROM read_parquet('${file}')`)).getRowObjectsJS();
      assert.equal(rows.length, expected.length);
      for (const i of [0, 1, Math.floor(expected.length / 2), expected.length - 1]) {
        const e = expected[i] as InteractionEvent;
        assert.deepEqual(rows[i], {
          event_id: e.eventId, user_id: e.userId, item_id: e.itemId, ts: BigInt(e.ts), type: e.type,
          value: e.value, duration: e.duration, context: JSON.stringify(e.context),
        });
      }
      const search = rows.find((row) => row['type'] === 'search');
      assert.ok(search !== undefined && search['item_id'] === null && /"query"/.test(String(search['context'])));
    } finally {
      connection.closeSync();
      instance.closeSync();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('an unknown extension is refused before anything is written', async () => {
    await assert.rejects(writeGenerated({ ...opts, out: path.join(os.tmpdir(), 'x.csv') }), /end the out path with \.jsonl or \.parquet/);
  });
});
