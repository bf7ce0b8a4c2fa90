/**
 * @module `POST /v1/recommendations`: candidates from the online state and the catalogue (trending,
 * continue-watching, the user's top genres, new releases, minus what the user recently ignored or
 * completed), their features by the /v1/features fetch path in one call, scores by the feature
 * ranker, and TreeSHAP contributions as the reason for each item. A user with no history gets
 * trending items and new releases (cold start); unknown items are scored on defaults.
 */
import type { FastifyInstance } from 'fastify';
import { RecsignalError, type Problem } from '../core/errors.ts';
import type { ItemMetadata } from '../events/schema.ts';
import { itemColumns } from '../events/schema.ts';
import type { AggregationIR, AggregationViewIR, FeatureValue } from '../features/ir.ts';
import type { RequestFeatureStats } from '../plan/rows.ts';
import { featureColumns } from '../plan/rows.ts';
import { encodeValue, type FeatureRanker, type RankerEncoding } from '../models/feature-ranker.ts';
import type { VectorIndex } from '../models/vector-index.ts';
import { featureReads, fetchFeatures, type FeaturesResponse } from './fetch.ts';
import { invalidInput } from './http-errors.ts';
import type { Fields, ServingState } from './online-state.ts';
import { selectRefs, type ServingPlan } from './plan.ts';
import { contextFields, describe, MAX_CANDIDATES } from './requests.ts';

export const MAX_K = 1000;
const BODY_KEYS = new Set(['user', 'k', 'context', 'candidates']);
/** A last watch fraction at or above this is a completed item: not recommended again, not "continue". */
const COMPLETED = 0.9;
const WHY = 5;
const TRENDING_KEEP = 200;
const POOL = { trending: 100, newReleases: 50, perGenre: 40, similar: 50 } as const;
const DAY_MS = 86_400_000;

export interface RecommendationsBody {
  readonly user: string;
  readonly k: number;
  readonly context: Fields;
  readonly candidates: readonly string[] | undefined;
}

export interface Why {
  readonly feature: string;
  readonly value: number | null;
  readonly contribution: number;
}

export interface RecommendationsResponse {
  readonly user: string;
  readonly ts: number;
  /** The model's expected raw score: each item's score is `base` plus its `why` contributions. */
  readonly base: number;
  readonly items: readonly { readonly item: string; readonly score: number; readonly why: readonly Why[] }[];
  readonly candidates: Readonly<Record<string, number>>;
  /** The user has no state in any user view (false while that cannot be read: see `degraded`). */
  readonly cold_start: boolean;
  /**
   * The online store did not answer for this request: the user's history could not be read, so the
   * items come from the last trending list, new releases and the catalogue, scored on defaults.
   */
  readonly degraded: boolean;
}

export function parseRecommendationsBody(body: unknown): RecommendationsBody {
  const example = 'send {"user": "u1", "k": 10, "context": {"device": "tv"}} (optionally "candidates": ["i1", "i2"])';
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw invalidInput('bad /v1/recommendations request', [{ path: '(body)', message: `expected a JSON object, got ${describe(body)}`, fix: example }]);
  }
  const b = body as Record<string, unknown>;
  const problems: Problem[] = [];
  for (const key of Object.keys(b)) {
    if (!BODY_KEYS.has(key)) problems.push({ path: key, message: 'is not a field of a recommendations request', fix: `use only: ${[...BODY_KEYS].join(', ')}; request data such as device goes in context` });
  }
  const user = b['user'];
  if (typeof user !== 'string' || user === '') {
    problems.push({ path: 'user', message: user === undefined ? 'is missing' : `must be a non-empty string, got ${describe(user)}`, fix: 'send the user id as a JSON string, e.g. "user": "u1"' });
  }
  const k = b['k'] ?? 10;
  if (typeof k !== 'number' || !Number.isInteger(k) || k < 1 || k > MAX_K) {
    problems.push({ path: 'k', message: `must be a whole number from 1 to ${MAX_K}, got ${describe(k)}`, fix: 'send how many items to return, e.g. "k": 10' });
  }
  const context = contextFields(b['context'], 'context', problems, (key) =>
    key === 'user_id' ? 'name the user in "user" at the top level, not in context'
    : key === 'ts' ? 'leave ts out: recommendations are as of the server\'s clock'
    : 'leave item_id out of context: candidates are generated, or sent as "candidates": ["i1", "i2"]');
  let candidates: string[] | undefined;
  const c = b['candidates'];
  if (c !== undefined && c !== null) {
    const fix = 'send item ids, e.g. "candidates": ["i1", "i2"], or leave candidates out to have them generated';
    if (!Array.isArray(c) || c.length === 0) problems.push({ path: 'candidates', message: Array.isArray(c) ? 'is empty' : `must be an array of strings, got ${describe(c)}`, fix });
    else if (c.length > MAX_CANDIDATES) problems.push({ path: 'candidates', message: `has ${c.length} entries, more than ${MAX_CANDIDATES}`, fix: `send at most ${MAX_CANDIDATES} candidates` });
    else {
      const bad = c.findIndex((x) => typeof x !== 'string' || x === '');
      if (bad >= 0) problems.push({ path: `candidates[${bad}]`, message: `must be a non-empty string, got ${describe(c[bad])}`, fix });
      else candidates = [...new Set(c as string[])];
    }
  }
  if (problems.length > 0) throw invalidInput('bad /v1/recommendations request', problems);
  return { user: user as string, k: k as number, context, candidates };
}

