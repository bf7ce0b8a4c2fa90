/**
 * @module The server's online state in an `OnlineStore` (Redis, Redis Cluster), in the stream
 * engine's stored layout (compute/stream/store-backed.ts): a request reads every key it needs in one
 * round trip, a batch of events is applied by `applyBatch` and written with the server's checkpoint.
 * At start the state is built from the log, unless the store already holds this feature set's
 * state. When the store fails, reads answer defaults (UNAVAILABLE) and applies are refused; a probe
 * brings it back by itself, rebuilding from the log when the store came back without the state.
 */
import { RecsignalError } from '../core/errors.ts';
import { formatDuration, isoTime } from '../core/time.ts';
import type { InteractionEvent, ItemMetadata, UserMetadata } from '../events/schema.ts';
import type { FeatureValue } from '../features/ir.ts';
import { StreamEngine } from '../compute/stream/engine.ts';
import {
  applyBatch, decodeValue, encodeWrites, entityKeyAt, readStoredState, snapshotWrites, stateKeys, StoredKeys,
  type ReadKeys, type ServeCheckpoint, type StoredState, type StoredStateOptions,
} from '../compute/stream/store-backed.ts';
import { ParsedValues } from '../compute/stream/parsed-values.ts';
import type { KeyState } from '../compute/stream/key-state.ts';
import type { OnlineStore, OnlineWrite } from '../store/online/online-store.ts';
import { notFoundValues, readView, unchangedSpan, type ApplyResult, type Fields, type ReadPlan, type ReadSlots, type ServingState, type StateHealth, type StateReader } from './online-state.ts';
import type { ServingPlan, ViewPlan } from './plan.ts';
import type { EmbeddingTables } from '../store/offline/embeddings.ts';
import { EmbeddingReads } from './embedding-reads.ts';

export interface StoreStateOptions {
  readonly plan: ServingPlan;
  readonly store: OnlineStore;
  /** Prefix of every key; keep `{` and `}` out of it. */
  readonly namespace: string;
  readonly items: readonly ItemMetadata[];
  readonly users: readonly UserMetadata[];
  /** The embedding tables of the feature set's embedding views (default none): served from process memory, as metadata is. */
  readonly embeddings?: EmbeddingTables;
  readonly lateness: number;
  readonly maxAgeMs?: number;
  /** The events to rebuild the state from when the store comes back without it: the whole log (flushed first). */
  readonly rebuildFrom: () => Promise<AsyncIterable<InteractionEvent>>;
  /** How often the store is pinged, to notice it going away and coming back (default 500 ms). */
  readonly probeMs?: number;
  /** How many of the log's events are older than a time: sealed into the checkpoint at a clean stop (see `ServeCheckpoint.below`). */
  readonly countLogBefore?: (ts: number) => Promise<number>;
}

/** `up`: serving from the store; `down`: it does not answer; `rebuilding`: it came back without the state. */
export type StoreCondition = 'starting' | 'up' | 'down' | 'rebuilding';

/** Keys per MULTI/EXEC while building the state from the log. */
const WRITE_CHUNK = 2000;
/** Events per applied batch when catching up with the log at start. */
const CATCH_UP_BATCH = 1000;
const MAX_CACHED_LOOKUPS = 200_000;
/** Stored text whose parse the reads keep (characters): about the state of a few tens of thousands of hot keys. */
const PARSED_CHARS = 64 * 1024 * 1024;

/** The default key prefix of a feature set's served state: apart from `recsignal stream`'s (another writer). */
export function serveNamespace(name: string, hash: string): string {
  return `recsignal-serve:${name}:${hash}`;
}

