/**
 * @module SAR (Microsoft Recommenders `sar_singlenode.py`): item-item similarity from binary
 * co-occurrence, user affinity from time-decayed ratings, score = affinity · similarity.
 */
import { DAY_MS } from '../../core/time.ts';
import { buildInteractionMatrix, cooccurrence, itemToItemScorer } from '../interaction-matrix.ts';
import type { Interaction, Scorer } from '../types.ts';

export type SarSimilarity = 'jaccard' | 'cooccurrence' | 'lift';

export interface SarOptions {
  readonly items?: readonly string[];
  /** Default 'jaccard': C_ij / (C_ii + C_jj − C_ij). */
  readonly similarity?: SarSimilarity;
  /** Half-life of the affinity decay; default 30 days. `Infinity` turns decay off. */
  readonly halfLifeMs?: number;
  /** "Now" of the decay; default the latest training timestamp. */
  readonly now?: number;
}

/** Fits SAR on the training interactions (ratings are the affinity weights). */
export function trainSar(train: readonly Interaction[], options: SarOptions = {}): Scorer {
  const halfLife = options.halfLifeMs ?? 30 * DAY_MS;
  let now = options.now ?? -Infinity;
  if (options.now === undefined) for (const r of train) now = Math.max(now, r.ts);
  const affinity = buildInteractionMatrix(train, {
    ...(options.items ? { items: options.items } : {}),
    weight: (r) => r.rating * 0.5 ** ((now - r.ts) / halfLife),
  });
  const n = affinity.items.length;
  const c = cooccurrence(affinity);
  const kind = options.similarity ?? 'jaccard';
  if (kind !== 'cooccurrence') {
    const diag = Float64Array.from({ length: n }, (_, i) => c[i * n + i]!);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const v = c[i * n + j]!;
        if (v === 0) continue;
        c[i * n + j] = kind === 'jaccard' ? v / (diag[i]! + diag[j]! - v) : v / (diag[i]! * diag[j]!);
      }
    }
  }
  return itemToItemScorer(affinity, c);
}
