import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRandomState } from './mt19937.ts';
import { bootstrapCi, pairedBootstrapTest, pairedPermutationTest, quantileSorted } from './significance.ts';

test('quantiles interpolate linearly like numpy.percentile', () => {
  // positions q·(n−1): 0.5 -> 1.5 -> 2.5; 0.25 -> 0.75 -> 1 + 0.75.
  assert.equal(quantileSorted([1, 2, 3, 4], 0.5), 2.5);
  assert.equal(quantileSorted([1, 2, 3, 4], 0.25), 1.75);
  assert.equal(quantileSorted([7], 0.9), 7);
});

test('bootstrap CI of a mean: degenerate, seeded, and about ±1.96 standard errors', () => {
  const flat = bootstrapCi(new Float64Array(20).fill(0.3));
  assert.ok(Math.abs(flat.mean - 0.3) < 1e-12 && Math.abs(flat.lower - 0.3) < 1e-12 && Math.abs(flat.upper - 0.3) < 1e-12);
  // Half zeros, half ones, n = 100: mean 0.5, standard error 0.05, so roughly [0.40, 0.60].
  const coin = Float64Array.from({ length: 100 }, (_, i) => i % 2);
  const ci = bootstrapCi(coin, { resamples: 2000, seed: 1 });
  assert.equal(ci.mean, 0.5);
  assert.ok(ci.lower > 0.38 && ci.lower < 0.42, `lower ${ci.lower}`);
  assert.ok(ci.upper > 0.58 && ci.upper < 0.62, `upper ${ci.upper}`);
  assert.deepEqual(bootstrapCi(coin, { resamples: 2000, seed: 1 }), ci, 'same seed, same interval');
  const narrow = bootstrapCi(coin, { resamples: 2000, seed: 1, level: 0.5 });
  assert.ok(narrow.lower > ci.lower && narrow.upper < ci.upper);
  assert.throws(() => bootstrapCi([]));
});

test('paired tests: identical models are not different, a consistent gain is', () => {
  const a = Float64Array.from({ length: 200 }, (_, i) => (i * 37) % 11 / 10);
  assert.equal(pairedBootstrapTest(a, a).pValue, 1);
  assert.equal(pairedPermutationTest(a, a).pValue, 1);
  // b trails a by 0.05 on every user, with per-user noise that keeps the sign.
  const b = a.map((v, i) => v - 0.05 - (i % 3) * 0.01);
  const boot = pairedBootstrapTest(a, b);
  // a − b = 0.05 + 0.01·(i mod 3); i mod 3 sums to 67·1 + 66·2 = 199 over 200 users.
  assert.ok(Math.abs(boot.meanDiff - (0.05 + (0.01 * 199) / 200)) < 1e-12);
  assert.ok(boot.lower > 0.05 && boot.upper < 0.07);
  assert.equal(boot.pValue, 1 / 1001, 'no resample under the null comes near');
  const perm = pairedPermutationTest(a, b);
  assert.equal(perm.pValue, 1 / 1001, 'no sign flip reaches the observed mean');
  // Pure noise around zero: the permutation test must not call it.
  const noise = Float64Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? 0.1 : -0.1));
  assert.ok(pairedPermutationTest(noise, new Float64Array(200)).pValue > 0.5);
  assert.throws(() => pairedPermutationTest([1], [1, 2]));
});

test('the paired bootstrap p-value holds its level with few users: identical models rejected at most ~5% of the time', () => {
  // nDCG-like values (40% zeros, the rest uniform) for two exchangeable models on 6 and 10 users.
  // The sign count of the percentile resamples, used before, rejected 16% at 6 users and 9% at 10.
  const rng = createRandomState(7);
  const draw = (n: number) => Float64Array.from({ length: n }, () => (rng.rand() < 0.4 ? 0 : rng.rand()));
  for (const n of [6, 10]) {
    let rejected = 0;
    const trials = 400;
    for (let t = 0; t < trials; t++) if (pairedBootstrapTest(draw(n), draw(n), { seed: 100 + t }).pValue <= 0.05) rejected++;
    assert.ok(rejected / trials <= 0.065, `${n} users: ${rejected} of ${trials} null pairs rejected at 5%`);
  }
  assert.equal(pairedBootstrapTest([0.3], [0.1]).pValue, 1, 'one user: no test');
});

test('the paired bootstrap p-value is never below the exact sign-flip test\'s least, 2^(1−n): two users who gain the same are not p 0.001', () => {
  assert.equal(pairedBootstrapTest([0.5, 0.5], [0.1, 0.1]).pValue, 0.5);
  assert.equal(pairedBootstrapTest([0.5, 0.5, 0.5, 0.5], [0.1, 0.1, 0.1, 0.1]).pValue, 0.125);
  // Many users: the floor is far below what resampling gives, and changes nothing.
  const a = Array.from({ length: 60 }, (_, i) => 0.5 + (i % 7) * 0.01);
  const b = a.map((x) => x - 0.05);
  assert.ok(pairedBootstrapTest(a, b).pValue < 0.01);
});
