/**
 * @module The state of one entity key of one aggregation view: the recent rows kept raw, and per
 * aggregation the hop tiles (or the lifetime accumulator) its older rows were folded into, plus
 * a running partial of the raw rows. Reads merge tiles in the sawtooth window with the raw rows.
 */
import type { AggregationIR, AggregationViewIR, FeatureValue } from '../../features/ir.ts';
import { windowStart } from '../../plan/rows.ts';
import { addRow, compact, emptyPartial, finalize, mergeInto, partialFromJson, partialToJson, type Partial, type StreamRow } from './partials.ts';
import { rowPasses } from './rows.ts';

/** Raw rows a key gathers before they are folded into tiles. */
const FOLD_BATCH = 32;

interface Slot {
  readonly a: AggregationIR;
  /** The tile size: the window's hop (lifetime keeps one accumulator instead). */
  readonly hop: number;
  /** Sliding windows: tile index → partial of the folded rows in [i·hop, (i+1)·hop). */
  readonly tiles: Map<number, Partial> | null;
  /** Lifetime: every folded row. */
  readonly folded: Partial | null;
  /** The raw rows (all at or after the key's foldedUpTo), summarized. */
  pending: Partial;
  /** Bumped whenever tiles change, so a cached merge of tiles can be reused until then. */
  version: number;
  cache: { from: number; version: number; p: Partial } | null;
}

export class KeyState {
  /** Raw rows, in time order (then event id): the ones a late event or a cancelled negative may still change. */
  rows: StreamRow[] = [];
  latest = -Infinity;
  /** Rows before this time are folded into tiles (or the lifetime accumulator). */
  foldedUpTo = -Infinity;
  private readonly slots: Slot[];

  constructor(private readonly view: AggregationViewIR) {
    this.slots = view.aggregations
      .filter((a) => a.op !== 'ratio')
      .map((a) => ({
        a,
        hop: a.window.kind === 'lifetime' ? Infinity : a.window.hopMs,
        tiles: a.window.kind === 'lifetime' ? null : new Map(),
        folded: a.window.kind === 'lifetime' ? emptyPartial(a) : null,
        pending: emptyPartial(a),
        version: 0,
        cache: null,
      }));
  }

  add(row: StreamRow): void {
    if (row.ts > this.latest) this.latest = row.ts;
    if (row.ts < this.foldedUpTo) {
      // Older than the fold: only reachable through a lateness larger than the fold horizon's margin.
      for (const s of this.slots) this.foldRow(s, row);
      return;
    }
    insertSorted(this.rows, row);
    for (const s of this.slots) if (rowPasses(s.a.filter, row)) addRow(s.a, s.pending, row);
  }

  /** Removes a raw row (a derived negative that a later play cancelled) and rebuilds the running partials. */
  remove(eventId: string, ts: number): boolean {
    const i = this.rows.findIndex((r) => r.eventId === eventId && r.ts === ts);
    if (i < 0) return false;
    this.rows.splice(i, 1);
    for (const s of this.slots) this.rebuildPending(s);
    return true;
  }

  /**
   * Folds the raw rows older than `horizon` into their tiles (a tile may be folded in part: the
   * rest of it is still raw), drops tiles no window can reach from the horizon on, and keeps the
   * rest raw. A read as of any t >= horizon stays exact.
   */
  fold(horizon: number, minRows = FOLD_BATCH): void {
    const rows = this.rows;
    // Raw rows read as well as tiles do: fold in batches, so the running partials are rebuilt rarely.
    if (rows.length < minRows || (rows[0] as StreamRow).ts >= horizon) return;
    const cut = firstAtOrAfter(rows, horizon);
    for (const s of this.slots) {
      for (let i = 0; i < cut; i++) this.foldRow(s, rows[i] as StreamRow);
      if (s.tiles !== null && s.a.window.kind === 'sliding') {
        const oldest = Math.floor(windowStart(s.a.window, horizon) / s.hop);
        for (const i of s.tiles.keys()) if (i < oldest) s.tiles.delete(i);
      }
    }
    this.rows = cut === rows.length ? [] : rows.slice(cut);
    this.foldedUpTo = horizon;
    for (const s of this.slots) this.rebuildPending(s);
  }

