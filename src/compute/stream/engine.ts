/**
 * @module The stream engine: the same plan as the batch engine, kept incrementally. Events update
 * per-key state (tiles, decay accumulators, raw heads, sessions, pending negatives) as they
 * arrive; a read gives every feature as of a time, by the semantics contract. Late events are
 * accepted within the allowed lateness; duplicate ids are dropped.
 */
import { itemColumns, userColumns, type InteractionEvent, type ItemMetadata, type UserMetadata } from '../../events/schema.ts';
import type { AggregationViewIR, FeatureValue, FeatureViewIR, LookupViewIR, SessionViewIR } from '../../features/ir.ts';
import type { CompiledFeatureSet } from '../../plan/compile.ts';
import { applyRequestFeatures, featureColumns, TIME_DERIVED_KEYS, type RequestFeatureStats } from '../../plan/rows.ts';
import { KeyState } from './key-state.ts';
import type { StreamRow } from './partials.ts';
import { rowPasses, toStreamRow } from './rows.ts';

export interface StreamOptions {
  /** How late (behind the newest event time seen) an event may arrive and still count; default 0. */
  readonly lateness?: number;
  readonly items?: readonly ItemMetadata[];
  readonly users?: readonly UserMetadata[];
  /** Forget old ids every this many applied events (default 4096; tests use 1 to sweep on every event). */
  readonly foldEvery?: number;
  /** Raw rows a key gathers before they fold into tiles (default 32; tests use 1 to fold on every event). */
  readonly foldBatch?: number;
}

export type ApplyOutcome = 'applied' | 'duplicate' | 'late';

export interface EngineSnapshot {
  readonly hash: string;
  readonly lateness: number;
  readonly watermark: number | null;
  readonly counts: { applied: number; duplicates: number; late: number };
  readonly seen: [string, number][];
  readonly plays: [string, number[]][];
  readonly pendingNegatives: [string, PendingNegative[]][];
  readonly views: Record<string, [string, unknown][]>;
  readonly sessions: Record<string, [string, { ts: number; item: string | null }[]][]>;
}

interface SessionState {
  /** (ts, item) of the user's recent events, in time order. */
  rows: { ts: number; item: string | null }[];
}

interface PendingNegative {
  readonly view: string;
  readonly key: string;
  readonly eventId: string;
  /** The impression's time; the derived event happens at ts + timeout. */
  readonly ts: number;
}

/** Joins the values of a composite entity key into the engine's state key. */
export const KEY_SEPARATOR = '\u0000';
const SEP = KEY_SEPARATOR;

/** The state key of a row: its key values joined; null when one is missing. */
function entityKey(keys: readonly string[], cols: Readonly<Record<string, string | number | null>>): string | null {
  if (keys.length === 1) {
    const v = cols[keys[0] as string];
    return v === null || v === undefined ? null : String(v);
  }
  let out = '';
  for (let i = 0; i < keys.length; i++) {
    const v = cols[keys[i] as string];
    if (v === null || v === undefined) return null;
    out = i === 0 ? String(v) : `${out}${SEP}${String(v)}`;
  }
  return out;
}

export class StreamEngine {
  readonly lateness: number;
  /** The newest event time seen. */
  watermark = -Infinity;
  readonly counts = { applied: 0, duplicates: 0, late: 0 };
  private readonly items: Map<string, ItemMetadata>;
  private readonly users: Map<string, UserMetadata>;
  private readonly aggViews: AggregationViewIR[];
  private readonly sessionViews: SessionViewIR[];
  private readonly state = new Map<string, Map<string, KeyState>>();
  private readonly sessions = new Map<string, Map<string, SessionState>>();
  /** Event ids seen; forgotten (oldest arrival first) once a copy would be too late to count anyway. */
  private readonly seen = new Set<string>();
  private seenQueue: { id: string; ts: number }[] = [];
  private seenHead = 0;
  /** Impressions waiting for their timeout, by user and item; plays by user and item. */
  private readonly pendingNegatives = new Map<string, PendingNegative[]>();
  private readonly plays = new Map<string, number[]>();
  private applied = 0;
  private readonly foldEvery: number;
  private readonly foldBatch: number;
  private sweeps = 0;
  /** Plays, pending negatives and sessions are swept every this many forgets (a full pass over them). */
  private readonly sweepEvery: number;

