/**
 * @module Plan → SQL: one generator renders the point-in-time feature query of a feature set for
 * any dialect. For each query row (entity keys, time t) every feature is computed from the events
 * with ts < t, in the sawtooth window of its aggregation, exactly as the semantics contract says.
 */
import type { AggregationIR, AggregationViewIR, FeatureSetIR, FeatureValue, FeatureViewIR, FilterIR, LookupViewIR, SessionViewIR, WindowIR } from '../../features/ir.ts';
import { NUMERIC_COLUMNS, TABLE_KEYS } from '../../features/ir.ts';
import { featureColumn } from '../../plan/rows.ts';
import type { Dialect } from './dialect.ts';

/** Every query at one time `at`; `everyKey`: the queries hold every key the views' events have before it (a backfill's keys come from those events), so the events need not be matched against them. */
export interface OneTime {
  readonly at: number;
  readonly everyKey: boolean;
}

export interface BatchSqlInput {
  readonly ir: FeatureSetIR;
  readonly dialect: Dialect;
  /** Relation text of the event log (a table name or a table function call). */
  readonly events: string;
  /** Relation text of item / user metadata, or null when there is none. */
  readonly items: string | null;
  readonly users: string | null;
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
          ? `CASE WHEN ${valueOf(a.denominator as string)} <> 0 THEN ${d.fdiv(valueOf(a.numerator as string), valueOf(a.denominator as string))} ELSE ${literalOf(d, a.default, a.type)} END`
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
  const sources = views.filter((v) => !subsumed(v)).flatMap((v) => {
    if (v.kind === 'lookup') {
      const table = v.table === 'items' ? input.items : input.users;
      return table === null ? [] : [`SELECT CAST(${TABLE_KEYS[v.table]} AS ${d.types.varchar}) AS ${keys[0]} FROM ${table}`];
    }
    const stream = v.kind === 'aggregation' ? streamSql({ ...input, queries: '' }, v) : 'SELECT * FROM __ev';
    return [`SELECT ${keys.map((k) => `CAST(${k} AS ${d.types.varchar}) AS ${k}`).join(', ')} FROM (${stream}) AS s WHERE ts < ${at} AND ${keys.map((k) => `${k} IS NOT NULL`).join(' AND ')}`];
  });
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
    sql = `SELECT ${cols} FROM __ev AS i WHERE i.type IN (${s.impressionTypes.map(d.literal).join(', ')}) AND i.item_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM __ev AS p WHERE p.type IN (${s.playTypes.map(d.literal).join(', ')}) AND p.user_id = i.user_id AND p.item_id = i.item_id AND p.ts > i.ts AND p.ts <= i.ts + ${s.timeoutMs})`;
  }
  if (v.via === null) return sql;
  const table = v.via.table === 'items' ? input.items : input.users;
  if (table === null) return `SELECT s.*, CAST(NULL AS ${d.types.varchar}) AS ${d.ident(v.via.as)} FROM (${sql}) AS s WHERE FALSE`;
  const key = TABLE_KEYS[v.via.table];
  return `SELECT s.*, c.__cat AS ${d.ident(v.via.as)} FROM (${sql}) AS s JOIN (SELECT DISTINCT CAST(${key} AS ${d.types.varchar}) AS __key, ${d.explode(d.ident(v.via.column))} AS __cat FROM ${table}) AS c ON c.__key = s.${key}`;
}

/** The start of window `w` for a query at `t`: the query time column, or a literal when every query has the same time. */
function windowStartSql(d: Dialect, w: WindowIR, t = '__t'): string | null {
  if (w.kind === 'lifetime') return null;
  return `${d.floorDiv(`${t} - ${w.lengthMs}`, String(w.hopMs))} * ${w.hopMs}`;
}

/**
 * What an aggregation's input asks of the events it reads: a value, and for a decayed sum whose
 * default is 0 a non-zero one. A zero adds nothing, and a key left without events reads that same
 * default; the event-type weights of most events (impressions, pauses) are 0, so the decayed sums'
 * sorts and bucket totals skip them.
 */
function inputConds(d: Dialect, a: AggregationIR): string[] {
  if (a.input === null) return [];
  const x = d.ident(a.input);
  return a.op === 'decayed_sum' && a.default === 0 ? [`${x} IS NOT NULL`, `${x} <> 0`] : [`${x} IS NOT NULL`];
}

/**
 * Keeps the events some aggregation of `aggs` reads (its filter, and its input's conditions): the
 * others add nothing to any total or frame, and dropping them first spares sorting them (a count
 * of plays need not sort every impression). Empty when an aggregation reads every event.
 */
function eventsReadBy(d: Dialect, aggs: readonly AggregationIR[], withInput: boolean): string {
  const conds = [...new Set(aggs.map((a) => condition(d, a, a.filter, withInput ? inputConds(d, a) : [], false)))];
  return conds.includes('TRUE') ? '' : ` WHERE ${conds.map((c) => `(${c})`).join(' OR ')}`;
}

