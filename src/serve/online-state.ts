/**
 * @module The server's online state: what every backend offers the server (`ServingState`), and the
 * in-process one: the stream engine (memory), the key index beside it, and a read cache. A cached
 * read of a key is reused while the key gets no event and no window of its view moves its tail, so
 * popular items are computed once per hop instead of once per request. The store-backed state is
 * in store-state.ts.
 */
import { RecsignalError } from '../core/errors.ts';
import { isoTime } from '../core/time.ts';
import type { InteractionEvent, ItemMetadata, UserMetadata } from '../events/schema.ts';
import type { FeatureValue, FeatureViewIR, LookupViewIR } from '../features/ir.ts';
import { StreamEngine, type ApplyOutcome } from '../compute/stream/engine.ts';
import { TIME_DERIVED_KEYS } from '../plan/rows.ts';
import { eventTimeBefore, KeyIndex, keyOf, type KeyEntry } from './key-index.ts';
import type { ServingPlan, ViewPlan } from './plan.ts';
import type { EmbeddingTables } from '../store/offline/embeddings.ts';
import { EmbeddingReads } from './embedding-reads.ts';

/** `UNAVAILABLE`: the online store did not answer; the value is the feature's default. */
export type Status = 'PRESENT' | 'NOT_FOUND' | 'STALE' | 'UNAVAILABLE';
export type Fields = Record<string, string | number | null>;

export interface OnlineStateOptions {
  readonly plan: ServingPlan;
  readonly items: readonly ItemMetadata[];
  readonly users: readonly UserMetadata[];
  /** The embedding tables of the feature set's embedding views (default none). */
  readonly embeddings?: EmbeddingTables;
  /** Allowed lateness of events (ms). */
  readonly lateness: number;
  /** Features older than this (t − event time) are STALE; undefined: never. */
  readonly maxAgeMs?: number;
  /** Cached reads kept per view (default 200,000); 0: none. */
  readonly maxCachedReads?: number;
}

/** One read's result, written into arrays indexed by view (no object per read). */
export interface ReadSlots {
  readonly values: (ReadonlyMap<string, FeatureValue> | undefined)[];
  readonly statuses: Status[];
  readonly eventTs: (number | null)[];
}

/** Reads views for a request's fields as of t, synchronously (a store-backed state fetched them before). */
export interface StateReader {
  readInto(vp: ViewPlan, fields: Fields, t: number, slots: ReadSlots): void;
  /** True when the store did not answer: every stateful read is UNAVAILABLE, and so are crosses over them. */
  readonly unavailable: boolean;
}

/** Calls `visit` once per read a request will make: the views, and the fields they are keyed from. */
export type ReadPlan = (visit: (views: readonly ViewPlan[], fields: Readonly<Fields>) => void) => void;

/** One applied event: its outcome, and the watermark it was judged against (for the "late" message). */
export interface ApplyResult {
  readonly outcome: ApplyOutcome | 'error';
  readonly watermark: number;
  readonly error?: Error;
}

/** The store's condition, for /health and /metrics. */
export interface StateHealth {
  readonly ok: boolean;
  /** Why not, and what happens meanwhile. */
  readonly message?: string;
  /** `memory`, or `<kind> up|down|rebuilding`. */
  readonly store: string;
}

/** What the server needs of its online state, in memory or in a store. */
export interface ServingState {
  readonly plan: ServingPlan;
  /** `memory`, `redis`, `redis-cluster`. */
  readonly kind: string;
  /** The newest event time applied (the store's, for a store-backed state); -Infinity before any. */
  readonly watermark: number;
  readonly lateness: number;
  /** Reads or applies that failed inside the store, or were answered or refused without it (store down). */
  errors: number;
  /** Builds the state from the log's events at start; `onEvent` counts them. */
  bootstrap(events: AsyncIterable<InteractionEvent>, onEvent: () => void, stop: () => boolean): Promise<void>;
  /** A reader for the reads `plan` lists (as of t): the memory state is its own reader; a store reads every key in one round trip. */
  reader(t: number, plan: ReadPlan): StateReader | Promise<StateReader>;
  /**
   * Applies events in order. The memory state applies them before returning (synchronously); a store
   * rejects with IO_FAILED, having applied none, when it is unavailable.
   */
  applyEvents(events: readonly InteractionEvent[]): ApplyResult[] | Promise<ApplyResult[]>;
  health(): StateHealth;
  /** Keys held per view, where known. */
  sizes(): Record<string, number>;
  /** Reads served by the store's process cache and those that went to the store, when it has one. */
  cacheStats?(): { readonly hits: number; readonly misses: number } | null;
  close(): Promise<void>;
}