/** Where a model feature's value comes from in a fetch: the user block, the candidate block, or the request. */
type Source = { readonly at: 'user' | 'item'; readonly index: number } | { readonly at: 'context'; readonly name: string };

/** The refs candidate generation reads, found in the feature set by what they compute; null when it has none. */
interface Signals {
  readonly recentPlays: string | null;
  readonly ignored: string | null;
  readonly topGenres: { readonly ref: string; readonly column: string; readonly histogram: boolean } | null;
  readonly lastWatch: string | null;
  /** Item play counts over short windows, each weighted by 1 / window days. */
  readonly trending: readonly { readonly ref: string; readonly weight: number }[];
  /** One ref of each timed user view: a user with none PRESENT has no history. */
  readonly presence: readonly string[];
}

export interface RecommenderOptions {
  readonly plan: ServingPlan;
  readonly state: ServingState;
  readonly ranker: FeatureRanker;
  readonly items: readonly ItemMetadata[];
  /**
   * Items of the catalogue beyond those with metadata: the log's (see `FeatureServer.start`), so a
   * log without an items table still has trending items and a catalogue to fill from. Items that
   * arrive later join through `noteItem`.
   */
  readonly moreItems?: readonly string[];
  readonly clock: () => number;
  readonly stats: RequestFeatureStats;
  /** How stale (wall ms) the trending list may get before a request refreshes it; default 5 s. */
  readonly trendingRefreshMs?: number;
  /**
   * Item embeddings: a user with recent plays also gets the items nearest to them (source
   * `similar`), new items placed by their metadata among them.
   */
  readonly embeddings?: VectorIndex;
}

/** Holds the catalogue indexes and the trending list between requests. */
export class Recommender {
  readonly signals: Signals;
  private readonly refs: string[];
  private readonly encodings: RankerEncoding[];
  private readonly names: string[];
  /** Items with metadata first (in its order), then the others as they became known. */
  private readonly catalogue: string[];
  private readonly inCatalogue: Set<string>;
  private readonly newest: ItemMetadata[];
  private readonly byCategory = new Map<string, string[]>();
  private trending: { items: string[]; at: number } | null = null;
  private refreshing: Promise<void> | null = null;

