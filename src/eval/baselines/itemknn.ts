/** @module Item-kNN: cosine similarity between items' user vectors; a user's score sums the similarities to their items. */
import { buildInteractionMatrix, cooccurrence, itemToItemScorer } from '../interaction-matrix.ts';
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
  const k = options.neighbours;
  if (k !== undefined && k < n) {
    // S is symmetric: column j holds target j's similarities; zero all but its k largest.
    const col = new Float64Array(n);
    for (let j = 0; j < n; j++) {
      for (let i = 0; i < n; i++) col[i] = s[i * n + j]!;
      const threshold = k <= 0 ? Infinity : Float64Array.from(col).sort().reverse()[k - 1]!;
      let greater = 0;
      for (let i = 0; i < n; i++) if (col[i]! > threshold) greater++;
      // Ties at the threshold fill the remaining places in item order.
      let ties = k - greater;
      for (let i = 0; i < n; i++) {
        if (col[i]! > threshold) continue;
        if (col[i]! === threshold && ties > 0) ties--;
        else s[i * n + j] = 0;
      }
    }
  }
  return itemToItemScorer(x, s, () => 1);
}
