/**
 * @module The batch engine: point-in-time training sets and backfills, computed by the generated SQL
 * on DuckDB over the Parquet event log. Request-time functions are applied to each row after.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { RecsignalError } from '../../core/errors.ts';
import { ISO_LIKE, SECONDS_LIKE_BELOW } from '../../events/validate.ts';
import type { FeatureType, FeatureValue, FeatureViewIR } from '../../features/ir.ts';
import type { CompiledFeatureSet } from '../../plan/compile.ts';
import { applyRequestFeatures, featureColumns, type FeatureColumn, type RequestFeatureStats } from '../../plan/rows.ts';
import { DuckDBEngine, sqlPath, sqlString } from '../../store/offline/duckdb-engine.ts';
import type { EventLog } from '../../store/offline/event-log.ts';
import { checkEmbeddingTables, embeddingRelations } from '../../store/offline/embeddings.ts';
import { duckdb } from './dialect.ts';
import { EXACT_SUM_LIMIT, queryKeyColumns, renderFeatureSql, renderMagnitudeSql, type OneTime } from './sql.ts';

const TIME_DERIVED: Readonly<Record<string, string>> = {
  hour_bucket: `CASE WHEN (__t // 3600000) % 24 < 6 THEN 'night' WHEN (__t // 3600000) % 24 < 12 THEN 'morning' WHEN (__t // 3600000) % 24 < 18 THEN 'afternoon' ELSE 'evening' END`,
  day_type: `CASE WHEN ((__t // 86400000) + 4) % 7 IN (0, 6) THEN 'weekend' ELSE 'weekday' END`,
};

export interface BatchContext {
  readonly engine: DuckDBEngine;
  readonly compiled: CompiledFeatureSet;
  readonly log: EventLog;
  /** The relation every query reads events from (the log, loaded once). */
  readonly events: string;
}

/**
 * Opens an engine and loads the log into one in-memory table: every view reads the events at
 * least once, and a table scan is cheaper than decoding the Parquet files each time. `threads` as
 * in `DuckDBEngine.open` (default: every core).
 */
export async function openBatch(compiled: CompiledFeatureSet, log: EventLog, threads?: number): Promise<BatchContext> {
  const engine = await DuckDBEngine.open(':memory:', threads === undefined ? {} : { threads });
  try {
    await checkEmbeddingTables(engine, log, compiled.ir.views);
    await engine.run(`CREATE TEMP TABLE __log AS SELECT * FROM ${log.eventsRelation()}`);
  } catch (e) {
    engine.close();
    throw e;
  }
  return { engine, compiled, log, events: '__log' };
}

export interface BatchReport {
  readonly rows: number;
  readonly columns: readonly string[];
  readonly requestErrors: RequestFeatureStats;
}

/**
 * Turns a table `source` with a time column into `__queries` (`__row`, `__t`, every key as VARCHAR;
 * missing keys NULL, hour_bucket / day_type derived from the time when the source lacks them or a row leaves them empty).
 */
export async function prepareQueries(ctx: BatchContext, source: string, rowExpr: string, timeExpr: string, views: readonly FeatureViewIR[]): Promise<void> {
  const have = new Set((await ctx.engine.query(`SELECT column_name FROM (DESCRIBE ${source})`)).map((r) => String(r['column_name'])));
  const keys = queryKeyColumns(views).map((k) => {
    // A time-derived key the row leaves empty is derived from its time, as the stream engine and the reference do.
    if (have.has(k)) return `${k in TIME_DERIVED ? `coalesce(CAST(${duckdb.ident(k)} AS VARCHAR), ${TIME_DERIVED[k]})` : `CAST(${duckdb.ident(k)} AS VARCHAR)`} AS ${duckdb.ident(k)}`;
    return `${TIME_DERIVED[k] ?? 'CAST(NULL AS VARCHAR)'} AS ${duckdb.ident(k)}`;
  });
  await ctx.engine.run(
    `CREATE OR REPLACE TABLE __queries AS SELECT __row, __t${keys.map((k) => `, ${k}`).join('')} FROM (SELECT ${rowExpr} AS __row, ${timeExpr} AS __t, * FROM ${source})`,
  );
}

