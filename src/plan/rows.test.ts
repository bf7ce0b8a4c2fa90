import assert from 'node:assert/strict';
import { test } from 'node:test';
import { agg, aggregationView, defineFeatureSet, entity, requestFeature } from '../features/dsl.ts';
import type { FeatureValue } from '../features/ir.ts';
import { compileFeatureSet } from './compile.ts';
import { applyRequestFeatures } from './rows.ts';

const user = entity('user', ['user_id']);

test('a request function returning a value not of its declared type gets the default, counted: a string in an int column, 0.5 as an int', () => {
  const returned: { v: FeatureValue } = { v: null };
  const set = compileFeatureSet(
    defineFeatureSet({
      name: 'kinds',
      views: [aggregationView({ name: 'u', entity: user, aggregations: [agg.count()] })],
      requestFeatures: [
        requestFeature({ name: 'as_int', type: 'int', default: -1, inputs: { n: 'u:event_count_lifetime' }, fn: () => returned.v }),
        requestFeature({ name: 'as_list', type: 'string[]', default: [], inputs: { n: 'u:event_count_lifetime' }, fn: () => returned.v }),
      ],
    }),
  );
  const run = (v: FeatureValue) => {
    returned.v = v;
    const stats = { errors: 0, firstError: null as string | null };
    return { out: applyRequestFeatures(set, () => 1, {}, stats), stats };
  };
  assert.deepEqual(run(3).out, [3, [] /* 3 is no string[]: the default */]);
  assert.deepEqual(run(null).out, [null, null], 'null is a value of every type');
  assert.deepEqual(run(Number.NaN).stats.errors, 0, 'NaN (0/0) is the default, as before, not an error');
  const half = run(0.5);
  assert.deepEqual(half.out, [-1, []]);
  assert.equal(half.stats.errors, 2);
  assert.match(half.stats.firstError ?? '', /as_int: returned 0.5, not a value of its declared type int/);
  assert.deepEqual(run(['a', 'b']).out, [-1, ['a', 'b']]);
  assert.deepEqual(run('i1').out, [-1, []]);
});
