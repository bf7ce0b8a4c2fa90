import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { auc, ndcgAtK, rmse } from './metrics.ts';
import { createRng } from './rng.ts';
import { binaryData, rankingData, regressionData } from './synthetic.ts';
import { trainGbdt } from './train.ts';
import { queryOffsets } from './dataset.ts';

describe('trainGbdt regression', () => {
  test('fits a nonlinear function far better than the constant predictor', () => {
    const train = regressionData(5000, 6, 1);
    const test = regressionData(2000, 6, 2);
    const model = trainGbdt({ objective: 'regression', train, numIterations: 200, learningRate: 0.1 });
    const pred = model.predictBatch(test.features);
    const mean = train.labels.length === 0 ? 0 : Array.from(train.labels).reduce((a, b) => a + b, 0) / train.labels.length;
    const constant = rmse(new Float64Array(test.labels.length).fill(mean), test.labels);
    const fitted = rmse(pred, test.labels);
    assert.ok(constant > 0.5, `constant rmse ${constant}`);
    // Noise sd is 0.1: a good fit sits near it, far below the constant predictor.
    assert.ok(fitted < 0.2, `model rmse ${fitted} vs constant ${constant}`);
    assert.equal(model.numTrees, 200);
    assert.ok(Math.abs(model.baseScore - mean) < 1e-12);
  });
});

describe('trainGbdt binary', () => {
  test('separates a noisy ring with AUC > 0.9 and probabilities in (0, 1)', () => {
    const train = binaryData(8000, 5, 3);
    const test = binaryData(3000, 5, 4, 0);
    const model = trainGbdt({ objective: 'binary', train, numIterations: 150, learningRate: 0.1 });
    const p = model.predictBatch(test.features);
    const a = auc(p, test.labels);
    assert.ok(a > 0.9, `AUC ${a}`);
    assert.ok(p.every((v) => v > 0 && v < 1));
    const raw = model.predictBatch(test.features, { raw: true });
    assert.ok(Math.abs(1 / (1 + Math.exp(-raw[0]!)) - p[0]!) < 1e-15);
  });
});

describe('trainGbdt lambdarank', () => {
  const train = rankingData(400, 30, 10, 5);
  const valid = rankingData(150, 30, 10, 6);
  const qo = queryOffsets(valid.groups, valid.labels.length);
  const gain = Array.from({ length: 31 }, (_, i) => 2 ** i - 1);

  test('rank_xendcg learns the same ordering (nDCG@10 near the ideal)', () => {
    const model = trainGbdt({ objective: 'rank_xendcg', train, valid, numIterations: 300, learningRate: 0.1, earlyStoppingRounds: 20, evalAt: 10 });
    const ndcg = ndcgAtK(model.predictBatch(valid.features), valid.labels, qo, 10, gain);
    // A random order scores ~0.55 here (the test below); a wrong sign or scale of the gradient would not get near 1.
    assert.ok(ndcg > 0.97, `nDCG@10 ${ndcg}`);
    assert.ok(ndcg >= model.evalHistory[0]!.value, `first tree ${model.evalHistory[0]!.value}`);
  });

  test('reaches nDCG@10 near the ideal, far above random order, and stops early on the validation set', () => {
    const model = trainGbdt({
      objective: 'lambdarank', train, valid, numIterations: 300, learningRate: 0.1, earlyStoppingRounds: 20, evalAt: 10,
    });
    const ndcg = ndcgAtK(model.predictBatch(valid.features), valid.labels, qo, 10, gain);
    const rng = createRng(9);
    const random = ndcgAtK(Float64Array.from(valid.labels, () => rng()), valid.labels, qo, 10, gain);
    assert.ok(ndcg > 0.98, `nDCG@10 ${ndcg}`);
    assert.ok(random < 0.55, `random nDCG@10 ${random}`);
    // Boosting is what gets it there: one tree is well short of it.
    assert.ok(ndcg > model.evalHistory[0]!.value + 0.02, `first tree ${model.evalHistory[0]!.value}`);
    // The kept iteration is the best one recorded, and the recorded value is what the model scores.
    const best = Math.max(...model.evalHistory.map((r) => r.value));
    assert.equal(model.evalHistory[model.bestIteration - 1]!.value, best);
    assert.ok(Math.abs(best - ndcg) < 1e-12);
    assert.equal(model.numTrees, model.bestIteration);
    // Importance: the two informative features are first.
    const top = model.importanceReport().slice(0, 2).map((r) => r.feature).sort();
    assert.deepEqual(top, [0, 1]);
  });

  test('rejects ranking data without query groups, naming every problem', () => {
    assert.throws(
      () => trainGbdt({ objective: 'lambdarank', train: { features: train.features, labels: train.labels }, numLeaves: 1 }),
      (e: Error & { problems?: { path: string }[] }) => {
        const paths = (e.problems ?? []).map((p) => p.path).sort();
        assert.deepEqual(paths, ['numLeaves']); // options are checked before data
        return true;
      },
    );
    assert.throws(
      () => trainGbdt({ objective: 'lambdarank', train: { features: train.features, labels: train.labels } }),
      /train\.groups/,
    );
  });
});

describe('trainGbdt determinism', () => {
  const train = regressionData(3000, 8, 7);
  const opts = { objective: 'regression', train, numIterations: 30, baggingFraction: 0.7, featureFraction: 0.6 } as const;

  test('the same seed gives identical predictions', () => {
    const a = trainGbdt({ ...opts, seed: 3 }).predictBatch(train.features);
    const b = trainGbdt({ ...opts, seed: 3 }).predictBatch(train.features);
    assert.deepEqual(a, b);
  });

  test('a different bagging seed gives different predictions', () => {
    const a = trainGbdt({ ...opts, seed: 3 }).predictBatch(train.features);
    const b = trainGbdt({ ...opts, seed: 3, baggingSeed: 12345 }).predictBatch(train.features);
    assert.notDeepEqual(a, b);
  });
});

describe('trainGbdt missing values', () => {
  test('learns where NaN goes: missing x0 means a high label', () => {
    const rows = 4000;
    const rng = createRng(11);
    const data = new Float64Array(rows * 2);
    const labels = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      const x0 = rng();
      const missing = rng() < 0.2;
      data[r * 2] = missing ? NaN : x0;
      data[r * 2 + 1] = rng();
      labels[r] = missing ? 5 : x0;
    }
    const model = trainGbdt({ objective: 'regression', train: { features: { data, rows, cols: 2 }, labels }, numIterations: 100, learningRate: 0.2 });
    assert.ok(Math.abs(model.predict([NaN, 0.5]) - 5) < 0.1, `NaN row ${model.predict([NaN, 0.5])}`);
    assert.ok(Math.abs(model.predict([0.3, 0.5]) - 0.3) < 0.1, `0.3 row ${model.predict([0.3, 0.5])}`);
  });

  test('column-major input trains the same model as row-major', () => {
    const train = regressionData(1500, 4, 13);
    const { rows, cols } = train.features;
    const col = new Float64Array(rows * cols);
    for (let r = 0; r < rows; r++) for (let f = 0; f < cols; f++) col[f * rows + r] = train.features.data[r * cols + f]!;
    const colFeatures = { data: col, rows, cols, layout: 'column-major' } as const;
    const a = trainGbdt({ objective: 'regression', train, numIterations: 20 });
    const b = trainGbdt({ objective: 'regression', train: { features: colFeatures, labels: train.labels }, numIterations: 20 });
    assert.deepEqual(a.predictBatch(train.features), b.predictBatch(colFeatures));
    assert.deepEqual(a.toJSON(), b.toJSON());
  });
});