function condition(d: Dialect, a: AggregationIR, f: FilterIR, extra: readonly string[] = [], withWindow = true, t = '__t'): string {
  const parts: string[] = [];
  const start = withWindow ? windowStartSql(d, a.window, t) : null;
  if (start !== null) parts.push(`ts >= ${start}`);
  if (f.types !== null) parts.push(`type IN (${f.types.map(d.literal).join(', ')})`);
  for (const c of f.where) parts.push(`${d.ident(c.column)} IN (${c.in.map((x) => d.literal(NUMERIC_COLUMNS.has(c.column) ? Number(x) : String(x))).join(', ')})`);
  parts.push(...extra);
  return parts.length === 0 ? 'TRUE' : parts.join(' AND ');
}

/**
 * Which aggregations a dialect computes with window functions over the union of events and query
 * rows (one sort per key, O(n log n)); the rest take the portable range join (each query row joined
 * to its key's events in the window, then grouped). DuckDB accepts per-row RANGE frame offsets,
 * which sawtooth windows need; PostgreSQL and Spark only take constant offsets.
 */
function windowable(d: Dialect, a: AggregationIR): boolean {
  if (!d.variableFrames) return false;
  if (a.op === 'decayed_sum' || a.op === 'decayed_count') return a.window.kind === 'lifetime';
  return ['count', 'sum', 'mean', 'min', 'max', 'stddev', 'first', 'last', 'count_distinct'].includes(a.op);
}

/**
 * One aggregate's expression; `over` turns it into a window function (empty for GROUP BY). A window
 * function masks its input with CASE instead of a FILTER clause (same result: the aggregates skip
 * NULLs), which DuckDB evaluates many times faster over large partitions.
 */
function scalarExpr(d: Dialect, a: AggregationIR, cond: string, over: string, decay: string): string | null {
  const x = a.input === null ? null : d.ident(a.input);
  const masked = over !== '' && d.argByMasked !== undefined;
  // fn over the rows that pass `cond`: fn(arg) FILTER (WHERE cond), or fn(CASE WHEN cond THEN arg END).
  const of = (fn: string, arg: string, distinct = '') => {
    if (!masked) return `${fn}(${distinct}${arg}) FILTER (WHERE ${cond})${over}`;
    const value = arg === '*' ? '1' : arg;
    return `${fn}(${distinct}${cond === 'TRUE' ? value : `CASE WHEN ${cond} THEN ${value} END`})${over}`;
  };
  const argBy = (kind: 'min' | 'max') => `${(masked ? (d.argByMasked as NonNullable<Dialect['argByMasked']>) : d.argBy)(kind, x as string, ['ts', d.binaryText('event_id')], cond)}${over}`;
  switch (a.op) {
    case 'count': return `NULLIF(${of('count', '*')}, 0)`;
    case 'sum': return of('sum', x as string);
    case 'mean': return of('avg', x as string);
    case 'min': return of('min', x as string);
    case 'max': return of('max', x as string);
    case 'stddev': return of('stddev_pop', x as string);
    case 'first': return argBy('min');
    case 'last': return argBy('max');
    case 'count_distinct': return `NULLIF(${of('count', x as string, 'DISTINCT ')}, 0)`;
    case 'decayed_sum': return of('sum', `${x} * ${decay}`);
    case 'decayed_count': return of('sum', decay);
    default: return null;
  }
}

/** Pushes a view's CTEs to `ctes`; returns the relations its aggregates are read from (keys __k0.., __t). */
function aggregationCtes(input: BatchSqlInput, v: AggregationViewIR, alias: string, ctes: string[]): { cte: string; columns: string[] }[] {
  const { dialect: d } = input;
  const q = (name: string) => d.ident(name);
  const keys = v.entity.keys.map((_, i) => `__k${i}`);
  const computed = v.aggregations.filter((a) => a.op !== 'ratio');
  const oneTime = input.oneTime !== undefined;
  const running = oneTime || !d.runningTotals ? [] : computed.filter((a) => a.op === 'count' || ((a.op === 'sum' || a.op === 'mean') && input.exactColumns?.has(a.input as string) === true));
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
  [...passes.values()].forEach((group, i) => parts.push(...fannedCtes(d, group, `${alias}__h${i}`, alias, keys, ctes)));
  if (oneTime) return parts;
  const on = (x: string) => [...keys, '__t'].map((k) => `${x}.${k} = qq.${k}`).join(' AND ');
  ctes.push(
    `${alias} AS (\n  SELECT qq.*${parts.flatMap((p, i) => p.columns.map((c) => `, p${i}.${q(c)}`)).join('')}\n  FROM ${alias}__q AS qq${parts.map((p, i) => `\n  LEFT JOIN ${p.cte} AS p${i} ON ${on(`p${i}`)}`).join('')}\n)`,
  );
  return [{ cte: alias, columns: parts.flatMap((p) => p.columns) }];
}

/**
 * The portable strategy: each query row joined to its key's events in the widest window, then
 * grouped. When every query is at one time `at` (a literal), the events before it are grouped by
 * key directly (the queried keys only), and window starts and decay read the literal.
 */
