import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createRng } from './rng.ts';
import { regressionData, binaryData } from './synthetic.ts';
import { trainGbdt } from './train.ts';
import type { GbdtModelJSON } from './types.ts';

/** E[f(x) | x_S] the path-dependent way: features outside S are averaged out by training counts. */
function conditional(j: GbdtModelJSON, x: ArrayLike<number>, inS: (f: number) => boolean): number {
  const cover = (c: number) => (c >= 0 ? j.nodes.count[c]! : j.leaves.count[~c]!);
  const walk = (c: number): number => {
    if (c < 0) return j.leaves.value[~c]!;
    const f = j.nodes.feature[c]!;
    const l = j.nodes.left[c]!;
    const r = j.nodes.right[c]!;
    if (inS(f)) {
      const t = j.nodes.threshold[c]!;
      const v = x[f]!;
      const goLeft = v <= (t === 'inf' ? Infinity : t) || (Number.isNaN(v) && j.nodes.defaultLeft[c] === 1);
      return walk(goLeft ? l : r);
    }
    return (cover(l) * walk(l) + cover(r) * walk(r)) / (cover(l) + cover(r));
  };
  return j.treeRoots.reduce((s, root) => s + walk(root), j.baseScore);
}

/** Exact Shapley values by enumerating every coalition (2^d of them). */
function bruteForceShapley(j: GbdtModelJSON, x: ArrayLike<number>): number[] {
  const d = j.numFeatures;
  const fact = (k: number): number => (k <= 1 ? 1 : k * fact(k - 1));
  const phi = new Array<number>(d).fill(0);
  for (let mask = 0; mask < 1 << d; mask++) {
    const v = conditional(j, x, (f) => ((mask >> f) & 1) === 1);
    const size = popcount(mask);
    for (let i = 0; i < d; i++) {
      // mask contributes +v as S ∪ {i} when it holds i, and -v as S when it does not.
      if ((mask >> i) & 1) phi[i]! += (fact(size - 1) * fact(d - size) / fact(d)) * v;
      else phi[i]! -= (fact(size) * fact(d - size - 1) / fact(d)) * v;
    }
  }
  return phi;
}

function popcount(m: number): number {
  let c = 0;
  for (; m; m &= m - 1) c++;
  return c;
}

describe('TreeSHAP contributions', () => {
  const train = regressionData(3000, 5, 21);
  // Some missing values, so default directions are exercised too.
  const rng = createRng(4);
  for (let i = 0; i < train.features.data.length; i++) if (rng() < 0.05) train.features.data[i] = NaN;
  const model = trainGbdt({ objective: 'regression', train, numIterations: 25, numLeaves: 12, learningRate: 0.2 });
  const json = model.toJSON();

  test('equal exact Shapley values computed by enumerating coalitions', () => {
    for (let r = 0; r < 20; r++) {
      const x = train.features.data.subarray(r * 5, r * 5 + 5);
      const phi = model.contributions(x);
      const exact = bruteForceShapley(json, x);
      for (let f = 0; f < 5; f++) assert.ok(Math.abs(phi[f]! - exact[f]!) < 1e-9, `row ${r} feature ${f}: ${phi[f]} vs ${exact[f]}`);
      assert.ok(Math.abs(phi[5]! - conditional(json, x, () => false)) < 1e-9, 'bias is E[f(x)]');
    }
  });

  test('add up to the raw prediction for every row (binary margin too)', () => {
    const b = binaryData(2000, 4, 8);
    const bm = trainGbdt({ objective: 'binary', train: b, numIterations: 40 });
    for (const [m, x] of [[model, train.features], [bm, b.features]] as const) {
      for (let r = 0; r < 50; r++) {
        const row = x.data.subarray(r * x.cols, (r + 1) * x.cols);
        const phi = m.contributions(row);
        const sum = phi.reduce((a, v) => a + v, 0);
        assert.ok(Math.abs(sum - m.predict(row, { raw: true })) < 1e-9);
      }
    }
  });

  test('topContributions names the features that drive the score, largest first', () => {
    const names = ['a', 'b', 'c', 'd', 'e'];
    const m = trainGbdt({ objective: 'regression', train: regressionData(3000, 5, 22), featureNames: names, numIterations: 50, learningRate: 0.2 });
    // x0 = 0.5 makes sin(3 x0) large; x1 = 0.9 makes x1^2 large; the noise features carry nothing.
    const top = m.topContributions([0.5, 0.9, 0, 0, 0], 2);
    assert.deepEqual(top.map((c) => c.name).sort(), ['a', 'b']);
    assert.ok(Math.abs(top[0]!.value) >= Math.abs(top[1]!.value));
  });
});
