import assert from 'node:assert/strict';
import { test } from 'node:test';
import { agg, aggregationView, defineFeatureSet, embeddingView, entity, lookupView, requestFeature } from '../features/dsl.ts';
import { compileFeatureSet } from '../plan/compile.ts';
import { servingPlan } from './plan.ts';

test('serving plan: only what lives in the online store is stateful; a cross over embedding vectors or metadata alone is computed whatever the store does', () => {
  const user = entity('user', ['user_id']);
  const item = entity('item', ['item_id']);
  const plan = servingPlan(
    compileFeatureSet(
      defineFeatureSet({
        name: 'plan_stateful',
        views: [
          embeddingView({ name: 'user_als', entity: user, table: 'als_users', dims: 2 }),
          embeddingView({ name: 'item_als', entity: item, table: 'als_items', dims: 2 }),
          aggregationView({ name: 'plays', entity: user, aggregations: [agg.count({ name: 'n' })] }),
          lookupView({ name: 'meta', entity: item, table: 'items', columns: ['year'] }),
        ],
        requestFeatures: [
          requestFeature({ name: 'affinity', type: 'float', inputs: { u: 'user_als:vector', i: 'item_als:vector' }, fn: () => 0 }),
          requestFeature({ name: 'old', type: 'int', inputs: { y: 'meta:year' }, fn: () => 0 }),
          requestFeature({ name: 'busy', type: 'int', inputs: { n: 'plays:n', u: 'user_als:vector' }, fn: () => 0 }),
        ],
      }),
    ),
  );
  const stateful = Object.fromEntries([...plan.refs].map(([ref, r]) => [ref, r.stateful]));
  assert.deepEqual(stateful, {
    'user_als:vector': false,
    'item_als:vector': false,
    'plays:n': true,
    'meta:year': false,
    'request_features:affinity': false,
    'request_features:old': false,
    'request_features:busy': true,
  });
  // Embedding views keep their event times (versions, STALE).
  assert.equal(plan.byView.get('user_als')?.timed, true);
});