export class StoreState implements ServingState {
  readonly kind: string;
  readonly plan: ServingPlan;
  readonly lateness: number;
  errors = 0;
  condition: StoreCondition = 'starting';
  watermark = -Infinity;
  /**
   * How the state was found at start: built from the log, resumed from the store's checkpoint, or
   * rebuilt because the log gained events older than what a resume re-applies (`rebuiltFor` says how many).
   */
  started: 'built' | 'resumed' | 'rebuilt' | null = null;
  rebuiltFor = 0;
  /** Keys of the old state deleted before a rebuild (see `started`). */
  staleKeysDeleted = 0;
  /** At a resumed start: events of the log re-applied (at or after the checkpoint's watermark minus the lateness) and how many of them were new. */
  readonly caughtUp = { replayed: 0, applied: 0 };
  /** Times the state was rebuilt from the log after the store came back without it. */
  rebuilds = 0;
  /** Events replayed by the current (or last) build. */
  buildProgress = 0;
  lastError: string | null = null;
  private applied = 0;
  private builtAt = 0;
  private queue: Promise<unknown> = Promise.resolve();
  private probing = false;
  private closed = false;
  private readonly timer: NodeJS.Timeout;
  private readonly probeMs: number;
  private readonly maxAgeMs: number;
  /** For applies: fan-out through item metadata needs it. */
  private readonly applyOptions: StoredStateOptions;
  /** For reads: no metadata, so a request's scratch engine costs nothing to build. */
  private readonly readOptions: StoredStateOptions;
  private readonly checkpointKey: string;
  private readonly read: ReadKeys;
  /** Parses of the values reads fetched, reused while a key's stored text stays the same. */
  readonly parsed = new ParsedValues(PARSED_CHARS);
  /** Lookups (metadata) and what a key without state reads as, in process. */
  private readonly local: StreamEngine;
  readonly notFound: ReadonlyMap<string, FeatureValue>[];
  private readonly itemIds: ReadonlySet<string>;
  private readonly userIds: ReadonlySet<string>;
  private readonly lookups: Map<string, ReadonlyMap<string, FeatureValue>>[];
  /** Values computed from decoded key states, per view: see `valuesOf`. */
  private readonly computed: Map<string, Computed>[];
  readonly embeddingReads: EmbeddingReads;

  constructor(private readonly o: StoreStateOptions) {
    const compiled = o.plan.compiled;
    this.kind = o.store.kind;
    this.plan = o.plan;
    this.lateness = o.lateness;
    this.probeMs = o.probeMs ?? 500;
    this.maxAgeMs = o.maxAgeMs ?? Infinity;
    this.applyOptions = { compiled, namespace: o.namespace, lateness: o.lateness, items: o.items, users: o.users };
    this.readOptions = { compiled, namespace: o.namespace, lateness: o.lateness };
    this.checkpointKey = stateKeys(o.namespace).server();
    // A store that caches hands out the same bytes for an unchanged key: their text is decoded once
    // (and is then the very string `parsed` kept, so its check is a pointer comparison).
    const texts = new WeakMap<Uint8Array, string>();
    const textOf = (v: Uint8Array): string => {
      let text = texts.get(v);
      if (text === undefined) texts.set(v, (text = decodeValue(v)));
      return text;
    };
    this.read = async (keys) => (await o.store.getMany(keys)).map((v) => (v === undefined ? null : textOf(v)));
    this.local = new StreamEngine(compiled, { lateness: o.lateness, items: o.items, users: o.users });
    this.notFound = notFoundValues(o.plan, this.local);
    this.itemIds = new Set(o.items.map((i) => i.itemId));
    this.userIds = new Set(o.users.map((u) => u.userId));
    this.lookups = o.plan.views.map(() => new Map());
    this.computed = o.plan.views.map(() => new Map());
    this.embeddingReads = new EmbeddingReads(o.plan.views, o.embeddings ?? new Map(), this.maxAgeMs);
    this.timer = setInterval(() => void this.probe(), this.probeMs);
    this.timer.unref();
  }

  get namespace(): string {
    return this.o.namespace;
  }