  constructor(private readonly o: RecommenderOptions) {
    this.signals = findSignals(o.plan);
    const byColumn = new Map(featureColumns(o.plan.compiled.ir).map((c) => [c.column, c.ref]));
    this.refs = o.ranker.features.map((f) => byColumn.get(f.column) ?? '');
    // A column that is not a feature of this set is read from the request's context (a spine
    // column such as device); one named as a view's feature (view__feature) is a model trained on
    // another feature set, which would score every item on nulls.
    const missing = o.ranker.features.filter((f, i) => this.refs[i] === '' && f.column.includes('__')).map((f) => f.column);
    if (missing.length > 0) {
      throw new RecsignalError('INVALID_ARGUMENT', `the model reads ${missing.length} feature${missing.length === 1 ? '' : 's'} this feature set does not have (${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', …' : ''}); serve it with the feature set it was trained on, or train it again on this one`);
    }
    this.encodings = o.ranker.features.map((f) => f.encoding);
    this.names = o.ranker.features.map((f, i) => (this.refs[i] ? `${this.refs[i]}${f.encoding === 'number' ? '' : `.${f.encoding}`}` : `context.${f.column}`));
    this.catalogue = o.items.map((i) => i.itemId);
    this.inCatalogue = new Set(this.catalogue);
    for (const id of o.moreItems ?? []) this.noteItem(id);
    this.newest = o.items.filter((i) => i.releaseTs !== null).sort((a, b) => (b.releaseTs as number) - (a.releaseTs as number) || (a.itemId < b.itemId ? -1 : 1));
    const tg = this.signals.topGenres;
    if (tg !== null) {
      for (const it of this.newest.concat(o.items.filter((i) => i.releaseTs === null))) {
        const cats = itemColumns(it)[tg.column];
        for (const c of Array.isArray(cats) ? cats : typeof cats === 'string' ? [cats] : []) {
          const list = this.byCategory.get(String(c)) ?? [];
          list.push(it.itemId);
          this.byCategory.set(String(c), list);
        }
      }
    }
  }

  /** An item seen in an accepted event joins the catalogue (trending, fill-ups) if it is not in it. */
  noteItem(id: string | null): void {
    if (id === null || this.inCatalogue.has(id)) return;
    this.inCatalogue.add(id);
    this.catalogue.push(id);
  }

  /**
   * Each candidate source's items for a user as of t, in source order, before the union drops
   * repeats and excluded items: what `recommend` pools, and what `candidateRecallBySource` measures.
   */
  async candidateSources(b: Pick<RecommendationsBody, 'user' | 'context'>, t: number): Promise<{ cold: boolean; unavailable: boolean; recent: string[]; excluded: string[]; sources: [string, readonly string[]][] }> {
    const trending = await this.trendingItems(t);
    const user = await this.userHistory(b, t);
    const sources: [string, readonly string[]][] = !user.known
      ? [['trending', trending.slice(0, POOL.trending)], ['new_releases', this.newReleases(t)]]
      : [
          ['continue_watching', user.recent],
          ['similar', this.similarTo(user.recent)],
          ['top_genres', user.genres.flatMap((g) => (this.byCategory.get(g) ?? []).slice(0, POOL.perGenre))],
          ['trending', trending.slice(0, POOL.trending)],
          ['new_releases', this.newReleases(t)],
        ];
    // An item ignored once and played since is no longer ignored (it would drop out of continue watching).
    return { cold: !user.known && !user.unavailable, unavailable: user.unavailable, recent: user.recent, excluded: user.ignored.filter((i) => !user.recent.includes(i)), sources };
  }

  /** The items nearest to the centroid of `recent` in the embedding index (none without one). */
  private similarTo(recent: readonly string[]): string[] {
    const index = this.o.embeddings;
    if (index === undefined || recent.length === 0) return [];
    const q = index.centroid(recent);
    return q === undefined ? [] : index.search(q, POOL.similar, new Set(recent)).map((n) => n.id);
  }

  /** Model features the feature set does not compute: read from the request's context by column name. */
  get contextFeatures(): string[] {
    return this.o.ranker.features.filter((_, i) => this.refs[i] === '').map((f) => f.column);
  }

