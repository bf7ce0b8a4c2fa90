/**
 * `fetchFeatures` shares statuses and event-time rows among the candidates whose views read alike:
 * every row still says, ref by ref, what a read of that ref's view alone says (PRESENT, NOT_FOUND,
 * STALE, UNAVAILABLE for crosses over state when the store is down; the view's event time), for
 * generated requests.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { loadFeatureSet } from '../plan/load-features.ts';
import { generateEvents } from '../events/generate.ts';
import { featuresResponseJson, fetchFeatures, SharedTimes, type FeaturesResponse } from './fetch.ts';
import { OnlineState, type ReadSlots, type StateReader, type Status } from './online-state.ts';
import { selectRefs, servingPlan, type ViewPlan } from './plan.ts';

const DEMO = fileURLToPath(new URL('../../examples/streaming/features.ts', import.meta.url));
const HOUR = 3_600_000;

test('shared statuses and event-time rows say, ref by ref, what each view read says; store down: crosses over state UNAVAILABLE', async () => {
  const compiled = await loadFeatureSet(DEMO);
  const world = generateEvents({ users: 40, items: 80, days: 3, seed: 9 });
  const events = [...world.events()].sort((a, b) => a.ts - b.ts || (a.eventId < b.eventId ? -1 : 1));
  const plan = servingPlan(compiled);
  // A max age of an hour makes some reads STALE.
  const state = new OnlineState({ plan, items: world.items, users: world.users, lateness: HOUR, maxAgeMs: HOUR });
  for (const e of events) state.apply(e);
  const end = (events.at(-1) as (typeof events)[number]).ts;
  const down: StateReader = { unavailable: true, readInto: (vp, fields, t, slots) => state.readInto(vp, fields, t, slots) };
  const users = [...new Set(events.map((e) => e.userId)), 'nobody'];
  const items = [...world.items.map((i) => i.itemId), 'no-such-item'];
  const refs = plan.all.map((r) => r.ref);
  const seen = new Set<Status>();
  let shared = 0;

  fc.assert(
    fc.property(
      fc.record({
        user: fc.constantFrom(...users),
        items: fc.uniqueArray(fc.constantFrom(...items), { minLength: 1, maxLength: 12 }),
        features: fc.option(fc.shuffledSubarray(refs, { minLength: 1 }), { nil: undefined }),
        after: fc.constantFrom(1, HOUR / 2, 2 * HOUR, 86_400_000),
        storeDown: fc.boolean(),
      }),
      (r) => {
        const sel = selectRefs(plan, r.features);
        const reader = r.storeDown ? down : state;
        const q = { userId: r.user, items: r.items, context: {}, t: end + r.after };
        const got = fetchFeatures(reader, plan, sel, q, { errors: 0, firstError: null });
        // The route's serialiser reuses the text of shared rows across requests: still the same JSON.
        assert.equal(featuresResponseJson(got), JSON.stringify(got));
        got.items.statuses.forEach((row, c) => {
          const times = got.items.event_ts[c] as readonly (number | null)[];
          assert.ok(Object.isFrozen(row) && Object.isFrozen(times), 'a shared row cannot be changed by one reader for all');
          if (got.items.statuses.indexOf(row) !== c || got.items.event_ts.indexOf(times) !== c) shared++;
          sel.perItem.forEach((ref, j) => {
            let want: Status;
            let wantTs: number | null = null;
            if (ref.view === null) want = r.storeDown && ref.stateful ? 'UNAVAILABLE' : 'PRESENT';
            else {
              const slots: ReadSlots = { values: [], statuses: [], eventTs: [] };
              state.readInto(ref.view, { user_id: r.user, item_id: r.items[c] as string, ts: q.t }, q.t, slots);
              want = slots.statuses[ref.view.index] as Status;
              wantTs = slots.eventTs[ref.view.index] ?? null;
            }
            seen.add(row[j] as Status);
            assert.equal(row[j], want, `candidate ${r.items[c]}, ${ref.ref}`);
            assert.equal(times[j], wantTs, `candidate ${r.items[c]}, ${ref.ref}: event time`);
          });
        });
      },
    ),
    { numRuns: 200, seed: 42 },
  );
  assert.deepEqual([...seen].sort(), ['NOT_FOUND', 'PRESENT', 'STALE', 'UNAVAILABLE']);
  assert.ok(shared > 0, 'no two candidates shared a row');
});

test('featuresResponseJson is JSON.stringify of the response, for rows not shared and text that needs escaping too', () => {
  const row = ['PRESENT', 'NOT_FOUND'] as const;
  const r: FeaturesResponse = {
    ts: 1_700_000_000_123,
    user_id: 'u "quoted" \\ é \u2028',
    user: { features: ['v:a', 'v:b'], values: [1.5, { drama: 0.25 }], statuses: ['PRESENT', 'STALE'], event_ts: [1_700_000_000_000, null] },
    items: {
      features: ['w:x', 'w:y'],
      item_ids: ['i1', 'i\n2'],
      values: [[null, ['a', 'b']], [-0, 1e-7]],
      statuses: [Object.freeze([...row]), [...row]],
      event_ts: [[1_700_000_000_000.5, null], Object.freeze([null, 42])],
    },
  };
  assert.equal(featuresResponseJson(r), JSON.stringify(r));
  // Again: the frozen rows' text now comes from the memo.
  assert.equal(featuresResponseJson(r), JSON.stringify(r));
  assert.deepEqual(JSON.parse(featuresResponseJson(r)), JSON.parse(JSON.stringify(r)));
});

test('SharedTimes finds each tuple of event times (null and -0 included) it kept, through collisions and starting over', () => {
  for (const [at, pick, maxRows] of [
    // Two "views" over few values: tuples recur within a round of 8 rows (0 and -0 are one time).
    [[1, 4], [null, 0, -0, 1_700_000_000_000, 1_700_000_000_000.5], 8],
    // Three views over more values: 343 tuples through 16 rows, starting over many times.
    [[0, 2, 5], [null, 0, -0, 1_700_000_000_000, 1_700_000_000_000.5, 42, -1], 16],
  ] as const) {
    const views = at.map((index) => ({ index }) as unknown as ViewPlan);
    const rand = mulberry(7);
    const table = new SharedTimes(views, maxRows);
    const kept = new Map<string, readonly (number | null)[]>();
    let found = 0;
    for (let i = 0; i < 5_000; i++) {
      const eventTs: (number | null)[] = [];
      for (const v of at) eventTs[v] = pick[Math.floor(rand() * pick.length)] as number | null;
      const slots = { values: [], statuses: [], eventTs } as unknown as ReadSlots;
      const id = JSON.stringify(at.map((v) => eventTs[v]));
      const got = table.get(slots);
      if (got !== undefined) {
        found++;
        // What it finds is the row kept for this very tuple.
        assert.equal(got, kept.get(id), `tuple ${id}`);
      } else {
        const row = at.map((v) => eventTs[v] ?? null);
        assert.equal(table.keep(slots, row), row);
        assert.ok(Object.isFrozen(row));
        kept.set(id, row);
      }
    }
    assert.ok(found > 100 && kept.size > maxRows, `found ${found}, kept ${kept.size}`);
  }
});

function mulberry(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('selectRefs: a list that joins like another (or like all) is still checked on its own', async () => {
  const plan = servingPlan(await loadFeatureSet(DEMO));
  const all = selectRefs(plan, undefined);
  assert.throws(() => selectRefs(plan, ['']), /'' is not a feature of this set/);
  const [a, b] = [plan.all[0]!.ref, plan.all[1]!.ref];
  const pair = selectRefs(plan, [a, b]);
  assert.equal(pair.once.length + pair.perItem.length, 2);
  assert.throws(() => selectRefs(plan, [`${a}\u0000${b}`]), /is not a feature of this set/);
  assert.equal(selectRefs(plan, undefined), all);
});
