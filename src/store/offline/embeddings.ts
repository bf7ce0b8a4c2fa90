/**
 * @module Embedding tables: learned vectors per item or user, versioned in time, stored beside the
 * log as `<log>/embeddings/<table>.parquet` with columns (key VARCHAR, ts BIGINT, vector DOUBLE[]).
 * A version published at ts counts like an event at ts: the value as of t is the key's latest
 * version with ts < t. Every engine reads through `EmbeddingTable.at` (stream, reference, serving)
 * or the same rule in SQL (batch), so a training set never sees a vector learned after its row.
 */
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { RecsignalError } from '../../core/errors.ts';
import type { EmbeddingViewIR, FeatureViewIR } from '../../features/ir.ts';
import { DuckDBEngine, sqlPath, sqlString } from './duckdb-engine.ts';
import type { EventLog } from './event-log.ts';

export interface EmbeddingVersion {
  readonly key: string;
  /** When the version was published (ms): it is served for requests at t > ts. */
  readonly ts: number;
  readonly vector: readonly number[];
}

/** Each table's versions in memory, by key, oldest first. */
export class EmbeddingTable {
  private readonly byKey = new Map<string, { ts: number[]; vectors: (readonly number[])[] }>();

  constructor(
    readonly name: string,
    readonly dims: number,
    versions: Iterable<EmbeddingVersion>,
  ) {
    for (const v of versions) {
      if (v.vector.length !== dims || v.vector.some((x) => !Number.isFinite(x))) {
        const what = `the vector of key '${v.key}' at ts ${v.ts} has ${v.vector.length} values${v.vector.some((x) => !Number.isFinite(x)) ? ', not all finite' : ''}; the view declares dims ${dims}`;
        throw new RecsignalError('INVALID_INPUT', `embedding table '${name}': ${what}`, {
          problems: [{ path: `embeddings/${name}.parquet`, message: what, fix: `write vectors of ${dims} finite numbers (recsignal embed --factors ${dims}), or declare the view's dims as the table's` }],
        });
      }
      let e = this.byKey.get(v.key);
      if (!e) this.byKey.set(v.key, (e = { ts: [], vectors: [] }));
      // Versions arrive sorted by (key, ts) from the file; an unsorted source is sorted here.
      let i = e.ts.length;
      while (i > 0 && (e.ts[i - 1] as number) > v.ts) i--;
      if (i > 0 && e.ts[i - 1] === v.ts) e.vectors[i - 1] = Object.freeze([...v.vector]);
      else {
        e.ts.splice(i, 0, v.ts);
        e.vectors.splice(i, 0, Object.freeze([...v.vector]));
      }
    }
  }

  /** The key's latest version with ts < t, or undefined. */
  at(key: string, t: number): { readonly ts: number; readonly vector: readonly number[] } | undefined {
    const e = this.byKey.get(key);
    if (!e) return undefined;
    let lo = 0;
    let hi = e.ts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((e.ts[mid] as number) < t) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? undefined : { ts: e.ts[lo - 1] as number, vector: e.vectors[lo - 1] as readonly number[] };
  }

  has(key: string): boolean {
    return this.byKey.has(key);
  }

  keys(): IterableIterator<string> {
    return this.byKey.keys();
  }

  get size(): number {
    return this.byKey.size;
  }
}

/** Embedding tables by name, as the engines take them. */
export type EmbeddingTables = ReadonlyMap<string, EmbeddingTable>;

export function embeddingPath(log: EventLog, table: string): string {
  return join(log.dir, 'embeddings', `${table}.parquet`);
}

/** SQL relation text of a table, or null when the log has none of that name. */
export function embeddingRelation(log: EventLog, table: string): string | null {
  const p = embeddingPath(log, table);
  return existsSync(p) ? `read_parquet(${sqlPath(p)})` : null;
}

/** The relation of every table the views read (null where the log has none), for the batch SQL. */
export function embeddingRelations(log: EventLog, views: readonly FeatureViewIR[]): Record<string, string | null> {
  return Object.fromEntries(embeddingViews(views).map((v) => [v.table, embeddingRelation(log, v.table)]));
}

export function embeddingViews(views: readonly FeatureViewIR[]): EmbeddingViewIR[] {
  return views.filter((v): v is EmbeddingViewIR => v.kind === 'embedding');
}

/**
 * Refuses a table whose vectors do not fit its views, with the error the online side gives
 * (`EmbeddingTable`): the batch engine reads the tables in SQL, where a vector of the wrong length
 * or with NaN, Infinity or NULL elements would otherwise become a feature of the wrong shape.
 */
