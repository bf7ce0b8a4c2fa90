/**
 * @module Partial aggregates (Chronon's "IR" of an aggregation): one per op, each with add, merge
 * and finalize. Tiles, the lifetime accumulator and the pending head of a window are all partials;
 * a window's value is the merge of its tiles' partials, finalized at the read time.
 */
import { compareText } from '../../core/text-order.ts';
import type { AggregationIR, FeatureValue } from '../../features/ir.ts';

/** One event row as the stream engine keeps it: the derived columns included. */
export interface StreamRow {
  readonly ts: number;
  readonly eventId: string;
  readonly cols: Readonly<Record<string, string | number | null>>;
}

export type Partial =
  | { kind: 'count'; n: number }
  | { kind: 'moments'; n: number; sum: number; mean: number; m2: number }
  | { kind: 'extreme'; v: number | null }
  | { kind: 'pick'; ts: number; id: string; v: string | number | null }
  | { kind: 'distinct'; values: Set<string> }
  | { kind: 'latest'; at: Map<string, number> }
  | { kind: 'weights'; w: Map<string, number> }
  | { kind: 'decay'; s: number; tau: number; n: number }
  | { kind: 'decay_mean'; sv: number; sw: number; tau: number };

export function emptyPartial(a: AggregationIR): Partial {
  switch (a.op) {
    case 'count':
      return { kind: 'count', n: 0 };
    case 'sum':
    case 'mean':
    case 'stddev':
      return { kind: 'moments', n: 0, sum: 0, mean: 0, m2: 0 };
    case 'min':
    case 'max':
      return { kind: 'extreme', v: null };
    case 'first':
    case 'last':
      return { kind: 'pick', ts: a.op === 'first' ? Infinity : -Infinity, id: '', v: null };
    case 'count_distinct':
      return { kind: 'distinct', values: new Set() };
    case 'last_k':
      return { kind: 'latest', at: new Map() };
    case 'top_k':
    case 'histogram':
      return { kind: 'weights', w: new Map() };
    case 'decayed_sum':
    case 'decayed_count':
      return { kind: 'decay', s: 0, tau: -Infinity, n: 0 };
    case 'decayed_mean':
      return { kind: 'decay_mean', sv: 0, sw: 0, tau: -Infinity };
    case 'ratio':
      throw new Error('ratio has no partial: it is computed from two outputs');
  }
}

/** Adds one row; the caller has applied the filter. Rows whose input is null are skipped. */
export function addRow(a: AggregationIR, p: Partial, r: StreamRow): void {
  const x = a.input === null ? 1 : r.cols[a.input];
  if (x === null || x === undefined) return;
  switch (p.kind) {
    case 'count':
      p.n++;
      return;
    case 'moments': {
      // Welford: numerically steady mean and M2, mergeable with Chan's formula.
      const v = x as number;
      p.n++;
      p.sum += v;
      const d = v - p.mean;
      p.mean += d / p.n;
      p.m2 += d * (v - p.mean);
      return;
    }
    case 'extreme': {
      const v = x as number;
      if (p.v === null || (a.op === 'min' ? v < p.v : v > p.v)) p.v = v;
      return;
    }
    case 'pick':
      if (a.op === 'first' ? before(r.ts, r.eventId, p.ts, p.id) : before(p.ts, p.id, r.ts, r.eventId)) {
        p.ts = r.ts;
        p.id = r.eventId;
        p.v = x as string | number;
      }
      return;
    case 'distinct':
      p.values.add(String(x));
      return;
    case 'latest': {
      const key = String(x);
      if ((p.at.get(key) ?? -Infinity) < r.ts) p.at.set(key, r.ts);
      return;
    }
    case 'weights': {
      const key = String(x);
      const w = a.weight === null ? 1 : ((r.cols[a.weight] as number | null) ?? 0);
      p.w.set(key, (p.w.get(key) ?? 0) + w);
      return;
    }
    case 'decay':
      addDecayed(p, a.op === 'decayed_count' ? 1 : (x as number), r.ts, a.halfLifeMs as number);
      return;
    case 'decay_mean': {
      const h = a.halfLifeMs as number;
      if (r.ts >= p.tau) {
        const f = p.tau === -Infinity ? 0 : Math.pow(2, (p.tau - r.ts) / h);
        p.sv = p.sv * f + (x as number);
        p.sw = p.sw * f + 1;
        p.tau = r.ts;
      } else {
        const f = Math.pow(2, (r.ts - p.tau) / h);
        p.sv += (x as number) * f;
        p.sw += f;
      }
      return;
    }
  }
}

