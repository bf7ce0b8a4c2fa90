/**
 * @module The definition language: typed builders that return frozen plain definitions.
 * `compileFeatureSet` (in plan) validates them, names every output and freezes the IR.
 */
import type { AggOp, FeatureType, FeatureValue, StreamIR, ViaIR } from './ir.ts';

/** `'7d'`, `'lifetime'`, or a length with an explicit hop. Default hops follow Chronon's resolution. */
export type WindowDef = string | { readonly length: string; readonly hop: string };

export interface EntityDef {
  readonly kind: 'entity';
  readonly name: string;
  readonly keys: readonly string[];
}

/** An entity: its name and join keys, e.g. `entity('user_item', ['user_id', 'item_id'])`. */
export function entity(name: string, keys: readonly string[]): EntityDef {
  return Object.freeze({ kind: 'entity', name, keys: Object.freeze([...keys]) });
}

/** Options shared by every aggregation. */
export interface AggOptions {
  /** Windows to compute it over; each gives one output. Default `['lifetime']`. */
  readonly windows?: readonly WindowDef[];
  /** Only these event types. */
  readonly types?: readonly string[];
  /** Column equalities, e.g. `{ device: ['tv'] }`. */
  readonly where?: Readonly<Record<string, readonly (string | number)[]>>;
  /** The output name (a prefix when there are several windows). Default: derived from the definition. */
  readonly name?: string;
  /** The value when there is nothing to aggregate. */
  readonly default?: FeatureValue;
}

export interface AggDef {
  readonly kind: 'aggregation';
  readonly op: AggOp;
  readonly input: string | null;
  readonly options: AggOptions;
  readonly halfLife: string | null;
  readonly k: number | null;
  readonly weight: string | null;
  readonly numerator: string | null;
  readonly denominator: string | null;
}

function aggDef(op: AggOp, input: string | null, options: AggOptions, extra: Partial<Pick<AggDef, 'halfLife' | 'k' | 'weight' | 'numerator' | 'denominator'>> = {}): AggDef {
  return Object.freeze({
    kind: 'aggregation',
    op,
    input,
    options: Object.freeze({ ...options }),
    halfLife: extra.halfLife ?? null,
    k: extra.k ?? null,
    weight: extra.weight ?? null,
    numerator: extra.numerator ?? null,
    denominator: extra.denominator ?? null,
  });
}

/** The aggregations. Each reads one column of the view's event rows (see ir.ts for the columns). */
export const agg = {
  count: (options: AggOptions = {}) => aggDef('count', null, options),
  sum: (input: string, options: AggOptions = {}) => aggDef('sum', input, options),
  mean: (input: string, options: AggOptions = {}) => aggDef('mean', input, options),
  min: (input: string, options: AggOptions = {}) => aggDef('min', input, options),
  max: (input: string, options: AggOptions = {}) => aggDef('max', input, options),
  /** Population standard deviation. */
  stddev: (input: string, options: AggOptions = {}) => aggDef('stddev', input, options),
  /** The earliest value (ties broken by event id). */
  first: (input: string, options: AggOptions = {}) => aggDef('first', input, options),
  /** The latest value (ties broken by event id). */
  last: (input: string, options: AggOptions = {}) => aggDef('last', input, options),
  /** The k most recent distinct values, newest first: a sequence feature. */
  lastK: (input: string, k: number, options: AggOptions = {}) => aggDef('last_k', input, options, { k }),
  countDistinct: (input: string, options: AggOptions = {}) => aggDef('count_distinct', input, options),
  /** The k categories with the most weight (or events), heaviest first. */
  topK: (input: string, k: number, options: AggOptions & { readonly weight?: string } = {}) =>
    aggDef('top_k', input, options, { k, weight: options.weight ?? null }),
  /** Category → total weight (or event count). */
  histogram: (input: string, options: AggOptions & { readonly weight?: string } = {}) =>
    aggDef('histogram', input, options, { weight: options.weight ?? null }),
  /** Σ v · 2^(−(t − ts)/halfLife). */
  decayedSum: (input: string, halfLife: string, options: AggOptions = {}) => aggDef('decayed_sum', input, options, { halfLife }),
  decayedCount: (halfLife: string, options: AggOptions = {}) => aggDef('decayed_count', null, options, { halfLife }),
  decayedMean: (input: string, halfLife: string, options: AggOptions = {}) => aggDef('decayed_mean', input, options, { halfLife }),
  /** numerator / denominator: two outputs of the same view; null (or the default) when the denominator is 0. */
  ratio: (numerator: string, denominator: string, options: Pick<AggOptions, 'name' | 'default'> = {}) =>
    aggDef('ratio', null, options, { numerator, denominator }),
} as const;

