/**
 * @module The fetch path. For one user and N candidates: user- and context-keyed views are read
 * once, item and user × item views once per candidate, and request-time crosses per candidate by
 * the same `applyRequestFeatures` that builds training sets. Also entity rows (the Feast shape).
 */
import type { FeatureValue } from '../features/ir.ts';
import { applyRequestFeatures, type RequestFeatureStats } from '../plan/rows.ts';
import type { Fields, ReadPlan, ReadSlots, StateReader, Status } from './online-state.ts';
import type { RefPlan, Selection, ServingPlan, ViewPlan } from './plan.ts';

export interface FeaturesQuery {
  readonly userId: string;
  readonly items: readonly string[];
  readonly context: Readonly<Fields>;
  readonly t: number;
}

/** The `/v1/features` response: columnar, one row of the `items` block per candidate. */
export interface FeaturesResponse {
  readonly ts: number;
  readonly user_id: string;
  readonly user: { readonly features: readonly string[]; readonly values: FeatureValue[]; readonly statuses: Status[]; readonly event_ts: (number | null)[] };
  readonly items: {
    readonly features: readonly string[];
    readonly item_ids: readonly string[];
    readonly values: FeatureValue[][];
    /** Candidates whose views read alike share one statuses row and one event-times row (both per view): read-only. */
    readonly statuses: (readonly Status[])[];
    readonly event_ts: (readonly (number | null)[])[];
  };
}

function newSlots(n: number): ReadSlots {
  return { values: new Array(n), statuses: new Array(n), eventTs: new Array(n) };
}

/** A ref's value source over the current slots: what request functions read their inputs through. */
function refReader(plan: ServingPlan, slots: ReadSlots): (ref: string) => FeatureValue | undefined {
  return (ref) => {
    const r = plan.refs.get(ref);
    return r?.view ? slots.values[r.view.index]?.get(r.feature) : undefined;
  };
}

export function fetchFeatures(state: StateReader, plan: ServingPlan, sel: Selection, q: FeaturesQuery, stats: RequestFeatureStats): FeaturesResponse {
  const { t } = q;
  const slots = newSlots(plan.views.length);
  // One object is the fields of every read and the request of every cross (ts included, as in training).
  const fields: Fields = { ...q.context, user_id: q.userId, ts: t };
  for (const vp of sel.onceViews) state.readInto(vp, fields, t, slots);
  const once = sel.once;
  const user = { features: sel.onceNames, values: new Array<FeatureValue>(once.length), statuses: new Array<Status>(once.length), event_ts: new Array<number | null>(once.length) };
  for (let j = 0; j < once.length; j++) {
    const r = once[j] as RefPlan;
    const vi = (r.view as { index: number }).index;
    user.values[j] = slots.values[vi]?.get(r.feature) ?? null;
    user.statuses[j] = slots.statuses[vi] as Status;
    user.event_ts[j] = slots.eventTs[vi] ?? null;
  }

  const perItem = sel.perItem;
  const n = q.items.length;
  const values: FeatureValue[][] = new Array(n);
  const statuses: (readonly Status[])[] = new Array(n);
  const eventTs: (readonly (number | null)[])[] = new Array(n);
  const shared = sharedRowsOf(sel);
  const read = refReader(plan, slots);
  // One array the crosses of every candidate are written to: their values are copied into the candidate's row.
  const crossAt = crossPositions(perItem, sel);
  const crossOut: FeatureValue[] = [];
  for (let c = 0; c < n; c++) {
    const item = q.items[c] as string;
    fields['item_id'] = item;
    for (const vp of sel.itemViews) state.readInto(vp, fields, t, slots);
    if (sel.crosses !== null) applyRequestFeatures(sel.crosses, read, fields, stats, crossOut);
    const rv = new Array<FeatureValue>(perItem.length);
    for (let j = 0; j < perItem.length; j++) {
      const r = perItem[j] as RefPlan;
      const x = crossAt[j] as number;
      rv[j] = x >= 0 ? (crossOut[x] ?? null) : (slots.values[(r.view as ViewPlan).index]?.get(r.feature) ?? null);
    }
    values[c] = rv;
    // Statuses and event times follow from the item views' (and, for crosses, whether the store answered).
    const code = statusCode(state.unavailable, sel.itemViews, slots);
    statuses[c] = shared.statuses.get(code) ?? shared.statuses.keep(code, statusRow(state, perItem, slots));
    eventTs[c] = shared.times.get(slots) ?? shared.times.keep(slots, timeRow(perItem, slots));
  }
  return { ts: t, user_id: q.userId, user, items: { features: sel.perItemNames, item_ids: q.items, values, statuses, event_ts: eventTs } };
}

