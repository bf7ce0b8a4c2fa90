/** @module recsignal's public API. The CLI is a thin layer over exactly these exports. */

// Core: errors and time.
export { RecsignalError, formatProblems, type Problem, type ErrorCode } from './core/errors.ts';
export { parseDuration, parseInstant, formatDuration, isoTime, DAY_MS, HOUR_MS, MINUTE_MS } from './core/time.ts';

// Events: the schema and validation.
export { BUILTIN_EVENT_TYPES, type InteractionEvent, type ItemMetadata, type UserMetadata } from './events/schema.ts';
export { createEventValidator, type EventValidator, type ValidationOptions } from './events/validate.ts';

// Definitions: the DSL, compiled to a frozen IR with deterministic names and a semantic hash.
export { agg, aggregationView, defineFeatureSet, embeddingView, entity, lookupView, negatives, requestFeature, sessionView } from './features/dsl.ts';
export type { AggOptions, FeatureSetDef, RequestInputs, ViewDef, WindowDef } from './features/dsl.ts';
export type { FeatureSetIR, FeatureViewIR, AggregationIR, FeatureValue, FeatureType, WindowIR } from './features/ir.ts';
export { compileFeatureSet, semanticHash, type CompiledFeatureSet } from './plan/compile.ts';
export { featureColumns, type FeatureColumn } from './plan/rows.ts';

// Offline store: the Parquet event log and ingest (validation, dead-letter, dedup).
export { EventLog } from './store/offline/event-log.ts';
export { ingest, type IngestOptions, type IngestReport, type IngestRecord } from './store/offline/ingest.ts';
export { openReader, readMovieLensMetadata, readItemsFile, readUsersFile, INPUT_FORMATS, type InputFormat, type RawRecord } from './events/readers/index.ts';
export { generateEvents, type GenerateOptions } from './events/generate.ts';
export { writeGenerated } from './events/generate-write.ts';

// Engines: batch (SQL on DuckDB), the reference aggregator (the oracle), and SQL rendering per dialect.
export { buildTrainingSet, backfill, featuresFor, type TrainingSetOptions, type BackfillOptions, type FeatureQuery } from './compute/batch/training-set.ts';
export { renderFeatureSql, type BatchSqlInput } from './compute/batch/sql.ts';
export { DIALECTS, type Dialect } from './compute/batch/dialect.ts';
export { referenceFeatures, type ReferenceQuery, type ReferenceData } from './compute/reference/reference.ts';

// Evaluation: splits (Microsoft Recommenders' stratified split, bit for bit), full-ranking metrics,
// bootstrap intervals, and baseline recommenders (popularity, SAR, EASE, item-kNN, implicit ALS).
export * as evaluation from './eval/index.ts';

// Online stores: one small interface, one adapter a folder, one conformance suite.
export { stateKey, type OnlineStore, type OnlineWrite } from './store/online/online-store.ts';
export { MemoryStore } from './store/online/memory/memory-store.ts';
export { RedisStore } from './store/online/redis/redis-store.ts';
export { RedisClusterStore, parseRedisClusterUrl } from './store/online/redis-cluster/redis-cluster-store.ts';

// Stream engine and online/offline consistency.
export { StreamEngine, type StreamOptions, type ApplyOutcome, type EngineSnapshot } from './compute/stream/engine.ts';
export { checkConsistency, type ConsistencyReport } from './monitor/consistency.ts';

// Serving: the HTTP API over the stream engine.
export { FeatureServer, type ServerOptions, type ServerStatus } from './serve/server.ts';

// Models: a histogram GBDT (regression, binary, LambdaMART; TreeSHAP reasons) and a ranker over a
// feature set's training set, as `recsignal train-ranker` and `serve --model` use it.
export * as gbdt from './models/gbdt/index.ts';
export { trainFeatureRanker, featureRankerFromJSON, saveFeatureRanker, loadFeatureRanker, type FeatureRanker, type FeatureRankerJSON, type TrainFeatureRankerOptions, type HeldOutMetrics } from './models/feature-ranker.ts';
export { learnEmbeddings, embeddingScorer, logInteractions, itemEmbeddingIndex, type Embeddings, type EmbeddingOptions, type EmbeddingSource, type ItemEmbeddingIndex } from './models/embeddings.ts';
export { VectorIndex, type Neighbour } from './models/vector-index.ts';
