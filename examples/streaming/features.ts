/**
 * The demo's feature set for a streaming service: long- vs short-term taste, completion-weighted
 * genre affinity, negative signals, session and context features, item popularity and trend, and
 * request-time crosses. `recsignal features --features examples/streaming/features.ts` lists it.
 */
import { agg, aggregationView, defineFeatureSet, entity, lookupView, negatives, requestFeature, sessionView } from 'recsignal';

const user = entity('user', ['user_id']);
const item = entity('item', ['item_id']);
const userItem = entity('user_item', ['user_id', 'item_id']);
const userDevice = entity('user_device', ['user_id', 'device']);
const userDaypart = entity('user_daypart', ['user_id', 'hour_bucket']);

export default defineFeatureSet({
  name: 'streaming_demo',
  // Signal strength: a completion says more than a play; a skip is a negative.
  weights: { complete: 3, play: 1, add_to_list: 2, rating: 1, skip: -1 },
  views: [
    aggregationView({
      name: 'user_engagement',
      entity: user,
      description: 'How much and how well a user watches, short- and long-term.',
      aggregations: [
        agg.count({ types: ['play'], windows: ['1d', '7d', '30d', 'lifetime'] }),
        agg.count({ types: ['complete'], windows: ['7d', '30d'] }),
        agg.count({ types: ['skip'], windows: ['7d'] }),
        agg.count({ types: ['search'], windows: ['7d'] }),
        agg.mean('watch_fraction', { types: ['pause', 'complete'], windows: ['7d', '30d'] }),
        agg.stddev('watch_fraction', { types: ['pause', 'complete'], windows: ['30d'] }),
        agg.sum('value', { types: ['pause', 'complete'], windows: ['7d'], name: 'seconds_watched_7d' }),
        // Short- vs long-term activity: the same signal with a one-day and a thirty-day half-life.
        agg.decayedSum('weight', '1d', { name: 'engagement_short' }),
        agg.decayedSum('weight', '30d', { name: 'engagement_long' }),
        agg.countDistinct('item_id', { types: ['play'], windows: ['30d'] }),
        agg.lastK('item_id', 10, { types: ['play'], name: 'recent_plays' }),
        agg.last('device', { name: 'last_device' }),
        agg.first('type', { name: 'first_event_type' }),
        agg.ratio('complete_count_30d', 'play_count_30d', { name: 'completion_rate_30d' }),
      ],
    }),
    aggregationView({
      name: 'user_genre_taste',
      entity: user,
      via: { table: 'items', column: 'genres', as: 'genre' },
      description: 'Completion-weighted genre affinity, long-term and recent.',
      aggregations: [
        agg.histogram('genre', { weight: 'weight', name: 'genre_affinity' }),
        agg.topK('genre', 3, { weight: 'weight', windows: ['7d'], name: 'top_genres' }),
      ],
    }),
    aggregationView({
      name: 'user_negatives',
      entity: user,
      stream: negatives.impressionNotPlayed({ within: '10m' }),
      description: 'Impressions the user did not play within ten minutes.',
      aggregations: [agg.count({ windows: ['1d', '7d'], name: 'ignored' }), agg.lastK('item_id', 20, { name: 'recently_ignored' })],
    }),
    aggregationView({
      name: 'user_abandons',
      entity: user,
      stream: negatives.abandoned({ below: 0.2 }),
      description: 'Playbacks stopped before a fifth of the item.',
      aggregations: [agg.count({ windows: ['7d', '30d'], name: 'abandons' })],
    }),
    sessionView({ name: 'user_session', entity: user, gap: '30m' }),
    aggregationView({ name: 'user_device', entity: userDevice, aggregations: [agg.count({ types: ['play'], windows: ['30d'] })] }),
    aggregationView({ name: 'user_daypart', entity: userDaypart, aggregations: [agg.count({ types: ['play'], windows: ['30d'] })] }),
    aggregationView({
      name: 'item_popularity',
      entity: item,
      description: 'Popularity and trend: short window over long window.',
      aggregations: [
        agg.count({ types: ['play'], windows: ['1d', '7d', '30d'] }),
        agg.count({ types: ['impression'], windows: ['7d'] }),
        agg.count({ types: ['complete'], windows: ['7d'] }),
        agg.countDistinct('user_id', { types: ['play'], windows: ['7d'] }),
        agg.mean('watch_fraction', { types: ['pause', 'complete'], windows: ['30d'] }),
        agg.ratio('play_count_7d', 'impression_count_7d', { name: 'play_rate_7d' }),
        agg.ratio('play_count_1d', 'play_count_30d', { name: 'trend_1d_30d' }),
      ],
    }),
    aggregationView({
      name: 'user_item',
      entity: userItem,
      description: 'What this user did with this item: continue-watching and fatigue.',
      aggregations: [
        agg.count({ types: ['play'], name: 'plays' }),
        agg.count({ types: ['impression'], windows: ['7d'], name: 'impressions_7d' }),
        agg.last('watch_fraction', { types: ['pause', 'complete'], name: 'last_watch_fraction' }),
      ],
    }),
    lookupView({ name: 'item_meta', entity: item, table: 'items', columns: ['genres', 'year', 'duration', 'release_ts'] }),
    lookupView({ name: 'user_meta', entity: entity('user', ['user_id']), table: 'users', columns: ['country'] }),
  ],
  requestFeatures: [
    requestFeature({
      name: 'genre_match',
      type: 'float',
      description: "The user's completion-weighted affinity to this item's genres.",
      inputs: { taste: 'user_genre_taste:genre_affinity', genres: 'item_meta:genres' },
      // Runs once per candidate when serving (hundreds per request): plain loops, no arrays made.
      fn: ({ taste, genres }) => {
        const t = (taste ?? {}) as Record<string, number>;
        let total = 0;
        for (const g in t) total += Math.max(0, t[g] as number);
        if (total === 0) return 0;
        const gs = (genres ?? []) as string[];
        let match = 0;
        for (let i = 0; i < gs.length; i++) match += Math.max(0, t[gs[i] as string] ?? 0);
        return match / total;
      },
    }),
    requestFeature({
      name: 'item_age_days',
      type: 'float',
      description: 'Days since the item was released, at request time (cold start).',
      inputs: { release: 'item_meta:release_ts', now: 'request:ts' },
      fn: ({ release, now }) => (release === null ? null : ((now as number) - (release as number)) / 86_400_000),
    }),
    requestFeature({
      name: 'recently_ignored_item',
      type: 'int',
      description: 'Whether the user ignored this item recently (a negative signal).',
      inputs: { ignored: 'user_negatives:recently_ignored', item: 'request:item_id' },
      fn: ({ ignored, item }) => (((ignored ?? []) as string[]).includes(String(item)) ? 1 : 0),
    }),
  ],
});