  constructor(readonly compiled: CompiledFeatureSet, options: StreamOptions = {}) {
    this.lateness = options.lateness ?? 0;
    this.foldEvery = options.foldEvery ?? 4096;
    this.foldBatch = options.foldBatch ?? 32;
    this.sweepEvery = options.foldEvery === undefined ? 64 : 1;
    this.items = new Map((options.items ?? []).map((i) => [i.itemId, i]));
    this.users = new Map((options.users ?? []).map((u) => [u.userId, u]));
    this.aggViews = compiled.ir.views.filter((v): v is AggregationViewIR => v.kind === 'aggregation');
    this.sessionViews = compiled.ir.views.filter((v): v is SessionViewIR => v.kind === 'session');
    for (const v of this.aggViews) this.state.set(v.name, new Map());
    for (const v of this.sessionViews) this.sessions.set(v.name, new Map());
  }

  /** Applies one validated event. */
  apply(e: InteractionEvent): ApplyOutcome {
    if (this.seen.has(e.eventId)) {
      this.counts.duplicates++;
      return 'duplicate';
    }
    if (e.ts < this.watermark - this.lateness) {
      this.counts.late++;
      return 'late';
    }
    this.seen.add(e.eventId);
    this.seenQueue.push({ id: e.eventId, ts: e.ts });
    if (e.ts > this.watermark) this.watermark = e.ts;
    const row = toStreamRow(e, this.compiled.ir.weights);
    for (const v of this.aggViews) this.applyToView(v, row);
    for (const v of this.sessionViews) this.applyToSession(v, row);
    this.counts.applied++;
    if (++this.applied % this.foldEvery === 0) this.forget();
    return 'applied';
  }

  private applyToView(v: AggregationViewIR, row: StreamRow): void {
    const s = v.stream;
    if (s.kind === 'abandon') {
      const wf = row.cols['watch_fraction'];
      if (!s.types.includes(row.cols['type'] as string) || wf === null || (wf as number) >= s.below) return;
      this.addToKeys(v, row);
      return;
    }
    if (s.kind === 'impression_not_played') {
      const type = row.cols['type'] as string;
      const pair = `${row.cols['user_id']}${SEP}${row.cols['item_id']}`;
      if (s.playTypes.includes(type) && row.cols['item_id'] !== null) {
        const plays = this.plays.get(pair) ?? [];
        plays.push(row.ts);
        this.plays.set(pair, plays);
        // A play cancels the impressions it answers: those shown in [ts − timeout, ts).
        const pending = this.pendingNegatives.get(pair) ?? [];
        for (const p of pending.filter((x) => x.view === v.name && x.ts < row.ts && row.ts <= x.ts + s.timeoutMs)) {
          this.state.get(v.name)?.get(p.key)?.remove(p.eventId, p.ts + s.timeoutMs);
        }
        this.pendingNegatives.set(pair, pending.filter((x) => !(x.view === v.name && x.ts < row.ts && row.ts <= x.ts + s.timeoutMs)));
      }
      if (s.impressionTypes.includes(type) && row.cols['item_id'] !== null) {
        if ((this.plays.get(pair) ?? []).some((p) => p > row.ts && p <= row.ts + s.timeoutMs)) return;
        const derived: StreamRow = { ts: row.ts + s.timeoutMs, eventId: row.eventId, cols: row.cols };
        for (const key of this.addToKeys(v, derived)) {
          const list = this.pendingNegatives.get(pair) ?? [];
          list.push({ view: v.name, key, eventId: row.eventId, ts: row.ts });
          this.pendingNegatives.set(pair, list);
        }
      }
      return;
    }
    this.addToKeys(v, row);
  }

  /** Adds a row under each key it belongs to (several when a view fans out through metadata); returns the keys. */
  private addToKeys(v: AggregationViewIR, row: StreamRow): string[] {
    const rows = v.via === null ? [row] : this.fanOut(v, row);
    const keys: string[] = [];
    const states = this.state.get(v.name) as Map<string, KeyState>;
    for (const r of rows) {
      const key = entityKey(v.entity.keys, r.cols);
      if (key === null) continue;
      let st = states.get(key);
      if (!st) {
        st = new KeyState(v);
        states.set(key, st);
      }
      // Folding is lazy, per key as it is touched: an idle key keeps its raw rows until then.
      st.fold(this.watermark - 2 * this.lateness, this.foldBatch);
      st.add(r);
      keys.push(key);
    }
    return keys;
  }

  private fanOut(v: AggregationViewIR, row: StreamRow): StreamRow[] {
    const via = v.via as NonNullable<AggregationViewIR['via']>;
    const item = via.table === 'items' ? this.items.get(row.cols['item_id'] as string) : undefined;
    const categories = [...new Set(item && via.column === 'genres' ? item.genres : [])];
    // The category rides on a child of the row's columns: no copy of the other fifteen per category.
    return categories.map((c) => {
      const cols = Object.create(row.cols) as Record<string, string | number | null>;
      cols[via.as] = c;
      return { ts: row.ts, eventId: row.eventId, cols };
    });
  }

