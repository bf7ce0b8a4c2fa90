/** The key index is told of keys by the stream engine itself: it holds exactly the keys the engine does. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadFeatureSet } from '../plan/load-features.ts';
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

test('a state compacted after its bootstrap (engine and index) answers as one never compacted, before and after more events', async () => {
  const compiled = await loadFeatureSet(DEMO);
  const world = generateEvents({ users: 40, items: 50, days: 6, seed: 11 });
  const events = [...world.events()].sort((a, b) => a.ts - b.ts || (a.eventId < b.eventId ? -1 : 1));
  const cut = Math.floor(events.length * 0.7);
  const make = () => new OnlineState({ plan: servingPlan(compiled), items: world.items, users: world.users, lateness: 3_600_000 });
  const compacted = make();
  await compacted.bootstrap((async function* () { yield* events.slice(0, cut); })(), () => undefined, () => false);
  const plain = make();
  for (const e of events.slice(0, cut)) plain.apply(e);
  const views = compiled.ir.views;
  const same = (when: string) => {
    const t = compacted.watermark + 1;
    const held = plain.engine.snapshot().views;
    let compared = 0;
    for (const [i, v] of views.entries()) {
      if (v.kind === 'lookup') continue;
      const keys: string[] = held[v.name]?.map(([k]) => k) ?? [];
      for (const key of keys) {
        assert.deepEqual(compacted.index.entry(i, key), plain.index.entry(i, key), `${when}, ${v.name} ${key}: index entry`);
        const parts = key.split('\u0000');
        const fields: Record<string, string> = Object.fromEntries(v.entity.keys.map((k, j) => [k, parts[j] as string]));
        assert.deepEqual(compacted.engine.readView(v, fields, t), plain.engine.readView(v, fields, t), `${when}, ${v.name} ${key}: values`);
        compared++;
      }
    }
    assert.ok(compared > 300, `${when}: compared ${compared} keys`);
  };
  same('after the bootstrap');
  for (const e of events.slice(cut)) assert.equal(compacted.apply(e), plain.apply(e));
  same('after the rest of the stream');
});
