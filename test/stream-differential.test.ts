/**
 * The stream engine must equal the reference aggregator on generated streams: events arrive out of
 * order within the allowed lateness, retransmitted duplicates are dropped, state is folded into
 * tiles as the watermark moves, and every probe is read once all events before its time arrived.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compileFeatureSet } from '../src/plan/compile.ts';
import { featureColumns } from '../src/plan/rows.ts';
import { referenceFeatures } from '../src/compute/reference/reference.ts';
import { StreamEngine } from '../src/compute/stream/engine.ts';
import type { InteractionEvent } from '../src/events/schema.ts';
import allOps from './fixtures/all-ops.ts';
import { assertFeatureRowsEqual } from './helpers/compare.ts';
import { assertProperty, BASE, eventArb, HOUR, items, queryArb, runs, toEvent } from './helpers/streams.ts';

const compiled = compileFeatureSet(allOps);
const columns = featureColumns(compiled.ir).map((c) => c.column);

const caseArb = fc.array(eventArb, { minLength: 0, maxLength: 40 }).chain((raw) =>
  fc.record({
    raw: fc.constant(raw),
    lateness: fc.constantFrom(0, 60_000, HOUR, 3 * HOUR),
    jitter: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: raw.length, maxLength: raw.length }),
    retransmit: fc.array(fc.nat(), { maxLength: 4 }),
    // Snapshot the engine after this many events and continue in a fresh one restored from it.
    restartAt: fc.nat({ max: 45 }),
    queries: fc.array(queryArb(raw), { minLength: 1, maxLength: 12 }),
  }),
);

test('stream engine equals the reference aggregator: late, duplicate and out-of-order events, folded tiles', async () => {
  await assertProperty(() =>
    fc.assert(
      fc.property(caseArb, ({ raw, lateness, jitter, retransmit, restartAt, queries }) => {
        const events = raw.map(toEvent);
        // Arrival: by time plus a delay of at most the lateness, so no event is too late to count.
        const arrivals = events.map((e, i) => ({ e, at: e.ts + Math.floor((jitter[i] ?? 0) * lateness) }));
        for (const r of retransmit) {
          if (events.length === 0) break;
          const original = events[r % events.length] as InteractionEvent;
          arrivals.push({ e: { ...original }, at: original.ts + lateness });
        }
        arrivals.sort((x, y) => x.at - y.at);
        const arrival = arrivals.map((a) => a.e);

        let engine = new StreamEngine(compiled, { lateness, items, foldEvery: 1, foldBatch: 1 });
        const probes = queries.map((q, i) => ({ i, fields: { user_id: q.user, item_id: q.item, device: q.device }, ts: BASE + q.off })).sort((a, b) => a.ts - b.ts);
        const actual: unknown[][] = new Array(probes.length);
        let p = 0;
        const answer = (upTo: number) => {
          while (p < probes.length && (probes[p] as { ts: number }).ts <= upTo) {
            const probe = probes[p++] as (typeof probes)[number];
            actual[probe.i] = engine.features(probe.fields, probe.ts);
          }
        };
        for (const [n, e] of arrival.entries()) {
          if (n === restartAt) {
            const restored = new StreamEngine(compiled, { lateness, items, foldEvery: 1, foldBatch: 1 });
            restored.restore(JSON.parse(JSON.stringify(engine.snapshot())));
            engine = restored;
          }
          // Compacting (as a server does after its bulk load) changes no value, then or later.
          if (n % 5 === 2) engine.compact();
          answer(Math.max(engine.watermark, e.ts) - lateness);
          const outcome = engine.apply(e);
          assert.notEqual(outcome, 'late', `event ${e.eventId} at ${e.ts} arrived within the lateness`);
        }
        answer(Infinity);
        assert.equal(engine.counts.applied, events.length);
        assert.equal(engine.counts.duplicates, arrival.length - events.length);

        const qs = queries.map((q) => ({ fields: { user_id: q.user, item_id: q.item, device: q.device }, ts: BASE + q.off }));
        const expected = referenceFeatures(compiled, { events: arrival, items }, qs);
        assertFeatureRowsEqual(actual as never, expected, columns, qs);
      }),
      runs(400),
    ),
  );
});

test('an event later than the allowed lateness is refused and counted; a duplicate id is dropped', () => {
  const engine = new StreamEngine(compiled, { lateness: 60_000 });
  const e = (id: string, ts: number): InteractionEvent => ({ eventId: id, userId: 'u1', itemId: 'i1', ts, type: 'play', value: null, duration: null, context: {} });
  assert.equal(engine.apply(e('a', BASE + HOUR)), 'applied');
  assert.equal(engine.apply(e('b', BASE + HOUR - 60_000)), 'applied');
  assert.equal(engine.apply(e('c', BASE + HOUR - 60_001)), 'late');
  assert.equal(engine.apply(e('a', BASE + HOUR)), 'duplicate');
  assert.deepEqual(engine.counts, { applied: 2, duplicates: 1, late: 1 });
  const col = featureColumns(compiled.ir).findIndex((c) => c.column === 'u__play_count_lifetime');
  assert.equal(engine.features({ user_id: 'u1' }, BASE + 2 * HOUR)[col], 2);
});