/**
 * Query rows per chunk: a stateful view over more query rows runs once per slice of its keys
 * (hash of user_id or item_id), so DuckDB holds one slice's intermediate results at a time. On a
 * 1M-row spine over 10M events the single statement ran out of memory at DuckDB's default limit.
 */
export const DEFAULT_CHUNK_ROWS = 250_000;

/**
 * A view whose largest key partition (one user's events, or one item's) holds at most this many
 * events computes its counts, sums and means as window frames over each key's events and query
 * rows; above it, as running totals in one global order. On the 1M-row spine over 10M events
 * (users ≤ 1,128 events, items up to 531k) frames cut user engagement 5.1 → 4.3 s and user × item
 * 2.4 → 1.4 s a chunk, and made item popularity 3.6 → 4.7 s.
 */
export const FRAMED_PARTITION_ROWS = 10_000;

/** How `computeFeatures` runs; undefined is the default of each. */
export interface ComputeOptions {
  readonly onProgress?: ((percent: number) => void) | undefined;
  /** Every query row has this time (a backfill). */
  readonly oneTime?: OneTime | undefined;
  /** Query rows per slice of a view's keys (memory bound); default DEFAULT_CHUNK_ROWS. */
  readonly chunkRows?: number | undefined;
  /** Largest key partition computed by window frames; default FRAMED_PARTITION_ROWS (0: running totals everywhere). */
  readonly framedPartitionRows?: number | undefined;
}

/**
 * Computes every feature of `views` for `__queries`: the view `__features` (one row per `__row`, in no
 * particular order: readers order it), over the view `__computed` and, when asked, the request
 * features in `__cross`, joined where it is read instead of into a third table.
 */
