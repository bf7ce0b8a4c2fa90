/**
 * @module Plan → SQL: one generator renders the point-in-time feature query of a feature set for
 * any dialect. For each query row (entity keys, time t) every feature is computed from the events
 * with ts < t, in the sawtooth window of its aggregation, exactly as the semantics contract says.
 */
import type { AggregationIR, AggregationViewIR, FeatureSetIR, FeatureValue, FeatureViewIR, LookupViewIR, SessionViewIR } from '../../features/ir.ts';
import { EMBEDDING_OUTPUT, TABLE_KEYS } from '../../features/ir.ts';
import { featureColumn } from '../../plan/rows.ts';
import type { Dialect } from './dialect.ts';
import { condition, eventsReadBy, windowable, type OneTime } from './sql-expressions.ts';
import { joinedCtes, runningCte, windowCtes } from './sql-windows.ts';
import { fannedCtes, pickedCte, spanCte } from './sql-values.ts';

export type { OneTime } from './sql-expressions.ts';

export interface BatchSqlInput {
  readonly ir: FeatureSetIR;
  readonly dialect: Dialect;
  /** Relation text of the event log (a table name or a table function call). */
  readonly events: string;
  /** Relation text of item / user metadata, or null when there is none. */
  readonly items: string | null;
  readonly users: string | null;
  /** Relation text of each embedding table the views read, by name (absent or null: the log has none). */
  readonly embeddings?: Readonly<Record<string, string | null>>;
  /** Relation with `__row`, `__t` (ms) and a VARCHAR column for every entity key of every view. */
  readonly queries: string;
  /** Only these views (default: all). */
  readonly views?: readonly FeatureViewIR[];
  /**
   * Every query row has this same time (a backfill). Then grouping each key's events before that
   * time is linear, and beats the window strategy, which sorts events and queries together. The
   * rows then come back unordered (a backfill's millions of keys): order them by __row to read them.
   */
  readonly oneTime?: OneTime;
  /** Numeric input columns whose sums and means may run as exact decimal running totals (see renderMagnitudeSql). */
  readonly exactColumns?: ReadonlySet<string>;
  /**
   * Views whose key partitions are all small (measured on the log, see `run.ts`): their counts, sums
   * and means are window frames over each key's events and query rows, not running totals.
   */
  readonly framedViews?: ReadonlySet<string>;
}

const DAY = 86_400_000;
const HOUR = 3_600_000;
const EVENT_COLUMNS = ['event_id', 'user_id', 'item_id', 'ts', 'type', 'value', 'duration', 'device', 'country', 'session_id', 'watch_fraction', 'weight', 'hour_of_day', 'hour_bucket', 'day_type'] as const;

/** Every key column the queries relation must carry for these views. */
export function queryKeyColumns(views: readonly FeatureViewIR[]): string[] {
  return [...new Set(views.flatMap((v) => v.entity.keys))];
}

