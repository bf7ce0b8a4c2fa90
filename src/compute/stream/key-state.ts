/**
 * @module The state of one entity key of one aggregation view: the recent rows kept raw, and per
 * aggregation the hop tiles (or the lifetime accumulator) its older rows were folded into, plus
 * a running partial of the raw rows. Reads merge tiles in the sawtooth window with the raw rows.
 */
import type { AggregationIR, AggregationViewIR, FeatureValue } from '../../features/ir.ts';
import { windowStart } from '../../plan/rows.ts';
import { addRow, compact, emptyPartial, finalize, mergeInto, partialFromJson, partialToJson, type Partial, type StreamRow } from './partials.ts';
import { rowPasses } from './rows.ts';

/** Lifetime aggregations fold whole days: their raw head never holds more than a day and the lateness. */
const LIFETIME_HOP = 86_400_000;

interface Slot {
  readonly a: AggregationIR;
  readonly hop: number;
  /** Rows before this time are folded (into tiles or the accumulator); it is a multiple of hop. */
  foldedUpTo: number;
  /** Sliding windows: tile index → partial of the folded rows in [i·hop, (i+1)·hop). */
  readonly tiles: Map<number, Partial> | null;
  /** Lifetime: every folded row. */
  readonly folded: Partial | null;
  /** The raw rows at or after foldedUpTo. */
  pending: Partial;
}

export class KeyState {
  /** Raw rows, in time order (then event id). */
  rows: StreamRow[] = [];
  latest = -Infinity;
  private readonly slots: Slot[];
  /** The earliest horizon at which a fold would move any slot: below it `fold` returns at once. */
  private nextFold = -Infinity;

  constructor(private readonly view: AggregationViewIR) {
    this.slots = view.aggregations
      .filter((a) => a.op !== 'ratio')
      .map((a) => ({
        a,
        hop: a.window.kind === 'lifetime' ? LIFETIME_HOP : a.window.hopMs,
        foldedUpTo: -Infinity,
        tiles: a.window.kind === 'lifetime' ? null : new Map(),
        folded: a.window.kind === 'lifetime' ? emptyPartial(a) : null,
        pending: emptyPartial(a),
      }));
  }

  add(row: StreamRow): void {
    insertSorted(this.rows, row);
    if (row.ts > this.latest) this.latest = row.ts;
    for (const s of this.slots) {
      if (row.ts >= s.foldedUpTo) {
        if (rowPasses(s.a.filter, row)) addRow(s.a, s.pending, row);
      } else {
        // Older than the fold: only reachable through a lateness larger than the fold horizon's margin.
        this.foldRow(s, row);
      }
    }
  }

  /** Removes a row (a derived negative that a later play cancelled) and rebuilds the running partials. */
  remove(eventId: string, ts: number): boolean {
    const i = this.rows.findIndex((r) => r.eventId === eventId && r.ts === ts);
    if (i < 0) return false;
    this.rows.splice(i, 1);
    for (const s of this.slots) this.rebuildPending(s);
    return true;
  }

  /**
   * Folds rows older than `horizon` (rounded down to each hop) into tiles, drops tiles no window
   * can reach from the horizon on, and trims the raw rows every slot has folded.
   */
  fold(horizon: number): void {
    if (horizon < this.nextFold) return;
    for (const s of this.slots) {
      const upTo = Math.floor(horizon / s.hop) * s.hop;
      if (upTo <= s.foldedUpTo) continue;
      for (let i = firstAtOrAfter(this.rows, s.foldedUpTo); i < this.rows.length; i++) {
        const r = this.rows[i] as StreamRow;
        if (r.ts >= upTo) break;
        this.foldRow(s, r);
      }
      s.foldedUpTo = upTo;
      this.rebuildPending(s);
      if (s.tiles !== null && s.a.window.kind === 'sliding') {
        const oldest = Math.floor(windowStart(s.a.window, upTo) / s.hop);
        for (const i of s.tiles.keys()) if (i < oldest) s.tiles.delete(i);
      }
    }
    let keepFrom = Infinity;
    let nextFold = Infinity;
    for (const s of this.slots) {
      if (s.foldedUpTo < keepFrom) keepFrom = s.foldedUpTo;
      const next = Math.floor(horizon / s.hop) * s.hop + s.hop;
      if (next < nextFold) nextFold = next;
    }
    this.nextFold = nextFold;
    if (keepFrom > -Infinity && keepFrom < Infinity) {
      let cut = 0;
      while (cut < this.rows.length && (this.rows[cut] as StreamRow).ts < keepFrom) cut++;
      if (cut > 0) this.rows = this.rows.slice(cut);
    }
  }

  private foldRow(s: Slot, r: StreamRow): void {
    if (!rowPasses(s.a.filter, r)) return;
    if (s.folded !== null) {
      addRow(s.a, s.folded, r);
      compact(s.a, s.folded);
      return;
    }
    const i = Math.floor(r.ts / s.hop);
    let tile = s.tiles?.get(i);
    if (!tile) {
      tile = emptyPartial(s.a);
      s.tiles?.set(i, tile);
    }
    addRow(s.a, tile, r);
    compact(s.a, tile);
  }