  private applyToSession(v: SessionViewIR, row: StreamRow): void {
    if (!rowPasses(v.filter, row)) return;
    const user = row.cols['user_id'] as string;
    const states = this.sessions.get(v.name) as Map<string, SessionState>;
    let st = states.get(user);
    if (!st) {
      st = { rows: [] };
      states.set(user, st);
    }
    let i = st.rows.length;
    while (i > 0 && (st.rows[i - 1] as { ts: number }).ts > row.ts) i--;
    st.rows.splice(i, 0, { ts: row.ts, item: row.cols['item_id'] as string | null });
  }

  /** Forgets, every few thousand events, what no read from the fold horizon on can need. */
  private forget(): void {
    this.forgetBy(this.watermark, ++this.sweeps % this.sweepEvery === 0);
  }

  /**
   * Folds every key and forgets what is no longer needed, judged by `watermark` rather than the
   * engine's own: a caller that shares state among several consumers passes the slowest one's.
   */
  settle(watermark: number): void {
    if (!Number.isFinite(watermark)) return;
    const horizon = watermark - 2 * this.lateness;
    for (const states of this.state.values()) for (const st of states.values()) st.fold(horizon, 1);
    this.forgetBy(watermark, true);
  }

  /** Ids a copy of which would be late anyway; with `sweep`, also plays, pending negatives and closed sessions. */
  private forgetBy(watermark: number, sweep: boolean): void {
    const horizon = watermark - 2 * this.lateness;
    const q = this.seenQueue;
    while (this.seenHead < q.length && (q[this.seenHead] as { ts: number }).ts < watermark - this.lateness) this.seen.delete((q[this.seenHead++] as { id: string }).id);
    if (this.seenHead > 65_536 && this.seenHead * 2 > q.length) {
      this.seenQueue = q.slice(this.seenHead);
      this.seenHead = 0;
    }
    if (!sweep) return;
    const maxTimeout = Math.max(0, ...this.aggViews.map((v) => (v.stream.kind === 'impression_not_played' ? v.stream.timeoutMs : 0)));
    for (const [pair, ts] of this.plays) {
      const keep = ts.filter((p) => p >= horizon - maxTimeout);
      if (keep.length === 0) this.plays.delete(pair);
      else this.plays.set(pair, keep);
    }
    for (const [pair, list] of this.pendingNegatives) {
      const keep = list.filter((p) => p.ts + maxTimeout >= horizon);
      if (keep.length === 0) this.pendingNegatives.delete(pair);
      else this.pendingNegatives.set(pair, keep);
    }
    for (const v of this.sessionViews) {
      for (const st of (this.sessions.get(v.name) as Map<string, SessionState>).values()) {
        // Keep the session open at the horizon and everything after it.
        let i = st.rows.length - 1;
        while (i > 0 && (st.rows[i] as { ts: number }).ts >= horizon) i--;
        while (i > 0 && (st.rows[i] as { ts: number }).ts - (st.rows[i - 1] as { ts: number }).ts < v.gapMs) i--;
        if (i > 0) st.rows = st.rows.slice(i);
      }
    }
  }

  /** Every feature column (featureColumns order) as of t for a request's fields. */
  features(fields: Readonly<Record<string, string | number | null>>, t: number, stats: RequestFeatureStats = { errors: 0, firstError: null }): FeatureValue[] {
    const values = new Map<string, FeatureValue>();
    for (const v of this.compiled.ir.views) for (const [name, value] of this.readView(v, fields, t)) values.set(`${v.name}:${name}`, value);
    const crosses = applyRequestFeatures(this.compiled, (ref) => values.get(ref), { ...fields, ts: t }, stats);
    let c = 0;
    return featureColumns(this.compiled.ir).map((col) => (col.view === null ? (crosses[c++] ?? null) : (values.get(col.ref) ?? null)));
  }

  /** One view's outputs as of t (defaults applied). */
  readView(v: FeatureViewIR, fields: Readonly<Record<string, string | number | null>>, t: number): Map<string, FeatureValue> {
    const keys = v.entity.keys.map((k) => {
      const x = fields[k];
      if (x !== undefined && x !== null) return String(x);
      const derive = TIME_DERIVED_KEYS[k];
      return derive ? derive(t) : null;
    });
    if (v.kind === 'lookup') return this.lookup(v, keys[0] ?? null);
    if (v.kind === 'session') return this.session(v, keys[0] ?? null, t);
    const raw = keys.some((k) => k === null) ? undefined : this.state.get(v.name)?.get(keys.join(SEP))?.read(t);
    const out = new Map<string, FeatureValue>();
    for (const a of v.aggregations) if (a.op !== 'ratio') out.set(a.name, raw?.get(a.name) ?? a.default);
    for (const a of v.aggregations) {
      if (a.op !== 'ratio') continue;
      const num = out.get(a.numerator as string);
      const den = out.get(a.denominator as string);
      out.set(a.name, typeof num === 'number' && typeof den === 'number' && den !== 0 ? num / den : a.default);
    }
    return new Map(v.aggregations.map((a) => [a.name, out.get(a.name) ?? null]));
  }

