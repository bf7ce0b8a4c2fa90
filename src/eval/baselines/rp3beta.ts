/**
 * @module RP3beta (Paudel et al. 2017; the tuned baseline of Dacrema et al. 2019): item-to-item
 * transition probabilities of a random walk item → user → item, each step's probability raised to
 * α, and the arrival item's popularity divided out to the power β (popular items are reached from
 * everywhere; β takes that back). W_ij = deg(i)^−α · Σ_u x_ui x_uj deg(u)^−α / deg(j)^β, diagonal 0,
 * each target item keeping its top-k sources; score = X·W, X binary. The defaults (α 0.7, β 0.3,
 * 50 neighbours) were chosen on an inner split of ML-100K's training part (BENCHMARKS.md).
 */
import { buildInteractionMatrix, itemToItemScorer, keepTopNeighbours } from '../interaction-matrix.ts';
import type { Interaction, Scorer } from '../types.ts';

export interface Rp3betaOptions {
  readonly items?: readonly string[];
  /** Exponent of each step's transition probability; default 0.7 (1 is a plain random walk). */
  readonly alpha?: number;
  /** Exponent of the popularity divided out; default 0.3. */
  readonly beta?: number;
  /** Sources kept per target item; default 50. */
  readonly neighbours?: number;
}

export function trainRp3beta(train: readonly Interaction[], options: Rp3betaOptions = {}): Scorer {
  const x = buildInteractionMatrix(train, options.items ? { items: options.items } : {});
  const n = x.items.length;
  const alpha = options.alpha ?? 0.7;
  const beta = options.beta ?? 0.3;
  const degree = new Float64Array(n);
  for (let p = 0; p < x.colIdx.length; p++) degree[x.colIdx[p]!]! += 1;
  const w = new Float64Array(n * n);
  for (let u = 0; u < x.users.length; u++) {
    const start = x.rowPtr[u]!, end = x.rowPtr[u + 1]!;
    const step = Math.pow(end - start, -alpha);
    for (let p = start; p < end; p++) {
      const row = x.colIdx[p]! * n;
      for (let q = start; q < end; q++) w[row + x.colIdx[q]!]! += step;
    }
  }
  const from = Float64Array.from(degree, (d) => (d > 0 ? Math.pow(d, -alpha) : 0));
  const to = Float64Array.from(degree, (d) => (d > 0 ? Math.pow(d, -beta) : 0));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) w[i * n + j] = i === j ? 0 : w[i * n + j]! * from[i]! * to[j]!;
  }
  keepTopNeighbours(w, n, options.neighbours ?? 50);
  return itemToItemScorer(x, w, () => 1);
}
