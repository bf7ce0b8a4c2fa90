/**
 * @module The stream engine's state kept in a key-value store instead of in process: the layout
 * of its keys, one batch of events applied to the part of the state it touches, and feature reads
 * as of a time from the stored state. The engine itself does the work: a scratch engine is restored
 * from just the keys a batch touches, applies the batch, and its snapshot gives the new values.
 */
import type { InteractionEvent, ItemMetadata, UserMetadata } from '../../events/schema.ts';
import type { FeatureValue, FeatureViewIR } from '../../features/ir.ts';
import type { CompiledFeatureSet } from '../../plan/compile.ts';
import { TIME_DERIVED_KEYS } from '../../plan/rows.ts';
import type { EmbeddingTables } from '../../store/offline/embeddings.ts';
import { needsEscape, stateKey, stateKeyPrefix, type OnlineWrite } from '../../store/online/online-store.ts';
import { KEY_SEPARATOR, StreamEngine, type ApplyOutcome, type EngineSnapshot } from './engine.ts';
import { KeyState } from './key-state.ts';
import { pairOfKey, playSetCount, playsKey } from './negatives.ts';
import type { ParsedValues } from './parsed-values.ts';

const SEP = KEY_SEPARATOR;
export interface StoredStateOptions {
  readonly compiled: CompiledFeatureSet;
  /** Prefix of every key, e.g. `rs:<feature set>`; keep `{` and `}` out of it. */
  readonly namespace: string;
  readonly lateness: number;
  readonly items?: readonly ItemMetadata[];
  readonly users?: readonly UserMetadata[];
  /** Embedding tables, for reads of embedding views (they live in process, not in the store). */
  readonly embeddings?: EmbeddingTables;
}

/** Reads keys (aligned with them; null where absent). A transactional caller WATCHes them first. */
export type ReadKeys = (keys: readonly string[]) => Promise<(string | null)[]>;

export interface StateWrite {
  readonly key: string;
  /** JSON text, or null to delete. */
  readonly value: string | null;
  /** Wall-clock time-to-live (`OnlineWrite.ttlMs`): set on bookkeeping keys, see `snapshotWrites`. */
  readonly ttlMs?: number;
}

/**
 * Several consumers share a stream, each seeing its own increasing share of it, so there is no one
 * "newest event time seen". As in Flink, the watermark is the minimum of the consumers' own
 * watermarks (the newest time each applied): lateness and folding are judged against the slowest
 * live consumer, so a consumer's events are not late merely because another one ran ahead. With a
 * single consumer it is the engine's own watermark.
 */
export interface BatchWatermarks {
  /** Newest event time this consumer applied so far (null: none yet). */
  readonly own: number | null;
  /** Minimum over the other live consumers' own watermarks (null: none; -Infinity: one has applied nothing yet). */
  readonly others: number | null;
  /**
   * The newest watermark any batch of the group settled (folded and forgot) its keys at, as read
   * after the batch's keys were read (called once they are): the judging watermark never goes
   * below it. Without it, a consumer that was excluded as stale, or one that starts late, judges
   * its old events against its own low watermark and applies them to keys already folded past
   * them, their ids forgotten. Read after the keys, a commit that folded one of them is either seen
   * here or caught by the WATCH.
   */
  readonly floor?: () => number | null;
}

export interface BatchResult {
  /** Only the keys whose value changed. */
  readonly writes: readonly StateWrite[];
  /** Per event, in order. */
  readonly outcomes: readonly ApplyOutcome[];
  /** This consumer's own watermark after the batch. */
  readonly watermark: number | null;
  /** The watermark the batch's keys were settled at (null: none, nothing folded). */
  readonly settled: number | null;
}

type PendingList = EngineSnapshot['pendingNegatives'][number][1];

/**
 * Key layout. Every entity's part carries a Redis Cluster hash tag (`stateKey`), but a batch
 * writes keys of many entities and its checkpoint in one MULTI/EXEC: on a cluster that is a
 * cross-slot transaction, which Redis refuses. Sharding would need per-slot transactions plus
 * per-event idempotence (the `seen` ids kept for the whole replay horizon), not done here.
 */
