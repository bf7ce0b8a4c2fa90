/**
 * Golden SQL: the exact text the one generator renders for a small feature set in each dialect
 * (Drizzle's way: the SQL is in the test). A change of the generator or of a dialect hook shows
 * here as a text diff to read, not only as a changed number elsewhere. PostgreSQL and DuckDB text
 * also runs on a real engine (postgres-dialect.test.ts, differential.test.ts); Spark text does not
 * (no Spark on this machine), so the notes above its test say what was checked by reading it.
 *
 * To regenerate after a deliberate change: GOLDEN_DUMP=<dir> writes <dir>/<dialect>.sql with the
 * current text; read it, then paste it over the literal.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { agg, aggregationView, compileFeatureSet, defineFeatureSet, entity, lookupView, sessionView } from '../src/index.ts';
import { duckdb, postgres, spark, type Dialect } from '../src/compute/batch/dialect.ts';
import { renderFeatureSql } from '../src/compute/batch/sql.ts';

const user = entity('user', ['user_id']);
const item = entity('item', ['item_id']);

/** One of each: a sliding window count with a filter, a lifetime last, a decayed sum, a lastK, a session view, a lookup. */
const small = compileFeatureSet(
  defineFeatureSet({
    name: 'golden',
    weights: { play: 1, complete: 3 },
    views: [
      aggregationView({
        name: 'u',
        entity: user,
        aggregations: [
          agg.count({ types: ['play'], where: { device: ['tv'] }, windows: [{ length: '2h', hop: '30m' }] }),
          agg.last('item_id', { windows: ['lifetime'] }),
          agg.decayedSum('weight', '1h', { windows: ['lifetime'] }),
          agg.lastK('item_id', 3, { windows: ['lifetime'] }),
        ],
      }),
      sessionView({ name: 's', entity: user, gap: '30m' }),
      lookupView({ name: 'im', entity: item, table: 'items', columns: ['year'] }),
    ],
  }),
);

/** A user's genres (through item metadata): a lifetime weighted histogram and a one-day top 2. */
const byGenre = compileFeatureSet(
  defineFeatureSet({
    name: 'golden_genres',
    weights: { play: 1, complete: 3 },
    views: [
      aggregationView({
        name: 'g',
        entity: user,
        via: { table: 'items', column: 'genres', as: 'genre' },
        aggregations: [agg.histogram('genre', { weight: 'weight' }), agg.topK('genre', 2, { weight: 'weight', windows: ['1d'] })],
      }),
    ],
  }),
);

function render(dialect: Dialect, set = small, name: string = dialect.name): string {
  const sql = renderFeatureSql({ ir: set.ir, dialect, events: 'events', items: 'items', users: null, queries: 'queries' });
  const dump = process.env['GOLDEN_DUMP'];
  if (dump) {
    mkdirSync(dump, { recursive: true });
    writeFileSync(join(dump, `${name}.sql`), `${sql}\n`);
  }
  return sql;
}

