/**
 * @module The stream engine: the same plan as the batch engine, kept incrementally. Events update
 * per-key state (tiles, decay accumulators, raw heads, sessions, pending negatives) as they
 * arrive; a read gives every feature as of a time, by the semantics contract. Late events are
 * accepted within the allowed lateness; duplicate ids are dropped.
 */
import { itemColumns, KEY_SEPARATOR, userColumns, type InteractionEvent, type ItemMetadata, type UserMetadata } from '../../events/schema.ts';
import { EMBEDDING_OUTPUT, type AggregationViewIR, type EmbeddingViewIR, type FeatureValue, type FeatureViewIR, type LookupViewIR, type SessionViewIR } from '../../features/ir.ts';
import type { CompiledFeatureSet } from '../../plan/compile.ts';
import { applyRequestFeatures, featureColumns, TIME_DERIVED_KEYS, type RequestFeatureStats } from '../../plan/rows.ts';
import type { EmbeddingTables } from '../../store/offline/embeddings.ts';
import { KeyState } from './key-state.ts';
import { NegativesLedger, playSetOf, type PendingNegative } from './negatives.ts';
import type { StreamRow } from './partials.ts';
import { projectWith, rowPasses, toStreamRow } from './rows.ts';
import { addToSession, compactSession, readSession, sessionFromRows, sessionRows, sweepSessions, type SessionRow, type SessionState } from './sessions.ts';
import { slotsForType, viewPlan, type ViewPlan } from './view-plan.ts';

export interface StreamOptions {
  /** How late (behind the newest event time seen) an event may arrive and still count; default 0. */
  readonly lateness?: number;
  readonly items?: readonly ItemMetadata[];
  readonly users?: readonly UserMetadata[];
  /** The embedding tables the embedding views read (loaded from the log, not streamed). */
  readonly embeddings?: EmbeddingTables;
  /** Forget old ids every this many applied events (default 4096; tests use 1 to sweep on every event). */
  readonly foldEvery?: number;
  /** Raw rows a key gathers before they fold into tiles (default 32; tests use 1 to fold on every event). */
  readonly foldBatch?: number;
  /** Told of every key an applied event changes, as the engine routes it (the server's key index). */
  readonly observer?: KeyObserver;
}

/** What an applied event did to the keys of aggregation and session views. */
export interface KeyObserver {
  /**
   * A row at `ts` went into the key's state (a derived negative: at the time it happens); `cols`
   * are the row's columns, from which the key was built (a composite key's parts, unjoined).
   */
  added(view: AggregationViewIR | SessionViewIR, key: string, ts: number, cols: Readonly<Record<string, string | number | null>>): void;
  /** The key's state changed without a new row (a play cancelled a pending negative). */
  changed(view: AggregationViewIR, key: string): void;
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
  readonly sessions: Record<string, [string, SessionRow[]][]>;
}

export { KEY_SEPARATOR };
const SEP = KEY_SEPARATOR;

/** The state key of a row: its key values joined; null when one is missing. */
function entityKey(keys: readonly string[], cols: Readonly<Record<string, string | number | null>>): string | null {
  if (keys.length === 1) {
    const v = cols[keys[0] as string];
    return v === null || v === undefined ? null : typeof v === 'string' ? v : String(v);
  }
  let out = '';
  for (let i = 0; i < keys.length; i++) {
    const v = cols[keys[i] as string];
    if (v === null || v === undefined) return null;
    out = i === 0 ? String(v) : `${out}${SEP}${String(v)}`;
  }
  return out;
}

/** The position of `x` in `list`, added at the end when new. */
function numberOf(list: string[], x: string): number {
  const i = list.indexOf(x);
  return i >= 0 ? i : list.push(x) - 1;
}

/** A user × item pair: how plays and pending negatives are kept. */
const PAIR_KEYS = ['user_id', 'item_id'] as const;

const EVENTS = 0;
const ABANDON = 1;
const IMPRESSION_NOT_PLAYED = 2;

/** An aggregation view as apply walks it, worked out once: its state, its stream's tests as sets. */
interface ViewRoute {
  readonly v: AggregationViewIR;
  readonly plan: ViewPlan;
  readonly states: Map<string, KeyState>;
  readonly keys: readonly string[];
  /** Index of its composite key in the per-event key cache; -1 when the key is one column or fans out. */
  readonly keyCache: number;
  /** Whether each category a row fans out to has a key of its own (the category is part of the key). */
  readonly keyPerCategory: boolean;
  /**
   * Views keyed by the same single column (user_id, mostly) share one look-up per event: index of
   * the group, and of this view in the group's per-key bundle; -1 when the view has no group.
   */
  readonly group: number;
  readonly member: number;
  readonly stream: typeof EVENTS | typeof ABANDON | typeof IMPRESSION_NOT_PLAYED;
  /** abandon: the ending types; impression_not_played: the impression types. */
  readonly types: ReadonlySet<string>;
  readonly playTypes: ReadonlySet<string>;
  /** impression_not_played: the number of its set of play types, among the views' distinct sets (the ledger keeps plays by it). */
  readonly playSet: number;
  readonly below: number;
  readonly timeoutMs: number;
}

