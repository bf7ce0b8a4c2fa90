import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RecsignalError } from '../../core/errors.ts';
import { gbdtModelFromJSON } from './model.ts';
import { createRng } from './rng.ts';
import { rankingData, regressionData } from './synthetic.ts';
import { trainGbdt } from './train.ts';
import type { GbdtModelJSON } from './types.ts';

describe('GbdtModel save and load', () => {
  const train = rankingData(100, 20, 6, 31);
  const rng = createRng(2);
  for (let i = 0; i < train.features.data.length; i++) if (rng() < 0.1) train.features.data[i] = NaN;
  const model = trainGbdt({
    objective: 'lambdarank', train, valid: train, numIterations: 30, featureNames: ['a', 'b', 'c', 'd', 'e', 'f'],
    baggingFraction: 0.8, featureFraction: 0.8,
  });

  test('round-trips through JSON text with bit-identical predictions, contributions and metadata', () => {
    const loaded = gbdtModelFromJSON(JSON.parse(JSON.stringify(model)) as GbdtModelJSON);
    assert.deepEqual(loaded.predictBatch(train.features), model.predictBatch(train.features));
    const row = [NaN, 0.3, -0.2, NaN, 0.9, 0];
    assert.equal(loaded.predict(row), model.predict(row));
    assert.deepEqual(loaded.contributions(row), model.contributions(row));
    assert.deepEqual(loaded.toJSON(), model.toJSON());
    assert.deepEqual(loaded.featureNames, ['a', 'b', 'c', 'd', 'e', 'f']);
    assert.deepEqual(loaded.evalHistory, model.evalHistory);
    assert.equal(loaded.numTrees, 30);
  });

  test('keeps a "missing or not" split, whose threshold is +Infinity, through JSON', () => {
    const rows = 1000;
    const data = new Float64Array(rows);
    const labels = new Float64Array(rows);
    for (let r = 0; r < rows; r++) {
      data[r] = r % 4 === 0 ? NaN : r;
      labels[r] = r % 4 === 0 ? 10 : 0;
    }
    const m = trainGbdt({ objective: 'regression', train: { features: { data, rows, cols: 1 }, labels }, numIterations: 5 });
    const text = JSON.stringify(m);
    assert.ok(text.includes('"inf"'), 'the Infinity threshold was saved as "inf"');
    const loaded = gbdtModelFromJSON(JSON.parse(text) as GbdtModelJSON);
    for (const v of [NaN, 0, 5, 1e300, -Infinity]) assert.equal(loaded.predict([v]), m.predict([v]));
    assert.ok(m.predict([NaN]) > m.predict([5]) + 1);
  });

  test('predict and predictBatch agree, and numIterations uses a prefix of the trees', () => {
    const x = train.features;
    const batch = model.predictBatch(x);
    const first5 = model.predictBatch(x, { numIterations: 5 });
    for (let r = 0; r < 50; r++) {
      const row = x.data.subarray(r * x.cols, (r + 1) * x.cols);
      assert.equal(model.predict(row), batch[r]);
      assert.equal(model.predict(row, { numIterations: 5 }), first5[r]);
    }
    assert.notDeepEqual(first5, batch);
  });

  test('rejects a damaged file with a message that says what to load', () => {
    const j = structuredClone(model.toJSON()) as unknown as { nodes: { left: number[] } };
    j.nodes.left[0] = 10_000;
    assert.throws(() => gbdtModelFromJSON(j as unknown as GbdtModelJSON), (e: unknown) =>
      e instanceof RecsignalError && e.code === 'INVALID_INPUT' && /out of range/.test(e.message) && /toJSON/.test(e.message));
    assert.throws(() => gbdtModelFromJSON({ format: 'lightgbm' } as unknown as GbdtModelJSON), /format/);
    assert.throws(() => model.predict([1, 2]), /6 features/);
  });
});

describe('feature importance', () => {
  test('ranks the informative features first by gain and by split count', () => {
    // y depends on x0, x1, x2 only; x3..x9 are noise.
    const train = regressionData(4000, 10, 41);
    const model = trainGbdt({ objective: 'regression', train, numIterations: 60, learningRate: 0.1 });
    const gain = model.featureImportance('gain');
    const split = model.featureImportance('split');
    const topBy = (v: Float64Array) => Array.from(v.keys()).sort((a, b) => v[b]! - v[a]!).slice(0, 3).sort();
    assert.deepEqual(topBy(gain), [0, 1, 2]);
    assert.deepEqual(topBy(split), [0, 1, 2]);
    const report = model.importanceReport();
    assert.deepEqual(report.slice(0, 3).map((r) => r.feature).sort(), [0, 1, 2]);
    assert.equal(report.reduce((s, r) => s + r.split, 0), model.toJSON().nodes.feature.length);
    assert.equal(report[0]!.name, `f${report[0]!.feature}`);
  });
});