export function renderFeatureSql(input: BatchSqlInput): string {
  const { ir, dialect: d } = input;
  const views = input.views ?? ir.views;
  const q = (name: string) => d.ident(name);
  const ctes: string[] = [`__ev AS (\n${eventsCte(input)}\n)`];
  const joins: string[] = [];
  const selects: string[] = [`q.__row AS __row`];

  views.forEach((v, vi) => {
    const alias = `v${vi}`;
    const keyJoin = (rel: string) => v.entity.keys.map((k, i) => `${rel}.__k${i} = q.${q(k)}`).join(' AND ');
    if (v.kind === 'lookup') {
      const table = v.table === 'items' ? input.items : input.users;
      if (table !== null) {
        ctes.push(`${alias} AS (\n  SELECT CAST(${TABLE_KEYS[v.table]} AS ${d.types.varchar}) AS __k0, ${v.columns.map((c) => q(c.name)).join(', ')}\n  FROM ${table}\n)`);
        joins.push(`LEFT JOIN ${alias} ON ${keyJoin(alias)}`);
      }
      for (const c of v.columns) selects.push(`${withDefault(d, table === null ? 'NULL' : `${alias}.${q(c.name)}`, c.default, c.type)} AS ${q(featureColumn(v.name, c.name))}`);
      return;
    }
    if (v.kind === 'embedding') {
      // The key's latest version published before each query's time (ts < t, as for events).
      const table = input.embeddings?.[v.table] ?? null;
      if (table !== null) {
        const key = `CAST(${q(v.entity.keys[0] as string)} AS ${d.types.varchar})`;
        ctes.push(
          `${alias} AS (\n  SELECT __k0, __t, vector FROM (\n    SELECT k.__k0, k.__t, e.vector, ROW_NUMBER() OVER (PARTITION BY k.__k0, k.__t ORDER BY e.ts DESC) AS __rn\n` +
            `    FROM (SELECT DISTINCT ${key} AS __k0, __t FROM ${input.queries} AS qk) AS k\n    JOIN ${table} AS e ON CAST(e.key AS ${d.types.varchar}) = k.__k0 AND e.ts < k.__t\n  ) AS r WHERE __rn = 1\n)`,
        );
        joins.push(`LEFT JOIN ${alias} ON ${keyJoin(alias)} AND ${alias}.__t = q.__t`);
      }
      selects.push(`${table === null ? `CAST(NULL AS ${d.types.doubles})` : `${alias}.vector`} AS ${q(featureColumn(v.name, EMBEDDING_OUTPUT.name))}`);
      return;
    }
    if (v.kind === 'session') {
      ctes.push(...sessionCtes(input, v, alias));
      joins.push(`LEFT JOIN ${alias} ON ${keyJoin(alias)} AND ${alias}.__t = q.__t`);
      for (const [name, type, dflt] of [['session_event_count', 'int', 0], ['session_item_count', 'int', 0], ['session_length_ms', 'int', null], ['session_age_ms', 'int', null]] as const) {
        selects.push(`${withDefault(d, `${alias}.${name}`, dflt, type)} AS ${q(featureColumn(v.name, name))}`);
      }
      return;
    }
    // Each part (a relation of keys, __t and some aggregates) is joined to the query rows: through
    // one CTE of the distinct queried keys, or, at one time, each part directly (one join less).
    const parts = aggregationCtes(input, v, alias, ctes);
    const owner = new Map<string, string>();
    for (const p of parts) {
      joins.push(`LEFT JOIN ${p.cte} ON ${keyJoin(p.cte)} AND ${p.cte}.__t = q.__t`);
      for (const c of p.columns) owner.set(c, p.cte);
    }
    const valueOf = (name: string) => {
      const a = v.aggregations.find((x) => x.name === name) as AggregationIR;
      return withDefault(d, `${owner.get(a.name)}.${q(a.name)}`, a.default, a.type);
    };
    for (const a of v.aggregations) {
      const expr =
        a.op === 'ratio'
          ? // The default unless both parts are numbers and the denominator is not 0 (a null mean has none), as the stream engine and the reference do.
            `CASE WHEN ${valueOf(a.denominator as string)} <> 0 AND ${valueOf(a.numerator as string)} IS NOT NULL THEN ${d.fdiv(valueOf(a.numerator as string), valueOf(a.denominator as string))} ELSE ${literalOf(d, a.default, a.type)} END`
          : valueOf(a.name);
      selects.push(`${expr} AS ${q(featureColumn(v.name, a.name))}`);
    }
  });

  // At one time (a backfill's millions of keys) the rows are left unsorted: every reader of the result orders it itself.
  const order = input.oneTime === undefined ? '\nORDER BY q.__row' : '';
  return `WITH\n${ctes.join(',\n')}\nSELECT\n  ${selects.join(',\n  ')}\nFROM ${input.queries} AS q\n${joins.join('\n')}${order}`;
}

/**
 * The distinct keys of one entity that exist as of `at`: seen in a view's stream before it (so a
 * category reached through metadata or a derived negative counts), or in the lookup's table.
 */
