/**
 * @module An aggregation view worked out once for the stream engine: its aggregations (ratios
 * left out), the tile size of each, and which of them each event type feeds, so that an event
 * costs a table look-up instead of a filter test per aggregation.
 */
import type { AggregationIR, AggregationViewIR } from '../../features/ir.ts';
import type { StreamRow } from './partials.ts';
import { rowPasses } from './rows.ts';

export interface ViewPlan {
  readonly view: AggregationViewIR;
  /** The aggregations that hold state (every one but ratios), in definition order: the slots. */
  readonly aggs: readonly AggregationIR[];
  /** Per slot, its tile size (the window's hop); Infinity for lifetime, which keeps one accumulator. */
  readonly hops: readonly number[];
  /** Per slot, its window's length; Infinity for lifetime. */
  readonly lengths: readonly number[];
  /** Per slot, whether its filter has column clauses to test per row (types are settled by the table). */
  readonly where: readonly boolean[];
  /** Event type → the slots whose `types` admit it. */
  readonly byType: Map<string, readonly number[]>;
  /**
   * The columns the view reads (keys, inputs, weights, filters, the type): all a row fanned out
   * to a category needs to carry, since that row is the view's alone.
   */
  readonly columns: readonly string[];
  /** What a stored row keeps: `columns` and, for a view fanned out through metadata, the category. */
  readonly rowColumns: readonly string[];
}

const plans = new WeakMap<AggregationViewIR, ViewPlan>();

export function viewPlan(view: AggregationViewIR): ViewPlan {
  let p = plans.get(view);
  if (!p) {
    const aggs = view.aggregations.filter((a) => a.op !== 'ratio');
    const columns = [
      ...new Set([
        'type',
        ...view.entity.keys,
        ...aggs.flatMap((a) => [a.input, a.weight, ...a.filter.where.map((c) => c.column)]).filter((c): c is string => c !== null),
      ]),
    ].filter((c) => c !== view.via?.as);
    p = {
      view,
      aggs,
      hops: aggs.map((a) => (a.window.kind === 'lifetime' ? Infinity : a.window.hopMs)),
      lengths: aggs.map((a) => (a.window.kind === 'lifetime' ? Infinity : a.window.lengthMs)),
      where: aggs.map((a) => a.filter.where.length > 0),
      byType: new Map(),
      columns,
      rowColumns: view.via === null ? columns : [...columns, view.via.as],
    };
    plans.set(view, p);
  }
  return p;
}

/** The slots an event type may feed (the where clauses, if any, are still to be tested). */
export function slotsForType(p: ViewPlan, type: string): readonly number[] {
  let s = p.byType.get(type);
  if (s === undefined) {
    const admitted: number[] = [];
    for (let i = 0; i < p.aggs.length; i++) {
      const types = (p.aggs[i] as AggregationIR).filter.types;
      if (types === null || types.includes(type)) admitted.push(i);
    }
    s = admitted;
    p.byType.set(type, s);
  }
  return s;
}

/** Whether slot `i` takes the row: its type admitted by `slotsForType`, so only the column clauses are left. */
export function slotTakes(p: ViewPlan, i: number, r: StreamRow): boolean {
  return !p.where[i] || rowPasses((p.aggs[i] as AggregationIR).filter, r);
}
