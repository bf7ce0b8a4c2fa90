/**
 * @module Full-ranking metrics at k as Microsoft Recommenders defines them (`python_evaluation.py`),
 * plus the variants people confuse them with, named apart; coverage, novelty and per-user AUC.
 */
import type { Interaction, Recommendations, Scorer, Truth } from './types.ts';

/** One value per evaluated user, in `users` order: the input of bootstrap CIs and paired tests. */
export interface PerUserRankingMetrics {
  /** Users of `truth` with at least one test item, in the truth's iteration order. */
  readonly users: readonly string[];
  /** hits / k. */
  readonly precision: Float64Array;
  /** hits / |test items|. */
  readonly recall: Float64Array;
  /** Binary gains 1/log2(rank+1) over the ideal with min(k, |test|) hits (the Microsoft nDCG). */
  readonly ndcg: Float64Array;
  /** Gain = rating, over the ideal of the user's min(k, |test|) highest test ratings. */
  readonly ndcgGraded: Float64Array;
  /** Sum of precision at each hit rank / |test items|: what Microsoft Recommenders calls MAP. */
  readonly mapMs: Float64Array;
  /** Same sum / min(k, |test items|): the usual MAP@k (recommenders issue #2309). */
  readonly mapAtK: Float64Array;
  /** 1 / rank of the first hit in the top k, else 0. */
  readonly mrr: Float64Array;
  /** 1 when the top k holds any test item, else 0. */
  readonly hitRate: Float64Array;
}

export type RankingMetricName = Exclude<keyof PerUserRankingMetrics, 'users'>;
export type RankingMetrics = Readonly<Record<RankingMetricName, number>> & { readonly users: number };

export const RANKING_METRICS: readonly RankingMetricName[] = [
  'precision', 'recall', 'ndcg', 'ndcgGraded', 'mapMs', 'mapAtK', 'mrr', 'hitRate',
];

/**
 * Per-user metrics over the first k recommendations. Every user with test items is evaluated; a
 * user without a recommendation list scores 0 everywhere, as in Microsoft Recommenders' nDCG; its
 * precision, recall and MAP leave such users out instead (the mean over the users it recommended
 * to). Under the random protocols every test user has training rows, so the two agree; under the
 * time protocol cold users make them differ (each segment is reported apart).
 */
export function perUserRankingMetrics(recommendations: Recommendations, truth: Truth, k: number): PerUserRankingMetrics {
  if (!(Number.isInteger(k) && k > 0)) throw new RangeError(`k must be a positive integer, got ${k}`);
  const users = [...truth].filter(([, t]) => t.size > 0).map(([u]) => u);
  const n = users.length;
  const out = {
    users,
    precision: new Float64Array(n), recall: new Float64Array(n), ndcg: new Float64Array(n),
    ndcgGraded: new Float64Array(n), mapMs: new Float64Array(n), mapAtK: new Float64Array(n),
    mrr: new Float64Array(n), hitRate: new Float64Array(n),
  };
  users.forEach((user, u) => {
    const test = truth.get(user)!;
    const recs = recommendations.get(user) ?? [];
    const depth = Math.min(k, recs.length);
    const ideal = Math.min(k, test.size);
    let hits = 0, dcg = 0, dcgGraded = 0, apSum = 0, firstHit = 0;
    for (let r = 1; r <= depth; r++) {
      const rating = test.get(recs[r - 1]!);
      if (rating === undefined) continue;
      hits++;
      const discount = 1 / Math.log2(r + 1);
      dcg += discount;
      dcgGraded += rating * discount;
      apSum += hits / r;
      if (firstHit === 0) firstHit = r;
    }
    let idcg = 0;
    for (let r = 1; r <= ideal; r++) idcg += 1 / Math.log2(r + 1);
    const best = [...test.values()].sort((a, b) => b - a);
    let idcgGraded = 0;
    for (let r = 1; r <= ideal; r++) idcgGraded += best[r - 1]! / Math.log2(r + 1);
    out.precision[u] = hits / k;
    out.recall[u] = hits / test.size;
    out.ndcg[u] = dcg / idcg;
    out.ndcgGraded[u] = idcgGraded > 0 ? dcgGraded / idcgGraded : 0;
    out.mapMs[u] = apSum / test.size;
    out.mapAtK[u] = apSum / ideal;
    out.mrr[u] = firstHit > 0 ? 1 / firstHit : 0;
    out.hitRate[u] = hits > 0 ? 1 : 0;
  });
  return out;
}

export function mean(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i]!;
  return values.length === 0 ? Number.NaN : s / values.length;
}