/** Cached reads kept per view by default; past it the oldest cached goes first. */
const MAX_CACHED_READS = 200_000;

/**
 * The key entries of one view that hold a cached read, oldest cached first (a ring once full): what
 * bounds the cache. The reads themselves are kept on the key index's entries, which a read finds
 * anyway, so a cached read needs no joined key and no look-up of its own (in a profile of the bench's
 * fetch path, Map look-ups were ~26% of the time).
 */
class CachedEntries {
  private readonly held: KeyEntry[] = [];
  private next = 0;

  constructor(private readonly capacity: number) {}

  /** `e` gets a cached read; the oldest one goes when the view holds `capacity` (> 0). */
  add(e: KeyEntry): void {
    if (this.held.length < this.capacity) {
      this.held.push(e);
      return;
    }
    (this.held[this.next] as KeyEntry).cached = undefined;
    this.held[this.next] = e;
    this.next = (this.next + 1) % this.capacity;
  }
}

export class OnlineState implements ServingState, StateReader {
  readonly kind = 'memory';
  readonly unavailable = false;
  readonly engine: StreamEngine;
  readonly index: KeyIndex;
  /** Reads that failed inside the store (not bad requests). */
  errors = 0;
  readonly plan: ServingPlan;
  private readonly maxAgeMs: number;
  private readonly notFound: ReadonlyMap<string, FeatureValue>[];
  /** Lookup views' reads by key (metadata: read once per key and kept). */
  private readonly lookups: Map<string, ReadonlyMap<string, FeatureValue>>[];
  /** Per view: the entries holding a cached read; null when the view's reads are not cached. */
  private readonly cached: (CachedEntries | null)[];
  private readonly derivedKeys: boolean[];
  private readonly embeddingReads: EmbeddingReads;

  constructor(o: OnlineStateOptions) {
    this.plan = o.plan;
    this.index = new KeyIndex(o.plan.compiled.ir.views, o.items, o.users);
    const embeddings = o.embeddings ?? new Map();
    this.engine = new StreamEngine(o.plan.compiled, { lateness: o.lateness, items: o.items, users: o.users, embeddings, observer: this.index });
    this.maxAgeMs = o.maxAgeMs ?? Infinity;
    this.embeddingReads = new EmbeddingReads(o.plan.views, embeddings, this.maxAgeMs);
    // What a key without state reads as (defaults, ratios of defaults): computed once per view.
    this.notFound = notFoundValues(o.plan, this.engine);
    this.lookups = o.plan.views.map(() => new Map());
    const capacity = o.maxCachedReads ?? MAX_CACHED_READS;
    this.cached = o.plan.views.map((vp) => (vp.cacheable && capacity > 0 ? new CachedEntries(capacity) : null));
    this.derivedKeys = o.plan.views.map((vp) => vp.keys.some((k) => TIME_DERIVED_KEYS[k] !== undefined));
  }

  get watermark(): number {
    return this.engine.watermark;
  }

  get lateness(): number {
    return this.engine.lateness;
  }

  async bootstrap(events: AsyncIterable<InteractionEvent>, onEvent: () => void, stop: () => boolean): Promise<void> {
    for await (const e of events) {
      if (stop()) break;
      this.apply(e);
      onEvent();
    }
    this.engine.compact();
    this.index.compact();
  }

  reader(): StateReader {
    return this;
  }

  apply(e: InteractionEvent): ApplyOutcome {
    return this.engine.apply(e);
  }

  /** Applies each event at once; one that throws (a bug, not bad input) is an `error` and counted. */
  applyEvents(events: readonly InteractionEvent[]): ApplyResult[] {
    return events.map((e) => {
      const watermark = this.engine.watermark;
      try {
        return { outcome: this.apply(e), watermark };
      } catch (error) {
        this.errors++;
        return { outcome: 'error', watermark, error: error as Error };
      }
    });
  }

  health(): StateHealth {
    return { ok: true, store: 'memory' };
  }

  sizes(): Record<string, number> {
    return this.engine.sizes();
  }

  async close(): Promise<void> {}

  /** Reads one view for a request's fields as of t into the slots at the view's index. */
  readInto(vp: ViewPlan, fields: Fields, t: number, slots: ReadSlots): void {
    const keyFields = this.derivedKeys[vp.index] ? withDerivedKeys(vp.keys, fields, t) : fields;
    if (vp.view.kind === 'lookup') this.readLookup(vp, vp.view, keyFields, fields, t, slots);
    else if (vp.view.kind === 'embedding') {
      if (!this.embeddingReads.readInto(vp, keyOf(vp.keys, keyFields), t, slots)) this.miss(vp.index, slots);
    } else this.readState(vp, keyFields, fields, t, slots);
  }

