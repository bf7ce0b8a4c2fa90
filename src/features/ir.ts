/**
 * @module The intermediate representation: frozen plain data that every engine reads.
 * The DSL builds it, `plan` validates and names it, and batch, stream and the reference
 * aggregator all compute from it; nothing here holds behaviour.
 */

/** A sawtooth window: covers `[floor((t − length) / hop) · hop, t)`; lifetime covers all `ts < t`. */
export type WindowIR =
  | { readonly kind: 'lifetime' }
  | { readonly kind: 'sliding'; readonly lengthMs: number; readonly hopMs: number };

/**
 * A value an aggregation reads from an event row. Event columns, the context columns lifted into
 * the log, and derived ones: `watch_fraction` = value / duration, `weight` = the event type's
 * signal strength, `hour_of_day` (0-23 UTC), `hour_bucket` (night/morning/afternoon/evening),
 * `day_type` (weekday/weekend), and the category a view reaches through metadata (`via.as`).
 */
export type ColumnRef = string;

export const EVENT_COLUMNS = ['event_id', 'user_id', 'item_id', 'type', 'value', 'duration', 'device', 'country', 'session_id'] as const;
export const DERIVED_COLUMNS = ['watch_fraction', 'weight', 'hour_of_day', 'hour_bucket', 'day_type'] as const;
export const NUMERIC_COLUMNS: ReadonlySet<string> = new Set(['value', 'duration', 'watch_fraction', 'weight', 'hour_of_day']);

export type AggOp =
  | 'count'
  | 'sum'
  | 'mean'
  | 'min'
  | 'max'
  | 'stddev'
  | 'first'
  | 'last'
  | 'last_k'
  | 'count_distinct'
  | 'top_k'
  | 'histogram'
  | 'decayed_sum'
  | 'decayed_count'
  | 'decayed_mean'
  | 'ratio';

/**
 * How partial aggregates of an op merge, as Chronon tags them: a group can subtract a tile that
 * leaves the window; a monoid can only combine; `holistic` keeps the values themselves.
 */
export const OP_ALGEBRA: Readonly<Record<AggOp, 'group' | 'monoid' | 'holistic'>> = {
  count: 'group',
  sum: 'group',
  mean: 'group',
  stddev: 'group',
  decayed_sum: 'group',
  decayed_count: 'group',
  decayed_mean: 'group',
  ratio: 'group',
  min: 'monoid',
  max: 'monoid',
  first: 'monoid',
  last: 'monoid',
  last_k: 'monoid',
  count_distinct: 'holistic',
  top_k: 'holistic',
  histogram: 'holistic',
};

export type FeatureType = 'int' | 'float' | 'string' | 'string[]' | 'float[]' | 'histogram';

/** Values a feature can hold; a histogram maps category → weight; `float[]` is an embedding. */
export type FeatureValue = number | string | null | readonly string[] | readonly number[] | Readonly<Record<string, number>>;

/** Which events of the view's stream an aggregation reads. */
export interface FilterIR {
  /** Event types to keep; null keeps all. */
  readonly types: readonly string[] | null;
  /** Column equalities: each column must take one of the listed values. */
  readonly where: readonly { readonly column: ColumnRef; readonly in: readonly (string | number)[] }[];
}

export interface AggregationIR {
  /** The output column name, unique in its view. */
  readonly name: string;
  readonly op: AggOp;
  /** The value read; null for count, decayed_count and ratio. */
  readonly input: ColumnRef | null;
  readonly window: WindowIR;
  readonly filter: FilterIR;
  /** Decay half-life for decayed_*. */
  readonly halfLifeMs: number | null;
  /** k for last_k and top_k. */
  readonly k: number | null;
  /** Weight column for histogram / top_k (null counts events). */
  readonly weight: ColumnRef | null;
  /** For ratio: names of two aggregations of the same view. */
  readonly numerator: string | null;
  readonly denominator: string | null;
  readonly type: FeatureType;
  readonly default: FeatureValue;
}

