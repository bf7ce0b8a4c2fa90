import { test } from 'node:test';
import assert from 'node:assert/strict';
import { agg, aggregationView, defineFeatureSet, entity, lookupView, negatives, requestFeature, sessionView } from '../features/dsl.ts';
import { RecsignalError } from '../core/errors.ts';
import { compileFeatureSet, defaultHop } from './compile.ts';
import { featureColumns } from './rows.ts';

const user = entity('user', ['user_id']);
const item = entity('item', ['item_id']);

function set(description = 'plays') {
  return defineFeatureSet({
    name: 'demo',
    weights: { complete: 3, play: 1 },
    views: [
      aggregationView({
        name: 'user_plays',
        entity: user,
        description,
        aggregations: [
          agg.count({ types: ['play'], windows: ['7d', 'lifetime'] }),
          agg.mean('watch_fraction', { types: ['pause', 'complete'], windows: ['30d'] }),
          agg.decayedSum('weight', '1d'),
          agg.lastK('item_id', 5, { types: ['play'] }),
          agg.histogram('genre', { weight: 'weight' }),
          agg.ratio('play_count_7d', 'play_count_lifetime', { name: 'recent_share' }),
        ],
        via: { table: 'items', column: 'genres', as: 'genre' },
      }),
      sessionView({ name: 'session', entity: user }),
      lookupView({ name: 'item_meta', entity: item, table: 'items', columns: ['genres', 'year'] }),
    ],
    requestFeatures: [requestFeature({ name: 'x', type: 'float', inputs: { a: 'user_plays:play_count_7d', t: 'request:ts' }, fn: ({ a }) => Number(a) })],
  });
}

test('outputs are named from the definition: input, op, window', () => {
  const c = compileFeatureSet(set());
  const names = featureColumns(c.ir).map((f) => f.ref);
  assert.deepEqual(names, [
    'user_plays:play_count_7d',
    'user_plays:play_count_lifetime',
    'user_plays:pause_complete_watch_fraction_mean_30d',
    'user_plays:weight_decayed_sum_hl1d_lifetime',
    'user_plays:play_item_id_last5_lifetime',
    'user_plays:genre_weight_histogram_lifetime',
    'user_plays:recent_share',
    'session:session_event_count',
    'session:session_item_count',
    'session:session_length_ms',
    'session:session_age_ms',
    'item_meta:genres',
    'item_meta:year',
    'request_features:x',
  ]);
});

test('the IR is frozen plain data with windows, hops, types and defaults filled', () => {
  const c = compileFeatureSet(set());
  assert.ok(Object.isFrozen(c.ir) && Object.isFrozen(c.ir.views[0]));
  const v = c.ir.views[0];
  assert.equal(v?.kind, 'aggregation');
  if (v?.kind !== 'aggregation') return;
  const a = v.aggregations[0];
  assert.deepEqual(a?.window, { kind: 'sliding', lengthMs: 7 * 86_400_000, hopMs: 3_600_000 });
  assert.equal(a?.type, 'int');
  assert.equal(a?.default, 0);
  assert.equal(v.aggregations[2]?.default, null);
  assert.deepEqual(v.aggregations[4]?.default, []);
  assert.equal(JSON.stringify(JSON.parse(JSON.stringify(c.ir))), JSON.stringify(c.ir));
  assert.throws(() => {
    (c.ir.views as unknown as unknown[]).push({});
  });
});

test('the semantic hash ignores descriptions and follows every semantic change', () => {
  const a = compileFeatureSet(set('plays'));
  const b = compileFeatureSet(set('how much a user plays'));
  assert.equal(a.hash, b.hash);
  assert.equal(a.viewHashes['user_plays'], b.viewHashes['user_plays']);
  const changed = compileFeatureSet(
    defineFeatureSet({ name: 'demo', weights: { complete: 3, play: 1 }, views: [aggregationView({ name: 'user_plays', entity: user, aggregations: [agg.count({ types: ['play'], windows: [{ length: '7d', hop: '1d' }] })] })] }),
  );
  const original = compileFeatureSet(
    defineFeatureSet({ name: 'demo', weights: { complete: 3, play: 1 }, views: [aggregationView({ name: 'user_plays', entity: user, aggregations: [agg.count({ types: ['play'], windows: ['7d'] })] })] }),
  );
  assert.notEqual(changed.viewHashes['user_plays'], original.viewHashes['user_plays']);
  assert.equal(changed.ir.views[0]?.kind === 'aggregation' && changed.ir.views[0].aggregations[0]?.name, 'play_count_7d');
});

