/**
 * @module Online/offline consistency as a measured number: replay the log through the stream
 * engine and, at N random (entity, time) probes, compare what the online path serves as of that
 * time with the batch engine's value as of that time. Mismatches per feature, must be 0.
 */
import type { FeatureValue } from '../features/ir.ts';
import type { CompiledFeatureSet } from '../plan/compile.ts';
import { featureColumns } from '../plan/rows.ts';
import { featuresFor, type FeatureQuery } from '../compute/batch/training-set.ts';
import { StreamEngine } from '../compute/stream/engine.ts';
import { applyBatch, decodeValue, encodeWrites, readStoredFeatures, type ReadKeys, type StoredStateOptions } from '../compute/stream/store-backed.ts';
import type { InteractionEvent } from '../events/schema.ts';
import type { OnlineStore } from '../store/online/online-store.ts';
import { randomBytes } from 'node:crypto';
import { DuckDBEngine } from '../store/offline/duckdb-engine.ts';
import type { EventLog } from '../store/offline/event-log.ts';
import { readEmbeddings } from '../store/offline/embeddings.ts';
import { readMetadata } from '../store/offline/metadata.ts';
import { replayLog } from '../store/offline/replay.ts';

export interface ConsistencyOptions {
  readonly compiled: CompiledFeatureSet;
  readonly log: EventLog;
  readonly probes: number;
  readonly seed?: number;
  readonly onProgress?: (eventsReplayed: number) => void;
  /**
   * Replay into this online store instead of an in-process engine: the stored layout the server
   * and `recsignal stream` use, written batch by batch and read back at each probe, under a
   * namespace of its own that is deleted afterwards.
   */
  readonly store?: OnlineStore;
  /** The stream engine's allowed lateness (ms), as the server or consumer under test runs it; default 0. */
  readonly lateness?: number;
}

export interface FeatureConsistency {
  readonly feature: string;
  /** The view it is an output of; null for a request feature (computed from the others at the probe). */
  readonly view: string | null;
  readonly mismatches: number;
  readonly rate: number;
  /**
   * Probes where the online or the batch value is not the feature's default: the comparisons that
   * test something (a probe whose key has no events before its time reads the default on both sides).
   */
  readonly informative: number;
  /** The first mismatching probe, to start an investigation from. */
  readonly example: { readonly probe: FeatureQuery; readonly online: FeatureValue; readonly offline: FeatureValue } | null;
}

export interface ConsistencyReport {
  readonly probes: number;
  readonly events: number;
  readonly mismatches: number;
  readonly rate: number;
  readonly features: readonly FeatureConsistency[];
}

const REL = 1e-9;

export async function checkConsistency(o: ConsistencyOptions): Promise<ConsistencyReport> {
  const probes = await chooseProbes(o.log, o.probes, o.seed ?? 1);
  const offline = await featuresFor(o.compiled, o.log, probes);
  const { items, users } = await readMetadata(o.log);
  const embeddings = await readEmbeddings(o.log, o.compiled.ir.views);
  const replayed = o.store === undefined
    ? await replayInProcess(o, probes, new StreamEngine(o.compiled, { items, users, embeddings, lateness: o.lateness ?? 0 }))
    : await replayIntoStore(o, probes, o.store, { compiled: o.compiled, namespace: `recsignal-consistency:${o.compiled.hash}:${randomBytes(6).toString('hex')}`, lateness: o.lateness ?? 0, items, users, embeddings });
  const { online, events } = replayed;

  const columns = featureColumns(o.compiled.ir);
  const features = columns.map((c, ci) => {
    let mismatches = 0;
    let informative = 0;
    let example: FeatureConsistency['example'] = null;
    probes.forEach((probe, pi) => {
      const a = online[pi]?.[ci] ?? null;
      const b = offline[pi]?.[ci] ?? null;
      if (!sameValue(a, c.default) || !sameValue(b, c.default)) informative++;
      if (!sameValue(a, b)) {
        mismatches++;
        example ??= { probe, online: a, offline: b };
      }
    });
    return { feature: c.column, view: c.view, mismatches, rate: probes.length === 0 ? 0 : mismatches / probes.length, informative, example };
  });
  const mismatches = features.reduce((s, f) => s + f.mismatches, 0);
  const cells = probes.length * columns.length;
  return { probes: probes.length, events, mismatches, rate: cells === 0 ? 0 : mismatches / cells, features };
}

/** The probes by time, each with its index: a replay answers them as it is about to pass their times. */
function probeOrder(probes: readonly FeatureQuery[]): { p: FeatureQuery; i: number }[] {
  return probes.map((p, i) => ({ p, i })).sort((a, b) => a.p.ts - b.p.ts);
}

async function replayInProcess(o: ConsistencyOptions, probes: readonly FeatureQuery[], engine: StreamEngine): Promise<{ online: FeatureValue[][]; events: number }> {
  const order = probeOrder(probes);
  const online: FeatureValue[][] = new Array(probes.length);
  let next = 0;
  let events = 0;
  const answer = (before: number) => {
    while (next < order.length && (order[next] as { p: FeatureQuery }).p.ts <= before) {
      const { p, i } = order[next++] as { p: FeatureQuery; i: number };
      online[i] = engine.features(p.fields, p.ts);
    }
  };
  for await (const e of replayLog(o.log)) {
    answer(e.ts);
    engine.apply(e);
    if (o.onProgress && ++events % 100_000 === 0) o.onProgress(events);
  }
  answer(Infinity);
  return { online, events };
}