export function renderEntityKeysSql(input: Omit<BatchSqlInput, 'queries'>, views: readonly FeatureViewIR[], at: number): string {
  const { dialect: d } = input;
  const names = (views[0] as FeatureViewIR).entity.keys;
  const keys = names.map((k) => d.ident(k));
  // Every row of a derived stream (abandons, negatives, a category join) is one event's columns
  // with a time no earlier: when a view reads the plain log and the keys are event columns, the
  // derived streams add no key (and are not run).
  const plainLog = views.some((v) => v.kind === 'session' || (v.kind === 'aggregation' && v.stream.kind === 'events' && v.via === null));
  const eventKeys = names.every((k) => (EVENT_COLUMNS as readonly string[]).includes(k));
  const subsumed = (v: FeatureViewIR) => plainLog && eventKeys && v.kind === 'aggregation' && (v.stream.kind !== 'events' || v.via !== null) && (v.via === null || !names.includes(v.via.as));
  // Each distinct source once: views reading the same stream (an aggregation and a session view of
  // the plain log) would read it twice, and a CTE read twice is materialized whole (a user backfill
  // over 10M events: 1.08 s for its keys instead of ~0.2 s).
  const sources = [...new Set(views.filter((v) => !subsumed(v)).flatMap((v) => {
    if (v.kind === 'lookup') {
      const table = v.table === 'items' ? input.items : input.users;
      return table === null ? [] : [`SELECT CAST(${TABLE_KEYS[v.table]} AS ${d.types.varchar}) AS ${keys[0]} FROM ${table}`];
    }
    if (v.kind === 'embedding') {
      const table = input.embeddings?.[v.table] ?? null;
      return table === null ? [] : [`SELECT CAST(key AS ${d.types.varchar}) AS ${keys[0]} FROM ${table} WHERE ts < ${at}`];
    }
    const stream = v.kind === 'aggregation' ? streamSql({ ...input, queries: '' }, v) : 'SELECT * FROM __ev';
    return [`SELECT ${keys.map((k) => `CAST(${k} AS ${d.types.varchar}) AS ${k}`).join(', ')} FROM (${stream}) AS s WHERE ts < ${at} AND ${keys.map((k) => `${k} IS NOT NULL`).join(' AND ')}`];
  }))];
  if (sources.length === 0) return `SELECT ${keys.map((k) => `CAST(NULL AS ${d.types.varchar}) AS ${k}`).join(', ')} WHERE FALSE`;
  return `WITH __ev AS (\n${eventsCte({ ...input, queries: '' })}\n)\nSELECT DISTINCT * FROM (${sources.join('\nUNION ALL\n')}) AS k`;
}

/** The log with the derived columns every view may read. */
function eventsCte({ ir, dialect: d, events }: BatchSqlInput): string {
  const weights = Object.entries(ir.weights);
  const weight = weights.length === 0 ? '0' : `CASE type ${weights.map(([t, w]) => `WHEN ${d.literal(t)} THEN ${d.literal(w)}`).join(' ')} ELSE 0 END`;
  const hour = `(${d.floorDiv('ts', String(HOUR))} - 24 * ${d.floorDiv('ts', String(DAY))})`;
  const dow = `(${d.floorDiv('ts', String(DAY))} + 4)`;
  return [
    `  SELECT event_id, user_id, item_id, ts, type, value, duration, device, country, session_id,`,
    `    CASE WHEN duration > 0 THEN ${d.fdiv('value', 'duration')} END AS watch_fraction,`,
    `    CAST(${weight} AS ${d.types.double}) AS weight,`,
    `    ${hour} AS hour_of_day,`,
    `    CASE WHEN ${hour} < 6 THEN 'night' WHEN ${hour} < 12 THEN 'morning' WHEN ${hour} < 18 THEN 'afternoon' ELSE 'evening' END AS hour_bucket,`,
    `    CASE WHEN ${dow} - 7 * ${d.floorDiv(dow, '7')} IN (0, 6) THEN 'weekend' ELSE 'weekday' END AS day_type`,
    `  FROM ${events}`,
  ].join('\n');
}

