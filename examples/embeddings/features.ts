import { agg, aggregationView, defineFeatureSet, embeddingView, entity, requestFeature } from 'recsignal';

const user = entity('user', ['user_id']);
const item = entity('item', ['item_id']);

/** Learned vectors as features: publish them with `recsignal embed --name als --factors 32`. */
export default defineFeatureSet({
  name: 'embeddings',
  weights: { play: 1, complete: 3, add_to_list: 2, skip: -1 },
  views: [
    embeddingView({ name: 'user_als', entity: user, table: 'als_users', dims: 32 }),
    embeddingView({ name: 'item_als', entity: item, table: 'als_items', dims: 32 }),
    aggregationView({ name: 'user_activity', entity: user, aggregations: [agg.count({ types: ['play'], windows: ['7d'] })] }),
  ],
  requestFeatures: [
    requestFeature({
      name: 'als_affinity',
      type: 'float',
      inputs: { u: 'user_als:vector', i: 'item_als:vector' },
      fn: ({ u, i }) => {
        if (!Array.isArray(u) || !Array.isArray(i)) return null;
        let dot = 0;
        for (let k = 0; k < u.length; k++) dot += (u[k] as number) * (i[k] as number);
        return dot;
      },
    }),
  ],
});
