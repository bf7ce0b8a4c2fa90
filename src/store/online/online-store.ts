/**
 * @module The online store: keyed state, read and written in batches. Adapters (memory, Redis,
 * Redis Cluster) live in their own folders and know nothing of features: the stream engine decides
 * what a key and a value mean. Every adapter passes `runOnlineStoreConformance`.
 */

/** One write: a value, or null to delete the key. */
export interface OnlineWrite {
  readonly key: string;
  readonly value: Uint8Array | null;
}

export interface OnlineStore {
  /** A short name for logs and metrics: `memory`, `redis`, `redis-cluster`. */
  readonly kind: string;
  /**
   * Reads many keys; the result is aligned with `keys` (undefined where absent). Adapters read
   * them in as few round trips as the backend allows (one for a single Redis; one per node of a
   * cluster, in parallel).
   */
  getMany(keys: readonly string[]): Promise<(Uint8Array | undefined)[]>;
  /**
   * Applies the writes, and the checkpoint with them when given, atomically where the backend can
   * (memory, a single Redis: MULTI/EXEC); a cluster applies each node's share atomically.
   */
  setMany(writes: readonly OnlineWrite[], checkpoint?: OnlineWrite): Promise<void>;
  /** True when the backend answers. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * The key of an entity's state: `<namespace>:{<entity>:<key values>}:<part>`. The braces are a
 * Redis Cluster hash tag, so all parts of one entity live on one node.
 */
export function stateKey(namespace: string, entity: string, keyValues: readonly string[], part: string): string {
  return `${namespace}:{${entity}:${keyValues.map((k) => k.replaceAll('\\', '\\\\').replaceAll('|', '\\|').replaceAll('}', '\\}')).join('|')}}:${part}`;
}
