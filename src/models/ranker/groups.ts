/** @module The ranker's feature groups, by column name: what the ablation leaves out one at a time. */

export const FEATURE_GROUPS = ['base-model scores', 'embeddings', 'user temporal', 'item popularity', 'metadata', 'crosses'] as const;
export type FeatureGroup = (typeof FEATURE_GROUPS)[number];

const BASE = ['ease_', 'itemknn_', 'userknn_', 'sar_', 'popularity_'];

/** The group of a feature column (stacking, embedding, recsignal view, or request-time cross). */
export function groupOf(name: string): FeatureGroup {
  if (name.startsWith('als_') || name.startsWith('emb_')) return 'embeddings';
  if (BASE.some((b) => name.startsWith(b))) return 'base-model scores';
  if (name.startsWith('user_ratings__') || name.startsWith('user_genres__')) return 'user temporal';
  if (name.startsWith('item_ratings__') || name.startsWith('demo_')) return 'item popularity';
  if (name.startsWith('item_meta__') || name.startsWith('user_meta__')) return 'metadata';
  return 'crosses';
}