function joinedCtes(d: Dialect, aggs: readonly AggregationIR[], alias: string, keys: readonly string[], ctes: string[], one?: OneTime): { cte: string; columns: string[] }[] {
  const q = (name: string) => d.ident(name);
  const at = one === undefined ? undefined : d.literal(one.at);
  const t = at ?? '__t';
  const group = [...keys, '__t'].join(', ');
  const starts = aggs.map((a) => windowStartSql(d, a.window, t));
  const lower = starts.includes(null) ? '' : ` AND s.ts >= ${starts.length === 1 ? starts[0] : `LEAST(${starts.join(', ')})`}`;
  // Only the columns the aggregations read: the join can be large, and DuckDB may materialize it.
  const columns = [...keys, ...columnsUsed(aggs).map(q)].map((c) => `s.${c}`).join(', ');
  ctes.push(at === undefined
    ? `${alias}__j AS (\n  SELECT qq.__t, ${columns}\n  FROM ${alias}__q AS qq JOIN ${alias}__s AS s ON ${keys.map((k) => `s.${k} = qq.${k}`).join(' AND ')} AND s.ts < qq.__t${lower}\n)`
    : `${alias}__j AS (\n  SELECT ${at} AS __t, ${columns}\n  FROM ${alias}__s AS s WHERE s.ts < ${at}${lower}${one?.everyKey ? '' : ` AND EXISTS (SELECT 1 FROM ${alias}__q AS qq WHERE ${keys.map((k) => `qq.${k} = s.${k}`).join(' AND ')})`}\n)`);
  const scalar: string[] = [];
  const lists: AggregationIR[] = [];
  // decayed_mean weighs events relative to the newest one in its window (the common factor
  // cancels), so long-dormant histories do not underflow to 0/0: that needs the newest time first.
  const means = aggs.filter((a) => a.op === 'decayed_mean');
  const newest = new Map(means.map((a, i) => [a, `__newest${i}`]));
  let source = `${alias}__j`;
  if (means.length > 0) {
    ctes.push(`${alias}__m AS (\n  SELECT ${group}, ${means.map((a, i) => `max(ts) FILTER (WHERE ${condition(d, a, a.filter, [`${q(a.input as string)} IS NOT NULL`], true, t)}) AS __newest${i}`).join(', ')}\n  FROM ${alias}__j GROUP BY ${group}\n)`);
    source = `${alias}__j JOIN ${alias}__m USING (${group})`;
  }
  for (const a of aggs) {
    const cond = condition(d, a, a.filter, inputConds(d, a), true, t);
    if (a.op === 'decayed_mean') {
      const rel = d.pow2(d.fdiv(`ts - ${newest.get(a)}`, String(a.halfLifeMs)));
      scalar.push(`sum(${q(a.input as string)} * ${rel}) FILTER (WHERE ${cond}) / sum(${rel}) FILTER (WHERE ${cond}) AS ${q(a.name)}`);
      continue;
    }
    const expr = scalarExpr(d, a, cond, '', d.pow2(d.fdiv(`ts - ${t}`, String(a.halfLifeMs))));
    if (expr === null) lists.push(a);
    else scalar.push(`${expr} AS ${q(a.name)}`);
  }
  const parts: { cte: string; columns: string[] }[] = [];
  if (scalar.length > 0) {
    ctes.push(`${alias}__a AS (\n  SELECT ${group}${scalar.map((x) => `,\n    ${x}`).join('')}\n  FROM ${source} GROUP BY ${group}\n)`);
    parts.push({ cte: `${alias}__a`, columns: aggs.filter((a) => !lists.includes(a)).map((a) => a.name) });
  }
  lists.forEach((a, i) => {
    ctes.push(`${alias}__l${i} AS (\n${listCte(d, a, alias, keys)}\n)`);
    parts.push({ cte: `${alias}__l${i}`, columns: [a.name] });
  });
  return parts;
}

/**
 * The window strategy: events and query rows in one relation, each aggregate a window function
 * whose frame is the sawtooth window `[start(t), t)` (RANGE ... AND 1 PRECEDING keeps ts < t).
 * Lifetime decayed sums keep exponents bounded by anchoring at buckets of 256 half-lives: within
 * the query's bucket a running sum, before it the buckets' totals carried forward; nothing
 * overflows however far apart the timestamps are, and what underflows is truly below 2^-1022.
 */
