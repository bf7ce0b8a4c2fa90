/**
 * @module What the Redis and Redis Cluster stores share: client options that fail fast instead of
 * queueing, error wrapping into IO_FAILED, and byte conversions.
 */
import type { Redis, RedisOptions } from 'ioredis';
import { RecsignalError } from '../../../core/errors.ts';
import { prefixPattern } from '../online-store.ts';

export interface RedisTimeouts {
  /** A command without a reply after this long rejects (default 1000 ms): callers fall back to defaults. */
  readonly commandTimeoutMs?: number;
  /** The first connection must be up within this (default 2000 ms). */
  readonly connectTimeoutMs?: number;
}

/**
 * Options that make a request fail at once while the server is down (no offline queue, no resend,
 * no retries per request) while the connection keeps reconnecting in the background, at most a
 * second apart, so the store works again by itself when the server returns.
 */
export function failFastOptions(timeouts: RedisTimeouts) {
  return {
    commandTimeout: timeouts.commandTimeoutMs ?? 1000,
    connectTimeout: timeouts.connectTimeoutMs ?? 2000,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    enableOfflineQueue: false,
    lazyConnect: true,
  } satisfies RedisOptions;
}

/** Reconnect delays: 100 ms, 200 ms, ... then every second, forever (until close). */
export function reconnectDelay(attempt: number): number {
  return Math.min(attempt * 100, 1000);
}

/** Where a store talks to, for its error messages. */
export interface Endpoint {
  /** `Redis` or `Redis Cluster`. */
  readonly backend: string;
  /** `host:port` (or a list of them), never with credentials. */
  readonly target: string;
  /** A command that shows whether the server answers, e.g. `redis-cli -h 127.0.0.1 -p 6379 ping`. */
  readonly probe: string;
}

/** Replies and client errors that mean "a server is not answering", not "it refused the command". */
const CONNECTION_TROUBLE = /Connection is closed|ECONNREFUSED|ECONNRESET|ETIMEDOUT|timed out|\b(CLUSTERDOWN|MOVED|ASK|TRYAGAIN|LOADING)\b|enableOfflineQueue|max retries/;

/**
 * Wraps a client failure into IO_FAILED, saying what to check. `link`: whether the client was
 * connecting for the first time, had lost its connection, or was connected when the request failed.
 */
export function ioFailed(endpoint: Endpoint, what: string, cause: unknown, link: 'connecting' | 'down' | 'up', lastConnectionError?: Error): RecsignalError {
  let reason = cause instanceof Error ? cause.message : String(cause);
  if (link === 'up' && CONNECTION_TROUBLE.test(reason)) link = 'down';
  // ioredis' words for "refused while disconnected" name an option, not the problem.
  if (link !== 'up' && /enableOfflineQueue|Connection is closed/.test(reason)) reason = 'not connected';
  if (link !== 'up' && lastConnectionError !== undefined) reason += `; last connection error: ${lastConnectionError.message}`;
  const check = {
    connecting: `check that it runs and answers (${endpoint.probe}) and that the URL names it`,
    down: `check that it runs and answers (${endpoint.probe}); the store reconnects by itself once it does, so serve defaults meanwhile`,
    up: 'check the server log and its limits (maxmemory, maxclients), and that nothing else wrote these keys with another type',
  }[link];
  return new RecsignalError('IO_FAILED', `${endpoint.backend} at ${endpoint.target}: ${what} failed (${reason}); ${check}`, { cause });
}

/** A Buffer over the same bytes (no copy): ioredis sends Buffers as binary-safe bulk strings. */
export function asBuffer(value: Uint8Array): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

/** Throws the first error of a MULTI/EXEC (or pipeline) result. */
export function throwOnReplyError(results: [Error | null, unknown][] | null): void {
  if (results === null) throw new Error('the transaction was aborted');
  for (const [error] of results) if (error) throw error;
}

/** A write's time-to-live as PX takes it: a whole number of milliseconds, at least 1 (PX 0 is an error). */
export function ttlOf(ms: number): number {
  return Math.max(1, Math.ceil(ms));
}

/**
 * Deletes the keys of one Redis server that start with `prefix`: SCAN MATCH in pages, each page
 * UNLINKed key by key in one pipeline (single-key commands: a cluster node refuses a multi-key one
 * across slots). Returns how many it deleted.
 */
export async function deleteMatching(node: Redis, prefix: string): Promise<number> {
  const pattern = prefixPattern(prefix);
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await node.scanBuffer(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = String(next);
    if (keys.length === 0) continue;
    const pipeline = node.pipeline();
    for (const k of keys) pipeline.unlink(k);
    const replies = await pipeline.exec();
    throwOnReplyError(replies);
    for (const [, n] of replies ?? []) deleted += Number(n);
  } while (cursor !== '0');
  return deleted;
}
