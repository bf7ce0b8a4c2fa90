/**
 * @module The serving plan: what the fetch path needs from the IR, worked out once at start-up —
 * each view's keys, whether it is read per candidate, whether its reads can be cached and until
 * when, and every feature ref resolved to its view. Selections of refs are memoized.
 */
import type { Problem } from '../core/errors.ts';
import type { FeatureType, FeatureValue, FeatureViewIR } from '../features/ir.ts';
import type { CompiledFeatureSet } from '../plan/compile.ts';
import { featureColumns } from '../plan/rows.ts';
import { invalidInput } from './http-errors.ts';

export const REQUEST_VIEW = 'request_features';

export interface ViewPlan {
  readonly index: number;
  readonly view: FeatureViewIR;
  readonly keys: readonly string[];
  /** Keyed by item_id: read once per candidate; the others once per request. */
  readonly perItem: boolean;
  /**
   * A read as of t can be reused for a later t while the key gets no event and no window moves its
   * tail: true for aggregation views with no decayed op (decay depends on t itself) and no derived
   * negatives (those land at ts + timeout), and for lookups.
   */
  readonly cacheable: boolean;
  /** Distinct (length, hop) of the view's sliding windows: a window's tail moves at k·hop + length. */
  readonly windows: readonly { readonly length: number; readonly hop: number }[];
  /** Aggregation and session views carry an event time; lookups (metadata) do not. */
  readonly timed: boolean;
}

export interface RefPlan {
  readonly ref: string;
  /** null for a request-time (cross) feature. */
  readonly view: ViewPlan | null;
  readonly feature: string;
  readonly type: FeatureType;
  readonly default: FeatureValue;
  /**
   * Read from the event state (an aggregation or session view, or a cross with such an input), not
   * from metadata, embedding tables or the request alone: UNAVAILABLE when the online store does not answer.
   */
  readonly stateful: boolean;
}

export interface ServingPlan {
  readonly compiled: CompiledFeatureSet;
  readonly views: readonly ViewPlan[];
  readonly byView: ReadonlyMap<string, ViewPlan>;
  readonly refs: ReadonlyMap<string, RefPlan>;
  /** Every ref in featureColumns order. */
  readonly all: readonly RefPlan[];
  /** Every join key of any view. */
  readonly joinKeys: ReadonlySet<string>;
  /** Memoized selections by the joined ref list. */
  readonly selections: Map<string, Selection>;
}

/** The refs of one request, split by where they are read, with the views to read for them. */
export interface Selection {
  readonly refs: readonly RefPlan[];
  /** Refs of views read once per request (user, context), in request order. */
  readonly once: readonly RefPlan[];
  /** Refs of per-candidate views and request features, in request order. */
  readonly perItem: readonly RefPlan[];
  readonly onceNames: readonly string[];
  readonly perItemNames: readonly string[];
  /** Views to read once / per candidate: the refs' views plus the inputs of the requested crosses. */
  readonly onceViews: readonly ViewPlan[];
  readonly itemViews: readonly ViewPlan[];
  /** The feature set narrowed to the requested request features (null when none is requested). */
  readonly crosses: CompiledFeatureSet | null;
  /** Position of each requested cross in `crosses`' output. */
  readonly crossIndex: ReadonlyMap<string, number>;
}

const MAX_MEMOIZED = 256;

export function servingPlan(compiled: CompiledFeatureSet): ServingPlan {
  const views: ViewPlan[] = compiled.ir.views.map((v, index) => {
    const windows = new Map<string, { length: number; hop: number }>();
    let cacheable = v.kind === 'lookup';
    if (v.kind === 'aggregation') {
      cacheable = v.stream.kind !== 'impression_not_played' && v.aggregations.every((a) => a.op !== 'decayed_sum' && a.op !== 'decayed_count');
      for (const a of v.aggregations) if (a.window.kind === 'sliding') windows.set(`${a.window.lengthMs}/${a.window.hopMs}`, { length: a.window.lengthMs, hop: a.window.hopMs });
    }
    return { index, view: v, keys: v.entity.keys, perItem: v.entity.keys.includes('item_id'), cacheable, windows: [...windows.values()], timed: v.kind !== 'lookup' };
  });
  const byView = new Map(views.map((v) => [v.view.name, v]));
  // In the online store: aggregation and session views. Lookups and embedding views are read from
  // process memory with every store (embeddings are timed all the same: versions, STALE), so a cross
  // over them alone is computed whether or not the store answers.
  const inStore = (v: ViewPlan | undefined) => v !== undefined && v.view.kind !== 'lookup' && v.view.kind !== 'embedding';
  const storeRef = (ref: string) => inStore(byView.get(ref.slice(0, ref.indexOf(':'))));
  const crossStateful = new Map(compiled.ir.requestFeatures.map((f) => [f.name, Object.values(f.inputs).some(storeRef)]));
  const all: RefPlan[] = featureColumns(compiled.ir).map((c) => {
    const view = c.view === null ? null : (byView.get(c.view) as ViewPlan);
    return { ref: c.ref, view, feature: c.feature, type: c.type, default: c.default, stateful: view === null ? crossStateful.get(c.feature) === true : inStore(view) };
  });
  return {
    compiled,
    views,
    byView,
    refs: new Map(all.map((r) => [r.ref, r])),
    all,
    joinKeys: new Set(views.flatMap((v) => v.keys)),
    selections: new Map(),
  };
}

