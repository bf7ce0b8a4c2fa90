/** @module The interaction event: its fields, the built-in types, and the columns of the event log. */

/** The event types every deployment knows; definitions may declare more. */
export const BUILTIN_EVENT_TYPES = [
  'impression',
  'play',
  'pause',
  'progress',
  'complete',
  'skip',
  'search',
  'rating',
  'add_to_list',
] as const;

export type ContextValue = string | number | boolean | null;

/** A validated event. Time is milliseconds since the epoch, UTC. */
export interface InteractionEvent {
  readonly eventId: string;
  readonly userId: string;
  /** Absent (null) only for a search. */
  readonly itemId: string | null;
  readonly ts: number;
  readonly type: string;
  /** Seconds watched, a rating, a position: what it means depends on the type. */
  readonly value: number | null;
  /** The item's length in seconds. */
  readonly duration: number | null;
  /** `device`, `country`, `session_id` and free keys. */
  readonly context: Readonly<Record<string, ContextValue>>;
}

/**
 * The columns of the event log, in order. `device`, `country` and `session_id` are lifted out of
 * the context so that engines can group by them without parsing JSON; the other context keys stay
 * in `context` as JSON text.
 */
export const LOG_COLUMNS = [
  { name: 'event_id', sql: 'VARCHAR' },
  { name: 'user_id', sql: 'VARCHAR' },
  { name: 'item_id', sql: 'VARCHAR' },
  { name: 'ts', sql: 'BIGINT' },
  { name: 'type', sql: 'VARCHAR' },
  { name: 'value', sql: 'DOUBLE' },
  { name: 'duration', sql: 'DOUBLE' },
  { name: 'device', sql: 'VARCHAR' },
  { name: 'country', sql: 'VARCHAR' },
  { name: 'session_id', sql: 'VARCHAR' },
  { name: 'context', sql: 'VARCHAR' },
] as const;

/**
 * Joins the values of a composite entity key (user × item, user × device) in both engines, the key
 * index and the stores; ids and context values may not contain it (the validator refuses them).
 */
export const KEY_SEPARATOR = '\u0000';

export const LIFTED_CONTEXT_KEYS = ['device', 'country', 'session_id'] as const;

/** Item metadata as the readers and the generator produce it. */
export interface ItemMetadata {
  readonly itemId: string;
  readonly title: string | null;
  readonly year: number | null;
  readonly genres: readonly string[];
  /** When the item became available (ms), for cold start; null when unknown. */
  readonly releaseTs: number | null;
  /** Length in seconds, when known. */
  readonly duration: number | null;
}

export interface UserMetadata {
  readonly userId: string;
  readonly age: number | null;
  readonly gender: string | null;
  readonly occupation: string | null;
  readonly country: string | null;
}

/** The wire shape of an event (JSONL, HTTP): snake_case keys. */
export function eventToJson(e: InteractionEvent): Record<string, unknown> {
  const out: Record<string, unknown> = { event_id: e.eventId, user_id: e.userId };
  if (e.itemId !== null) out['item_id'] = e.itemId;
  out['ts'] = e.ts;
  out['type'] = e.type;
  if (e.value !== null) out['value'] = e.value;
  if (e.duration !== null) out['duration'] = e.duration;
  if (Object.keys(e.context).length > 0) out['context'] = e.context;
  return out;
}

/** Item metadata as the columns of the `items` table (what lookup views and `via` read). */
export function itemColumns(i: ItemMetadata): Record<string, string | number | readonly string[] | null> {
  return { item_id: i.itemId, title: i.title, year: i.year, genres: i.genres, release_ts: i.releaseTs, duration: i.duration };
}

/** User metadata as the columns of the `users` table. */
export function userColumns(u: UserMetadata): Record<string, string | number | null> {
  return { user_id: u.userId, age: u.age, gender: u.gender, occupation: u.occupation, country: u.country };
}
