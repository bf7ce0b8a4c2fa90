/**
 * @module The online store on a Redis Cluster. Multi-key commands must stay within one hash slot,
 * so a read sends, to each master, one pipeline holding one MGET per slot (all masters in
 * parallel), and a write batch runs one MULTI/EXEC per slot. `stateKey` puts all parts of an entity
 * in one slot through its `{...}` hash tag. With `cacheBytes`, values read are kept in process by
 * the tracked cache, tracked on every node's connection (client tracking is per server).
 */
import { Cluster, Redis, type ClusterNode, type RedisOptions } from 'ioredis';
import { RecsignalError } from '../../../core/errors.ts';
import type { OnlineStore, OnlineWrite } from '../online-store.ts';
import { asBuffer, deleteMatching, failFastOptions, ioFailed, reconnectDelay, throwOnReplyError, ttlOf, type Endpoint, type RedisTimeouts } from '../redis/redis-shared.ts';
import { TrackedCache, type CacheStats, type Tracker } from '../redis/tracked-cache.ts';
import { keySlot } from './key-slot.ts';

export interface RedisClusterStoreOptions extends RedisTimeouts {
  /**
   * Keep values read in process, up to this many bytes, fresh by client tracking on each node
   * (`tracked-cache.ts`): a read of cached keys makes no round trip. 0 or absent: every read asks the cluster.
   */
  readonly cacheBytes?: number;
}

export interface ClusterAddress {
  readonly host: string;
  readonly port: number;
}

export class RedisClusterStore implements OnlineStore {
  readonly kind = 'redis-cluster';
  readonly #cluster: Cluster;
  readonly #endpoint: Endpoint;
  #lastConnectionError: Error | undefined;
  #closed = false;
  #cache: TrackedCache | undefined;
  /** The tracked pair of each node connection the client holds (with the cache on). */
  readonly #trackers = new Map<Redis, Tracker>();

  private constructor(cluster: Cluster, endpoint: Endpoint) {
    this.#cluster = cluster;
    this.#endpoint = endpoint;
    cluster.on('error', (e: Error) => {
      // "Failed to refresh slots cache." carries the reason (e.g. cluster support disabled) in lastNodeError.
      const nodeError = (e as Error & { lastNodeError?: unknown }).lastNodeError;
      this.#lastConnectionError = nodeError instanceof Error ? new Error(`${e.message} Last node error: ${nodeError.message}`) : e;
    });
    cluster.on('ready', () => {
      this.#lastConnectionError = undefined;
    });
  }