  /** A metadata view: read once per key and kept (metadata does not change while the server runs). */
  private readLookup(vp: ViewPlan, v: LookupViewIR, keyFields: Fields, fields: Fields, t: number, slots: ReadSlots): void {
    const i = vp.index;
    const key = keyOf(vp.keys, keyFields);
    if (key === null) return this.miss(i, slots);
    const lookups = this.lookups[i] as Map<string, ReadonlyMap<string, FeatureValue>>;
    let values = lookups.get(key);
    if (values === undefined) {
      // Only keys of the table are cached, so a cached key needs no second look-up.
      if (!(v.table === 'items' ? this.index.hasItem(key) : this.index.hasUser(key))) return this.miss(i, slots);
      values = this.engine.readView(v, fields, t);
      lookups.set(key, values);
    }
    slots.values[i] = values;
    slots.statuses[i] = 'PRESENT';
    slots.eventTs[i] = null;
  }

  /** An aggregation or session view: the key index says whether the key has state before t (most candidates have none). */
  private readState(vp: ViewPlan, keyFields: Fields, fields: Fields, t: number, slots: ReadSlots): void {
    const i = vp.index;
    const entry = this.index.find(i, keyFields);
    if (entry === null || entry === undefined || entry.first >= t) return this.miss(i, slots);
    let values: ReadonlyMap<string, FeatureValue>;
    const c = entry.cached;
    if (c !== undefined && c.version === entry.version && t >= c.from && t < c.until) {
      values = c.values;
    } else {
      values = this.readEngine(vp, fields, t);
      const cached = this.cached[i] as CachedEntries | null;
      if (cached !== null && entry.latest < t) {
        if (c === undefined) cached.add(entry);
        const span = unchangedSpan(vp, entry.latest, t);
        entry.cached = { values, version: entry.version, from: span.from, until: span.until };
      }
    }
    const eventTs = eventTimeBefore(entry, t);
    slots.values[i] = values;
    slots.statuses[i] = eventTs !== null && t - eventTs > this.maxAgeMs ? 'STALE' : 'PRESENT';
    slots.eventTs[i] = eventTs;
  }

  private miss(i: number, slots: ReadSlots): void {
    slots.values[i] = this.notFound[i];
    slots.statuses[i] = 'NOT_FOUND';
    slots.eventTs[i] = null;
  }

  private readEngine(vp: ViewPlan, fields: Fields, t: number): ReadonlyMap<string, FeatureValue> {
    try {
      return readView(this.engine, vp.view, fields, t);
    } catch (e) {
      if (!(e instanceof RecsignalError && e.code === 'INVALID_INPUT')) this.errors++;
      throw e;
    }
  }
}

/**
 * The times around t at which a cacheable view's values read as at t, for a key whose newest event
 * is `latest` (< t): after that event, and within the hop of each sliding window (a window's start
 * moves only at hop boundaries).
 */
export function unchangedSpan(vp: ViewPlan, latest: number, t: number): { from: number; until: number } {
  let from = latest + 1;
  let until = Infinity;
  for (const w of vp.windows) {
    const lo = Math.floor((t - w.length) / w.hop) * w.hop + w.length;
    if (lo > from) from = lo;
    if (lo + w.hop < until) until = lo + w.hop;
  }
  return { from, until };
}

/** What a key without state reads as, per view (defaults, ratios of defaults): computed once. */
export function notFoundValues(plan: ServingPlan, engine: StreamEngine): ReadonlyMap<string, FeatureValue>[] {
  return plan.views.map((vp) => engine.readView(vp.view, Object.fromEntries(vp.keys.map((k) => [k, '\u0000none'])), 0));
}

/** One view's values as of t; a time older than the state keeps is the caller's mistake (INVALID_INPUT). */
export function readView(engine: StreamEngine, v: FeatureViewIR, fields: Fields, t: number): ReadonlyMap<string, FeatureValue> {
  try {
    return engine.readView(v, fields, t);
  } catch (e) {
    if (e instanceof RangeError) {
      throw new RecsignalError(
        'INVALID_INPUT',
        `ts ${isoTime(t)} is older than the online state keeps for ${v.name} (${e.message}); ask for a time at or after the watermark minus twice the allowed lateness, or build a training set offline for past times`,
        { cause: e },
      );
    }
    throw new RecsignalError('IO_FAILED', `online store read of ${v.name} failed: ${(e as Error).message}`, { cause: e });
  }
}

function withDerivedKeys(keys: readonly string[], fields: Fields, t: number): Fields {
  const out: Fields = { ...fields };
  for (const k of keys) {
    const derive = TIME_DERIVED_KEYS[k];
    if ((out[k] === undefined || out[k] === null) && derive) out[k] = derive(t);
  }
  return out;
}