/** Where each ref reads in the crosses' output (`applyRequestFeatures` of `sel.crosses`); -1 for a view's ref. */
function crossPositions(refs: readonly RefPlan[], sel: Selection): number[] {
  return refs.map((r) => (r.view === null ? (sel.crossIndex.get(r.feature) as number) : -1));
}

/** A ref's status: its view's read's, or for a cross UNAVAILABLE when it reads state the store did not answer for. */
function refStatus(state: StateReader, r: RefPlan, slots: ReadSlots): Status {
  return r.view === null ? (state.unavailable && r.stateful ? 'UNAVAILABLE' : 'PRESENT') : (slots.statuses[r.view.index] as Status);
}

function statusRow(state: StateReader, refs: readonly RefPlan[], slots: ReadSlots): Status[] {
  return refs.map((r) => refStatus(state, r, slots));
}

/** A ref's event time: its view's read's; none for a cross. */
function refEventTs(r: RefPlan, slots: ReadSlots): number | null {
  return r.view === null ? null : (slots.eventTs[r.view.index] ?? null);
}

function timeRow(refs: readonly RefPlan[], slots: ReadSlots): (number | null)[] {
  return refs.map((r) => refEventTs(r, slots));
}

/** Rows kept per kind and selection; past it the memo starts over (a catalogue's worth stays well below). */
const MAX_SHARED_ROWS = 50_000;

/**
 * A candidate's statuses as one number: whether the store answered, then each item view's status
 * in two bits. Exact up to 25 item views (4^25 · 2 < 2^53); past that, a string of the same digits.
 */
function statusCode(unavailable: boolean, views: readonly ViewPlan[], slots: ReadSlots): number | string {
  if (views.length > 25) return `${unavailable ? 1 : 0}${views.map((v) => STATUS_DIGIT[slots.statuses[v.index] as Status]).join('')}`;
  let code = unavailable ? 1 : 0;
  for (let k = 0; k < views.length; k++) code = code * 4 + (STATUS_DIGIT[slots.statuses[(views[k] as ViewPlan).index] as Status] as number);
  return code;
}

const STATUS_DIGIT: Readonly<Record<Status, number>> = { PRESENT: 0, NOT_FOUND: 1, STALE: 2, UNAVAILABLE: 3 };

/**
 * Statuses rows by their code (`statusCode`): a handful of distinct rows, shared by every candidate
 * and request whose views read alike; frozen, since every reader sees the same row.
 */
class SharedStatuses {
  private readonly rows = new Map<number | string, readonly Status[]>();

  get(code: number | string): readonly Status[] | undefined {
    return this.rows.get(code);
  }

  keep(code: number | string, row: Status[]): readonly Status[] {
    if (this.rows.size >= MAX_SHARED_ROWS) this.rows.clear();
    this.rows.set(code, Object.freeze(row));
    return row;
  }
}

/**
 * Event-times rows, shared by every candidate and request whose views read at the same event
 * times: a few thousand distinct rows for a whole catalogue instead of an array per candidate;
 * frozen, since every reader sees the same row.
 *
 * Found by the tuple of the item views' event times (views that can hold one: a metadata view never
 * does) in an open-addressing table of our own over a Float64Array, not in nested Maps keyed by the
 * times: those are heap numbers, each look-up a chain of pointer chases (the maps, their tables,
 * each key's number) that missed the caches between a fetch's other reads: 12% of the fetch's CPU
 * profile, ~3% with the table, where a probe reads one slot of two flat arrays. Null is stored as
 * NaN, compared as equal (a NaN time, which no read gives, would share its row: both serialise as
 * null).
 */
