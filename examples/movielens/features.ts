/**
 * The MovieLens feature set the ranker (`recsignal evaluate --models ranker`) reads: a user's
 * rating volume, level and spread, recency, genre taste; an item's popularity, trend and rating;
 * item and user metadata; and request-time crosses between them.
 * `recsignal features --features examples/movielens/features.ts` lists it.
 */
import { agg, aggregationView, defineFeatureSet, entity, lookupView, requestFeature } from 'recsignal';

const user = entity('user', ['user_id']);
const item = entity('item', ['item_id']);
const rated = { types: ['rating'] };

type Histogram = Record<string, number>;
const share = (h: Histogram | null, genres: string[] | null): number => {
  const total = Object.values(h ?? {}).reduce((s, x) => s + x, 0);
  if (total === 0) return 0;
  return (genres ?? []).reduce((s, g) => s + (h?.[g] ?? 0), 0) / total;
};

export default defineFeatureSet({
  name: 'movielens',
  views: [
    aggregationView({
      name: 'user_ratings',
      entity: user,
      description: 'How much, how high and how recently a user rates.',
      aggregations: [
        agg.count({ ...rated, name: 'rating_count' }),
        agg.mean('value', { ...rated, name: 'rating_mean' }),
        agg.stddev('value', { ...rated, name: 'rating_stddev' }),
        agg.count({ ...rated, windows: ['1d', '7d', '30d'] }),
        // Short- and long-term activity: the recency of the user's ratings.
        agg.decayedCount('1d', { ...rated, name: 'activity_1d' }),
        agg.decayedCount('30d', { ...rated, name: 'activity_30d' }),
        agg.ratio('activity_1d', 'activity_30d', { name: 'recency' }),
      ],
    }),
    aggregationView({
      name: 'user_genres',
      entity: user,
      via: { table: 'items', column: 'genres', as: 'genre' },
      description: 'Genre taste: how often, and how highly, the user rates each genre.',
      aggregations: [
        agg.histogram('genre', { ...rated, name: 'genre_counts' }),
        agg.histogram('genre', { ...rated, weight: 'value', name: 'genre_rating_sum' }),
        agg.histogram('genre', { ...rated, windows: ['30d'], name: 'genre_counts_30d' }),
      ],
    }),
    aggregationView({
      name: 'item_ratings',
      entity: item,
      description: 'Popularity, trend and reception of an item.',
      aggregations: [
        agg.count({ ...rated, name: 'rating_count' }),
        agg.count({ ...rated, windows: ['7d', '30d'] }),
        agg.mean('value', { ...rated, name: 'rating_mean' }),
        agg.stddev('value', { ...rated, name: 'rating_stddev' }),
        agg.decayedCount('7d', { ...rated, name: 'popularity_7d' }),
        agg.decayedCount('30d', { ...rated, name: 'popularity_30d' }),
        agg.ratio('popularity_7d', 'popularity_30d', { name: 'trend' }),
      ],
    }),
    lookupView({ name: 'item_meta', entity: item, table: 'items', columns: ['genres', 'year'] }),
    lookupView({ name: 'user_meta', entity: user, table: 'users', columns: ['age', 'gender', 'occupation'] }),
  ],
  requestFeatures: [
    requestFeature({
      name: 'genre_match',
      type: 'float',
      description: "Share of the user's ratings in this item's genres.",
      inputs: { taste: 'user_genres:genre_counts', genres: 'item_meta:genres' },
      fn: ({ taste, genres }) => share(taste as Histogram | null, genres as string[] | null),
    }),
    requestFeature({
      name: 'genre_match_30d',
      type: 'float',
      description: "The same over the user's last 30 days: drifting taste.",
      inputs: { taste: 'user_genres:genre_counts_30d', genres: 'item_meta:genres' },
      fn: ({ taste, genres }) => share(taste as Histogram | null, genres as string[] | null),
    }),
    requestFeature({
      name: 'genre_rating',
      type: 'float',
      description: "The user's mean rating over this item's genres (null when they rated none).",
      inputs: { counts: 'user_genres:genre_counts', sums: 'user_genres:genre_rating_sum', genres: 'item_meta:genres' },
      fn: ({ counts, sums, genres }) => {
        let n = 0, s = 0;
        for (const g of (genres ?? []) as string[]) {
          n += (counts as Histogram | null)?.[g] ?? 0;
          s += (sums as Histogram | null)?.[g] ?? 0;
        }
        return n === 0 ? null : s / n;
      },
    }),
    requestFeature({
      name: 'age_at_release',
      type: 'float',
      description: "The user's age when the item came out: year distance between a viewer and a film.",
      inputs: { age: 'user_meta:age', year: 'item_meta:year', now: 'request:ts' },
      fn: ({ age, year, now }) => (age === null || year === null ? null : (age as number) - (new Date(now as number).getUTCFullYear() - (year as number))),
    }),
    requestFeature({
      name: 'rating_gap',
      type: 'float',
      description: "Item's mean rating minus the user's: does this item clear the user's usual bar.",
      inputs: { item: 'item_ratings:rating_mean', user: 'user_ratings:rating_mean' },
      fn: ({ item, user }) => (item === null || user === null ? null : (item as number) - (user as number)),
    }),
  ],
});
