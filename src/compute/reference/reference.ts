/**
 * @module The reference aggregator: the plain, slow, obviously-correct oracle of every engine test.
 * It reads the semantics contract of DESIGN.md literally: for each query (keys, t) it filters the
 * events with ts < t and applies each aggregation to them. Written for obviousness, not speed.
 */
import { compareText } from '../../core/text-order.ts';
import { itemColumns, userColumns, type InteractionEvent, type ItemMetadata, type UserMetadata } from '../../events/schema.ts';
import { EMBEDDING_OUTPUT, type AggregationIR, type AggregationViewIR, type FeatureValue, type FeatureViewIR, type FilterIR, type LookupViewIR, type SessionViewIR } from '../../features/ir.ts';
import type { CompiledFeatureSet } from '../../plan/compile.ts';
import type { EmbeddingVersion } from '../../store/offline/embeddings.ts';
import { applyRequestFeatures, dayType, featureColumns, hourBucket, hourOfDay, TIME_DERIVED_KEYS, windowStart, type RequestFeatureStats } from '../../plan/rows.ts';

/** One event as a row of named columns, including the derived ones. */
type Row = Record<string, string | number | null> & { ts: number; event_id: string };

export interface ReferenceQuery {
  /** Entity keys and any request fields (device, ...). */
  readonly fields: Readonly<Record<string, string | number | null>>;
  readonly ts: number;
}

export interface ReferenceData {
  readonly events: readonly InteractionEvent[];
  readonly items?: readonly ItemMetadata[];
  readonly users?: readonly UserMetadata[];
  /** Each embedding table's versions, by table name. */
  readonly embeddings?: Readonly<Record<string, readonly EmbeddingVersion[]>>;
}

/** The value of every feature column for each query, in `featureColumns` order. */
export function referenceFeatures(compiled: CompiledFeatureSet, data: ReferenceData, queries: readonly ReferenceQuery[]): FeatureValue[][] {
  const rows = eventRows(compiled, data.events);
  const items = new Map((data.items ?? []).map((i) => [i.itemId, i]));
  const users = new Map((data.users ?? []).map((u) => [u.userId, u]));
  // Each view's rows grouped by entity key: only a lookup table, so a query reads its key's rows.
  const viewRows = new Map(
    compiled.ir.views.filter((v) => v.kind !== 'embedding').map((v) => [v.name, groupBy(v.kind === 'aggregation' ? streamRows(v, rows, items, users) : rows, (r) => keyOf(v.entity.keys.map((k) => r[k])))]),
  );
  const columns = featureColumns(compiled.ir);
  const stats: RequestFeatureStats = { errors: 0, firstError: null };

  return queries.map((q) => {
    const values = new Map<string, FeatureValue>();
    for (const v of compiled.ir.views) {
      const keys = v.entity.keys.map((k) => keyValue(q, k));
      if (v.kind === 'embedding') {
        values.set(`${v.name}:${EMBEDDING_OUTPUT.name}`, embeddingAt(data.embeddings?.[v.table] ?? [], keys[0] ?? null, q.ts));
        continue;
      }
      const out = keys.some((k) => k === null)
        ? defaultsOf(v)
        : computeView(v, (viewRows.get(v.name)?.get(keyOf(keys)) ?? []).filter((r) => r.ts < q.ts && v.entity.keys.every((k, i) => r[k] === keys[i])), q.ts, items, users, keys);
      for (const [name, value] of out) values.set(`${v.name}:${name}`, value);
    }
    const request = { ...q.fields, ts: q.ts };
    const crosses = applyRequestFeatures(compiled, (ref) => values.get(ref), request, stats);
    let cross = 0;
    return columns.map((c) => (c.view === null ? (crosses[cross++] ?? null) : (values.get(c.ref) ?? null)));
  });
}

function keyOf(values: readonly unknown[]): string {
  return JSON.stringify(values);
}

function groupBy<T>(xs: readonly T[], key: (x: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const x of xs) {
    const k = key(x);
    const list = out.get(k);
    if (list) list.push(x);
    else out.set(k, [x]);
  }
  return out;
}

function keyValue(q: ReferenceQuery, key: string): string | null {
  const v = q.fields[key];
  if (v !== undefined && v !== null) return String(v);
  const derive = TIME_DERIVED_KEYS[key];
  return derive ? derive(q.ts) : null;
}

/**
 * Drops duplicate ids (the first arrival wins) and adds the derived columns. Written here again on
 * purpose, apart from the stream engine's and the SQL's: the oracle must not share their mistakes.
 */