function streamSql(input: BatchSqlInput, v: AggregationViewIR): string {
  const { dialect: d } = input;
  const s = v.stream;
  let sql: string;
  if (s.kind === 'events') sql = 'SELECT * FROM __ev';
  else if (s.kind === 'abandon') sql = `SELECT * FROM __ev WHERE type IN (${s.types.map(d.literal).join(', ')}) AND watch_fraction < ${d.literal(s.below)}`;
  else {
    const cols = EVENT_COLUMNS.map((c) => (c === 'ts' ? `i.ts + ${s.timeoutMs} AS ts` : `i.${c}`)).join(', ');
    const shown = `type IN (${s.impressionTypes.map(d.literal).join(', ')})`;
    const played = `type IN (${s.playTypes.map(d.literal).join(', ')})`;
    // Where frames may be bounded by offsets, the plays in (ts, ts + timeout] are one window count
    // over each (user, item)'s impressions and plays, sorted once: an anti-join matched each
    // impression against the user's plays (a slice of the 1M-row benchmark spine: 3.5 → 3.0 s).
    sql = d.variableFrames
      ? `SELECT ${cols} FROM (SELECT *, count(*) FILTER (WHERE ${played} AND user_id IS NOT NULL) OVER (PARTITION BY user_id, item_id ORDER BY ts RANGE BETWEEN 1 FOLLOWING AND ${s.timeoutMs} FOLLOWING) AS __played FROM __ev WHERE (${shown} OR ${played}) AND item_id IS NOT NULL) AS i WHERE i.${shown} AND i.__played = 0`
      : `SELECT ${cols} FROM __ev AS i WHERE i.${shown} AND i.item_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM __ev AS p WHERE p.${played} AND p.user_id = i.user_id AND p.item_id = i.item_id AND p.ts > i.ts AND p.ts <= i.ts + ${s.timeoutMs})`;
  }
  if (v.via === null) return sql;
  const table = v.via.table === 'items' ? input.items : input.users;
  if (table === null) return `SELECT s.*, CAST(NULL AS ${d.types.varchar}) AS ${d.ident(v.via.as)} FROM (${sql}) AS s WHERE FALSE`;
  const key = TABLE_KEYS[v.via.table];
  return `SELECT s.*, c.__cat AS ${d.ident(v.via.as)} FROM (${sql}) AS s JOIN (SELECT DISTINCT CAST(${key} AS ${d.types.varchar}) AS __key, ${d.explode(d.ident(v.via.column))} AS __cat FROM ${table}) AS c ON c.__key = s.${key}`;
}

/** Pushes a view's CTEs to `ctes`; returns the relations its aggregates are read from (keys __k0.., __t). */
function aggregationCtes(input: BatchSqlInput, v: AggregationViewIR, alias: string, ctes: string[]): { cte: string; columns: string[] }[] {
  const { dialect: d } = input;
  const q = (name: string) => d.ident(name);
  const keys = v.entity.keys.map((_, i) => `__k${i}`);
  const computed = v.aggregations.filter((a) => a.op !== 'ratio');
  const oneTime = input.oneTime !== undefined;
  // Running totals sort every event and read point in one global order, which beats per-key frames
  // only where a key's partition is large (a popular item's hundreds of thousands of events).
  const running = oneTime || !d.runningTotals || input.framedViews?.has(v.name) === true ? [] : computed.filter((a) => a.op === 'count' || ((a.op === 'sum' || a.op === 'mean') && input.exactColumns?.has(a.input as string) === true));
  // last (any window) and lifetime first by a point-in-time join: as window functions they would sort every event the value is read from.
  const picked = oneTime || !d.nativeAsof || !d.variableFrames ? [] : computed.filter((a) => a.op === 'last' || (a.op === 'first' && a.window.kind === 'lifetime'));
  const windowed = oneTime ? [] : computed.filter((a) => windowable(d, a) && !running.includes(a) && !picked.includes(a));
  // At one time, last_k is each value's latest time grouped by key (the joined strategy): no sort.
  const spanned = oneTime ? [] : computed.filter((a) => a.op === 'last_k');
  const fanned = oneTime ? [] : computed.filter((a) => a.op === 'top_k' || a.op === 'histogram');
  const joined = computed.filter((a) => !windowed.includes(a) && !running.includes(a) && !spanned.includes(a) && !fanned.includes(a) && !picked.includes(a));
  if (!input.oneTime?.everyKey) {
    ctes.push(`${alias}__q AS (\n  SELECT DISTINCT ${v.entity.keys.map((k, i) => `${q(k)} AS __k${i}`).join(', ')}, __t FROM ${input.queries} WHERE ${v.entity.keys.map((k) => `${q(k)} IS NOT NULL`).join(' AND ')}\n)`);
  }
  ctes.push(`${alias}__s AS (\n  SELECT ${v.entity.keys.map((k, i) => `${q(k)} AS __k${i}`).join(', ')}, s.* FROM (${streamSql(input, v)}) AS s WHERE ${v.entity.keys.map((k) => `${q(k)} IS NOT NULL`).join(' AND ')}\n)`);
  const parts: { cte: string; columns: string[] }[] = [];
  if (joined.length > 0) parts.push(...joinedCtes(d, joined, alias, keys, ctes, input.oneTime));
  // One window pass per set of events read: each sorts only its own events (a distinct count of
  // plays need not sort every impression because a decayed sum of weights reads them).
  const passesByEvents = new Map<string, AggregationIR[]>();
  for (const a of windowed) {
    const reads = eventsReadBy(d, [a], true);
    passesByEvents.set(reads, [...(passesByEvents.get(reads) ?? []), a]);
  }
  [...passesByEvents.values()].forEach((group, i) => parts.push(...windowCtes(d, group, alias, keys, ctes, i === 0 ? alias : `${alias}__g${i}`)));
  if (running.length > 0) parts.push(runningCte(d, running, alias, keys, ctes));
  picked.forEach((a, i) => parts.push(pickedCte(d, a, `${alias}__x${i}`, alias, keys, ctes)));
  spanned.forEach((a, i) => parts.push(spanCte(d, a, `${alias}__r${i}`, alias, keys, ctes)));
  // One pass per (value, filter, weight): a histogram and a top-k of the same column share it.
  const passes = new Map<string, AggregationIR[]>();
  for (const a of fanned) {
    const sig = JSON.stringify([a.input, a.filter, a.weight]);
    passes.set(sig, [...(passes.get(sig) ?? []), a]);
  }
  const integral = integralWeights(input.ir) ? new Set(['weight']) : new Set<string>();
  [...passes.values()].forEach((group, i) => parts.push(...fannedCtes(d, group, `${alias}__h${i}`, alias, keys, ctes, integral)));
  if (oneTime) return parts;
  const on = (x: string) => [...keys, '__t'].map((k) => `${x}.${k} = qq.${k}`).join(' AND ');
  ctes.push(
    `${alias} AS (\n  SELECT qq.*${parts.flatMap((p, i) => p.columns.map((c) => `, p${i}.${q(c)}`)).join('')}\n  FROM ${alias}__q AS qq${parts.map((p, i) => `\n  LEFT JOIN ${p.cte} AS p${i} ON ${on(`p${i}`)}`).join('')}\n)`,
  );
  return [{ cte: alias, columns: parts.flatMap((p) => p.columns) }];
}

