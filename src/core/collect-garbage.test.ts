import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import { test } from 'node:test';
import { getHeapSpaceStatistics } from 'node:v8';
import { collectGarbage } from './collect-garbage.ts';

test('collectGarbage collects what nothing holds, without node --expose-gc, and leaves gc hidden', async () => {
  assert.equal((globalThis as { gc?: unknown }).gc, undefined, 'this test runs without --expose-gc');
  let held: object | null = { payload: new Array(1000).fill(7) };
  const ref = new WeakRef(held);
  held = null;
  // A WeakRef keeps its target alive until the job that made or read it ends.
  await tick();
  collectGarbage();
  assert.equal(ref.deref(), undefined, 'the unreachable object was collected');
  assert.equal((globalThis as { gc?: unknown }).gc, undefined, 'gc is not left exposed');
});

test('collectGarbage compacts: the old space gives back the pages the garbage lay on', () => {
  const oldSpace = () => getHeapSpaceStatistics().find((s) => s.space_name === 'old_space') as { space_size: number; space_used_size: number };
  // A fragmented old space, as a replay leaves it: many objects promoted, two thirds of them then dropped.
  let all: { n: number; row: number[] }[] = [];
  for (let i = 0; i < 1_500_000; i++) all.push({ n: i, row: [i] });
  const kept = all.filter((_, i) => i % 3 === 0);
  all = [];
  collectGarbage();
  const after = oldSpace();
  // Without compaction (a plain full collection) this heap keeps ~3x its live size committed.
  assert.ok(after.space_size < after.space_used_size * 1.5, `old space ${(after.space_size / 2 ** 20).toFixed(0)} MB committed for ${(after.space_used_size / 2 ** 20).toFixed(0)} MB used`);
  assert.equal(kept.length, 500_000);
});
