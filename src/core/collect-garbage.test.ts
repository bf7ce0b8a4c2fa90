import assert from 'node:assert/strict';
import { setImmediate as tick } from 'node:timers/promises';
import { test } from 'node:test';
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
