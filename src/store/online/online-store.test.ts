/**
 * Every online store adapter passes the conformance suite: memory (with and without a snapshot
 * file), Redis on 127.0.0.1:6379 (keys under a namespace of this run, deleted after), and a
 * 3-master Redis Cluster this file starts on free loopback ports.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Cluster, Redis } from 'ioredis';
import { dropNamespace, redisBinariesMissing, redisUnreachable, startRedisCluster, testWithoutRedis, waitForFailover, type TestRedisCluster, type TestRedisServer } from '../../../test/helpers/redis-cluster.ts';
import type { RecsignalError } from '../../core/errors.ts';
import { runOnlineStoreConformance } from './conformance.ts';
import { MemoryStore } from './memory/memory-store.ts';
import { stateKey, type OnlineStore } from './online-store.ts';
import { keySlot } from './redis-cluster/key-slot.ts';
import { RedisClusterStore } from './redis-cluster/redis-cluster-store.ts';
import { RedisStore } from './redis/redis-store.ts';

const dir = await mkdtemp(join(tmpdir(), 'rs-online-store-'));
after(() => rm(dir, { recursive: true, force: true }));

// --- memory -------------------------------------------------------------------------------------

runOnlineStoreConformance({ name: 'memory', create: () => MemoryStore.open() });

let snapshots = 0;
runOnlineStoreConformance({
  name: 'memory with a snapshot file',
  create: () => MemoryStore.open({ snapshotPath: join(dir, `conformance-${snapshots++}.snap`) }),
});

describe('memory store snapshot', () => {
  test('a new instance restores every entry and the checkpoint, and not deleted keys', async () => {
    const path = join(dir, 'restore.snap');
    const first = await MemoryStore.open({ snapshotPath: path });
    const key = (id: string): string => stateKey('ns', 'user', [id], 'agg');
    const big = Uint8Array.from({ length: 700_000 }, (_, i) => (i * 31) % 251);
    await first.setMany(
      [
        { key: key('a'), value: Uint8Array.of(1, 2, 3) },
        { key: key('b'), value: new Uint8Array(0) },
        { key: key('c'), value: Uint8Array.of(0xff, 0x00) },
        { key: key('big'), value: big },
        { key: key('ünï{|}'), value: Uint8Array.of(7) },
      ],
      { key: 'ns:checkpoint', value: Uint8Array.of(42) },
    );
    await first.setMany([{ key: key('c'), value: null }]);
    const { size, approximateBytes } = first;
    await first.close();
    assert.deepEqual((await readdir(dir)).filter((f) => f.startsWith('restore')), ['restore.snap'], 'no temporary file is left');

    const second = await MemoryStore.open({ snapshotPath: path });
    assert.equal(second.size, size);
    assert.equal(second.approximateBytes, approximateBytes);
    const got = await second.getMany([key('a'), key('b'), key('c'), key('big'), key('ünï{|}'), 'ns:checkpoint']);
    assert.deepEqual(got.map((v) => (v === undefined ? undefined : Buffer.from(v).toString('hex'))), ['010203', '', undefined, Buffer.from(big).toString('hex'), '07', '2a']);
    await second.close();
  });
});

// --- Redis ----------------------------------------------------------------------------------------

/** Waits until `probe` holds, failing the test with `what` after `ms`. */
async function within(what: string, ms: number, probe: () => Promise<boolean>, describe?: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) assert.fail(`${what} did not happen within ${ms} ms${describe === undefined ? '' : `; ${describe()}`}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * The cluster cache tests' store options: the cache on, and timeouts loose enough for a loaded CI
 * machine (these tests are about freshness, not failing fast; the fault tests keep the defaults).
 */
const CACHED = { cacheBytes: 1 << 20, connectTimeoutMs: 10_000, commandTimeoutMs: 5000 } as const;

/** Runs `write` until it succeeds (another client following a reconnect or a failover), failing the test after 15 s. */
async function retried(what: string, write: () => Promise<void>): Promise<void> {
  await within(what, 15_000, () => write().then(() => true, () => false));
}

/**
 * Waits for the tracked cache to serve: its invalidation connection may be set up after connect
 * resolves (a setup that times out under load is retried), and until then reads bypass the cache.
 */
async function trackingOn(store: OnlineStore): Promise<void> {
  await within('tracking on', 10_000, async () => store.cacheStats?.()?.ready === true);
}

/** Whether one read of `keys` (a failed one counts as no) came entirely from the store's tracked cache. */
async function allFromCache(store: OnlineStore, keys: readonly string[]): Promise<boolean> {
  const hits = store.cacheStats?.()?.hits ?? 0;
  await store.getMany(keys).catch(() => undefined);
  return (store.cacheStats?.()?.hits ?? 0) - hits === keys.length;
}

/** The port of the master serving a key, per the cluster's own CLUSTER SLOTS. */
async function slotOwners(servers: readonly TestRedisServer[]): Promise<(key: string) => number> {
  const admin = new Redis((servers[0] as TestRedisServer).port, '127.0.0.1');
  try {
    const ranges = await admin.cluster('SLOTS');
    return (key) => {
      const slot = keySlot(key);
      const master = ranges.find(([from, to]) => slot >= from && slot <= to)?.[2];
      if (master === undefined) throw new Error(`slot ${slot} of ${key} is not served`);
      return master[1];
    };
  } finally {
    admin.disconnect();
  }
}

const redisProblem = await redisUnreachable(6379);
if (redisProblem === undefined) {
  const namespace = `rs-test-${randomBytes(6).toString('hex')}`;
  runOnlineStoreConformance({ name: 'redis', namespace, create: () => RedisStore.connect('redis://127.0.0.1:6379') });
  runOnlineStoreConformance({ name: 'redis with the tracked cache', namespace, cached: true, create: () => RedisStore.connect('redis://127.0.0.1:6379', { cacheBytes: 1 << 20 }) });
  // The suite deletes what it writes; this catches what a failed test left behind. Never FLUSHALL.
  after(() => dropNamespace('redis://127.0.0.1:6379', namespace));

  describe('redis tracked cache', () => {
    const key = (id: string) => stateKey(namespace, 'cache', [id], 'v');
    const text = (v: Uint8Array | undefined) => (v === undefined ? undefined : Buffer.from(v).toString());

    test('cached reads make no round trip; another client\'s write, delete and absent keys are seen once Redis invalidates them', async () => {
      const store = await RedisStore.connect('redis://127.0.0.1:6379', { cacheBytes: 1 << 20 });
      const other = new Redis('redis://127.0.0.1:6379');
      try {
        await trackingOn(store);
        await store.setMany([{ key: key('a'), value: Buffer.from('one') }]);
        assert.deepEqual((await store.getMany([key('a'), key('absent')])).map(text), ['one', undefined]);
        const before = store.cacheStats();
        assert.deepEqual((await store.getMany([key('a'), key('absent')])).map(text), ['one', undefined]);
        assert.equal((store.cacheStats()?.hits ?? 0) - (before?.hits ?? 0), 2, 'both keys, the absent one too, from the cache');
        await other.set(key('a'), 'two');
        await other.set(key('absent'), 'now here');
        await within('the other client\'s writes being read', 1000, async () => (await store.getMany([key('a'), key('absent')])).map(text).join() === 'two,now here');
        await other.del(key('a'));
        await within('the delete being read', 1000, async () => (await store.getMany([key('a')]))[0] === undefined);
      } finally {
        other.disconnect();
        await store.close();
      }
    });

    test('reads of keys that do not exist leave nothing in Redis\'s tracking table (broadcast mode), and are still invalidated', async () => {
      const store = await RedisStore.connect('redis://127.0.0.1:6379', { cacheBytes: 1 << 20 });
      const other = new Redis('redis://127.0.0.1:6379');
      try {
        await trackingOn(store);
        const tracked = async () => Number(/tracking_total_keys:(\d+)/.exec(String(await other.info('stats')))?.[1] ?? Number.NaN);
        const before = await tracked();
        const never = Array.from({ length: 2_000 }, (_, i) => key(`never-${i}`));
        assert.ok((await store.getMany(never)).every((v) => v === undefined));
        assert.ok((await store.getMany(never)).every((v) => v === undefined));
        // In the default mode each of them would stay in the table until written, most never are.
        assert.ok((await tracked()) - before < 100, `tracking table grew from ${before} to ${await tracked()} keys`);
        await other.set(never[7] as string, 'written');
        await within('the write of a key read as absent being read', 1000, async () => text((await store.getMany([never[7] as string]))[0]) === 'written');
      } finally {
        await other.del(key('never-7'));
        other.disconnect();
        await store.close();
      }
    });

    test('its own writes are read at once (read-after-write), even with reads in flight', async () => {
      const store = await RedisStore.connect('redis://127.0.0.1:6379', { cacheBytes: 1 << 20 });
      try {
        await trackingOn(store);
        for (let i = 0; i < 200; i++) {
          const inFlight = store.getMany([key('raw')]);
          await store.setMany([{ key: key('raw'), value: Buffer.from(`v${i}`) }]);
          await inFlight;
          assert.equal(text((await store.getMany([key('raw')]))[0]), `v${i}`, `write ${i}`);
        }
        assert.ok((store.cacheStats()?.hits ?? 0) > 0, 'some reads were served from the cache');
      } finally {
        await store.close();
      }
    });

    test('it keeps at most its capacity', async () => {
      const store = await RedisStore.connect('redis://127.0.0.1:6379', { cacheBytes: 64 * 1024 });
      try {
        await trackingOn(store);
        const big = Buffer.alloc(1000, 7);
        const keys = Array.from({ length: 300 }, (_, i) => key(`cap${i}`));
        await store.setMany(keys.map((k) => ({ key: k, value: big })));
        assert.equal((await store.getMany(keys)).filter((v) => v?.length === 1000).length, 300);
        const entries = store.cacheStats()?.entries ?? 0;
        assert.ok(entries > 0 && entries < 300, `${entries} entries kept of 300 (about 1 KB each in 64 KB)`);
        assert.equal((await store.getMany(keys)).filter((v) => v?.length === 1000).length, 300, 'evicted keys are read again from Redis');
      } finally {
        await store.close();
      }
    });
  });
} else {
  testWithoutRedis('online store conformance: redis', redisProblem);
}

// --- Redis Cluster ----------------------------------------------------------------------------------

const binariesProblem = await redisBinariesMissing();
if (binariesProblem === undefined) {
  let cluster: Promise<TestRedisCluster> | undefined;
  const startCluster = (): Promise<TestRedisCluster> => (cluster ??= startRedisCluster(3));
  after(async () => {
    if (cluster !== undefined) await (await cluster).stop();
  });

  runOnlineStoreConformance({ name: 'redis-cluster', create: async () => RedisClusterStore.connect((await startCluster()).url) });
  runOnlineStoreConformance({ name: 'redis-cluster with the tracked cache', cached: true, create: async () => RedisClusterStore.connect((await startCluster()).url, { cacheBytes: 1 << 20 }) });

  describe('redis cluster tracked cache', () => {
    const text = (v: Uint8Array | undefined) => (v === undefined ? undefined : Buffer.from(v).toString());

    test('tracked on every master: keys of all of them come from the cache, and another client\'s writes and deletes are seen once invalidated', async () => {
      const { url, servers } = await startCluster();
      const namespace = `rs-cache-${randomBytes(4).toString('hex')}`;
      const keys = Array.from({ length: 60 }, (_, i) => stateKey(namespace, 'user', [`u${i}`], 'agg'));
      const ownerOf = await slotOwners(servers);
      const masterOf = new Map(keys.map((k) => [k, ownerOf(k)]));
      assert.equal(new Set(masterOf.values()).size, servers.length, 'the keys live on every master');
      const store = await RedisClusterStore.connect(url, CACHED);
      const other = new Cluster(servers.map((s) => ({ host: '127.0.0.1', port: s.port })));
      other.on('error', () => undefined);
      try {
        await store.setMany(keys.map((key, i) => ({ key, value: Buffer.from(`v${i}`) })));
        assert.deepEqual((await store.getMany(keys)).map(text), keys.map((_, i) => `v${i}`));
        // Every master's connection tracks once it is up: then all 60 keys come from the cache.
        await within('every stored key from the cache', 10_000, () => allFromCache(store, keys));
        // One key per master, changed by another client: each node invalidates its own.
        const changed = servers.map((s) => keys.find((k) => masterOf.get(k) === s.port) as string);
        await retried('the other client\'s writes', async () => {
          for (const k of changed) await other.set(k, 'changed');
        });
        await within('the other client\'s writes being read', 5000, async () => (await store.getMany(changed)).every((v) => text(v) === 'changed'));
        await retried('the other client\'s deletes', async () => {
          for (const k of changed) await other.del(k);
        });
        await within('the deletes being read', 5000, async () => (await store.getMany(changed)).every((v) => v === undefined));
        assert.deepEqual((await store.getMany(keys)).map(text), keys.map((k, i) => (changed.includes(k) ? undefined : `v${i}`)));
        // Absent keys are not kept on a cluster (a migrating slot could hide their writes): each read asks.
        await within('absent keys read from the cluster every time, with the cache on', 10_000, async () => {
          const before = store.cacheStats();
          await store.getMany(changed);
          await store.getMany(changed);
          const after = store.cacheStats();
          return before?.ready === true && after?.ready === true && (after.misses - before.misses) === 2 * changed.length && after.hits === before.hits;
        });
      } finally {
        await store.setMany(keys.map((key) => ({ key, value: null })));
        other.disconnect();
        await store.close();
      }
    });

    test('after every connection of the client is killed it tracks again, and sees other writers again', async () => {
      const { url, servers } = await startCluster();
      const store = await RedisClusterStore.connect(url, CACHED);
      const other = new Cluster(servers.map((s) => ({ host: '127.0.0.1', port: s.port })));
      other.on('error', () => undefined); // its connections are killed too
      const namespace = `rs-reconnect-${randomBytes(4).toString('hex')}`;
      const keys = Array.from({ length: 30 }, (_, i) => stateKey(namespace, 'user', [`u${i}`], 'agg'));
      const cachedRead = () => allFromCache(store, keys);
      try {
        await store.setMany(keys.map((key) => ({ key, value: Buffer.from('a') })));
        await within('reads served from the cache', 5000, cachedRead);
        // The data connections (not the pub/sub ones): the cluster client drops every node and reconnects.
        for (const s of servers) {
          const admin = new Redis(s.port, '127.0.0.1');
          await admin.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
          admin.disconnect();
        }
        await within('reads served from the cache again', 10_000, cachedRead);
        // The other client lost its connections too: it retries while it reconnects.
        await retried('the other client writing again', async () => {
          for (const k of keys) await other.set(k, 'b');
        });
        await within('the other client\'s writes being read after the reconnect', 2000, async () => (await store.getMany(keys)).every((v) => text(v) === 'b'));
      } finally {
        await store.setMany(keys.map((key) => ({ key, value: null }))).catch(() => {});
        other.disconnect();
        await store.close();
      }
    });

    test('with replicas: a failover moves tracking to the promoted master, and nothing stale is read', async () => {
      const withReplicas = await startRedisCluster(3, 1);
      const { url, servers } = withReplicas;
      const store = await RedisClusterStore.connect(url, CACHED);
      const other = new Cluster(servers.map((s) => ({ host: '127.0.0.1', port: s.port })), { scaleReads: 'master' });
      other.on('error', () => undefined); // its reconnects to the killed master
      const keys = Array.from({ length: 40 }, (_, i) => stateKey('failover', 'user', [`u${i}`], 'agg'));
      const cachedRead = () => allFromCache(store, keys);
      try {
        await store.setMany(keys.map((key) => ({ key, value: Buffer.from('a') })));
        // Replicas are never read from: their connections stay unopened and do not hold the cache back.
        const stats = () => JSON.stringify(store.cacheStats());
        await within('reads served from the cache', 5000, cachedRead, stats);
        const ownerOf = await slotOwners(servers);
        const victim = servers[0] as TestRedisServer;
        const victimKeys = keys.filter((k) => ownerOf(k) === victim.port);
        assert.ok(victimKeys.length > 0);
        await victim.kill();
        // Once the store sees the connection drop, the dead master's keys fail: the cache does not answer for them.
        await within('reads of the dead master\'s keys failing', 5000, () => store.getMany(victimKeys).then(() => false, () => true));
        // How long Redis takes to elect the replica is Redis's (a minute, for a retried election)...
        await waitForFailover(servers, victim.port);
        // ...following it is the store's: it relearns the slots on a failed read and every 5 s.
        // On failure, the state of each node's pair says what held the cache back (seen once in ~20 runs of the suite, not understood yet).
        await within('the promoted master answering and the cache back on, once the cluster had failed over', 15_000, cachedRead, stats);
        // The other client may still be following the failover (MOVED, closed connections): it retries.
        await retried('the other client writing to the promoted master', async () => {
          for (const k of victimKeys) await other.set(k, 'b');
        });
        await within('writes on the promoted master being read', 2000, async () => (await store.getMany(victimKeys)).every((v) => text(v) === 'b'));
        await within('reads served from the cache again after those writes', 10_000, cachedRead, stats);
      } finally {
        other.disconnect();
        await store.close();
        await withReplicas.stop();
      }
    });

    test('its own writes are read at once (read-after-write), even with reads in flight', async () => {
      const { url } = await startCluster();
      const store = await RedisClusterStore.connect(url, CACHED);
      const namespace = `rs-raw-${randomBytes(4).toString('hex')}`;
      const keys = ['a', 'b', 'c'].map((id) => stateKey(namespace, 'user', [id], 'agg'));
      try {
        await within('tracking on every node', 5000, async () => store.cacheStats()?.ready === true);
        for (let i = 0; i < 100; i++) {
          const inFlight = store.getMany(keys);
          await store.setMany(keys.map((key) => ({ key, value: Buffer.from(`v${i}`) })));
          await inFlight;
          assert.deepEqual((await store.getMany(keys)).map(text), keys.map(() => `v${i}`), `write ${i}`);
        }
        assert.ok((store.cacheStats()?.hits ?? 0) > 0, 'some reads were served from the cache');
      } finally {
        await store.setMany(keys.map((key) => ({ key, value: null })));
        await store.close();
      }
    });
  });

  describe('redis cluster routing and faults', () => {
    test('keySlot agrees with CLUSTER KEYSLOT, hash tags and escapes included', async () => {
      const { servers } = await startCluster();
      const admin = new Redis((servers[0] as { port: number }).port, '127.0.0.1');
      const keys = [
        'foo', '123456789', '', '{}', '{}x', 'a{b}c', 'a{}b{c}', '{{a}}', 'a}b{c', '😀{ünï}',
        stateKey('ns', 'user', ['u1'], 'agg'), stateKey('ns', 'user', ['a}b'], 'agg'), stateKey('ns', 'user×item', ['u', 'i|j'], 'x'),
        ...Array.from({ length: 200 }, (_, i) => `key-${i}-${'é'.repeat(i % 5)}`),
      ];
      try {
        const server = await Promise.all(keys.map((k) => admin.cluster('KEYSLOT', k)));
        assert.deepEqual(keys.map(keySlot), server);
      } finally {
        await admin.quit();
      }
    });

    test('one entity’s parts share a slot, and a batch of entities spreads over all masters', async () => {
      const { url, servers } = await startCluster();
      assert.equal(new Set(['a', 'b', 'c'].map((part) => keySlot(stateKey('ns', 'user', ['u1'], part)))).size, 1);
      const store = await RedisClusterStore.connect(url);
      const namespace = `rs-spread-${randomBytes(4).toString('hex')}`;
      const writes = Array.from({ length: 300 }, (_, i) => ({ key: stateKey(namespace, 'user', [`u${i}`], 'agg'), value: Uint8Array.of(i % 256) }));
      try {
        await store.setMany(writes);
        const counts = await Promise.all(servers.map(async (s) => {
          const admin = new Redis(s.port, '127.0.0.1');
          try {
            return await admin.dbsize();
          } finally {
            await admin.quit();
          }
        }));
        assert.ok(counts.every((n) => n > 0), `keys per master: ${counts.join(', ')}`);
        const got = await store.getMany(writes.map((w) => w.key));
        assert.deepEqual(got.map((v) => v?.[0]), writes.map((w) => w.value[0]));
      } finally {
        await store.setMany(writes.map((w) => ({ key: w.key, value: null })));
        await store.close();
      }
    });

    // Last: it stops a master of the shared test cluster (and brings it back).
    for (const cacheBytes of [0, 1 << 20]) {
    test(`a killed master${cacheBytes > 0 ? ' (with the tracked cache)' : ''}: requests fail fast, ping is false; after a restart the same store works again`, async () => {
      const { url, servers } = await startCluster();
      const store = await RedisClusterStore.connect(url, { cacheBytes });
      const namespace = `rs-fault-${randomBytes(4).toString('hex')}`;
      const keys = Array.from({ length: 30 }, (_, i) => stateKey(namespace, 'user', [`u${i}`], 'agg'));
      const victim = servers[1] as TestRedisServer;
      try {
        await store.setMany(keys.map((key) => ({ key, value: Uint8Array.of(1) })));
        if (cacheBytes > 0) {
          await store.getMany(keys);
          assert.equal(store.cacheStats()?.ready, true);
          assert.equal((await store.getMany(keys)).filter((v) => v !== undefined).length, 30, 'cached');
        }
        await victim.kill();
        // The cache must stop answering for the dead master's keys: the read of them goes to the cluster, and fails.
        if (cacheBytes > 0) await within('the cache noticing the lost node', 2000, async () => store.getMany(keys).then(() => false, () => true));
        for (let attempt = 0; attempt < 2; attempt++) {
          const started = performance.now();
          await assert.rejects(store.getMany(keys), (e: RecsignalError) => e.code === 'IO_FAILED' && /MGET of 30 keys in \d+ slots failed .*cluster info/.test(e.message));
          const took = performance.now() - started;
          assert.ok(took < 1000, `rejected after ${took.toFixed(0)} ms, want < 1000 ms`);
          assert.equal(await store.ping(), false);
        }
        await victim.start();
        // The master restarts empty (no persistence) but keeps its slots (nodes.conf): reads work again.
        const deadline = Date.now() + 10_000;
        let got: (Uint8Array | undefined)[] | undefined;
        while (got === undefined) {
          got = await store.getMany(keys).catch(() => undefined);
          if (got === undefined) {
            assert.ok(Date.now() < deadline, 'the store did not recover within 10 s of the restart');
            await new Promise((r) => setTimeout(r, 100));
          }
        }
        assert.ok(got.some((v) => v !== undefined) && got.some((v) => v === undefined), 'keys of the live masters kept, those of the restarted one gone');
        assert.equal(await store.ping(), true);
        if (cacheBytes > 0) {
          await within('tracking set up again on every node', 10_000, async () => store.cacheStats()?.ready === true);
          const hits = store.cacheStats()?.hits ?? 0;
          const again = await store.getMany(keys);
          await store.getMany(keys);
          assert.deepEqual(again.map((v) => v?.[0]), got.map((v) => v?.[0]), 'what the cache serves after the restart is what the cluster holds');
          assert.ok((store.cacheStats()?.hits ?? 0) > hits, 'served from the cache again');
        }
      } finally {
        await store.setMany(keys.map((key) => ({ key, value: null }))).catch(() => {});
        await store.close();
      }
    });
    }
  });
} else {
  testWithoutRedis('online store conformance: redis-cluster', binariesProblem);
}