export function eventRows(compiled: CompiledFeatureSet, events: readonly InteractionEvent[]): Row[] {
  const seen = new Set<string>();
  const rows: Row[] = [];
  for (const e of events) {
    if (seen.has(e.eventId)) continue;
    seen.add(e.eventId);
    const str = (k: string): string | null => (typeof e.context[k] === 'string' ? (e.context[k] as string) : null);
    rows.push({
      event_id: e.eventId,
      user_id: e.userId,
      item_id: e.itemId,
      ts: e.ts,
      type: e.type,
      value: e.value,
      duration: e.duration,
      device: str('device'),
      country: str('country'),
      session_id: str('session_id'),
      watch_fraction: e.value !== null && e.duration !== null && e.duration > 0 ? e.value / e.duration : null,
      weight: compiled.ir.weights[e.type] ?? 0,
      hour_of_day: hourOfDay(e.ts),
      hour_bucket: hourBucket(e.ts),
      day_type: dayType(e.ts),
    });
  }
  return rows;
}

function streamRows(v: AggregationViewIR, rows: Row[], items: Map<string, ItemMetadata>, users: Map<string, UserMetadata>): Row[] {
  let out: Row[];
  const s = v.stream;
  if (s.kind === 'events') out = rows;
  else if (s.kind === 'abandon') {
    out = rows.filter((r) => s.types.includes(r.type as string) && r.watch_fraction !== null && (r.watch_fraction as number) < s.below);
  } else {
    const plays = groupBy(rows.filter((p) => s.playTypes.includes(p.type as string)), (p) => keyOf([p.user_id, p.item_id]));
    out = rows
      .filter((imp) => s.impressionTypes.includes(imp.type as string) && imp.item_id !== null)
      .filter((imp) => !(plays.get(keyOf([imp.user_id, imp.item_id])) ?? []).some((p) => p.ts > imp.ts && p.ts <= imp.ts + s.timeoutMs))
      .map((imp) => ({ ...imp, ts: imp.ts + s.timeoutMs }));
  }
  const via = v.via;
  if (via === null) return out;
  return out.flatMap((r) => {
    const categories = via.table === 'items' ? itemList(items.get(r.item_id as string), via.column) : [];
    return [...new Set(categories)].map((c) => ({ ...r, [via.as]: c }));
  });
}

function itemList(item: ItemMetadata | undefined, column: string): readonly string[] {
  if (!item) return [];
  return column === 'genres' ? item.genres : [];
}

/** The vector of the key's latest version published before t: a plain scan, as the contract reads. */
function embeddingAt(versions: readonly EmbeddingVersion[], key: string | null, t: number): readonly number[] | null {
  let best: EmbeddingVersion | undefined;
  for (const v of versions) if (v.key === key && v.ts < t && (best === undefined || v.ts >= best.ts)) best = v;
  return best?.vector ?? null;
}

function defaultsOf(v: FeatureViewIR): Map<string, FeatureValue> {
  return computeView(v, [], 0, new Map(), new Map(), []);
}

function computeView(v: FeatureViewIR, rows: Row[], t: number, items: Map<string, ItemMetadata>, users: Map<string, UserMetadata>, keys: (string | null)[]): Map<string, FeatureValue> {
  if (v.kind === 'lookup') return lookup(v, items, users, keys[0] ?? null);
  if (v.kind === 'session') return session(v, rows, t);
  if (v.kind === 'embedding') throw new Error('embedding views are read by embeddingAt');
  const out = new Map<string, FeatureValue>();
  const sorted = [...rows].sort(byTimeThenId);
  for (const a of v.aggregations) {
    if (a.op === 'ratio') continue;
    const start = windowStart(a.window, t);
    const value = aggregate(a, sorted.filter((r) => r.ts >= start && passes(a.filter, r)), t);
    out.set(a.name, value ?? a.default);
  }
  for (const a of v.aggregations) {
    if (a.op !== 'ratio') continue;
    const num = out.get(a.numerator as string);
    const den = out.get(a.denominator as string);
    out.set(a.name, typeof num === 'number' && typeof den === 'number' && den !== 0 ? num / den : a.default);
  }
  return new Map(v.aggregations.map((a) => [a.name, out.get(a.name) ?? null]));
}

function byTimeThenId(a: Row, b: Row): number {
  return a.ts - b.ts || compareText(a.event_id as string, b.event_id as string);
}

function passes(f: FilterIR, r: Row): boolean {
  if (f.types !== null && !f.types.includes(r.type as string)) return false;
  return f.where.every((c) => r[c.column] !== null && r[c.column] !== undefined && c.in.some((x) => String(x) === String(r[c.column])));
}