function windowCtes(d: Dialect, aggs: readonly AggregationIR[], alias: string, keys: readonly string[], ctes: string[], name = alias): { cte: string; columns: string[] }[] {
  const q = (name: string) => d.ident(name);
  const cols = columnsUsed(aggs).filter((c) => c !== 'ts');
  ctes.push(
    `${name}__u AS (\n  SELECT ${keys.join(', ')}, ts, ${cols.map(q).join(', ')}, FALSE AS __is_q FROM ${alias}__s${eventsReadBy(d, aggs, true)}\n  UNION ALL\n  SELECT ${keys.join(', ')}, __t AS ts, ${cols.map((c) => `NULL AS ${q(c)}`).join(', ')}, TRUE AS __is_q FROM ${alias}__q\n)`,
  );
  const frames = new Map<string, string>();
  const frameOf = (spec: string) => {
    if (!frames.has(spec)) frames.set(spec, `w${frames.size}`);
    return frames.get(spec) as string;
  };
  const byKey = `PARTITION BY ${keys.join(', ')} ORDER BY ts`;
  const selects: string[] = [];
  const buckets: { a: AggregationIR; i: number; size: number }[] = [];
  aggs.forEach((a, i) => {
    const cond = condition(d, a, a.filter, ['NOT __is_q', ...inputConds(d, a)], false);
    if (a.op === 'decayed_sum' || a.op === 'decayed_count') {
      const size = 256 * (a.halfLifeMs as number);
      const bucket = d.floorDiv('ts', String(size));
      const decay = d.pow2(d.fdiv(`ts - ${bucket} * ${size}`, String(a.halfLifeMs)));
      const w = frameOf(`PARTITION BY ${keys.join(', ')}, ${bucket} ORDER BY ts RANGE BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING`);
      selects.push(`${scalarExpr(d, a, cond, ` OVER ${w}`, decay)} AS __c${i}`);
      buckets.push({ a, i, size });
      return;
    }
    const start = a.window.kind === 'lifetime' ? 'UNBOUNDED PRECEDING' : `(ts - ${d.floorDiv(`ts - ${a.window.lengthMs}`, String(a.window.hopMs))} * ${a.window.hopMs}) PRECEDING`;
    selects.push(`${scalarExpr(d, a, cond, ` OVER ${frameOf(`${byKey} RANGE BETWEEN ${start} AND 1 PRECEDING`)}`, '')} AS ${q(a.name)}`);
  });
  ctes.push(
    `${name}__w AS (\n  SELECT ${keys.join(', ')}, __t${[...selects.keys()].map((i) => `, ${selectAlias(selects[i] as string)}`).join('')} FROM (\n    SELECT ${keys.join(', ')}, ts AS __t, __is_q${selects.map((x) => `,\n      ${x}`).join('')}\n    FROM ${name}__u\n    WINDOW ${[...frames.entries()].map(([spec, name]) => `${name} AS (${spec})`).join(',\n      ')}\n  ) AS x WHERE __is_q\n)`,
  );
  const parts: { cte: string; columns: string[] }[] = [{ cte: `${name}__w`, columns: aggs.filter((a) => !buckets.some((b) => b.a === a)).map((a) => a.name) }];
  for (const { a, i, size } of buckets) {
    const cond = condition(d, a, a.filter, inputConds(d, a), false);
    const value = a.input === null ? '1' : q(a.input);
    const bucket = d.floorDiv('ts', String(size));
    ctes.push(
      `${name}__b${i} AS (\n  SELECT ${keys.join(', ')}, ${bucket} AS b, sum(${value} * ${d.pow2(d.fdiv(`ts - ${bucket} * ${size}`, String(a.halfLifeMs)))}) AS total\n  FROM ${alias}__s WHERE ${cond} GROUP BY ${keys.join(', ')}, ${bucket}\n)`,
      `${name}__d${i} AS (\n  SELECT w.${keys.join(', w.')}, w.__t,\n    CASE WHEN count(b.b) > 0 OR w.__c${i} IS NOT NULL THEN (coalesce(sum(b.total * ${d.pow2(d.fdiv(`b.b * ${size} - ${d.floorDiv('w.__t', String(size))} * ${size}`, String(a.halfLifeMs)))}), 0) + coalesce(w.__c${i}, 0))\n      * ${d.pow2(d.fdiv(`${d.floorDiv('w.__t', String(size))} * ${size} - w.__t`, String(a.halfLifeMs)))} END AS ${q(a.name)}\n  FROM ${name}__w AS w LEFT JOIN ${name}__b${i} AS b ON ${keys.map((k) => `b.${k} = w.${k}`).join(' AND ')} AND b.b < ${d.floorDiv('w.__t', String(size))}\n  GROUP BY w.${keys.join(', w.')}, w.__t, w.__c${i}\n)`,
    );
    parts.push({ cte: `${name}__d${i}`, columns: [a.name] });
  }
  return parts;
}

/** The event-row columns some aggregation of `aggs` reads: time, id, type, inputs, filters and weights. */
function columnsUsed(aggs: readonly AggregationIR[]): string[] {
  const used = new Set<string>(['ts', 'event_id', 'type']);
  for (const a of aggs) {
    if (a.input !== null) used.add(a.input);
    if (a.weight !== null) used.add(a.weight);
    for (const c of a.filter.where) used.add(c.column);
  }
  return [...used];
}

function selectAlias(select: string): string {
  return select.slice(select.lastIndexOf(' AS ') + 4);
}

