/** @module The plain data the evaluation harness works on: interactions in, scores and ranked lists out. */

/** One rating event: `ts` is milliseconds since the Unix epoch (UTC). */
export interface Interaction {
  readonly user: string;
  readonly item: string;
  readonly rating: number;
  readonly ts: number;
}

/**
 * A trained model as the harness sees it: a fixed item catalogue and, per user, one score per
 * catalogue item (same order as `items`). `score` returns undefined for a user it knows nothing of.
 */
export interface Scorer {
  readonly items: readonly string[];
  score(user: string): Float64Array | undefined;
}

/** Ranked recommendation lists, best first. */
export type Recommendations = ReadonlyMap<string, readonly string[]>;

/** Held-out truth: user -> item -> rating. Every listed item is relevant. */
export type Truth = ReadonlyMap<string, ReadonlyMap<string, number>>;
