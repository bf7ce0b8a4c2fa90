import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defineFeatureSet, entity, sessionView } from '../../features/dsl.ts';
import type { InteractionEvent } from '../../events/schema.ts';
import { compileFeatureSet } from '../../plan/compile.ts';
import { referenceFeatures } from '../reference/reference.ts';
import { StreamEngine } from './engine.ts';

const MIN = 60_000;
const T0 = Date.UTC(2024, 0, 1);
const compiled = compileFeatureSet(defineFeatureSet({ name: 'sessions', views: [sessionView({ name: 's', entity: entity('user', ['user_id']), gap: '30m' })] }));

test('a session read before the sweep is refused, as an aggregation read before its fold is; from the horizon on it is exact', () => {
  const events: InteractionEvent[] = [0, 10, 300, 301].map((m, i) => ({ eventId: `e${i}`, userId: 'u', itemId: `i${i}`, ts: T0 + m * MIN, type: 'play', value: null, duration: null, context: {} }));
  const engine = new StreamEngine(compiled, { lateness: 0, foldEvery: 1 });
  for (const e of events) engine.apply(e);
  assert.throws(() => engine.features({ user_id: 'u' }, T0 + 15 * MIN), RangeError, 'the session open at 15m was swept: it would read as none');
  const t = T0 + 302 * MIN;
  assert.deepEqual(engine.features({ user_id: 'u' }, t), referenceFeatures(compiled, { events }, [{ fields: { user_id: 'u' }, ts: t }])[0]);
  assert.deepEqual(engine.features({ user_id: 'u' }, t).slice(0, 2), [2, 2]);
});