/** last_k, top_k and histogram: rank the distinct values of each query row, then list them. */
function listCte(d: Dialect, a: AggregationIR, alias: string, keys: readonly string[]): string {
  const group = [...keys, '__t'].join(', ');
  const x = d.ident(a.input as string);
  const cond = condition(d, a, a.filter, [`${x} IS NOT NULL`]);
  const measure = a.op === 'last_k' ? 'max(ts)' : a.weight === null ? `CAST(count(*) AS ${d.types.double})` : `sum(coalesce(${d.ident(a.weight)}, 0))`;
  const inner = `SELECT ${group}, CAST(${x} AS ${d.types.varchar}) AS val, ${measure} AS m FROM ${alias}__j WHERE ${cond} GROUP BY ${group}, CAST(${x} AS ${d.types.varchar})`;
  if (a.op === 'histogram') return `  SELECT ${group}, ${d.pairsAgg('val', 'm')} AS ${d.ident(a.name)} FROM (${inner}) AS g GROUP BY ${group}`;
  if (d.argByTop) return `  SELECT ${group}, ${topValues(d, a, 'm')} AS ${d.ident(a.name)} FROM (${inner}) AS g GROUP BY ${group}`;
  const order = a.op === 'last_k' ? `m DESC, ${d.binaryText('val')} DESC` : `m DESC, ${d.binaryText('val')} ASC`;
  const ranked = `SELECT ${group}, val, row_number() OVER (PARTITION BY ${group} ORDER BY ${order}) AS rn FROM (${inner}) AS g`;
  return `  SELECT ${group}, ${d.listAgg('val', 'rn', `rn <= ${a.k}`)} AS ${d.ident(a.name)} FROM (${ranked}) AS r GROUP BY ${group}`;
}

/**
 * last_k or top_k of the rows' `val` by `measure` with argByTop: last_k the latest first (ties: the
 * greater value), top_k the heaviest first (ties: the smaller value, hence the negated measure).
 */
function topValues(d: Dialect, a: AggregationIR, measure: string): string {
  const top = d.argByTop as NonNullable<Dialect['argByTop']>;
  return a.op === 'last_k' ? top('max', 'val', [measure, d.binaryText('val')], a.k as number) : top('min', 'val', [`-${measure}`, d.binaryText('val')], a.k as number);
}

/** The time of a window-start read point: the start, or for a lifetime window a time before every event. */
function readPoint(d: Dialect, start: string | null): string {
  return start ?? `CAST(${d.literal(-(2 ** 62))} AS ${d.types.bigint})`;
}

/**
 * Counts, sums and means as differences of running totals. Events (one row per key and time, a
 * count — and for a sum or mean an exact decimal sum — per aggregation) and read points (t, each
 * window's start, and for lifetime ones a point before everything) go into one relation in the
 * global order (key, time, read points first at equal times); one running sum over it gives at each
 * read point the totals before it, and a window's value is the total at t less the total at its
 * start. Integers and decimals subtract exactly. No PARTITION BY, no frame per row and no ASOF join:
 * on DuckDB a window over many large partitions (a popular item's hundred thousand events) or with a
 * FILTER clause is many times slower than one ordered pass, and each ASOF join sorts the whole event
 * side again. Sums and means take this path only for columns whose total magnitude fits the
 * decimal (`exactColumns`, measured on the log); others stay window functions.
 */