export class StreamEngine {
  readonly lateness: number;
  /** The newest event time seen. */
  watermark = -Infinity;
  /** Sessions hold no closed session before this time (see `sweepSessions`): reads before it are refused. */
  private sessionsSweptTo = -Infinity;
  readonly counts = { applied: 0, duplicates: 0, late: 0 };
  private readonly items: Map<string, ItemMetadata>;
  private readonly users: Map<string, UserMetadata>;
  private readonly embeddings: EmbeddingTables;
  private readonly aggViews: AggregationViewIR[];
  private readonly routes: ViewRoute[];
  /** The current event's composite keys, by ViewRoute.keyCache (undefined: not built yet). */
  private readonly eventKeys: (string | null | undefined)[];
  /** Per group of views keyed by one column: key → the views' states (a cache of `state`, filled as keys are touched). */
  private groups: Map<string, (KeyState | undefined)[]>[];
  private readonly groupSizes: number[];
  /** The current event's bundle per group (undefined: not looked up yet). */
  private readonly eventBundles: ((KeyState | undefined)[] | undefined)[];
  private readonly sessionViews: SessionViewIR[];
  private readonly state = new Map<string, Map<string, KeyState>>();
  private readonly sessions = new Map<string, Map<string, SessionState>>();
  /** Event ids seen; forgotten (oldest arrival first) once a copy would be too late to count anyway. */
  private readonly seen = new Set<string>();
  /** Arrival order of `seen`: ids and their times side by side (no object per event). */
  private seenIds: string[] = [];
  private seenTs: number[] = [];
  private seenHead = 0;
  /** Plays and impressions waiting for their timeout, by user × item pair (negatives views). */
  private readonly negatives: NegativesLedger;
  /** Keys that may hold raw rows, so forget() folds them without walking every key. */
  private unfolded: KeyState[] = [];
  private applied = 0;
  private readonly foldEvery: number;
  private readonly foldBatch: number;
  private readonly observer: KeyObserver | undefined;
  private sweeps = 0;
  /** Keys, plays, pending negatives and sessions are swept every this many forgets (a full pass over them). */
  private readonly sweepEvery: number;