// DuckDB runs this path in differential.test.ts. The sliding count is a difference of one running
// total read at t and at the window's start (v0__n, v0__nr, v0__c: read points sort before events
// of the same time, so ts < t). Decayed sums take window functions over events ∪
// query rows, inputs masked with CASE rather than FILTER (DuckDB's windows are far slower with
// FILTER); `1 PRECEDING` on integer ms keeps ts < t. Each sorts only the events some of its
// aggregations read (the WHERE on v0__u and v0__n). The lifetime last is read by an ASOF join on
// the events themselves, ordered by (time, event id) as structs: ties at one time go to the
// greatest id, and '' (below every id) keeps the event strictly before t (v0__x0). The decayed
// sum is re-based per bucket of 256 half-lives (921600000 ms here) so 2^((ts - base) / h) stays
// in [1, 2^256): no overflow; its
// default is 0, so zero weights are skipped (they add nothing, and a key left without events reads 0).
// The last-3 list reads the spans during which an event is its item's latest (v0__r0__p), each
// numbered in its key's (time, value) order so the top 3 compare one integer.
test('golden SQL: duckdb', () => {
  assert.equal(render(duckdb), `WITH
__ev AS (
  SELECT event_id, user_id, item_id, ts, type, value, duration, device, country, session_id,
    CASE WHEN duration > 0 THEN (CAST(value AS DOUBLE) / duration) END AS watch_fraction,
    CAST(CASE type WHEN 'play' THEN 1 WHEN 'complete' THEN 3 ELSE 0 END AS DOUBLE) AS weight,
    (CAST(floor(CAST(ts AS DOUBLE) / 3600000) AS BIGINT) - 24 * CAST(floor(CAST(ts AS DOUBLE) / 86400000) AS BIGINT)) AS hour_of_day,
    CASE WHEN (CAST(floor(CAST(ts AS DOUBLE) / 3600000) AS BIGINT) - 24 * CAST(floor(CAST(ts AS DOUBLE) / 86400000) AS BIGINT)) < 6 THEN 'night' WHEN (CAST(floor(CAST(ts AS DOUBLE) / 3600000) AS BIGINT) - 24 * CAST(floor(CAST(ts AS DOUBLE) / 86400000) AS BIGINT)) < 12 THEN 'morning' WHEN (CAST(floor(CAST(ts AS DOUBLE) / 3600000) AS BIGINT) - 24 * CAST(floor(CAST(ts AS DOUBLE) / 86400000) AS BIGINT)) < 18 THEN 'afternoon' ELSE 'evening' END AS hour_bucket,
    CASE WHEN (CAST(floor(CAST(ts AS DOUBLE) / 86400000) AS BIGINT) + 4) - 7 * CAST(floor(CAST((CAST(floor(CAST(ts AS DOUBLE) / 86400000) AS BIGINT) + 4) AS DOUBLE) / 7) AS BIGINT) IN (0, 6) THEN 'weekend' ELSE 'weekday' END AS day_type
  FROM events
),
v0__q AS (
  SELECT DISTINCT "user_id" AS __k0, __t FROM queries WHERE "user_id" IS NOT NULL
),
v0__s AS (
  SELECT "user_id" AS __k0, s.* FROM (SELECT * FROM __ev) AS s WHERE "user_id" IS NOT NULL
),
v0__u AS (
  SELECT __k0, ts, "event_id", "type", "weight", FALSE AS __is_q FROM v0__s WHERE ("weight" IS NOT NULL AND "weight" <> 0)
  UNION ALL
  SELECT __k0, __t AS ts, NULL AS "event_id", NULL AS "type", NULL AS "weight", TRUE AS __is_q FROM v0__q
),
v0__w AS (
  SELECT __k0, __t, __c0 FROM (
    SELECT __k0, ts AS __t, __is_q,
      sum(CASE WHEN NOT __is_q AND "weight" IS NOT NULL AND "weight" <> 0 THEN "weight" * pow(2.0, (CAST(ts - CAST(floor(CAST(ts AS DOUBLE) / 921600000) AS BIGINT) * 921600000 AS DOUBLE) / 3600000)) END) OVER w0 AS __c0
    FROM v0__u
    WINDOW w0 AS (PARTITION BY __k0, CAST(floor(CAST(ts AS DOUBLE) / 921600000) AS BIGINT) ORDER BY ts RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
  ) AS x WHERE __is_q
),
v0__b0 AS (
  SELECT __k0, CAST(floor(CAST(ts AS DOUBLE) / 921600000) AS BIGINT) AS b, sum("weight" * pow(2.0, (CAST(ts - CAST(floor(CAST(ts AS DOUBLE) / 921600000) AS BIGINT) * 921600000 AS DOUBLE) / 3600000))) AS total
  FROM v0__s WHERE "weight" IS NOT NULL AND "weight" <> 0 GROUP BY __k0, CAST(floor(CAST(ts AS DOUBLE) / 921600000) AS BIGINT)
),
v0__d0 AS (
  SELECT w.__k0, w.__t,
    CASE WHEN count(b.b) > 0 OR w.__c0 IS NOT NULL THEN (coalesce(sum(b.total * pow(2.0, (CAST(b.b * 921600000 - CAST(floor(CAST(w.__t AS DOUBLE) / 921600000) AS BIGINT) * 921600000 AS DOUBLE) / 3600000))), 0) + coalesce(w.__c0, 0))
      * pow(2.0, (CAST(CAST(floor(CAST(w.__t AS DOUBLE) / 921600000) AS BIGINT) * 921600000 - w.__t AS DOUBLE) / 3600000)) END AS "weight_decayed_sum_hl1h_lifetime"
  FROM v0__w AS w LEFT JOIN v0__b0 AS b ON b.__k0 = w.__k0 AND b.b < CAST(floor(CAST(w.__t AS DOUBLE) / 921600000) AS BIGINT)
  GROUP BY w.__k0, w.__t, w.__c0
),
v0__n AS (
  SELECT __k0, ts, CAST(NULL AS BIGINT) AS __t, -1 AS __p, FALSE AS __isq, count(*) FILTER (WHERE type IN ('play') AND "device" IN ('tv')) AS __c0
  FROM v0__s WHERE (type IN ('play') AND "device" IN ('tv')) GROUP BY __k0, ts
  UNION ALL
  SELECT __k0, __t AS ts, __t, 0 AS __p, TRUE AS __isq, 0 AS __c0 FROM v0__q
  UNION ALL
  SELECT __k0, CAST(floor(CAST(__t - 7200000 AS DOUBLE) / 1800000) AS BIGINT) * 1800000 AS ts, __t, 1 AS __p, TRUE AS __isq, 0 AS __c0 FROM v0__q
),
v0__nr AS (
  SELECT * FROM (SELECT __k0, __t, __p, __isq, sum(__c0) OVER __o AS __r0 FROM v0__n WINDOW __o AS (ORDER BY __k0, ts, __isq DESC ROWS UNBOUNDED PRECEDING)) AS x WHERE __isq
),
v0__c AS (
  SELECT __k0, __t, NULLIF(CAST((max(__r0) FILTER (WHERE __p = 0) - max(__r0) FILTER (WHERE __p = 1)) AS BIGINT), 0) AS "play_device_tv_count_2h"
  FROM v0__nr GROUP BY __k0, __t
),
v0__x0__l AS (
  SELECT __k0, ts, event_id, "item_id" AS v FROM v0__s WHERE "item_id" IS NOT NULL
),
v0__x0 AS (
  SELECT l.__k0, l.__t, r.v AS "item_id_last_lifetime"
  FROM v0__q AS l ASOF LEFT JOIN v0__x0__l AS r ON l.__k0 = r.__k0 AND {'t': l.__t, 'k': ''} > {'t': r.ts, 'k': r.event_id}
),
v0__r0__p AS (
  SELECT __k0, val, ts, lead(ts) OVER (PARTITION BY __k0, val ORDER BY ts) AS next_ts, row_number() OVER (PARTITION BY __k0 ORDER BY ts, val) AS ord
  FROM (SELECT DISTINCT __k0, CAST("item_id" AS VARCHAR) AS val, ts FROM v0__s WHERE "item_id" IS NOT NULL) AS e
),
v0__r0__m AS (
  SELECT qq.__k0, qq.__t, p.val, p.ord
  FROM v0__q AS qq JOIN v0__r0__p AS p ON p.__k0 = qq.__k0 AND p.ts < qq.__t AND (p.next_ts IS NULL OR p.next_ts >= qq.__t)
),
v0__r0 AS (
  SELECT __k0, __t, max_by(val, ord, 3) AS "item_id_last3_lifetime" FROM v0__r0__m GROUP BY __k0, __t
),
v0 AS (
  SELECT qq.*, p1."weight_decayed_sum_hl1h_lifetime", p2."play_device_tv_count_2h", p3."item_id_last_lifetime", p4."item_id_last3_lifetime"
  FROM v0__q AS qq
  LEFT JOIN v0__w AS p0 ON p0.__k0 = qq.__k0 AND p0.__t = qq.__t
  LEFT JOIN v0__d0 AS p1 ON p1.__k0 = qq.__k0 AND p1.__t = qq.__t
  LEFT JOIN v0__c AS p2 ON p2.__k0 = qq.__k0 AND p2.__t = qq.__t
  LEFT JOIN v0__x0 AS p3 ON p3.__k0 = qq.__k0 AND p3.__t = qq.__t
  LEFT JOIN v0__r0 AS p4 ON p4.__k0 = qq.__k0 AND p4.__t = qq.__t
),
v1__e AS (
  SELECT user_id, ts, item_id FROM __ev WHERE TRUE
),
v1__t AS (
  SELECT user_id, ts, count(*) AS n FROM v1__e GROUP BY user_id, ts
),
v1__g AS (
  SELECT user_id, ts, n, CASE WHEN ts - lag(ts) OVER (PARTITION BY user_id ORDER BY ts) < 1800000 THEN 0 ELSE 1 END AS new_session FROM v1__t
),
v1__i AS (
  SELECT user_id, ts, n, sum(new_session) OVER (PARTITION BY user_id ORDER BY ts ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS sid FROM v1__g
),
v1__f AS (
  SELECT user_id, ts, count(DISTINCT item_id) AS new_items FROM (SELECT e.user_id, e.ts, e.item_id, min(e.ts) OVER (PARTITION BY e.user_id, i.sid, e.item_id) AS first_ts FROM v1__e AS e JOIN v1__i AS i ON i.user_id = e.user_id AND i.ts = e.ts WHERE e.item_id IS NOT NULL) AS x
  WHERE ts = first_ts GROUP BY user_id, ts
),
v1__p AS (
  SELECT i.user_id, i.ts, min(i.ts) OVER (PARTITION BY i.user_id, i.sid) AS start_ts,
    sum(i.n) OVER (PARTITION BY i.user_id, i.sid ORDER BY i.ts ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS events,
    sum(coalesce(f.new_items, 0)) OVER (PARTITION BY i.user_id, i.sid ORDER BY i.ts ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS items
  FROM v1__i AS i LEFT JOIN v1__f AS f ON f.user_id = i.user_id AND f.ts = i.ts
),
v1__q AS (
  SELECT DISTINCT user_id, __t FROM queries WHERE user_id IS NOT NULL
),
v1 AS (
  SELECT l.user_id AS __k0, l.__t,
    CASE WHEN l.__t - r.ts < 1800000 THEN r.events END AS session_event_count,
    CASE WHEN l.__t - r.ts < 1800000 THEN r.items END AS session_item_count,
    CASE WHEN l.__t - r.ts < 1800000 THEN r.ts - r.start_ts END AS session_length_ms,
    CASE WHEN l.__t - r.ts < 1800000 THEN l.__t - r.start_ts END AS session_age_ms
  FROM v1__q AS l ASOF LEFT JOIN v1__p AS r ON l.user_id = r.user_id AND l.__t > r.ts
),
v2 AS (
  SELECT CAST(item_id AS VARCHAR) AS __k0, "year"
  FROM items
)
SELECT
  q.__row AS __row,
  coalesce(v0."play_device_tv_count_2h", 0) AS "u__play_device_tv_count_2h",
  v0."item_id_last_lifetime" AS "u__item_id_last_lifetime",
  coalesce(v0."weight_decayed_sum_hl1h_lifetime", CAST(0 AS DOUBLE)) AS "u__weight_decayed_sum_hl1h_lifetime",
  coalesce(v0."item_id_last3_lifetime", CAST([] AS VARCHAR[])) AS "u__item_id_last3_lifetime",
  coalesce(v1.session_event_count, 0) AS "s__session_event_count",
  coalesce(v1.session_item_count, 0) AS "s__session_item_count",
  v1.session_length_ms AS "s__session_length_ms",
  v1.session_age_ms AS "s__session_age_ms",
  v2."year" AS "im__year"
FROM queries AS q
LEFT JOIN v0 ON v0.__k0 = q."user_id" AND v0.__t = q.__t
LEFT JOIN v1 ON v1.__k0 = q."user_id" AND v1.__t = q.__t
LEFT JOIN v2 ON v2.__k0 = q."item_id"
ORDER BY q.__row`);
});