  /**
   * Connects through any of the nodes of `redis-cluster://host:port,host:port,...` (the client
   * learns the rest from CLUSTER SLOTS). Rejects with IO_FAILED when none answers in time.
   */
  static async connect(url: string, options: RedisClusterStoreOptions = {}): Promise<RedisClusterStore> {
    const nodes = parseRedisClusterUrl(url);
    const first = nodes[0] as ClusterAddress;
    const endpoint: Endpoint = {
      backend: 'Redis Cluster',
      target: nodes.map((n) => `${n.host}:${n.port}`).join(','),
      probe: `redis-cli -h ${first.host} -p ${first.port} cluster info`,
    };
    const { enableOfflineQueue, lazyConnect, ...redisOptions } = failFastOptions(options);
    const startup: ClusterNode[] = nodes.map((n) => ({ host: n.host, port: n.port }));
    const cluster = new Cluster(startup, {
      enableOfflineQueue,
      lazyConnect,
      redisOptions,
      clusterRetryStrategy: reconnectDelay,
      slotsRefreshTimeout: options.connectTimeoutMs ?? 2000,
      // A lost node is retried (then given up) within ~0.2 s rather than ioredis' 16 x 100 ms.
      maxRedirections: 3,
      retryDelayOnFailover: 50,
      retryDelayOnClusterDown: 50,
      // Relearns the topology on its own too, e.g. a master that came back or slots that moved.
      slotsRefreshInterval: 5000,
    });
    const store = new RedisClusterStore(cluster, endpoint);
    // Absent keys are not cached on a cluster (see TrackedCache): a slot migrating could hide their writes.
    if (options.cacheBytes !== undefined && options.cacheBytes > 0) store.#trackNodes(new TrackedCache(options.cacheBytes, false, false), { ...redisOptions, retryStrategy: reconnectDelay });
    try {
      // Tracking comes up on each node as the client first uses it; until then reads go to the cluster.
      await withTimeout(cluster.connect(), (options.connectTimeoutMs ?? 2000) * 2, 'the cluster did not become ready');
    } catch (e) {
      store.#closed = true;
      cluster.disconnect();
      await store.#cache?.close();
      throw ioFailed(endpoint, 'connecting', e, 'connecting', store.#lastConnectionError);
    }
    return store;
  }

  /**
   * Tracks the reads of each node connection the client makes (and stops with the ones it drops or
   * that end). A changed slot map (a failover, a resharding done) also empties the cache; a key
   * that moves is invalidated by its old node as it leaves it, and absent keys are not cached.
   */
  #trackNodes(cache: TrackedCache, subOptions: Omit<ReturnType<typeof failFastOptions>, 'enableOfflineQueue' | 'lazyConnect'> & { readonly retryStrategy: (attempt: number) => number }): void {
    this.#cache = cache;
    this.#cluster.on('+node', (node: Redis) => {
      if (this.#closed) return;
      // The node's address and credentials, as the client connects to it.
      const { host, port, username, password, tls } = node.options;
      const address = Object.fromEntries(Object.entries({ host, port, username, password, tls }).filter(([, v]) => v !== undefined)) as Pick<RedisOptions, 'host' | 'port' | 'username' | 'password' | 'tls'>;
      const sub = new Redis({ ...subOptions, ...address, lazyConnect: true, enableOfflineQueue: false, protocol: 2, autoResubscribe: false });
      const tracker = cache.track(node, sub);
      this.#trackers.set(node, tracker);
      // Whatever the cluster's state: after a full reconnect nodes come back while it is 'connecting'.
      tracker.start().catch(() => undefined);
      // A node connection that ends is gone for good (the client makes a new one): '-node' is not always emitted.
      node.once('end', () => this.#untrack(node));
    });
    this.#cluster.on('-node', (node: Redis) => this.#untrack(node));
    let slotMap = '';
    this.#cluster.on('refresh', () => {
      const now = this.#cluster.slots.map((nodes) => nodes?.[0] ?? '').join();
      if (now !== slotMap) cache.flush();
      slotMap = now;
    });
  }

  #untrack(node: Redis): void {
    const tracker = this.#trackers.get(node);
    if (tracker === undefined || this.#cache === undefined) return;
    this.#trackers.delete(node);
    void this.#cache.untrack(tracker);
  }

  async getMany(keys: readonly string[]): Promise<(Uint8Array | undefined)[]> {
    this.#checkOpen();
    if (keys.length === 0) return [];
    return this.#cache === undefined ? this.#read(keys) : this.#cache.read(keys, (missed) => this.#read(missed));
  }

  /** Hits and misses of the process cache (null without one), and whether it serves now. */
  cacheStats(): CacheStats | null {
    return this.#cache?.stats() ?? null;
  }

  async #read(keys: readonly string[]): Promise<(Uint8Array | undefined)[]> {
    const out = new Array<Uint8Array | undefined>(keys.length).fill(undefined);
    if (keys.length === 0) return out;
    const bySlot = groupBySlot(keys, (k) => k);
    try {
      await Promise.all(
        this.#byNode(bySlot.keys()).map(async (slots) => {
          const pipeline = this.#cluster.pipeline();
          for (const slot of slots) pipeline.mgetBuffer((bySlot.get(slot) as number[]).map((i) => keys[i] as string));
          const results = await pipeline.exec();
          throwOnReplyError(results);
          slots.forEach((slot, j) => {
            const values = (results as [Error | null, unknown][])[j]?.[1] as (Buffer | null)[];
            (bySlot.get(slot) as number[]).forEach((at, k) => {
              out[at] = values[k] ?? undefined;
            });
          });
        }),
      );
    } catch (e) {
      throw this.#failed(`MGET of ${keys.length} keys in ${bySlot.size} slots`, e);
    }
    return out;
  }

  /**
   * One MULTI/EXEC per hash slot; the transactions of the slots of one master travel in one
   * pipeline, all masters in parallel. The checkpoint's slot goes last, after every other slot's
   * share succeeded: a failure between them leaves state ahead of the checkpoint (events are
   * replayed), never behind it (events lost). Each slot's share is atomic; the whole batch is not.
   */
  async setMany(writes: readonly OnlineWrite[], checkpoint?: OnlineWrite): Promise<void> {
    this.#checkOpen();
    const bySlot = new Map<number, OnlineWrite[]>();
    for (const [slot, indices] of groupBySlot(writes, (w) => w.key)) bySlot.set(slot, indices.map((i) => writes[i] as OnlineWrite));
    let last: Map<number, OnlineWrite[]> | undefined;
    if (checkpoint !== undefined) {
      const slot = keySlot(checkpoint.key);
      last = new Map([[slot, [...(bySlot.get(slot) ?? []), checkpoint]]]);
      bySlot.delete(slot);
    }
    const run = async (): Promise<void> => {
      try {
        await this.#transactions(bySlot);
        if (last !== undefined) await this.#transactions(last);
      } catch (e) {
        throw this.#failed(`MULTI/EXEC of ${writes.length} writes in ${bySlot.size + (last === undefined ? 0 : 1)} slots`, e);
      }
    };
    if (this.#cache === undefined) return run();
    const keys = writes.map((w) => w.key);
    if (checkpoint !== undefined) keys.push(checkpoint.key);
    return this.#cache.write(keys, run);
  }

  /** Every master's keys under `prefix` (SCAN on each, in parallel); a master that does not answer fails the call. */
  async deletePrefix(prefix: string): Promise<number> {
    this.#checkOpen();
    try {
      const counts = await Promise.all(this.#cluster.nodes('master').map((node) => deleteMatching(node, prefix)));
      return counts.reduce((a, b) => a + b, 0);
    } catch (e) {
      throw this.#failed(`deleting the keys under ${prefix}`, e);
    } finally {
      // Not every delete made here is invalidated back to this process: start the cache afresh.
      this.#cache?.flush();
    }
  }

  /** True when every master of the client's slot map is connected and answers. */
  async ping(): Promise<boolean> {
    if (this.#closed || this.#cluster.status !== 'ready') return false;
    const masters = new Map(this.#cluster.nodes('master').map((m) => [`${m.options.host}:${m.options.port}`, m]));
    const wanted = new Set<string>();
    for (const nodes of this.#cluster.slots) if (nodes?.[0] !== undefined) wanted.add(nodes[0]);
    if (wanted.size === 0 || [...wanted].some((node) => !masters.has(node))) {
      this.#relearnTopology();
      return false;
    }
    try {
      const replies = await Promise.all([...wanted].map((node) => (masters.get(node) as Redis).ping()));
      return replies.every((r) => r === 'PONG');
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#trackers.clear();
    await this.#cache?.close();
    try {
      await this.#cluster.quit();
    } catch {
      this.#cluster.disconnect();
    }
  }

  /** Runs one transaction per slot: a pipeline per master, holding its slots' MULTI ... EXEC blocks. */
  async #transactions(bySlot: ReadonlyMap<number, readonly OnlineWrite[]>): Promise<void> {
    await Promise.all(
      this.#byNode(bySlot.keys()).map(async (slots) => {
        const pipeline = this.#cluster.pipeline();
        // ioredis supports inline transactions in a pipeline (README "Transaction"), its types do not.
        const inline = pipeline as unknown as { multi(): void; exec(): void };
        for (const slot of slots) {
          inline.multi();
          for (const w of bySlot.get(slot) as OnlineWrite[]) {
            if (w.value === null) pipeline.del(w.key);
            else if (w.ttlMs !== undefined) pipeline.set(w.key, asBuffer(w.value), 'PX', ttlOf(w.ttlMs));
            else pipeline.set(w.key, asBuffer(w.value));
          }
          // Inside a transaction exec() queues EXEC; the last exec() below sends the pipeline.
          inline.exec();
        }
        throwOnReplyError(await pipeline.exec());
      }),
    );
  }

  /** Slots grouped by the master that serves them (per the client's slot map). */
  #byNode(slots: Iterable<number>): number[][] {
    const byNode = new Map<string, number[]>();
    for (const slot of slots) {
      const node = this.#cluster.slots[slot]?.[0] ?? `unmapped:${slot}`;
      const group = byNode.get(node);
      if (group === undefined) byNode.set(node, [slot]);
      else group.push(slot);
    }
    return [...byNode.values()];
  }

  /**
   * ioredis drops a node whose connection closed and only follows a MOVED for single commands, so
   * after a failed pipeline the slot map is reloaded here: a master that came back is used again.
   */
  #relearnTopology(): void {
    if (this.#closed) return;
    this.#cluster.refreshSlotsCache(() => {});
  }

  #failed(what: string, e: unknown): RecsignalError {
    this.#relearnTopology();
    return ioFailed(this.#endpoint, what, e, this.#cluster.status === 'ready' ? 'up' : 'down', this.#lastConnectionError);
  }

  #checkOpen(): void {
    if (this.#closed) throw new RecsignalError('IO_FAILED', `the Redis Cluster online store for ${this.#endpoint.target} is closed; connect a new one with RedisClusterStore.connect()`);
  }
}

/**
 * Parses `redis-cluster://host:port,host:port,...` (IPv6 hosts in brackets: `[::1]:7000`) into
 * the startup nodes; any one reachable node is enough to connect.
 */
export function parseRedisClusterUrl(url: string): ClusterAddress[] {
  const invalid = (why: string): RecsignalError =>
    new RecsignalError('INVALID_ARGUMENT', `not a Redis Cluster URL: ${JSON.stringify(url)} (${why}); write redis-cluster://host:port,host:port, e.g. redis-cluster://127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002`);
  const scheme = 'redis-cluster://';
  if (!url.startsWith(scheme)) throw invalid(`it must start with ${scheme}`);
  const body = url.slice(scheme.length).replace(/\/$/, '');
  if (body === '') throw invalid('no node');
  return body.split(',').map((part) => {
    const m = /^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]@]+):(\d+)$/.exec(part.trim());
    if (m === null) throw invalid(`${JSON.stringify(part)} is not host:port`);
    const port = Number(m[2]);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw invalid(`port ${m[2]} is out of range`);
    return { host: (m[1] as string).replace(/^\[|\]$/g, ''), port };
  });
}

/** Indices of `items` grouped by the hash slot of their key, in input order within each slot. */
function groupBySlot<T>(items: readonly T[], keyOf: (item: T) => string): Map<number, number[]> {
  const bySlot = new Map<number, number[]>();
  items.forEach((item, i) => {
    const slot = keySlot(keyOf(item));
    const indices = bySlot.get(slot);
    if (indices === undefined) bySlot.set(slot, [i]);
    else indices.push(i);
  });
  return bySlot;
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${message} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