  constructor(readonly compiled: CompiledFeatureSet, options: StreamOptions = {}) {
    this.lateness = options.lateness ?? 0;
    this.foldEvery = options.foldEvery ?? 4096;
    this.foldBatch = options.foldBatch ?? 32;
    this.observer = options.observer;
    this.sweepEvery = options.foldEvery === undefined ? 16 : 1;
    this.items = new Map((options.items ?? []).map((i) => [i.itemId, i]));
    this.users = new Map((options.users ?? []).map((u) => [u.userId, u]));
    this.embeddings = options.embeddings ?? new Map();
    this.aggViews = compiled.ir.views.filter((v): v is AggregationViewIR => v.kind === 'aggregation');
    this.sessionViews = compiled.ir.views.filter((v): v is SessionViewIR => v.kind === 'session');
    for (const v of this.aggViews) this.state.set(v.name, new Map());
    for (const v of this.sessionViews) this.sessions.set(v.name, new Map());
    // Composite keys are built once per event and shared by the views (and the negatives' pairs) keyed alike.
    const composite = [PAIR_KEYS.join(SEP)];
    const playSets: string[] = [];
    const keyPerCategory = (v: AggregationViewIR) => v.via !== null && v.entity.keys.includes(v.via.as);
    const single = (v: AggregationViewIR) => (v.entity.keys.length === 1 && !keyPerCategory(v) ? (v.entity.keys[0] as string) : null);
    const groupCols = [...new Set(this.aggViews.map(single))].filter((c): c is string => c !== null && this.aggViews.filter((v) => single(v) === c).length > 1);
    const members = groupCols.map(() => 0);
    this.routes = this.aggViews.map((v) => {
      const s = v.stream;
      const spec = v.entity.keys.join(SEP);
      if (v.via === null && v.entity.keys.length > 1 && !composite.includes(spec)) composite.push(spec);
      return {
        v,
        plan: viewPlan(v),
        states: this.state.get(v.name) as Map<string, KeyState>,
        keys: v.entity.keys,
        keyCache: v.via === null && v.entity.keys.length > 1 ? composite.indexOf(spec) : -1,
        keyPerCategory: keyPerCategory(v),
        group: groupCols.indexOf(single(v) as string),
        member: groupCols.includes(single(v) as string) ? (members[groupCols.indexOf(single(v) as string)] as number)++ : -1,
        stream: s.kind === 'abandon' ? ABANDON : s.kind === 'impression_not_played' ? IMPRESSION_NOT_PLAYED : EVENTS,
        types: new Set(s.kind === 'abandon' ? s.types : s.kind === 'impression_not_played' ? s.impressionTypes : []),
        playTypes: new Set(s.kind === 'impression_not_played' ? s.playTypes : []),
        playSet: s.kind === 'impression_not_played' ? numberOf(playSets, playSetOf(s.playTypes)) : -1,
        below: s.kind === 'abandon' ? s.below : 0,
        timeoutMs: s.kind === 'impression_not_played' ? s.timeoutMs : 0,
      };
    });
    this.eventKeys = new Array<string | null | undefined>(composite.length).fill(undefined);
    this.groups = groupCols.map(() => new Map());
    this.groupSizes = members;
    this.eventBundles = new Array<(KeyState | undefined)[] | undefined>(groupCols.length).fill(undefined);
    this.negatives = new NegativesLedger(Math.max(0, ...this.routes.map((r) => r.timeoutMs)));
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
    this.seenIds.push(e.eventId);
    this.seenTs.push(e.ts);
    if (e.ts > this.watermark) this.watermark = e.ts;
    const row = toStreamRow(e, this.compiled.ir.weights);
    const horizon = this.watermark - 2 * this.lateness;
    this.eventKeys.fill(undefined);
    this.eventBundles.fill(undefined);
    const routes = this.routes;
    for (let i = 0; i < routes.length; i++) this.applyToView(routes[i] as ViewRoute, row, horizon);
    for (const v of this.sessionViews) this.applyToSession(v, row);
    this.counts.applied++;
    if (++this.applied % this.foldEvery === 0) this.forget();
    return 'applied';
  }

  private applyToView(r: ViewRoute, row: StreamRow, horizon: number): void {
    if (r.stream === EVENTS) {
      this.addToKeys(r, row, horizon, null);
      return;
    }
    const type = row.cols['type'] as string;
    if (r.stream === ABANDON) {
      const wf = row.cols['watch_fraction'];
      if (!r.types.has(type) || wf === null || (wf as number) >= r.below) return;
      this.addToKeys(r, row, horizon, null);
      return;
    }
    this.applyToNegatives(r, row, horizon, type);
  }

  /**
   * An impression_not_played view. Written with loops, not closures: a closure over the row would
   * make V8 allocate a context on every call of the function that holds it (every view, every
   * event): a fifth of the engine's allocation when this was part of applyToView.
   */
  private applyToNegatives(r: ViewRoute, row: StreamRow, horizon: number, type: string): void {
    const isPlay = r.playTypes.has(type);
    const isImpression = r.types.has(type);
    if ((!isPlay && !isImpression) || row.cols['item_id'] === null) return;
    const timeout = r.timeoutMs;
    const ts = row.ts;
    const pair = this.cachedKey(0, PAIR_KEYS, row.cols) as string;
    const ledger = this.negatives;
    ledger.touch(pair, ts);
    if (isPlay) {
      ledger.addPlay(pair, ts, r.playSet);
      // A play cancels the impressions it answers: those shown in [ts − timeout, ts).
      const answered = ledger.answered(pair, r.v.name, ts, timeout);
      for (let i = 0; i < answered.length; i++) {
        const p = answered[i] as PendingNegative;
        if (r.states.get(p.key)?.remove(p.eventId, p.ts + timeout)) this.observer?.changed(r.v, p.key);
      }
    }
    if (isImpression && !ledger.playedWithin(pair, ts, timeout, r.playSet)) {
      const derived: StreamRow = { ts: ts + timeout, eventId: row.eventId, cols: row.cols };
      this.addToKeys(r, derived, horizon, pair);
    }
  }

