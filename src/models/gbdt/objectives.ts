/**
 * @module Loss gradients: squared error, logloss, LambdaMART and XE-NDCG. The lambdarank gradients follow
 * LightGBM's `LambdarankNDCG` (rank_objective.hpp): documents sorted by current score, pairs
 * with different labels where the higher-placed one sits above the truncation level, |ΔNDCG| from
 * the label gains and 1/log2(2 + rank) discounts normalised by the query's ideal DCG at the
 * truncation level, sigmoid 1, each ΔNDCG divided by (0.01 + |score gap|) and the query's lambdas
 * rescaled by log2(1 + Σλ)/Σλ when `lambdarankNorm` is on. One difference: the sigmoid is computed
 * exactly, where LightGBM reads a 1M-entry table clamped to |Δs| <= 25.
 */
import { createRng } from './rng.ts';
import type { ObjectiveName } from './types.ts';

export interface Objective {
  readonly name: ObjectiveName;
  /** The constant every score starts from (LightGBM's boost_from_average; 0 for ranking). */
  initScore(labels: Float64Array): number;
  gradients(scores: Float64Array, labels: Float64Array, grad: Float64Array, hess: Float64Array): void;
}

export interface RankingParams {
  readonly queryOffsets: Int32Array;
  readonly truncationLevel: number;
  readonly norm: boolean;
  readonly labelGain: readonly number[];
}

export const regression: Objective = {
  name: 'regression',
  initScore: (y) => {
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i]!;
    return s / y.length;
  },
  gradients(scores, y, grad, hess) {
    for (let i = 0; i < y.length; i++) {
      grad[i] = scores[i]! - y[i]!;
      hess[i] = 1;
    }
  },
};

export const binary: Objective = {
  name: 'binary',
  initScore: (y) => {
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i]!;
    const p = Math.min(Math.max(s / y.length, 1e-15), 1 - 1e-15);
    return Math.log(p / (1 - p));
  },
  gradients(scores, y, grad, hess) {
    for (let i = 0; i < y.length; i++) {
      const p = 1 / (1 + Math.exp(-scores[i]!));
      grad[i] = p - y[i]!;
      hess[i] = Math.max(p * (1 - p), 1e-16);
    }
  },
};

export function discount(rank: number): number {
  return 1 / Math.log2(2 + rank);
}

/** DCG of the best ordering of these labels, cut at k. */
export function maxDcgAtK(labels: ArrayLike<number>, start: number, end: number, k: number, gain: readonly number[]): number {
  const sorted = Array.from({ length: end - start }, (_, i) => labels[start + i]!).sort((a, b) => b - a);
  let dcg = 0;
  for (let i = 0; i < Math.min(k, sorted.length); i++) dcg += gain[sorted[i]!]! * discount(i);
  return dcg;
}