/**
 * The total magnitude of each numeric input column over the log (as the views read it): sums and
 * means over columns whose total stays far below the exact decimal's range (±1e20, with room for a
 * category fan-out) take the running-total path.
 */
export function renderMagnitudeSql(input: Omit<BatchSqlInput, 'queries'>, columns: readonly string[]): string {
  const { dialect: d } = input;
  return `WITH __ev AS (\n${eventsCte({ ...input, queries: '' })}\n)\nSELECT ${columns.map((c) => `coalesce(sum(abs(${d.ident(c)})), 0) AS ${d.ident(c)}`).join(', ')} FROM __ev`;
}

/**
 * Whether the derived `weight` column holds only integers small enough that any sum of them over a
 * log (up to 10^9 events) fits a BIGINT: every event-type weight is a whole number of at most 10^9.
 */
function integralWeights(ir: FeatureSetIR): boolean {
  return Object.values(ir.weights).every((w) => Number.isInteger(w) && Math.abs(w) <= 1e9);
}

/** Total magnitude below which a column's sums run as exact decimals (DECIMAL(38, 18) holds ±1e20). */
export const EXACT_SUM_LIMIT = 1e17;

/**
 * Sessions: split each user's events by the gap (one row per distinct time, so ties cannot
 * reorder), accumulate counts within the session, then take the latest state before t.
 */