export async function computeFeatures(ctx: BatchContext, views: readonly FeatureViewIR[], withRequest: boolean, options: ComputeOptions = {}): Promise<RequestFeatureStats> {
  const { onProgress, oneTime, chunkRows = DEFAULT_CHUNK_ROWS } = options;
  const exactColumns = oneTime !== undefined ? new Set<string>() : await exactSumColumns(ctx, views);
  const framedViews = oneTime !== undefined ? new Set<string>() : await smallPartitionViews(ctx, views, options.framedPartitionRows ?? FRAMED_PARTITION_ROWS);
  const render = (only: readonly FeatureViewIR[], events = ctx.events, queries = '__queries') =>
    renderFeatureSql({ ir: ctx.compiled.ir, dialect: duckdb, events, items: ctx.log.itemsRelation(), users: ctx.log.usersRelation(), embeddings: embeddingRelations(ctx.log, only), queries, views: only, ...(oneTime === undefined ? {} : { oneTime }), exactColumns, framedViews });
  // One statement per view, each into its own table, then one join by row: DuckDB then holds one
  // view's intermediate results at a time instead of every view's at once (peak memory), at the
  // cost of deriving the event columns once per view.
  // Lookups and embeddings read a table by key, no event history: they run together, whole.
  const byKey = (v: FeatureViewIR) => v.kind === 'lookup' || v.kind === 'embedding';
  const stateful = views.filter((v) => !byKey(v));
  const queryRows = await ctx.engine.count('__queries');
  // A backfill (one time for all) joins each key to its history once: linear, and small enough whole.
  // A view fanned out over a category (a user's genres) reads each query row once per value its key
  // has had, and its point-in-time joins grow faster than the slice: it runs in slices half as large
  // (genre taste on the 1M-row benchmark spine: 8 slices 35 s, 4 slices 40 s, 16 slices 35 s).
  const chunksOf = (v: FeatureViewIR) => (oneTime !== undefined || chunkColumn(v) === null ? 1 : Math.max(1, Math.ceil((queryRows * (v.kind === 'aggregation' && v.via !== null ? 2 : 1)) / chunkRows)));
  const whole = stateful.length <= 1 && stateful.every((v) => chunksOf(v) === 1);
  // Only the request features whose views are all computed here (their inputs would read nulls otherwise).
  const request = withRequest ? withComputableRequests(ctx.compiled, views) : ctx.compiled;
  const withCross = withRequest && request.ir.requestFeatures.length > 0;
  // The views the request features read run first; the request pass (JS, ~8 s of a 1M-row spine)
  // then reads them on a second connection while DuckDB computes the other views.
  const inputs = new Set(withCross ? requestInputColumns(request, views).map((c) => c.view as string) : []);
  const ordered = [...stateful.filter((v) => inputs.has(v.name)), ...stateful.filter((v) => !inputs.has(v.name))];
  const parts = whole ? [views] : [views.filter(byKey), ...ordered.map((v) => [v])].filter((p) => p.length > 0);
  // The parts are database tables, not TEMP ones: the request pass's connection reads them too.
  const tables = parts.map((_, i) => `__fv${i}`);
  // `__computed` is a view joining the parts by row, not a table: a training set then copies the
  // features once, into its output, instead of into a joined table first (~4 s of a 1M-row spine),
  // and the request features read only the parts holding their inputs.
  const owner = new Map(parts.flatMap((part, i) => part.map((v) => [v.name, i] as const)));
  const joined = (columns: readonly FeatureColumn[]): string => {
    const used = [...new Set(columns.map((c) => owner.get(c.view as string) as number))].sort((a, b) => a - b);
    if (used.length === 0) used.push(0);
    const from = used.map((t, i) => (i === 0 ? `${tables[t]} AS f${t}` : `JOIN ${tables[t]} AS f${t} USING (__row)`)).join(' ');
    return `SELECT f${used[0]}.__row${columns.map((c) => `, f${owner.get(c.view as string)}.${duckdb.ident(c.column)}`).join('')} FROM ${from}`;
  };
  const stats: RequestFeatureStats = { errors: 0, firstError: null };
  let pass: Promise<RequestResults> | undefined;
  const startPass = () => {
    pass = readRequestFeatures(ctx, request, views, stats, joined, queryRows);
    // Awaited below; until then a failure must not count as unhandled.
    pass.catch(() => undefined);
  };
  await dropPartTables(ctx.engine);
  try {
    for (const [i, part] of parts.entries()) {
      if (withCross && pass === undefined && parts.slice(i).every((p) => p.every((v) => !inputs.has(v.name)))) startPass();
      const view = part[0] as FeatureViewIR;
      const chunks = part.length === 1 ? chunksOf(view) : 1;
      for (let c = 0; c < chunks; c++) {
        const progress = onProgress && ((p: number) => onProgress((100 * i + (100 * c + p) / chunks) / parts.length));
        if (chunks === 1) {
          await ctx.engine.run(`CREATE TABLE ${tables[i]} AS ${render(part)}`, progress);
          continue;
        }
        const slice = `hash(${duckdb.ident(chunkColumn(view) as string)}) % ${chunks} = ${c}`;
        const sql = render(part, `(SELECT * FROM ${ctx.events} WHERE ${slice})`, `(SELECT * FROM __queries WHERE ${slice})`);
        await ctx.engine.run(c === 0 ? `CREATE TABLE ${tables[i]} AS ${sql}` : `INSERT INTO ${tables[i]} ${sql}`, progress);
      }
    }
  } catch (e) {
    // The pass's connection must be done before the caller closes the database.
    await pass?.catch(() => undefined);
    throw e;
  }
  // Columns in the order of `views`.
  await ctx.engine.run(`CREATE OR REPLACE TEMP VIEW __computed AS ${joined(featureColumns(ctx.compiled.ir, views).filter((c) => c.view !== null))}`);
  if (withCross) {
    if (pass === undefined) startPass();
    await appendRequestFeatures(ctx, request, await (pass as Promise<RequestResults>));
  }
  await ctx.engine.run(`CREATE OR REPLACE TEMP VIEW __features AS ${withCross ? 'SELECT f.*, c.* EXCLUDE (__row) FROM __computed AS f LEFT JOIN __cross AS c USING (__row)' : 'SELECT * FROM __computed'}`);
  return stats;
}

/** Drops the per-view tables of an earlier `computeFeatures` on this engine (`__computed` reads them). */
async function dropPartTables(engine: DuckDBEngine): Promise<void> {
  const old = await engine.query(`SELECT table_name FROM duckdb_tables() WHERE starts_with(table_name, '__fv')`);
  for (const r of old) await engine.run(`DROP TABLE ${duckdb.ident(String(r['table_name']))}`);
}

