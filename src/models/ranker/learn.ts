/**
 * @module LambdaMART on candidate rows grouped by user. The number of trees is chosen on a seeded
 * share of the (inner) users held out from training: early stopping with a patience, never fewer
 * than a minimum. Nothing here sees the evaluation's test rows.
 */
import { createRandomState } from '../../eval/mt19937.ts';
import { trainGbdt, type GbdtModel } from '../gbdt/index.ts';
import { ndcgAtK } from '../gbdt/metrics.ts';
import { defaultLabelGain } from '../gbdt/options.ts';
import { selectColumns } from './stage.ts';

/** Row-major features with integer relevance labels, rows contiguous per user (`groupSizes` in row order). */
export interface LearningSet {
  readonly names: readonly string[];
  readonly data: Float64Array;
  readonly labels: Float64Array;
  readonly groupSizes: readonly number[];
  /** The user of each group: a user's groups (one per inner split) are all trained on or all held out. */
  readonly groupUsers: readonly string[];
  readonly rows: number;
}

/** Several learning sets (one per inner split, same columns) as one. */
export function concatLearningSets(sets: readonly LearningSet[]): LearningSet {
  if (sets.length === 1) return sets[0]!;
  const rows = sets.reduce((n, s) => n + s.rows, 0);
  const data = new Float64Array(rows * sets[0]!.names.length);
  const labels = new Float64Array(rows);
  let at = 0;
  for (const s of sets) {
    data.set(s.data, at * s.names.length);
    labels.set(s.labels, at);
    at += s.rows;
  }
  return { names: sets[0]!.names, data, labels, groupSizes: sets.flatMap((s) => s.groupSizes), groupUsers: sets.flatMap((s) => s.groupUsers), rows };
}

export interface LambdaMartParams {
  readonly iterations: number;
  readonly learningRate: number;
  readonly leaves: number;
  readonly minDataInLeaf: number;
  /** Rounds without a better validation nDCG@k before stopping; 0 = train exactly `iterations` trees. */
  readonly earlyStopping: number;
  /** Fewest trees kept when early stopping (the validation curve is noisy in its first rounds). */
  readonly minTrees: number;
  /** Share of the users held out for early stopping. */
  readonly validShare: number;
  /**
   * Once the tree count is chosen on the held-out users, train again with that count on every user
   * (the held-out ones too); without it they are left out of training even when `earlyStopping` is 0.
   */
  readonly refit: boolean;
  /** LambdaMART (`lambdarank`, the default) or XE-NDCG (`rank_xendcg`, a listwise cross entropy). */
  readonly objective: 'lambdarank' | 'rank_xendcg';
  /** LambdaMART truncation level: pairs are formed with the top documents only (XE-NDCG has none). */
  readonly truncation: number;
  /** Share of the features each tree may split on, and of the rows it learns from (LightGBM's names). */
  readonly featureFraction: number;
  readonly baggingFraction: number;
  readonly seed: number;
  readonly k: number;
  /** A column (a base model's rank) to blend into the score with a weight chosen on the held-out users; null: none. */
  readonly blend?: number | null;
}

/** The weights a blend is chosen from (0: the GBDT alone). */
export const BLEND_WEIGHTS = [0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1] as const;

/** The blend term of one row: w · −log2(1 + rank). */
export function blendTerm(rank: number, w: number): number {
  return w === 0 ? 0 : -w * Math.log2(1 + rank);
}

/**
 * Trains on the columns `cols`. Users with no positive carry no gradient and are left out; the
 * validation users are drawn with the seed, so every ablation variant sees the same split.
 */
export interface LambdaMartFit {
  /** The model to rank with: with `refit`, trained again on every user. */
  readonly model: GbdtModel;
  /** The same number of trees trained on the training users only: what ablation variants (trained alike) compare with. */
  readonly trainUsersModel: GbdtModel;
  /** The blend weight chosen on the held-out users (0 without a blend column), and each weight's nDCG there. */
  readonly blendWeight: number;
  readonly blendCurve: readonly { weight: number; ndcg: number }[];
}

export interface LambdaMartHooks {
  /** Early stopping ended: the best round and its validation nDCG. */
  readonly onStop?: (best: number, validNdcg: number) => void;
  /** The tree count is final (before the refit, if any): what variants trained alike should use. */
  readonly onChosen?: (trees: number) => void;
}

