import { agg, aggregationView, defineFeatureSet, entity, lookupView, negatives, requestFeature } from 'recsignal';

const user = entity('user', ['user_id']);
const item = entity('item', ['item_id']);

export default defineFeatureSet({
  name: 'quickstart',
  weights: { complete: 3, play: 1, skip: -1 },
  views: [
    aggregationView({
      name: 'user_activity',
      entity: user,
      aggregations: [
        agg.count({ types: ['play'], windows: ['1d', '7d'] }), // play_count_1d, play_count_7d
        agg.decayedSum('weight', '7d', { name: 'taste_strength' }), // Σ weight · 2^(−age / 7d)
        agg.lastK('item_id', 5, { types: ['play'], name: 'recent_plays' }),
      ],
    }),
    aggregationView({
      name: 'user_ignored',
      entity: user,
      stream: negatives.impressionNotPlayed({ within: '10m' }),
      aggregations: [agg.count({ windows: ['7d'], name: 'ignored_7d' })],
    }),
    aggregationView({ name: 'item_stats', entity: item, aggregations: [agg.count({ types: ['play'], windows: ['7d'] })] }),
    lookupView({ name: 'item_meta', entity: item, table: 'items', columns: ['genres'] }),
  ],
  requestFeatures: [
    requestFeature({
      name: 'seen_recently',
      type: 'int',
      inputs: { recent: 'user_activity:recent_plays', item: 'request:item_id' },
      fn: ({ recent, item }) => (((recent ?? []) as string[]).includes(String(item)) ? 1 : 0),
    }),
  ],
});