/** The input columns of sums and means in `views` whose total magnitude over the log fits exact decimal running totals. */
async function exactSumColumns(ctx: BatchContext, views: readonly FeatureViewIR[]): Promise<Set<string>> {
  const columns = [...new Set(views.flatMap((v) => (v.kind === 'aggregation' ? v.aggregations : [])).filter((a) => a.op === 'sum' || a.op === 'mean').map((a) => a.input as string))];
  if (columns.length === 0) return new Set();
  const sql = renderMagnitudeSql({ ir: ctx.compiled.ir, dialect: duckdb, events: ctx.events, items: ctx.log.itemsRelation(), users: ctx.log.usersRelation() }, columns);
  const totals = (await ctx.engine.query(sql))[0] ?? {};
  return new Set(columns.filter((c) => Number(totals[c]) < EXACT_SUM_LIMIT));
}

/**
 * The aggregation views whose key partitions hold at most `limit` events: each is keyed by a user
 * or an item (its chunk column) and reads no category fan-out, so one key's events bound its
 * partitions; that bound is measured on the log, once per column.
 */
async function smallPartitionViews(ctx: BatchContext, views: readonly FeatureViewIR[], limit: number): Promise<Set<string>> {
  const largest = new Map<string, number>();
  const small = new Set<string>();
  for (const v of views) {
    const column = chunkColumn(v);
    if (v.kind !== 'aggregation' || v.via !== null || column === null || limit <= 0) continue;
    if (!largest.has(column)) {
      const row = (await ctx.engine.query(`SELECT coalesce(max(n), 0) AS n FROM (SELECT count(*) AS n FROM ${ctx.events} GROUP BY ${duckdb.ident(column)})`))[0];
      largest.set(column, Number(row?.['n'] ?? 0));
    }
    if ((largest.get(column) as number) <= limit) small.add(v.name);
  }
  return small;
}

/**
 * The event column that splits a view's work into independent slices: a key column every one of
 * its events and query rows carries (a user's genre counts need only that user's events). Null
 * for a view keyed by something else (a category alone), which then runs whole.
 */
function chunkColumn(v: FeatureViewIR): string | null {
  if (v.kind === 'lookup') return null;
  return ['user_id', 'item_id'].find((k) => v.entity.keys.includes(k)) ?? null;
}

/**
 * The feature set with only the request features whose view inputs are all among `views` (request
 * fields are always there): the set itself when that is every one, so that its plan stays cached.
 */
export function withComputableRequests(compiled: CompiledFeatureSet, views: readonly FeatureViewIR[]): CompiledFeatureSet {
  const computed = new Set(featureColumns(compiled.ir, views).filter((c) => c.view !== null).map((c) => c.ref));
  const kept = compiled.ir.requestFeatures.filter((r) => Object.values(r.inputs).every((ref) => ref.startsWith('request:') || computed.has(ref)));
  return kept.length === compiled.ir.requestFeatures.length ? compiled : { ...compiled, ir: { ...compiled.ir, requestFeatures: kept } };
}

/** The computed feature columns the request features read (each once, in the order of `views`). */
function requestInputColumns(compiled: CompiledFeatureSet, views: readonly FeatureViewIR[]): FeatureColumn[] {
  const refs = new Set(compiled.ir.requestFeatures.flatMap((r) => Object.values(r.inputs)));
  return featureColumns(compiled.ir, views).filter((c) => c.view !== null && refs.has(c.ref));
}

/** The request features of every query row: row ids, and one column of values per request feature. */
interface RequestResults {
  readonly rows: number[];
  readonly results: FeatureValue[][];
}

/**
 * Request features run in JS over the computed rows, read in chunks with only the columns their
 * inputs name, on a connection of their own (the views not among their inputs may still be running
 * on the main one); one implementation serves training and serving.
 */