function runningCte(d: Dialect, aggs: readonly AggregationIR[], alias: string, keys: readonly string[], ctes: string[]): { cte: string; columns: string[] } {
  const q = (name: string) => d.ident(name);
  const ks = keys.join(', ');
  const starts = [...new Set(aggs.map((a) => windowStartSql(d, a.window)))];
  // Each aggregation's measures: a count of its events, and for a sum or mean the exact sum of its
  // input; one running sum per distinct measure (a count over four windows is one measure).
  const measures: { expr: string; zero: string }[] = [];
  const measure = (expr: string, zero: string) => {
    const at = measures.findIndex((m) => m.expr === expr);
    return at >= 0 ? at : measures.push({ expr, zero }) - 1;
  };
  const slots = aggs.map((a) => {
    const cond = condition(d, a, a.filter, [], false);
    if (a.op === 'count') return { n: measure(`count(*) FILTER (WHERE ${cond})`, '0'), s: -1 };
    const x = d.ident(a.input as string);
    return { n: measure(`count(${x}) FILTER (WHERE ${cond})`, '0'), s: measure(`sum(CAST(${x} AS ${d.types.exact})) FILTER (WHERE ${cond})`, `CAST(0 AS ${d.types.exact})`) };
  });
  // Read point 0 is t; point j + 1 is starts[j]; a lifetime aggregation's "start" is before every event.
  const pointTime = (s: string | null) => readPoint(d, s);
  const zeros = measures.map((m, i) => `, ${m.zero} AS __c${i}`).join('');
  const reads = [`SELECT ${ks}, __t AS ts, __t, 0 AS __p, TRUE AS __isq${zeros} FROM ${alias}__q`, ...starts.map((s, j) => `SELECT ${ks}, ${pointTime(s)} AS ts, __t, ${j + 1} AS __p, TRUE AS __isq${zeros} FROM ${alias}__q`)];
  ctes.push(
    `${alias}__n AS (\n  SELECT ${ks}, ts, CAST(NULL AS ${d.types.bigint}) AS __t, -1 AS __p, FALSE AS __isq${measures.map((m, i) => `, ${m.expr} AS __c${i}`).join('')}\n  FROM ${alias}__s${eventsReadBy(d, aggs, false)} GROUP BY ${ks}, ts${reads.map((r) => `\n  UNION ALL\n  ${r}`).join('')}\n)`,
    `${alias}__nr AS (\n  SELECT * FROM (SELECT ${ks}, __t, __p, __isq${measures.map((_, i) => `, sum(__c${i}) OVER __o AS __r${i}`).join('')} FROM ${alias}__n WINDOW __o AS (ORDER BY ${ks}, ts, __isq DESC ROWS UNBOUNDED PRECEDING)) AS x WHERE __isq\n)`,
  );
  const diff = (m: number, a: AggregationIR) => `(max(__r${m}) FILTER (WHERE __p = 0) - max(__r${m}) FILTER (WHERE __p = ${starts.indexOf(windowStartSql(d, a.window)) + 1}))`;
  const values = aggs.map((a, i) => {
    const { n, s } = slots[i] as { n: number; s: number };
    if (a.op === 'count') return `NULLIF(CAST(${diff(n, a)} AS ${d.types.bigint}), 0) AS ${q(a.name)}`;
    const sum = `CAST(${diff(s, a)} AS ${d.types.double})`;
    return `CASE WHEN ${diff(n, a)} > 0 THEN ${a.op === 'sum' ? sum : `${sum} / ${diff(n, a)}`} END AS ${q(a.name)}`;
  });
  ctes.push(`${alias}__c AS (\n  SELECT ${ks}, __t, ${values.join(', ')}\n  FROM ${alias}__nr GROUP BY ${ks}, __t\n)`);
  return { cte: `${alias}__c`, columns: aggs.map((a) => a.name) };
}

/**
 * `last` in any window and lifetime `first` without a window function. last: the latest event
 * before t by (ts, event_id) (the tie rule) in one point-in-time join over the events themselves,
 * kept when it is inside the window (no grouping of every event by key and time first: ~20% less
 * work for a user's last device on the 1M-row benchmark spine). Lifetime first: per key the first
 * event by (ts, event_id), kept when it is before t.
 */
