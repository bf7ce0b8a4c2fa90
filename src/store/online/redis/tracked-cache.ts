/**
 * @module Values read from Redis kept in process and kept fresh by Redis itself: server-assisted
 * client-side caching in broadcasting mode (`CLIENT TRACKING ON REDIRECT <id> BCAST NOLOOP`).
 * Whenever a key of the server changes (by any other connection) or expires or is evicted, Redis
 * sends its name on `__redis__:invalidate` to a second connection to the same server; the entry is
 * dropped there. Writes through the tracked connection itself are not told (NOLOOP): the store's
 * writes all go through `write`, which drops their keys itself (told a moment later, the cache
 * would drop a value read right after its own write). A read of cached keys then needs no round
 * trip. One Redis is one tracked pair of connections; a Redis Cluster is one pair per node (tracking
 * is per server), all feeding one cache, and for now in the default mode (see `broadcast`).
 *
 * Why broadcasting, not the default mode (where Redis remembers each key a client read and tells
 * only that client): a feature server reads mostly keys that do not exist (a user × item pair the
 * user never met), and the default mode keeps every such key in the server's tracking table until
 * it is written, which for most never happens. The table fills up to `tracking-table-max-keys` (1M
 * by default, ~128 MB of the server's memory), and from then on every read of a new key makes Redis
 * evict an old one and push an invalidation for it. In six runs of the Redis fetch bench in a row
 * (each reads ~190k keys that do not exist) p50 went 1.22, 1.33, 1.39, 1.35, 1.35, then 2.09 ms
 * with the table full (p99 4.4 → 6.3 ms); in broadcasting mode 1.14–1.16 ms in three, the table empty. Broadcasting keeps no per-key table; its cost
 * is an invalidation for every write of the server, which the writers' rate bounds (a Redis shared
 * with other applications sends theirs too: give the feature store its own).
 *
 * Freshness: a write by this store drops its keys before it is sent and again once it is done, so
 * this process reads its own writes; a write by another process is seen once its invalidation
 * arrives (on loopback well under a millisecond after the write). A read in flight when a key is
 * invalidated is used for that read and not cached. While any pair's connection is down, or its
 * tracking is being set up again after a reconnect, nothing is served from the cache, and it
 * starts empty again.
 *
 * Written here: ioredis (the client the stores use) does not implement client-side caching, and
 * its RESP3 default drops the `invalidate` pushes, so the invalidation connections speak RESP2.
 */
import type { Redis } from 'ioredis';
import { evictClock } from '../../../core/clock-eviction.ts';

const CHANNEL = '__redis__:invalidate';
/** After a failed setup with both connections up, tracking is tried again this much later. */
const RETRY_MS = 500;

export interface CacheStats {
  readonly hits: number;
  readonly misses: number;
  readonly entries: number;
  readonly ready: boolean;
  /** Per server: `host:port: tracking` or what it waits for, e.g. `127.0.0.1:7001: data connection reconnecting, invalidations ready, not tracking`. */
  readonly servers: readonly string[];
}

export class TrackedCache {
  /**
   * Oldest first; `used`: read since kept or last passed over (CLOCK's second chance). A key absent
   * from Redis is kept as null: a key read once (a user × item pair) leaves first, a hot one (an
   * item without state in some view) stays, and a read of only such keys makes no round trip.
   */
  private readonly entries = new Map<string, { readonly value: Buffer | null; used: boolean }>();
  private bytes = 0;
  private readonly trackers = new Set<Tracker>();
  /** Bumped by every invalidation; a read caches only keys not invalidated since it began. */
  private epoch = 0;
  private flushedAt = 0;
  private readonly invalidatedAt = new Map<string, number>();
  private inFlight = 0;
  hits = 0;
  misses = 0;

  /**
   * `cacheAbsent`: keep keys found absent too. Right on one server, where any write of the key
   * reaches the server that tracked its read. Not on a cluster: while a slot migrates, a write of a
   * key the old node does not hold lands on the new node (ASK), which never saw this process read
   * it, and the old node has nothing to invalidate. A key that exists is safe: MIGRATE deletes it
   * from the old node, which invalidates it.
   */
  constructor(
    private readonly capacityBytes: number,
    private readonly cacheAbsent = true,
    /**
     * Broadcasting mode (see the module's note); false: the default mode, where the server tracks
     * each key read. A Redis Cluster keeps the default mode for now: with broadcasting, the test of
     * a failover to a replica failed to get the cache back within 15 s in 3 of 17 runs (0 of 4
     * without), and why is not found yet; it caches no absent keys, but its servers' tracking
     * tables still fill with them.
     */
    readonly broadcast = true,
  ) {}