  private rebuildPending(s: Slot): void {
    s.pending = emptyPartial(s.a);
    for (let i = firstAtOrAfter(this.rows, s.foldedUpTo); i < this.rows.length; i++) {
      const r = this.rows[i] as StreamRow;
      if (rowPasses(s.a.filter, r)) addRow(s.a, s.pending, r);
    }
  }

  /**
   * Every aggregation's value as of t (ratios excluded; null where nothing was aggregated).
   * Exact for any t at or after the folds (see `fold`); earlier reads are refused.
   */
  read(t: number): Map<string, FeatureValue> {
    const out = new Map<string, FeatureValue>();
    for (const s of this.slots) out.set(s.a.name, this.readSlot(s, t));
    return out;
  }

  /** The state as JSON-safe data (for snapshots and remote stores). */
  toJSON(): unknown {
    const fin = (x: number) => (Number.isFinite(x) ? x : null);
    return {
      rows: this.rows.map((r) => [r.ts, r.eventId, ownColumns(r.cols)]),
      latest: fin(this.latest),
      nextFold: fin(this.nextFold),
      slots: this.slots.map((s) => ({
        foldedUpTo: fin(s.foldedUpTo),
        tiles: s.tiles === null ? null : [...s.tiles.entries()].map(([i, p]) => [i, partialToJson(p)]),
        folded: s.folded === null ? null : partialToJson(s.folded),
        pending: partialToJson(s.pending),
      })),
    };
  }

  static fromJSON(view: AggregationViewIR, data: unknown): KeyState {
    const d = data as { rows: [number, string, Record<string, string | number | null>][]; latest: number | null; nextFold: number | null; slots: { foldedUpTo: number | null; tiles: [number, unknown][] | null; folded: unknown; pending: unknown }[] };
    const st = new KeyState(view);
    st.rows = d.rows.map(([ts, eventId, cols]) => ({ ts, eventId, cols }));
    st.latest = d.latest ?? -Infinity;
    st.nextFold = d.nextFold ?? -Infinity;
    st.slots.forEach((s, i) => {
      const x = d.slots[i];
      if (!x) return;
      s.foldedUpTo = x.foldedUpTo ?? -Infinity;
      if (s.tiles !== null) for (const [k, p] of x.tiles ?? []) s.tiles.set(k, partialFromJson(s.a, p));
      if (s.folded !== null && x.folded !== null) Object.assign(s.folded, partialFromJson(s.a, x.folded));
      s.pending = partialFromJson(s.a, x.pending);
    });
    return st;
  }

  /** The earliest time a read is exact for. */
  get readableFrom(): number {
    return Math.max(...this.slots.map((s) => s.foldedUpTo));
  }

  private readSlot(s: Slot, t: number): FeatureValue {
    const { a } = s;
    if (t < s.foldedUpTo) throw new RangeError(`cannot read ${a.name} as of ${t}: rows before ${s.foldedUpTo} are folded`);
    const start = windowStart(a.window, t);
    const acc = emptyPartial(a);
    if (s.folded !== null) mergeInto(a, acc, s.folded);
    else if (s.tiles !== null) {
      for (let i = Math.floor(Math.max(start, 0) / s.hop); i * s.hop < s.foldedUpTo; i++) {
        const tile = s.tiles.get(i);
        if (tile) mergeInto(a, acc, tile);
        if (s.tiles.size === 0) break;
      }
    }
    if (t > this.latest && start <= s.foldedUpTo) {
      // The common case, a read at "now": every raw row is in the window.
      mergeInto(a, acc, s.pending);
    } else {
      for (const r of this.rows) {
        if (r.ts >= t) break;
        if (r.ts >= s.foldedUpTo && r.ts >= start && rowPasses(a.filter, r)) addRow(a, acc, r);
      }
    }
    return finalize(a, acc, t);
  }
}

/** A row's columns with those inherited from the event it fanned out of flattened in. */
function ownColumns(cols: Readonly<Record<string, string | number | null>>): Record<string, string | number | null> {
  const out: Record<string, string | number | null> = {};
  for (const k in cols) out[k] = cols[k] ?? null;
  return out;
}

/** The index of the first row with ts >= t (rows are in time order). */
function firstAtOrAfter(rows: readonly StreamRow[], t: number): number {
  let lo = 0;
  let hi = rows.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((rows[mid] as StreamRow).ts < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function insertSorted(rows: StreamRow[], row: StreamRow): void {
  let i = rows.length;
  while (i > 0) {
    const prev = rows[i - 1] as StreamRow;
    if (prev.ts < row.ts || (prev.ts === row.ts && prev.eventId <= row.eventId)) break;
    i--;
  }
  if (i === rows.length) rows.push(row);
  else rows.splice(i, 0, row);
}
