/**
 * @module The ranker's recsignal features: training interactions ingested into a temporary event
 * log, then the MovieLens feature set computed point-in-time by the DuckDB batch engine for
 * (user, item, ts) queries, and encoded as numbers for the GBDT.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RecsignalError } from '../../core/errors.ts';
import { loadFeatureSet } from '../../plan/load-features.ts';
import { featuresFor } from '../../compute/batch/training-set.ts';
import type { Interaction } from '../../eval/types.ts';
import type { ItemMetadata, UserMetadata } from '../../events/schema.ts';
import { createEventValidator } from '../../events/validate.ts';
import type { FeatureValue } from '../../features/ir.ts';
import type { CompiledFeatureSet } from '../../plan/compile.ts';
import { applyRequestFeatures, featureColumns } from '../../plan/rows.ts';
import { EventLog } from '../../store/offline/event-log.ts';
import { ingest } from '../../store/offline/ingest.ts';

/** The string values metadata can hold (gender, occupation, ...), sorted: the codes of string features. */
export function vocabularyOf(meta: Metadata | undefined): string[] {
  const out = new Set<string>();
  for (const u of meta?.users ?? []) for (const v of [u.gender, u.occupation, u.country]) if (v !== null) out.add(v);
  return [...out].sort();
}

/**
 * DuckDB on one thread: its float sums (decayed counts, standard deviations) then come out the same
 * bit for bit on every run; on several, their order varies, and LambdaMART's early stopping turned
 * those last bits into 82 trees on one run and 170 on another. The stages run on worker threads,
 * so the cores stay busy anyway.
 */
const REPRODUCIBLE = 1;

/** The feature set shipped with the examples; `ranker.features=<path>` points elsewhere. */
export const DEFAULT_FEATURE_SET = fileURLToPath(new URL('../../../examples/movielens/features.ts', import.meta.url));

export interface Metadata {
  readonly items: readonly ItemMetadata[];
  readonly users: readonly UserMetadata[];
}

/** A dense row-major block of encoded features, one row per query. */
export interface FeatureBlock {
  readonly names: readonly string[];
  readonly rows: number;
  readonly data: Float64Array;
}

export async function loadRankerFeatureSet(path: string = DEFAULT_FEATURE_SET): Promise<CompiledFeatureSet> {
  return loadFeatureSet(path);
}

/**
 * A temporary event log holding `train` as rating events and the metadata; `use` runs with it and
 * the folder is removed afterwards, whatever happens.
 */