function before(ts1: number, id1: string, ts2: number, id2: string): boolean {
  return ts1 < ts2 || (ts1 === ts2 && compareText(id1, id2) < 0);
}

/** Σ v · 2^((ts − τ)/h) kept at the newest time τ, so exponents never grow positive. */
function addDecayed(p: Extract<Partial, { kind: 'decay' }>, v: number, ts: number, h: number): void {
  p.n++;
  if (ts >= p.tau) {
    p.s = (p.tau === -Infinity ? 0 : p.s * Math.pow(2, (p.tau - ts) / h)) + v;
    p.tau = ts;
  } else {
    p.s += v * Math.pow(2, (ts - p.tau) / h);
  }
}

/** Merges `from` into `into` (same aggregation). */
export function mergeInto(a: AggregationIR, into: Partial, from: Partial): void {
  switch (into.kind) {
    case 'count':
      into.n += (from as typeof into).n;
      return;
    case 'moments': {
      const f = from as typeof into;
      if (f.n === 0) return;
      const n = into.n + f.n;
      const d = f.mean - into.mean;
      into.m2 += f.m2 + (d * d * into.n * f.n) / n;
      into.mean += (d * f.n) / n;
      into.sum += f.sum;
      into.n = n;
      return;
    }
    case 'extreme': {
      const v = (from as typeof into).v;
      if (v !== null && (into.v === null || (a.op === 'min' ? v < into.v : v > into.v))) into.v = v;
      return;
    }
    case 'pick': {
      const f = from as typeof into;
      if (f.v === null) return;
      if (into.v === null || (a.op === 'first' ? before(f.ts, f.id, into.ts, into.id) : before(into.ts, into.id, f.ts, f.id))) {
        into.ts = f.ts;
        into.id = f.id;
        into.v = f.v;
      }
      return;
    }
    case 'distinct':
      for (const v of (from as typeof into).values) into.values.add(v);
      return;
    case 'latest':
      for (const [k, ts] of (from as typeof into).at) if ((into.at.get(k) ?? -Infinity) < ts) into.at.set(k, ts);
      return;
    case 'weights':
      for (const [k, w] of (from as typeof into).w) into.w.set(k, (into.w.get(k) ?? 0) + w);
      return;
    case 'decay': {
      const f = from as typeof into;
      if (f.n === 0) return;
      const h = a.halfLifeMs as number;
      if (into.n === 0) Object.assign(into, f);
      else if (f.tau >= into.tau) {
        into.s = into.s * Math.pow(2, (into.tau - f.tau) / h) + f.s;
        into.tau = f.tau;
        into.n += f.n;
      } else {
        into.s += f.s * Math.pow(2, (f.tau - into.tau) / h);
        into.n += f.n;
      }
      return;
    }
    case 'decay_mean': {
      const f = from as typeof into;
      if (f.sw === 0 && f.tau === -Infinity) return;
      const h = a.halfLifeMs as number;
      if (into.tau === -Infinity) Object.assign(into, f);
      else if (f.tau >= into.tau) {
        const k = Math.pow(2, (into.tau - f.tau) / h);
        into.sv = into.sv * k + f.sv;
        into.sw = into.sw * k + f.sw;
        into.tau = f.tau;
      } else {
        const k = Math.pow(2, (f.tau - into.tau) / h);
        into.sv += f.sv * k;
        into.sw += f.sw * k;
      }
      return;
    }
  }
}

