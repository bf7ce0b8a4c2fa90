/** @module The shapes a GBDT is trained from and saved as: matrices, query groups, options, and the model's JSON. */

/** n rows x d features of numbers; NaN marks a missing value. Row-major unless told otherwise. */
export interface FeatureMatrix {
  readonly data: Float64Array | Float32Array;
  readonly rows: number;
  readonly cols: number;
  readonly layout?: 'row-major' | 'column-major';
}

/**
 * Which rows form each query, for ranking. Rows of one query must be contiguous: either the size of
 * each group in row order, or one query id per row (a new id starts a new group).
 */
export type QueryGroups = { readonly sizes: ArrayLike<number> } | { readonly queryIds: ArrayLike<number | string> };

export interface LabelledData {
  readonly features: FeatureMatrix;
  readonly labels: ArrayLike<number>;
  /** Required for `lambdarank` and for the `ndcg` metric. */
  readonly groups?: QueryGroups;
}

export const OBJECTIVES = ['regression', 'binary', 'lambdarank', 'rank_xendcg'] as const;
export type ObjectiveName = (typeof OBJECTIVES)[number];

/** Objectives that learn an order within query groups (integer relevance labels, groups required). */
export function isRankingObjective(o: ObjectiveName): boolean {
  return o === 'lambdarank' || o === 'rank_xendcg';
}
export type MetricName = 'rmse' | 'logloss' | 'auc' | 'ndcg';

/** Training options; every field but `objective` and `train` has a LightGBM-like default (see `GBDT_DEFAULTS`). */
export interface GbdtOptions {
  readonly objective: ObjectiveName;
  readonly train: LabelledData;
  /** Evaluated after every tree; with `earlyStoppingRounds` > 0 it stops training and keeps the best iteration. */
  readonly valid?: LabelledData;
  readonly featureNames?: readonly string[];
  readonly numIterations?: number;
  readonly learningRate?: number;
  readonly numLeaves?: number;
  /** -1 = no limit; leaf-wise growth is bounded by `numLeaves` first. */
  readonly maxDepth?: number;
  readonly minDataInLeaf?: number;
  readonly minSumHessianInLeaf?: number;
  readonly lambdaL1?: number;
  readonly lambdaL2?: number;
  readonly minGainToSplit?: number;
  /** Share of features drawn (without replacement) for each tree. */
  readonly featureFraction?: number;
  /** Share of rows drawn for each tree, redrawn every `baggingFreq` trees. */
  readonly baggingFraction?: number;
  /** Unlike LightGBM (0 = off), bagging is on whenever `baggingFraction` < 1; this only sets how often it redraws. */
  readonly baggingFreq?: number;
  readonly seed?: number;
  /** Defaults to a value derived from `seed`. */
  readonly baggingSeed?: number;
  /** Defaults to a value derived from `seed`. */
  readonly featureFractionSeed?: number;
  /** Bins per feature including the one for missing values; at most 255. */
  readonly maxBin?: number;
  /** Rows sampled to find bin boundaries. */
  readonly binConstructSampleCount?: number;
  readonly earlyStoppingRounds?: number;
  /** Defaults: rmse (regression), logloss (binary), ndcg (lambdarank). */
  readonly metric?: MetricName;
  /** k of the ndcg metric. */
  readonly evalAt?: number;
  /** Pairs are formed only with documents ranked above this position (LightGBM `lambdarank_truncation_level`). */
  readonly lambdarankTruncationLevel?: number;
  /** Normalise each query's lambdas (LightGBM `lambdarank_norm`). */
  readonly lambdarankNorm?: boolean;
  /** Gain of each integer relevance label; default 2^rel - 1. */
  readonly labelGain?: readonly number[];
  /** Called after each iteration with the validation metric (NaN without `valid`). */
  readonly onIteration?: (iteration: number, metric: number) => void;
}

/** One evaluation of the validation set: after `iteration` trees (1-based). */
export interface EvalRecord {
  readonly iteration: number;
  readonly value: number;
}

/** What describes a trained ensemble besides its trees, in memory and in JSON alike. */
export interface ModelHeader {
  readonly objective: ObjectiveName;
  readonly numFeatures: number;
  readonly featureNames: readonly string[];
  readonly baseScore: number;
  readonly bestIteration: number;
  readonly metric: { readonly name: MetricName; readonly k: number; readonly history: readonly EvalRecord[] } | null;
}

/** A trained model as plain JSON: `gbdtModelFromJSON(JSON.parse(JSON.stringify(model)))` predicts identically. */
export interface GbdtModelJSON extends ModelHeader {
  readonly format: 'recsignal-gbdt';
  readonly version: 1;
  /** Index of each tree's root in the node arrays; a negative root `~leaf` is a one-leaf tree. */
  readonly treeRoots: readonly number[];
  readonly nodes: {
    readonly feature: readonly number[];
    /** A row goes left when `value <= threshold`; 'inf' stands for +Infinity (JSON has none). */
    readonly threshold: readonly (number | 'inf')[];
    readonly defaultLeft: readonly number[];
    /** A child index >= 0 is a node; a negative one is `~leaf`. */
    readonly left: readonly number[];
    readonly right: readonly number[];
    readonly gain: readonly number[];
    readonly count: readonly number[];
  };
  readonly leaves: { readonly value: readonly number[]; readonly count: readonly number[] };
}
