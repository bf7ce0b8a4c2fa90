/** @module Event → stream row: the derived columns of the plan, and the filter test. */
import type { InteractionEvent } from '../../events/schema.ts';
import type { FilterIR } from '../../features/ir.ts';
import { dayType, hourBucket, hourOfDay } from '../../plan/rows.ts';
import type { StreamRow } from './partials.ts';

export function toStreamRow(e: InteractionEvent, weights: Readonly<Record<string, number>>): StreamRow {
  const str = (k: string): string | null => (typeof e.context[k] === 'string' ? (e.context[k] as string) : null);
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
      device: str('device'),
      country: str('country'),
      session_id: str('session_id'),
      watch_fraction: e.value !== null && e.duration !== null && e.duration > 0 ? e.value / e.duration : null,
      weight: weights[e.type] ?? 0,
      hour_of_day: hourOfDay(e.ts),
      hour_bucket: hourBucket(e.ts),
      day_type: dayType(e.ts),
    },
  };
}

export function rowPasses(f: FilterIR, r: StreamRow): boolean {
  if (f.types !== null && !f.types.includes(r.cols['type'] as string)) return false;
  for (const c of f.where) {
    const v = r.cols[c.column];
    if (v === null || v === undefined || !c.in.some((x) => String(x) === String(v))) return false;
  }
  return true;
}