  /**
   * Resumes from the store when it holds this feature set's state (its checkpoint), re-applying the
   * log's events from the checkpoint's watermark minus the lateness (older ones would be late; the
   * ones it has are dropped as duplicates by id); otherwise builds the state from every event.
   */
  async bootstrap(events: AsyncIterable<InteractionEvent>, onEvent: () => void, stop: () => boolean): Promise<void> {
    const checkpoint = await this.readCheckpoint();
    const gained = checkpoint?.below !== undefined && this.o.countLogBefore !== undefined ? (await this.o.countLogBefore(checkpoint.below.ts)) - checkpoint.below.events : 0;
    if (checkpoint === null || gained !== 0) {
      this.started = checkpoint === null ? 'built' : 'rebuilt';
      this.rebuiltFor = gained;
      if (checkpoint !== null) {
        // The old checkpoint goes first: a crash during the build must not leave it over half-new
        // state. Then the rest of the old state: an entity the log no longer has events of (it lost
        // some) would otherwise still be served from it, as no write of the build replaces its keys.
        await this.o.store.setMany([{ key: this.checkpointKey, value: null }]);
        this.staleKeysDeleted = await this.o.store.deletePrefix(`${this.o.namespace}:{`);
      }
      await this.build(events, onEvent, stop);
    } else {
      this.started = 'resumed';
      this.resume(checkpoint);
      await this.catchUp(events, onEvent, stop);
    }
    if (!stop()) this.condition = 'up';
  }

  async reader(t: number, plan: ReadPlan): Promise<StateReader> {
    if (this.condition !== 'up') {
      // Answered without the store: a failed read as far as the client is concerned.
      this.errors++;
      return new StoredReader(this, null, this.maxAgeMs);
    }
    const wanted = new StoredKeys(this.o.namespace);
    plan((views, fields) => {
      for (const vp of views) wanted.add(vp.view, fields, t);
    });
    try {
      return new StoredReader(this, await readStoredState(this.readOptions, wanted, this.read, this.parsed), this.maxAgeMs);
    } catch (e) {
      if (!isStoreFailure(e)) throw e;
      this.failed(e);
      return new StoredReader(this, null, this.maxAgeMs);
    }
  }

  /** Applies a batch and writes it with the checkpoint; while the store is unavailable, refuses it whole (IO_FAILED). */
  applyEvents(events: readonly InteractionEvent[]): Promise<ApplyResult[]> {
    if (events.length === 0) return Promise.resolve([]);
    if (this.condition !== 'up') {
      this.errors++;
      return Promise.reject(this.unavailable(events.length));
    }
    return this.exclusive(async () => {
      if (this.condition !== 'up') {
        this.errors++;
        throw this.unavailable(events.length);
      }
      try {
        return await this.applyNow(events);
      } catch (e) {
        if (!isStoreFailure(e)) throw e;
        this.failed(e);
        throw this.unavailable(events.length, e, true);
      }
    });
  }

  health(): StateHealth {
    const store = `${this.kind} ${this.condition}`;
    if (this.condition === 'down') {
      return { ok: false, store, message: `the online store (${this.kind}) is unavailable (${this.lastError ?? 'no answer'}); features are served as their defaults with status UNAVAILABLE and events are refused with 503 until it answers again (probed every ${this.probeMs} ms)` };
    }
    if (this.condition === 'rebuilding') {
      return { ok: false, store, message: `the online store (${this.kind}) came back without this feature set's state; rebuilding it from the event log (${this.buildProgress} events so far): features are UNAVAILABLE and events refused with 503 until then` };
    }
    return { ok: true, store };
  }

  sizes(): Record<string, number> {
    return {};
  }

  cacheStats(): { readonly hits: number; readonly misses: number } | null {
    return this.o.store.cacheStats?.() ?? null;
  }