export function fitLambdaMart(set: LearningSet, cols: readonly number[], p: LambdaMartParams, hooks: LambdaMartHooks = {}): LambdaMartFit {
  const width = set.names.length;
  const x = cols.length === width ? set.data : selectColumns(set.data, width, cols);
  const d = cols.length;
  const rs = createRandomState(p.seed + 17);
  const draw = new Map([...new Set(set.groupUsers)].sort().map((u) => [u, rs.rand()] as const));
  const parts = { train: { rows: [] as number[], sizes: [] as number[] }, valid: { rows: [] as number[], sizes: [] as number[] } };
  let start = 0;
  for (const [g, size] of set.groupSizes.entries()) {
    const u = draw.get(set.groupUsers[g]!)!;
    let positives = 0;
    for (let r = start; r < start + size; r++) positives += set.labels[r]!;
    if (positives > 0 && size > 1) {
      const part = u < p.validShare ? parts.valid : parts.train;
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
  const stopping = parts.valid.sizes.length > 0 && p.earlyStopping > 0;
  const everyone = { rows: [...parts.train.rows, ...parts.valid.rows], sizes: [...parts.train.sizes, ...parts.valid.sizes] };
  const fit = (iterations: number, early: boolean, on = parts.train, data = tr) => trainGbdt({
    objective: p.objective,
    train: { features: { data: data.data, rows: on.rows.length, cols: d }, labels: data.labels, groups: { sizes: on.sizes } },
    ...(early
      ? { valid: { features: { data: va.data, rows: parts.valid.rows.length, cols: d }, labels: va.labels, groups: { sizes: parts.valid.sizes } }, earlyStoppingRounds: p.earlyStopping }
      : {}),
    featureNames: names,
    numIterations: iterations,
    learningRate: p.learningRate,
    numLeaves: p.leaves,
    minDataInLeaf: p.minDataInLeaf,
    featureFraction: p.featureFraction,
    baggingFraction: p.baggingFraction,
    lambdaL2: 1,
    evalAt: p.k,
    lambdarankTruncationLevel: p.truncation,
    seed: p.seed,
  });
  let trainUsersModel: GbdtModel;
  if (stopping) {
    const stopped = fit(p.iterations, true);
    const best = stopped.toJSON().metric?.history.find((h) => h.iteration === stopped.numTrees);
    hooks.onStop?.(stopped.numTrees, best?.value ?? Number.NaN);
    // Stopped before the minimum (an early noisy peak): the minimum.
    const trees = Math.min(p.minTrees, p.iterations);
    trainUsersModel = stopped.numTrees >= trees ? stopped : fit(trees, false);
  } else {
    trainUsersModel = fit(p.iterations, false);
  }
  hooks.onChosen?.(trainUsersModel.numTrees);
  // The blend weight, on the held-out users, with the model trained without them.
  const blendCurve: { weight: number; ndcg: number }[] = [];
  let blendWeight = 0;
  if (p.blend !== undefined && p.blend !== null && parts.valid.sizes.length > 0) {
    const pred = trainUsersModel.predictBatch({ data: va.data, rows: parts.valid.rows.length, cols: d });
    const offsets = Int32Array.from([0, ...parts.valid.sizes.map(((acc) => (n: number) => (acc += n))(0))]);
    const ranks = parts.valid.rows.map((r) => set.data[r * width + (p.blend as number)]!);
    const scores = new Float64Array(pred.length);
    let best = -Infinity;
    for (const w of BLEND_WEIGHTS) {
      for (let i = 0; i < pred.length; i++) scores[i] = pred[i]! + blendTerm(ranks[i]!, w);
      const ndcg = ndcgAtK(scores, va.labels, offsets, p.k, defaultLabelGain());
      blendCurve.push({ weight: w, ndcg });
      if (ndcg > best + 1e-12) {
        best = ndcg;
        blendWeight = w;
      }
    }
  }
  const model = p.refit ? fit(trainUsersModel.numTrees, false, everyone, take(everyone.rows)) : trainUsersModel;
  return { model, trainUsersModel, blendWeight, blendCurve };
}
