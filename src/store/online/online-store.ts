/**
 * @module The online store: keyed state, read and written in batches. Adapters (memory, Redis,
 * Redis Cluster) live in their own folders and know nothing of features: the stream engine decides
 * what a key and a value mean. Every adapter passes `runOnlineStoreConformance`.
 */

/** One write: a value, or null to delete the key. */
export interface OnlineWrite {
  readonly key: string;
  readonly value: Uint8Array | null;
  /**
   * Wall-clock milliseconds after which the store drops the key unless it is written again (Redis
   * `SET … PX`); absent: kept until deleted. A write without it clears an earlier one, as SET does.
   * For bookkeeping that stops mattering (recent event ids, a pair's pending impressions), so that
   * what a quiet user or pair left behind does not stay forever: garbage collection, not meaning.
   * A tracked cache may still serve an expired key until the server deletes it and says so.
   */
  readonly ttlMs?: number;
}

export interface OnlineStore {
  /** A short name for logs and metrics: `memory`, `redis`, `redis-cluster`. */
  readonly kind: string;
  /**
   * Reads many keys; the result is aligned with `keys` (undefined where absent; a repeated key reads
   * the same value at each place). Adapters read them in as few round trips as the backend allows
   * (one for a single Redis; one per node of a cluster, in parallel). The arrays returned are the
   * caller's to read, not to modify: the memory store hands out the bytes it holds.
   * Rejects with RecsignalError IO_FAILED, quickly, when the backend is down: serve defaults then.
   */
  getMany(keys: readonly string[]): Promise<(Uint8Array | undefined)[]>;
  /**
   * Applies the writes in order (the last write to a key wins), then the checkpoint when given,
   * atomically where the backend can (memory, a single Redis: MULTI/EXEC). A cluster applies each
   * hash slot's share atomically and the checkpoint's slot last, after every other share
   * succeeded, so a failure leaves state ahead of the checkpoint, never behind it. The caller may
   * reuse its buffers once the returned promise has resolved (the store copied or sent them).
   */
  setMany(writes: readonly OnlineWrite[], checkpoint?: OnlineWrite): Promise<void>;
  /**
   * Deletes every key that starts with `prefix` and says how many it deleted: a namespace's whole
   * state (`<namespace>:{`) before it is rebuilt from the log, so that an entity the log no longer
   * has events of is not served from what it had. Key by key (Redis: SCAN, then UNLINK, on every
   * master), not atomic: a key written meanwhile under the prefix may or may not survive.
   */
  deletePrefix(prefix: string): Promise<number>;
  /** An adapter that keeps values in process (the Redis tracked cache): its counts, null while off. */
  cacheStats?(): { readonly hits: number; readonly misses: number; readonly entries: number; readonly ready: boolean } | null;
  /** True when the backend answers (every master, for a cluster); false after close. Never rejects. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * The key of an entity's state: `<namespace>:{<entity>:<key values>}:<part>`. The braces are a
 * Redis Cluster hash tag, so all parts of one entity live on one node. Redis ends the tag at the
 * first `}` whatever escapes it, so a key value holding `}` cuts the tag short: still the same slot
 * for all parts of that entity, and keys stay distinct. Keep `{` and `}` out of the namespace (a
 * `{x}` there would put every key in one slot).
 */
export function stateKey(namespace: string, entity: string, keyValues: readonly string[], part: string): string {
  return `${stateKeyPrefix(namespace, entity)}${keyValues.map(escapeKeyValue).join('|')}}:${part}`;
}

/** `stateKey`'s text up to its key values: `<namespace>:{<entity>:`. */
export function stateKeyPrefix(namespace: string, entity: string): string {
  return `${namespace}:{${entity}:`;
}

/** A Redis glob (SCAN MATCH) that matches the keys starting with `prefix`, its special characters escaped. */
export function prefixPattern(prefix: string): string {
  return `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
}

const NEEDS_ESCAPE = /[\\|}]/;

/** Whether `stateKey` escapes anything in this text (a key value, or several joined). */
export function needsEscape(text: string): boolean {
  return NEEDS_ESCAPE.test(text);
}

function escapeKeyValue(k: string): string {
  // Most values (ids) hold none of the three: one scan instead of three replaceAll passes.
  return needsEscape(k) ? k.replaceAll('\\', '\\\\').replaceAll('|', '\\|').replaceAll('}', '\\}') : k;
}
