/** @module Item-kNN: cosine similarity between items' user vectors; a user's score sums the similarities to their items. */
import { buildInteractionMatrix, cooccurrence, itemToItemScorer, keepTopNeighbours } from '../interaction-matrix.ts';
import type { Interaction, Scorer } from '../types.ts';

export interface ItemKnnOptions {
  readonly items?: readonly string[];
  /** Keep, for each target item, only its k most similar items; default all neighbours. */
  readonly neighbours?: number;
}

/** Cosine on binary interaction vectors: S_ij = C_ij / sqrt(C_ii · C_jj), diagonal zero. */
export function trainItemKnn(train: readonly Interaction[], options: ItemKnnOptions = {}): Scorer {
  const x = buildInteractionMatrix(train, options.items ? { items: options.items } : {});
  const n = x.items.length;
  const s = cooccurrence(x);
  const norm = Float64Array.from({ length: n }, (_, i) => Math.sqrt(s[i * n + i]!));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const v = s[i * n + j]!;
      s[i * n + j] = i === j || v === 0 ? 0 : v / (norm[i]! * norm[j]!);
    }
  }
  if (options.neighbours !== undefined) keepTopNeighbours(s, n, options.neighbours);
  return itemToItemScorer(x, s, () => 1);
}