// PostgreSQL runs this path in postgres-dialect.test.ts. Its RANGE offsets must be constant, so
// every aggregation takes the range join + GROUP BY. Hooks to notice: pow2 guards power()
// (which raises 'value out of range: underflow' instead of returning 0), first/last are
// (array_agg(... ORDER BY ...) FILTER (...))[1], and the session's latest-state join is a
// row_number() join, not LATERAL (which re-ran the session CTE's window functions per query row).
test('golden SQL: postgres', () => {
  assert.equal(render(postgres), `WITH
__ev AS (
  SELECT event_id, user_id, item_id, ts, type, value, duration, device, country, session_id,
    CASE WHEN duration > 0 THEN (CAST(value AS DOUBLE PRECISION) / duration) END AS watch_fraction,
    CAST(CASE type WHEN 'play' THEN 1 WHEN 'complete' THEN 3 ELSE 0 END AS DOUBLE PRECISION) AS weight,
    (CAST(floor(CAST(ts AS DOUBLE PRECISION) / 3600000) AS BIGINT) - 24 * CAST(floor(CAST(ts AS DOUBLE PRECISION) / 86400000) AS BIGINT)) AS hour_of_day,
    CASE WHEN (CAST(floor(CAST(ts AS DOUBLE PRECISION) / 3600000) AS BIGINT) - 24 * CAST(floor(CAST(ts AS DOUBLE PRECISION) / 86400000) AS BIGINT)) < 6 THEN 'night' WHEN (CAST(floor(CAST(ts AS DOUBLE PRECISION) / 3600000) AS BIGINT) - 24 * CAST(floor(CAST(ts AS DOUBLE PRECISION) / 86400000) AS BIGINT)) < 12 THEN 'morning' WHEN (CAST(floor(CAST(ts AS DOUBLE PRECISION) / 3600000) AS BIGINT) - 24 * CAST(floor(CAST(ts AS DOUBLE PRECISION) / 86400000) AS BIGINT)) < 18 THEN 'afternoon' ELSE 'evening' END AS hour_bucket,
    CASE WHEN (CAST(floor(CAST(ts AS DOUBLE PRECISION) / 86400000) AS BIGINT) + 4) - 7 * CAST(floor(CAST((CAST(floor(CAST(ts AS DOUBLE PRECISION) / 86400000) AS BIGINT) + 4) AS DOUBLE PRECISION) / 7) AS BIGINT) IN (0, 6) THEN 'weekend' ELSE 'weekday' END AS day_type
  FROM events
),
v0__q AS (
  SELECT DISTINCT "user_id" AS __k0, __t FROM queries WHERE "user_id" IS NOT NULL
),
v0__s AS (
  SELECT "user_id" AS __k0, s.* FROM (SELECT * FROM __ev) AS s WHERE "user_id" IS NOT NULL
),
v0__j AS (
  SELECT qq.__t, s.__k0, s."ts", s."event_id", s."type", s."device", s."item_id", s."weight"
  FROM v0__q AS qq JOIN v0__s AS s ON s.__k0 = qq.__k0 AND s.ts < qq.__t
),
v0__a AS (
  SELECT __k0, __t,
    NULLIF(count(*) FILTER (WHERE ts >= CAST(floor(CAST(__t - 7200000 AS DOUBLE PRECISION) / 1800000) AS BIGINT) * 1800000 AND type IN ('play') AND "device" IN ('tv')), 0) AS "play_device_tv_count_2h",
    (array_agg("item_id" ORDER BY ts DESC, (event_id) COLLATE "C" DESC) FILTER (WHERE "item_id" IS NOT NULL))[1] AS "item_id_last_lifetime",
    sum(CASE WHEN "weight" = 0 OR (CAST(ts - __t AS DOUBLE PRECISION) / 3600000) + ln(abs(CAST("weight" AS DOUBLE PRECISION))) / ln(2.0) <= -1070 THEN 0.0::double precision ELSE "weight" * power(2.0::double precision, (CAST(ts - __t AS DOUBLE PRECISION) / 3600000)) END) FILTER (WHERE "weight" IS NOT NULL AND "weight" <> 0) AS "weight_decayed_sum_hl1h_lifetime"
  FROM v0__j GROUP BY __k0, __t
),
v0__r0__p AS (
  SELECT __k0, val, ts, lead(ts) OVER (PARTITION BY __k0, val ORDER BY ts) AS next_ts
  FROM (SELECT DISTINCT __k0, CAST("item_id" AS VARCHAR) AS val, ts FROM v0__s WHERE "item_id" IS NOT NULL) AS e
),
v0__r0__m AS (
  SELECT qq.__k0, qq.__t, p.val, row_number() OVER (PARTITION BY qq.__k0, qq.__t ORDER BY p.ts DESC, (p.val) COLLATE "C" DESC) AS rn
  FROM v0__q AS qq JOIN v0__r0__p AS p ON p.__k0 = qq.__k0 AND p.ts < qq.__t AND (p.next_ts IS NULL OR p.next_ts >= qq.__t)
),
v0__r0 AS (
  SELECT __k0, __t, array_agg(val ORDER BY rn) FILTER (WHERE rn <= 3) AS "item_id_last3_lifetime" FROM v0__r0__m GROUP BY __k0, __t
),
v0 AS (
  SELECT qq.*, p0."play_device_tv_count_2h", p0."item_id_last_lifetime", p0."weight_decayed_sum_hl1h_lifetime", p1."item_id_last3_lifetime"
  FROM v0__q AS qq
  LEFT JOIN v0__a AS p0 ON p0.__k0 = qq.__k0 AND p0.__t = qq.__t
  LEFT JOIN v0__r0 AS p1 ON p1.__k0 = qq.__k0 AND p1.__t = qq.__t
),
v1__e AS (
  SELECT user_id, ts, item_id FROM __ev WHERE TRUE
),
v1__t AS (
  SELECT user_id, ts, count(*) AS n FROM v1__e GROUP BY user_id, ts
),
v1__g AS (
  SELECT user_id, ts, n, CASE WHEN ts - lag(ts) OVER (PARTITION BY user_id ORDER BY ts) < 1800000 THEN 0 ELSE 1 END AS new_session FROM v1__t
),
v1__i AS (
  SELECT user_id, ts, n, sum(new_session) OVER (PARTITION BY user_id ORDER BY ts ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS sid FROM v1__g
),
v1__f AS (
  SELECT user_id, ts, count(DISTINCT item_id) AS new_items FROM (SELECT e.user_id, e.ts, e.item_id, min(e.ts) OVER (PARTITION BY e.user_id, i.sid, e.item_id) AS first_ts FROM v1__e AS e JOIN v1__i AS i ON i.user_id = e.user_id AND i.ts = e.ts WHERE e.item_id IS NOT NULL) AS x
  WHERE ts = first_ts GROUP BY user_id, ts
),
v1__p AS (
  SELECT i.user_id, i.ts, min(i.ts) OVER (PARTITION BY i.user_id, i.sid) AS start_ts,
    sum(i.n) OVER (PARTITION BY i.user_id, i.sid ORDER BY i.ts ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS events,
    sum(coalesce(f.new_items, 0)) OVER (PARTITION BY i.user_id, i.sid ORDER BY i.ts ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS items
  FROM v1__i AS i LEFT JOIN v1__f AS f ON f.user_id = i.user_id AND f.ts = i.ts
),
v1__q AS (
  SELECT DISTINCT user_id, __t FROM queries WHERE user_id IS NOT NULL
),
v1 AS (
  SELECT l.user_id AS __k0, l.__t,
    CASE WHEN l.__t - r.ts < 1800000 THEN r.events END AS session_event_count,
    CASE WHEN l.__t - r.ts < 1800000 THEN r.items END AS session_item_count,
    CASE WHEN l.__t - r.ts < 1800000 THEN r.ts - r.start_ts END AS session_length_ms,
    CASE WHEN l.__t - r.ts < 1800000 THEN l.__t - r.start_ts END AS session_age_ms
  FROM v1__q AS l LEFT JOIN (SELECT * FROM (SELECT r0.*, l0.user_id AS __lk0, l0.__t AS __lt, row_number() OVER (PARTITION BY l0.user_id, l0.__t ORDER BY r0.ts DESC) AS __rn FROM v1__q AS l0 JOIN v1__p AS r0 ON r0.user_id = l0.user_id AND r0.ts < l0.__t) AS r1 WHERE __rn = 1) AS r ON r.__lk0 = l.user_id AND r.__lt = l.__t
),
v2 AS (
  SELECT CAST(item_id AS VARCHAR) AS __k0, "year"
  FROM items
)
SELECT
  q.__row AS __row,
  coalesce(v0."play_device_tv_count_2h", 0) AS "u__play_device_tv_count_2h",
  v0."item_id_last_lifetime" AS "u__item_id_last_lifetime",
  coalesce(v0."weight_decayed_sum_hl1h_lifetime", CAST(0 AS DOUBLE PRECISION)) AS "u__weight_decayed_sum_hl1h_lifetime",
  coalesce(v0."item_id_last3_lifetime", CAST(ARRAY[] AS VARCHAR[])) AS "u__item_id_last3_lifetime",
  coalesce(v1.session_event_count, 0) AS "s__session_event_count",
  coalesce(v1.session_item_count, 0) AS "s__session_item_count",
  v1.session_length_ms AS "s__session_length_ms",
  v1.session_age_ms AS "s__session_age_ms",
  v2."year" AS "im__year"
FROM queries AS q
LEFT JOIN v0 ON v0.__k0 = q."user_id" AND v0.__t = q.__t
LEFT JOIN v1 ON v1.__k0 = q."user_id" AND v1.__t = q.__t
LEFT JOIN v2 ON v2.__k0 = q."item_id"
ORDER BY q.__row`);
});