async function readRequestFeatures(ctx: BatchContext, compiled: CompiledFeatureSet, views: readonly FeatureViewIR[], stats: RequestFeatureStats, joined: (columns: readonly FeatureColumn[]) => string, queryRows: number): Promise<RequestResults> {
  const engine = await ctx.engine.connect();
  try {
    const inputCols = requestInputColumns(compiled, views);
    const byRef = new Map(inputCols.map((c) => [c.ref, c.column]));
    const typeOf = new Map(inputCols.map((c) => [c.ref, c.type]));
    const reqs = compiled.ir.requestFeatures;
    const refs = inputCols.map((c) => c.ref);
    const fields = [...new Set(reqs.flatMap((r) => Object.values(r.inputs)).filter((ref) => ref.startsWith('request:')).map((ref) => ref.slice(8)))];
    const spineCols = new Set((await engine.query(`SELECT column_name FROM (DESCRIBE __spine)`)).map((r) => String(r['column_name'])));
    const select = [
      'f.__row',
      'q.__t',
      // Lists come as JSON text: JSON.parse builds them several times faster than converting DuckDB's
      // list values. A histogram comes as a JSON object (its map), parsed straight into its value.
      ...refs.map((ref, i) => {
        const col = `f.${duckdb.ident(byRef.get(ref) as string)}`;
        const type = typeOf.get(ref);
        if (type === 'histogram') return `${histogramJson(col)} AS __in${i}`;
        return isList(type) ? `to_json(${col}) AS __in${i}` : `${col} AS __in${i}`;
      }),
      ...fields.map((f, i) => (f === 'ts' ? `q.__t AS __rq${i}` : spineCols.has(f) ? `s.${duckdb.ident(f)} AS __rq${i}` : `NULL AS __rq${i}`)),
    ];
    // One pass over every row, in no order; the results (a few values a row, small beside the
    // features) are appended by the main connection once every view is done. (Reading ranges of
    // rows instead re-joined the three tables once per range: on a 1M-row spine ~6 s of the ~19 s
    // the request features took.)
    const rows: number[] = [];
    // One column of results per request feature (no array kept per row).
    const results: FeatureValue[][] = reqs.map(() => []);
    // The reader and the request object are made once and pointed at the current row: a million
    // rows would otherwise allocate a closure and an object each.
    const refIndex = new Map(refs.map((r, i) => [r, i]));
    const parsed = refs.map((ref) => isList(typeOf.get(ref)));
    const types = refs.map((ref) => typeOf.get(ref) as FeatureType);
    let values: unknown[][] = [];
    let row = 0;
    const read = (ref: string): FeatureValue | undefined => {
      const i = refIndex.get(ref);
      if (i === undefined) return undefined;
      const v = (values[2 + i] as unknown[])[row];
      return fromSql(typeof v === 'string' && parsed[i] ? JSON.parse(v) : v, types[i] as FeatureType);
    };
    const request: Record<string, unknown> = {};
    // Every query row has one row in each view's table: the pass reads exactly `queryRows` rows.
    for await (const chunk of engine.chunks(`SELECT ${select.join(', ')} FROM (${joined(inputCols)}) AS f JOIN __queries AS q USING (__row) LEFT JOIN __spine AS s ON s.__row = f.__row`, queryRows)) {
      values = chunk.values;
      const rowIds = values[0] as number[];
      const times = values[1] as unknown[];
      for (row = 0; row < chunk.rows; row++) {
        request['ts'] = times[row];
        for (let f = 0; f < fields.length; f++) request[fields[f] as string] = (values[2 + refs.length + f] as unknown[])[row];
        const out = applyRequestFeatures(compiled, read, request, stats);
        for (let r = 0; r < results.length; r++) (results[r] as FeatureValue[]).push(out[r] ?? null);
        rows.push(rowIds[row] as number);
      }
    }
    return { rows, results };
  } finally {
    engine.close();
  }
}

/** Writes the request features into `__cross` (by row), on the main connection. */
async function appendRequestFeatures(ctx: BatchContext, compiled: CompiledFeatureSet, { rows, results }: RequestResults): Promise<void> {
  const reqs = compiled.ir.requestFeatures;
  await ctx.engine.run(`CREATE OR REPLACE TEMP TABLE __cross (__row BIGINT${reqs.map((r) => `, ${duckdb.ident(r.name)} ${sqlType(r.type)}`).join('')})`);
  const appender = await ctx.engine.appender('__cross');
  rows.forEach((row, r) => {
    appender.appendBigInt(BigInt(row));
    reqs.forEach((req, i) => appendValue(appender, req.type, results[i]?.[r] ?? null));
    appender.endRow();
  });
  appender.closeSync();
}

function isList(type: FeatureType | undefined): boolean {
  return type === 'histogram' || type === 'string[]' || type === 'float[]';
}

