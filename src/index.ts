/** @module recsignal's public API. The CLI is a thin layer over exactly these exports. */

// Core: errors and time.
export { RecsignalError, formatProblems, type Problem, type ErrorCode } from './core/errors.ts';
export { parseDuration, parseInstant, formatDuration, isoTime, DAY_MS, HOUR_MS, MINUTE_MS } from './core/time.ts';

// Events: the schema and validation.
export { BUILTIN_EVENT_TYPES, type InteractionEvent, type ItemMetadata, type UserMetadata } from './events/schema.ts';
export { createEventValidator, type EventValidator, type ValidationOptions } from './events/validate.ts';

// Definitions: the DSL, compiled to a frozen IR with deterministic names and a semantic hash.
export { agg, aggregationView, defineFeatureSet, entity, lookupView, negatives, requestFeature, sessionView } from './features/dsl.ts';
export type { AggOptions, FeatureSetDef, RequestInputs, ViewDef, WindowDef } from './features/dsl.ts';
export type { FeatureSetIR, FeatureViewIR, AggregationIR, FeatureValue, FeatureType, WindowIR } from './features/ir.ts';
export { compileFeatureSet, semanticHash, type CompiledFeatureSet } from './plan/compile.ts';
export { featureColumns, type FeatureColumn } from './plan/rows.ts';