export async function withTrainingLog<T>(train: readonly Interaction[], meta: Metadata | undefined, use: (log: EventLog) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'recsignal-ranker-'));
  try {
    const log = new EventLog(dir);
    const report = await ingest(
      train.map((r, i) => ({
        position: `train:${i + 1}`,
        raw: { event_id: `r:${r.user}:${r.item}:${r.ts}:${i}`, user_id: r.user, item_id: r.item, ts: r.ts, type: 'rating', value: r.rating },
      })),
      // The harness's rows carry milliseconds already (its readers convert); toy data may sit in 1970.
      { log, validator: createEventValidator({ refuseSeconds: false }), deadLetterPath: join(dir, 'dead-letter.jsonl'), items: meta?.items ?? [], users: meta?.users ?? [] },
    );
    if (report.accepted !== train.length) throw new RecsignalError('INVALID_INPUT', `ranker: ingested ${report.accepted} of ${train.length} training rows (rejected ${report.rejected}, duplicates ${report.duplicates})`);
    return await use(log);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Features of each (user, item) pair as of `ts`, encoded: numbers as they are (null → NaN),
 * strings as their index in `vocabulary`, lists and histograms left out (the request-time crosses
 * read them). As in serving, entity features are computed once per user and once per item by the
 * batch engine, and the request-time functions then run per pair with the engines' own
 * `applyRequestFeatures`: a pair spine through SQL costs ~0.3 ms a row, 30 s for 100 candidates a user.
 */
export async function pairFeatures(
  compiled: CompiledFeatureSet, log: EventLog, pairs: readonly { user: string; item: string }[], ts: number, vocabulary: readonly string[],
  userTimes?: ReadonlyMap<string, number>,
): Promise<FeatureBlock> {
  const columns = featureColumns(compiled.ir);
  const sideOf = new Map(compiled.ir.views.map((v) => [v.name, sideOfKeys(v.entity.keys)] as const));
  const users = [...new Set(pairs.map((p) => p.user))];
  const items = [...new Set(pairs.map((p) => p.item))];
  const anyUser = users[0] ?? '', anyItem = items[0] ?? '';
  const rows = await featuresFor(compiled, log, [
    ...users.map((u) => ({ fields: { user_id: u, item_id: anyItem }, ts })),
    ...items.map((i) => ({ fields: { user_id: anyUser, item_id: i }, ts })),
  ], { threads: REPRODUCIBLE });
  const userRow = new Map(users.map((u, i) => [u, rows[i]!] as const));
  const itemRow = new Map(items.map((it, i) => [it, rows[users.length + i]!] as const));
  const colIndex = new Map(columns.map((c, j) => [c.ref, j] as const));
  const viewOfRef = new Map(columns.map((c) => [c.ref, c.view] as const));
  const kept = columns.map((c, j) => ({ c, j })).filter(({ c }) => c.type === 'int' || c.type === 'float' || c.type === 'string');
  const vocab = new Map(vocabulary.map((v, i) => [v, i] as const));
  const requestStart = columns.findIndex((c) => c.view === null);
  const stats = { errors: 0, firstError: null as string | null };
  const data = new Float64Array(pairs.length * kept.length);
  pairs.forEach((p, r) => {
    const ur = userRow.get(p.user)!, ir = itemRow.get(p.item)!;
    const valueOf = (ref: string): FeatureValue | undefined => {
      const j = colIndex.get(ref);
      if (j === undefined) return undefined;
      return (sideOf.get(viewOfRef.get(ref) ?? '') === 'item' ? ir : ur)[j];
    };
    const request = applyRequestFeatures(compiled, valueOf, { ts, user_id: p.user, item_id: p.item }, stats);
    kept.forEach(({ c, j }, k) => {
      const v = c.view === null ? request[j - requestStart] : valueOf(c.ref);
      data[r * kept.length + k] = encode(v ?? null, vocab);
    });
  });
  if (stats.errors > 0) throw new RecsignalError('INVALID_DEFINITION', `ranker features: ${stats.errors} request-time function calls failed, first: ${stats.firstError}; fix the feature set`);
  const block = { names: kept.map(({ c }) => c.column), rows: pairs.length, data };
  return userTimes === undefined ? block : joinBlocks(block, await itemsAtUserTime(compiled, log, pairs, userTimes, sideOf));
}

/**
 * The item views' numeric features of each pair as of its user's own time (`userTimes`: the end of
 * the user's activity) instead of one time for all: how popular and how new the item was when
 * this user was watching. Lookups do not change with time and are left out.
 */
async function itemsAtUserTime(
  compiled: CompiledFeatureSet, log: EventLog, pairs: readonly { user: string; item: string }[],
  userTimes: ReadonlyMap<string, number>, sideOf: ReadonlyMap<string, 'user' | 'item'>,
): Promise<FeatureBlock> {
  const views = compiled.ir.views.filter((v) => v.kind !== 'lookup' && sideOf.get(v.name) === 'item');
  const columns = featureColumns(compiled.ir, views).filter((c) => c.view !== null);
  const kept = columns.map((c, j) => ({ c, j })).filter(({ c }) => c.type === 'int' || c.type === 'float');
  const timeOf = (user: string): number => {
    const t = userTimes.get(user);
    if (t === undefined) throw new RecsignalError('INVALID_ARGUMENT', `ranker features: no time for user ${user}; userTimes must hold every pair's user`);
    return t;
  };
  const rowOf = new Map<string, number>();
  const queries: { fields: Record<string, string>; ts: number }[] = [];
  for (const p of pairs) {
    const ts = timeOf(p.user);
    const key = `${p.item}\u0000${ts}`;
    if (rowOf.has(key)) continue;
    rowOf.set(key, queries.length);
    queries.push({ fields: { user_id: p.user, item_id: p.item }, ts });
  }
  const rows = await featuresFor(compiled, log, queries, { views: views.map((v) => v.name), threads: REPRODUCIBLE });
  const data = new Float64Array(pairs.length * kept.length);
  pairs.forEach((p, r) => {
    const row = rows[rowOf.get(`${p.item}\u0000${timeOf(p.user)}`)!]!;
    kept.forEach(({ j }, k) => {
      const v = row[j];
      data[r * kept.length + k] = typeof v === 'number' ? v : Number.NaN;
    });
  });
  return { names: kept.map(({ c }) => `${c.column}_at_user_time`), rows: pairs.length, data };
}

/** Two blocks over the same rows side by side. */
function joinBlocks(a: FeatureBlock, b: FeatureBlock): FeatureBlock {
  const cols = a.names.length + b.names.length;
  const data = new Float64Array(a.rows * cols);
  for (let r = 0; r < a.rows; r++) {
    data.set(a.data.subarray(r * a.names.length, (r + 1) * a.names.length), r * cols);
    data.set(b.data.subarray(r * b.names.length, (r + 1) * b.names.length), r * cols + a.names.length);
  }
  return { names: [...a.names, ...b.names], rows: a.rows, data };
}

/** A view's rows come from the user's features or the item's; a view keyed on anything else cannot be crossed here. */
function sideOfKeys(keys: readonly string[]): 'user' | 'item' {
  if (keys.length === 1 && keys[0] === 'user_id') return 'user';
  if (keys.length === 1 && keys[0] === 'item_id') return 'item';
  throw new RecsignalError('INVALID_DEFINITION', `ranker features: a view keyed on (${keys.join(', ')}) is neither per user nor per item; key the ranker's views on user_id or item_id`);
}

function encode(v: FeatureValue, codes: ReadonlyMap<string, number>): number {
  if (v === null || v === undefined) return Number.NaN;
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string') return codes.get(v) ?? Number.NaN;
  return Number.NaN;
}
