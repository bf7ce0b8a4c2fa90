/**
 * @module Step 4 of bench/stream.ts (run with --expose-gc): the online state's heap. Heap used after
 * a forced gc, with the metadata loaded, before and after building an `OnlineState` from the whole
 * stream and dropping the events; then each view's state (engine and key index) is dropped in turn
 * and the heap it frees is its share, so bytes can be assigned to users, items and user × item pairs.
 */
import { loadFeatureSet } from '../src/plan/load-features.ts';
import { generateEvents } from '../src/events/generate.ts';
import type { InteractionEvent } from '../src/events/schema.ts';
import { OnlineState } from '../src/serve/online-state.ts';
import { servingPlan } from '../src/serve/plan.ts';
import { DEMO_FEATURES, LATENESS_MS, parseStreamOptions, report, say } from './stream-common.ts';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('bench/stream-memory.ts needs node --expose-gc');
const o = parseStreamOptions(process.argv.slice(2));

function heap(): { heapUsed: number; arrayBuffers: number } {
  for (let i = 0; i < 3; i++) (gc as () => void)();
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, arrayBuffers: m.arrayBuffers };
}

const compiled = await loadFeatureSet(DEMO_FEATURES);
const plan = servingPlan(compiled);
const world = generateEvents({ users: o.users, items: o.items, days: o.days, seed: o.seed });
const hMeta = heap();
let events: InteractionEvent[] | null = [...world.events()];
events.sort((a, b) => a.ts - b.ts);
const eventCount = events.length;
const hEvents = heap();
const state = new OnlineState({ plan, items: world.items, users: world.users, lateness: LATENESS_MS });
// As the server builds it: every event applied, then the state compacted (OnlineState.bootstrap).
await state.bootstrap((async function* () { yield* events as InteractionEvent[]; })(), () => undefined, () => false);
const hState = heap();
events = null;
const hFinal = heap();
const totalBytes = hFinal.heapUsed - hMeta.heapUsed;
say(`memory: state ${(totalBytes / 2 ** 20).toFixed(1)} MiB heap after dropping the events (events themselves ${((hEvents.heapUsed - hMeta.heapUsed) / 2 ** 20).toFixed(1)} MiB)`);

// The parts the engine and the key index keep private: reached here only to measure them.
const engine = state.engine as unknown as {
  state: Map<string, Map<string, unknown>>;
  sessions: Map<string, Map<string, unknown>>;
  seen: Set<string>;
  seenIds: unknown[];
  seenTs: unknown[];
  negatives: { plays: Map<string, unknown>; pending: Map<string, unknown> };
};
const index = state.index as unknown as { keys: { clear(): void }[] };
const keys = state.engine.sizes();

const views: { view: string; entity: string; keys: number; bytes: number }[] = [];
let last = hFinal.heapUsed;
for (const [i, vp] of plan.views.entries()) {
  const v = vp.view;
  if (v.kind === 'lookup') continue;
  (v.kind === 'session' ? engine.sessions : engine.state).get(v.name)?.clear();
  index.keys[i]?.clear();
  const now = heap().heapUsed;
  views.push({ view: v.name, entity: v.entity.keys.join(' × '), keys: keys[v.name] ?? 0, bytes: last - now });
  last = now;
}
const pairs = engine.negatives.plays.size + engine.negatives.pending.size;
engine.negatives.plays.clear();
engine.negatives.pending.clear();
let now = heap().heapUsed;
const negativesBookkeeping = { pairs, bytes: last - now };
last = now;
const seenIds = engine.seen.size;
engine.seen.clear();
engine.seenIds.length = 0;
engine.seenTs.length = 0;
now = heap().heapUsed;
const recentIds = { ids: seenIds, bytes: last - now };
const fixedBytes = now - hMeta.heapUsed;

const sum = (f: (x: (typeof views)[number]) => boolean) => views.filter(f).reduce((s, x) => s + x.bytes, 0);
const userViewBytes = sum((x) => x.entity.startsWith('user_id') && !x.entity.includes('item_id'));
const itemViewBytes = sum((x) => x.entity === 'item_id');
const pairViewBytes = sum((x) => x.entity.includes('user_id') && x.entity.includes('item_id'));
const usersWithState = keys['user_engagement'] ?? 0;
const itemsWithState = keys['item_popularity'] ?? 0;
const pairKeys = keys['user_item'] ?? 0;
const perUserBytes = userViewBytes + pairViewBytes + negativesBookkeeping.bytes;
report({
  events: eventCount,
  users: o.users,
  items: o.items,
  usersWithState,
  itemsWithState,
  userItemPairs: pairKeys,
  heap: { metadataLoaded: hMeta, withEvents: hEvents, withEventsAndState: hState, stateOnly: hFinal },
  eventsBytes: hEvents.heapUsed - hMeta.heapUsed,
  stateBytes: totalBytes,
  stateBytesWhileEventsHeld: hState.heapUsed - hEvents.heapUsed,
  perEntityBytes: Math.round(totalBytes / (o.users + o.items)),
  views,
  negativesBookkeeping,
  recentIds,
  fixedBytes,
  split: {
    rule: 'views keyed by user_id alone (and by user × device, user × daypart) plus the user × item view and the negatives bookkeeping (plays and pending impressions by user × item) → users; item_popularity → items; recent event ids and the rest (metadata maps, the engine) → fixed',
    perUserBytes: Math.round(perUserBytes / usersWithState),
    perUserOfWhichUserItem: Math.round(pairViewBytes / usersWithState),
    perUserItemPairBytes: Math.round(pairViewBytes / Math.max(1, pairKeys)),
    perItemBytes: Math.round(itemViewBytes / itemsWithState),
    fixedBytes: fixedBytes + recentIds.bytes,
  },
});
