/** @module The seeded synthetic world of a streaming service: a catalogue, its users, and their interaction events. */
import { RecsignalError } from '../core/errors.ts';
import { DAY_MS, HOUR_MS, MINUTE_MS, SECOND_MS } from '../core/time.ts';
import type { ContextValue, InteractionEvent, ItemMetadata, UserMetadata } from './schema.ts';

export interface GenerateOptions {
  readonly users: number;
  readonly items: number;
  readonly days: number;
  readonly seed: number;
  /** First instant of the simulated period (ms); default 2024-01-01T00:00Z. */
  readonly start?: number;
}

export interface GeneratedWorld {
  items: ItemMetadata[];
  users: UserMetadata[];
  /** Streams the events user by user, each user's in time order; every call replays the same stream. */
  events(): Iterable<InteractionEvent>;
  /** The hidden truth the users act on (0..1): for tests, and to score a recommender against. */
  affinity(userId: string, itemId: string, ts: number): number;
}

/**
 * Measured mean events per user per simulated day, counting every user on every day (idle days and
 * the days before a late user joins too), so a run of N events needs about N / (days × 5.9) users:
 * 10M events ≈ 56 000 users × 30 days. Per active user-day (a UTC day with at least one event) the
 * mean is about 21. Measured at seed 1 on 2 000 to 20 000 users, 7 to 90 days, 200 to 20 000 items:
 * 5.7 to 6.1 per user-day, 20.5 to 21.7 per active user-day, about 14 per session.
 */
export const MEAN_EVENTS_PER_USER_DAY = 5.9;

export const GENRES = [
  'action', 'adventure', 'animation', 'comedy', 'crime', 'documentary', 'drama', 'family', 'fantasy',
  'horror', 'kids', 'music', 'mystery', 'reality', 'romance', 'sci-fi', 'sports', 'thriller',
] as const;
const GENRE_PRIOR = [1.4, 0.9, 0.7, 1.6, 1.1, 0.6, 1.8, 0.6, 0.7, 0.7, 0.5, 0.3, 0.8, 0.5, 0.9, 0.9, 0.4, 1.2];
const YOUNG_GENRES = new Set(['action', 'animation', 'horror', 'sci-fi']);
const OLDER_GENRES = new Set(['crime', 'documentary', 'drama', 'mystery']);
const COUNTRIES = [
  ['US', -5, 30], ['BR', -3, 10], ['IN', 5, 10], ['GB', 0, 8], ['DE', 1, 8], ['FR', 1, 6],
  ['MX', -6, 6], ['JP', 9, 6], ['CA', -5, 5], ['ES', 1, 4], ['AU', 10, 4], ['KR', 9, 3],
] as const;
const DEVICES = ['tv', 'mobile', 'web', 'tablet'] as const;
const OCCUPATIONS = ['student', 'engineer', 'teacher', 'artist', 'healthcare', 'sales', 'retired', 'homemaker', 'writer', 'other'];
const ADJECTIVES = ['Silent', 'Broken', 'Golden', 'Last', 'Hidden', 'Midnight', 'Crimson', 'Distant', 'Wild', 'Frozen', 'Electric', 'Lost', 'Secret', 'Hollow'];
const NOUNS = ['Harbor', 'Kingdom', 'Signal', 'Garden', 'Empire', 'River', 'Witness', 'Frontier', 'Orchard', 'Machine', 'Island', 'Summer', 'Lantern', 'Voyage'];
/** Share of viewing that starts in each local hour: evenings dominate, a lunch bump, quiet nights. */
const LOCAL_HOUR_WEIGHTS = [1.5, 0.8, 0.4, 0.2, 0.1, 0.2, 0.5, 1, 1, 0.7, 0.6, 0.8, 1.4, 1.3, 0.9, 0.9, 1.1, 1.6, 2.6, 3.6, 4.4, 4.6, 3.8, 2.6];

const NEW_RELEASE_SHARE = 0.15;
const HYPE_PEAK = 4; // a fresh release is up to 1 + 4 times as popular as its base
const HYPE_HALF_LIFE_MS = 10 * DAY_MS;
const EXPLORE_SHARE = 0.25; // candidates drawn by popularity alone, ignoring taste
const AFFINITY_GAIN = 3;
const TASTE_DRIFT_DAYS = 120; // days until a user's taste has moved fully to its second profile
const SESSION_GAP_MS = 31 * MINUTE_MS; // sessionization splits at 30 minutes of silence
const HEARTBEAT_S = 900;