export async function checkEmbeddingTables(engine: DuckDBEngine, log: EventLog, views: readonly FeatureViewIR[]): Promise<void> {
  for (const v of embeddingViews(views)) {
    const rel = embeddingRelation(log, v.table);
    if (rel === null) continue;
    const [bad] = await engine.query(
      `SELECT CAST(key AS VARCHAR) AS key, CAST(ts AS BIGINT) AS ts, CAST(vector AS DOUBLE[]) AS vector FROM ${rel}
       WHERE vector IS NULL OR len(vector) <> ${v.dims} OR len(list_filter(CAST(vector AS DOUBLE[]), x -> x IS NULL OR isnan(x) OR isinf(x))) > 0 LIMIT 1`,
    );
    if (bad !== undefined) {
      new EmbeddingTable(v.table, v.dims, [{ key: String(bad['key']), ts: Number(bad['ts']), vector: vectorOf(bad['vector']) }]);
    }
    await checkVersions(engine, rel, v.table);
  }
}

/**
 * Refuses a table (written by another job: any may write one) with a row without a key or a time,
 * or two versions of one key at one time. Batch and serving read such rows differently: a NULL key
 * matched nothing in SQL and was the key "null" online, a NULL time was 0 (visible at every time),
 * and of two versions at one time each side kept another.
 */
async function checkVersions(engine: DuckDBEngine, rel: string, table: string): Promise<void> {
  const [bad] = await engine.query(
    `SELECT CAST(key AS VARCHAR) AS key, CAST(ts AS BIGINT) AS ts, count(*) AS n FROM ${rel} GROUP BY ALL HAVING key IS NULL OR ts IS NULL OR count(*) > 1 LIMIT 1`,
  );
  if (bad === undefined) return;
  const key = bad['key'] as string | null;
  const what = key === null ? 'a row has no key' : bad['ts'] === null ? `a version of key '${key}' has no ts` : `key '${key}' has ${Number(bad['n'])} versions at ts ${Number(bad['ts'])}`;
  throw new RecsignalError('INVALID_INPUT', `embedding table '${table}': ${what}; each version needs a key and a time, one version per key and time: write the table again (recsignal embed replaces a version of the same key and time)`);
}

/** The vector lengths of the tables the log holds already (a table of mixed lengths gives its first). */
export async function publishedDims(log: EventLog, tables: readonly string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const engine = await DuckDBEngine.open();
  try {
    for (const table of tables) {
      const rel = embeddingRelation(log, table);
      if (rel === null) continue;
      const [row] = await engine.query(`SELECT len(vector) AS n FROM ${rel} LIMIT 1`);
      if (row !== undefined) out.set(table, Number(row['n']));
    }
    return out;
  } finally {
    engine.close();
  }
}

/** A vector as DuckDB returns it: a NULL element reads as NaN, which EmbeddingTable refuses, not as 0; a NULL vector as none. */
function vectorOf(value: unknown): number[] {
  return ((value ?? []) as (number | null)[]).map((x) => (x === null ? Number.NaN : Number(x)));
}

/** Reads every table the views read into memory; a table the log lacks is empty (its keys read NOT_FOUND). */
export async function readEmbeddings(log: EventLog, views: readonly FeatureViewIR[]): Promise<Map<string, EmbeddingTable>> {
  const out = new Map<string, EmbeddingTable>();
  const wanted = embeddingViews(views);
  if (wanted.length === 0) return out;
  const engine = await DuckDBEngine.open();
  try {
    for (const v of wanted) {
      const rel = embeddingRelation(log, v.table);
      if (rel !== null) await checkVersions(engine, rel, v.table);
      const rows = rel === null ? [] : await engine.query(`SELECT CAST(key AS VARCHAR) AS key, CAST(ts AS BIGINT) AS ts, CAST(vector AS DOUBLE[]) AS vector FROM ${rel} ORDER BY key, ts`);
      const prior = out.get(v.table);
      if (prior && prior.dims !== v.dims) {
        const what = `is read by views of dims ${prior.dims} and ${v.dims}`;
        throw new RecsignalError('INVALID_DEFINITION', `embedding table '${v.table}' ${what}`, { problems: [{ path: `views(${v.name}).dims`, message: what, fix: 'declare the same dims on every view of one table' }] });
      }
      out.set(v.table, new EmbeddingTable(v.table, v.dims, rows.map((r) => ({ key: String(r['key']), ts: Number(r['ts']), vector: vectorOf(r['vector']) }))));
    }
    return out;
  } finally {
    engine.close();
  }
}

/**
 * Publishes versions into a table: they join the ones it holds (a version of the same key and ts
 * is replaced). The file is rewritten whole through a temporary name, so a reader never sees half.
 */
