/**
 * @module The online store on one Redis server: values are binary-safe strings, a read is one
 * MGET, a write batch (and its checkpoint) one MULTI/EXEC. Requests fail fast while the server is
 * down and the connection comes back by itself.
 */
import { Redis } from 'ioredis';
import { RecsignalError } from '../../../core/errors.ts';
import type { OnlineStore, OnlineWrite } from '../online-store.ts';
import { asBuffer, failFastOptions, ioFailed, reconnectDelay, throwOnReplyError, type Endpoint, type RedisTimeouts } from './redis-shared.ts';

export type RedisStoreOptions = RedisTimeouts;

export class RedisStore implements OnlineStore {
  readonly kind = 'redis';
  readonly #client: Redis;
  readonly #endpoint: Endpoint;
  #lastConnectionError: Error | undefined;
  #closed = false;

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
    } catch (e) {
      client.disconnect();
      throw ioFailed(endpoint, 'connecting', e, 'connecting', store.#lastConnectionError);
    }
    return store;
  }

  async getMany(keys: readonly string[]): Promise<(Uint8Array | undefined)[]> {
    this.#checkOpen();
    if (keys.length === 0) return [];
    let values: (Buffer | null)[];
    try {
      values = await this.#client.mgetBuffer(keys as string[]);
    } catch (e) {
      throw this.#failed(`MGET of ${keys.length} keys`, e);
    }
    return values.map((v) => v ?? undefined);
  }

  async setMany(writes: readonly OnlineWrite[], checkpoint?: OnlineWrite): Promise<void> {
    this.#checkOpen();
    const all = checkpoint === undefined ? writes : [...writes, checkpoint];
    if (all.length === 0) return;
    const tx = this.#client.multi();
    for (const w of all) {
      if (w.value === null) tx.del(w.key);
      else tx.set(w.key, asBuffer(w.value));
    }
    try {
      throwOnReplyError(await tx.exec());
    } catch (e) {
      throw this.#failed(`MULTI/EXEC of ${all.length} writes`, e);
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
