/** Parsing redis-cluster:// URLs and computing hash slots (the server-checked slot test is in online-store.test.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RecsignalError } from '../../../core/errors.ts';
import { keySlot } from './key-slot.ts';
import { parseRedisClusterUrl } from './redis-cluster-store.ts';

test('parseRedisClusterUrl reads host:port lists, IPv6 in brackets', () => {
  assert.deepEqual(parseRedisClusterUrl('redis-cluster://127.0.0.1:7000,127.0.0.1:7001, redis-b:7002/'), [
    { host: '127.0.0.1', port: 7000 },
    { host: '127.0.0.1', port: 7001 },
    { host: 'redis-b', port: 7002 },
  ]);
  assert.deepEqual(parseRedisClusterUrl('redis-cluster://[::1]:7000'), [{ host: '::1', port: 7000 }]);
});

test('parseRedisClusterUrl says what is wrong and shows the form', () => {
  for (const [url, why] of [
    ['redis://127.0.0.1:7000', /must start with redis-cluster:\/\//],
    ['redis-cluster://', /no node/],
    ['redis-cluster://127.0.0.1', /"127\.0\.0\.1" is not host:port/],
    ['redis-cluster://a:1,,b:2', /"" is not host:port/],
    ['redis-cluster://a:70000', /port 70000 is out of range/],
  ] as const) {
    assert.throws(() => parseRedisClusterUrl(url), (e: RecsignalError) => e.code === 'INVALID_ARGUMENT' && why.test(e.message) && e.message.includes('redis-cluster://127.0.0.1:7000,'), url);
  }
});

test('keySlot: CRC16 of the key, or of its non-empty hash tag', () => {
  // Values from the Redis Cluster specification and CLUSTER KEYSLOT.
  assert.equal(keySlot('123456789'), 0x31c3 % 16384);
  assert.equal(keySlot('foo'), 12182);
  assert.equal(keySlot('{user1000}.following'), keySlot('user1000'));
  assert.notEqual(keySlot('foo{}{bar}'), keySlot('bar'), 'an empty tag hashes the whole key');
  assert.equal(keySlot('foo{{bar}}zap'), keySlot('{bar'));
  assert.equal(keySlot('foo{bar}{zap}'), keySlot('bar'));
});