  private session(v: SessionViewIR, user: string | null, t: number): Map<string, FeatureValue> {
    const out = new Map<string, FeatureValue>([
      ['session_event_count', 0],
      ['session_item_count', 0],
      ['session_length_ms', null],
      ['session_age_ms', null],
    ]);
    const rows = user === null ? undefined : this.sessions.get(v.name)?.get(user)?.rows;
    if (!rows) return out;
    let last = rows.length - 1;
    while (last >= 0 && (rows[last] as { ts: number }).ts >= t) last--;
    if (last < 0 || t - (rows[last] as { ts: number }).ts >= v.gapMs) return out;
    let first = last;
    while (first > 0 && (rows[first] as { ts: number }).ts - (rows[first - 1] as { ts: number }).ts < v.gapMs) first--;
    const inSession = rows.slice(first, last + 1);
    const start = (inSession[0] as { ts: number }).ts;
    out.set('session_event_count', inSession.length);
    out.set('session_item_count', new Set(inSession.filter((r) => r.item !== null).map((r) => r.item)).size);
    out.set('session_length_ms', (rows[last] as { ts: number }).ts - start);
    out.set('session_age_ms', t - start);
    return out;
  }

  private lookup(v: LookupViewIR, key: string | null): Map<string, FeatureValue> {
    const out = new Map<string, FeatureValue>();
    const i = v.table === 'items' && key !== null ? this.items.get(key) : undefined;
    const u = v.table === 'users' && key !== null ? this.users.get(key) : undefined;
    const record: Record<string, unknown> | undefined = i ? itemColumns(i) : u ? userColumns(u) : undefined;
    for (const c of v.columns) {
      const value = record?.[c.name];
      out.set(c.name, value === undefined || value === null ? c.default : (value as FeatureValue));
    }
    return out;
  }

  /**
   * Everything the engine holds, as JSON-safe data: restore it into an engine of the same feature
   * set (checked by its semantic hash) and it continues exactly where this one stopped.
   */
  snapshot(): EngineSnapshot {
    const fin = (x: number) => (Number.isFinite(x) ? x : null);
    return {
      hash: this.compiled.hash,
      lateness: this.lateness,
      watermark: fin(this.watermark),
      counts: { ...this.counts },
      seen: this.seenQueue.slice(this.seenHead).filter((x) => this.seen.has(x.id)).map((x) => [x.id, x.ts]),
      plays: [...this.plays.entries()],
      pendingNegatives: [...this.pendingNegatives.entries()],
      views: Object.fromEntries([...this.state.entries()].map(([view, m]) => [view, [...m.entries()].map(([k, st]) => [k, st.toJSON()])])),
      sessions: Object.fromEntries([...this.sessions.entries()].map(([view, m]) => [view, [...m.entries()].map(([k, st]) => [k, st.rows])])),
    };
  }

  restore(snap: EngineSnapshot): void {
    if (snap.hash !== this.compiled.hash) {
      throw new Error(`the snapshot is of feature set ${snap.hash}, this engine runs ${this.compiled.hash}: replay the log instead`);
    }
    this.watermark = snap.watermark ?? -Infinity;
    Object.assign(this.counts, snap.counts);
    for (const [id, ts] of snap.seen) {
      this.seen.add(id);
      this.seenQueue.push({ id, ts });
    }
    for (const [k, v] of snap.plays) this.plays.set(k, v);
    for (const [k, v] of snap.pendingNegatives) this.pendingNegatives.set(k, v);
    for (const v of this.aggViews) {
      const m = this.state.get(v.name) as Map<string, KeyState>;
      for (const [k, data] of snap.views[v.name] ?? []) m.set(k, KeyState.fromJSON(v, data));
    }
    for (const v of this.sessionViews) {
      const m = this.sessions.get(v.name) as Map<string, SessionState>;
      for (const [k, rows] of snap.sessions[v.name] ?? []) m.set(k, { rows });
    }
  }

  /** Keys held per view: for memory measurements. */
  sizes(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, m] of this.state) out[name] = m.size;
    for (const [name, m] of this.sessions) out[name] = m.size;
    return out;
  }
}