// Spark SQL 3.4, read, not run. Checked by reading: FILTER on aggregates (3.0+), max_by over a
// struct ordering, collect_list + array_sort over struct(rn, val) then
// transform(..., x -> x.v), CAST(array() AS ARRAY<STRING>), backticked identifiers, unquoted
// identifiers that start with `_`. Questionable:
// - The point-in-time join was LEFT JOIN LATERAL (... ORDER BY ... LIMIT 1), which Spark
//   rejects before 4.0 (SPARK-36191); it is now the row_number() join below.
// - String literals: Spark reads a backslash as an escape and 'a''b' as 'ab', so the spark hook
//   escapes with backslashes; nothing here contains either, so the text is as for the others.
// - 0.5-style literals are DECIMAL in Spark; every one sits under CAST(... AS DOUBLE) or
//   multiplies a DOUBLE, so results are doubles as elsewhere.
// - Nothing in this set uses explode(): a `via` view renders SELECT DISTINCT ..., explode(...),
//   which Spark accepts (one generator per SELECT) but is not exercised here.
// - ORDER BY on strings (last-k ties) is Spark's binary order, as in DuckDB and the reference.
test('golden SQL: spark', () => {
  assert.equal(render(spark), `WITH
__ev AS (
  SELECT event_id, user_id, item_id, ts, type, value, duration, device, country, session_id,
    CASE WHEN duration > 0 THEN (CAST(value AS DOUBLE) / duration) END AS watch_fraction,
    CAST(CASE type WHEN 'play' THEN 1 WHEN 'complete' THEN 3 ELSE 0 END AS DOUBLE) AS weight,
    (CAST(floor(CAST(ts AS DOUBLE) / 3600000) AS BIGINT) - 24 * CAST(floor(CAST(ts AS DOUBLE) / 86400000) AS BIGINT)) AS hour_of_day,
    CASE WHEN (CAST(floor(CAST(ts AS DOUBLE) / 3600000) AS BIGINT) - 24 * CAST(floor(CAST(ts AS DOUBLE) / 86400000) AS BIGINT)) < 6 THEN 'night' WHEN (CAST(floor(CAST(ts AS DOUBLE) / 3600000) AS BIGINT) - 24 * CAST(floor(CAST(ts AS DOUBLE) / 86400000) AS BIGINT)) < 12 THEN 'morning' WHEN (CAST(floor(CAST(ts AS DOUBLE) / 3600000) AS BIGINT) - 24 * CAST(floor(CAST(ts AS DOUBLE) / 86400000) AS BIGINT)) < 18 THEN 'afternoon' ELSE 'evening' END AS hour_bucket,
    CASE WHEN (CAST(floor(CAST(ts AS DOUBLE) / 86400000) AS BIGINT) + 4) - 7 * CAST(floor(CAST((CAST(floor(CAST(ts AS DOUBLE) / 86400000) AS BIGINT) + 4) AS DOUBLE) / 7) AS BIGINT) IN (0, 6) THEN 'weekend' ELSE 'weekday' END AS day_type
  FROM events
),
v0__q AS (
  SELECT DISTINCT \`user_id\` AS __k0, __t FROM queries WHERE \`user_id\` IS NOT NULL
),
v0__s AS (
  SELECT \`user_id\` AS __k0, s.* FROM (SELECT * FROM __ev) AS s WHERE \`user_id\` IS NOT NULL
),
v0__j AS (
  SELECT qq.__t, s.__k0, s.\`ts\`, s.\`event_id\`, s.\`type\`, s.\`device\`, s.\`item_id\`, s.\`weight\`
  FROM v0__q AS qq JOIN v0__s AS s ON s.__k0 = qq.__k0 AND s.ts < qq.__t
),
v0__a AS (
  SELECT __k0, __t,
    NULLIF(count(*) FILTER (WHERE ts >= CAST(floor(CAST(__t - 7200000 AS DOUBLE) / 1800000) AS BIGINT) * 1800000 AND type IN ('play') AND \`device\` IN ('tv')), 0) AS \`play_device_tv_count_2h\`,
    max_by(\`item_id\`, struct(ts, event_id)) FILTER (WHERE \`item_id\` IS NOT NULL) AS \`item_id_last_lifetime\`,
    sum(\`weight\` * pow(2.0, (CAST(ts - __t AS DOUBLE) / 3600000))) FILTER (WHERE \`weight\` IS NOT NULL AND \`weight\` <> 0) AS \`weight_decayed_sum_hl1h_lifetime\`
  FROM v0__j GROUP BY __k0, __t
),
v0__r0__p AS (
  SELECT __k0, val, ts, lead(ts) OVER (PARTITION BY __k0, val ORDER BY ts) AS next_ts
  FROM (SELECT DISTINCT __k0, CAST(\`item_id\` AS STRING) AS val, ts FROM v0__s WHERE \`item_id\` IS NOT NULL) AS e
),
v0__r0__m AS (
  SELECT qq.__k0, qq.__t, p.val, row_number() OVER (PARTITION BY qq.__k0, qq.__t ORDER BY p.ts DESC, p.val DESC) AS rn
  FROM v0__q AS qq JOIN v0__r0__p AS p ON p.__k0 = qq.__k0 AND p.ts < qq.__t AND (p.next_ts IS NULL OR p.next_ts >= qq.__t)
),
v0__r0 AS (
  SELECT __k0, __t, transform(array_sort(collect_list(struct(rn AS o, val AS v)) FILTER (WHERE rn <= 3)), x -> x.v) AS \`item_id_last3_lifetime\` FROM v0__r0__m GROUP BY __k0, __t
),
v0 AS (
  SELECT qq.*, p0.\`play_device_tv_count_2h\`, p0.\`item_id_last_lifetime\`, p0.\`weight_decayed_sum_hl1h_lifetime\`, p1.\`item_id_last3_lifetime\`
  FROM v0__q AS qq
  LEFT JOIN v0__a AS p0 ON p0.__k0 = qq.__k0 AND p0.__t = qq.__t
  LEFT JOIN v0__r0 AS p1 ON p1.__k0 = qq.__k0 AND p1.__t = qq.__t
),
v1__e AS (
  SELECT user_id, ts, item_id FROM __ev WHERE TRUE
),
v1__t AS (
  SELECT user_id, ts, count(*) AS n FROM v1__e GROUP BY user_id, ts
),
v1__g AS (
  SELECT user_id, ts, n, CASE WHEN ts - lag(ts) OVER (PARTITION BY user_id ORDER BY ts) < 1800000 THEN 0 ELSE 1 END AS new_session FROM v1__t
),
v1__i AS (
  SELECT user_id, ts, n, sum(new_session) OVER (PARTITION BY user_id ORDER BY ts ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS sid FROM v1__g
),
v1__f AS (
  SELECT user_id, ts, count(DISTINCT item_id) AS new_items FROM (SELECT e.user_id, e.ts, e.item_id, min(e.ts) OVER (PARTITION BY e.user_id, i.sid, e.item_id) AS first_ts FROM v1__e AS e JOIN v1__i AS i ON i.user_id = e.user_id AND i.ts = e.ts WHERE e.item_id IS NOT NULL) AS x
  WHERE ts = first_ts GROUP BY user_id, ts
),
v1__p AS (
  SELECT i.user_id, i.ts, min(i.ts) OVER (PARTITION BY i.user_id, i.sid) AS start_ts,
    sum(i.n) OVER (PARTITION BY i.user_id, i.sid ORDER BY i.ts ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS events,
    sum(coalesce(f.new_items, 0)) OVER (PARTITION BY i.user_id, i.sid ORDER BY i.ts ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS items
  FROM v1__i AS i LEFT JOIN v1__f AS f ON f.user_id = i.user_id AND f.ts = i.ts
),
v1__q AS (
  SELECT DISTINCT user_id, __t FROM queries WHERE user_id IS NOT NULL
),
v1 AS (
  SELECT l.user_id AS __k0, l.__t,
    CASE WHEN l.__t - r.ts < 1800000 THEN r.events END AS session_event_count,
    CASE WHEN l.__t - r.ts < 1800000 THEN r.items END AS session_item_count,
    CASE WHEN l.__t - r.ts < 1800000 THEN r.ts - r.start_ts END AS session_length_ms,
    CASE WHEN l.__t - r.ts < 1800000 THEN l.__t - r.start_ts END AS session_age_ms
  FROM v1__q AS l LEFT JOIN (SELECT * FROM (SELECT r0.*, l0.user_id AS __lk0, l0.__t AS __lt, row_number() OVER (PARTITION BY l0.user_id, l0.__t ORDER BY r0.ts DESC) AS __rn FROM v1__q AS l0 JOIN v1__p AS r0 ON r0.user_id = l0.user_id AND r0.ts < l0.__t) AS r1 WHERE __rn = 1) AS r ON r.__lk0 = l.user_id AND r.__lt = l.__t
),
v2 AS (
  SELECT CAST(item_id AS STRING) AS __k0, \`year\`
  FROM items
)
SELECT
  q.__row AS __row,
  coalesce(v0.\`play_device_tv_count_2h\`, 0) AS \`u__play_device_tv_count_2h\`,
  v0.\`item_id_last_lifetime\` AS \`u__item_id_last_lifetime\`,
  coalesce(v0.\`weight_decayed_sum_hl1h_lifetime\`, CAST(0 AS DOUBLE)) AS \`u__weight_decayed_sum_hl1h_lifetime\`,
  coalesce(v0.\`item_id_last3_lifetime\`, CAST(array() AS ARRAY<STRING>)) AS \`u__item_id_last3_lifetime\`,
  coalesce(v1.session_event_count, 0) AS \`s__session_event_count\`,
  coalesce(v1.session_item_count, 0) AS \`s__session_item_count\`,
  v1.session_length_ms AS \`s__session_length_ms\`,
  v1.session_age_ms AS \`s__session_age_ms\`,
  v2.\`year\` AS \`im__year\`
FROM queries AS q
LEFT JOIN v0 ON v0.__k0 = q.\`user_id\` AND v0.__t = q.__t
LEFT JOIN v1 ON v1.__k0 = q.\`user_id\` AND v1.__t = q.__t
LEFT JOIN v2 ON v2.__k0 = q.\`item_id\`
ORDER BY q.__row`);
});

