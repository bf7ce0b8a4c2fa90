/**
 * @module Which entity keys of each view hold state, since when, and the times of their latest
 * events: what a response's status (PRESENT / NOT_FOUND / STALE) and event time come from, and what
 * invalidates a cached read. The stream engine tells it each key an event changes (it is the
 * engine's `KeyObserver`), so keys are routed in one place only.
 */
import type { KeyObserver } from '../compute/stream/engine.ts';
import type { ItemMetadata, UserMetadata } from '../events/schema.ts';
import type { AggregationViewIR, FeatureViewIR, SessionViewIR } from '../features/ir.ts';

const SEP = '\u0000';
/** Event times kept per key; older ones leave only their maximum (enough for reads near the watermark). */
const RECENT = 8;

export interface KeyEntry {
  /** Time of the first event routed to the key: before it, the key has no state. */
  first: number;
  latest: number;
  /** Bumped by every change to the key's state: a cached read of an older version is stale. */
  version: number;
  /** The latest event times, ascending, each once. */
  readonly recent: number[];
  /** The newest of the times dropped from `recent` (all of which are ≤ its smallest). */
  before: number;
}

export class KeyIndex implements KeyObserver {
  private readonly keys: Map<string, KeyEntry>[];
  private readonly viewIndex: Map<FeatureViewIR, number>;
  private readonly items: ReadonlySet<string>;
  private readonly users: ReadonlySet<string>;

  /** @param views the feature set's views: `entry` takes an index into them */
  constructor(views: readonly FeatureViewIR[], items: readonly ItemMetadata[], users: readonly UserMetadata[]) {
    this.keys = views.map(() => new Map());
    this.viewIndex = new Map(views.map((v, i) => [v, i] as const));
    this.items = new Set(items.map((i) => i.itemId));
    this.users = new Set(users.map((u) => u.userId));
  }

  added(view: AggregationViewIR | SessionViewIR, key: string, ts: number): void {
    this.touch(this.indexOf(view), key, ts);
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

  entry(viewIndex: number, key: string): KeyEntry | undefined {
    return this.keys[viewIndex]?.get(key);
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