  async recommend(b: RecommendationsBody): Promise<RecommendationsResponse> {
    const { ranker } = this.o;
    const t = this.o.clock();
    const sig = this.signals;
    const counts: Record<string, number> = {};
    let pool: { item: string; source: string }[];
    let cold = false;
    let unavailable = false;
    const excluded = new Set<string>();
    const seen = new Set<string>();
    let recent: string[] = [];
    if (b.candidates !== undefined) {
      pool = b.candidates.map((item) => ({ item, source: 'request' }));
      const user = await this.userHistory(b, t);
      cold = !user.known && !user.unavailable;
      unavailable = user.unavailable;
    } else {
      const generated = await this.candidateSources(b, t);
      cold = generated.cold;
      unavailable = generated.unavailable;
      recent = generated.recent;
      for (const i of generated.excluded) excluded.add(i);
      const sources = generated.sources;
      pool = [];
      for (const [source, items] of sources) {
        for (const item of items) {
          if (seen.has(item) || excluded.has(item)) continue;
          seen.add(item);
          pool.push({ item, source });
        }
      }
      // A small catalogue or a quiet log: fill up from the catalogue so k items come back when there are k.
      pool.push(...this.catalogueFill(b.k - pool.length, seen, excluded));
    }

    // One fetch for every candidate: the model's features plus the last watch fraction.
    const wanted = [...new Set([...this.refs.filter((r) => r !== ''), ...(sig.lastWatch ? [sig.lastWatch] : [])])];
    const recentSet = new Set(recent);
    const d = this.refs.length;
    const kept: { item: string; row: Float64Array; score: number }[] = [];
    const score = async (batch: readonly { item: string; source: string }[]) => {
      const f = await this.fetch(wanted, b, batch.map((p) => p.item), t);
      const sources = this.sources(f);
      const lastWatchAt = sig.lastWatch === null ? -1 : f.items.features.indexOf(sig.lastWatch);
      batch.forEach((p, c) => {
        const lw = lastWatchAt >= 0 ? f.items.values[c]?.[lastWatchAt] : null;
        const completed = typeof lw === 'number' && lw >= COMPLETED;
        if (completed && p.source !== 'request') return;
        const source = p.source === 'continue_watching' || !recentSet.has(p.item) ? p.source : 'continue_watching';
        counts[source] = (counts[source] ?? 0) + 1;
        const row = new Float64Array(d);
        for (let j = 0; j < d; j++) row[j] = encodeValue(valueOf(sources[j] as Source, f, c, b.context), this.encodings[j] as RankerEncoding);
        kept.push({ item: p.item, row, score: ranker.score(row) });
      });
    };
    await score(pool);
    // Completed items leave only once fetched: fill up again while fewer than k are left and the catalogue has more.
    for (let more = b.candidates === undefined ? this.catalogueFill(b.k - kept.length, seen, excluded) : []; more.length > 0; more = this.catalogueFill(b.k - kept.length, seen, excluded)) await score(more);
    kept.sort((x, y) => y.score - x.score || (x.item < y.item ? -1 : x.item > y.item ? 1 : 0));
    let base = 0;
    const items = kept.slice(0, b.k).map((x) => {
      const phi = ranker.gbdt.contributions(x.row);
      base = phi[d] as number;
      return { item: x.item, score: x.score, why: this.why(phi, x.row) };
    });
    if (items.length === 0) base = ranker.gbdt.contributions(new Float64Array(d).fill(NaN))[d] as number;
    return { user: b.user, ts: t, base, items, candidates: counts, cold_start: cold, degraded: unavailable };
  }

  /** Up to n catalogue items not yet pooled nor excluded, marked as pooled. */
  private catalogueFill(n: number, seen: Set<string>, excluded: ReadonlySet<string>): { item: string; source: string }[] {
    const out: { item: string; source: string }[] = [];
    for (let i = 0; i < this.catalogue.length && out.length < n; i++) {
      const item = this.catalogue[i] as string;
      if (seen.has(item) || excluded.has(item)) continue;
      seen.add(item);
      out.push({ item, source: 'catalogue' });
    }
    return out;
  }

  /** The largest contributions, and the rest summed in one entry, so that base + Σ contribution = score. */
  private why(phi: Float64Array, row: Float64Array): Why[] {
    const d = row.length;
    const order = Array.from({ length: d }, (_, j) => j).filter((j) => phi[j] !== 0).sort((a, b) => Math.abs(phi[b] as number) - Math.abs(phi[a] as number) || a - b);
    const out: Why[] = order.slice(0, WHY).map((j) => ({ feature: this.names[j] as string, value: Number.isNaN(row[j]) ? null : (row[j] as number), contribution: phi[j] as number }));
    const rest = order.slice(WHY);
    if (rest.length > 0) out.push({ feature: `(${rest.length} other features)`, value: null, contribution: rest.reduce((s, j) => s + (phi[j] as number), 0) });
    return out;
  }

