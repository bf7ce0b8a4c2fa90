/**
 * A backfill's rows are the keys with an event before `at` in some view's stream. A derived stream
 * (a negative: an impression's columns, `within` later) adds no key to an entity that also has a
 * view of the plain log, so the backfill need not run it for the keys; an entity with derived
 * views only gets its keys from them.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agg, aggregationView, backfill, compileFeatureSet, createEventValidator, defineFeatureSet, entity, EventLog, ingest, negatives, sessionView } from '../src/index.ts';
import { duckdb } from '../src/compute/batch/dialect.ts';
import { renderEntityKeysSql } from '../src/compute/batch/sql.ts';
import { DuckDBEngine, sqlString } from '../src/store/offline/duckdb-engine.ts';

const tmp = mkdtempSync(join(tmpdir(), 'recsignal-backfill-keys-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const T0 = Date.UTC(2024, 2, 1);
const MIN = 60_000;
const user = entity('user', ['user_id']);
const daypart = entity('user_daypart', ['user_id', 'hour_bucket']);
const compiled = compileFeatureSet(defineFeatureSet({
  name: 'keys',
  views: [
    aggregationView({ name: 'plays', entity: user, aggregations: [agg.count({ types: ['play'] })] }),
    aggregationView({ name: 'ignored', entity: user, stream: negatives.impressionNotPlayed({ within: '10m' }), aggregations: [agg.count()] }),
    aggregationView({ name: 'ignored_by_daypart', entity: daypart, stream: negatives.impressionNotPlayed({ within: '10m' }), aggregations: [agg.count()] }),
  ],
}));

test('backfill keys: those of the plain log and of derived streams, before at', async () => {
  const log = new EventLog(join(tmp, 'log'));
  const events = [
    // u1: an impression at 05:55 never played: a negative at 06:05 with the impression's columns (night).
    { event_id: 'a', user_id: 'u1', item_id: 'i1', ts: T0 + 5 * 60 * MIN + 55 * MIN, type: 'impression' },
    // u2: only a play, at 03:00. u3: an impression at 06:55: its negative at 07:05 is after `at`.
    { event_id: 'c', user_id: 'u3', item_id: 'i1', ts: T0 + 6 * 60 * MIN + 55 * MIN, type: 'impression' },
    { event_id: 'b', user_id: 'u2', item_id: 'i2', ts: T0 + 3 * 60 * MIN, type: 'play' },
  ];
  const report = await ingest(events.map((raw, i) => ({ position: `t:${i}`, raw })), { log, validator: createEventValidator({ now: T0 + 86_400_000 }) });
  assert.equal(report.accepted, 3);
  const out = join(tmp, 'backfill.parquet');
  const r = await backfill({ compiled, log, at: T0 + 7 * 60 * MIN, out });
  assert.deepEqual(r.entities, { user: 3, user_daypart: 1 });
  const engine = await DuckDBEngine.open();
  try {
    const rows = await engine.query(`SELECT entity, user_id, hour_bucket, plays__play_count_lifetime AS plays, ignored__event_count_lifetime AS ignored, ignored_by_daypart__event_count_lifetime AS by_daypart FROM read_parquet(${sqlString(out)}) ORDER BY entity, user_id`);
    assert.deepEqual(rows, [
      { entity: 'user', user_id: 'u1', hour_bucket: null, plays: 0, ignored: 1, by_daypart: null },
      { entity: 'user', user_id: 'u2', hour_bucket: null, plays: 1, ignored: 0, by_daypart: null },
      { entity: 'user', user_id: 'u3', hour_bucket: null, plays: 0, ignored: 0, by_daypart: null },
      { entity: 'user_daypart', user_id: 'u1', hour_bucket: 'night', plays: null, ignored: null, by_daypart: 1 },
    ]);
  } finally {
    engine.close();
  }
});

test('backfill keys: a stream read by several views of the entity is one source of the keys query', () => {
  const withSession = compileFeatureSet(defineFeatureSet({
    name: 'keys_once',
    views: [
      aggregationView({ name: 'plays', entity: user, aggregations: [agg.count({ types: ['play'] })] }),
      aggregationView({ name: 'completes', entity: user, aggregations: [agg.count({ types: ['complete'] })] }),
      sessionView({ name: 'session', entity: user, gap: '30m' }),
    ],
  }));
  const sql = renderEntityKeysSql({ ir: withSession.ir, dialect: duckdb, events: 'ev', items: null, users: null }, withSession.ir.views, T0);
  // Read twice, the events relation would be materialized whole before the DISTINCT.
  assert.equal(sql.match(/FROM \(SELECT \* FROM __ev\) AS s/g)?.length, 1, sql);
});
