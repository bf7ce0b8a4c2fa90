/** Every example runs, and every snippet in the README is a file here, word for word. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { compileFeatureSet } from '../src/plan/compile.ts';
import { run } from './library.ts';
import quickstart from './quickstart/features.ts';
import streaming from './streaming/features.ts';

test('the library example ingests and reads point-in-time features', async () => {
  const r = (await run()) as { accepted: number; features: Record<string, unknown> };
  assert.equal(r.accepted, 5);
  const f = r.features;
  assert.equal(f['user_activity__play_count_1d'], 1, 'the play at t itself is excluded');
  assert.deepEqual(f['user_activity__recent_plays'], ['i1']);
  assert.equal(f['user_ignored__ignored_7d'], 1, 'i2 was shown 10 min + 1 ms before t and not played');
  assert.equal(f['seen_recently'], 1);
  const expectedDecay = 1 * 2 ** (-3_500_000 / (7 * 86_400_000)) + 3 * 2 ** (-1_800_000 / (7 * 86_400_000));
  assert.ok(Math.abs((f['user_activity__taste_strength'] as number) - expectedDecay) < 1e-12);
});

test('the example feature sets compile', () => {
  assert.equal(compileFeatureSet(quickstart).ir.name, 'quickstart');
  assert.ok(compileFeatureSet(streaming).ir.views.length >= 8);
});

test('README snippets are the example files, verbatim', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const snippet = readFileSync(new URL('./quickstart/features.ts', import.meta.url), 'utf8').trim();
  assert.ok(readme.includes(snippet), 'README must embed examples/quickstart/features.ts exactly');
});
