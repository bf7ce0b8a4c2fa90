/** @module Validation metrics on raw scores: rmse, logloss, AUC, and LightGBM's per-query nDCG@k. */
import { discount, maxDcgAtK } from './objectives.ts';
import type { MetricName } from './types.ts';

export function rmse(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < labels.length; i++) s += (scores[i]! - labels[i]!) ** 2;
  return Math.sqrt(s / labels.length);
}

/** Mean logloss of raw scores (margins), probabilities clipped to [1e-15, 1 - 1e-15]. */
export function logloss(rawScores: ArrayLike<number>, labels: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < labels.length; i++) {
    const p = Math.min(Math.max(1 / (1 + Math.exp(-rawScores[i]!)), 1e-15), 1 - 1e-15);
    s -= labels[i]! > 0 ? Math.log(p) : Math.log(1 - p);
  }
  return s / labels.length;
}

/** ROC AUC (Mann-Whitney, ties counted half); NaN when one class is absent. */
/** Equal scores, NaN equal to NaN. */
function sameScore(a: number, b: number): boolean {
  return a === b || (Number.isNaN(a) && Number.isNaN(b));
}

export function auc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const n = labels.length;
  // NaN scores rank lowest, tied with each other (a NaN compared with === never ties, and the tie loop below never moved on).
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => {
    const x = scores[a]!;
    const y = scores[b]!;
    if (Number.isNaN(x)) return Number.isNaN(y) ? 0 : -1;
    return Number.isNaN(y) ? 1 : x - y;
  });
  let pos = 0;
  let rankSum = 0;
  for (let i = 0; i < n; ) {
    let j = i;
    while (j < n && sameScore(scores[order[j]!]!, scores[order[i]!]!)) j++;
    const midRank = (i + j + 1) / 2;
    for (let k = i; k < j; k++) {
      if (labels[order[k]!]! > 0) {
        pos++;
        rankSum += midRank;
      }
    }
    i = j;
  }
  const neg = n - pos;
  if (pos === 0 || neg === 0) return NaN;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

/**
 * Mean over queries of nDCG@k with gains `labelGain[label]`; documents ordered by score, ties by row.
 * A query with no relevant document scores 1, as in LightGBM.
 */
export function ndcgAtK(
  scores: ArrayLike<number>, labels: ArrayLike<number>, queryOffsets: Int32Array, k: number, labelGain: readonly number[],
): number {
  const nq = queryOffsets.length - 1;
  let total = 0;
  for (let q = 0; q < nq; q++) {
    const s = queryOffsets[q]!;
    const e = queryOffsets[q + 1]!;
    const ideal = maxDcgAtK(labels, s, e, k, labelGain);
    if (ideal <= 0) {
      total += 1;
      continue;
    }
    const order = Array.from({ length: e - s }, (_, i) => s + i).sort((a, b) => scores[b]! - scores[a]! || a - b);
    let dcg = 0;
    for (let i = 0; i < Math.min(k, order.length); i++) dcg += labelGain[labels[order[i]!]!]! * discount(i);
    total += dcg / ideal;
  }
  return total / nq;
}

export function higherIsBetter(metric: MetricName): boolean {
  return metric === 'auc' || metric === 'ndcg';
}