export async function writeEmbeddings(log: EventLog, table: string, versions: readonly EmbeddingVersion[]): Promise<{ path: string; versions: number; keys: number }> {
  const path = embeddingPath(log, table);
  // JSON text would write NaN and Infinity as null, read back as 0: refused here, naming the key.
  const bad = versions.find((v) => v.vector.some((x) => !Number.isFinite(x)));
  if (bad !== undefined) {
    throw new RecsignalError('INVALID_INPUT', `embedding table '${table}': the vector of key '${bad.key}' at ts ${bad.ts} has values that are not finite numbers (${bad.vector.filter((x) => !Number.isFinite(x)).slice(0, 3).join(', ')}); nothing was written`);
  }
  mkdirSync(join(log.dir, 'embeddings'), { recursive: true });
  const engine = await DuckDBEngine.open();
  try {
    // Vectors go in as JSON text, which DuckDB casts to DOUBLE[] exactly (shortest round-trip digits).
    await engine.run('CREATE OR REPLACE TEMP TABLE __text (key VARCHAR, ts BIGINT, vector VARCHAR)');
    const a = await engine.appender('__text');
    for (const v of versions) {
      a.appendVarchar(v.key);
      a.appendBigInt(BigInt(Math.round(v.ts)));
      a.appendVarchar(JSON.stringify(v.vector));
      a.endRow();
    }
    a.closeSync();
    await engine.run('CREATE OR REPLACE TEMP TABLE __fresh AS SELECT key, ts, CAST(vector AS DOUBLE[]) AS vector FROM __text');
    const merged = existsSync(path)
      ? `SELECT * FROM __fresh UNION ALL SELECT key, ts, vector FROM read_parquet(${sqlPath(path)}) AS o WHERE NOT EXISTS (SELECT 1 FROM __fresh AS f WHERE f.key = o.key AND f.ts = o.ts)`
      : 'SELECT * FROM __fresh';
    const tmp = join(log.dir, 'embeddings', `.${table}.parquet.tmp`);
    await engine.run(`COPY (SELECT * FROM (${merged}) ORDER BY key, ts) TO ${sqlString(tmp)} (FORMAT parquet)`);
    const [count] = await engine.query(`SELECT count(*) AS n, count(DISTINCT key) AS k FROM read_parquet(${sqlPath(tmp)})`);
    renameSync(tmp, path);
    return { path, versions: Number(count?.['n']), keys: Number(count?.['k']) };
  } finally {
    engine.close();
  }
}

/** The modification time of each embedding view's table file (-1 when absent): take it before reading the tables. */
export function embeddingMtimes(log: EventLog, views: readonly FeatureViewIR[]): Map<string, number> {
  return new Map(embeddingViews(views).map((v) => [v.table, mtimeOf(embeddingPath(log, v.table))]));
}

/**
 * Keeps loaded tables current while a server runs: every `everyMs` it looks at each table file's
 * modification time and reads again the ones that changed (a `recsignal embed` publishing a
 * version), replacing them in `tables`, the map the engines read through. A table that fails to
 * read (a half-written file from another writer, a wrong length) keeps its previous contents and
 * is tried again at the next look; `lastError` says why.
 */
export class EmbeddingWatcher {
  private readonly seen = new Map<string, number>();
  private readonly timer: NodeJS.Timeout | undefined;
  private checking: Promise<void> = Promise.resolve();
  reloads = 0;
  lastError: string | null = null;

  /**
   * `readAt`: each table file's modification time taken before `tables` was read (`embeddingMtimes`),
   * so that a file rewritten while it was read is read again at the first look.
   */
  constructor(
    private readonly log: EventLog,
    private readonly views: readonly FeatureViewIR[],
    private readonly tables: Map<string, EmbeddingTable>,
    everyMs: number,
    readAt: ReadonlyMap<string, number> = embeddingMtimes(log, views),
  ) {
    for (const [table, at] of readAt) this.seen.set(table, at);
    if (this.seen.size > 0 && everyMs > 0) {
      this.timer = setInterval(() => void this.check(), everyMs);
      this.timer.unref();
    }
  }

  /** Reads again the tables whose files changed since the last look; resolves when done. */
  check(): Promise<void> {
    this.checking = this.checking.then(async () => {
      for (const [table, seen] of this.seen) {
        const now = mtimeOf(embeddingPath(this.log, table));
        if (now === seen) continue;
        try {
          const fresh = await readEmbeddings(this.log, this.views.filter((v) => v.kind === 'embedding' && v.table === table));
          this.tables.set(table, fresh.get(table) as EmbeddingTable);
          this.seen.set(table, now);
          this.reloads++;
          this.lastError = null;
        } catch (e) {
          this.lastError = `embedding table '${table}': ${(e as Error).message}`;
        }
      }
    });
    return this.checking;
  }

  async close(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    await this.checking;
  }
}

function mtimeOf(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return -1;
  }
}