  /**
   * Adds a row under each key it belongs to (several when a view fans out through metadata). With
   * `pair` (a derived negative), each key is remembered so that a play can cancel it.
   */
  private addToKeys(r: ViewRoute, row: StreamRow, horizon: number, pair: string | null): void {
    // A row no aggregation of the view takes (by its type) changes no value: it needs no key, nor a place among the raw rows.
    if (slotsForType(r.plan, row.cols['type'] as string).length === 0) return;
    const via = r.v.via;
    if (via === null) {
      this.addToKey(r, r.keyCache < 0 ? entityKey(r.keys, row.cols) : this.cachedKey(r.keyCache, r.keys, row.cols), row, horizon, pair);
      return;
    }
    const item = via.table === 'items' ? this.items.get(row.cols['item_id'] as string) : undefined;
    const categories = item && via.column === 'genres' ? item.genres : [];
    // Without the category in the key, every category's row goes to the event's one key.
    const key = r.keyPerCategory || categories.length === 0 ? null : entityKey(r.keys, row.cols);
    for (let i = 0; i < categories.length; i++) {
      const c = categories[i] as string;
      if (categories.indexOf(c) < i) continue; // a category listed twice counts once
      const cols = projectWith(row.cols, r.plan.columns, via.as, c);
      const child: StreamRow = { ts: row.ts, eventId: row.eventId, cols };
      this.addToKey(r, r.keyPerCategory ? entityKey(r.keys, cols) : key, child, horizon, pair);
    }
  }

  /** The state of a view's key, made when first touched. */
  private stateOf(r: ViewRoute, key: string): KeyState {
    if (r.group < 0) {
      let st = r.states.get(key);
      if (st === undefined) {
        st = new KeyState(r.plan);
        r.states.set(key, st);
      }
      return st;
    }
    let bundle = this.eventBundles[r.group];
    if (bundle === undefined) {
      const m = this.groups[r.group] as Map<string, (KeyState | undefined)[]>;
      bundle = m.get(key);
      if (bundle === undefined) {
        bundle = new Array<KeyState | undefined>(this.groupSizes[r.group] as number).fill(undefined);
        m.set(key, bundle);
      }
      this.eventBundles[r.group] = bundle;
    }
    let st = bundle[r.member];
    if (st === undefined) {
      st = r.states.get(key);
      if (st === undefined) {
        st = new KeyState(r.plan);
        r.states.set(key, st);
      }
      bundle[r.member] = st;
    }
    return st;
  }

  private cachedKey(i: number, keys: readonly string[], cols: Readonly<Record<string, string | number | null>>): string | null {
    let k = this.eventKeys[i];
    if (k === undefined) {
      k = entityKey(keys, cols);
      this.eventKeys[i] = k;
    }
    return k;
  }

  private addToKey(r: ViewRoute, key: string | null, row: StreamRow, horizon: number, pair: string | null): void {
    if (key === null) return;
    const st = this.stateOf(r, key);
    // Folding is lazy, per key as it is touched: an idle key keeps its raw rows until then.
    st.fold(horizon, this.foldBatch);
    st.add(row);
    this.observer?.added(r.v, key, row.ts, row.cols);
    if (!st.queued) {
      st.queued = true;
      this.unfolded.push(st);
    }
    if (pair !== null) this.negatives.addPending(pair, { view: r.v.name, key, eventId: row.eventId, ts: row.ts - r.timeoutMs });
  }

  private applyToSession(v: SessionViewIR, row: StreamRow): void {
    if (!rowPasses(v.filter, row)) return;
    const user = row.cols['user_id'] as string;
    addToSession(this.sessions.get(v.name) as Map<string, SessionState>, user, row.ts, row.cols['item_id'] as string | null);
    this.observer?.added(v, user, row.ts, row.cols);
  }

  /** Forgets, every few thousand events, what no read from the fold horizon on can need. */
  private forget(): void {
    this.forgetBy(this.watermark, ++this.sweeps % this.sweepEvery === 0);
  }

