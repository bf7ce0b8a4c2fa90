/** The key index is told of keys by the stream engine itself: it holds exactly the keys the engine does. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadFeatureSet } from '../cli/load-features.ts';
import { generateEvents } from '../events/generate.ts';
import { eventTimeBefore } from './key-index.ts';
import { OnlineState } from './online-state.ts';
import { servingPlan } from './plan.ts';

const DEMO = fileURLToPath(new URL('../../examples/streaming/features.ts', import.meta.url));

test('after a shuffled stream, the index has an entry for every key the engine keeps, and only those, with its newest event time', async () => {
  const compiled = await loadFeatureSet(DEMO);
  const world = generateEvents({ users: 60, items: 60, days: 4, seed: 5 });
  const events = [...world.events()].sort((a, b) => a.ts - b.ts || (a.eventId < b.eventId ? -1 : 1));
  // Out of order within the allowed lateness: swap neighbours.
  for (let i = 1; i < events.length; i += 2) [events[i - 1], events[i]] = [events[i]!, events[i - 1]!];
  const state = new OnlineState({ plan: servingPlan(compiled), items: world.items, users: world.users, lateness: 3_600_000 });
  let applied = 0;
  for (const e of events) if (state.apply(e) === 'applied') applied++;
  assert.ok(applied > 1000, `applied ${applied}`);

  // (A stream this short triggers no sweep of closed sessions, after which the index would still
  // know a user the session view has forgotten: their history, not a state.)
  const snap = state.engine.snapshot();
  const views = compiled.ir.views;
  let checked = 0;
  views.forEach((v, i) => {
    if (v.kind === 'lookup') return;
    const held = v.kind === 'session'
      ? new Map(snap.sessions[v.name]!.map(([k, rows]) => [k, Math.max(...rows.map((r) => r.ts))] as const))
      : new Map(snap.views[v.name]!.map(([k, st]) => [k, (st as { latest: number }).latest] as const));
    assert.ok(held.size > 0, `${v.name} holds keys`);
    for (const [key, latest] of held) {
      const entry = state.index.entry(i, key);
      assert.ok(entry !== undefined, `${v.name}: the engine holds ${key}, the index does not`);
      assert.equal(entry.latest, latest, `${v.name} ${key}: newest event time`);
      assert.equal(eventTimeBefore(entry, latest + 1), latest);
      checked++;
    }
    assert.equal(state.index.size(i), held.size, `${v.name}: the index holds keys the engine does not`);
  });
  assert.ok(checked > 500, `checked ${checked} keys`);
});
