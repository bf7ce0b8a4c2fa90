/**
 * @module How much of what users went on to play the recommendations' candidate sources held: for
 * each source, and for their union (what the ranker sees), the mean over users of the share of the
 * user's later items among the source's items (recall@N, N being the source's list length).
 */
import type { Recommender } from './recommend.ts';

export interface SourceRecall {
  /** Mean share of a user's later items among the source's items. */
  readonly recall: number;
  /** Mean number of items the source gave a user. */
  readonly items: number;
}

export interface CandidateRecall {
  /** Users measured: those with later items. */
  readonly users: number;
  readonly union: SourceRecall;
  readonly bySource: Readonly<Record<string, SourceRecall>>;
}

/** Each user's candidate sources as of `t`, scored against `later` (user → items played after t). */
export async function candidateRecallBySource(recommender: Recommender, later: ReadonlyMap<string, ReadonlySet<string>>, t: number): Promise<CandidateRecall> {
  const sums = new Map<string, { recall: number; items: number }>();
  const union = { recall: 0, items: 0 };
  let users = 0;
  for (const [user, truth] of later) {
    if (truth.size === 0) continue;
    users++;
    const g = await recommender.candidateSources({ user, context: {} }, t);
    const excluded = new Set(g.excluded);
    const pooled = new Set<string>();
    for (const [source, items] of g.sources) {
      const own = new Set(items);
      const s = sums.get(source) ?? { recall: 0, items: 0 };
      s.recall += hits(own, truth) / truth.size;
      s.items += own.size;
      sums.set(source, s);
      for (const i of own) if (!excluded.has(i)) pooled.add(i);
    }
    union.recall += hits(pooled, truth) / truth.size;
    union.items += pooled.size;
  }
  const mean = (s: { recall: number; items: number }): SourceRecall => ({ recall: users === 0 ? Number.NaN : s.recall / users, items: users === 0 ? 0 : s.items / users });
  // A source a user did not get (a cold user has no continue-watching) counts as recall 0 for them.
  return { users, union: mean(union), bySource: Object.fromEntries([...sums].map(([k, s]) => [k, mean(s)])) };
}

function hits(items: ReadonlySet<string>, truth: ReadonlySet<string>): number {
  let n = 0;
  for (const i of truth) if (items.has(i)) n++;
  return n;
}
