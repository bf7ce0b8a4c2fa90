/**
 * @module `trainGbdt`: gradient boosting of histogram trees with a regression, binary, LambdaMART or XE-NDCG
 * objective, LightGBM's algorithm in plain TypeScript.
 *
 * Why our own: no maintained LightGBM/XGBoost build trains a ranking objective in Node here.
 * ml-xgboost (XGBoost in wasm) takes no query groups, so no lambdarank; xgboost-scorer only scores;
 * LightGBM's and XGBoost's Node bindings are native addons and Python is not an option. A compact
 * histogram GBDT is a few hundred lines: 200 trees of 31 leaves on 200k x 60 take ~15-28 s of one
 * core here (bench/gbdt.ts).
 */
import { RecsignalError, throwIfProblems } from '../../core/errors.ts';
import { binDataset, dataProblems, queryOffsets, strides, type BinnedDataset } from './dataset.ts';
import { higherIsBetter, auc, logloss, ndcgAtK, rmse } from './metrics.ts';
import { appendTree, createEnsembleBuilder, finishEnsemble } from './model-data.ts';
import { createGbdtModel, type GbdtModel } from './model.ts';
import { binary, lambdarank, rankXendcg, regression, type Objective } from './objectives.ts';
import { resolveOptions, type ResolvedOptions } from './options.ts';
import { createRng, type Rng } from './rng.ts';
import { routeRow } from './route.ts';
import { addTreeByBins, addTreeByLeafRanges, createWorkspace, growTree, type LearnedTree } from './tree-learner.ts';
import { isRankingObjective, type EvalRecord, type GbdtOptions, type LabelledData } from './types.ts';

export function trainGbdt(options: GbdtOptions): GbdtModel {
  const o = resolveOptions(options);
  const ranking = isRankingObjective(o.objective);
  const problems = dataProblems('train', o.train, o.objective, ranking);
  if (o.valid !== undefined) problems.push(...dataProblems('valid', o.valid, o.objective, o.metric === 'ndcg', o.train.features.cols));
  const names = options.featureNames;
  if (names !== undefined && names.length !== o.train.features.cols) {
    problems.push({ path: 'featureNames', message: `${names.length} names for ${o.train.features.cols} features`, fix: 'pass one name per column, or none' });
  }
  throwIfProblems('INVALID_ARGUMENT', 'trainGbdt data', problems);

  const data = binDataset(o.train, o.maxBin, o.binConstructSampleCount, o.seed);
  const objective = objectiveFor(o, data);
  const n = data.rows;
  const baseScore = objective.initScore(data.labels);
  const scores = new Float64Array(n).fill(baseScore);
  const grad = new Float64Array(n);
  const hess = new Float64Array(n);
  const validEval = o.valid === undefined ? null : evaluator(o, o.valid, baseScore);

  const bagging = o.baggingFraction < 1;
  const idx = new Uint32Array(n);
  let bagSize = n;
  const bagRng = createRng(o.baggingSeed);
  const featureRng = createRng(o.featureFractionSeed);
  const ws = createWorkspace(data, o.numLeaves);
  const builder = createEnsembleBuilder();
  const history: EvalRecord[] = [];
  let best = { iteration: 0, value: NaN };

  for (let it = 0; it < o.numIterations; it++) {
    objective.gradients(scores, data.labels, grad, hess);
    if (!bagging) for (let i = 0; i < n; i++) idx[i] = i;
    else if (it % o.baggingFreq === 0) bagSize = drawBag(idx, n, o.baggingFraction, bagRng);
    else idx.subarray(0, bagSize).sort();
    const features = drawFeatures(data.cols, o.featureFraction, featureRng);
    const tree = growTree(data, grad, hess, idx, bagSize, features, o, ws);
    // A tree with no split means no split gains anything any more: stop, as LightGBM does.
    if (tree.numLeaves === 1 && it > 0) break;
    if (bagging) addTreeByBins(tree, data, scores);
    else addTreeByLeafRanges(tree, idx, scores);
    appendTree(builder, tree);
    const trees = builder.roots.length;
    const value = validEval === null ? NaN : validEval.addTree(tree);
    if (validEval !== null) {
      history.push({ iteration: trees, value });
      const improved = Number.isNaN(best.value) || (higherIsBetter(o.metric) ? value > best.value : value < best.value);
      if (improved) best = { iteration: trees, value };
    }
    o.onIteration?.(trees, value);
    if (o.earlyStoppingRounds > 0 && trees - best.iteration >= o.earlyStoppingRounds) break;
  }
  const kept = o.earlyStoppingRounds > 0 ? best.iteration : builder.roots.length;
  const model = finishEnsemble(builder, kept, {
    objective: o.objective,
    numFeatures: data.cols,
    featureNames: names ?? [],
    baseScore,
    bestIteration: kept,
    metric: validEval === null ? null : { name: o.metric, k: o.evalAt, history },
  });
  return createGbdtModel(model);
}

function objectiveFor(o: ResolvedOptions, data: BinnedDataset): Objective {
  if (o.objective === 'regression') return regression;
  if (o.objective === 'binary') return binary;
  for (let i = 0; i < data.labels.length; i++) {
    if (data.labels[i]! >= o.labelGain.length) {
      throw new RecsignalError('INVALID_ARGUMENT', `label ${data.labels[i]} at row ${i} has no gain: labelGain has ${o.labelGain.length} entries; pass a longer labelGain`);
    }
  }
  if (o.objective === 'rank_xendcg') return rankXendcg(data.queryOffsets!, o.seed);
  return lambdarank(
    { queryOffsets: data.queryOffsets!, truncationLevel: o.lambdarankTruncationLevel, norm: o.lambdarankNorm, labelGain: o.labelGain },
    data.labels,
  );
}

/** Keeps validation scores up to date tree by tree and scores them with the chosen metric. */
function evaluator(o: ResolvedOptions, v: LabelledData, baseScore: number) {
  const x = v.features;
  const { rowStride, colStride } = strides(x);
  const labels = Float64Array.from(v.labels);
  const scores = new Float64Array(x.rows).fill(baseScore);
  const qo = v.groups === undefined ? null : queryOffsets(v.groups, x.rows);
  return {
    addTree(t: LearnedTree): number {
      const root = t.numLeaves === 1 ? ~0 : 0;
      for (let r = 0; r < x.rows; r++) scores[r]! += t.leafValue[routeRow(t, root, x.data, r * rowStride, colStride)]!;
      switch (o.metric) {
        case 'rmse': return rmse(scores, labels);
        case 'logloss': return logloss(scores, labels);
        case 'auc': return auc(scores, labels);
        case 'ndcg': return ndcgAtK(scores, labels, qo!, o.evalAt, o.labelGain);
      }
    },
  };
}

/** Rows drawn with probability `fraction` each, in ascending order; returns how many. */
function drawBag(idx: Uint32Array, n: number, fraction: number, rng: Rng): number {
  let k = 0;
  for (let i = 0; i < n; i++) if (rng() < fraction) idx[k++] = i;
  if (k === 0) idx[k++] = Math.floor(rng() * n);
  return k;
}

/** floor(d * fraction) features (at least 1) without replacement, ascending. */
function drawFeatures(d: number, fraction: number, rng: Rng): Int32Array {
  const all = Int32Array.from({ length: d }, (_, i) => i);
  if (fraction >= 1) return all;
  const k = Math.max(1, Math.floor(d * fraction));
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rng() * (d - i));
    const t = all[i]!;
    all[i] = all[j]!;
    all[j] = t;
  }
  return all.subarray(0, k).sort();
}
