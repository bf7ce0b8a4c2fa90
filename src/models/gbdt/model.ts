/** @module A trained GBDT: prediction over flat tree arrays, feature importance, TreeSHAP contributions, JSON. */
import { RecsignalError } from '../../core/errors.ts';
import { strides } from './dataset.ts';
import { modelFromJSON, modelToJSON, type ModelData } from './model-data.ts';
import { createPath, expectedValue, treeDepth, treeShap } from './tree-shap.ts';
import type { EvalRecord, FeatureMatrix, GbdtModelJSON, MetricName, ObjectiveName } from './types.ts';

export interface PredictOptions {
  /** The margin rather than the probability (binary only; other objectives always give the raw score). */
  readonly raw?: boolean;
  /** Use only the first n trees. */
  readonly numIterations?: number;
}

export interface FeatureImportance {
  readonly feature: number;
  readonly name: string;
  /** How many splits use the feature. */
  readonly split: number;
  /** Total loss reduction of those splits. */
  readonly gain: number;
}

export interface Contribution {
  readonly feature: number;
  readonly name: string;
  readonly value: number;
}

export interface GbdtModel {
  readonly objective: ObjectiveName;
  readonly numFeatures: number;
  readonly featureNames: readonly string[];
  readonly numTrees: number;
  /** The constant all scores start from (mean label, log-odds of the base rate, or 0 for ranking). */
  readonly baseScore: number;
  /** Trees kept: the best validation iteration under early stopping, else all trained. */
  readonly bestIteration: number;
  readonly evalHistory: readonly EvalRecord[];
  readonly metric: MetricName | null;
  /** Score of one row of `numFeatures` values (NaN = missing). */
  predict(row: ArrayLike<number>, options?: PredictOptions): number;
  predictBatch(features: FeatureMatrix, options?: PredictOptions): Float64Array;
  /**
   * TreeSHAP values of one row on the raw score: entries 0..d-1 per feature, entry d the expected
   * value (base score plus each tree's mean output); they add up to `predict(row, { raw: true })`.
   */
  contributions(row: ArrayLike<number>): Float64Array;
  /** The k features that move this row's score most, by |SHAP value|, largest first. */
  topContributions(row: ArrayLike<number>, k?: number): Contribution[];
  /** Per feature, split count or total gain over all trees. */
  featureImportance(kind: 'split' | 'gain'): Float64Array;
  /** Every feature with its split count and gain, most gain first. */
  importanceReport(): FeatureImportance[];
  toJSON(): GbdtModelJSON;
}

/** Reads a model saved with `model.toJSON()`; predictions are bit-identical to the saved model's. */
export function gbdtModelFromJSON(json: GbdtModelJSON): GbdtModel {
  return createGbdtModel(modelFromJSON(json));
}

export function createGbdtModel(m: ModelData): GbdtModel {
  const d = m.numFeatures;
  const names = Array.from({ length: d }, (_, f) => m.featureNames[f] ?? `f${f}`);
  const trees = m.treeRoots.length;
  const maxDepth = Array.from(m.treeRoots, (r) => treeDepth(m, r)).reduce((a, b) => Math.max(a, b), 0);
  let bias: number | null = null;

  const treesFor = (o?: PredictOptions) => Math.min(trees, o?.numIterations ?? trees);
  const output = (raw: number, o?: PredictOptions) =>
    m.objective === 'binary' && o?.raw !== true ? 1 / (1 + Math.exp(-raw)) : raw;
  const checkRow = (row: ArrayLike<number>) => {
    if (row.length !== d) {
      throw new RecsignalError('INVALID_ARGUMENT', `row has ${row.length} values, the model ${d} features; pass them in training column order`);
    }
  };

  // Locals, not property loads, in the hot loops: the arrays never change after training.
  const { feature, threshold, defaultLeft, left, right, leafValue, treeRoots } = m;
  function score(x: ArrayLike<number>, base: number, colStride: number, t: number): number {
    let s = m.baseScore;
    for (let k = 0; k < t; k++) {
      let node = treeRoots[k]!;
      while (node >= 0) {
        const v = x[base + feature[node]! * colStride]!;
        node = v <= threshold[node]! || (v !== v && defaultLeft[node] === 1) ? left[node]! : right[node]!;
      }
      s += leafValue[~node]!;
    }
    return s;
  }

  function predict(row: ArrayLike<number>, o?: PredictOptions): number {
    checkRow(row);
    return output(score(row, 0, 1, treesFor(o)), o);
  }

  function predictBatch(x: FeatureMatrix, o?: PredictOptions): Float64Array {
    if (x.cols !== d || x.data.length !== x.rows * x.cols) {
      throw new RecsignalError('INVALID_ARGUMENT', `matrix is ${x.rows} x ${x.cols} with ${x.data.length} values; the model wants ${d} columns and rows * cols values`);
    }
    const { rowStride, colStride } = strides(x);
    const t = treesFor(o);
    const out = new Float64Array(x.rows);
    for (let r = 0; r < x.rows; r++) out[r] = output(score(x.data, r * rowStride, colStride, t), o);
    return out;
  }

  function contributions(row: ArrayLike<number>): Float64Array {
    checkRow(row);
    const phi = new Float64Array(d + 1);
    const path = createPath(maxDepth);
    const value = (f: number) => row[f]!;
    for (let k = 0; k < trees; k++) {
      const root = m.treeRoots[k]!;
      if (root >= 0) treeShap(m, root, value, phi, path, 0, 0, 1, 1, -1);
    }
    bias ??= Array.from(m.treeRoots, (r) => expectedValue(m, r)).reduce((a, b) => a + b, m.baseScore);
    phi[d] = bias;
    return phi;
  }

  function featureImportance(kind: 'split' | 'gain'): Float64Array {
    const out = new Float64Array(d);
    for (let k = 0; k < m.feature.length; k++) out[m.feature[k]!]! += kind === 'split' ? 1 : m.gain[k]!;
    return out;
  }

  return Object.freeze({
    objective: m.objective,
    numFeatures: d,
    featureNames: names,
    numTrees: trees,
    baseScore: m.baseScore,
    bestIteration: m.bestIteration,
    evalHistory: m.metric?.history ?? [],
    metric: m.metric?.name ?? null,
    predict,
    predictBatch,
    contributions,
    topContributions(row: ArrayLike<number>, k = 5): Contribution[] {
      const phi = contributions(row);
      return Array.from({ length: d }, (_, f) => ({ feature: f, name: names[f]!, value: phi[f]! }))
        .filter((c) => c.value !== 0)
        .sort((a, b) => Math.abs(b.value) - Math.abs(a.value) || a.feature - b.feature)
        .slice(0, k);
    },
    featureImportance,
    importanceReport(): FeatureImportance[] {
      const split = featureImportance('split');
      const gain = featureImportance('gain');
      return names
        .map((name, f) => ({ feature: f, name, split: split[f]!, gain: gain[f]! }))
        .sort((a, b) => b.gain - a.gain || b.split - a.split || a.feature - b.feature);
    },
    toJSON: () => modelToJSON(m),
  });
}