test('Chronon hop resolution: 5m below 12h, 1h below 12d, else 1d', () => {
  assert.equal(defaultHop(3_600_000), 300_000);
  assert.equal(defaultHop(86_400_000), 3_600_000);
  assert.equal(defaultHop(30 * 86_400_000), 86_400_000);
});

test('an invalid definition is rejected with every problem, each with its path and fix', () => {
  const bad = defineFeatureSet({
    name: 'Bad Name',
    weights: { clik: 1 },
    views: [
      aggregationView({
        name: 'v',
        entity: entity('user', ['usr_id']),
        aggregations: [
          agg.mean('item_id'),
          agg.count({ types: ['plya'], windows: ['7 days'] }),
          agg.lastK('item_id', 0),
          agg.decayedSum('weight', 'soon'),
          agg.ratio('nope', 'event_count_lifetime'),
        ],
      }),
      aggregationView({ name: 'v', entity: user, stream: negatives.abandoned({ below: 2 }), aggregations: [agg.count(), agg.count()] }),
      sessionView({ name: 's', entity: item }),
      lookupView({ name: 'l', entity: item, table: 'items', columns: ['colour'] }),
    ],
    requestFeatures: [requestFeature({ name: 'r', type: 'float', inputs: { a: 'v:missing' }, fn: () => 1 })],
  });
  let error: RecsignalError | undefined;
  try {
    compileFeatureSet(bad);
  } catch (e) {
    error = e as RecsignalError;
  }
  assert.ok(error instanceof RecsignalError);
  assert.equal(error.code, 'INVALID_DEFINITION');
  const paths = error.problems.map((p) => p.path);
  for (const expected of [
    'name',
    'weights.clik',
    'views[0](v).entity.keys[0]',
    'views[0](v).aggregations[0].input',
    'views[0](v).aggregations[1].types',
    'views[0](v).aggregations[1].windows[0]',
    'views[0](v).aggregations[2].k',
    'views[0](v).aggregations[3].halfLife',
    'views[0](v).aggregations(nope_per_event_count_lifetime)',
    'views[1](v).name',
    'views[1](v).stream.below',
    'views[1](v).aggregations',
    'views[2](s).entity',
    'views[3](l).columns[0]',
    'requestFeatures[0].inputs.a',
  ]) {
    assert.ok(paths.includes(expected), `expected a problem at ${expected}; got ${paths.join(', ')}`);
  }
  for (const p of error.problems) assert.ok(p.fix.length > 0, `${p.path} has a fix`);
  assert.match(error.message, /fix: /);
});

test("a where on a numeric column takes numbers written plainly: '00' would match 0 in SQL and not in the stream engine", () => {
  const define = (where: Record<string, readonly (string | number)[]>) =>
    compileFeatureSet(defineFeatureSet({ name: 'w', views: [aggregationView({ name: 'u', entity: entity('user', ['user_id']), aggregations: [agg.count({ where })] })] }));
  assert.doesNotThrow(() => define({ hour_of_day: [0, '7', 23] }));
  assert.throws(() => define({ hour_of_day: ['00', 'x'] }), (e: unknown) => e instanceof RecsignalError && /where\.hour_of_day.*'hour_of_day' holds numbers; "00", "x" are not one written plainly/.test(e.message));
});

function problemsOf(def: ReturnType<typeof defineFeatureSet>): { path: string; message: string; fix: string }[] {
  try {
    compileFeatureSet(def);
  } catch (e) {
    assert.ok(e instanceof RecsignalError, String(e));
    assert.equal(e.code, 'INVALID_DEFINITION');
    return e.problems.map((p) => ({ path: p.path, message: p.message, fix: p.fix }));
  }
  return [];
}

