/**
 * @module Session views in the stream engine: each user's recent event times and items in time
 * order, from which the session open at t is read (gap-based: events so far, distinct items, its
 * length, time since it started), and from which closed sessions are swept.
 */
import type { FeatureValue, SessionViewIR } from '../../features/ir.ts';

/**
 * The user's recent events, in time order: their times and items side by side rather than an
 * object per event (as snapshots list them), since every event lands here and stays until a sweep.
 */
export interface SessionState {
  ts: number[];
  items: (string | null)[];
}

/** A session row as snapshots hold it. */
export interface SessionRow {
  ts: number;
  item: string | null;
}

/** Adds one event to its user's state in time order (a late one is inserted in its place). */
export function addToSession(states: Map<string, SessionState>, user: string, ts: number, item: string | null): void {
  let st = states.get(user);
  if (!st) {
    st = { ts: [], items: [] };
    states.set(user, st);
  }
  const times = st.ts;
  let i = times.length;
  while (i > 0 && (times[i - 1] as number) > ts) i--;
  if (i === times.length) {
    times.push(ts);
    st.items.push(item);
  } else {
    times.splice(i, 0, ts);
    st.items.splice(i, 0, item);
  }
}

/** Keeps, per user, the session open at `horizon` and everything after it: no read from the horizon on needs more. */
export function sweepSessions(states: Map<string, SessionState>, horizon: number, gapMs: number): void {
  for (const st of states.values()) {
    const times = st.ts;
    let i = times.length - 1;
    while (i > 0 && (times[i] as number) >= horizon) i--;
    while (i > 0 && (times[i] as number) - (times[i - 1] as number) < gapMs) i--;
    if (i > 0) {
      st.ts = times.slice(i);
      st.items = st.items.slice(i);
    }
  }
}

/** The features of the session open at t (events strictly before t, no gap of `gapMs` since the last). */
export function readSession(v: SessionViewIR, st: SessionState | undefined, t: number): Map<string, FeatureValue> {
  const out = new Map<string, FeatureValue>([
    ['session_event_count', 0],
    ['session_item_count', 0],
    ['session_length_ms', null],
    ['session_age_ms', null],
  ]);
  if (!st) return out;
  const times = st.ts;
  let last = times.length - 1;
  while (last >= 0 && (times[last] as number) >= t) last--;
  if (last < 0 || t - (times[last] as number) >= v.gapMs) return out;
  let first = last;
  while (first > 0 && (times[first] as number) - (times[first - 1] as number) < v.gapMs) first--;
  const start = times[first] as number;
  out.set('session_event_count', last + 1 - first);
  out.set('session_item_count', new Set(st.items.slice(first, last + 1).filter((item) => item !== null)).size);
  out.set('session_length_ms', (times[last] as number) - start);
  out.set('session_age_ms', t - start);
  return out;
}

export function sessionRows(st: SessionState): SessionRow[] {
  return st.ts.map((ts, i) => ({ ts, item: st.items[i] as string | null }));
}

/** A state from snapshot rows, with arrays of its own (the snapshot may be shared). */
export function sessionFromRows(rows: readonly SessionRow[]): SessionState {
  return { ts: rows.map((r) => r.ts), items: rows.map((r) => r.item) };
}

/** Copies the arrays to their exact length (after a bulk load their spare capacity is waste). */
export function compactSession(st: SessionState): void {
  st.ts = st.ts.slice();
  st.items = st.items.slice();
}