export class SharedTimes {
  private readonly width: number;
  private readonly mask: number;
  /** Slot s holds its tuple at `keys[s·width ..]`, its row at `rows[s]` (undefined: empty). */
  private readonly keys: Float64Array;
  private rows: ((number | null)[] | undefined)[];
  private count = 0;

  /**
   * @param views the item views whose event times the rows follow (at least one)
   * @param maxRows rows kept; past it the memo starts over
   */
  constructor(
    private readonly views: readonly ViewPlan[],
    private readonly maxRows = MAX_SHARED_ROWS,
  ) {
    this.width = views.length;
    // A power of two at least twice the rows kept: probes stay short, and one always ends empty.
    const slots = 1 << Math.ceil(Math.log2(maxRows * 2));
    this.mask = slots - 1;
    this.keys = new Float64Array(slots * this.width);
    this.rows = new Array(slots);
  }

  get(slots: ReadSlots): readonly (number | null)[] | undefined {
    return this.rows[this.slotOf(slots)];
  }

  keep(slots: ReadSlots, row: (number | null)[]): readonly (number | null)[] {
    if (this.count >= this.maxRows) {
      this.rows = new Array(this.mask + 1);
      this.count = 0;
    }
    const s = this.slotOf(slots);
    const views = this.views;
    for (let k = 0; k < this.width; k++) this.keys[s * this.width + k] = slots.eventTs[(views[k] as ViewPlan).index] ?? Number.NaN;
    this.rows[s] = Object.freeze(row) as (number | null)[];
    this.count++;
    return row;
  }

  /** The slot holding the slots' tuple, or the empty slot where it would go. */
  private slotOf(slots: ReadSlots): number {
    const views = this.views;
    const w = this.width;
    let h = 0;
    for (let k = 0; k < w; k++) {
      // + 0: -0 hashes as 0, as === compares them.
      BITS_F64[0] = (slots.eventTs[(views[k] as ViewPlan).index] ?? Number.NaN) + 0;
      h = Math.imul(h ^ BITS_U32[0]! ^ Math.imul(BITS_U32[1]!, 0x9e3779b1), 0x85ebca6b);
      h ^= h >>> 15;
    }
    for (let s = h & this.mask; ; s = (s + 1) & this.mask) {
      if (this.rows[s] === undefined) return s;
      let same = true;
      for (let k = 0; k < w && same; k++) {
        const a = this.keys[s * w + k]!;
        const b = slots.eventTs[(views[k] as ViewPlan).index] ?? Number.NaN;
        same = a === b || (a !== a && b !== b);
      }
      if (same) return s;
    }
  }
}

const BITS_F64 = new Float64Array(1);
const BITS_U32 = new Uint32Array(BITS_F64.buffer);

/** A selection without an item view that can hold an event time: every candidate's times row is the same. */
class ConstantTimes {
  private row: readonly (number | null)[] | undefined;

  get(): readonly (number | null)[] | undefined {
    return this.row;
  }

  keep(_slots: ReadSlots, row: (number | null)[]): readonly (number | null)[] {
    return (this.row = Object.freeze(row));
  }
}

interface SharedRows {
  readonly statuses: SharedStatuses;
  readonly times: SharedTimes | ConstantTimes;
}

const sharedBySelection = new WeakMap<Selection, SharedRows>();

function sharedRowsOf(sel: Selection): SharedRows {
  let shared = sharedBySelection.get(sel);
  if (shared === undefined) {
    const timed = sel.itemViews.filter((v) => v.view.kind !== 'lookup');
    shared = { statuses: new SharedStatuses(), times: timed.length === 0 ? new ConstantTimes() : new SharedTimes(timed) };
    sharedBySelection.set(sel, shared);
  }
  return shared;
}