  /** Stops probing and waits for the batch in hand; the store itself belongs to whoever opened it. */
  /**
   * Stops; at a clean stop with the store up, seals the checkpoint with the count of the log's events
   * a resumed start would not re-apply (`ServeCheckpoint.below`). Call it once the server's buffered
   * events are in the log, or they would read as events gained while stopped.
   */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    await this.queue.catch(() => undefined);
    if (this.condition !== 'up' || this.o.countLogBefore === undefined || !Number.isFinite(this.watermark)) return;
    try {
      const ts = this.watermark - this.lateness;
      const below = { ts, events: await this.o.countLogBefore(ts) };
      await this.o.store.setMany([], this.checkpoint(this.watermark, this.applied, below));
    } catch {
      // Unsealed: the next start resumes as after a crash (it cannot tell what the log gained).
    }
  }

  /**
   * A cacheable view's values for a key as of t, computed from its decoded state `st` or kept from
   * an earlier read of the very same state object (the parse kept while the stored text is unchanged)
   * at a time that reads alike (`unchangedSpan`): a hot item's aggregates are not recomputed per request.
   */
  valuesOf(vp: ViewPlan, key: string, st: KeyState | undefined, t: number, engine: StreamEngine, fields: Fields): ReadonlyMap<string, FeatureValue> {
    if (st === undefined) return readView(engine, vp.view, fields, t);
    const cache = this.computed[vp.index] as Map<string, Computed>;
    const c = cache.get(key);
    if (c !== undefined && c.st === st && t >= c.from && t < c.until) return c.values;
    const values = readView(engine, vp.view, fields, t);
    if (st.latest < t) {
      if (cache.size >= MAX_CACHED_LOOKUPS) cache.clear();
      cache.set(key, { st, values, ...unchangedSpan(vp, st.latest, t) });
    }
    return values;
  }

  /** Metadata lookups, served from process memory whatever the store does. */
  readLookup(vp: ViewPlan, key: string, fields: Fields, t: number): ReadonlyMap<string, FeatureValue> | undefined {
    const v = vp.view;
    if (v.kind !== 'lookup' || !(v.table === 'items' ? this.itemIds : this.userIds).has(key)) return undefined;
    const cache = this.lookups[vp.index] as Map<string, ReadonlyMap<string, FeatureValue>>;
    let values = cache.get(key);
    if (values === undefined) {
      values = readView(this.local, v, fields, t);
      if (cache.size >= MAX_CACHED_LOOKUPS) cache.clear();
      cache.set(key, values);
    }
    return values;
  }

  private async applyNow(events: readonly InteractionEvent[]): Promise<ApplyResult[]> {
    const own = Number.isFinite(this.watermark) ? this.watermark : null;
    const result = await applyBatch(this.applyOptions, events, this.read, { own, others: null });
    const applied = result.outcomes.filter((x) => x === 'applied').length;
    await this.o.store.setMany(encodeWrites(result.writes), this.checkpoint(result.watermark, this.applied + applied));
    let watermark = this.watermark;
    const out = result.outcomes.map((outcome, i) => {
      const r: ApplyResult = { outcome, watermark };
      const ts = (events[i] as InteractionEvent).ts;
      if (outcome === 'applied' && ts > watermark) watermark = ts;
      return r;
    });
    this.watermark = result.watermark ?? -Infinity;
    this.applied += applied;
    return out;
  }

  /**
   * Replays events into an in-process engine (as fast as memory mode), then writes its whole state
   * in chunks, the checkpoint last: until it is written, the namespace counts as holding no state.
   */
  private async build(events: AsyncIterable<InteractionEvent>, onEvent: () => void, stop: () => boolean): Promise<void> {
    const engine = new StreamEngine(this.plan.compiled, { lateness: this.lateness, items: this.o.items, users: this.o.users });
    // The user of each id the engine may still hold as seen (duplicates are dropped per user's ids).
    const userOf = new Map<string, string>();
    const order: { id: string; ts: number }[] = [];
    let head = 0;
    this.buildProgress = 0;
    for await (const e of events) {
      if (stop()) return;
      if (engine.apply(e) === 'applied') {
        userOf.set(e.eventId, e.userId);
        order.push({ id: e.eventId, ts: e.ts });
      }
      this.buildProgress++;
      onEvent();
      if (order.length - head > 65_536) {
        while (head < order.length && (order[head] as { ts: number }).ts < engine.watermark - this.lateness) userOf.delete((order[head++] as { id: string }).id);
        order.splice(0, head);
        head = 0;
      }
    }
    // Every key folded, as applyBatch leaves the keys it writes: a stored key then holds tiles and only its recent rows.
    engine.settle(engine.watermark);
    const expiry = Number.isFinite(engine.watermark) ? { after: engine.forgetsAfter(), watermark: engine.watermark } : undefined;
    const writes = encodeWrites(snapshotWrites(this.o.namespace, engine.snapshot(), (id) => userOf.get(id), expiry));
    for (let i = 0; i < writes.length; i += WRITE_CHUNK) {
      if (stop()) return;
      await this.o.store.setMany(writes.slice(i, i + WRITE_CHUNK));
    }
    this.watermark = engine.watermark;
    this.applied = 0;
    this.builtAt = Date.now();
    await this.o.store.setMany([], this.checkpoint(Number.isFinite(engine.watermark) ? engine.watermark : null, 0));
  }

  private resume(c: ServeCheckpoint): void {
    this.watermark = c.watermark ?? -Infinity;
    this.applied = c.applied;
    this.builtAt = c.builtAt;
  }

  private async catchUp(events: AsyncIterable<InteractionEvent>, onEvent: () => void, stop: () => boolean): Promise<void> {
    const from = this.watermark - this.lateness;
    let batch: InteractionEvent[] = [];
    const flush = async () => {
      const results = await this.applyNow(batch);
      this.caughtUp.replayed += batch.length;
      this.caughtUp.applied += results.filter((r) => r.outcome === 'applied').length;
      batch = [];
    };
    for await (const e of events) {
      if (stop()) return;
      if (e.ts < from) continue;
      batch.push(e);
      onEvent();
      if (batch.length >= CATCH_UP_BATCH) await flush();
    }
    if (batch.length > 0) await flush();
  }

  private async readCheckpoint(): Promise<ServeCheckpoint | null> {
    const [text] = await this.read([this.checkpointKey]);
    if (text === null || text === undefined) return null;
    const c = JSON.parse(text) as ServeCheckpoint;
    if (c.hash !== this.plan.compiled.hash) {
      throw new RecsignalError('INVALID_ARGUMENT', `the online store holds the state of feature set ${c.hash} under '${this.o.namespace}', not of ${this.plan.compiled.hash}; leave --namespace out (the default holds the set's hash) or delete that namespace's keys`);
    }
    return c;
  }

  private checkpoint(watermark: number | null, applied: number, below?: ServeCheckpoint['below']): OnlineWrite {
    const c: ServeCheckpoint = { hash: this.plan.compiled.hash, watermark, applied, builtAt: this.builtAt, ...(below === undefined ? {} : { below }) };
    return { key: this.checkpointKey, value: Buffer.from(JSON.stringify(c)) };
  }

  /** Notices the store going away (also without traffic) and coming back; see `recover`. */
  private async probe(): Promise<void> {
    if (this.probing || this.closed || this.condition === 'starting' || this.condition === 'rebuilding') return;
    this.probing = true;
    try {
      const ok = await this.o.store.ping();
      if (!ok) {
        if (this.condition === 'up') {
          this.condition = 'down';
          this.lastError = `${this.kind} does not answer PING`;
        }
      } else if (this.condition === 'down') {
        await this.exclusive(() => this.recover());
      }
    } finally {
      this.probing = false;
    }
  }

  /**
   * The store answers again: when it still holds the checkpoint, serving resumes from it after the
   * log's events from the checkpoint's watermark minus the lateness are applied again, as at a
   * start (a Redis restarted from an older save, or a replica promoted behind its master, holds an
   * older state than the server acknowledged; events it has are duplicates by id). When it came back
   * without it (a Redis restarted with nothing on disk), the state is rebuilt from the log. Either
   * way the log is flushed first, so that every event acknowledged before the outage is in it.
   */
  private async recover(): Promise<void> {
    if (this.closed || this.condition !== 'down') return;
    try {
      const checkpoint = await this.readCheckpoint();
      this.condition = 'rebuilding';
      if (checkpoint !== null) {
        this.resume(checkpoint);
        await this.catchUp(await this.o.rebuildFrom(), () => undefined, () => this.closed);
        if (this.closed) return;
        this.condition = 'up';
        this.lastError = null;
        return;
      }
      await this.build(await this.o.rebuildFrom(), () => undefined, () => this.closed);
      if (this.closed) return;
      this.rebuilds++;
      this.condition = 'up';
      this.lastError = null;
    } catch (e) {
      if (isStoreFailure(e)) this.errors++;
      this.condition = 'down';
      this.lastError = (e as Error).message;
    }
  }

  private failed(e: unknown): void {
    this.errors++;
    this.lastError = (e as Error).message;
    if (this.condition === 'up') this.condition = 'down';
  }

  /**
   * The batch's refusal. `unsure`: the write was sent and not confirmed (a timeout, a dropped
   * connection), so it may have landed; a resend finds those events duplicates, and logs them.
   */
  private unavailable(n: number, cause?: unknown, unsure = false): RecsignalError {
    const why = this.condition === 'rebuilding' ? 'is being rebuilt from the event log after it came back empty' : `is unavailable (${this.lastError ?? 'no answer'})`;
    const wm = Number.isFinite(this.watermark) ? ` (watermark ${isoTime(this.watermark)}, lateness ${formatDuration(this.lateness)})` : '';
    const what = unsure
      ? `the write of the ${n} events of this batch was not confirmed, so some may be applied online; none was logged`
      : `none of the ${n} events of this batch was applied or logged`;
    return new RecsignalError(
      'IO_FAILED',
      `the online store (${this.kind}) ${why}: ${what}${wm}; resend the batch once GET /health says ok (the server reconnects by itself; events already applied are then duplicates, and go to the log)`,
      { ...(cause === undefined ? {} : { cause }), problems: [{ path: '(batch)', message: `not applied: the online store ${why}`, fix: 'resend the whole batch later; duplicates of events already applied are dropped by event_id' }] },
    );
  }

  /** Runs one apply (or rebuild) at a time: each reads the state the previous one wrote. */
  private exclusive<T>(f: () => Promise<T>): Promise<T> {
    const next = this.queue.then(f);
    this.queue = next.catch(() => undefined);
    return next;
  }
}