/** The feature value as of t; null when nothing was aggregated (the caller applies the default). */
export function finalize(a: AggregationIR, p: Partial, t: number): FeatureValue {
  switch (p.kind) {
    case 'count':
      return p.n === 0 ? null : p.n;
    case 'moments':
      if (p.n === 0) return null;
      return a.op === 'sum' ? p.sum : a.op === 'mean' ? p.mean : Math.sqrt(Math.max(0, p.m2 / p.n));
    case 'extreme':
      return p.v;
    case 'pick':
      return p.v;
    case 'distinct':
      return p.values.size === 0 ? null : p.values.size;
    case 'latest':
      if (p.at.size === 0) return null;
      return topKeys(p.at, a.k as number, newerFirst);
    case 'weights':
      if (p.w.size === 0) return null;
      if (a.op === 'histogram') return Object.fromEntries([...p.w.entries()].sort((x, y) => compareText(x[0], y[0])));
      return topKeys(p.w, a.k as number, heavierFirst);
    case 'decay':
      return p.n === 0 ? null : p.s * Math.pow(2, (p.tau - t) / (a.halfLifeMs as number));
    case 'decay_mean':
      return p.tau === -Infinity || p.sw === 0 ? null : p.sv / p.sw;
  }
}

/** Keeps a last_k partial to the values that can still make a top k: bounded memory per tile. */
export function compact(a: AggregationIR, p: Partial): void {
  if (p.kind !== 'latest' || p.at.size <= 2 * (a.k as number)) return;
  const at = p.at;
  p.at = new Map(topKeys(at, a.k as number, newerFirst).map((v) => [v, at.get(v) as number]));
}

/** last_k's order: the newest time first; at equal times the greater value first. */
function newerFirst(v1: string, ts1: number, v2: string, ts2: number): boolean {
  return ts1 > ts2 || (ts1 === ts2 && compareText(v1, v2) > 0);
}

/** top_k's order: the heaviest first; at equal weights the smaller value first. */
function heavierFirst(v1: string, w1: number, v2: string, w2: number): boolean {
  return w1 > w2 || (w1 === w2 && compareText(v1, v2) < 0);
}

/**
 * The k first keys of `m` in the order `first` (a strict total order: keys are distinct), first
 * first. An insertion into a buffer of k instead of sorting every entry: no entry arrays, one
 * array of k (last_k and top_k finalize on every read, over maps of up to a few hundred values).
 */
function topKeys(m: ReadonlyMap<string, number>, k: number, first: (v1: string, x1: number, v2: string, x2: number) => boolean): string[] {
  const keys: string[] = [];
  const xs: number[] = [];
  m.forEach((x, key) => {
    let i = keys.length;
    if (i === k) {
      if (k === 0 || !first(key, x, keys[k - 1] as string, xs[k - 1] as number)) return;
      i = k - 1;
    }
    while (i > 0 && first(key, x, keys[i - 1] as string, xs[i - 1] as number)) {
      keys[i] = keys[i - 1] as string;
      xs[i] = xs[i - 1] as number;
      i--;
    }
    keys[i] = key;
    xs[i] = x;
  });
  return keys;
}

/** A partial as JSON-safe data: Maps and Sets as arrays, infinities as null. */
export function partialToJson(p: Partial): unknown {
  switch (p.kind) {
    case 'distinct':
      return { kind: p.kind, values: [...p.values] };
    case 'latest':
      return { kind: p.kind, at: [...p.at.entries()] };
    case 'weights':
      return { kind: p.kind, w: [...p.w.entries()] };
    case 'pick':
      return { ...p, ts: Number.isFinite(p.ts) ? p.ts : null };
    case 'decay':
    case 'decay_mean':
      return { ...p, tau: Number.isFinite(p.tau) ? p.tau : null };
    default:
      return p;
  }
}

export function partialFromJson(a: AggregationIR, data: unknown): Partial {
  const d = data as Record<string, unknown> & { kind: Partial['kind'] };
  switch (d.kind) {
    case 'distinct':
      return { kind: 'distinct', values: new Set(d['values'] as string[]) };
    case 'latest':
      return { kind: 'latest', at: new Map(d['at'] as [string, number][]) };
    case 'weights':
      return { kind: 'weights', w: new Map(d['w'] as [string, number][]) };
    case 'pick':
      return { ...(d as Extract<Partial, { kind: 'pick' }>), ts: (d['ts'] as number | null) ?? (a.op === 'first' ? Infinity : -Infinity) };
    case 'decay':
    case 'decay_mean':
      return { ...(d as Extract<Partial, { kind: 'decay' | 'decay_mean' }>), tau: (d['tau'] as number | null) ?? -Infinity } as Partial;
    default:
      return { ...(d as Partial) };
  }
}