/** Derived negative signals, as streams a view can aggregate. */
export const negatives = {
  /** An impression with no play of the item within `within`; it is known (and counted) from ts + within on. */
  impressionNotPlayed: (opts: { readonly within: string; readonly impressionTypes?: readonly string[]; readonly playTypes?: readonly string[] }) =>
    Object.freeze({ kind: 'impression_not_played', within: opts.within, impressionTypes: opts.impressionTypes ?? ['impression'], playTypes: opts.playTypes ?? ['play'] }) as NegativeDef,
  /** A playback that ended below a watch fraction; the ending event (default `pause`) carries seconds watched in `value`. */
  abandoned: (opts: { readonly below: number; readonly types?: readonly string[] }) =>
    Object.freeze({ kind: 'abandon', below: opts.below, types: opts.types ?? ['pause'] }) as NegativeDef,
} as const;

export type NegativeDef =
  | { readonly kind: 'impression_not_played'; readonly within: string; readonly impressionTypes: readonly string[]; readonly playTypes: readonly string[] }
  | { readonly kind: 'abandon'; readonly below: number; readonly types: readonly string[] };

export interface AggregationViewDef {
  readonly kind: 'aggregation_view';
  readonly name: string;
  readonly entity: EntityDef;
  /** The log itself (default) or a derived negative stream. */
  readonly stream?: NegativeDef;
  /** Fan each event out to the categories of its item (or user), e.g. `{ table: 'items', column: 'genres', as: 'genre' }`. */
  readonly via?: ViaIR;
  readonly aggregations: readonly AggDef[];
  readonly description?: string;
}

export function aggregationView(def: Omit<AggregationViewDef, 'kind'>): AggregationViewDef {
  return Object.freeze({ kind: 'aggregation_view', ...def });
}

export interface SessionViewDef {
  readonly kind: 'session_view';
  readonly name: string;
  readonly entity: EntityDef;
  /** Default `30m`. */
  readonly gap?: string;
  readonly types?: readonly string[];
  readonly description?: string;
}

/** Features of the user's session open at t: events and distinct items so far, its length and age. */
export function sessionView(def: Omit<SessionViewDef, 'kind'>): SessionViewDef {
  return Object.freeze({ kind: 'session_view', ...def });
}

export interface LookupViewDef {
  readonly kind: 'lookup_view';
  readonly name: string;
  readonly entity: EntityDef;
  readonly table: 'items' | 'users';
  readonly columns: readonly string[];
  readonly defaults?: Readonly<Record<string, FeatureValue>>;
  readonly description?: string;
}

/** Columns of item or user metadata, joined by key: content and cold-start features. */
export function lookupView(def: Omit<LookupViewDef, 'kind'>): LookupViewDef {
  return Object.freeze({ kind: 'lookup_view', ...def });
}

export interface EmbeddingViewDef {
  readonly kind: 'embedding_view';
  readonly name: string;
  readonly entity: EntityDef;
  /** The embedding table, `<log>/embeddings/<table>.parquet` (written by `recsignal embed`). */
  readonly table: string;
  /** Its vectors' length; a row of another length is refused when the table is read. */
  readonly dims: number;
  readonly description?: string;
}

/**
 * A learned vector per item or user, versioned in time: its one feature, `vector` (`float[]`), is
 * as of t the key's latest version published before t, so a training set never sees a later one.
 */
export function embeddingView(def: Omit<EmbeddingViewDef, 'kind'>): EmbeddingViewDef {
  return Object.freeze({ kind: 'embedding_view', ...def });
}

/** The values a request-time function receives: its declared inputs by alias (one object refilled per call: keep nothing of it). */
export type RequestInputs = Readonly<Record<string, FeatureValue>>;

export interface RequestFeatureDef {
  readonly kind: 'request_feature';
  readonly name: string;
  readonly inputs: Readonly<Record<string, string>>;
  readonly type: FeatureType;
  readonly default?: FeatureValue;
  readonly fn: (inputs: RequestInputs) => FeatureValue;
  readonly description?: string;
}

/**
 * A cross feature computed at request time by a pure function: the same function runs when a
 * training set is built and when a request is served. Inputs map an alias to `view:feature` or
 * `request:field` (a spine column or request context field; `request:ts` is the request time).
 */
export function requestFeature(def: Omit<RequestFeatureDef, 'kind'>): RequestFeatureDef {
  return Object.freeze({ kind: 'request_feature', ...def });
}

export type ViewDef = AggregationViewDef | SessionViewDef | LookupViewDef | EmbeddingViewDef;

export interface FeatureSetDef {
  readonly kind: 'feature_set';
  readonly name: string;
  readonly extraTypes?: readonly string[];
  readonly weights?: Readonly<Record<string, number>>;
  readonly views: readonly ViewDef[];
  readonly requestFeatures?: readonly RequestFeatureDef[];
}

/** The whole feature set of a `features.ts` module (its default export). */
export function defineFeatureSet(def: Omit<FeatureSetDef, 'kind'>): FeatureSetDef {
  return Object.freeze({ kind: 'feature_set', ...def });
}

export type { StreamIR };