  private foldRow(s: Slot, r: StreamRow): void {
    if (!rowPasses(s.a.filter, r)) return;
    s.version++;
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
    for (const r of this.rows) if (rowPasses(s.a.filter, r)) addRow(s.a, s.pending, r);
  }

  /**
   * Every aggregation's value as of t (ratios excluded; null where nothing was aggregated).
   * Exact for any t at or after the fold horizon; earlier reads are refused.
   */
  read(t: number): Map<string, FeatureValue> {
    if (t < this.foldedUpTo) throw new RangeError(`cannot read as of ${t}: rows before ${this.foldedUpTo} are folded`);
    const out = new Map<string, FeatureValue>();
    for (const s of this.slots) out.set(s.a.name, this.readSlot(s, t));
    return out;
  }

  private readSlot(s: Slot, t: number): FeatureValue {
    const { a } = s;
    const start = windowStart(a.window, t);
    const acc = emptyPartial(a);
    if (s.folded !== null) mergeInto(a, acc, s.folded);
    else if (s.tiles !== null && s.tiles.size > 0) mergeInto(a, acc, this.tilesFrom(s, Math.floor(Math.max(start, 0) / s.hop)));
    if (t > this.latest && start <= this.foldedUpTo) {
      // The common case, a read at "now": every raw row is in the window.
      mergeInto(a, acc, s.pending);
    } else {
      for (const r of this.rows) {
        if (r.ts >= t) break;
        if (r.ts >= start && rowPasses(a.filter, r)) addRow(a, acc, r);
      }
    }
    return finalize(a, acc, t);
  }

  /** The merge of every tile from index `from` on (all hold rows before the fold), cached until tiles change. */
  private tilesFrom(s: Slot, from: number): Partial {
    if (s.cache !== null && s.cache.from === from && s.cache.version === s.version) return s.cache.p;
    const p = emptyPartial(s.a);
    for (const [i, tile] of s.tiles as Map<number, Partial>) if (i >= from) mergeInto(s.a, p, tile);
    s.cache = { from, version: s.version, p };
    return p;
  }

  /** The state as JSON-safe data (for snapshots and remote stores). */
  toJSON(): unknown {
    const fin = (x: number) => (Number.isFinite(x) ? x : null);
    return {
      rows: this.rows.map((r) => [r.ts, r.eventId, ownColumns(r.cols)]),
      latest: fin(this.latest),
      foldedUpTo: fin(this.foldedUpTo),
      slots: this.slots.map((s) => ({
        tiles: s.tiles === null ? null : [...s.tiles.entries()].map(([i, p]) => [i, partialToJson(p)]),
        folded: s.folded === null ? null : partialToJson(s.folded),
        pending: partialToJson(s.pending),
      })),
    };
  }

  static fromJSON(view: AggregationViewIR, data: unknown): KeyState {
    const d = data as { rows: [number, string, Record<string, string | number | null>][]; latest: number | null; foldedUpTo: number | null; slots: { tiles: [number, unknown][] | null; folded: unknown; pending: unknown }[] };
    const st = new KeyState(view);
    st.rows = d.rows.map(([ts, eventId, cols]) => ({ ts, eventId, cols }));
    st.latest = d.latest ?? -Infinity;
    st.foldedUpTo = d.foldedUpTo ?? -Infinity;
    st.slots.forEach((s, i) => {
      const x = d.slots[i];
      if (!x) return;
      if (s.tiles !== null) for (const [k, p] of x.tiles ?? []) s.tiles.set(k, partialFromJson(s.a, p));
      if (s.folded !== null && x.folded !== null) Object.assign(s.folded, partialFromJson(s.a, x.folded));
      s.pending = partialFromJson(s.a, x.pending);
    });
    return st;
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
