/**
 * @module The state of one entity key of one aggregation view: the recent rows kept raw, and per
 * aggregation the hop tiles (or the lifetime accumulator) its older rows were folded into, plus
 * a partial of the raw rows once a read needs it. Reads merge tiles in the sawtooth window with
 * the raw rows. Adding a row only stores it: the aggregation work is done once, when it folds.
 */
import { compareText } from '../../core/text-order.ts';
import type { AggregationIR, AggregationViewIR, FeatureValue } from '../../features/ir.ts';
import { windowStart } from '../../plan/rows.ts';
import { addRow, compact, emptyPartial, finalize, mergeInto, partialFromJson, partialToJson, type Partial, type StreamRow } from './partials.ts';
import { rowPasses } from './rows.ts';
import { slotsForType, slotTakes, viewPlan, type ViewPlan } from './view-plan.ts';

/** Raw rows a key gathers before they are folded into tiles. */
const FOLD_BATCH = 32;

/**
 * The rows of every key that holds none (most keys, once folded): one shared array instead of an
 * empty one per key (32 bytes each, ~330,000 user × item keys in the bench's world). Frozen, so a
 * push that forgot to replace it throws instead of giving every key its row.
 */
const NO_ROWS: StreamRow[] = Object.freeze([]) as unknown as StreamRow[];

/**
 * What one aggregation of a key has folded; made when its first row folds. Sliding windows keep
 * their tiles as two arrays in index order (tile `at[j]` holds the partial `tiles[j]` of the
 * folded rows in [i·hop, (i+1)·hop)): rows fold in time order, so a row goes to the last tile or
 * a new one after it, and old tiles leave from the front. Cheaper than a Map for a few hundred
 * tiles at most, and for the many keys that hold one or two.
 */
interface Folded {
  at: number[] | null;
  tiles: Partial[] | null;
  /** Lifetime: every folded row. */
  readonly all: Partial | null;
  /** Bumped whenever tiles change, so a cached merge of tiles can be reused until then. */
  version: number;
  cache: { from: number; version: number; p: Partial } | null;
}

export class KeyState {
  /** Raw rows, in time order (then event id): the ones a late event or a cancelled negative may still change. */
  rows: StreamRow[] = NO_ROWS;
  /** The newest time ever added: at or after every raw row's (add relies on it). */
  latest = -Infinity;
  /** Rows before this time are folded into tiles (or the lifetime accumulator). */
  foldedUpTo = -Infinity;
  /** The time of rows[0] (Infinity when none): checked on every add without touching the rows. */
  private oldest = Infinity;
  /** Set while the engine has the key in its list of keys to fold. */
  queued = false;
  private readonly plan: ViewPlan;
  /** Per slot (made when the first row folds). */
  private folded: (Folded | undefined)[] | null = null;
  /**
   * Per slot, the partial of the raw rows: made when a read needs it, kept up to date by adds while
   * it exists, and dropped when rows fold or leave (cheaper to remake on the next read than to keep).
   */
  private pending: Partial[] | null = null;
  /**
   * No tile leaves its window before the horizon reaches this: the soonest time any slot's first
   * tile does (a lower bound). Folds before it skip the walk over every slot's tiles, a cache miss
   * a slot on every fold for a check that mostly finds nothing to drop.
   */
  private pruneFrom = -Infinity;

  constructor(view: AggregationViewIR | ViewPlan) {
    this.plan = 'aggs' in view ? view : viewPlan(view);
  }

  add(row: StreamRow): void {
    // Newer than every row ever added (the common case, events arriving in order): it goes last,
    // without a look at the last raw row, which is seldom still in the CPU's cache.
    const newest = row.ts > this.latest;
    if (newest) this.latest = row.ts;
    if (row.ts < this.foldedUpTo) {
      // Older than the fold: only reachable through a lateness larger than the fold horizon's margin.
      this.foldRow(row);
      return;
    }
    if (this.rows === NO_ROWS) this.rows = [row];
    else if (newest) this.rows.push(row);
    else insertSorted(this.rows, row);
    if (row.ts < this.oldest) this.oldest = row.ts;
    if (this.pending !== null) this.addPending(this.pending, row);
  }