export function stateKeys(namespace: string) {
  // A serving read builds a view key per candidate (~200 a request): `stateKey`'s split, map and
  // join were a fifth of the bytes a Redis-backed request allocated. The same text, built from a
  // prefix per view when no key value needs escaping (nearly always: ids).
  const viewPrefixes = new Map<string, string>();
  const view = (name: string, key: string): string => {
    if (needsEscape(key)) return stateKey(namespace, `view:${name}`, key.split(SEP), 'state');
    let prefix = viewPrefixes.get(name);
    if (prefix === undefined) viewPrefixes.set(name, (prefix = stateKeyPrefix(namespace, `view:${name}`)));
    return `${prefix}${key.includes(SEP) ? key.replaceAll(SEP, '|') : key}}:state`;
  };
  return {
    view,
    session: (view: string, user: string) => stateKey(namespace, `session:${view}`, [user], 'rows'),
    /** Plays and pending (not-yet-negative) impressions of one user × item. */
    pair: (pair: string) => stateKey(namespace, 'pair', pair.split(SEP), 'negatives'),
    /** Event ids of one user seen within the lateness: duplicates are dropped by them. */
    seen: (user: string) => stateKey(namespace, 'seen', [user], 'ids'),
    checkpoint: (group: string, consumer: string) => stateKey(namespace, 'consumer', [group, consumer], 'checkpoint'),
    /** The names of a group's consumers (a SET): their checkpoints hold their watermarks. */
    members: (group: string) => stateKey(namespace, 'group', [group], 'members'),
    /** The newest watermark a batch of the group settled its keys at (a sorted set of one member, raised by ZADD GT). */
    settled: (group: string) => stateKey(namespace, 'group', [group], 'settled'),
    /** The feature server's checkpoint: the set's hash and the watermark its applies reached (`ServeCheckpoint`). */
    server: () => stateKey(namespace, 'serve', ['state'], 'checkpoint'),
  };
}

/** What the feature server writes with every batch: absent means the namespace holds no complete state. */
export interface ServeCheckpoint {
  /** The feature set's semantic hash: state of another set is never read as this one's. */
  readonly hash: string;
  /** The newest event time applied (null: none yet). */
  readonly watermark: number | null;
  /** Events applied since the state was last built from the log. */
  readonly applied: number;
  /** When the state was built from the log (ms). */
  readonly builtAt: number;
  /**
   * Written at a clean stop: how many of the log's events were older than the watermark minus the
   * lateness (`ts`), the events a resumed start does not re-apply. More at the next start means
   * older events came into the log meanwhile (an ingest while stopped): the state is rebuilt.
   */
  readonly below?: { readonly ts: number; readonly events: number };
}

/**
 * Applies a batch, in order, to the state it touches: which keys that is comes from a dry run of
 * the batch on an empty engine (a superset: it ignores duplicates and lateness), plus the keys that
 * the loaded pending negatives point at (a play cancels an impression under the impression's key).
 */
