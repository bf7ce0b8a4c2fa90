/**
 * `recsignal consistency`: the stream engine, replayed over a generated log, equals the batch engine
 * at random probes — in process, and through the stored layout in Redis and in a Redis Cluster (the
 * online path of a server or consumers on a store), leaving nothing behind there.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { main } from '../src/cli/main.ts';
import { sameValue } from '../src/monitor/consistency.ts';
import { redisBinariesMissing, redisUnreachable, startRedisCluster, testWithoutRedis } from './helpers/redis-cluster.ts';

const dir = mkdtempSync(join(tmpdir(), 'recsignal-consistency-'));
const log = join(dir, 'log');
after(() => rmSync(dir, { recursive: true, force: true }));
before(async () => {
  const quiet = () => undefined;
  const events = join(dir, 'events.jsonl');
  assert.equal(await main(['generate', '--users', '120', '--items', '80', '--days', '6', '--seed', '3', '--out', events, '--json'], quiet), 0);
  assert.equal(await main(['ingest', events, '--format', 'jsonl', '--log', log, '--json'], quiet), 0);
});

interface Report {
  probes: number;
  events: number;
  mismatches: number;
  features: { feature: string; mismatches: number; rate: number; informative: number }[];
}

async function consistency(...extra: string[]): Promise<{ code: number; report: Report }> {
  let out = '';
  const code = await main(['consistency', '--features', 'examples/streaming/features.ts', '--log', log, '--probes', '300', '--seed', '5', '--json', ...extra], (s) => (out += s));
  return { code, report: JSON.parse(out) as Report };
}

function assertConsistent({ code, report }: { code: number; report: Report }): void {
  assert.equal(code, 0);
  assert.equal(report.probes, 300);
  assert.ok(report.events > 1000, `replayed ${report.events} events`);
  assert.equal(report.mismatches, 0, JSON.stringify(report.features.filter((f) => f.mismatches > 0)));
  assert.ok(report.features.length > 40);
  for (const f of report.features) assert.equal(f.rate, 0);
}

test('consistency over a generated log: 0 mismatches at every feature, reported per feature', async () => {
  assertConsistent(await consistency());
});

test('views keyed by country and session: probes carry those context fields, so the comparisons test state, not defaults', async () => {
  let out = '';
  let errors = '';
  const code = await main(['consistency', '--features', 'test/fixtures/context-keys.ts', '--log', log, '--probes', '200', '--json'], (s) => (out += s), (s) => (errors += s));
  const report = JSON.parse(out) as Report;
  assert.equal(code, 0, errors);
  assert.equal(report.mismatches, 0);
  // Before, probes held user, item and device only: these views read their defaults on both sides, always.
  for (const f of report.features) assert.ok(f.informative > 50, `${f.feature}: ${f.informative} of 200 probes not at the default`);
  assert.equal(errors, '');
});

test('a log whose probes all read defaults (one event: every probe is at or before it) tested nothing: exit 1', async () => {
  const one = join(dir, 'one.jsonl');
  writeFileSync(one, `${JSON.stringify({ event_id: 'e1', user_id: 'u1', item_id: 'i1', type: 'play', ts: Date.UTC(2024, 0, 1) })}\n`);
  assert.equal(await main(['ingest', one, '--format', 'jsonl', '--log', join(dir, 'one-log'), '--json'], () => undefined), 0);
  let errors = '';
  const code = await main(['consistency', '--features', 'examples/streaming/features.ts', '--log', join(dir, 'one-log'), '--probes', '5'], () => undefined, (s) => (errors += s));
  assert.equal(code, 1);
  assert.match(errors, /every probe read every feature at its default on both sides .*: nothing was tested/);
});

test('sameValue: a list never equals an object, whatever their contents', () => {
  assert.equal(sameValue([], {}), false);
  assert.equal(sameValue({}, []), false);
  assert.equal(sameValue(['a'], { 0: 'a' } as unknown as string[]), false);
  assert.equal(sameValue({ a: 1 }, { a: 1 + 1e-12 }), true);
  assert.equal(sameValue(['a', 'b'], ['a', 'b']), true);
});

test('a log without events gives no probe: exit 1, since nothing was compared', async () => {
  let errors = '';
  mkdirSync(join(dir, 'no-events'));
  const code = await main(['consistency', '--features', 'examples/streaming/features.ts', '--log', join(dir, 'no-events'), '--probes', '10'], () => undefined, (s) => (errors += s));
  assert.equal(code, 1);
  assert.match(errors, /gave no probe \(0 events\): nothing was compared/);
});

const redisDown = await redisUnreachable(6379);
if (redisDown !== undefined) {
  testWithoutRedis('consistency --online redis://127.0.0.1:6379', redisDown);
} else {
  test('consistency --online redis://: the stored layout in Redis equals the batch engine, and its namespace is deleted after', async () => {
    const redis = new Redis('redis://127.0.0.1:6379');
    try {
      const left = async () => (await redis.keys('recsignal-consistency:*')).length;
      const before = await left();
      assertConsistent(await consistency('--online', 'redis://127.0.0.1:6379'));
      assert.equal(await left(), before, 'no key of the replay is left in Redis');
    } finally {
      redis.disconnect();
    }
  });
}

const binariesMissing = await redisBinariesMissing();
if (binariesMissing !== undefined) {
  testWithoutRedis('consistency --online redis-cluster://', binariesMissing);
} else {
  test('consistency --online redis-cluster://: the same on a 3-master cluster (keys spread over every node), and nothing left on any node', async () => {
    const cluster = await startRedisCluster(3);
    try {
      assertConsistent(await consistency('--online', cluster.url));
      for (const s of cluster.servers) {
        const node = new Redis(`redis://127.0.0.1:${s.port}`);
        try {
          const sets = /cmdstat_set:calls=(\d+)/.exec(await node.info('commandstats'))?.[1];
          assert.ok(Number(sets) > 0, `the replay wrote to node 127.0.0.1:${s.port} (SET calls: ${sets})`);
          assert.equal(await node.dbsize(), 0, `node 127.0.0.1:${s.port} keeps no key of the replay`);
        } finally {
          node.disconnect();
        }
      }
    } finally {
      await cluster.stop();
    }
  });
}