  /** Removes a raw row (a derived negative that a later play cancelled). */
  remove(eventId: string, ts: number): boolean {
    const i = this.rows.findIndex((r) => r.eventId === eventId && r.ts === ts);
    if (i < 0) return false;
    this.rows.splice(i, 1);
    this.oldest = this.rows.length === 0 ? Infinity : (this.rows[0] as StreamRow).ts;
    this.pending = null;
    return true;
  }

  /**
   * Folds the raw rows older than `horizon` into their tiles (a tile may be folded in part: the
   * rest of it is still raw), drops tiles no window can reach from the horizon on, and keeps the
   * rest raw. A read as of any t >= horizon stays exact.
   */
  fold(horizon: number, minRows = FOLD_BATCH): void {
    // Raw rows read as well as tiles do: fold in batches (folding has a cost per call, not only per row).
    if (this.oldest >= horizon || this.rows.length < minRows) return;
    const rows = this.rows;
    const cut = firstAtOrAfter(rows, horizon);
    for (let i = 0; i < cut; i++) this.foldRow(rows[i] as StreamRow);
    if (horizon >= this.pruneFrom) this.prune(horizon);
    this.rows = cut === rows.length ? NO_ROWS : rows.slice(cut);
    this.oldest = this.rows.length === 0 ? Infinity : (this.rows[0] as StreamRow).ts;
    this.foldedUpTo = horizon;
    this.pending = null;
  }

  /** Drops the tiles no window can reach from the horizon on, and notes when the next one will leave. */
  private prune(horizon: number): void {
    const { aggs, hops, lengths } = this.plan;
    const folded = this.folded;
    let next = Infinity;
    for (let s = 0; folded !== null && s < aggs.length; s++) {
      const f = folded[s];
      if (f === undefined || f.at === null || f.at.length === 0) continue;
      const hop = hops[s] as number;
      const oldest = Math.floor(windowStart((aggs[s] as AggregationIR).window, horizon) / hop);
      if ((f.at[0] as number) < oldest) {
        let n = 0;
        while (n < f.at.length && (f.at[n] as number) < oldest) n++;
        f.at.splice(0, n);
        (f.tiles as Partial[]).splice(0, n);
      }
      if (f.at.length > 0) next = Math.min(next, leavesAt(f.at[0] as number, hop, lengths[s] as number));
    }
    this.pruneFrom = next;
  }

  /**
   * Copies the key's arrays to their exact length. An array grown by pushes holds 17 slots or more
   * (184 bytes for one element instead of 55), and most keys keep a few rows and tiles: after a
   * bulk load this takes about a fifth off the state's heap. Not done as arrays grow: that cost
   * a sixth of the apply throughput.
   */
  compact(): void {
    this.rows = this.rows.length === 0 ? NO_ROWS : this.rows.slice();
    for (const f of this.folded ?? []) {
      if (f === undefined || f.at === null) continue;
      f.at = f.at.slice();
      f.tiles = (f.tiles as Partial[]).slice();
    }
  }

  private foldRow(r: StreamRow): void {
    const p = this.plan;
    const slots = slotsForType(p, r.cols['type'] as string);
    for (let j = 0; j < slots.length; j++) {
      const s = slots[j] as number;
      if (!slotTakes(p, s, r)) continue;
      const a = p.aggs[s] as AggregationIR;
      const f = this.folded?.[s] ?? this.startFolding(s);
      f.version++;
      if (f.all !== null) {
        addRow(a, f.all, r);
        compact(a, f.all);
        continue;
      }
      const hop = p.hops[s] as number;
      const i = Math.floor(r.ts / hop);
      const tile = tileAt(a, f, i);
      const leaves = leavesAt(i, hop, p.lengths[s] as number);
      if (leaves < this.pruneFrom) this.pruneFrom = leaves;
      addRow(a, tile, r);
      compact(a, tile);
    }
  }

