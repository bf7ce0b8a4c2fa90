/**
 * @module EASE (Steck 2019): a closed-form item-item linear model with a zero diagonal.
 * P = (XᵀX + λI)⁻¹, B = I − P·diag(1/diag(P)), diag(B) = 0, score = X·B, X binary.
 */
import { buildInteractionMatrix, cooccurrence, itemToItemScorer } from '../interaction-matrix.ts';
import { invertSpd } from '../linalg.ts';
import type { Interaction, Scorer } from '../types.ts';

export interface EaseOptions {
  readonly items?: readonly string[];
  /** L2 regularisation λ; default 500. */
  readonly lambda?: number;
}

export function trainEase(train: readonly Interaction[], options: EaseOptions = {}): Scorer {
  const x = buildInteractionMatrix(train, options.items ? { items: options.items } : {});
  const n = x.items.length;
  const g = cooccurrence(x);
  const lambda = options.lambda ?? 500;
  for (let i = 0; i < n; i++) g[i * n + i]! += lambda;
  const p = invertSpd(g, n);
  // B_ij = −P_ij / P_jj off the diagonal, 0 on it; computed in place over P.
  const pDiag = Float64Array.from({ length: n }, (_, j) => p[j * n + j]!);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) p[i * n + j] = i === j ? 0 : -p[i * n + j]! / pDiag[j]!;
  }
  return itemToItemScorer(x, p, () => 1);
}
