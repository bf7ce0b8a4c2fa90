/** @module LambdaMART on candidate rows grouped by user, with early stopping on a seeded share of the users. */
import { createRandomState } from '../../eval/mt19937.ts';
import { trainGbdt, type GbdtModel } from '../gbdt/index.ts';
import { selectColumns } from './stage.ts';

/** Row-major features with binary labels, rows contiguous per user (`groupSizes` in row order). */
export interface LearningSet {
  readonly names: readonly string[];
  readonly data: Float64Array;
  readonly labels: Float64Array;
  readonly groupSizes: readonly number[];
  readonly rows: number;
}

export interface LambdaMartParams {
  readonly iterations: number;
  readonly learningRate: number;
  readonly leaves: number;
  readonly minDataInLeaf: number;
  /** Rounds without a better validation nDCG@k before stopping; 0 = train every iteration. */
  readonly earlyStopping: number;
  /** Share of the users held out for early stopping. */
  readonly validShare: number;
  readonly seed: number;
  readonly k: number;
}

/**
 * Trains on the columns `cols`. Users with no positive carry no gradient and are left out; the
 * validation users are drawn with the seed, so every ablation variant sees the same split.
 */
export function fitLambdaMart(set: LearningSet, cols: readonly number[], p: LambdaMartParams): GbdtModel {
  const width = set.names.length;
  const x = cols.length === width ? set.data : selectColumns(set.data, width, cols);
  const d = cols.length;
  const rs = createRandomState(p.seed + 17);
  const parts = { train: { rows: [] as number[], sizes: [] as number[] }, valid: { rows: [] as number[], sizes: [] as number[] } };
  let start = 0;
  for (const size of set.groupSizes) {
    const u = rs.rand();
    let positives = 0;
    for (let r = start; r < start + size; r++) positives += set.labels[r]!;
    if (positives > 0 && size > 1) {
      const part = p.earlyStopping > 0 && u < p.validShare ? parts.valid : parts.train;
      for (let r = start; r < start + size; r++) part.rows.push(r);
      part.sizes.push(size);
    }
    start += size;
  }
  const take = (rows: readonly number[]) => {
    const data = new Float64Array(rows.length * d);
    const labels = new Float64Array(rows.length);
    rows.forEach((r, i) => {
      data.set(x.subarray(r * d, (r + 1) * d), i * d);
      labels[i] = set.labels[r]!;
    });
    return { data, labels };
  };
  const tr = take(parts.train.rows);
  const va = take(parts.valid.rows);
  const names = cols.map((j) => set.names[j]!);
  return trainGbdt({
    objective: 'lambdarank',
    train: { features: { data: tr.data, rows: parts.train.rows.length, cols: d }, labels: tr.labels, groups: { sizes: parts.train.sizes } },
    ...(parts.valid.sizes.length > 0 && p.earlyStopping > 0
      ? { valid: { features: { data: va.data, rows: parts.valid.rows.length, cols: d }, labels: va.labels, groups: { sizes: parts.valid.sizes } }, earlyStoppingRounds: p.earlyStopping }
      : {}),
    featureNames: names,
    numIterations: p.iterations,
    learningRate: p.learningRate,
    numLeaves: p.leaves,
    minDataInLeaf: p.minDataInLeaf,
    featureFraction: 0.8,
    baggingFraction: 0.8,
    lambdaL2: 1,
    evalAt: p.k,
    seed: p.seed,
  });
}