function sessionCtes(input: BatchSqlInput, v: SessionViewIR, alias: string): string[] {
  const { dialect: d } = input;
  const gap = v.gapMs;
  const filter = condition(d, { window: { kind: 'lifetime' } } as AggregationIR, v.filter);
  const running = 'ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW';
  if (input.oneTime !== undefined) return sessionAtOneTimeCtes(d.literal(input.oneTime.at), gap, filter, alias);
  return [
    `${alias}__e AS (\n  SELECT user_id, ts, item_id FROM __ev WHERE ${filter}\n)`,
    `${alias}__t AS (\n  SELECT user_id, ts, count(*) AS n FROM ${alias}__e GROUP BY user_id, ts\n)`,
    `${alias}__g AS (\n  SELECT user_id, ts, n, CASE WHEN ts - lag(ts) OVER (PARTITION BY user_id ORDER BY ts) < ${gap} THEN 0 ELSE 1 END AS new_session FROM ${alias}__t\n)`,
    `${alias}__i AS (\n  SELECT user_id, ts, n, sum(new_session) OVER (PARTITION BY user_id ORDER BY ts ${running}) AS sid FROM ${alias}__g\n)`,
    `${alias}__f AS (\n  SELECT user_id, ts, count(DISTINCT item_id) AS new_items FROM (SELECT e.user_id, e.ts, e.item_id, min(e.ts) OVER (PARTITION BY e.user_id, i.sid, e.item_id) AS first_ts FROM ${alias}__e AS e JOIN ${alias}__i AS i ON i.user_id = e.user_id AND i.ts = e.ts WHERE e.item_id IS NOT NULL) AS x\n  WHERE ts = first_ts GROUP BY user_id, ts\n)`,
    `${alias}__p AS (\n  SELECT i.user_id, i.ts, min(i.ts) OVER (PARTITION BY i.user_id, i.sid) AS start_ts,\n    sum(i.n) OVER (PARTITION BY i.user_id, i.sid ORDER BY i.ts ${running}) AS events,\n    sum(coalesce(f.new_items, 0)) OVER (PARTITION BY i.user_id, i.sid ORDER BY i.ts ${running}) AS items\n  FROM ${alias}__i AS i LEFT JOIN ${alias}__f AS f ON f.user_id = i.user_id AND f.ts = i.ts\n)`,
    `${alias}__q AS (\n  SELECT DISTINCT user_id, __t FROM ${input.queries} WHERE user_id IS NOT NULL\n)`,
    `${alias} AS (\n  SELECT l.user_id AS __k0, l.__t,\n    CASE WHEN l.__t - r.ts < ${gap} THEN r.events END AS session_event_count,\n    CASE WHEN l.__t - r.ts < ${gap} THEN r.items END AS session_item_count,\n    CASE WHEN l.__t - r.ts < ${gap} THEN r.ts - r.start_ts END AS session_length_ms,\n    CASE WHEN l.__t - r.ts < ${gap} THEN l.__t - r.start_ts END AS session_age_ms\n  FROM ${d.latestBefore(`${alias}__q`, `${alias}__p`, ['user_id'], '__t', 'ts')}\n)`,
  ];
}

/**
 * Sessions when every query row has the same time T (a backfill): only each user's session open at
 * T counts, so only the users with an event in the gap before T are split into sessions, and the
 * open one is the last: from its start (the last event after a gap) to T.
 */
function sessionAtOneTimeCtes(at: string, gap: number, filter: string, alias: string): string[] {
  return [
    `${alias}__e AS (\n  SELECT user_id, ts, item_id FROM __ev WHERE ${filter} AND ts < ${at} AND user_id IS NOT NULL\n)`,
    `${alias}__o AS (\n  SELECT user_id FROM ${alias}__e GROUP BY user_id HAVING ${at} - max(ts) < ${gap}\n)`,
    `${alias}__g AS (\n  SELECT user_id, ts, CASE WHEN ts - lag(ts) OVER (PARTITION BY user_id ORDER BY ts) < ${gap} THEN 0 ELSE 1 END AS new_session\n  FROM ${alias}__e WHERE user_id IN (SELECT user_id FROM ${alias}__o)\n)`,
    `${alias}__s AS (\n  SELECT user_id, max(ts) FILTER (WHERE new_session = 1) AS start_ts, max(ts) AS last_ts FROM ${alias}__g GROUP BY user_id\n)`,
    `${alias} AS (\n  SELECT s.user_id AS __k0, ${at} AS __t, count(*) AS session_event_count, count(DISTINCT e.item_id) AS session_item_count,\n    s.last_ts - s.start_ts AS session_length_ms, ${at} - s.start_ts AS session_age_ms\n  FROM ${alias}__s AS s JOIN ${alias}__e AS e ON e.user_id = s.user_id AND e.ts >= s.start_ts\n  GROUP BY s.user_id, s.start_ts, s.last_ts\n)`,
  ];
}

function literalOf(d: Dialect, value: FeatureValue, type: string): string {
  if (value === null) return 'NULL';
  if (Array.isArray(value)) {
    if (value.length === 0) return d.emptyList();
    throw new Error('a non-empty list default is not supported in SQL');
  }
  if (typeof value === 'object') return d.emptyPairs();
  if (type === 'float' && typeof value === 'number') return `CAST(${d.literal(value)} AS ${d.types.double})`;
  return d.literal(value as string | number);
}

function withDefault(d: Dialect, expr: string, value: FeatureValue, type: string): string {
  return value === null ? expr : `coalesce(${expr}, ${literalOf(d, value, type)})`;
}

export type { LookupViewIR };