/** The event stream a view aggregates: the log itself or a negative signal derived from it. */
export type StreamIR =
  | { readonly kind: 'events' }
  /** An impression not followed by a play of the same item within the timeout; it happens at ts + timeout. */
  | { readonly kind: 'impression_not_played'; readonly timeoutMs: number; readonly impressionTypes: readonly string[]; readonly playTypes: readonly string[] }
  /** A playback ended below a watch fraction (value / duration); it happens when the ending event is logged. */
  | { readonly kind: 'abandon'; readonly below: number; readonly types: readonly string[] };

/** A category reached through a metadata table: each event fans out to one row per category. */
export interface ViaIR {
  readonly table: 'items' | 'users';
  /** The table's list column, e.g. `genres`. */
  readonly column: string;
  /** The name the category takes on the event row, e.g. `genre`. */
  readonly as: string;
}

export interface EntityIR {
  readonly name: string;
  readonly keys: readonly string[];
}

export interface AggregationViewIR {
  readonly kind: 'aggregation';
  readonly name: string;
  readonly entity: EntityIR;
  readonly stream: StreamIR;
  readonly via: ViaIR | null;
  readonly aggregations: readonly AggregationIR[];
  readonly description: string | null;
}

/** The session open at t for a user, split by a gap; see the DESIGN semantics contract. */
export interface SessionViewIR {
  readonly kind: 'session';
  readonly name: string;
  readonly entity: EntityIR;
  readonly gapMs: number;
  readonly filter: FilterIR;
  readonly description: string | null;
}

export const SESSION_OUTPUTS = [
  { name: 'session_event_count', type: 'int', default: 0 },
  { name: 'session_item_count', type: 'int', default: 0 },
  { name: 'session_length_ms', type: 'int', default: null },
  { name: 'session_age_ms', type: 'int', default: null },
] as const;

/** Columns of a metadata table joined by key (static; not versioned in time). */
export interface LookupViewIR {
  readonly kind: 'lookup';
  readonly name: string;
  readonly entity: EntityIR;
  readonly table: 'items' | 'users';
  readonly columns: readonly { readonly name: string; readonly type: FeatureType; readonly default: FeatureValue }[];
  readonly description: string | null;
}

/**
 * Vectors learned offline (e.g. `recsignal embed`), published as versions in an embedding table of
 * the log: the value at t is the vector of the key's latest version with ts < t (a version counts
 * like an event at its ts, so a version learned from the events before a cutoff is published at it).
 */
export interface EmbeddingViewIR {
  readonly kind: 'embedding';
  readonly name: string;
  readonly entity: EntityIR;
  /** The table's name: `<log>/embeddings/<table>.parquet`. */
  readonly table: string;
  readonly dims: number;
  readonly description: string | null;
}

/** The one output of an embedding view. */
export const EMBEDDING_OUTPUT = { name: 'vector', type: 'float[]', default: null } as const;

export type FeatureViewIR = AggregationViewIR | SessionViewIR | LookupViewIR | EmbeddingViewIR;

/** A request-time feature: a TypeScript function of other features and the request's fields. */
export interface RequestFeatureIR {
  readonly name: string;
  /** Local alias → `view:feature` or `request:field`. */
  readonly inputs: Readonly<Record<string, string>>;
  readonly type: FeatureType;
  readonly default: FeatureValue;
  /** The function's source text: part of the semantic hash. */
  readonly source: string;
  readonly description: string | null;
}

export interface FeatureSetIR {
  readonly name: string;
  /** Event types beyond the built-in ones. */
  readonly extraTypes: readonly string[];
  /** Signal strength per event type; types not listed weigh 0. */
  readonly weights: Readonly<Record<string, number>>;
  readonly views: readonly FeatureViewIR[];
  readonly requestFeatures: readonly RequestFeatureIR[];
}

/** Metadata column types known to the engines (the tables the readers and generator produce). */
export const TABLE_COLUMNS: Readonly<Record<'items' | 'users', Readonly<Record<string, FeatureType>>>> = {
  items: { item_id: 'string', title: 'string', year: 'int', genres: 'string[]', release_ts: 'int', duration: 'float' },
  users: { user_id: 'string', age: 'int', gender: 'string', occupation: 'string', country: 'string' },
};

export const TABLE_KEYS = { items: 'item_id', users: 'user_id' } as const;