test('definitions that compiled and then gave wrong columns, nulls, zeros or DuckDB errors are refused, each naming the fix', () => {
  const count = agg.count({ windows: ['7d'] });
  const found = problemsOf(
    defineFeatureSet({
      name: 'bad',
      extraTypes: ['play', 'Thumbs Up', 'thumbs_up', 'thumbs_up'],
      views: [
        // a + b__c and a__b + c both make the column a__b__c (DuckDB renamed one a__b__c_1).
        aggregationView({ name: 'a', entity: user, aggregations: [agg.count({ name: 'b__c' })] }),
        aggregationView({ name: 'a__b', entity: user, aggregations: [agg.count({ name: 'c' })] }),
        // Derived rows keep the impression's type: a filter on plays is always 0.
        aggregationView({ name: 'ignored', entity: user, stream: negatives.impressionNotPlayed({ within: '10m' }), aggregations: [agg.count({ types: ['play'] })] }),
        // Defaults of another type: a DuckDB conversion error at backfill time.
        aggregationView({ name: 'defaults', entity: user, aggregations: [agg.count({ default: 'zero' as unknown as number }), agg.lastK('item_id', 3, { default: 5 as unknown as string[] })] }),
        lookupView({ name: 'meta', entity: item, table: 'items', columns: ['year'], defaults: { year: 'unknown' as unknown as number } }),
        // One key twice; one entity name with two key sets.
        aggregationView({ name: 'twice', entity: entity('pair', ['user_id', 'user_id']), aggregations: [count] }),
        aggregationView({ name: 'items_as_user', entity: entity('user', ['item_id']), aggregations: [count] }),
        aggregationView({ name: 'odd_entity', entity: entity('User Name!', ['user_id']), aggregations: [count] }),
      ],
      requestFeatures: [
        requestFeature({ name: 'a__b__c_x', type: 'integer' as unknown as 'int', inputs: {}, fn: () => 1 }),
        requestFeature({ name: 'x', type: 'float', inputs: { n: 42 as unknown as string }, fn: () => 1 }),
        requestFeature({ name: 'y', type: 'float', inputs: { x: 'request:x' }, fn: () => 1 }),
        requestFeature({ name: 'z', type: 'int', default: 'none' as unknown as number, inputs: {}, fn: () => 1 }),
        requestFeature({ name: 'a__b__c', type: 'int', inputs: {}, fn: () => 1 }),
      ],
    }),
  );
  const at = (path: string, text: RegExp) => assert.ok(found.some((p) => p.path === path && text.test(p.message) && p.fix.length > 0), `no problem at ${path} matching ${text}; got ${JSON.stringify(found.map((p) => `${p.path}: ${p.message}`), null, 1)}`);
  at('extraTypes[0]', /built-in/);
  at('extraTypes[1]', /not a valid event type/);
  at('extraTypes[3]', /twice/);
  at('views(a__b).c', /a:b__c and a__b:c both make the column 'a__b__c'|a__b:c and a:b__c/);
  at('requestFeatures[4](a__b__c).name', /both make the column 'a__b__c'/);
  at('views[2](ignored).aggregations(play_count_lifetime).types', /'play' never occurs/);
  at('views[3](defaults).aggregations[0].default', /"zero" is not a value of the feature's type int/);
  at('views[3](defaults).aggregations[1].default', /5 is not a value of the feature's type string\[\]/);
  at('views[4](meta).defaults.year', /"unknown" is not a value of the feature's type int/);
  at('views[5](twice).entity.keys', /'user_id' is listed twice/);
  at('views[6](items_as_user).entity', /entity 'user' is keyed by item_id here and by user_id/);
  at('views[7](odd_entity).entity', /not a valid entity name/);
  at('requestFeatures[0].type', /'integer' is not a feature type/);
  at('requestFeatures[1].inputs.n', /42 is not a ref/);
  at('requestFeatures[2].inputs.x', /names the request feature 'x'/);
  at('requestFeatures[3].default', /"none" is not a value of the feature's type int/);
});

test('definitions of the wrong shape are problems, not stack traces; a bad window is not also reported as no aggregations', () => {
  const shapes = problemsOf({ ...defineFeatureSet({ name: 'shapes', views: [aggregationView({ name: 'v', entity: user, aggregations: [agg.count()] })] }), views: { a: 1 } as never });
  assert.deepEqual(shapes.map((p) => p.path), ['views']);
  const windows = problemsOf(defineFeatureSet({ name: 'w', views: [aggregationView({ name: 'v', entity: user, aggregations: [agg.count({ windows: [{ length: '1h', hop: '1d' }] })] })] }));
  assert.deepEqual(windows.map((p) => p.path), ['views[0](v).aggregations[0].windows[0].hop']);
  // A window shorter than its default hop (5 minutes) hops by its own length instead of failing.
  const short = compileFeatureSet(defineFeatureSet({ name: 'short', views: [aggregationView({ name: 'v', entity: user, aggregations: [agg.count({ windows: ['1m'] })] })] }));
  const a = (short.ir.views[0] as { aggregations: readonly { window: unknown }[] }).aggregations[0];
  assert.deepEqual(a?.window, { kind: 'sliding', lengthMs: 60_000, hopMs: 60_000 });
});