/** Averages of `perUserRankingMetrics` over the users with test items. */
export function rankingMetrics(recommendations: Recommendations, truth: Truth, k: number): RankingMetrics {
  const per = perUserRankingMetrics(recommendations, truth, k);
  const out: Record<string, number> = { users: per.users.length };
  for (const name of RANKING_METRICS) out[name] = mean(per[name]);
  return out as RankingMetrics;
}

/** Distinct items among the first k recommendations / catalogue size (a count or the items). */
export function catalogueCoverage(recommendations: Recommendations, catalogue: number | Iterable<string>, k: number): number {
  const size = typeof catalogue === 'number' ? catalogue : new Set(catalogue).size;
  const seen = new Set<string>();
  for (const recs of recommendations.values()) for (const it of recs.slice(0, k)) seen.add(it);
  return seen.size / size;
}

/**
 * Mean over all recommendation slots (first k per user) of −log2(share of training interactions
 * that fall on the item), as Recommenders' `novelty`: an item with no training interaction adds
 * nothing to the sum but its slot still counts (Recommenders' left join gives it NaN, which its
 * sum skips, over all recommendation rows). The harness never recommends such an item (its
 * catalogue is the training items).
 */
export function novelty(recommendations: Recommendations, train: readonly Interaction[], k: number): number {
  const counts = new Map<string, number>();
  for (const r of train) counts.set(r.item, (counts.get(r.item) ?? 0) + 1);
  let sum = 0, slots = 0;
  for (const recs of recommendations.values()) {
    for (const it of recs.slice(0, k)) {
      const c = counts.get(it);
      if (c !== undefined) sum += -Math.log2(c / train.length);
      slots++;
    }
  }
  return slots === 0 ? Number.NaN : sum / slots;
}

export interface AucResult {
  readonly auc: number;
  readonly users: readonly string[];
  readonly perUser: Float64Array;
}

/**
 * Per-user AUC, averaged over users with test items. For a user, positives are the test items and
 * negatives every catalogue item neither in the test set nor in `exclude` (the training items);
 * AUC = P(score(pos) > score(neg)) + ½·P(tie), over all positive-negative pairs (Mann-Whitney
 * with mid-ranks). A test item outside the scorer's catalogue loses all its pairs; a user the
 * scorer does not know scores ½; a user with no negatives is skipped.
 */
export function aucFromScores(scorer: Scorer, truth: Truth, exclude?: ReadonlyMap<string, ReadonlySet<string>>): AucResult {
  const items = scorer.items;
  const index = new Map<string, number>();
  items.forEach((it, i) => index.set(it, i));
  const users: string[] = [];
  const values: number[] = [];
  for (const [user, test] of truth) {
    if (test.size === 0) continue;
    const scores = scorer.score(user);
    const skip = new Uint8Array(items.length);
    for (const it of exclude?.get(user) ?? []) {
      const i = index.get(it);
      if (i !== undefined) skip[i] = 1;
    }
    const isPos = new Uint8Array(items.length);
    let nOutside = 0; // positives outside the catalogue: they count, and lose every pair
    for (const it of test.keys()) {
      const i = index.get(it);
      if (i === undefined) {
        if (!exclude?.get(user)?.has(it)) nOutside++;
      } else if (!skip[i]) isPos[i] = 1;
    }
    const cand: number[] = [];
    for (let i = 0; i < items.length; i++) if (!skip[i]) cand.push(i);
    let nPosIn = 0;
    for (const i of cand) nPosIn += isPos[i]!;
    const nNeg = cand.length - nPosIn;
    const nPos = nPosIn + nOutside;
    if (nNeg === 0 || nPos === 0) continue;
    users.push(user);
    if (!scores) {
      values.push(0.5);
      continue;
    }
    // A NaN score ranks last, as in recommendTopK (in the comparator it would make the sort's order depend on where it sits).
    const score = (i: number): number => {
      const v = scores[i]!;
      return v === v ? v : -Infinity;
    };
    cand.sort((a, b) => score(a) - score(b) || a - b);
    // Sum of mid-ranks (1-based) of in-catalogue positives among the candidates.
    let rankSum = 0;
    for (let lo = 0; lo < cand.length;) {
      let hi = lo + 1;
      while (hi < cand.length && score(cand[hi]!) === score(cand[lo]!)) hi++;
      const midRank = (lo + 1 + hi) / 2;
      for (let j = lo; j < hi; j++) if (isPos[cand[j]!]) rankSum += midRank;
      lo = hi;
    }
    const wins = rankSum - (nPosIn * (nPosIn + 1)) / 2;
    values.push(wins / (nPos * nNeg));
  }
  const perUser = Float64Array.from(values);
  return { auc: mean(perUser), users, perUser };
}