function sqlType(type: string): string {
  return type === 'int' ? 'BIGINT' : type === 'float' ? 'DOUBLE' : type === 'string[]' ? 'VARCHAR[]' : type === 'float[]' ? 'DOUBLE[]' : 'VARCHAR';
}

function appendValue(a: Awaited<ReturnType<DuckDBEngine['appender']>>, type: string, v: FeatureValue): void {
  if (v === null) a.appendNull();
  else if (type === 'int') a.appendBigInt(BigInt(Math.round(Number(v))));
  else if (type === 'float') a.appendDouble(Number(v));
  else if (type === 'string') a.appendVarchar(String(v));
  else a.appendVarchar(JSON.stringify(v));
}

/** A histogram comes out of SQL as [{key, weight}]: features see it as { key: weight }. */
export function fromSql(v: unknown, type: FeatureType): FeatureValue {
  if (type === 'histogram' && Array.isArray(v)) {
    return Object.fromEntries((v as { key: string; weight: number }[]).map((e) => [e.key, e.weight]));
  }
  return (v ?? null) as FeatureValue;
}

/**
 * Loads a spine file (CSV or Parquet) into `__spine` with its row order in `__row`. Its key columns
 * (`keyColumns`: entity keys, which are text in events and requests) are read as text: DuckDB's
 * type guessing would make a CSV id `42` a number (so a request function comparing it with an
 * item id sees 42, not '42', unlike serving), `1e3` the number 1000.0, and a column of numbers
 * followed by `u1` an error.
 */
export async function loadSpine(engine: DuckDBEngine, path: string, keyColumns: readonly string[]): Promise<void> {
  let bytes: number;
  try {
    bytes = statSync(path).size;
  } catch {
    throw new RecsignalError('INVALID_ARGUMENT', `spine '${path}': no such file; give the path of a .csv or .parquet file of query rows (keys and a time)`);
  }
  if (bytes === 0) throw new RecsignalError('INVALID_INPUT', `spine '${path}' is empty; it needs a header row and one row per query: the entity keys (e.g. user_id, item_id) and the time (ts)`);
  const ext = extname(path).toLowerCase();
  let reader: string;
  if (ext === '.parquet') reader = `read_parquet(${sqlPath(path)})`;
  else if (ext === '.csv') {
    const header = (await engine.query(`DESCRIBE SELECT * FROM read_csv(${sqlPath(path)}, header = true, all_varchar = true)`)).map((r) => String(r['column_name']));
    const text = header.filter((c) => keyColumns.includes(c));
    reader = `read_csv(${sqlPath(path)}, header = true${text.length > 0 ? `, types = {${text.map((c) => `${sqlString(c)}: 'VARCHAR'`).join(', ')}}` : ''})`;
  } else throw new RecsignalError('INVALID_ARGUMENT', `spine '${path}': unknown format; give a .csv or .parquet file`);
  await engine.run(`CREATE OR REPLACE TEMP TABLE __spine_raw AS SELECT * FROM ${reader}`);
  const names = (await engine.query(`SELECT column_name FROM (DESCRIBE __spine_raw)`)).map((r) => String(r['column_name']));
  if (names.includes('__row')) throw new RecsignalError('INVALID_INPUT', `spine '${path}': a column is named __row, which recsignal uses to keep the spine's order; rename it`);
  const columns = (await engine.query(`SELECT column_name, column_type FROM (DESCRIBE __spine_raw)`)).filter((r) => keyColumns.includes(String(r['column_name'])) && r['column_type'] !== 'VARCHAR');
  const replace = columns.length === 0 ? '' : ` REPLACE (${columns.map((r) => `${keyText(String(r['column_name']), String(r['column_type']))} AS ${duckdb.ident(String(r['column_name']))}`).join(', ')})`;
  await engine.run(`CREATE OR REPLACE TABLE __spine AS SELECT rowid AS __row, *${replace} FROM __spine_raw`);
}

/**
 * A key column of another type as the text ingest makes of the same value (`String(v)` in
 * JavaScript): a whole FLOAT / DOUBLE (pandas writes integer ids with gaps as float64) is `42`, not
 * DuckDB's `42.0`, which matched no event's id and left every feature at its default.
 */