  /**
   * Tracks the reads of `data` (a connection the store reads through, already made) with
   * invalidations on `sub` (a new, not yet connected RESP2 connection to the same server: `protocol: 2`,
   * `autoResubscribe: false`, `lazyConnect: true`). The cache serves once every pair tracks.
   */
  track(data: Redis, sub: Redis): Tracker {
    const t = new Tracker(this, data, sub);
    this.trackers.add(t);
    this.flush();
    return t;
  }

  /** Stops tracking a pair (its server left the cluster): what it tracked can no longer be trusted. */
  async untrack(t: Tracker): Promise<void> {
    this.trackers.delete(t);
    this.flush();
    await t.close();
  }

  /**
   * Serving from the cache: every pair tracks, with its invalidation connection as it is now. A
   * pair whose data connection was never opened (a cluster node no read has gone to yet, a replica)
   * has read nothing, so it does not hold the cache back; once it starts connecting it does, until
   * it tracks (and its first reads, sent before tracking was on, are not kept: see `put`).
   */
  get ready(): boolean {
    if (this.trackers.size === 0) return false;
    for (const t of this.trackers) if (!t.tracking && !t.idle) return false;
    return true;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Counts, whether it serves, and each server's pair as it is now (what holds the cache back when it does not serve). */
  stats(): CacheStats {
    return { hits: this.hits, misses: this.misses, entries: this.entries.size, ready: this.ready, servers: [...this.trackers].map((t) => t.describe()) };
  }

  /**
   * `keys` read through the cache: hits from it, the others by `fetch` (one call), kept unless
   * invalidated while it ran. Without tracking everything goes to `fetch` and nothing is kept.
   */
  async read(keys: readonly string[], fetch: (keys: readonly string[]) => Promise<readonly (Uint8Array | null | undefined)[]>): Promise<(Uint8Array | undefined)[]> {
    if (!this.ready) return (await fetch(keys)).map((v) => v ?? undefined);
    const out: (Uint8Array | undefined)[] = new Array(keys.length);
    const missed: string[] = [];
    const at: number[] = [];
    for (let i = 0; i < keys.length; i++) {
      const v = this.get(keys[i] as string);
      if (v === MISS) {
        missed.push(keys[i] as string);
        at.push(i);
      } else out[i] = v ?? undefined;
    }
    if (missed.length === 0) return out;
    const since = this.begin();
    try {
      const values = await fetch(missed);
      for (let j = 0; j < missed.length; j++) {
        const v = values[j] ?? null;
        out[at[j] as number] = v ?? undefined;
        this.put(missed[j] as string, v, since);
      }
    } finally {
      this.end();
    }
    return out;
  }

  /** Runs a write of `keys`, dropping them before (a read in flight must not keep the old value) and after (nor one sent meanwhile). */
  async write(keys: readonly string[], run: () => Promise<void>): Promise<void> {
    this.drop(keys);
    try {
      await run();
    } finally {
      this.drop(keys);
    }
  }

  async close(): Promise<void> {
    const all = [...this.trackers];
    this.trackers.clear();
    this.flush();
    await Promise.all(all.map((t) => t.close()));
  }

  /**
   * The cached value, or MISS. A hit is only marked (moving it in the Map measured ~1.4 µs a key, on
   * hundreds of keys a request); eviction passes marked entries over once (CLOCK).
   */
  private get(key: string): Buffer | null | typeof MISS {
    const e = this.entries.get(key);
    if (e === undefined) {
      this.misses++;
      return MISS;
    }
    this.hits++;
    e.used = true;
    return e.value;
  }

  /** Starts a read: the epoch its replies are judged by. Pair with `end`. */
  private begin(): number {
    this.inFlight++;
    return this.epoch;
  }

  private end(): void {
    if (--this.inFlight === 0) this.invalidatedAt.clear();
  }

  /** Keeps a value read by a read begun at `since`, unless the key was invalidated (or tracking lost) after that. */
  private put(key: string, value: Uint8Array | null, since: number): void {
    if (!this.ready || this.flushedAt > since || (this.invalidatedAt.get(key) ?? -1) > since || (value === null && !this.cacheAbsent)) return;
    const old = this.entries.get(key);
    if (old !== undefined) {
      this.entries.delete(key);
      this.bytes -= sizeOf(key, old.value);
    }
    // A copy: a reply's Buffer can be a slice of a larger socket chunk, which it would keep alive.
    const kept = value === null ? null : Buffer.from(value);
    const size = sizeOf(key, kept);
    if (size > this.capacityBytes) return;
    this.entries.set(key, { value: kept, used: false });
    this.bytes += size;
    evictClock(this.entries, () => this.bytes > this.capacityBytes, (oldest, e) => (this.bytes -= sizeOf(oldest, e.value)));
  }

  private drop(keys: readonly string[]): void {
    this.epoch++;
    for (const key of keys) this.forget(key);
  }

  /** An invalidation message: the keys a server says changed, or null when it flushed its tracking table. */
  invalidated(message: unknown): void {
    this.epoch++;
    if (message === null || message === undefined) {
      // The server was flushed (FLUSHALL, FLUSHDB): forget everything.
      this.flush();
      return;
    }
    for (const key of Array.isArray(message) ? message : [message]) this.forget(String(key));
  }

  private forget(key: string): void {
    const old = this.entries.get(key);
    if (old !== undefined) {
      this.entries.delete(key);
      this.bytes -= sizeOf(key, old.value);
    }
    if (this.inFlight > 0) this.invalidatedAt.set(key, this.epoch);
  }

  /** Forgets everything, and every value a read in flight brings back. */
  flush(): void {
    this.entries.clear();
    this.bytes = 0;
    this.flushedAt = ++this.epoch;
  }
}

/** One server's pair: the data connection whose reads Redis tracks, and the connection its invalidations arrive on. */
export class Tracker {
  /** Tracking is on with the invalidation connection as it is now. */
  tracking = false;
  private subId: number | null = null;
  private setup: Promise<void> = Promise.resolve();
  private closed = false;
  private retry: NodeJS.Timeout | undefined;
  private readonly onDataReady = () => void this.restart(false);
  private readonly onDataClose = () => this.stop();

