/**
 * The Redis store when Redis fails: a server of our own (not the shared one) is killed, frozen and
 * brought back; requests must fail fast with IO_FAILED meanwhile and work again without a new store.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { RecsignalError } from '../../../core/errors.ts';
import { redisBinariesMissing, startRedisServer, testWithoutRedis, type TestRedisServer } from '../../../../test/helpers/redis-cluster.ts';
import { parseRedisUrl, RedisStore } from './redis-store.ts';

const value = Uint8Array.of(1, 2, 3);

async function assertFailsFast(promise: Promise<unknown>, withinMs: number, mentions: RegExp): Promise<void> {
  const started = performance.now();
  const error = await promise.then(
    () => assert.fail('expected a rejection'),
    (e: unknown) => e,
  );
  const took = performance.now() - started;
  assert.ok(error instanceof RecsignalError, `a RecsignalError, got ${String(error)}`);
  assert.equal(error.code, 'IO_FAILED');
  assert.match(error.message, mentions);
  assert.ok(took < withinMs, `rejected after ${took.toFixed(0)} ms, want < ${withinMs} ms`);
}

async function eventually(what: string, timeoutMs: number, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) assert.fail(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('parseRedisUrl', () => {
  test('names the endpoint without credentials', () => {
    assert.deepEqual(parseRedisUrl('redis://user:secret@10.0.0.5:6380/2'), { backend: 'Redis', target: '10.0.0.5:6380', probe: 'redis-cli -h 10.0.0.5 -p 6380 ping' });
    assert.equal(parseRedisUrl('redis://localhost').target, 'localhost:6379');
  });
  test('refuses other schemes, pointing at the cluster form', () => {
    assert.throws(() => parseRedisUrl('redis-cluster://a:1,b:2'), (e: RecsignalError) => e.code === 'INVALID_ARGUMENT' && /redis-cluster:\/\/h:p/.test(e.message));
    assert.throws(() => parseRedisUrl('127.0.0.1:6379'), (e: RecsignalError) => e.code === 'INVALID_ARGUMENT');
  });
});

const missing = await redisBinariesMissing();
if (missing !== undefined) {
  testWithoutRedis('redis store faults', missing);
} else {
  describe('redis store faults', () => {
    let server: TestRedisServer;
    before(async () => {
      server = await startRedisServer();
    });
    after(async () => {
      await server?.stop();
    });

    test('connecting to a port where nothing listens fails fast with IO_FAILED and what to check', async () => {
      const port = server.port;
      await server.kill();
      try {
        await assertFailsFast(RedisStore.connect(`redis://127.0.0.1:${port}`), 3000, new RegExp(`Redis at 127\\.0\\.0\\.1:${port}: connecting failed .*redis-cli -h 127\\.0\\.0\\.1 -p ${port} ping`));
      } finally {
        await server.start();
      }
    });

    test('tracked cache: a CLIENT TRACKING that fails with both connections up is tried again (here: refused by an ACL, then allowed)', async () => {
      const admin = new Redis(server.port, '127.0.0.1');
      const user = 'rs-tracking-test';
      try {
        // Everything the store needs but CLIENT TRACKING.
        await admin.call('ACL', 'SETUSER', user, 'on', '>pw', '~*', '&*', '+@all', '-client|tracking');
        const store = await RedisStore.connect(`redis://${user}:pw@127.0.0.1:${server.port}`, { cacheBytes: 1 << 20 });
        try {
          await store.setMany([{ key: 'k', value }]);
          await new Promise((r) => setTimeout(r, 700));
          assert.equal(store.cacheStats()?.ready, false, 'no tracking, no cache');
          await admin.call('ACL', 'SETUSER', user, '+client|tracking');
          await eventually('tracking set up by a retry', 3000, async () => store.cacheStats()?.ready === true);
          await store.getMany(['k']);
          const hits = store.cacheStats()?.hits ?? 0;
          assert.deepEqual(Array.from((await store.getMany(['k']))[0] ?? []), Array.from(value));
          assert.equal((store.cacheStats()?.hits ?? 0) - hits, 1, 'served from the cache');
          await admin.set('k', 'x');
          await eventually('the invalidation of another client\'s write', 2000, async () => Buffer.from((await store.getMany(['k']))[0] ?? []).toString() === 'x');
        } finally {
          await store.close();
        }
      } finally {
        await admin.call('ACL', 'DELUSER', user);
        admin.disconnect();
      }
    });

    for (const cacheBytes of [0, 1 << 20]) {
    test(`a killed server${cacheBytes > 0 ? ' (with the tracked cache)' : ''}: requests fail fast, ping is false; after a restart the same store works again`, async () => {
      const url = `redis://127.0.0.1:${server.port}`;
      const store = await RedisStore.connect(url, { cacheBytes });
      try {
        await store.setMany([{ key: 'k', value }]);
        assert.deepEqual(Buffer.from((await store.getMany(['k']))[0] ?? []), Buffer.from(value));
        if (cacheBytes > 0) {
          assert.deepEqual(Buffer.from((await store.getMany(['k']))[0] ?? []), Buffer.from(value));
          assert.equal(store.cacheStats()?.hits, 1, 'the second read is served from the cache');
        }

        await server.kill('SIGKILL');
        // The cache stops serving once the connection is known lost: nothing stale while Redis is away.
        if (cacheBytes > 0) await eventually('the cache noticing the lost connection', 2000, async () => store.cacheStats()?.ready === false);
        await assertFailsFast(store.getMany(['k']), 1000, /MGET of 1 keys failed .*check that it runs and answers \(redis-cli -h 127\.0\.0\.1 -p \d+ ping\)/);
        await assertFailsFast(store.setMany([{ key: 'k', value }]), 1000, /MULTI\/EXEC of 1 writes failed/);
        const pingStarted = performance.now();
        assert.equal(await store.ping(), false);
        assert.ok(performance.now() - pingStarted < 1000, 'ping answers at once');
        // Still down a while later (the client is reconnecting in the background): still fast.
        await new Promise((r) => setTimeout(r, 300));
        await assertFailsFast(store.getMany(['k', 'l']), 1000, /IO_FAILED|MGET of 2 keys failed/);

        await server.start();
        await eventually('the store reconnecting by itself', 5000, () => store.ping());
        // The server restarted empty (no persistence): the old value is gone, new writes work.
        assert.deepEqual(await store.getMany(['k']), [undefined]);
        await store.setMany([{ key: 'k', value }], { key: 'checkpoint', value });
        assert.deepEqual((await store.getMany(['k', 'checkpoint'])).map((v) => v?.length), [3, 3]);
        if (cacheBytes > 0) await eventually('tracking set up again on the new connections', 5000, async () => store.cacheStats()?.ready === true);
      } finally {
        await store.close();
      }
    });
    }

    test('a frozen server (connection open, no replies): requests time out after commandTimeoutMs, then work again', async () => {
      const store = await RedisStore.connect(`redis://127.0.0.1:${server.port}`, { commandTimeoutMs: 300 });
      const pid = server.pid as number;
      try {
        process.kill(pid, 'SIGSTOP');
        try {
          await assertFailsFast(store.getMany(['k']), 1000, /MGET of 1 keys failed \(Command timed out\)/);
          assert.equal(await store.ping(), false);
        } finally {
          process.kill(pid, 'SIGCONT');
        }
        await eventually('the store answering again', 5000, () => store.ping());
        await store.setMany([{ key: 'frozen', value }]);
        assert.equal((await store.getMany(['frozen']))[0]?.length, 3);
      } finally {
        await store.close();
      }
    });

    test('a closed store refuses requests with IO_FAILED and answers ping with false', async () => {
      const store = await RedisStore.connect(`redis://127.0.0.1:${server.port}`);
      await store.close();
      await store.close();
      assert.equal(await store.ping(), false);
      await assert.rejects(store.getMany(['k']), (e: RecsignalError) => e.code === 'IO_FAILED' && /closed; connect a new one/.test(e.message));
    });
  });
}