function keyText(column: string, type: string): string {
  const c = duckdb.ident(column);
  if (!/^(DOUBLE|FLOAT|REAL)$/.test(type)) return `CAST(${c} AS VARCHAR)`;
  return `CASE WHEN ${c} = trunc(${c}) AND abs(${c}) < 9007199254740992 THEN CAST(CAST(${c} AS BIGINT) AS VARCHAR) ELSE CAST(${c} AS VARCHAR) END`;
}

/**
 * The SQL expression turning a spine's time column into ms, whatever its type; fails with the rows
 * that do not parse. Text must carry a zone. A CSV column that DuckDB sniffed as a zoneless
 * TIMESTAMP was written without one and is refused; a Parquet TIMESTAMP is UTC by its format.
 */
export async function spineTimeExpr(engine: DuckDBEngine, column: string, fromCsv = false): Promise<string> {
  const desc = await engine.query(`SELECT column_name, column_type FROM (DESCRIBE __spine)`);
  const col = desc.find((r) => r['column_name'] === column);
  if (!col) {
    throw new RecsignalError('INVALID_INPUT', `spine: no time column '${column}' (columns: ${desc.map((r) => r['column_name']).filter((n) => n !== '__row').join(', ')}); name it with --ts-col`);
  }
  const type = String(col['column_type']);
  const c = duckdb.ident(column);
  if (fromCsv && type === 'DATE') {
    const first = (await engine.query(`SELECT CAST(${c} AS VARCHAR) AS v FROM __spine LIMIT 1`))[0]?.['v'];
    throw new RecsignalError('INVALID_INPUT', `spine: the times in '${column}' are dates without a time or zone (e.g. ${String(first)}); write a time with Z or an offset (2024-05-01T00:00:00Z), or ms since the epoch`);
  }
  if (fromCsv && /^TIMESTAMP(\(\d\))?$|^TIMESTAMP_(S|MS|NS)$/.test(type)) {
    const first = (await engine.query(`SELECT CAST(${c} AS VARCHAR) AS v FROM __spine LIMIT 1`))[0]?.['v'];
    throw new RecsignalError('INVALID_INPUT', `spine: the times in '${column}' have no zone (e.g. ${String(first)}); write them with Z or an offset (2024-05-01T12:00:00Z), or as ms since the epoch`);
  }
  // A zoneless time is ambiguous: text must carry Z or an offset; a zoneless TIMESTAMP column is UTC.
  const expr = /INT|DECIMAL|DOUBLE|FLOAT/.test(type)
    ? `CAST(${c} AS BIGINT)`
    : /TIMESTAMP|DATE/.test(type)
      ? `epoch_ms(CAST(${c} AS TIMESTAMP${/WITH TIME ZONE|TIMESTAMPTZ/.test(type) ? ' WITH TIME ZONE' : ''}))`
      : `coalesce(TRY_CAST(${c} AS BIGINT), CASE WHEN regexp_matches(trim(${c}), '(Z|z|[+-]\\d{2}:?\\d{2})$') THEN epoch_ms(TRY_CAST(trim(${c}) AS TIMESTAMPTZ)) END)`;
  const bad = await engine.query(`SELECT __row, CAST(${c} AS VARCHAR) AS v FROM __spine WHERE (${expr}) IS NULL LIMIT 5`);
  if (bad.length > 0) {
    throw new RecsignalError('INVALID_INPUT', `spine: ${bad.length}${bad.length === 5 ? '+' : ''} rows have no usable time in '${column}' (e.g. row ${Number(bad[0]?.['__row']) + 1}: ${String(bad[0]?.['v'])}); give ms since the epoch or ISO-8601 with a zone (Z or +hh:mm)`);
  }
  // Numbers in seconds read as ms are times in 1970, before every event (ingest refuses them): every feature would be its default.
  const seconds = await engine.query(`SELECT __row, CAST(${c} AS VARCHAR) AS v FROM __spine WHERE (${expr}) < ${SECONDS_LIKE_BELOW} AND NOT regexp_matches(CAST(${c} AS VARCHAR), ${sqlString(ISO_LIKE.source)}) LIMIT 1`);
  if (seconds.length > 0) {
    const v = String(seconds[0]?.['v']);
    throw new RecsignalError('INVALID_INPUT', `spine: the times in '${column}' look like seconds since the epoch (row ${Number(seconds[0]?.['__row']) + 1}: ${v}, read as ms, is in 1970); give milliseconds (seconds × 1000) or ISO-8601 with a zone`);
  }
  return expr;
}