/** Events applied per stored batch between probes. */
const STORE_BATCH = 2000;

/**
 * The same replay through the stored layout: events are applied in batches (`applyBatch`, as the
 * server and the consumers apply them), each written to the store before the next; a probe is read
 * back from the store (`readStoredFeatures`) once every event before its time is written.
 */
async function replayIntoStore(o: ConsistencyOptions, probes: readonly FeatureQuery[], store: OnlineStore, stored: StoredStateOptions): Promise<{ online: FeatureValue[][]; events: number }> {
  const order = probeOrder(probes);
  const online: FeatureValue[][] = new Array(probes.length);
  const read: ReadKeys = async (keys) => (await store.getMany(keys)).map((v) => (v === undefined ? null : decodeValue(v)));
  const written = new Set<string>();
  let watermark: number | null = null;
  let batch: InteractionEvent[] = [];
  let next = 0;
  let events = 0;
  const flush = async () => {
    if (batch.length === 0) return;
    const r = await applyBatch(stored, batch, read, { own: watermark, others: null });
    watermark = r.watermark;
    for (const w of r.writes) written.add(w.key);
    await store.setMany(encodeWrites(r.writes));
    batch = [];
  };
  const answer = async (before: number) => {
    const due: { p: FeatureQuery; i: number }[] = [];
    while (next < order.length && (order[next] as { p: FeatureQuery }).p.ts <= before) due.push(order[next++] as { p: FeatureQuery; i: number });
    if (due.length === 0) return;
    await flush();
    const rows = await readStoredFeatures(stored, due.map((d) => d.p), read);
    due.forEach((d, k) => (online[d.i] = rows[k] as FeatureValue[]));
  };
  try {
    for await (const e of replayLog(o.log)) {
      await answer(e.ts);
      batch.push(e);
      if (batch.length >= STORE_BATCH) await flush();
      if (o.onProgress && ++events % 100_000 === 0) o.onProgress(events);
    }
    await flush();
    await answer(Infinity);
  } finally {
    // Nothing of the replay stays in the store.
    const keys = [...written];
    for (let i = 0; i < keys.length; i += 5000) await store.setMany(keys.slice(i, i + 5000).map((key) => ({ key, value: null }))).catch(() => undefined);
  }
  return { online, events };
}

/** Exact for integers, strings and lists; 1e-9 relative for floats. */
export function sameValue(a: FeatureValue, b: FeatureValue): boolean {
  if (typeof a === 'number' && typeof b === 'number') return a === b || Math.abs(a - b) <= REL * Math.max(Math.abs(a), Math.abs(b)) || Math.abs(a - b) < 1e-12;
  if (Array.isArray(a) || Array.isArray(b)) return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => x === b[i]);
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a).sort();
    const kb = Object.keys(b).sort();
    return ka.length === kb.length && ka.every((k, i) => k === kb[i] && sameValue((a as Record<string, number>)[k] ?? null, (b as Record<string, number>)[k] ?? null));
  }
  return a === b;
}

/** The context fields the log keeps as columns, any of which can key a view: each probe carries its event's. */
const CONTEXT_KEYS = ['device', 'country', 'session_id'] as const;

/**
 * Probes: entities taken from random events (so they have history), at times that are either an
 * event's own time (the strict-inequality edge) or a random time within the log's span.
 */
async function chooseProbes(log: EventLog, n: number, seed: number): Promise<FeatureQuery[]> {
  const engine = await DuckDBEngine.open();
  try {
    const rows = await engine.query(
      `WITH e AS (SELECT * FROM ${log.eventsRelation()}), span AS (SELECT min(ts) AS lo, max(ts) AS hi FROM e)
       SELECT user_id, item_id, ${CONTEXT_KEYS.join(', ')}, ts, lo, hi FROM e, span ORDER BY hash(event_id || ${seed}) LIMIT ${Math.max(0, Math.floor(n))}`,
    );
    let state = seed >>> 0 || 1;
    const random = () => {
      // xorshift32: a tiny seeded generator so a probe set is reproducible from its seed.
      state ^= state << 13;
      state >>>= 0;
      state ^= state >>> 17;
      state ^= state << 5;
      state >>>= 0;
      return state / 4294967296;
    };
    return rows.map((r, i) => {
      const lo = Number(r['lo']);
      const hi = Number(r['hi']);
      const ts = i % 2 === 0 ? Number(r['ts']) : Math.floor(lo + random() * (hi - lo + 1));
      const fields: Record<string, string | null> = {};
      for (const k of ['user_id', 'item_id', ...CONTEXT_KEYS]) fields[k] = (r[k] as string | null) ?? null;
      return { fields, ts };
    });
  } finally {
    engine.close();
  }
}
