/**
 * Edge cases review found where batch disagreed with the reference aggregator (and the stream
 * engine): each is the same value from every engine now.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { referenceFeatures } from '../src/compute/reference/reference.ts';
import { StreamEngine } from '../src/compute/stream/engine.ts';
import { backfill, buildTrainingSet, featuresFor } from '../src/compute/batch/training-set.ts';
import { DuckDBEngine, sqlString } from '../src/store/offline/duckdb-engine.ts';
import { eventToJson, type InteractionEvent } from '../src/events/schema.ts';
import { createEventValidator } from '../src/events/validate.ts';
import { agg, aggregationView, defineFeatureSet, entity, requestFeature, sessionView } from '../src/features/dsl.ts';
import { featureColumns } from '../src/plan/rows.ts';
import { compileFeatureSet, type CompiledFeatureSet } from '../src/plan/compile.ts';
import { EventLog } from '../src/store/offline/event-log.ts';
import { ingest } from '../src/store/offline/ingest.ts';

const HOUR = 3_600_000;
const T0 = Date.UTC(2024, 0, 1);
const tmp = mkdtempSync(join(tmpdir(), 'recsignal-batch-edges-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

async function logOf(name: string, events: readonly InteractionEvent[]): Promise<EventLog> {
  const log = new EventLog(join(tmp, name));
  await ingest(events.map((e, i) => ({ position: `${name}:${i}`, raw: eventToJson(e) })), { log, validator: createEventValidator({ now: T0 + 365 * 24 * HOUR }) });
  return log;
}

function streamed(compiled: CompiledFeatureSet, events: readonly InteractionEvent[], fields: Record<string, string>, t: number) {
  const engine = new StreamEngine(compiled, { lateness: 0 });
  for (const e of events) engine.apply(e);
  return engine.features(fields, t);
}

test('a ratio whose numerator is null (a mean over no events) is its declared default in every engine', async () => {
  const compiled = compileFeatureSet(
    defineFeatureSet({
      name: 'ratio_default',
      views: [aggregationView({ name: 'u', entity: entity('user', ['user_id']), aggregations: [agg.mean('value', { windows: ['1d', 'lifetime'] }), agg.ratio('value_mean_1d', 'value_mean_lifetime', { name: 'trend', default: 1 })] })],
    }),
  );
  const events: InteractionEvent[] = [{ eventId: 'a', userId: 'u1', itemId: 'i1', ts: T0, type: 'play', value: 4, duration: null, context: {} }];
  const t = T0 + 72 * HOUR;
  const want = referenceFeatures(compiled, { events }, [{ fields: { user_id: 'u1' }, ts: t }])[0];
  assert.deepEqual(want, [null, 4, 1]);
  assert.deepEqual((await featuresFor(compiled, await logOf('ratio', events), [{ fields: { user_id: 'u1' }, ts: t }]))[0], want);
  assert.deepEqual(streamed(compiled, events, { user_id: 'u1' }, t), want);
});

test('a CSV spine\'s ids are text, as in events and requests: 42 is "42" to a request function, 1e3 is user "1e3", and numbers before "u1" are fine', async () => {
  const compiled = compileFeatureSet(
    defineFeatureSet({
      name: 'spine_ids',
      views: [aggregationView({ name: 'u', entity: entity('user', ['user_id']), aggregations: [agg.count({ name: 'plays' }), agg.last('item_id', { name: 'last_item' })] })],
      requestFeatures: [requestFeature({ name: 'is_last', type: 'int', inputs: { last: 'u:last_item', item: 'request:item_id' }, fn: ({ last, item }) => (last === item ? 1 : 0) })],
    }),
  );
  const play = (eventId: string, userId: string): InteractionEvent => ({ eventId, userId, itemId: '12', ts: T0, type: 'play', value: null, duration: null, context: {} });
  const log = await logOf('spine', [play('a', '42'), play('b', '1e3'), play('c', 'u1')]);
  const t = T0 + HOUR;
  // DuckDB samples a CSV's first rows to guess types: 3,000 numeric ids before "u1" made it an error.
  const rows = ['user_id,item_id,ts', `42,12,${t}`, `1e3,12,${t}`, ...Array.from({ length: 3_000 }, (_, i) => `${100 + i},12,${t}`), `u1,12,${t}`];
  const spine = join(tmp, 'spine.csv');
  writeFileSync(spine, `${rows.join('\n')}\n`);
  const out = join(tmp, 'training.parquet');
  await buildTrainingSet({ compiled, log, spine, out });
  const db = await DuckDBEngine.open();
  try {
    const got = await db.query(`SELECT user_id, item_id, u__plays AS plays, is_last FROM read_parquet(${sqlString(out)}) WHERE user_id IN ('42', '1e3', 'u1') ORDER BY user_id`);
    assert.deepEqual(got.map((r) => [r['user_id'], r['item_id'], Number(r['plays']), Number(r['is_last'])]), [['1e3', '12', 1, 1], ['42', '12', 1, 1], ['u1', '12', 1, 1]]);
  } finally {
    db.close();
  }
});

test('a spine row that leaves hour_bucket empty gets it from its time, as the stream engine and the reference do', async () => {
  const compiled = compileFeatureSet(
    defineFeatureSet({
      name: 'spine_daypart',
      views: [aggregationView({ name: 'dp', entity: entity('user_daypart', ['user_id', 'hour_bucket']), aggregations: [agg.count({ name: 'events' })] })],
    }),
  );
  // Three plays at night (01:00–03:00 UTC); queries at 04:00 (night) and 13:00 (afternoon).
  const events: InteractionEvent[] = [1, 2, 3].map((h, i) => ({ eventId: `n${i}`, userId: 'u1', itemId: 'i1', ts: T0 + h * HOUR, type: 'play', value: null, duration: null, context: {} }));
  const log = await logOf('daypart', events);
  const night = T0 + 4 * HOUR;
  const afternoon = T0 + 13 * HOUR;
  const spine = join(tmp, 'daypart.csv');
  writeFileSync(spine, `user_id,hour_bucket,ts\nu1,,${night}\nu1,night,${afternoon}\nu1,,${afternoon}\n`);
  const out = join(tmp, 'daypart.csv.out.csv');
  await buildTrainingSet({ compiled, log, spine, out });
  const db = await DuckDBEngine.open();
  try {
    const got = (await db.query(`SELECT dp__events AS n FROM read_csv(${sqlString(out)}, header = true)`)).map((r) => Number(r['n']));
    const expected = [streamed(compiled, events, { user_id: 'u1' }, night)[0], 3, streamed(compiled, events, { user_id: 'u1' }, afternoon)[0]];
    assert.deepEqual(expected, [3, 3, 0]);
    assert.deepEqual(got, expected);
    const reference = referenceFeatures(compiled, { events }, [{ ts: night, fields: { user_id: 'u1' } }]);
    assert.equal(reference[0]?.[0], 3);
  } finally {
    db.close();
  }
});

test('a Parquet spine whose ids are DOUBLE (pandas writes ids with gaps as float64) matches the events: 42.0 is user "42"', async () => {
  const compiled = compileFeatureSet(
    defineFeatureSet({ name: 'double_ids', views: [aggregationView({ name: 'u', entity: entity('user', ['user_id']), aggregations: [agg.count({ name: 'plays' })] })] }),
  );
  const play = (eventId: string, userId: string): InteractionEvent => ({ eventId, userId, itemId: 'i', ts: T0, type: 'play', value: null, duration: null, context: {} });
  const log = await logOf('double-ids', [play('a', '42'), play('b', '42'), play('c', '1.5')]);
  const spine = join(tmp, 'double-ids.parquet');
  const db = await DuckDBEngine.open();
  try {
    await db.run(`COPY (SELECT * FROM (VALUES (42.0::DOUBLE, ${T0 + HOUR}::BIGINT), (1.5::DOUBLE, ${T0 + HOUR}::BIGINT)) AS t(user_id, ts)) TO ${sqlString(spine)} (FORMAT parquet)`);
    const out = join(tmp, 'double-ids.out.csv');
    await buildTrainingSet({ compiled, log, spine, out });
    const got = (await db.query(`SELECT CAST(user_id AS VARCHAR) AS u, u__plays AS n FROM read_csv(${sqlString(out)}, header = true, all_varchar = true)`)).map((r) => [r['u'], Number(r['n'])]);
    assert.deepEqual(got, [['42', 2], ['1.5', 1]]);
  } finally {
    db.close();
  }
});

test('a CSV spine of dates without a time is refused like zoneless times, naming the column and the fix', async () => {
  const compiled = compileFeatureSet(
    defineFeatureSet({ name: 'date_spine', views: [aggregationView({ name: 'u', entity: entity('user', ['user_id']), aggregations: [agg.count({ name: 'plays' })] })] }),
  );
  const log = await logOf('date-spine', [{ eventId: 'a', userId: 'u1', itemId: 'i', ts: T0, type: 'play', value: null, duration: null, context: {} }]);
  const spine = join(tmp, 'dates.csv');
  writeFileSync(spine, 'user_id,ts\nu1,2024-03-10\n');
  await assert.rejects(buildTrainingSet({ compiled, log, spine, out: join(tmp, 'dates.out.csv') }), /spine: the times in 'ts' are dates without a time or zone \(e\.g\. 2024-03-10\); write a time with Z or an offset/);
});

test('output columns have their declared types, the same in a training set and a backfill: a summed session count is BIGINT, not DOUBLE; the min of an integer column declared float is DOUBLE', async () => {
  const compiled = compileFeatureSet(
    defineFeatureSet({
      name: 'declared_types',
      views: [
        aggregationView({ name: 'u', entity: entity('user', ['user_id']), aggregations: [agg.count({ name: 'plays', windows: ['7d'] }), agg.min('hour_of_day', { name: 'earliest_hour' })] }),
        sessionView({ name: 's', entity: entity('user', ['user_id']), gap: '30m' }),
      ],
    }),
  );
  const events: InteractionEvent[] = [0, 1, 2].map((i) => ({ eventId: `t${i}`, userId: 'u1', itemId: `i${i}`, ts: T0 + i * 60_000, type: 'play', value: null, duration: null, context: {} }));
  const log = await logOf('declared-types', events);
  const spine = join(tmp, 'declared-types.csv');
  writeFileSync(spine, `user_id,ts\nu1,${T0 + HOUR}\n`);
  const training = join(tmp, 'declared-types.parquet');
  const filled = join(tmp, 'declared-types-backfill.parquet');
  await buildTrainingSet({ compiled, log, spine, out: training });
  await backfill({ compiled, log, at: T0 + HOUR, out: filled });
  const db = await DuckDBEngine.open();
  try {
    const types = async (file: string) => Object.fromEntries((await db.query(`SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet(${sqlString(file)}))`)).map((r) => [r['column_name'], r['column_type']]));
    const [a, b] = [await types(training), await types(filled)];
    const declared = featureColumns(compiled.ir).filter((c) => c.type === 'int' || c.type === 'float');
    assert.ok(declared.some((c) => c.column.startsWith('s__')), 'the session view has numeric outputs');
    for (const c of declared) {
      const want = c.type === 'int' ? 'BIGINT' : 'DOUBLE';
      assert.deepEqual([c.column, a[c.column], b[c.column]], [c.column, want, want]);
    }
  } finally {
    db.close();
  }
});
