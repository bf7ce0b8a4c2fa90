/**
 * @module Which entity keys of each view hold state, since when, and the times of their latest
 * events: what a response's status (PRESENT / NOT_FOUND / STALE) and event time come from, and what
 * invalidates a cached read. Events are routed to keys the way the stream engine routes them.
 */
import type { InteractionEvent, ItemMetadata, UserMetadata } from '../events/schema.ts';
import type { AggregationViewIR } from '../features/ir.ts';
import type { CompiledFeatureSet } from '../plan/compile.ts';
import { toStreamRow, rowPasses } from '../compute/stream/rows.ts';
import { slotsForType, viewPlan } from '../compute/stream/view-plan.ts';
import type { StreamRow } from '../compute/stream/partials.ts';

const SEP = '\u0000';
/** Event times kept per key; older ones leave only their maximum (enough for reads near the watermark). */
const RECENT = 8;

export interface KeyEntry {
  /** Time of the first event routed to the key: before it, the key has no state. */
  first: number;
  latest: number;
  /** Bumped by every event routed to the key: a cached read of an older version is stale. */
  version: number;
  /** The latest event times, ascending. */
  readonly recent: number[];
  /** The newest of the times dropped from `recent` (all of which are ≤ its smallest). */
  before: number;
}

export class KeyIndex {
  private readonly keys: Map<string, KeyEntry>[];
  private readonly items: ReadonlyMap<string, ItemMetadata>;
  private readonly users: ReadonlySet<string>;

  constructor(
    private readonly compiled: CompiledFeatureSet,
    items: readonly ItemMetadata[],
    users: readonly UserMetadata[],
  ) {
    this.keys = compiled.ir.views.map(() => new Map());
    this.items = new Map(items.map((i) => [i.itemId, i]));
    this.users = new Set(users.map((u) => u.userId));
  }

  /** Records an event the engine applied. */
  add(e: InteractionEvent): void {
    const row = toStreamRow(e, this.compiled.ir.weights);
    const views = this.compiled.ir.views;
    for (let i = 0; i < views.length; i++) {
      const v = views[i];
      if (v === undefined || v.kind === 'lookup') continue;
      if (v.kind === 'session') {
        if (rowPasses(v.filter, row)) this.touch(i, String(row.cols['user_id']), row.ts);
        continue;
      }
      const s = v.stream;
      if (s.kind === 'abandon') {
        const wf = row.cols['watch_fraction'];
        if (!s.types.includes(row.cols['type'] as string) || wf === null || (wf as number) >= s.below) continue;
        this.touchRow(i, v, row, row.ts);
      } else if (s.kind === 'impression_not_played') {
        // The derived negative happens at ts + timeout (a later play may cancel it; its key keeps state).
        if (s.impressionTypes.includes(row.cols['type'] as string) && row.cols['item_id'] !== null) this.touchRow(i, v, row, row.ts + s.timeoutMs);
      } else {
        this.touchRow(i, v, row, row.ts);
      }
    }
  }

  private touchRow(viewIndex: number, v: AggregationViewIR, row: StreamRow, ts: number): void {
    // The engine keeps no state for a row none of the view's aggregations takes (by its type): neither does the index.
    if (slotsForType(viewPlan(v), row.cols['type'] as string).length === 0) return;
    if (v.via === null || !v.entity.keys.includes(v.via.as)) {
      // A fan-out whose category is not a key touches the one key, once: when the item has a category at all.
      if (v.via !== null && this.categories(v, row).length === 0) return;
      const key = keyOf(v.entity.keys, row.cols);
      if (key !== null) this.touch(viewIndex, key, ts);
      return;
    }
    for (const c of this.categories(v, row)) {
      const key = keyOf(v.entity.keys, { ...row.cols, [v.via.as]: c });
      if (key !== null) this.touch(viewIndex, key, ts);
    }
  }

  /** The categories an event fans out to, as the engine finds them. */
  private categories(v: AggregationViewIR, row: StreamRow): readonly string[] {
    const via = v.via as NonNullable<AggregationViewIR['via']>;
    const item = via.table === 'items' ? this.items.get(row.cols['item_id'] as string) : undefined;
    return item && via.column === 'genres' ? item.genres : [];
  }

  private touch(viewIndex: number, key: string, ts: number): void {
    const m = this.keys[viewIndex] as Map<string, KeyEntry>;
    let e = m.get(key);
    if (!e) {
      e = { first: ts, latest: ts, version: 0, recent: [], before: -Infinity };
      m.set(key, e);
    }
    e.version++;
    if (ts < e.first) e.first = ts;
    if (ts > e.latest) e.latest = ts;
    const r = e.recent;
    if (r.length === 0 || (r[r.length - 1] as number) <= ts) r.push(ts);
    else {
      let i = r.length;
      while (i > 0 && (r[i - 1] as number) > ts) i--;
      r.splice(i, 0, ts);
    }
    if (r.length > RECENT) e.before = Math.max(e.before, r.shift() as number);
  }

  entry(viewIndex: number, key: string): KeyEntry | undefined {
    return this.keys[viewIndex]?.get(key);
  }

  hasItem(id: string): boolean {
    return this.items.has(id);
  }

  hasUser(id: string): boolean {
    return this.users.has(id);
  }
}

/** The key string of a row or a request (null when a key column is missing). */
export function keyOf(keys: readonly string[], fields: Readonly<Record<string, unknown>>): string | null {
  if (keys.length === 1) {
    const x = fields[keys[0] as string];
    return x === null || x === undefined ? null : String(x);
  }
  let out = '';
  for (let i = 0; i < keys.length; i++) {
    const x = fields[keys[i] as string];
    if (x === null || x === undefined) return null;
    out += i === 0 ? String(x) : SEP + String(x);
  }
  return out;
}

/** The time of the key's newest event before t; null when it is not known (a read far in the past). */
export function eventTimeBefore(e: KeyEntry, t: number): number | null {
  if (e.latest < t) return e.latest;
  const r = e.recent;
  for (let i = r.length - 1; i >= 0; i--) if ((r[i] as number) < t) return r[i] as number;
  return Number.isFinite(e.before) && e.before < t ? e.before : null;
}
