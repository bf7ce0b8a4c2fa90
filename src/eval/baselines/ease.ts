/**
 * @module EASE (Steck 2019): a closed-form item-item linear model with a zero diagonal.
 * P = (XᵀX + λI)⁻¹, B = I − P·diag(1/diag(P)), diag(B) = 0, score = X·B, X binary (or, with
 * `weight`, graded by each user's last rating of an item).
 */
import { buildInteractionMatrix, cooccurrence, itemToItemScorer } from '../interaction-matrix.ts';
import { invertSpd } from '../linalg.ts';
import type { Interaction, Scorer } from '../types.ts';

export interface EaseOptions {
  readonly items?: readonly string[];
  /** L2 regularisation λ; default 500. */
  readonly lambda?: number;
  /** X_ui = the weight of u's last interaction with i, instead of 1 (e.g. by its rating). */
  readonly weight?: (r: Interaction) => number;
}

export function trainEase(train: readonly Interaction[], options: EaseOptions = {}): Scorer {
  const weight = options.weight;
  const rows = weight === undefined ? train : lastPerPair(train);
  const x = buildInteractionMatrix(rows, { ...(options.items ? { items: options.items } : {}), ...(weight ? { weight } : {}) });
  const n = x.items.length;
  const g = cooccurrence(x, weight !== undefined);
  const lambda = options.lambda ?? 500;
  for (let i = 0; i < n; i++) g[i * n + i]! += lambda;
  const p = invertSpd(g, n);
  // B_ij = −P_ij / P_jj off the diagonal, 0 on it; computed in place over P.
  const pDiag = Float64Array.from({ length: n }, (_, j) => p[j * n + j]!);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) p[i * n + j] = i === j ? 0 : -p[i * n + j]! / pDiag[j]!;
  }
  return itemToItemScorer(x, p, weight === undefined ? () => 1 : (v) => v);
}

/** Each (user, item) pair's last interaction. */
function lastPerPair(train: readonly Interaction[]): Interaction[] {
  const last = new Map<string, Interaction>();
  for (const r of train) {
    const key = `${r.user}\u0000${r.item}`;
    const prev = last.get(key);
    if (prev === undefined || r.ts >= prev.ts) last.set(key, r);
  }
  return [...last.values()];
}