/** One aggregation over the rows in its window, in time order; null when there is nothing to aggregate. */
function aggregate(a: AggregationIR, rows: Row[], t: number): FeatureValue {
  const input = a.input;
  const present = input === null ? rows : rows.filter((r) => r[input] !== null && r[input] !== undefined);
  if (present.length === 0) return null;
  const nums = input === null ? [] : present.map((r) => r[input] as number);
  const decay = (r: Row) => Math.pow(2, (r.ts - t) / (a.halfLifeMs as number));
  switch (a.op) {
    case 'count':
      return present.length;
    case 'sum':
      return nums.reduce((s, x) => s + x, 0);
    case 'mean':
      return nums.reduce((s, x) => s + x, 0) / nums.length;
    case 'min':
      return Math.min(...nums);
    case 'max':
      return Math.max(...nums);
    case 'stddev': {
      const mean = nums.reduce((s, x) => s + x, 0) / nums.length;
      return Math.sqrt(nums.reduce((s, x) => s + (x - mean) ** 2, 0) / nums.length);
    }
    case 'first':
      return (present[0] as Row)[input as string] ?? null;
    case 'last':
      return (present[present.length - 1] as Row)[input as string] ?? null;
    case 'count_distinct':
      return new Set(present.map((r) => String(r[input as string]))).size;
    case 'last_k': {
      const latest = new Map<string, number>();
      for (const r of present) latest.set(String(r[input as string]), r.ts);
      return [...latest.entries()].sort((x, y) => y[1] - x[1] || compareText(y[0], x[0])).slice(0, a.k as number).map(([v]) => v);
    }
    case 'top_k':
    case 'histogram': {
      const totals = new Map<string, number>();
      for (const r of present) {
        const key = String(r[input as string]);
        const w = a.weight === null ? 1 : ((r[a.weight] as number | null) ?? 0);
        totals.set(key, (totals.get(key) ?? 0) + w);
      }
      if (a.op === 'histogram') return Object.fromEntries([...totals.entries()].sort((x, y) => compareText(x[0], y[0])));
      return [...totals.entries()].sort((x, y) => y[1] - x[1] || compareText(x[0], y[0])).slice(0, a.k as number).map(([k]) => k);
    }
    case 'decayed_sum':
      return present.reduce((s, r) => s + (r[input as string] as number) * decay(r), 0);
    case 'decayed_count':
      return present.reduce((s, r) => s + decay(r), 0);
    case 'decayed_mean': {
      // The weights are taken relative to the newest event (a common factor of 2^((newest − t)/h)
      // cancels), so a long-dormant history keeps its mean instead of 0/0 after underflow.
      const newest = present[present.length - 1] as Row;
      const rel = (r: Row) => Math.pow(2, (r.ts - newest.ts) / (a.halfLifeMs as number));
      const w = present.reduce((s, r) => s + rel(r), 0);
      return present.reduce((s, r) => s + (r[input as string] as number) * rel(r), 0) / w;
    }
    case 'ratio':
      return null;
  }
}

function session(v: SessionViewIR, rows: Row[], t: number): Map<string, FeatureValue> {
  const mine = rows.filter((r) => passes(v.filter, r)).sort(byTimeThenId);
  const last = mine[mine.length - 1];
  const out = new Map<string, FeatureValue>([
    ['session_event_count', 0],
    ['session_item_count', 0],
    ['session_length_ms', null],
    ['session_age_ms', null],
  ]);
  if (!last || t - last.ts >= v.gapMs) return out;
  let i = mine.length - 1;
  while (i > 0 && (mine[i] as Row).ts - (mine[i - 1] as Row).ts < v.gapMs) i--;
  const inSession = mine.slice(i);
  const start = (inSession[0] as Row).ts;
  out.set('session_event_count', inSession.length);
  out.set('session_item_count', new Set(inSession.filter((r) => r.item_id !== null).map((r) => r.item_id)).size);
  out.set('session_length_ms', last.ts - start);
  out.set('session_age_ms', t - start);
  return out;
}

function lookup(v: LookupViewIR, items: Map<string, ItemMetadata>, users: Map<string, UserMetadata>, key: string | null): Map<string, FeatureValue> {
  const out = new Map<string, FeatureValue>();
  const record: Record<string, unknown> | undefined =
    key === null ? undefined : v.table === 'items' ? mapDefined(items.get(key), itemColumns) : mapDefined(users.get(key), userColumns);
  for (const c of v.columns) {
    const value = record?.[c.name];
    out.set(c.name, value === undefined || value === null ? c.default : (value as FeatureValue));
  }
  return out;
}

function mapDefined<T, R>(x: T | undefined, f: (x: T) => R): R | undefined {
  return x === undefined ? undefined : f(x);
}