export async function applyBatch(o: StoredStateOptions, events: readonly InteractionEvent[], read: ReadKeys, watermarks: BatchWatermarks = { own: null, others: null }): Promise<BatchResult> {
  const k = stateKeys(o.namespace);
  const meta = { ...(o.items ? { items: o.items } : {}), ...(o.users ? { users: o.users } : {}) };
  const dry = new StreamEngine(o.compiled, { lateness: Infinity, foldEvery: Number.MAX_SAFE_INTEGER, ...meta });
  for (const e of events) dry.apply(e);
  const touched = dry.snapshot();

  // Redis key → how to restore it.
  const viewKeys = new Map<string, { view: string; key: string }>();
  const sessionKeys = new Map<string, { view: string; user: string }>();
  const pairKeys = new Map<string, string>();
  const seenKeys = new Map<string, string>();
  for (const [view, entries] of Object.entries(touched.views)) for (const [key] of entries) viewKeys.set(k.view(view, key), { view, key });
  for (const [view, entries] of Object.entries(touched.sessions)) for (const [user] of entries) sessionKeys.set(k.session(view, user), { view, user });
  // A pair's plays are kept by set of play types (negatives.ts): an impression of this batch may be answered by a play of any set stored before.
  const playSets = Math.max(1, playSetCount(o.compiled.ir.views));
  for (const [key] of [...touched.plays, ...touched.pendingNegatives]) {
    const pair = pairOfKey(key);
    for (let g = 0; g < playSets; g++) pairKeys.set(k.pair(playsKey(pair, g)), playsKey(pair, g));
  }
  for (const e of events) seenKeys.set(k.seen(e.userId), e.userId);

  const loaded = new Map<string, string | null>();
  const load = async (keys: readonly string[]) => {
    const fresh = keys.filter((x) => !loaded.has(x));
    const values = fresh.length === 0 ? [] : await read(fresh);
    fresh.forEach((x, i) => loaded.set(x, values[i] ?? null));
  };
  await load([...viewKeys.keys(), ...sessionKeys.keys(), ...pairKeys.keys(), ...seenKeys.keys()]);
  for (const redisKey of pairKeys.keys()) {
    const text = loaded.get(redisKey);
    if (!text) continue;
    for (const p of (JSON.parse(text) as { pending: PendingList }).pending) viewKeys.set(k.view(p.view, p.key), { view: p.view, key: p.key });
  }
  await load([...viewKeys.keys()]);

  const idUser = new Map<string, string>();
  const seen: [string, number][] = [];
  for (const [redisKey, user] of seenKeys) {
    for (const [id, ts] of parse<[string, number][]>(loaded.get(redisKey)) ?? []) {
      idUser.set(id, user);
      seen.push([id, ts]);
    }
  }
  for (const e of events) idUser.set(e.eventId, e.userId);
  seen.sort((a, b) => a[1] - b[1]);
  const plays: [string, number[]][] = [];
  const pending: [string, PendingList][] = [];
  for (const [redisKey, pair] of pairKeys) {
    const v = parse<{ plays: number[]; pending: PendingList }>(loaded.get(redisKey));
    if (v && v.plays.length > 0) plays.push([pair, v.plays]);
    if (v && v.pending.length > 0) pending.push([pair, v.pending]);
  }
  const views: Record<string, [string, unknown][]> = {};
  for (const [redisKey, { view, key }] of viewKeys) {
    const v = parse<unknown>(loaded.get(redisKey));
    if (v !== undefined) (views[view] ??= []).push([key, v]);
  }
  const sessions: Record<string, [string, { ts: number; item: string | null }[]][]> = {};
  for (const [redisKey, { view, user }] of sessionKeys) {
    const v = parse<{ ts: number; item: string | null }[]>(loaded.get(redisKey));
    if (v !== undefined) (sessions[view] ??= []).push([user, v]);
  }

  // The engine folds and forgets by its watermark, which includes the event in hand even when
  // another consumer lags behind it: a row folded too early could no longer be cancelled by that
  // consumer's play. Both are off here, and done once per batch below, by the group's watermark.
  const engine = new StreamEngine(o.compiled, { lateness: o.lateness, foldEvery: Number.MAX_SAFE_INTEGER, foldBatch: Infinity, ...meta });
  engine.restore({
    hash: o.compiled.hash,
    lateness: o.lateness,
    watermark: null,
    counts: { applied: 0, duplicates: 0, late: 0 },
    seen,
    plays,
    pendingNegatives: pending,
    views,
    sessions,
  });
  let own = watermarks.own ?? -Infinity;
  const others = watermarks.others ?? Infinity;
  const floor = watermarks.floor?.() ?? -Infinity;
  const judged = () => Math.max(Math.min(own, others), floor);
  const outcomes = events.map((e) => {
    engine.watermark = judged();
    const outcome = engine.apply(e);
    if (outcome === 'applied' && e.ts > own) own = e.ts;
    return outcome;
  });
  const settled = judged();
  engine.settle(settled);
  const after = engine.snapshot();

  const next = new Map<string, StateWrite>();
  for (const x of loaded.keys()) next.set(x, { key: x, value: null });
  const now = Number.isFinite(settled) ? settled : own;
  const expiry = Number.isFinite(now) ? { after: engine.forgetsAfter(), watermark: now } : undefined;
  for (const w of snapshotWrites(o.namespace, after, (id) => idUser.get(id), expiry)) next.set(w.key, w);

  const writes: StateWrite[] = [];
  for (const w of next.values()) if (w.value !== (loaded.get(w.key) ?? null)) writes.push(w);
  return { writes, outcomes, watermark: Number.isFinite(own) ? own : null, settled: Number.isFinite(settled) ? settled : null };
}

