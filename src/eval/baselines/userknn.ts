/**
 * @module User-kNN: cosine similarity between users' binary item vectors; a user's score of an item
 * sums the similarities of their k most similar users who have it. The neighbourhood side that the
 * item-to-item models (item-kNN, SAR, EASE, RP3beta) do not have.
 *
 * Similarities are computed per scored user from the item columns (O(Σ popularity of their items)),
 * not as a dense user × user matrix, so memory stays linear in the interactions at any user count.
 */
import { buildInteractionMatrix, transpose } from '../interaction-matrix.ts';
import type { Interaction, Scorer } from '../types.ts';

export interface UserKnnOptions {
  readonly items?: readonly string[];
  /** Neighbours kept per user; default 50. */
  readonly neighbours?: number;
}

export function trainUserKnn(train: readonly Interaction[], options: UserKnnOptions = {}): Scorer {
  const x = buildInteractionMatrix(train, options.items ? { items: options.items } : {});
  const n = x.items.length;
  const users = x.users.length;
  const k = options.neighbours ?? 50;
  // The item columns (users of each item), to find every user sharing an item with the scored one.
  const { rowPtr: colPtr, colIdx: rowIdx } = transpose(x, users, n);
  const norm = Float64Array.from({ length: users }, (_, u) => Math.sqrt(x.rowPtr[u + 1]! - x.rowPtr[u]!));
  return {
    items: x.items,
    score(user) {
      const u = x.userIndex.get(user);
      if (u === undefined) return undefined;
      const shared = new Float64Array(users);
      for (let p = x.rowPtr[u]!; p < x.rowPtr[u + 1]!; p++) {
        const i = x.colIdx[p]!;
        for (let q = colPtr[i]!; q < colPtr[i + 1]!; q++) shared[rowIdx[q]!]! += 1;
      }
      shared[u] = 0;
      const near: number[] = [];
      for (let v = 0; v < users; v++) if (shared[v]! > 0) near.push(v);
      const sim = (v: number) => shared[v]! / (norm[u]! * norm[v]!);
      // Most similar first, ties by user index (deterministic).
      near.sort((a, b) => sim(b) - sim(a) || a - b);
      const out = new Float64Array(n);
      for (const v of near.slice(0, k)) {
        const s = sim(v);
        for (let p = x.rowPtr[v]!; p < x.rowPtr[v + 1]!; p++) out[x.colIdx[p]!]! += s;
      }
      return out;
    },
  };
}
