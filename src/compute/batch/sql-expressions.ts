/**
 * @module The SQL expressions every aggregation strategy of the batch generator shares: window
 * starts, the conditions an aggregation's events must meet, the scalar aggregate of an operation,
 * the columns a pass reads. Plain functions of the IR and a dialect; no CTEs.
 */
import type { AggregationIR, FilterIR, WindowIR } from '../../features/ir.ts';
import { NUMERIC_COLUMNS } from '../../features/ir.ts';
import type { Dialect } from './dialect.ts';

/** Every query at one time `at`; `everyKey`: the queries hold every key the views' events have before it (a backfill's keys come from those events), so the events need not be matched against them. */
export interface OneTime {
  readonly at: number;
  readonly everyKey: boolean;
}

/** The start of window `w` for a query at `t`: the query time column, or a literal when every query has the same time. */
export function windowStartSql(d: Dialect, w: WindowIR, t = '__t'): string | null {
  if (w.kind === 'lifetime') return null;
  return `${d.floorDiv(`${t} - ${w.lengthMs}`, String(w.hopMs))} * ${w.hopMs}`;
}

/**
 * What an aggregation's input asks of the events it reads: a value, and for a decayed sum whose
 * default is 0 a non-zero one. A zero adds nothing, and a key left without events reads that same
 * default; the event-type weights of most events (impressions, pauses) are 0, so the decayed sums'
 * sorts and bucket totals skip them.
 */
export function inputConds(d: Dialect, a: AggregationIR): string[] {
  if (a.input === null) return [];
  const x = d.ident(a.input);
  return a.op === 'decayed_sum' && a.default === 0 ? [`${x} IS NOT NULL`, `${x} <> 0`] : [`${x} IS NOT NULL`];
}

/**
 * Keeps the events some aggregation of `aggs` reads (its filter, and its input's conditions): the
 * others add nothing to any total or frame, and dropping them first spares sorting them (a count
 * of plays need not sort every impression). Empty when an aggregation reads every event.
 */
export function eventsReadBy(d: Dialect, aggs: readonly AggregationIR[], withInput: boolean): string {
  const conds = [...new Set(aggs.map((a) => condition(d, a, a.filter, withInput ? inputConds(d, a) : [], false)))];
  return conds.includes('TRUE') ? '' : ` WHERE ${conds.map((c) => `(${c})`).join(' OR ')}`;
}

export function condition(d: Dialect, a: AggregationIR, f: FilterIR, extra: readonly string[] = [], withWindow = true, t = '__t'): string {
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
export function windowable(d: Dialect, a: AggregationIR): boolean {
  if (!d.variableFrames) return false;
  if (a.op === 'decayed_sum' || a.op === 'decayed_count') return a.window.kind === 'lifetime';
  return ['count', 'sum', 'mean', 'min', 'max', 'stddev', 'first', 'last', 'count_distinct'].includes(a.op);
}

/**
 * One aggregate's expression; `over` turns it into a window function (empty for GROUP BY); `decay`,
 * for decayed sums and counts, is the exponent x of each event's factor 2^x. A window
 * function masks its input with CASE instead of a FILTER clause (same result: the aggregates skip
 * NULLs), which DuckDB evaluates many times faster over large partitions.
 */
export function scalarExpr(d: Dialect, a: AggregationIR, cond: string, over: string, decay: string): string | null {
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
    case 'decayed_sum': return of('sum', d.scale2(x as string, decay));
    case 'decayed_count': return of('sum', d.pow2(decay));
    default: return null;
  }
}

/** The event-row columns some aggregation of `aggs` reads: time, id, type, inputs, filters and weights. */
export function columnsUsed(aggs: readonly AggregationIR[]): string[] {
  const used = new Set<string>(['ts', 'event_id', 'type']);
  for (const a of aggs) {
    if (a.input !== null) used.add(a.input);
    if (a.weight !== null) used.add(a.weight);
    for (const c of a.filter.where) used.add(c.column);
  }
  return [...used];
}

export function selectAlias(select: string): string {
  return select.slice(select.lastIndexOf(' AS ') + 4);
}

/** The time of a window-start read point: the start, or for a lifetime window a time before every event. */
export function readPoint(d: Dialect, start: string | null): string {
  return start ?? `CAST(${d.literal(-(2 ** 62))} AS ${d.types.bigint})`;
}

/**
 * last_k or top_k of the rows' `val` by `measure` with argByTop: last_k the latest first (ties: the
 * greater value), top_k the heaviest first (ties: the smaller value, hence the negated measure).
 */
export function topValues(d: Dialect, a: AggregationIR, measure: string): string {
  const top = d.argByTop as NonNullable<Dialect['argByTop']>;
  return a.op === 'last_k' ? top('max', 'val', [measure, d.binaryText('val')], a.k as number) : top('min', 'val', [`-${measure}`, d.binaryText('val')], a.k as number);
}