export interface StoredQuery {
  readonly fields: Readonly<Record<string, string | number | null>>;
  readonly ts: number;
}

/**
 * Every feature (featureColumns order) as of each query's time, from the stored state: one read
 * of every key the queries need, restored into a scratch engine. Exact for times at or after the
 * consumers' watermark minus the lateness, as the in-process engine is.
 */
export async function readStoredFeatures(o: StoredStateOptions, queries: readonly StoredQuery[], read: ReadKeys): Promise<FeatureValue[][]> {
  const wanted = new StoredKeys(o.namespace);
  for (const q of queries) for (const v of o.compiled.ir.views) wanted.add(v, q.fields, q.ts);
  const stored = await readStoredState(o, wanted, read);
  return queries.map((q) => stored.engine.features(q.fields, q.ts));
}

/**
 * The engine's key of an entity: its key values joined, time-derived keys (e.g. daypart) filled in
 * from t when the fields lack them; null when a key value is missing.
 */
export function entityKeyAt(keys: readonly string[], fields: Readonly<Record<string, string | number | null>>, t: number): string | null {
  let out = '';
  for (let i = 0; i < keys.length; i++) {
    const name = keys[i] as string;
    const x = fields[name];
    let value: string;
    if (x !== undefined && x !== null) value = String(x);
    else {
      const derive = TIME_DERIVED_KEYS[name];
      if (derive === undefined) return null;
      value = derive(t);
    }
    out = i === 0 ? value : `${out}${SEP}${value}`;
  }
  return out;
}

/** The stored keys a set of reads needs: per (view, entity key) of aggregation and session views. */
export class StoredKeys {
  /** Store key → the view and entity key it holds. */
  readonly entries = new Map<string, { readonly view: FeatureViewIR; readonly key: string }>();
  readonly #k: ReturnType<typeof stateKeys>;

  constructor(namespace: string) {
    this.#k = stateKeys(namespace);
  }

  /** Adds the key of `view` for a request's fields as of t (nothing for lookups, embeddings or a missing key value). */
  add(view: FeatureViewIR, fields: Readonly<Record<string, string | number | null>>, t: number): void {
    if (view.kind === 'lookup' || view.kind === 'embedding') return;
    const key = entityKeyAt(view.entity.keys, fields, t);
    if (key === null) return;
    const storeKey = view.kind === 'session' ? this.#k.session(view.name, key) : this.#k.view(view.name, key);
    if (!this.entries.has(storeKey)) this.entries.set(storeKey, { view, key });
  }
}

/** A batch's state writes as an online store takes them: the JSON text as UTF-8 bytes. */
export function encodeWrites(writes: readonly StateWrite[]): OnlineWrite[] {
  return writes.map((w) => ({ key: w.key, value: w.value === null ? null : Buffer.from(w.value), ...(w.ttlMs === undefined ? {} : { ttlMs: w.ttlMs }) }));
}

/** A value an online store returned, as the JSON text it was written as. */
export function decodeValue(v: Uint8Array): string {
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('utf8');
}

/**
 * A key's event time as of t: the time of its newest event before t; null when it has state as of
 * t but that time is unknown (folded away); undefined when it has no state as of t. A plain value,
 * not an object: a serving read asks it per view and candidate.
 */