function pickedCte(d: Dialect, a: AggregationIR, name: string, alias: string, keys: readonly string[], ctes: string[]): { cte: string; columns: string[] } {
  const x = d.ident(a.input as string);
  const ks = keys.join(', ');
  const cond = condition(d, a, a.filter, [`${x} IS NOT NULL`], false);
  const col = d.ident(a.name);
  if (a.op === 'first') {
    ctes.push(
      `${name}__f AS (\n  SELECT ${ks}, min(ts) AS ts, ${d.argBy('min', x, ['ts', d.binaryText('event_id')], 'TRUE')} AS v FROM ${alias}__s WHERE ${cond} GROUP BY ${ks}\n)`,
      `${name} AS (\n  SELECT ${keys.map((k) => `qq.${k}`).join(', ')}, qq.__t, CASE WHEN f.ts < qq.__t THEN f.v END AS ${col}\n  FROM ${alias}__q AS qq LEFT JOIN ${name}__f AS f ON ${keys.map((k) => `f.${k} = qq.${k}`).join(' AND ')}\n)`,
    );
    return { cte: name, columns: [a.name] };
  }
  const start = windowStartSql(d, a.window, 'l.__t');
  ctes.push(
    `${name}__l AS (\n  SELECT ${ks}, ts, event_id, ${x} AS v FROM ${alias}__s WHERE ${cond}\n)`,
    `${name} AS (\n  SELECT ${keys.map((k) => `l.${k}`).join(', ')}, l.__t, ${start === null ? 'r.v' : `CASE WHEN r.ts >= ${start} THEN r.v END`} AS ${col}\n  FROM ${d.latestBefore(`${alias}__q`, `${name}__l`, keys, '__t', 'ts', 'event_id')}\n)`,
  );
  return { cte: name, columns: [a.name] };
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

/** Total magnitude below which a column's sums run as exact decimals (DECIMAL(38, 18) holds ±1e20). */
export const EXACT_SUM_LIMIT = 1e17;

/**
 * last_k without joining each query row to its key's history: an event is its value's latest from
 * its time until the value's next event, so the spans holding t are the distinct values before t,
 * each once, with its latest time. Those that start inside the window are ranked and listed.
 */
function spanCte(d: Dialect, a: AggregationIR, name: string, alias: string, keys: readonly string[], ctes: string[]): { cte: string; columns: string[] } {
  const x = d.ident(a.input as string);
  const group = [...keys, '__t'].join(', ');
  const start = windowStartSql(d, a.window);
  // With argByTop, each (time, value) is numbered in its key's order once, over the spans: the top k
  // then compare an integer instead of a (time, value) pair in every query row's list (~2x faster).
  const ord = d.argByTop ? `, row_number() OVER (PARTITION BY ${keys.join(', ')} ORDER BY ts, ${d.binaryText('val')}) AS ord` : '';
  ctes.push(
    `${name}__p AS (\n  SELECT ${keys.join(', ')}, val, ts, lead(ts) OVER (PARTITION BY ${keys.join(', ')}, val ORDER BY ts) AS next_ts${ord}\n  FROM (SELECT DISTINCT ${keys.join(', ')}, CAST(${x} AS ${d.types.varchar}) AS val, ts FROM ${alias}__s WHERE ${condition(d, a, a.filter, [`${x} IS NOT NULL`], false)}) AS e\n)`,
    `${name}__m AS (\n  SELECT ${keys.map((k) => `qq.${k}`).join(', ')}, qq.__t, p.val, ${d.argByTop ? 'p.ord' : `row_number() OVER (PARTITION BY ${keys.map((k) => `qq.${k}`).join(', ')}, qq.__t ORDER BY p.ts DESC, ${d.binaryText('p.val')} DESC) AS rn`}\n  FROM ${alias}__q AS qq JOIN ${name}__p AS p ON ${keys.map((k) => `p.${k} = qq.${k}`).join(' AND ')} AND p.ts < qq.__t AND (p.next_ts IS NULL OR p.next_ts >= qq.__t)${start === null ? '' : ` AND p.ts >= ${start.replaceAll('__t', 'qq.__t')}`}\n)`,
    `${name} AS (\n  SELECT ${group}, ${d.argByTop ? d.argByTop('max', 'val', ['ord'], a.k as number) : d.listAgg('val', 'rn', `rn <= ${a.k}`)} AS ${d.ident(a.name)} FROM ${name}__m GROUP BY ${group}\n)`,
  );
  return { cte: name, columns: [a.name] };
}

/**
 * The ASOF form of fannedCtes' reads: running totals per (key, value) over the events alone (one
 * row per time), then each query row's totals before t (`__rc0`, `__rw0`) and before each window
 * start j (`__rc{j+1}`, ...) by one point-in-time join each. Lifetime starts read nothing (0).
 * Both sides carry the (key, value) pair's integer surrogate `g` (from `${name}__g`): the window and
 * the joins partition and sort by one integer instead of two strings (a genre view's chunk 10.8 →
 * 9.1 s on the 1M-row benchmark spine).
 * Sorting the read points in with the events instead costs a pass over query rows × values × read
 * points, which outnumber the events on a large spine (a user's genres at each of their queries).
 */
function asofReads(d: Dialect, starts: readonly (string | null)[], name: string, keys: readonly string[]): string[] {
  const on = ['g'];
  const ctes = [
    `${name}__st AS (\n  SELECT g, ts, sum(c) OVER o AS rc, sum(w) OVER o AS rw\n  FROM (SELECT v.g, e.ts, count(*) AS c, sum(e.w) AS w FROM ${name}__e AS e JOIN ${name}__g AS v USING (${[...keys, 'val'].join(', ')}) GROUP BY v.g, e.ts) AS e\n  WINDOW o AS (PARTITION BY g ORDER BY ts ROWS UNBOUNDED PRECEDING)\n)`,
    `${name}__p AS (\n  SELECT *${starts.map((st, j) => `, ${st ?? 'NULL'} AS __s${j + 1}`).join('')} FROM ${name}__v\n)`,
    `${name}__a0 AS (\n  SELECT l.*, r.rc AS __rc0, r.rw AS __rw0 FROM ${d.latestBefore(`${name}__p`, `${name}__st`, on, '__t', 'ts')}\n)`,
  ];
  starts.forEach((st, j) => {
    const read = st === null ? `SELECT *, NULL AS __rc${j + 1}, NULL AS __rw${j + 1} FROM ${name}__a${j}` : `SELECT l.*, r.rc AS __rc${j + 1}, r.rw AS __rw${j + 1} FROM ${d.latestBefore(`${name}__a${j}`, `${name}__st`, on, `__s${j + 1}`, 'ts')}`;
    ctes.push(`${name}__a${j + 1} AS (\n  ${read}\n)`);
  });
  return ctes;
}

/**
 * top_k and histograms per (key, value), by running totals, one pass for all those reading the
 * same value, filter and weight. Each query row is fanned out to the values its key had before t;
 * a value's count and weight in a window are the totals at t less those at its start. With a
 * native ASOF join the totals run over the events alone and are read at those points (asofReads);
 * otherwise events and read points go into one global order of (key, value, time) and one running
 * sum. Weights are summed as exact decimals, so the differences carry no rounding; a weight beyond
 * ±1e20 is out of range.
 */
function fannedCtes(d: Dialect, aggs: readonly AggregationIR[], name: string, alias: string, keys: readonly string[], ctes: string[]): { cte: string; columns: string[] }[] {
  const first = aggs[0] as AggregationIR;
  const x = d.ident(first.input as string);
  const ks = keys.join(', ');
  const group = [...keys, '__t'].join(', ');
  const cond = condition(d, first, first.filter, [`${x} IS NOT NULL`], false);
  const zero = `CAST(0 AS ${d.types.exact})`;
  const weight = first.weight === null ? zero : `CAST(coalesce(${d.ident(first.weight)}, 0) AS ${d.types.exact})`;
  const starts = [...new Set(aggs.map((a) => windowStartSql(d, a.window)))];
  const point = (s: string | null) => readPoint(d, s?.replaceAll('__t', 'qq.__t') ?? null);
  ctes.push(
    `${name}__e AS (\n  SELECT ${ks}, CAST(${x} AS ${d.types.varchar}) AS val, ts, ${weight} AS w FROM ${alias}__s WHERE ${cond}\n)`,
    // Each (key, value) pair once: its first time, and with a native ASOF join an integer surrogate,
    // numbered in (key, value) order so that every reference to this CTE sees the same numbers
    // whether the engine materializes it or inlines it twice (row_number() OVER () need not).
    `${name}__g AS (\n  SELECT ${ks}, val, min(ts) AS first_ts${d.nativeAsof ? `, row_number() OVER (ORDER BY ${ks}, val) AS g` : ''} FROM ${name}__e GROUP BY ${ks}, val\n)`,
    `${name}__v AS (\n  SELECT ${keys.map((k) => `qq.${k}`).join(', ')}, qq.__t, v.val${d.nativeAsof ? ', v.g' : ''} FROM ${alias}__q AS qq JOIN ${name}__g AS v ON ${keys.map((k) => `v.${k} = qq.${k}`).join(' AND ')} AND v.first_ts < qq.__t\n)`,
  );
  if (d.nativeAsof) ctes.push(...asofReads(d, starts, name, keys));
  else {
    ctes.push(
      `${name}__n AS (\n  SELECT ${ks}, val, ts, CAST(NULL AS ${d.types.bigint}) AS __t, -1 AS __p, FALSE AS __isq, 1 AS c, w FROM ${name}__e\n  UNION ALL\n  SELECT ${ks}, val, __t, __t, 0, TRUE, 0, ${zero} FROM ${name}__v${starts.map((st, j) => `\n  UNION ALL\n  SELECT ${keys.map((k) => `qq.${k}`).join(', ')}, qq.val, ${point(st)}, qq.__t, ${j + 1}, TRUE, 0, ${zero} FROM ${name}__v AS qq`).join('')}\n)`,
      `${name}__r AS (\n  SELECT * FROM (SELECT ${ks}, val, __t, __p, __isq, sum(c) OVER o AS rc, sum(w) OVER o AS rw FROM ${name}__n WINDOW o AS (ORDER BY ${ks}, val, ts, __isq DESC ROWS UNBOUNDED PRECEDING)) AS x WHERE __isq\n)`,
    );
  }
  // The totals (count rc, weight rw) at t and at read point p: a window's value is their difference.
  const at = (col: string, p: number) => (d.nativeAsof ? `coalesce(__${col}${p}, 0)` : `max(${col}) FILTER (WHERE __p = ${p})`);
  const cols = aggs.map((a, i) => {
    const p = starts.indexOf(windowStartSql(d, a.window)) + 1;
    const n = `${at('rc', 0)} - ${at('rc', p)}`;
    return `CAST(${n} AS ${d.types.bigint}) AS __n${i}, CAST(${a.weight === null ? n : `${at('rw', 0)} - ${at('rw', p)}`} AS ${d.types.double}) AS __m${i}`;
  });
  ctes.push(
    d.nativeAsof
      ? `${name}__w AS (\n  SELECT ${group}, val, ${cols.join(', ')}\n  FROM ${name}__a${starts.length}\n)`
      : `${name}__w AS (\n  SELECT ${group}, val, ${cols.join(', ')}\n  FROM ${name}__r GROUP BY ${group}, val\n)`,
  );
  return aggs.map((a, i) => {
    const cte = `${name}_${i}`;
    const rows = `SELECT ${group}, val, __m${i} AS m FROM ${name}__w WHERE __n${i} > 0`;
    if (a.op === 'histogram') ctes.push(`${cte} AS (\n  SELECT ${group}, ${d.pairsAgg('val', 'm')} AS ${d.ident(a.name)} FROM (${rows}) AS h GROUP BY ${group}\n)`);
    else if (d.argByTop) ctes.push(`${cte} AS (\n  SELECT ${group}, ${topValues(d, a, 'm')} AS ${d.ident(a.name)} FROM (${rows}) AS h GROUP BY ${group}\n)`);
    else ctes.push(`${cte} AS (\n  SELECT ${group}, ${d.listAgg('val', 'rn', `rn <= ${a.k}`)} AS ${d.ident(a.name)} FROM (SELECT ${group}, val, row_number() OVER (PARTITION BY ${group} ORDER BY m DESC, ${d.binaryText('val')} ASC) AS rn FROM (${rows}) AS h) AS r GROUP BY ${group}\n)`);
    return { cte, columns: [a.name] };
  });
}

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