  private async fetch(refs: readonly string[], b: Pick<RecommendationsBody, 'user' | 'context'>, items: readonly string[], t: number): Promise<FeaturesResponse> {
    const sel = selectRefs(this.o.plan, refs.length > 0 ? refs : undefined);
    const q = { userId: b.user, items, context: b.context, t };
    const reader = await this.o.state.reader(t, featureReads(sel, q));
    return fetchFeatures(reader, this.o.plan, sel, q, this.o.stats);
  }

  private sources(f: FeaturesResponse): Source[] {
    return this.refs.map((ref, j) => {
      if (ref === '') return { at: 'context', name: (this.o.ranker.features[j] as { column: string }).column };
      const u = f.user.features.indexOf(ref);
      return u >= 0 ? { at: 'user', index: u } : { at: 'item', index: f.items.features.indexOf(ref) };
    });
  }

  /** What candidate generation needs of the user: history or not, recent plays, ignored items, top genres. */
  private async userHistory(b: Pick<RecommendationsBody, 'user' | 'context'>, t: number): Promise<{ known: boolean; unavailable: boolean; recent: string[]; ignored: string[]; genres: string[] }> {
    const s = this.signals;
    const refs = [...new Set([...s.presence, ...(s.recentPlays ? [s.recentPlays] : []), ...(s.ignored ? [s.ignored] : []), ...(s.topGenres ? [s.topGenres.ref] : [])])];
    if (refs.length === 0) return { known: false, unavailable: false, recent: [], ignored: [], genres: [] };
    const f = await this.fetch(refs, b, [], t);
    const get = (ref: string | null): FeatureValue => (ref === null ? null : (f.user.values[f.user.features.indexOf(ref)] ?? null));
    const known = f.user.statuses.some((st) => st === 'PRESENT' || st === 'STALE');
    // A store that did not answer says nothing about the user: not a new user, a degraded answer.
    const unavailable = f.user.statuses.some((st) => st === 'UNAVAILABLE');
    const list = (v: FeatureValue) => (Array.isArray(v) ? (v as string[]) : []);
    let genres: string[] = [];
    const g = get(s.topGenres?.ref ?? null);
    if (Array.isArray(g)) genres = g as string[];
    else if (g !== null && typeof g === 'object') {
      genres = Object.entries(g as Record<string, number>).filter(([, w]) => w > 0).sort((x, y) => y[1] - x[1]).slice(0, 3).map(([k]) => k);
    }
    return { known, unavailable, recent: list(get(s.recentPlays)), ignored: list(get(s.ignored)), genres };
  }

  private newReleases(t: number): string[] {
    const out: string[] = [];
    for (const i of this.newest) {
      if ((i.releaseTs as number) > t) continue;
      out.push(i.itemId);
      if (out.length >= POOL.newReleases) break;
    }
    return out;
  }

  /** The catalogue by recent plays, recomputed at most every `trendingRefreshMs` (stale while it refreshes). */
  private async trendingItems(t: number): Promise<string[]> {
    const now = Date.now();
    if (this.trending === null || now - this.trending.at > (this.o.trendingRefreshMs ?? 5000)) {
      this.refreshing ??= this.refreshTrending(t).finally(() => (this.refreshing = null));
      if (this.trending === null) await this.refreshing;
    }
    return this.trending?.items ?? [];
  }

  private async refreshTrending(t: number): Promise<void> {
    const refs = this.signals.trending;
    if (refs.length === 0 || this.catalogue.length === 0) {
      this.trending = { items: [], at: Date.now() };
      return;
    }
    const f = await this.fetch(refs.map((r) => r.ref), { user: '', context: {} }, this.catalogue, t);
    // The store did not answer: every count reads as its default. Keep the last list (retried at the next request).
    if (f.items.statuses.some((row) => row.includes('UNAVAILABLE'))) {
      this.trending = { items: this.trending?.items ?? [], at: 0 };
      return;
    }
    const at = refs.map((r) => f.items.features.indexOf(r.ref));
    const scored = this.catalogue.map((item, c) => ({ item, s: refs.reduce((s, r, j) => s + r.weight * num(f.items.values[c]?.[at[j] as number]), 0) }));
    const items = scored.filter((x) => x.s > 0).sort((a, b) => b.s - a.s || (a.item < b.item ? -1 : 1)).slice(0, TRENDING_KEEP).map((x) => x.item);
    this.trending = { items, at: Date.now() };
  }
}

