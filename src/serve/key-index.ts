/**
 * @module Which entity keys of each view hold state, since when, and the times of their latest
 * events: what a response's status (PRESENT / NOT_FOUND / STALE) and event time come from, and what
 * invalidates a cached read. The stream engine tells it each key an event changes (it is the
 * engine's `KeyObserver`), so keys are routed in one place only.
 */
import type { KeyObserver } from '../compute/stream/engine.ts';
import { KEY_SEPARATOR, type ItemMetadata, type UserMetadata } from '../events/schema.ts';
import type { AggregationViewIR, FeatureValue, FeatureViewIR, SessionViewIR } from '../features/ir.ts';

const SEP = KEY_SEPARATOR;
/** Event times kept per key; older ones leave only their maximum (enough for reads near the watermark). */
const RECENT = 8;

export interface KeyEntry {
  /** Time of the first event routed to the key: before it, the key has no state. */
  first: number;
  latest: number;
  /** Bumped by every change to the key's state: a cached read of an older version is stale. */
  version: number;
  /** The latest event times, ascending, each once. */
  recent: number[];
  /** The newest of the times dropped from `recent` (all of which are ≤ its smallest). */
  before: number;
  /** The server's cached read of the key (see `OnlineState`), kept here to need no look-up of its own. */
  cached: CachedRead | undefined;
}

/** A key's values as of some time, valid while the key's version is `version` and for reads in [from, until). */
export interface CachedRead {
  readonly values: ReadonlyMap<string, FeatureValue>;
  readonly version: number;
  readonly from: number;
  readonly until: number;
}

type Cols = Readonly<Record<string, unknown>>;

/**
 * Entries of a view by key. A composite key (user × item) is kept by its first column, then the
 * rest: the fetch path asks for a user's hundred candidates, mostly pairs the user never met, and
 * two look-ups by strings it already holds cost less than building and hashing a joined key for one
 * look-up in a map of every pair (profiles of the fetch path had that look-up at 13% of its time).
 */
class ViewKeys {
  private readonly single = new Map<string, KeyEntry>();
  private readonly nested = new Map<string, Map<string, KeyEntry>>();
  private count = 0;

  /** The columns after the first: a composite key's inner part. */
  private readonly restNames: readonly string[];

  constructor(private readonly names: readonly string[]) {
    this.restNames = names.slice(1);
  }

  get size(): number {
    return this.names.length === 1 ? this.single.size : this.count;
  }

  /** By the joined key (as the engine names keys). */
  get(key: string): KeyEntry | undefined {
    if (this.names.length === 1) return this.single.get(key);
    const i = key.indexOf(SEP);
    return i < 0 ? undefined : this.nested.get(key.slice(0, i))?.get(key.slice(i + 1));
  }

  /** By a row's or a request's columns; null when a key column is missing. */
  find(cols: Cols): KeyEntry | undefined | null {
    const names = this.names;
    const head = cols[names[0] as string];
    if (head === null || head === undefined) return null;
    if (names.length === 1) return this.single.get(String(head));
    const rest = keyOf(this.restNames, cols);
    return rest === null ? null : this.nested.get(String(head))?.get(rest);
  }

  /** The entry of a row's key, made when first seen. */
  touch(cols: Cols, key: string, ts: number): KeyEntry {
    if (this.names.length === 1) {
      let e = this.single.get(key);
      if (e === undefined) this.single.set(key, (e = newEntry(ts)));
      return e;
    }
    const head = String(cols[this.names[0] as string]);
    const rest = keyOf(this.restNames, cols) as string;
    let inner = this.nested.get(head);
    if (inner === undefined) this.nested.set(head, (inner = new Map()));
    let e = inner.get(rest);
    if (e === undefined) {
      inner.set(rest, (e = newEntry(ts)));
      this.count++;
    }
    return e;
  }

  /** Every entry's recent times copied to an array of their exact length (see `KeyIndex.compact`). */
  compact(): void {
    for (const e of this.single.values()) e.recent = e.recent.slice();
    for (const inner of this.nested.values()) for (const e of inner.values()) e.recent = e.recent.slice();
  }

  clear(): void {
    this.single.clear();
    this.nested.clear();
    this.count = 0;
  }
}

function newEntry(ts: number): KeyEntry {
  return { first: ts, latest: ts, version: 0, recent: [], before: -Infinity, cached: undefined };
}

export class KeyIndex implements KeyObserver {
  private readonly keys: ViewKeys[];
  private readonly viewIndex: Map<FeatureViewIR, number>;
  private readonly items: ReadonlySet<string>;
  private readonly users: ReadonlySet<string>;

  /** @param views the feature set's views: `entry` takes an index into them */
  constructor(views: readonly FeatureViewIR[], items: readonly ItemMetadata[], users: readonly UserMetadata[]) {
    this.keys = views.map((v) => new ViewKeys(v.entity.keys));
    this.viewIndex = new Map(views.map((v, i) => [v, i] as const));
    this.items = new Set(items.map((i) => i.itemId));
    this.users = new Set(users.map((u) => u.userId));
  }

  added(view: AggregationViewIR | SessionViewIR, key: string, ts: number, cols: Cols): void {
    this.record((this.keys[this.indexOf(view)] as ViewKeys).touch(cols, key, ts), ts);
  }

  changed(view: AggregationViewIR, key: string): void {
    const e = this.keys[this.indexOf(view)]?.get(key);
    if (e !== undefined) e.version++;
  }

  private indexOf(view: FeatureViewIR): number {
    const i = this.viewIndex.get(view);
    if (i === undefined) throw new Error(`KeyIndex: view ${view.name} is not one of the feature set's views`);
    return i;
  }

  /** An event at `ts` changed the key: its version, first and latest times, and recent times. */
  private record(e: KeyEntry, ts: number): void {
    e.version++;
    if (ts < e.first) e.first = ts;
    if (ts > e.latest) e.latest = ts;
    const r = e.recent;
    // One event may touch a key several times (a fan-out whose category is not part of the key).
    if (r.includes(ts)) return;
    if (r.length === 0 || (r[r.length - 1] as number) < ts) r.push(ts);
    else {
      let i = r.length;
      while (i > 0 && (r[i - 1] as number) > ts) i--;
      r.splice(i, 0, ts);
    }
    if (r.length > RECENT) e.before = Math.max(e.before, r.shift() as number);
  }

  /**
   * Copies each entry's recent times to an array of their exact length, after a bulk load (the
   * server's replay of the log). An array grown by pushes holds 17 slots or more: 152 bytes for the
   * one or two times most user × item keys have, against 24–32 copied (~120 of the ~340 bytes an
   * entry took in the bench's world).
   */
  compact(): void {
    for (const k of this.keys) k.compact();
  }

  entry(viewIndex: number, key: string): KeyEntry | undefined {
    return this.keys[viewIndex]?.get(key);
  }

  /** The entry of a request's key, from its fields (no joined key is built); null when a key field is missing. */
  find(viewIndex: number, fields: Cols): KeyEntry | undefined | null {
    return (this.keys[viewIndex] as ViewKeys).find(fields);
  }

  /** Keys with state in view `viewIndex`. */
  size(viewIndex: number): number {
    return this.keys[viewIndex]?.size ?? 0;
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
