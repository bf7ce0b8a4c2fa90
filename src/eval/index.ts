/** @module The evaluation harness: splits, full-ranking metrics, significance, and baseline recommenders over plain arrays. */

// Data shapes.
export type { Interaction, Recommendations, Scorer, Truth } from './types.ts';

// Seeded randomness (numpy RandomState, bit for bit) and id order.
export { createRandomState, type RandomState } from './mt19937.ts';
export { compareIds, catalogueOf, usersOf } from './ids.ts';

// Splits.
export {
  stratifiedSplitMs, randomSplitByUser, timeCutoffSplit, roundHalfEven,
  type Split, type RandomSplitOptions, type TimeCutoffOptions, type TimeCutoffSplit,
} from './split.ts';

// Ranking: the one full-ranking rule, and the inputs the metrics read.
export { recommendTopK, seenItems, truthOf, evaluationUsers } from './recommend.ts';

// Metrics and significance.
export {
  perUserRankingMetrics, rankingMetrics, catalogueCoverage, novelty, aucFromScores, mean, RANKING_METRICS,
  type PerUserRankingMetrics, type RankingMetrics, type RankingMetricName, type AucResult,
} from './metrics.ts';
export {
  bootstrapCi, pairedBootstrapTest, pairedPermutationTest, quantileSorted,
  type ResamplingOptions, type ConfidenceInterval, type PairedBootstrapResult, type PermutationTestResult,
} from './significance.ts';

// Baselines: each returns a Scorer for recommendTopK.
export { trainPopularity, type PopularityOptions } from './baselines/popularity.ts';
export { trainSar, type SarOptions, type SarSimilarity } from './baselines/sar.ts';
export { trainEase, type EaseOptions } from './baselines/ease.ts';
export { trainItemKnn, type ItemKnnOptions } from './baselines/itemknn.ts';
export { trainAls, type AlsOptions } from './baselines/als.ts';

// The runner of `recsignal evaluate`: a model registry (one named entry a model), the evaluation
// over a protocol with intervals, segments and paired tests, and the Markdown/HTML report.
export {
  MODELS, PROTOCOLS, resolveModels, modelParams,
  type ModelEntry, type ModelExplain, type ModelParams, type ParamValue, type TrainedModel, type SplitContext, type ProtocolName, type DataSource,
} from './models.ts';
export {
  evaluate, CI_METRICS, COMPARED_METRICS,
  type EvaluateOptions, type EvaluationResult, type ModelResult, type MetricSet, type Comparison, type CiMetric,
} from './evaluate.ts';
export { writeReport, reportBlocks, renderMarkdown, renderHtml, type ReportBlock } from './report.ts';