  /**
   * How far past its newest event time (event time, ms) each kind of bookkeeping can still matter:
   * `settle(w)` has forgotten a user's recent ids once w passes their newest time + `ids`, and a
   * pair's plays and pending impressions once w passes their newest time + `pairs`.
   */
  forgetsAfter(): { readonly ids: number; readonly pairs: number } {
    return { ids: this.lateness, pairs: this.negatives.maxTimeout + 2 * this.lateness };
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
    const ids = this.seenIds;
    const ts = this.seenTs;
    while (this.seenHead < ids.length && (ts[this.seenHead] as number) < watermark - this.lateness) this.seen.delete(ids[this.seenHead++] as string);
    if (this.seenHead > 65_536 && this.seenHead * 2 > ids.length) {
      this.seenIds = ids.slice(this.seenHead);
      this.seenTs = ts.slice(this.seenHead);
      this.seenHead = 0;
    }
    // A key that went quiet keeps fewer than a fold batch of raw rows, and would keep them until touched again.
    if (sweep && Number.isFinite(this.foldBatch)) {
      const still: KeyState[] = [];
      for (const st of this.unfolded) {
        st.fold(horizon, 1);
        if (st.rows.length > 0) still.push(st);
        else st.queued = false;
      }
      this.unfolded = still;
    }
    this.negatives.forget(horizon);
    if (!sweep) return;
    for (const v of this.sessionViews) sweepSessions(this.sessions.get(v.name) as Map<string, SessionState>, horizon, v.gapMs);
    if (this.sessionViews.length > 0 && horizon > this.sessionsSweptTo) this.sessionsSweptTo = horizon;
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
    if (v.kind === 'embedding') return new Map([[EMBEDDING_OUTPUT.name, this.embeddingAt(v, keys[0] ?? null, t)?.vector ?? null]]);
    const raw = keys.includes(null) ? undefined : this.state.get(v.name)?.get(keys.length === 1 ? (keys[0] as string) : keys.join(SEP))?.read(t);
    // The key's own read, with defaults where nothing was aggregated (one map per read, not two:
    // the fetch path reads a view for every candidate).
    const out = raw ?? new Map<string, FeatureValue>();
    let ratios = false;
    for (const a of v.aggregations) {
      if (a.op === 'ratio') ratios = true;
      else out.set(a.name, out.get(a.name) ?? a.default ?? null);
    }
    // Without ratios `out` is already in the aggregations' order (the fetch path reads one per candidate).
    if (!ratios) return out;
    for (const a of v.aggregations) {
      if (a.op !== 'ratio') continue;
      const num = out.get(a.numerator as string);
      const den = out.get(a.denominator as string);
      out.set(a.name, typeof num === 'number' && typeof den === 'number' && den !== 0 ? num / den : a.default);
    }
    return new Map(v.aggregations.map((a) => [a.name, out.get(a.name) ?? null]));
  }

  /** The version of an embedding view's key as of t (ts < t), if any. */
  embeddingAt(v: EmbeddingViewIR, key: string | null, t: number): { readonly ts: number; readonly vector: readonly number[] } | undefined {
    return key === null ? undefined : this.embeddings.get(v.table)?.at(key, t);
  }

  private session(v: SessionViewIR, user: string | null, t: number): Map<string, FeatureValue> {
    // As aggregations refuse reads before their fold: a swept session would read as none.
    if (t < this.sessionsSweptTo) throw new RangeError(`cannot read sessions as of ${t}: events before ${this.sessionsSweptTo} are swept`);
    return readSession(v, user === null ? undefined : this.sessions.get(v.name)?.get(user), t);
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
      seen: this.seenIds.slice(this.seenHead).flatMap((id, i) => (this.seen.has(id) ? [[id, this.seenTs[this.seenHead + i] as number] as [string, number]] : [])),
      plays: [...this.negatives.plays.entries()],
      pendingNegatives: [...this.negatives.pending.entries()],
      views: Object.fromEntries([...this.state.entries()].map(([view, m]) => [view, [...m.entries()].map(([k, st]) => [k, st.toJSON()])])),
      sessions: Object.fromEntries([...this.sessions.entries()].map(([view, m]) => [view, [...m.entries()].map(([k, st]) => [k, sessionRows(st)])])),
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
      this.seenIds.push(id);
      this.seenTs.push(ts);
    }
    this.negatives.restore(snap.plays, snap.pendingNegatives);
    this.groups = this.groups.map(() => new Map());
    for (const r of this.routes) {
      for (const [k, data] of snap.views[r.v.name] ?? []) {
        // A key state already decoded (a serving read's, see readStoredState) is adopted as it is.
        const st = data instanceof KeyState ? data : KeyState.fromJSON(r.plan, data);
        r.states.set(k, st);
        if (st.rows.length > 0) {
          st.queued = true;
          this.unfolded.push(st);
        }
      }
    }
    for (const v of this.sessionViews) {
      const m = this.sessions.get(v.name) as Map<string, SessionState>;
      // Its own arrays: the snapshot may be shared (a parse kept by ParsedValues).
      for (const [k, rows] of snap.sessions[v.name] ?? []) m.set(k, sessionFromRows(rows));
    }
  }

  /** Compacts every key's state (see `KeyState.compact`): after a bulk load, such as a server's replay of the log. */
  compact(): void {
    for (const states of this.state.values()) for (const st of states.values()) st.compact();
    for (const m of this.sessions.values()) for (const st of m.values()) compactSession(st);
  }

  /** Keys held per view: for memory measurements. */
  sizes(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, m] of this.state) out[name] = m.size;
    for (const [name, m] of this.sessions) out[name] = m.size;
    return out;
  }
}
