/**
 * Two "impression not played" views whose play types differ keep their plays apart: a play of one
 * view's types answers none of the other's impressions, whichever arrives first.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { agg, aggregationView, defineFeatureSet, entity, negatives } from '../../features/dsl.ts';
import { compileFeatureSet } from '../../plan/compile.ts';
import type { InteractionEvent } from '../../events/schema.ts';
import { referenceFeatures } from '../reference/reference.ts';
import { StreamEngine } from './engine.ts';
import { applyBatch, readStoredFeatures } from './store-backed.ts';

const MIN = 60_000;
const T0 = Date.UTC(2024, 0, 1);
const user = entity('user', ['user_id']);
const compiled = compileFeatureSet(
  defineFeatureSet({
    name: 'two_negatives',
    views: [
      aggregationView({ name: 'not_played', entity: user, stream: negatives.impressionNotPlayed({ within: '10m' }), aggregations: [agg.count({ name: 'ignored' })] }),
      aggregationView({ name: 'not_completed', entity: user, stream: negatives.impressionNotPlayed({ within: '10m', playTypes: ['complete'] }), aggregations: [agg.count({ name: 'ignored' })] }),
    ],
  }),
);

function event(eventId: string, type: string, ts: number): InteractionEvent {
  return { eventId, userId: 'u', itemId: 'i', ts, type, value: null, duration: null, context: {} };
}

test('a play of other play types answers no impression, whether it arrives before or after it', () => {
  const impression = event('imp', 'impression', T0);
  const complete = event('done', 'complete', T0 + 5 * MIN);
  const play = event('play', 'play', T0 + 6 * MIN);
  const t = T0 + 11 * MIN;
  const want = referenceFeatures(compiled, { events: [impression, complete, play] }, [{ fields: { user_id: 'u' }, ts: t }])[0];
  // Each view's impression is answered by its own play type only: both views count nothing here...
  assert.deepEqual(want, [0, 0]);
  const wantWithoutPlay = referenceFeatures(compiled, { events: [impression, complete] }, [{ fields: { user_id: 'u' }, ts: t }])[0];
  // ...and without the play, the complete answers only the view that waits for completions.
  assert.deepEqual(wantWithoutPlay, [1, 0]);
  for (const [events, expected] of [
    [[impression, complete, play], want],
    [[complete, play, impression], want],
    [[impression, complete], wantWithoutPlay],
    [[complete, impression], wantWithoutPlay],
  ] as const) {
    const engine = new StreamEngine(compiled, { lateness: 10 * MIN });
    for (const e of events) assert.equal(engine.apply(e), 'applied');
    assert.deepEqual(engine.features({ user_id: 'u' }, t), expected, `arrival order ${events.map((e) => e.type).join(', ')}`);
  }
});

test('the stored layout (Redis) keeps plays by set of play types too: a play stored by an earlier batch answers only its own views', async () => {
  const store = new Map<string, string>();
  const read = async (keys: readonly string[]) => keys.map((k) => store.get(k) ?? null);
  const o = { compiled, namespace: 'test', lateness: 10 * MIN };
  const impression = event('imp', 'impression', T0);
  const complete = event('done', 'complete', T0 + 5 * MIN);
  let own: number | null = null;
  // The completion first, in a batch of its own; the impression it answers later, in the next.
  for (const batch of [[complete], [impression]]) {
    const r = await applyBatch(o, batch, read, { own, others: null });
    for (const w of r.writes) (w.value === null ? store.delete(w.key) : store.set(w.key, w.value));
    own = r.watermark;
  }
  const t = T0 + 11 * MIN;
  const [got] = await readStoredFeatures(o, [{ fields: { user_id: 'u' }, ts: t }], read);
  assert.deepEqual(got, referenceFeatures(compiled, { events: [impression, complete] }, [{ fields: { user_id: 'u' }, ts: t }])[0]);
  assert.deepEqual(got, [1, 0]);
});