/**
 * Resolves a request's feature refs (all when undefined); unknown refs are one error listing every
 * one of them with the nearest known names.
 */
export function selectRefs(plan: ServingPlan, requested: readonly string[] | undefined, path = 'features'): Selection {
  // JSON, not a join: [''] and a ref holding the separator must not read as another list (or as all).
  const key = requested === undefined ? '*' : JSON.stringify(requested);
  const memo = plan.selections.get(key);
  if (memo) return memo;
  const problems: Problem[] = [];
  const refs: RefPlan[] = [];
  const seen = new Set<string>();
  for (const [i, ref] of (requested ?? plan.all.map((r) => r.ref)).entries()) {
    const r = plan.refs.get(ref);
    if (!r) {
      problems.push({ path: `${path}[${i}]`, message: `'${ref}' is not a feature of this set`, fix: unknownRefFix(plan, ref) });
      continue;
    }
    if (seen.has(ref)) continue;
    seen.add(ref);
    refs.push(r);
  }
  if (problems.length > 0) throw invalidInput('unknown feature refs', problems);
  const once = refs.filter((r) => r.view !== null && !r.view.perItem);
  const perItem = refs.filter((r) => r.view === null || r.view.perItem);
  const crossNames = refs.filter((r) => r.view === null).map((r) => r.feature);
  const requestFeatures = plan.compiled.ir.requestFeatures.filter((f) => crossNames.includes(f.name));
  const needed = new Set<ViewPlan>(refs.flatMap((r) => (r.view ? [r.view] : [])));
  for (const f of requestFeatures) {
    for (const input of Object.values(f.inputs)) {
      const v = plan.refs.get(input)?.view;
      if (v) needed.add(v);
    }
  }
  const ordered = plan.views.filter((v) => needed.has(v));
  const selection: Selection = {
    refs,
    once,
    perItem,
    onceNames: once.map((r) => r.ref),
    perItemNames: perItem.map((r) => r.ref),
    onceViews: ordered.filter((v) => !v.perItem),
    itemViews: ordered.filter((v) => v.perItem),
    crosses: requestFeatures.length === 0 ? null : { ...plan.compiled, ir: { ...plan.compiled.ir, requestFeatures } },
    crossIndex: new Map(requestFeatures.map((f, i) => [f.name, i])),
  };
  if (plan.selections.size >= MAX_MEMOIZED) plan.selections.clear();
  plan.selections.set(key, selection);
  return selection;
}

function unknownRefFix(plan: ServingPlan, ref: string): string {
  const i = ref.indexOf(':');
  if (i <= 0) return `write 'view:feature', e.g. '${plan.all[0]?.ref ?? 'view:feature'}' (GET /v1/feature-views lists them)`;
  const view = ref.slice(0, i);
  const feature = ref.slice(i + 1);
  const inView = plan.all.filter((r) => (r.view?.view.name ?? REQUEST_VIEW) === view);
  if (inView.length === 0) return `'${view}' is not a view; use one of: ${[...plan.byView.keys(), REQUEST_VIEW].join(', ')}`;
  const close = inView.filter((r) => r.feature.includes(feature) || feature.includes(r.feature)).map((r) => r.ref);
  return `${view} has: ${(close.length > 0 ? close : inView.map((r) => r.ref)).slice(0, 12).join(', ')} (GET /v1/feature-views lists every feature)`;
}
