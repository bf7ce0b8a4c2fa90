/**
 * @module The state of one entity key of one aggregation view: the recent rows kept raw, and per
 * aggregation the hop tiles (or the lifetime accumulator) its older rows were folded into, plus
 * a running partial of the raw rows. Reads merge tiles in the sawtooth window with the raw rows.
 */
import type { AggregationIR, AggregationViewIR, FeatureValue } from '../../features/ir.ts';
import { windowStart } from '../../plan/rows.ts';
import { addRow, compact, emptyPartial, finalize, mergeInto, type Partial, type StreamRow } from './partials.ts';
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
      for (const r of this.rows) {
        if (r.ts >= upTo) break;
        if (r.ts >= s.foldedUpTo) this.foldRow(s, r);
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
    for (const r of this.rows) if (r.ts >= s.foldedUpTo && rowPasses(s.a.filter, r)) addRow(s.a, s.pending, r);
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