  constructor(
    private readonly cache: TrackedCache,
    private readonly data: Redis,
    private readonly sub: Redis,
  ) {
    sub.on('error', () => undefined);
    sub.on('messageBuffer', (channel: Buffer, message: unknown) => {
      if (String(channel) === CHANNEL) cache.invalidated(message);
    });
    sub.on('ready', () => void this.restart(true));
    sub.on('close', () => {
      // Its id dies with the connection: the next setup asks for the new one and subscribes again.
      this.subId = null;
      this.stop();
    });
    // The data connection is the store's (a cluster's node connection outlives this pair): listeners removed on close.
    data.on('ready', this.onDataReady);
    data.on('close', this.onDataClose);
  }

  describe(): string {
    const { host, port } = this.data.options;
    const state = this.tracking ? 'tracking' : this.idle ? 'idle (never read from)' : `data connection ${this.data.status}, invalidations ${this.sub.status}${this.retry === undefined ? '' : ', retry due'}, not tracking`;
    return `${host}:${port}: ${state}`;
  }

  /** A data connection never opened: it has read nothing (see `TrackedCache.ready`). */
  get idle(): boolean {
    return this.data.status === 'wait';
  }

  /**
   * Connects the invalidation connection, then waits for tracking to be set up (on a data
   * connection that is up; one still to open is tracked when it comes up).
   */
  async start(): Promise<void> {
    await this.sub.connect();
    await this.setup;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    this.stop();
    this.data.off('ready', this.onDataReady);
    this.data.off('close', this.onDataClose);
    if (this.sub.status === 'wait') return; // never connected: quit() would connect it first
    try {
      await this.sub.quit();
    } catch {
      this.sub.disconnect();
    }
  }

  private stop(): void {
    this.tracking = false;
    this.cache.flush();
  }

  /**
   * (Re)starts tracking after either connection came up: a reconnected invalidation connection has a
   * new id to redirect to; a reconnected data connection has tracking off. Serially, one at a time.
   */
  private restart(subReconnected: boolean): Promise<void> {
    this.setup = this.setup.then(async () => {
      if (this.closed) return;
      this.stop();
      try {
        if (subReconnected || this.subId === null) {
          this.subId = null;
          if (this.sub.status !== 'ready') return;
          const id = Number(await this.sub.client('ID'));
          await this.sub.subscribe(CHANNEL);
          // Only once subscribed: tracking redirected to a connection that is not listening sends nothing.
          this.subId = id;
        }
        if (this.data.status !== 'ready' || this.sub.status !== 'ready') return;
        await this.data.call('CLIENT', 'TRACKING', 'ON', 'REDIRECT', String(this.subId), ...(this.cache.broadcast ? ['BCAST', 'NOLOOP'] : []));
        // Anything cached before tracking pointed here may have missed an invalidation.
        this.cache.flush();
        if (!this.closed) this.tracking = true;
      } catch {
        this.stop();
        if (this.closed) return;
        // A connection that dropped meanwhile starts this again when it is back. One still up failed
        // a command (a timeout under load, say): a half-set-up invalidation connection is replaced
        // (its 'ready' starts this again); otherwise tracking is tried again shortly.
        if (this.subId === null) {
          if (this.sub.status === 'ready') this.sub.disconnect(true);
        } else if (this.retry === undefined) {
          this.retry = setTimeout(() => {
            this.retry = undefined;
            void this.restart(false);
          }, RETRY_MS);
          this.retry.unref();
        }
      }
    });
    return this.setup;
  }
}

/** What `TrackedCache.get` returns for a key it does not hold. */
const MISS = Symbol('miss');

function sizeOf(key: string, v: Buffer | null): number {
  return key.length * 2 + (v === null ? 0 : v.byteLength) + 64;
}
