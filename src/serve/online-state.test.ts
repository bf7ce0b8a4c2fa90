/**
 * The memory state's cached reads (kept on the key index's entries, bounded per view) answer as
 * reads computed afresh: through new events for a key, windows moving at hop boundaries, and the
 * oldest cached reads leaving once a view holds its bound.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { loadFeatureSet } from '../plan/load-features.ts';
import { generateEvents } from '../events/generate.ts';
import { featuresResponseJson, fetchFeatures } from './fetch.ts';
import { OnlineState } from './online-state.ts';
import { selectRefs, servingPlan } from './plan.ts';

const DEMO = fileURLToPath(new URL('../../examples/streaming/features.ts', import.meta.url));
const HOUR = 3_600_000;

test('cached reads equal fresh reads: through new events, hop boundaries and eviction of the oldest', async () => {
  const compiled = await loadFeatureSet(DEMO);
  const world = generateEvents({ users: 30, items: 60, days: 4, seed: 3 });
  const events = [...world.events()].sort((a, b) => a.ts - b.ts || (a.eventId < b.eventId ? -1 : 1));
  const plan = servingPlan(compiled);
  const make = (maxCachedReads?: number) => new OnlineState({ plan, items: world.items, users: world.users, lateness: HOUR, ...(maxCachedReads === undefined ? {} : { maxCachedReads }) });
  const fresh = make(0);
  // A bound of 3 reads a view: most reads evict another's.
  const states = [make(), make(3)];
  const users = [...new Set(events.map((e) => e.userId)), 'nobody'];
  const items = [...world.items.map((i) => i.itemId), 'no-such-item'];
  const sel = selectRefs(plan, undefined);
  const stats = { errors: 0, firstError: null };
  let applied = 0;
  let reads = 0;

  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          // Events applied before the reads; the reads, each asked twice (the second is served from the cache when it may be).
          apply: fc.nat({ max: 40 }),
          reads: fc.array(
            fc.record({
              user: fc.constantFrom(...users),
              items: fc.uniqueArray(fc.constantFrom(...items), { minLength: 1, maxLength: 8 }),
              device: fc.constantFrom('tv', 'mobile', 'web'),
              after: fc.constantFrom(1, 60_000, HOUR / 2, 2 * HOUR, 86_400_000),
            }),
            { minLength: 1, maxLength: 4 },
          ),
        }),
        { minLength: 1, maxLength: 30 },
      ),
      (steps) => {
        for (const step of steps) {
          for (const e of events.slice(applied, applied + step.apply)) for (const s of [fresh, ...states]) s.apply(e);
          applied = Math.min(events.length, applied + step.apply);
          const watermark = Number.isFinite(fresh.watermark) ? fresh.watermark : (events[0] as (typeof events)[number]).ts;
          for (const r of [...step.reads, ...step.reads]) {
            const q = { userId: r.user, items: r.items, context: { device: r.device }, t: watermark + r.after };
            const want = featuresResponseJson(fetchFeatures(fresh, plan, sel, q, stats));
            for (const s of states) assert.equal(featuresResponseJson(fetchFeatures(s, plan, sel, q, stats)), want, `after ${applied} events, user ${r.user}, t = watermark + ${r.after} ms`);
            reads++;
          }
        }
      },
    ),
    { numRuns: 40, seed: 11 },
  );
  assert.ok(applied > 200, `only ${applied} events applied`);
  assert.ok(reads > 600, `only ${reads} reads`);
  assert.equal(stats.errors, 0);
});