export type KeyTime = number | null | undefined;

export interface StoredState {
  /** A scratch engine holding just the keys read: `readView` / `features` on it are the reads. */
  readonly engine: StreamEngine;
  /** The key's event time as of t; absent from the store reads as undefined (no state). */
  timeOf(view: FeatureViewIR, key: string, t: number): KeyTime;
  /**
   * An aggregation view's decoded key state as read (undefined when absent): with `parsed`, the very
   * object of an earlier read while the stored text is unchanged, so values computed from it can be kept.
   */
  stateOf(view: FeatureViewIR, key: string): KeyState | undefined;
}

type Held = { readonly st: KeyState } | { readonly rows: readonly { ts: number }[] };

/**
 * Reads the keys in one call of `read` and restores them into a scratch engine. Times come from the
 * restored key states: a key has state as of t when it has an event before t (or rows folded, all
 * before any time it can be read at), and its event time is the newest such event still held raw.
 * With `parsed`, a value whose text did not change since an earlier read is not parsed again.
 */
export async function readStoredState(o: StoredStateOptions, wanted: StoredKeys, read: ReadKeys, parsed?: ParsedValues): Promise<StoredState> {
  const keys = [...wanted.entries.keys()];
  const values = keys.length === 0 ? [] : await read(keys);
  const views: Record<string, [string, unknown][]> = {};
  const sessions: Record<string, [string, { ts: number; item: string | null }[]][]> = {};
  // What was read, by view and entity key (two Maps, not one keyed by joined text: no string is
  // built per look-up); times are worked out when asked (most keys are read once).
  const held = new Map<string, Map<string, Held>>();
  const heldOf = (view: FeatureViewIR): Map<string, Held> => {
    let m = held.get(view.name);
    if (m === undefined) held.set(view.name, (m = new Map()));
    return m;
  };
  const decoders = new Map<FeatureViewIR, (json: unknown) => KeyState>();
  for (let i = 0; i < keys.length; i++) {
    const text = values[i];
    if (text === null || text === undefined) continue;
    const storeKey = keys[i] as string;
    const { view, key } = wanted.entries.get(storeKey) as { view: FeatureViewIR; key: string };
    if (view.kind === 'session') {
      const rows = (parsed === undefined ? JSON.parse(text) : parsed.parse(storeKey, text)) as { ts: number; item: string | null }[];
      (sessions[view.name] ??= []).push([key, rows]);
      heldOf(view).set(key, { rows });
    } else if (view.kind === 'aggregation') {
      // Decoded into a key state here, so that a kept parse is a ready state (the engine adopts it).
      let decode = decoders.get(view);
      if (decode === undefined) decoders.set(view, (decode = (json: unknown) => KeyState.fromJSON(view, json)));
      const st = (parsed === undefined ? decode(JSON.parse(text)) : parsed.parse(storeKey, text, decode)) as KeyState;
      (views[view.name] ??= []).push([key, st]);
      heldOf(view).set(key, { st });
    }
  }
  const meta = { ...(o.items ? { items: o.items } : {}), ...(o.users ? { users: o.users } : {}), ...(o.embeddings ? { embeddings: o.embeddings } : {}) };
  const engine = new StreamEngine(o.compiled, { lateness: o.lateness, ...meta });
  engine.restore({ hash: o.compiled.hash, lateness: o.lateness, watermark: null, counts: { applied: 0, duplicates: 0, late: 0 }, seen: [], plays: [], pendingNegatives: [], views, sessions });
  return {
    engine,
    timeOf: (view, key, t) => {
      const h = held.get(view.name)?.get(key);
      if (h === undefined) return undefined;
      if ('st' in h) return newestBefore(h.st.rows, t, h.st.latest, h.st.foldedUpTo > -Infinity);
      return newestBefore(h.rows, t, (h.rows[h.rows.length - 1] as { ts: number } | undefined)?.ts ?? -Infinity, false);
    },
    stateOf: (view, key) => {
      const h = held.get(view.name)?.get(key);
      return h !== undefined && 'st' in h ? h.st : undefined;
    },
  };
}