export function lambdarank(p: RankingParams, labels: Float64Array): Objective {
  const { queryOffsets: qo, truncationLevel, norm, labelGain } = p;
  const nq = qo.length - 1;
  const inverseMaxDcg = new Float64Array(nq);
  let maxSize = 1;
  for (let q = 0; q < nq; q++) {
    const m = maxDcgAtK(labels, qo[q]!, qo[q + 1]!, truncationLevel, labelGain);
    inverseMaxDcg[q] = m > 0 ? 1 / m : 0;
    maxSize = Math.max(maxSize, qo[q + 1]! - qo[q]!);
  }
  // Each query's order by score is kept between iterations: scores move little per tree, so an
  // insertion sort from the last order is close to linear.
  const order = new Int32Array(labels.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  const expScore = new Float64Array(maxSize);
  const discounts = Float64Array.from({ length: maxSize }, (_, i) => discount(i));
  // Per query: for each label seen in the top positions, the positions of the other labels.
  const listOf = new Int32Array(labelGain.length).fill(-1);
  const listUsed = new Int32Array(labelGain.length);
  const listLength = new Int32Array(labelGain.length);
  const listCursor = new Int32Array(labelGain.length);
  const otherPositions = new Int32Array(Math.min(labelGain.length, truncationLevel) * maxSize);
  return {
    name: 'lambdarank',
    initScore: () => 0,
    gradients(scores, y, grad, hess) {
      grad.fill(0);
      hess.fill(0);
      for (let q = 0; q < nq; q++) {
        const start = qo[q]!;
        const cnt = qo[q + 1]! - start;
        const inv = inverseMaxDcg[q]!;
        if (cnt < 2 || inv === 0) continue;
        const ord = order.subarray(start, start + cnt);
        sortByScore(ord, scores);
        const bestScore = scores[ord[0]!]!;
        const worstScore = scores[ord[cnt - 1]!]!;
        // 1 / (1 + e^(s_high - s_low)) = e_low / (e_low + e_high) with e = exp(s - best): one exp per
        // document, not per pair; clamped so no e underflows to 0.
        for (let i = 0; i < cnt; i++) expScore[i] = Math.exp(Math.max(scores[ord[i]!]! - bestScore, -300));
        // A pair needs two labels that differ, and most candidates share the negative label: for each
        // label in the top positions, the positions holding another label (ascending), so the inner
        // loop visits only real pairs, in the same (i, j) order as the plain double loop.
        const top = Math.min(cnt - 1, truncationLevel);
        let lists = 0;
        for (let i = 0; i < top; i++) {
          const yi = y[ord[i]!]!;
          if (listOf[yi]! >= 0) continue;
          const list = lists++;
          listOf[yi] = list;
          listUsed[list] = yi;
          const base = list * maxSize;
          let len = 0;
          for (let j = 0; j < cnt; j++) if (y[ord[j]!]! !== yi) otherPositions[base + len++] = j;
          listLength[list] = len;
          listCursor[list] = 0;
        }
        let sumLambdas = 0;
        for (let i = 0; i < top; i++) {
          const di = ord[i]!;
          const yi = y[di]!;
          const list = listOf[yi]!;
          const base = list * maxSize;
          const len = listLength[list]!;
          let c = listCursor[list]!;
          while (c < len && otherPositions[base + c]! <= i) c++;
          listCursor[list] = c;
          for (; c < len; c++) {
            const j = otherPositions[base + c]!;
            const dj = ord[j]!;
            const yj = y[dj]!;
            const iHigh = yi > yj;
            const high = iHigh ? di : dj;
            const low = iHigh ? dj : di;
            const eHigh = iHigh ? expScore[i]! : expScore[j]!;
            const eLow = iHigh ? expScore[j]! : expScore[i]!;
            const deltaScore = scores[high]! - scores[low]!;
            const dcgGap = labelGain[iHigh ? yi : yj]! - labelGain[iHigh ? yj : yi]!;
            const pairedDiscount = discounts[i]! - discounts[j]!; // i < j, so > 0
            let deltaNdcg = dcgGap * pairedDiscount * inv;
            if (norm && bestScore !== worstScore) deltaNdcg /= 0.01 + Math.abs(deltaScore);
            // sigmoid = 1: P(low above high) = 1 / (1 + e^{Δs}).
            const pLambda0 = eLow / (eLow + eHigh);
            const pHess = pLambda0 * (1 - pLambda0) * deltaNdcg;
            const pLambda = -pLambda0 * deltaNdcg;
            grad[low]! -= pLambda;
            hess[low]! += pHess;
            grad[high]! += pLambda;
            hess[high]! += pHess;
            sumLambdas -= 2 * pLambda;
          }
        }
        for (let l = 0; l < lists; l++) listOf[listUsed[l]!] = -1;
        if (norm && sumLambdas > 0) {
          const factor = Math.log2(1 + sumLambdas) / sumLambdas;
          for (let i = start; i < start + cnt; i++) {
            grad[i]! *= factor;
            hess[i]! *= factor;
          }
        }
      }
    },
  };
}

/** Insertion sort of row ids by score descending, ties by row ascending (a stable sort's order). */
function sortByScore(ord: Int32Array, scores: Float64Array): void {
  for (let i = 1; i < ord.length; i++) {
    const r = ord[i]!;
    const s = scores[r]!;
    let j = i - 1;
    while (j >= 0) {
      const o = ord[j]!;
      const so = scores[o]!;
      if (so > s || (so === s && o < r)) break;
      ord[j + 1] = o;
      j--;
    }
    ord[j + 1] = r;
  }
}

/**
 * XE-NDCG (Bruch, "An Alternative Cross Entropy Loss for Learning-to-Rank", 2021; LightGBM's
 * `rank_xendcg`): per query, the cross entropy between the softmax of the scores and a target
 * distribution proportional to 2^label − γ, with γ ~ U(0, 1) drawn afresh each iteration (one
 * seeded stream per query). Linear in the query's size: no sort, no pairs. The gradient is the
 * loss's expansion to third order and the hessian ρ(1 − ρ), as LightGBM computes them.
 */
export function rankXendcg(queryOffsets: Int32Array, seed: number): Objective {
  const nq = queryOffsets.length - 1;
  const streams = Array.from({ length: nq }, (_, q) => createRng(seed + q));
  let maxSize = 1;
  for (let q = 0; q < nq; q++) maxSize = Math.max(maxSize, queryOffsets[q + 1]! - queryOffsets[q]!);
  const rho = new Float64Array(maxSize);
  const term = new Float64Array(maxSize);
  return {
    name: 'rank_xendcg',
    initScore: () => 0,
    gradients(scores, y, grad, hess) {
      for (let q = 0; q < nq; q++) {
        const start = queryOffsets[q]!;
        const cnt = queryOffsets[q + 1]! - start;
        if (cnt < 2) {
          for (let i = start; i < start + cnt; i++) grad[i] = hess[i] = 0;
          continue;
        }
        let max = -Infinity;
        for (let i = 0; i < cnt; i++) max = Math.max(max, scores[start + i]!);
        let sumExp = 0;
        for (let i = 0; i < cnt; i++) sumExp += rho[i] = Math.exp(scores[start + i]! - max);
        for (let i = 0; i < cnt; i++) rho[i]! /= sumExp;
        const next = streams[q]!;
        let sumPhi = 0;
        for (let i = 0; i < cnt; i++) sumPhi += term[i] = 2 ** y[start + i]! - next();
        const inv = 1 / Math.max(sumPhi, 1e-15);
        // First order, then the second and third through each term's share of the others.
        let sum1 = 0;
        for (let i = 0; i < cnt; i++) {
          const t = rho[i]! - term[i]! * inv;
          grad[start + i] = t;
          // ρ rounds to 1 when one score leads the query's others by ~37 or more: keep the terms finite.
          term[i] = t / Math.max(1 - rho[i]!, 1e-15);
          sum1 += term[i]!;
        }
        let sum2 = 0;
        for (let i = 0; i < cnt; i++) {
          const t = rho[i]! * (sum1 - term[i]!);
          grad[start + i]! += t;
          term[i] = t / Math.max(1 - rho[i]!, 1e-15);
          sum2 += term[i]!;
        }
        for (let i = 0; i < cnt; i++) {
          grad[start + i]! += rho[i]! * (sum2 - term[i]!);
          hess[start + i] = rho[i]! * (1 - rho[i]!);
        }
      }
    },
  };
}