/**
 * `JSON.stringify(response)`, character for character, with the text of each shared (frozen)
 * statuses or event-times row made once and reused by every response that holds the row: those
 * rows are most of a response's text (19 statuses and 19 event times a candidate), and the event
 * times are doubles, the slow part of `JSON.stringify`. A 1 user + 100 candidates response of the
 * demo set: 0.37 → 0.16 ms (11,429 distinct event-times rows over 3,000 requests).
 */
export function featuresResponseJson(r: FeaturesResponse): string {
  const it = r.items;
  return `{"ts":${JSON.stringify(r.ts)},"user_id":${JSON.stringify(r.user_id)},"user":${JSON.stringify(r.user)},"items":{"features":${JSON.stringify(it.features)},"item_ids":${JSON.stringify(it.item_ids)},"values":${JSON.stringify(it.values)},"statuses":${rowsJson(it.statuses)},"event_ts":${rowsJson(it.event_ts)}}}`;
}

// A frozen row never changes, so its text never goes stale; it goes with the row.
const rowTexts = new WeakMap<readonly unknown[], string>();

function rowsJson(rows: readonly (readonly unknown[])[]): string {
  let out = '[';
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i] as readonly unknown[];
    const frozen = Object.isFrozen(row);
    let text = frozen ? rowTexts.get(row) : undefined;
    if (text === undefined) {
      text = JSON.stringify(row);
      if (frozen) rowTexts.set(row, text);
    }
    out += i === 0 ? text : `,${text}`;
  }
  return `${out}]`;
}

/** Per ref, one column over the rows: what `/get-online-features` shapes into Feast's response. */
export interface RowColumns {
  readonly values: FeatureValue[][];
  readonly statuses: Status[][];
  readonly eventTs: (number | null)[][];
}

/** Every selected ref for each entity row (its fields: join keys and request data) as of t. */
export function fetchRows(state: StateReader, plan: ServingPlan, sel: Selection, rows: readonly Fields[], t: number, stats: RequestFeatureStats): RowColumns {
  const refs = sel.refs;
  const out: RowColumns = {
    values: refs.map(() => new Array(rows.length)),
    statuses: refs.map(() => new Array(rows.length)),
    eventTs: refs.map(() => new Array(rows.length)),
  };
  const slots = newSlots(plan.views.length);
  const read = refReader(plan, slots);
  const crossAt = crossPositions(refs, sel);
  const crossOut: FeatureValue[] = [];
  for (let i = 0; i < rows.length; i++) {
    const fields = rows[i] as Fields;
    fields['ts'] = t;
    for (const vp of sel.onceViews) state.readInto(vp, fields, t, slots);
    for (const vp of sel.itemViews) state.readInto(vp, fields, t, slots);
    if (sel.crosses !== null) applyRequestFeatures(sel.crosses, read, fields, stats, crossOut);
    for (let j = 0; j < refs.length; j++) {
      const r = refs[j] as RefPlan;
      const x = crossAt[j] as number;
      (out.values[j] as FeatureValue[])[i] = x >= 0 ? (crossOut[x] ?? null) : (slots.values[(r.view as ViewPlan).index]?.get(r.feature) ?? null);
      (out.statuses[j] as Status[])[i] = refStatus(state, r, slots);
      (out.eventTs[j] as (number | null)[])[i] = refEventTs(r, slots);
    }
  }
  return out;
}

/** The reads of `fetchFeatures`: the once-views for the user, the item views for each candidate. */
export function featureReads(sel: Selection, q: FeaturesQuery): ReadPlan {
  return (visit) => {
    const fields: Fields = { ...q.context, user_id: q.userId, ts: q.t };
    if (sel.onceViews.length > 0) visit(sel.onceViews, fields);
    if (sel.itemViews.length === 0) return;
    for (const item of q.items) {
      fields['item_id'] = item;
      visit(sel.itemViews, fields);
    }
  };
}

/** The reads of `fetchRows`: every selected view for each entity row. */
export function rowReads(sel: Selection, rows: readonly Fields[]): ReadPlan {
  const views = [...sel.onceViews, ...sel.itemViews];
  return (visit) => {
    if (views.length > 0) for (const fields of rows) visit(views, fields);
  };
}