function num(v: FeatureValue | undefined): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

function valueOf(s: Source, f: FeaturesResponse, c: number, context: Fields): FeatureValue {
  if (s.at === 'context') return context[s.name] ?? null;
  if (s.index < 0) return null;
  return s.at === 'user' ? (f.user.values[s.index] ?? null) : (f.items.values[c]?.[s.index] ?? null);
}

/** Reads the feature set for the signals candidate generation uses, by what each view computes. */
export function findSignals(plan: ServingPlan): Signals {
  const views = plan.compiled.ir.views;
  const aggViews = views.filter((v): v is AggregationViewIR => v.kind === 'aggregation');
  const keysAre = (v: { entity: { keys: readonly string[] } }, keys: string[]) => v.entity.keys.length === keys.length && keys.every((k) => v.entity.keys.includes(k));
  const find = (pred: (v: AggregationViewIR, a: AggregationIR) => boolean): string | null => {
    for (const v of aggViews) for (const a of v.aggregations) if (pred(v, a)) return `${v.name}:${a.name}`;
    return null;
  };
  const plays = (a: AggregationIR) => a.filter.types === null || a.filter.types.includes('play');
  const user = (v: AggregationViewIR) => keysAre(v, ['user_id']);
  const recentPlays = find((v, a) => user(v) && v.via === null && v.stream.kind === 'events' && a.op === 'last_k' && a.input === 'item_id' && plays(a));
  const ignored = find((v, a) => user(v) && v.stream.kind === 'impression_not_played' && a.op === 'last_k' && a.input === 'item_id');
  let topGenres: Signals['topGenres'] = null;
  for (const v of aggViews) {
    if (topGenres !== null || !user(v) || v.via === null || v.via.table !== 'items') continue;
    const a = v.aggregations.find((x) => x.op === 'top_k' && x.input === v.via?.as) ?? v.aggregations.find((x) => x.op === 'histogram' && x.input === v.via?.as);
    if (a) topGenres = { ref: `${v.name}:${a.name}`, column: v.via.column, histogram: a.op === 'histogram' };
  }
  const lastWatch = find((v, a) => keysAre(v, ['user_id', 'item_id']) && a.op === 'last' && a.input === 'watch_fraction');
  const itemCounts = aggViews.filter((v) => keysAre(v, ['item_id']) && v.stream.kind === 'events' && v.via === null)
    .flatMap((v) => v.aggregations.filter((a) => a.op === 'count' && a.window.kind === 'sliding' && a.window.lengthMs <= 7 * DAY_MS).map((a) => ({ v, a })));
  const playCounts = itemCounts.filter(({ a }) => a.filter.types !== null && a.filter.types.includes('play'));
  const trending = (playCounts.length > 0 ? playCounts : itemCounts).map(({ v, a }) => ({ ref: `${v.name}:${a.name}`, weight: DAY_MS / (a.window as { lengthMs: number }).lengthMs }));
  // Views that hold a user's history: not lookups (metadata) nor embeddings (\`recsignal embed\` gives
  // users without interactions a vector from their metadata, precisely because they have no history).
  const presence = views
    .filter((v) => v.kind !== 'lookup' && v.kind !== 'embedding' && keysAre(v, ['user_id']))
    .flatMap((v) => plan.all.filter((r) => r.view?.view === v).slice(0, 1).map((r) => r.ref));
  return { recentPlays, ignored, topGenres, lastWatch, trending, presence };
}

/** The route; without a model it answers 404 saying how to start the server with one. */
export function registerRecommendations(app: FastifyInstance, recommender: () => Recommender | null): void {
  app.post('/v1/recommendations', async (req) => {
    const r = recommender();
    if (r === null) {
      throw new RecsignalError('NOT_FOUND', 'this server has no ranking model, so it serves features but not recommendations; train one with `recsignal train-ranker --training-set train.parquet --label label --out model.json` and start `recsignal serve ... --model model.json`');
    }
    return r.recommend(parseRecommendationsBody(req.body));
  });
}
