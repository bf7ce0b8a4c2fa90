/**
 * @module The online store on one Redis server: values are binary-safe strings, a read is one
 * MGET (of the keys the tracked cache, when on, does not hold), a write batch (and its checkpoint)
 * one MULTI/EXEC. Requests fail fast while the server is
 * down and the connection comes back by itself.
 */
import { Redis } from 'ioredis';
import { RecsignalError } from '../../../core/errors.ts';
import type { OnlineStore, OnlineWrite } from '../online-store.ts';
import { TrackedCache, type CacheStats } from './tracked-cache.ts';
import { asBuffer, deleteMatching, failFastOptions, ioFailed, reconnectDelay, throwOnReplyError, ttlOf, type Endpoint, type RedisTimeouts } from './redis-shared.ts';

export interface RedisStoreOptions extends RedisTimeouts {
  /**
   * Keep values read in process, up to this many bytes, fresh by Redis's client tracking
   * (`tracked-cache.ts`): a read of cached keys makes no round trip. 0 or absent: every read asks Redis.
   */
  readonly cacheBytes?: number;
}

export class RedisStore implements OnlineStore {
  readonly kind = 'redis';
  readonly #client: Redis;
  readonly #endpoint: Endpoint;
  #lastConnectionError: Error | undefined;
  #closed = false;
  #cache: TrackedCache | undefined;

  private constructor(client: Redis, endpoint: Endpoint) {
    this.#client = client;
    this.#endpoint = endpoint;
    // Without a listener ioredis prints every failed reconnect; keep the last for error messages.
    client.on('error', (e: Error) => {
      this.#lastConnectionError = e;
    });
    client.on('ready', () => {
      this.#lastConnectionError = undefined;
    });
  }

  /**
   * Connects to `redis://[user:password@]host:port[/db]` (or `rediss://` for TLS). Rejects with
   * IO_FAILED when the server does not answer within `connectTimeoutMs`.
   */
  static async connect(url: string, options: RedisStoreOptions = {}): Promise<RedisStore> {
    const endpoint = parseRedisUrl(url);
    const client = new Redis(url, { ...failFastOptions(options), retryStrategy: reconnectDelay });
    const store = new RedisStore(client, endpoint);
    try {
      await client.connect();
      if (options.cacheBytes !== undefined && options.cacheBytes > 0) {
        store.#cache = new TrackedCache(options.cacheBytes);
        const sub = new Redis(url, { ...failFastOptions(options), retryStrategy: reconnectDelay, protocol: 2, autoResubscribe: false });
        await store.#cache.track(client, sub).start();
      }
    } catch (e) {
      client.disconnect();
      await store.#cache?.close();
      throw ioFailed(endpoint, 'connecting', e, 'connecting', store.#lastConnectionError);
    }
    return store;
  }

  async getMany(keys: readonly string[]): Promise<(Uint8Array | undefined)[]> {
    this.#checkOpen();
    if (keys.length === 0) return [];
    if (this.#cache === undefined) return (await this.#mget(keys)).map((v) => v ?? undefined);
    return this.#cache.read(keys, (missed) => this.#mget(missed));
  }

  /** Hits and misses of the process cache (null without one), and whether it serves now. */
  cacheStats(): CacheStats | null {
    return this.#cache?.stats() ?? null;
  }

  async #mget(keys: readonly string[]): Promise<(Buffer | null)[]> {
    try {
      return await this.#client.mgetBuffer(keys as string[]);
    } catch (e) {
      throw this.#failed(`MGET of ${keys.length} keys`, e);
    }
  }

  async setMany(writes: readonly OnlineWrite[], checkpoint?: OnlineWrite): Promise<void> {
    this.#checkOpen();
    const all = checkpoint === undefined ? writes : [...writes, checkpoint];
    if (all.length === 0) return;
    const tx = this.#client.multi();
    for (const w of all) {
      if (w.value === null) tx.del(w.key);
      else if (w.ttlMs !== undefined) tx.set(w.key, asBuffer(w.value), 'PX', ttlOf(w.ttlMs));
      else tx.set(w.key, asBuffer(w.value));
    }
    const run = async (): Promise<void> => {
      try {
        throwOnReplyError(await tx.exec());
      } catch (e) {
        throw this.#failed(`MULTI/EXEC of ${all.length} writes`, e);
      }
    };
    await (this.#cache === undefined ? run() : this.#cache.write(all.map((w) => w.key), run));
  }

  async deletePrefix(prefix: string): Promise<number> {
    this.#checkOpen();
    try {
      return await deleteMatching(this.#client, prefix);
    } catch (e) {
      throw this.#failed(`deleting the keys under ${prefix}`, e);
    } finally {
      // NOLOOP: Redis does not invalidate this process's own deletes to it.
      this.#cache?.flush();
    }
  }

  async ping(): Promise<boolean> {
    if (this.#closed) return false;
    try {
      return (await this.#client.ping()) === 'PONG';
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#cache?.close();
    try {
      await this.#client.quit();
    } catch {
      this.#client.disconnect();
    }
  }

  #failed(what: string, e: unknown): RecsignalError {
    return ioFailed(this.#endpoint, what, e, this.#client.status === 'ready' ? 'up' : 'down', this.#lastConnectionError);
  }

  #checkOpen(): void {
    if (this.#closed) throw new RecsignalError('IO_FAILED', `the Redis online store for ${this.#endpoint.target} is closed; connect a new one with RedisStore.connect()`);
  }
}

/** Checks a redis:// URL and names its endpoint for messages (credentials left out). */
export function parseRedisUrl(url: string): Endpoint {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase();
  if (scheme !== undefined && scheme !== 'redis' && scheme !== 'rediss') {
    throw new RecsignalError('INVALID_ARGUMENT', `a Redis URL starts with redis:// or rediss://, not ${scheme}://; e.g. redis://127.0.0.1:6379 (for a cluster use RedisClusterStore and redis-cluster://h:p,h:p)`);
  }
  let parsed: URL | undefined;
  try {
    parsed = scheme === undefined ? undefined : new URL(url);
  } catch {
    /* reported below */
  }
  if (parsed === undefined) throw new RecsignalError('INVALID_ARGUMENT', `not a Redis URL: ${JSON.stringify(url)}; write redis://host:port, e.g. redis://127.0.0.1:6379`);
  const host = parsed.hostname || '127.0.0.1';
  const port = parsed.port || '6379';
  return { backend: 'Redis', target: `${host}:${port}`, probe: `redis-cli -h ${host.replace(/^\[|\]$/g, '')} -p ${port} ping` };
}