// Top-k and histograms over a category (DuckDB): each query row fanned out to the genres its user
// had before t (v0__h0__v); running count and exact weight per (user, genre) over the events
// alone (v0__h0__st), keyed by an integer surrogate numbered in (user, genre) order (v0__h0__g),
// read by ASOF joins at t and at the one-day window's start; the lifetime start reads nothing.
test('golden SQL: duckdb, top-k and histogram by category', () => {
  assert.equal(render(duckdb, byGenre, 'duckdb-genres'), `WITH
__ev AS (
  SELECT event_id, user_id, item_id, ts, type, value, duration, device, country, session_id,
    CASE WHEN duration > 0 THEN (CAST(value AS DOUBLE) / duration) END AS watch_fraction,
    CAST(CASE type WHEN 'play' THEN 1 WHEN 'complete' THEN 3 ELSE 0 END AS DOUBLE) AS weight,
    (CAST(floor(CAST(ts AS DOUBLE) / 3600000) AS BIGINT) - 24 * CAST(floor(CAST(ts AS DOUBLE) / 86400000) AS BIGINT)) AS hour_of_day,
    CASE WHEN (CAST(floor(CAST(ts AS DOUBLE) / 3600000) AS BIGINT) - 24 * CAST(floor(CAST(ts AS DOUBLE) / 86400000) AS BIGINT)) < 6 THEN 'night' WHEN (CAST(floor(CAST(ts AS DOUBLE) / 3600000) AS BIGINT) - 24 * CAST(floor(CAST(ts AS DOUBLE) / 86400000) AS BIGINT)) < 12 THEN 'morning' WHEN (CAST(floor(CAST(ts AS DOUBLE) / 3600000) AS BIGINT) - 24 * CAST(floor(CAST(ts AS DOUBLE) / 86400000) AS BIGINT)) < 18 THEN 'afternoon' ELSE 'evening' END AS hour_bucket,
    CASE WHEN (CAST(floor(CAST(ts AS DOUBLE) / 86400000) AS BIGINT) + 4) - 7 * CAST(floor(CAST((CAST(floor(CAST(ts AS DOUBLE) / 86400000) AS BIGINT) + 4) AS DOUBLE) / 7) AS BIGINT) IN (0, 6) THEN 'weekend' ELSE 'weekday' END AS day_type
  FROM events
),
v0__q AS (
  SELECT DISTINCT "user_id" AS __k0, __t FROM queries WHERE "user_id" IS NOT NULL
),
v0__s AS (
  SELECT "user_id" AS __k0, s.* FROM (SELECT s.*, c.__cat AS "genre" FROM (SELECT * FROM __ev) AS s JOIN (SELECT DISTINCT CAST(item_id AS VARCHAR) AS __key, unnest("genres") AS __cat FROM items) AS c ON c.__key = s.item_id) AS s WHERE "user_id" IS NOT NULL
),
v0__h0__e AS (
  SELECT __k0, CAST("genre" AS VARCHAR) AS val, ts, CAST(coalesce("weight", 0) AS BIGINT) AS w FROM v0__s WHERE "genre" IS NOT NULL
),
v0__h0__g AS (
  SELECT __k0, val, min(ts) AS first_ts, row_number() OVER (ORDER BY __k0, val) AS g FROM v0__h0__e GROUP BY __k0, val
),
v0__h0__v AS (
  SELECT qq.__k0, qq.__t, v.val, v.g FROM v0__q AS qq JOIN v0__h0__g AS v ON v.__k0 = qq.__k0 AND v.first_ts < qq.__t
),
v0__h0__st AS (
  SELECT g, ts, sum(c) OVER o AS rc, sum(w) OVER o AS rw
  FROM (SELECT v.g, e.ts, count(*) AS c, sum(e.w) AS w FROM v0__h0__e AS e JOIN v0__h0__g AS v USING (__k0, val) GROUP BY v.g, e.ts) AS e
  WINDOW o AS (PARTITION BY g ORDER BY ts ROWS UNBOUNDED PRECEDING)
),
v0__h0__p AS (
  SELECT *, NULL AS __s1, CAST(floor(CAST(__t - 86400000 AS DOUBLE) / 3600000) AS BIGINT) * 3600000 AS __s2 FROM v0__h0__v
),
v0__h0__a0 AS (
  SELECT l.*, r.rc AS __rc0, r.rw AS __rw0 FROM v0__h0__p AS l ASOF LEFT JOIN v0__h0__st AS r ON l.g = r.g AND l.__t > r.ts
),
v0__h0__a1 AS (
  SELECT *, NULL AS __rc1, NULL AS __rw1 FROM v0__h0__a0
),
v0__h0__a2 AS (
  SELECT l.*, r.rc AS __rc2, r.rw AS __rw2 FROM v0__h0__a1 AS l ASOF LEFT JOIN v0__h0__st AS r ON l.g = r.g AND l.__s2 > r.ts
),
v0__h0__w AS (
  SELECT __k0, __t, val, CAST(coalesce(__rc0, 0) - coalesce(__rc1, 0) AS BIGINT) AS __n0, CAST(coalesce(__rw0, 0) - coalesce(__rw1, 0) AS DOUBLE) AS __m0, CAST(coalesce(__rc0, 0) - coalesce(__rc2, 0) AS BIGINT) AS __n1, CAST(coalesce(__rw0, 0) - coalesce(__rw2, 0) AS DOUBLE) AS __m1
  FROM v0__h0__a2
),
v0__h0_0 AS (
  SELECT __k0, __t, list_sort(list({'key': val, 'weight': m})) AS "genre_weight_histogram_lifetime" FROM (SELECT __k0, __t, val, __m0 AS m FROM v0__h0__w WHERE __n0 > 0) AS h GROUP BY __k0, __t
),
v0__h0_1 AS (
  SELECT __k0, __t, min_by(val, (-m, val), 2) AS "genre_weight_top2_1d" FROM (SELECT __k0, __t, val, __m1 AS m FROM v0__h0__w WHERE __n1 > 0) AS h GROUP BY __k0, __t
),
v0 AS (
  SELECT qq.*, p0."genre_weight_histogram_lifetime", p1."genre_weight_top2_1d"
  FROM v0__q AS qq
  LEFT JOIN v0__h0_0 AS p0 ON p0.__k0 = qq.__k0 AND p0.__t = qq.__t
  LEFT JOIN v0__h0_1 AS p1 ON p1.__k0 = qq.__k0 AND p1.__t = qq.__t
)
SELECT
  q.__row AS __row,
  coalesce(v0."genre_weight_histogram_lifetime", CAST([] AS STRUCT("key" VARCHAR, weight DOUBLE)[])) AS "g__genre_weight_histogram_lifetime",
  coalesce(v0."genre_weight_top2_1d", CAST([] AS VARCHAR[])) AS "g__genre_weight_top2_1d"
FROM queries AS q
LEFT JOIN v0 ON v0.__k0 = q."user_id" AND v0.__t = q.__t
ORDER BY q.__row`);
});

test('string literals: standard SQL doubles the quote, Spark escapes with a backslash', () => {
  const s = "it's a \\ b";
  assert.equal(duckdb.literal(s), "'it''s a \\ b'");
  assert.equal(postgres.literal(s), "'it''s a \\ b'");
  assert.equal(spark.literal(s), "'it\\'s a \\\\ b'");
  assert.equal(spark.literal(0.5), '0.5');
  assert.equal(spark.literal(null), 'NULL');
});