// sfc32 and not Math.random: Math.random cannot be seeded and its algorithm is V8's to change; sfc32
// is plain 32-bit integer arithmetic, so a seed gives the same bits on every Node version and platform.
type Rng = () => number;
function sfc32(a: number, b: number, c: number, d: number): Rng {
  return () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
}

function hash32(...words: number[]): number {
  let h = 0x9e3779b9;
  for (const w of words) {
    h = Math.imul(h ^ (w >>> 0), 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

const STREAM_ITEMS = 1;
const STREAM_USER = 2;
const STREAM_EVENTS = 3;

/** One independent stream per (seed, purpose, index): a user's events never depend on another user's. */
function rngFor(seed: number, stream: number, index: number): Rng {
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 4294967296) >>> 0;
  const rng = sfc32(hash32(lo, hi, stream, index, 1), hash32(lo, hi, stream, index, 2), hash32(lo, hi, stream, index, 3), hash32(lo, hi, stream, index, 4));
  for (let i = 0; i < 12; i++) rng();
  return rng;
}

const between = (rng: Rng, lo: number, hi: number): number => lo + (hi - lo) * rng();
const intBetween = (rng: Rng, lo: number, hi: number): number => lo + Math.floor((hi - lo + 1) * rng());
function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[Math.floor(rng() * xs.length)] as T;
}

function cumulative(weights: ArrayLike<number>): Float64Array {
  const cdf = new Float64Array(weights.length);
  let sum = 0;
  for (let i = 0; i < weights.length; i++) cdf[i] = sum += weights[i] as number;
  return cdf;
}

function pickIndex(cdf: Float64Array, rng: Rng): number {
  const target = rng() * (cdf[cdf.length - 1] as number);
  let lo = 0;
  let hi = cdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((cdf[mid] as number) > target) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

const HOUR_CDF = cumulative(LOCAL_HOUR_WEIGHTS);
const COUNTRY_CDF = cumulative(COUNTRIES.map((c) => c[2]));

interface Item {
  readonly meta: ItemMetadata;
  readonly release: number;
  readonly duration: number;
  readonly series: boolean;
  readonly genres: readonly number[];
  readonly weight: number;
}

interface Pool {
  readonly items: readonly Item[];
  readonly cdf: Float64Array;
}

interface Catalogue {
  readonly items: readonly Item[];
  readonly all: Pool;
  readonly byGenre: readonly Pool[];
  /** Available from the start, for the rare draw that keeps hitting unreleased items. */
  readonly fallback: Item;
}

function buildCatalogue(seed: number, count: number, start: number, end: number): Catalogue {
  const rng = rngFor(seed, STREAM_ITEMS, 0);
  const startYear = new Date(start).getUTCFullYear();
  const ranks = Array.from({ length: count }, (_, i) => i);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [ranks[i], ranks[j]] = [ranks[j] as number, ranks[i] as number];
  }
  const genreCdf = cumulative(GENRE_PRIOR);
  const items: Item[] = [];
  for (let i = 0; i < count; i++) {
    const rank = ranks[i] as number;
    const genres = new Set<number>();
    const wanted = rng() < 0.35 ? 1 : rng() < 0.7 ? 2 : 3;
    while (genres.size < wanted) genres.add(pickIndex(genreCdf, rng));
    const series = rng() < 0.55;
    const duration = series ? intBetween(rng, 1800, 3600) : intBetween(rng, 5400, 9000);
    // The most popular item always exists at the start, so a draw always has something to fall back on.
    const fresh = rank > 0 && rng() < NEW_RELEASE_SHARE;
    let release: number;
    if (fresh) {
      release = Math.floor(between(rng, start, end));
    } else {
      const year = startYear - 1 - Math.floor(rng() ** 2.5 * 45);
      release = Math.min(Date.UTC(year, 0, 1) + Math.floor(rng() * 365 * DAY_MS), start - DAY_MS);
    }
    const title = rng() < 0.5 ? `The ${pick(rng, ADJECTIVES)} ${pick(rng, NOUNS)}` : `${pick(rng, NOUNS)} of the ${pick(rng, ADJECTIVES)} ${pick(rng, NOUNS)}`;
    const genreList = [...genres].sort((a, b) => a - b);
    const meta: ItemMetadata = Object.freeze({
      itemId: `i${i}`,
      title,
      year: new Date(release).getUTCFullYear(),
      genres: Object.freeze(genreList.map((g) => GENRES[g] as string)),
      releaseTs: release,
      duration,
    });
    // Zipf-like base popularity: a few hits, a long tail.
    items.push({ meta, release, duration, series, genres: genreList, weight: 1 / (rank + 1) ** 0.9 });
  }
  const poolOf = (members: Item[]): Pool => ({ items: members, cdf: cumulative(members.map((it) => it.weight)) });
  const byGenre = GENRES.map((_, g) => poolOf(items.filter((it) => it.genres.includes(g))));
  const fallback = items[ranks.indexOf(0)] as Item;
  return { items, all: poolOf(items), byGenre, fallback };
}

interface Profile {
  readonly index: number;
  readonly meta: UserMetadata;
  /** Local time minus UTC, in ms: the country's offset plus a personal shift (night owls, early birds). */
  readonly offsetMs: number;
  readonly devices: readonly string[];
  readonly preferred: string;
  readonly tasteFrom: Float64Array;
  readonly tasteTo: Float64Array;
  readonly activeP: number;
  readonly extraSessionP: number;
  readonly startDay: number;
}

/** Rebuilt from its seed whenever needed, so that a million users cost no memory beyond their metadata. */
function profileOf(seed: number, index: number, days: number): Profile {
  const rng = rngFor(seed, STREAM_USER, index);
  const [country, offsetH] = COUNTRIES[pickIndex(COUNTRY_CDF, rng)] as (typeof COUNTRIES)[number];
  const age = Math.round(between(rng, 16, 40) + rng() ** 2 * 40);
  const reported = rng() < 0.9;
  const gender = rng() < 0.08 ? null : rng() < 0.5 ? 'f' : 'm';
  const occupation = rng() < 0.15 ? null : age >= 65 ? 'retired' : age < 23 ? 'student' : pick(rng, OCCUPATIONS);
  const meta: UserMetadata = Object.freeze({ userId: `u${index}`, age: reported ? age : null, gender, occupation, country });
  const owned = DEVICES.filter(() => rng() < 0.45);
  const devices = owned.length > 0 ? owned : [pick(rng, DEVICES)];
  // Sparse Dirichlet-like taste: Exp(1)·U^(1/α) approximates Gamma(α) and is cheap; small α → a few favourites.
  const taste = (): Float64Array => {
    const w = new Float64Array(GENRES.length);
    let sum = 0;
    GENRES.forEach((g, i) => {
      const tilt = age < 30 && YOUNG_GENRES.has(g) ? 2 : age >= 50 && OLDER_GENRES.has(g) ? 2 : 1;
      const alpha = 0.12 * (GENRE_PRIOR[i] as number) * tilt;
      sum += w[i] = -Math.log(1 - rng()) * rng() ** (1 / alpha) + 1e-9;
    });
    return w.map((x) => x / sum);
  };
  const kind = rng();
  const activeP = kind < 0.2 ? between(rng, 0.5, 0.9) : kind < 0.7 ? between(rng, 0.15, 0.4) : between(rng, 0.03, 0.12);
  return {
    index,
    meta,
    offsetMs: Math.round((offsetH + between(rng, -1.5, 1.5)) * HOUR_MS),
    devices,
    preferred: pick(rng, devices),
    tasteFrom: taste(),
    tasteTo: taste(),
    activeP,
    extraSessionP: Math.min(0.8, activeP),
    startDay: rng() < 0.2 ? Math.floor(rng() * days) : 0,
  };
}

function tasteOn(p: Profile, day: number): Float64Array {
  const w = Math.min(1, day / TASTE_DRIFT_DAYS);
  return p.tasteFrom.map((x, g) => (1 - w) * x + w * (p.tasteTo[g] as number));
}

function affinityOf(taste: Float64Array, item: Item): number {
  let sum = 0;
  for (const g of item.genres) sum += taste[g] as number;
  return 1 - Math.exp(-AFFINITY_GAIN * sum);
}

/** Popularity multiplier at time t: zero before release, a spike at release decaying to 1. */
function hype(item: Item, t: number): number {
  if (t < item.release) return 0;
  return 1 + HYPE_PEAK * 2 ** (-(t - item.release) / HYPE_HALF_LIFE_MS);
}

interface World {
  readonly seed: number;
  readonly start: number;
  readonly end: number;
  readonly days: number;
  readonly userCount: number;
  readonly catalogue: Catalogue;
}

export function generateEvents(opts: GenerateOptions): GeneratedWorld {
  checkOptions(opts);
  const start = opts.start ?? Date.UTC(2024, 0, 1);
  const end = start + opts.days * DAY_MS;
  const catalogue = buildCatalogue(opts.seed, opts.items, start, end);
  const world: World = { seed: opts.seed, start, end, days: opts.days, userCount: opts.users, catalogue };
  const users = Array.from({ length: opts.users }, (_, u) => profileOf(opts.seed, u, opts.days).meta);
  return {
    items: catalogue.items.map((it) => it.meta),
    users,
    events: () => ({ [Symbol.iterator]: () => allEvents(world) }),
    affinity: (userId, itemId, ts) => {
      const u = Number(userId.slice(1));
      const item = catalogue.items[Number(itemId.slice(1))];
      if (!/^u\d+$/.test(userId) || u >= opts.users || !/^i\d+$/.test(itemId) || item === undefined) {
        throw new RecsignalError('NOT_FOUND', `affinity: unknown user '${userId}' or item '${itemId}'; use ids of this generated world (u0..u${opts.users - 1}, i0..i${opts.items - 1})`);
      }
      const day = Math.max(0, Math.floor((ts - start) / DAY_MS));
      return affinityOf(tasteOn(profileOf(opts.seed, u, opts.days), day), item);
    },
  };
}

function checkOptions(opts: GenerateOptions): void {
  for (const key of ['users', 'items', 'days'] as const) {
    const v = opts[key];
    if (!Number.isSafeInteger(v) || v < 1) {
      throw new RecsignalError('INVALID_ARGUMENT', `generate: ${key} must be a whole number ≥ 1, got ${String(v)}; e.g. { users: 1000, items: 2000, days: 30 }`);
    }
  }
  if (!Number.isSafeInteger(opts.seed)) {
    throw new RecsignalError('INVALID_ARGUMENT', `generate: seed must be a whole number, got ${String(opts.seed)}; pick any integer, e.g. 42`);
  }
  if (opts.start !== undefined && !Number.isSafeInteger(opts.start)) {
    throw new RecsignalError('INVALID_ARGUMENT', `generate: start must be whole milliseconds since the epoch, got ${String(opts.start)}; e.g. Date.UTC(2024, 0, 1)`);
  }
}

function* allEvents(world: World): Generator<InteractionEvent> {
  const ids = { next: 0 };
  for (let u = 0; u < world.userCount; u++) {
    yield* userEvents(world, profileOf(world.seed, u, world.days), ids);
  }
}

/** What a user carries from session to session: bounded, so memory stays flat however long the run. */
interface UserState {
  lastTs: number;
  sessions: number;
  /** Series (and unfinished films) the user is in the middle of, most recent first, at most 4. */
  watching: Item[];
}

function* userEvents(world: World, p: Profile, ids: { next: number }): Generator<InteractionEvent> {
  const rng = rngFor(world.seed, STREAM_EVENTS, p.index);
  const state: UserState = { lastTs: -Infinity, sessions: 0, watching: [] };
  for (let day = p.startDay; day < world.days; day++) {
    if (rng() >= p.activeP) continue;
    const dayStart = world.start + day * DAY_MS;
    const taste = tasteOn(p, day);
    const count = 1 + (rng() < p.extraSessionP ? 1 : 0) + (rng() < p.extraSessionP / 3 ? 1 : 0);
    const planned: number[] = [];
    for (let i = 0; i < count; i++) planned.push(dayStart + (pickIndex(HOUR_CDF, rng) + rng()) * HOUR_MS - p.offsetMs);
    planned.sort((a, b) => a - b);
    for (const at of planned) {
      const begin = Math.floor(Math.max(at, world.start, state.lastTs + SESSION_GAP_MS + rng() * 15 * MINUTE_MS));
      if (begin >= world.end - MINUTE_MS) return;
      const s = openSession(world, p, state, rng, taste, begin, ids);
      simulateSession(s);
      if (s.out.length > 0) state.lastTs = s.last;
      yield* s.out;
    }
  }
}

interface Session {
  readonly world: World;
  readonly p: Profile;
  readonly state: UserState;
  readonly rng: Rng;
  readonly taste: Float64Array;
  readonly tasteCdf: Float64Array;
  readonly context: Readonly<Record<string, ContextValue>>;
  readonly ids: { next: number };
  /** One session's events: buffered so the simulation reads top-down; a session is a few dozen events. */
  readonly out: InteractionEvent[];
  /** The clock of the simulation, and the time of the last event emitted. */
  t: number;
  last: number;
  /** Set once the period's end is reached: nothing more may be emitted. */
  over: boolean;
}

function openSession(world: World, p: Profile, state: UserState, rng: Rng, taste: Float64Array, begin: number, ids: { next: number }): Session {
  const device = rng() < 0.7 ? p.preferred : pick(rng, p.devices);
  const context = Object.freeze({ device, country: p.meta.country, session_id: `s${p.index}-${state.sessions++}` });
  return { world, p, state, rng, taste, tasteCdf: cumulative(taste), context, ids, out: [], t: begin, last: begin, over: false };
}

function emit(s: Session, type: string, item: Item | null, value: number | null, duration: number | null, context = s.context): void {
  if (s.t >= s.world.end) s.over = true;
  if (s.over) return;
  s.out.push({ eventId: `g${s.world.seed}-${s.ids.next++}`, userId: s.p.meta.userId, itemId: item?.meta.itemId ?? null, ts: s.t, type, value, duration, context });
  s.last = s.t;
}

function wait(s: Session, loMs: number, hiMs: number): void {
  s.t += intBetween(s.rng, loMs, hiMs);
}

function simulateSession(s: Session): void {
  const { rng, state } = s;
  if (state.watching.length > 0 && rng() < 0.55) {
    const item = pick(rng, state.watching);
    emit(s, 'impression', item, null, null); // the continue-watching row
    wait(s, 3 * SECOND_MS, 20 * SECOND_MS);
    playback(s, item, affinityOf(s.taste, item));
    if (rng() < 0.4) return;
  }
  if (rng() < 0.15) {
    wait(s, 2 * SECOND_MS, 60 * SECOND_MS);
    const genre = pickIndex(s.tasteCdf, rng);
    const pool = s.world.catalogue.byGenre[genre] as Pool;
    const title = pool.items.length > 0 && rng() < 0.4 ? (pool.items[pickIndex(pool.cdf, rng)] as Item).meta.title : null;
    const query = title === null ? (GENRES[genre] as string) : (title.split(' ').at(-1) as string).toLowerCase();
    emit(s, 'search', null, null, null, { ...s.context, query });
    wait(s, SECOND_MS, 5 * SECOND_MS);
    if (browse(s, candidates(s, intBetween(rng, 3, 6), genre)) && rng() < 0.5) return;
  }
  const rows = 1 + (rng() < 0.5 ? 1 : 0) + (rng() < 0.2 ? 1 : 0);
  for (let r = 0; r < rows && !s.over; r++) {
    wait(s, 2 * SECOND_MS, 90 * SECOND_MS);
    // After watching something the user often leaves rather than browse on.
    if (browse(s, candidates(s, intBetween(rng, 4, 8), undefined)) && rng() < 0.5) return;
  }
}

/** Shows a row of items and lets the user react; true when one was played (which ends the row). */
function browse(s: Session, row: readonly Item[]): boolean {
  for (const item of row) {
    emit(s, 'impression', item, null, null);
    wait(s, 200, 2500);
  }
  for (const item of row) {
    if (s.over) return false;
    const aff = affinityOf(s.taste, item);
    const playP = 0.02 + 0.3 * aff ** 1.5;
    const skipP = 0.1 * (1 - aff);
    const u = s.rng();
    if (u < playP) {
      wait(s, 5 * SECOND_MS, 120 * SECOND_MS);
      playback(s, item, aff);
      return true;
    }
    if (u < playP + skipP) {
      wait(s, SECOND_MS, 8 * SECOND_MS);
      emit(s, 'skip', item, null, null);
    } else if (u < playP + skipP + 0.04 * aff) {
      wait(s, 2 * SECOND_MS, 10 * SECOND_MS);
      emit(s, 'add_to_list', item, null, null);
    }
  }
  return false;
}

function candidates(s: Session, k: number, genre: number | undefined): Item[] {
  const row: Item[] = [];
  for (let tries = 0; row.length < k && tries < k * 4; tries++) {
    const item = draw(s, genre);
    if (!row.includes(item)) row.push(item);
  }
  return row;
}

/** Draws an item ∝ base popularity × hype(now), from a genre the user likes or from everything. */
function draw(s: Session, genre: number | undefined): Item {
  const { rng } = s;
  const cat = s.world.catalogue;
  for (let tries = 0; tries < 64; tries++) {
    const g = genre ?? (rng() < EXPLORE_SHARE ? -1 : pickIndex(s.tasteCdf, rng));
    const inGenre = g >= 0 ? cat.byGenre[g] : undefined;
    const pool = inGenre !== undefined && inGenre.items.length > 0 ? inGenre : cat.all;
    const item = pool.items[pickIndex(pool.cdf, rng)] as Item;
    // Rejection against the peak hype: exact sampling ∝ weight × hype without a per-instant table.
    if (rng() * (1 + HYPE_PEAK) < hype(item, s.t)) return item;
  }
  return cat.fallback;
}

/**
 * play, a progress heartbeat every ~15 minutes watched (so a session never falls silent for 30), then
 * exactly one of complete or pause; value (seconds watched) sits on that last event only.
 */
function playback(s: Session, item: Item, aff: number): void {
  const { rng, world } = s;
  if (s.over || s.t + MINUTE_MS >= world.end) {
    s.over = true;
    return;
  }
  const playTs = s.t;
  emit(s, 'play', item, null, item.duration);
  const complete = rng() < 0.03 + 0.75 * aff * aff;
  let watched = complete ? item.duration : Math.max(1, Math.round(item.duration * watchFraction(aff, rng)));
  let endTs = playTs + watched * SECOND_MS + intBetween(rng, 0, 999);
  const clipped = endTs >= world.end; // the period ends mid-playback: the log sees a pause there
  if (clipped) {
    endTs = world.end - 1;
    watched = Math.floor((endTs - playTs) / SECOND_MS);
  }
  for (let pos = intBetween(rng, HEARTBEAT_S - 60, HEARTBEAT_S + 60); pos < watched; pos += intBetween(rng, HEARTBEAT_S - 60, HEARTBEAT_S + 60)) {
    s.t = playTs + pos * SECOND_MS;
    emit(s, 'progress', item, null, item.duration);
  }
  s.t = endTs;
  const done = complete && !clipped;
  emit(s, done ? 'complete' : 'pause', item, done ? item.duration : watched, item.duration);
  if (clipped) {
    s.over = true;
    return;
  }
  remember(s, item, aff, done, watched / item.duration);
  if (rng() < (done ? 0.3 : 0.05)) {
    wait(s, 5 * SECOND_MS, 60 * SECOND_MS);
    const noise = Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
    emit(s, 'rating', item, Math.min(5, Math.max(1, Math.round(1 + 4 * aff + 0.7 * noise))), null);
  }
}

/** Low affinity abandons early (under 20%); higher affinity watches further. */
function watchFraction(aff: number, rng: Rng): number {
  if (aff < 0.3) return 0.01 + 0.18 * rng();
  return Math.min(0.97, 0.05 + 0.9 * aff * (0.3 + 0.7 * rng()));
}

/** Keeps series the user likes (and films left half-way) on the continue-watching row. */
function remember(s: Session, item: Item, aff: number, done: boolean, fraction: number): void {
  const list = s.state.watching;
  const at = list.indexOf(item);
  if (at >= 0) list.splice(at, 1);
  const keep = aff >= 0.35 && fraction >= 0.3 && (item.series ? s.rng() >= 0.1 : !done);
  if (!keep) return;
  list.unshift(item);
  if (list.length > 4) list.pop();
}