interface Computed {
  readonly st: KeyState;
  readonly values: ReadonlyMap<string, FeatureValue>;
  readonly from: number;
  readonly until: number;
}

/** Reads from one fetch of the store (null: the store did not answer, every stateful read is UNAVAILABLE). */
class StoredReader implements StateReader {
  readonly unavailable: boolean;

  constructor(
    private readonly state: StoreState,
    private readonly stored: StoredState | null,
    private readonly maxAgeMs: number,
  ) {
    this.unavailable = stored === null;
  }

  readInto(vp: ViewPlan, fields: Fields, t: number, slots: ReadSlots): void {
    const i = vp.index;
    const key = entityKeyAt(vp.keys, fields, t);
    if (vp.view.kind === 'lookup') {
      const values = key === null ? undefined : this.state.readLookup(vp, key, fields, t);
      if (values === undefined) return this.miss(i, slots, 'NOT_FOUND');
      slots.values[i] = values;
      slots.statuses[i] = 'PRESENT';
      slots.eventTs[i] = null;
      return;
    }
    if (vp.view.kind === 'embedding') {
      if (!this.state.embeddingReads.readInto(vp, key, t, slots)) this.miss(i, slots, 'NOT_FOUND');
      return;
    }
    if (this.stored === null) return this.miss(i, slots, 'UNAVAILABLE');
    if (key === null) return this.miss(i, slots, 'NOT_FOUND');
    const eventTs = this.stored.timeOf(vp.view, key, t);
    if (eventTs === undefined) return this.miss(i, slots, 'NOT_FOUND');
    slots.values[i] = this.state.valuesOf(vp, key, vp.cacheable ? this.stored.stateOf(vp.view, key) : undefined, t, this.stored.engine, fields);
    slots.statuses[i] = eventTs !== null && t - eventTs > this.maxAgeMs ? 'STALE' : 'PRESENT';
    slots.eventTs[i] = eventTs;
  }

  private miss(i: number, slots: ReadSlots, status: 'NOT_FOUND' | 'UNAVAILABLE'): void {
    slots.values[i] = this.state.notFound[i];
    slots.statuses[i] = status;
    slots.eventTs[i] = null;
  }
}


function isStoreFailure(e: unknown): boolean {
  return e instanceof RecsignalError && e.code === 'IO_FAILED';
}