/** Views whose keys the spine carries (time-derived keys always count as carried). */
export function viewsForColumns(compiled: CompiledFeatureSet, columns: ReadonlySet<string>): FeatureViewIR[] {
  return compiled.ir.views.filter((v) => v.entity.keys.every((k) => columns.has(k) || k in TIME_DERIVED));
}

/**
 * A histogram column as the text of a JSON object from key to weight (`{"drama":3.0}`), the same
 * text as `to_json` of its MAP: joined as strings it costs DuckDB 2.2 s of CPU on a 1M-row training
 * set instead of 5.2 s through `map_from_entries` (keys are unique in a histogram).
 */
function histogramJson(column: string): string {
  return `'{' || array_to_string(list_transform(${column}, x -> to_json(x.key) || ':' || coalesce(to_json(x.weight), 'null')), ',') || '}'`;
}

/** A histogram column (a list of {key, weight}) as a MAP from key to weight. */
function histogramMap(column: string): string {
  return `map_from_entries(list_transform(${column}, x -> {'key': x.key, 'value': x.weight}))`;
}

/** The output file's format, from its extension: .csv or .parquet. */
export function outputFormat(out: string): '.csv' | '.parquet' {
  const ext = extname(out).toLowerCase();
  if (ext !== '.csv' && ext !== '.parquet') throw new RecsignalError('INVALID_ARGUMENT', `--out '${out}': give a .csv or .parquet file`);
  return ext;
}

/** Checks `--out` before any work: its format, and that its folder exists (found at the end, it cost the whole run). */
export function checkOutput(out: string): void {
  outputFormat(out);
  const folder = dirname(resolve(out));
  if (!existsSync(folder)) throw new RecsignalError('INVALID_ARGUMENT', `--out '${out}': the folder ${folder} does not exist; create it first`);
}

/**
 * The columns an output file stores otherwise than DuckDB holds them, as `REPLACE` items: a
 * histogram as a MAP (Parquet) or its JSON text (CSV), a list as JSON text in a CSV.
 */
export function outputReplacements(format: '.csv' | '.parquet', columns: readonly { column: string; type: string }[]): string[] {
  return columns
    .filter((c) => c.type === 'histogram' || (format === '.csv' && (c.type === 'string[]' || c.type === 'float[]')))
    .map((c) => {
      const id = duckdb.ident(c.column);
      const map = histogramMap(id);
      if (c.type === 'histogram') return `${format === '.csv' ? `CAST(to_json(${map}) AS VARCHAR)` : map} AS ${id}`;
      return `CAST(to_json(${id}) AS VARCHAR) AS ${id}`;
    });
}

/**
 * Numbers written as their declared type: a session count summed over a window is a HUGEINT in
 * DuckDB, which Parquet stores as DOUBLE (so the training set had DOUBLE where the backfill had
 * BIGINT), and the min or first of an integer column is BIGINT where the feature says float.
 */
function declaredTypes(columns: readonly { column: string; type: string }[]): string[] {
  return columns
    .filter((c) => c.type === 'int' || c.type === 'float')
    .map((c) => `CAST(${duckdb.ident(c.column)} AS ${c.type === 'int' ? 'BIGINT' : 'DOUBLE'}) AS ${duckdb.ident(c.column)}`);
}

/**
 * Writes a query's result to CSV (lists and histograms as JSON text) or Parquet (native lists,
 * histogram as a MAP); `converted` when the query gives those columns so already.
 */
export async function writeResult(engine: DuckDBEngine, select: string, out: string, columns: readonly { column: string; type: string }[], converted = false): Promise<void> {
  const format = outputFormat(out);
  const replace = [...(converted ? [] : outputReplacements(format, columns)), ...declaredTypes(columns)];
  const body = replace.length > 0 ? `SELECT * REPLACE (${replace.join(', ')}) FROM (${select})` : select;
  await engine.run(`COPY (${body}) TO ${sqlString(out)} (FORMAT ${format === '.csv' ? 'csv, HEADER true' : 'parquet'})`);
}