/** `rows`: raw rows, ascending by time; `latest`: the newest time ever added; `folded`: older rows were folded away. */
function newestBefore(rows: readonly { readonly ts: number }[], t: number, latest: number, folded: boolean): KeyTime {
  if (latest > -Infinity && latest < t) return latest;
  for (let i = rows.length - 1; i >= 0; i--) {
    const ts = (rows[i] as { ts: number }).ts;
    if (ts < t) return ts;
  }
  return folded ? null : undefined;
}

/**
 * Wall-clock slack added to a bookkeeping key's time-to-live. The key is kept until its content
 * would be forgotten in event time, converted one for one to wall time, plus this: a stream that
 * runs at least as fast as real time has forgotten it by then. Wall time because stores expire by
 * it (as Flink's state TTL does); a stream stalled for longer than this loses what the key held
 * (recent ids, pending impressions) for the events that come after the stall.
 */
export const EXPIRY_SLACK_MS = 24 * 3_600_000;

/** When bookkeeping keys expire: the engine's `forgetsAfter` and the watermark the batch settled at. */
export interface WriteExpiry {
  readonly after: { readonly ids: number; readonly pairs: number };
  readonly watermark: number;
}

/**
 * The writes that store an engine's state under the layout: one per (view, key), (session view,
 * user), user × item pair and user (its recent event ids; `userOf` names the user of an id, and an
 * id it does not know is left out: only ids within the lateness matter, and those it knows).
 * With `expiry`, the pair and id keys carry a time-to-live: they are rewritten only when their
 * user or pair has events again, so without one, those of users and pairs gone quiet would stay
 * in the store for ever, holding nothing any read needs.
 */
export function snapshotWrites(
  namespace: string,
  snap: Pick<EngineSnapshot, 'views' | 'sessions' | 'plays' | 'pendingNegatives' | 'seen'>,
  userOf: (id: string) => string | undefined,
  expiry?: WriteExpiry,
): StateWrite[] {
  const ttl = (newest: number, span: number): { ttlMs?: number } => (expiry === undefined ? {} : { ttlMs: Math.max(0, newest + span - expiry.watermark) + EXPIRY_SLACK_MS });
  const k = stateKeys(namespace);
  const out: StateWrite[] = [];
  for (const [view, entries] of Object.entries(snap.views)) for (const [key, st] of entries) out.push({ key: k.view(view, key), value: JSON.stringify(st) });
  for (const [view, entries] of Object.entries(snap.sessions)) for (const [user, rows] of entries) out.push({ key: k.session(view, user), value: JSON.stringify(rows) });
  const pairs = new Map<string, { plays: number[]; pending: PendingList }>();
  for (const [pair, ts] of snap.plays) pairs.set(pair, { plays: ts, pending: [] });
  for (const [pair, list] of snap.pendingNegatives) pairs.set(pair, { plays: pairs.get(pair)?.plays ?? [], pending: list });
  for (const [pair, v] of pairs) {
    let newest = -Infinity;
    for (const t of v.plays) if (t > newest) newest = t;
    for (const p of v.pending) if (p.ts > newest) newest = p.ts;
    out.push({ key: k.pair(pair), value: JSON.stringify(v), ...ttl(newest, expiry?.after.pairs ?? 0) });
  }
  const seenBy = new Map<string, [string, number][]>();
  for (const [id, ts] of snap.seen) {
    const user = userOf(id);
    if (user === undefined) continue;
    const list = seenBy.get(user) ?? [];
    list.push([id, ts]);
    seenBy.set(user, list);
  }
  for (const [user, list] of seenBy) out.push({ key: k.seen(user), value: JSON.stringify(list), ...ttl(list.reduce((m, [, ts]) => Math.max(m, ts), -Infinity), expiry?.after.ids ?? 0) });
  return out;
}

function parse<T>(text: string | null | undefined): T | undefined {
  return text === null || text === undefined ? undefined : (JSON.parse(text) as T);
}
