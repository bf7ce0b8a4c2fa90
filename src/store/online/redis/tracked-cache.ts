/**
 * @module Values read from Redis kept in process and kept fresh by Redis itself: server-assisted
 * client-side caching (`CLIENT TRACKING ... REDIRECT`). Redis remembers the keys the data
 * connection read and, when one changes (any writer) or is evicted, sends its name on
 * `__redis__:invalidate` to a second connection; the entry is dropped there. A read of cached keys
 * then needs no round trip.
 *
 * Freshness: a write by this store drops its keys before it is sent and again once it is done, so
 * this process reads its own writes; a write by another process is seen once its invalidation
 * arrives (on loopback well under a millisecond after the write). A read in flight when a key is
 * invalidated is used for that read and not cached. While either connection is down, or tracking
 * is being set up again after a reconnect, nothing is served from the cache and it starts empty.
 *
 * Written here: ioredis (the client the stores use) does not implement client-side caching, and
 * its RESP3 default drops the `invalidate` pushes, so the invalidation connection speaks RESP2.
 */
import { Redis } from 'ioredis';
import { evictClock } from '../../../core/clock-eviction.ts';
import type { failFastOptions } from './redis-shared.ts';

const CHANNEL = '__redis__:invalidate';

export class TrackedCache {
  /**
   * Oldest first; `used`: read since kept or last passed over (CLOCK's second chance). A key absent
   * from Redis is kept as null: a key read once (a user × item pair) leaves first, a hot one (an
   * item without state in some view) stays, and a read of only such keys makes no round trip.
   */
  private readonly entries = new Map<string, { readonly value: Buffer | null; used: boolean }>();
  private bytes = 0;
  /** Serving from the cache: tracking is on with the invalidation connection as it is now. */
  private tracking = false;
  /** Bumped by every invalidation; a read caches only keys not invalidated since it began. */
  private epoch = 0;
  private flushedAt = 0;
  private readonly invalidatedAt = new Map<string, number>();
  private inFlight = 0;
  private readonly sub: Redis;
  private subId: number | null = null;
  private setup: Promise<void> = Promise.resolve();
  private closed = false;
  hits = 0;
  misses = 0;

  constructor(
    private readonly data: Redis,
    url: string,
    subOptions: ReturnType<typeof failFastOptions> & { readonly retryStrategy: (attempt: number) => number },
    private readonly capacityBytes: number,
  ) {
    this.sub = new Redis(url, { ...subOptions, protocol: 2, autoResubscribe: false });
    this.sub.on('error', () => undefined);
    this.sub.on('messageBuffer', (channel: Buffer, message: unknown) => {
      if (String(channel) === CHANNEL) this.invalidate(message);
    });
    this.sub.on('ready', () => void this.restart(true));
    this.sub.on('close', () => this.stop());
    data.on('ready', () => void this.restart(false));
    data.on('close', () => this.stop());
  }

  /** Connects the invalidation connection (the data connection is already up) and turns tracking on. */
  async start(): Promise<void> {
    await this.sub.connect();
    await this.setup;
  }

  get ready(): boolean {
    return this.tracking;
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * The cached value, or MISS. A hit is only marked (moving it in the Map measured ~1.4 µs a key, on
   * hundreds of keys a request); eviction passes marked entries over once (CLOCK).
   */
  get(key: string): Buffer | null | typeof MISS {
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
  begin(): number {
    this.inFlight++;
    return this.epoch;
  }

  end(): void {
    if (--this.inFlight === 0) this.invalidatedAt.clear();
  }

  /** Keeps a value read by a read begun at `since`, unless the key was invalidated after that. */
  put(key: string, value: Buffer | null, since: number): void {
    if (!this.tracking || this.flushedAt > since || (this.invalidatedAt.get(key) ?? -1) > since) return;
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

  /** Drops keys this process is about to write (and has written): its own reads see its writes. */
  drop(keys: Iterable<string>): void {
    this.epoch++;
    for (const key of keys) this.forget(key);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stop();
    try {
      await this.sub.quit();
    } catch {
      this.sub.disconnect();
    }
  }

  private invalidate(message: unknown): void {
    this.epoch++;
    if (message === null || message === undefined) {
      // Redis flushed its tracking table (FLUSHALL, FLUSHDB, or the table was full): forget everything.
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

  private flush(): void {
    this.entries.clear();
    this.bytes = 0;
    this.flushedAt = ++this.epoch;
  }

  private stop(): void {
    this.tracking = false;
    this.flush();
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
          if (this.sub.status !== 'ready') return;
          this.subId = Number(await this.sub.client('ID'));
          await this.sub.subscribe(CHANNEL);
        }
        if (this.data.status !== 'ready' || this.sub.status !== 'ready') return;
        await this.data.call('CLIENT', 'TRACKING', 'ON', 'REDIRECT', String(this.subId));
        // Anything cached before tracking pointed here may have missed an invalidation.
        this.flush();
        this.tracking = true;
      } catch {
        // A connection dropped meanwhile: its 'ready' starts this again.
        this.stop();
      }
    });
    return this.setup;
  }
}

/** What `TrackedCache.get` returns for a key it does not hold. */
export const MISS = Symbol('miss');

function sizeOf(key: string, v: Buffer | null): number {
  return key.length * 2 + (v === null ? 0 : v.byteLength) + 64;
}
