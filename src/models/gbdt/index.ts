/** @module recsignal's gradient-boosted trees: histogram GBDT with regression, binary and LambdaMART objectives. */

// Training and its options.
export { trainGbdt } from './train.ts';
export { GBDT_DEFAULTS } from './options.ts';
export type { GbdtOptions, LabelledData, FeatureMatrix, QueryGroups, ObjectiveName, MetricName, EvalRecord, GbdtModelJSON } from './types.ts';

// The trained model: prediction, importance, TreeSHAP contributions, and JSON.
export { gbdtModelFromJSON, type GbdtModel, type PredictOptions, type FeatureImportance, type Contribution } from './model.ts';

// Metrics, for evaluating a model outside training.
export { rmse, logloss, auc, ndcgAtK } from './metrics.ts';
