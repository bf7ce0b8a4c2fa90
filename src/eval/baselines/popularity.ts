/** @module Most-popular baseline: the same training-count ranking for every user, optionally time-decayed. */
import { RecsignalError } from '../../core/errors.ts';
import { catalogueOf } from '../ids.ts';
import type { Interaction, Scorer } from '../types.ts';

export interface PopularityOptions {
  /** The catalogue to score; default every training item in `compareIds` order. */
  readonly items?: readonly string[];
  /**
   * When set, each interaction counts 0.5^((now − ts) / halfLifeMs) instead of 1, so recent
   * popularity wins.
   */
  readonly halfLifeMs?: number;
  /** The "now" of the decay (ms); default the latest training timestamp. */
  readonly now?: number;
}

/** Scores every item by its training interactions; every user, known or not, gets the same scores. */
export function trainPopularity(train: readonly Interaction[], options: PopularityOptions = {}): Scorer {
  const items = options.items ?? catalogueOf(train);
  const index = new Map(items.map((it, i) => [it, i] as const));
  const scores = new Float64Array(items.length);
  const halfLife = options.halfLifeMs;
  if (halfLife !== undefined && !(halfLife > 0)) {
    throw new RecsignalError('INVALID_ARGUMENT', `halfLifeMs must be positive, got ${halfLife}; e.g. 30 days = 2592000000`);
  }
  let now = options.now ?? -Infinity;
  if (options.now === undefined) for (const r of train) now = Math.max(now, r.ts);
  for (const r of train) {
    const i = index.get(r.item);
    if (i === undefined) continue;
    scores[i]! += halfLife === undefined ? 1 : 0.5 ** ((now - r.ts) / halfLife);
  }
  // A copy per call: callers may scale or mask the vector they get.
  return { items, score: () => scores.slice() };
}