  private startFolding(s: number): Folded {
    const a = this.plan.aggs[s] as AggregationIR;
    const lifetime = a.window.kind === 'lifetime';
    const f: Folded = { at: lifetime ? null : [], tiles: lifetime ? null : [], all: lifetime ? emptyPartial(a) : null, version: 0, cache: null };
    this.folded ??= new Array<Folded | undefined>(this.plan.aggs.length).fill(undefined);
    this.folded[s] = f;
    return f;
  }

  private addPending(pending: Partial[], r: StreamRow): void {
    const p = this.plan;
    const slots = slotsForType(p, r.cols['type'] as string);
    for (let j = 0; j < slots.length; j++) {
      const s = slots[j] as number;
      if (slotTakes(p, s, r)) addRow(p.aggs[s] as AggregationIR, pending[s] as Partial, r);
    }
  }

  private pendingPartials(): Partial[] {
    if (this.pending === null) {
      const pending = this.plan.aggs.map((a) => emptyPartial(a));
      for (const r of this.rows) this.addPending(pending, r);
      this.pending = pending;
    }
    return this.pending;
  }

  /**
   * Every aggregation's value as of t (ratios excluded; null where nothing was aggregated).
   * Exact for any t at or after the fold horizon; earlier reads are refused.
   */
  read(t: number): Map<string, FeatureValue> {
    if (t < this.foldedUpTo) throw new RangeError(`cannot read as of ${t}: rows before ${this.foldedUpTo} are folded`);
    const out = new Map<string, FeatureValue>();
    const { aggs } = this.plan;
    for (let s = 0; s < aggs.length; s++) out.set((aggs[s] as AggregationIR).name, this.readSlot(s, t));
    return out;
  }

  private readSlot(s: number, t: number): FeatureValue {
    const p = this.plan;
    const a = p.aggs[s] as AggregationIR;
    const start = windowStart(a.window, t);
    const acc = emptyPartial(a);
    const f = this.folded?.[s];
    if (f !== undefined) {
      if (f.all !== null) mergeInto(a, acc, f.all);
      else if (f.at !== null && f.at.length > 0) mergeInto(a, acc, this.tilesFrom(s, f, Math.floor(Math.max(start, 0) / (p.hops[s] as number))));
    }
    if (t > this.latest && start <= this.foldedUpTo) {
      // The common case, a read at "now": every raw row is in the window.
      mergeInto(a, acc, this.pendingPartials()[s] as Partial);
    } else {
      for (const r of this.rows) {
        if (r.ts >= t) break;
        if (r.ts >= start && rowPasses(a.filter, r)) addRow(a, acc, r);
      }
    }
    return finalize(a, acc, t);
  }

  /** The merge of every tile from index `from` on (all hold rows before the fold), cached until tiles change. */
  private tilesFrom(s: number, f: Folded, from: number): Partial {
    if (f.cache !== null && f.cache.from === from && f.cache.version === f.version) return f.cache.p;
    const a = this.plan.aggs[s] as AggregationIR;
    const p = emptyPartial(a);
    const at = f.at as number[];
    const tiles = f.tiles as Partial[];
    for (let j = 0; j < at.length; j++) if ((at[j] as number) >= from) mergeInto(a, p, tiles[j] as Partial);
    f.cache = { from, version: f.version, p };
    return p;
  }

