/** @module Event → stream row: the derived columns of the plan, and the filter test. */
import type { InteractionEvent } from '../../events/schema.ts';
import type { FilterIR } from '../../features/ir.ts';
import { dayType, hourBucket, hourOfDay } from '../../plan/rows.ts';
import type { StreamRow } from './partials.ts';

export function toStreamRow(e: InteractionEvent, weights: Readonly<Record<string, number>>): StreamRow {
  const c = e.context;
  const device = c['device'];
  const country = c['country'];
  const session = c['session_id'];
  return {
    ts: e.ts,
    eventId: e.eventId,
    cols: {
      event_id: e.eventId,
      user_id: e.userId,
      item_id: e.itemId,
      type: e.type,
      value: e.value,
      duration: e.duration,
      device: typeof device === 'string' ? device : null,
      country: typeof country === 'string' ? country : null,
      session_id: typeof session === 'string' ? session : null,
      watch_fraction: e.value !== null && e.duration !== null && e.duration > 0 ? e.value / e.duration : null,
      weight: weights[e.type] ?? 0,
      hour_of_day: hourOfDay(e.ts),
      hour_bucket: hourBucket(e.ts),
      day_type: dayType(e.ts),
    },
  };
}

/**
 * The row of one category an event fans out to: the columns the view reads, and the category.
 * Only those: the row is the view's alone, and kept raw for a while, so a full copy of the event's
 * columns per category would be most of the engine's memory. Not spread either (V8 copies a
 * spread object and then adds a property about a hundred times slower) nor a child object
 * (Object.create would make every event's columns a prototype, with a map of its own).
 */
export function projectWith(c: Readonly<Record<string, string | number | null>>, columns: readonly string[], name: string, value: string | number | null): Record<string, string | number | null> {
  const out: Record<string, string | number | null> = {};
  for (let i = 0; i < columns.length; i++) {
    const k = columns[i] as string;
    out[k] = c[k] ?? null;
  }
  out[name] = value;
  return out;
}

/** Loops rather than `includes`/`some` with a closure: it runs for every row of a view with a filter, and a closure over `v` costs an allocation each time. */
export function rowPasses(f: FilterIR, r: StreamRow): boolean {
  if (f.types !== null && !f.types.includes(r.cols['type'] as string)) return false;
  const where = f.where;
  for (let i = 0; i < where.length; i++) {
    const c = where[i] as FilterIR['where'][number];
    const v = r.cols[c.column];
    if (v === null || v === undefined || !inList(c.in, v)) return false;
  }
  return true;
}

/** Whether `v` is one of `values`, compared as text (a filter's numbers match stored strings and back). */
function inList(values: readonly (string | number)[], v: string | number): boolean {
  const text = String(v);
  for (let i = 0; i < values.length; i++) if (String(values[i]) === text) return true;
  return false;
}