  /** The state as JSON-safe data (for snapshots and remote stores). */
  toJSON(): unknown {
    const fin = (x: number) => (Number.isFinite(x) ? x : null);
    const pending = this.pendingPartials();
    return {
      rows: this.rows.map((r) => [r.ts, r.eventId, storedColumns(r.cols, this.plan.rowColumns)]),
      latest: fin(this.latest),
      foldedUpTo: fin(this.foldedUpTo),
      slots: this.plan.aggs.map((a, s) => {
        const f = this.folded?.[s];
        const lifetime = a.window.kind === 'lifetime';
        return {
          tiles: lifetime ? null : f?.at ? f.at.map((i, j) => [i, partialToJson((f.tiles as Partial[])[j] as Partial)]) : [],
          folded: !lifetime ? null : partialToJson(f?.all ?? emptyPartial(a)),
          pending: partialToJson(pending[s] as Partial),
        };
      }),
    };
  }

  static fromJSON(view: AggregationViewIR | ViewPlan, data: unknown): KeyState {
    const d = data as { rows: [number, string, Record<string, string | number | null>][]; latest: number | null; foldedUpTo: number | null; slots: { tiles: [number, unknown][] | null; folded: unknown; pending: unknown }[] };
    const st = new KeyState(view);
    st.rows = d.rows.length === 0 ? NO_ROWS : d.rows.map(([ts, eventId, cols]) => ({ ts, eventId, cols }));
    st.oldest = st.rows.length === 0 ? Infinity : (st.rows[0] as StreamRow).ts;
    st.latest = d.latest ?? -Infinity;
    st.foldedUpTo = d.foldedUpTo ?? -Infinity;
    const pending: Partial[] = [];
    st.plan.aggs.forEach((a, s) => {
      const x = d.slots[s];
      pending.push(x ? partialFromJson(a, x.pending) : emptyPartial(a));
      if (!x) return;
      if (a.window.kind === 'lifetime') {
        if (x.folded !== null && x.folded !== undefined) Object.assign(st.startFolding(s).all as Partial, partialFromJson(a, x.folded));
      } else if (x.tiles && x.tiles.length > 0) {
        const f = st.startFolding(s);
        for (const [k, p] of [...x.tiles].sort((u, v) => u[0] - v[0])) {
          (f.at as number[]).push(k);
          (f.tiles as Partial[]).push(partialFromJson(a, p));
        }
      }
    });
    st.pending = d.slots.length === st.plan.aggs.length ? pending : null;
    return st;
  }
}

/**
 * About when tile i of a sliding window (of that hop and length) leaves every window read from the
 * horizon on: at horizon (i + 1)·hop + length, less a millisecond so that rounding can only make a
 * fold look at the tiles early, never skip them.
 */
function leavesAt(i: number, hop: number, length: number): number {
  return (i + 1) * hop + length - 1;
}

/** The tile of index i, made (in index order) when missing. */
function tileAt(a: AggregationIR, f: Folded, i: number): Partial {
  const at = f.at as number[];
  const tiles = f.tiles as Partial[];
  let j = at.length - 1;
  if (j >= 0 && at[j] === i) return tiles[j] as Partial;
  // Rows fold in time order: a row older than the last tile is rare (a late one folded directly).
  while (j >= 0 && (at[j] as number) > i) j--;
  if (j >= 0 && at[j] === i) return tiles[j] as Partial;
  const tile = emptyPartial(a);
  if (j === at.length - 1) {
    at.push(i);
    tiles.push(tile);
  } else {
    at.splice(j + 1, 0, i);
    tiles.splice(j + 1, 0, tile);
  }
  return tile;
}

/**
 * The columns of a row the view reads, and only those: a row in memory shares its event's every
 * column (one object for all views), while a stored row is the view's own.
 */
function storedColumns(cols: Readonly<Record<string, string | number | null>>, names: readonly string[]): Record<string, string | number | null> {
  const out: Record<string, string | number | null> = {};
  for (const k of names) out[k] = cols[k] ?? null;
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
    if (prev.ts < row.ts || (prev.ts === row.ts && compareText(prev.eventId, row.eventId) <= 0)) break;
    i--;
  }
  if (i === rows.length) rows.push(row);
  else rows.splice(i, 0, row);
}
