/** @module The embedded offline engine: one DuckDB database, SQL in, tables and files out. */
import { DuckDBInstance, DuckDBListValue, DuckDBArrayValue, DuckDBStructValue, DuckDBMapValue, type DuckDBConnection, type DuckDBAppender } from '@duckdb/node-api';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RecsignalError } from '../../core/errors.ts';
import { globLiteral } from '../../core/glob-literal.ts';

export type Scalar = string | number | boolean | null | bigint;

export class DuckDBEngine {
  private constructor(
    private readonly instance: DuckDBInstance,
    readonly connection: DuckDBConnection,
    /** False for a second connection (`connect`): closing it leaves the database open. */
    private readonly ownsInstance = true,
  ) {}

  /**
   * A second connection to the same database, for a query that runs while this one runs others:
   * it sees the database's tables, not this connection's TEMP ones. Close it before this engine.
   */
  async connect(): Promise<DuckDBEngine> {
    const connection = await this.instance.connect();
    await connection.run(`SET TimeZone = 'UTC'`).catch(() => undefined);
    return new DuckDBEngine(this.instance, connection, false);
  }

  /** Opens an in-memory database (default) or one backed by a file; spills to a temp dir when large. */
  static async open(path = ':memory:', options: { threads?: number; memoryLimit?: string } = {}): Promise<DuckDBEngine> {
    // Spill files go to the system's temp folder, never into the caller's working directory.
    const config: Record<string, string> = { temp_directory: join(tmpdir(), 'recsignal-duckdb') };
    if (options.threads !== undefined) config['threads'] = String(options.threads);
    if (options.memoryLimit !== undefined) config['memory_limit'] = options.memoryLimit;
    const instance = await DuckDBInstance.create(path, config);
    const connection = await instance.connect();
    // Times are UTC everywhere: never let the machine's zone into a cast. Without the ICU
    // extension DuckDB has no zones at all and is UTC already.
    await connection.run(`SET TimeZone = 'UTC'`).catch(() => undefined);
    return new DuckDBEngine(instance, connection);
  }

  /** Runs SQL; with `onProgress`, reports DuckDB's own estimate of the percentage done while it runs. */
  async run(sql: string, onProgress?: (percent: number) => void): Promise<void> {
    const timer = onProgress
      ? setInterval(() => {
          const p = this.connection.progress.percentage;
          if (p >= 0) onProgress(p);
        }, 500)
      : undefined;
    try {
      await this.connection.run(sql);
    } catch (cause) {
      throw new RecsignalError('QUERY_FAILED', `DuckDB failed: ${(cause as Error).message}`, { cause, sql });
    } finally {
      if (timer) clearInterval(timer);
    }
  }

  /** Runs a query and returns its rows as plain objects (numbers for BIGINT, arrays for lists); for small results. */
  async query(sql: string): Promise<Record<string, unknown>[]> {
    try {
      const reader = await this.connection.runAndReadAll(sql);
      return reader.getRowObjectsJS().map((row) => {
        const out: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(row)) out[k] = toPlain(v);
        return out;
      });
    } catch (cause) {
      throw new RecsignalError('QUERY_FAILED', `DuckDB failed: ${(cause as Error).message}`, { cause, sql });
    }
  }

  /** The number of rows of `SELECT count(*) FROM <from>` (a relation, optionally with its WHERE). */
  async count(from: string): Promise<number> {
    return Number((await this.query(`SELECT count(*) AS n FROM ${from}`))[0]?.['n'] ?? 0);
  }

  /**
   * Streams a query's result in chunks of columns (column-major JS values), for big results.
   * `expectedRows` is how many rows the query gives (count them first: a count is cheap beside the
   * rows). The node client ends a stream that fails part-way exactly as one that is done, without
   * the error (it does not bind `duckdb_result_error`), and a statement run on the same connection
   * meanwhile ends it early too: a result short of `expectedRows` is thrown as a failure instead of
   * being taken for the whole.
   */
  async *chunks(sql: string, expectedRows: number): AsyncGenerator<{ columns: string[]; values: unknown[][]; rows: number }> {
    let result;
    try {
      result = await this.connection.stream(sql);
    } catch (cause) {
      throw new RecsignalError('QUERY_FAILED', `DuckDB failed: ${(cause as Error).message}`, { cause, sql });
    }
    const columns = result.columnNames();
    // One fetch stays in flight while the caller works on the chunk before it: DuckDB computes the
    // next chunk on its own threads meanwhile (a JS pass over a big result otherwise waits on it).
    // A fetch that fails while nobody awaits it (the caller busy, or gone) is marked handled here
    // and still throws where it is awaited.
    const fetchNext = () => {
      const p = result.fetchChunk();
      p.catch(() => undefined);
      return p;
    };
    let next = fetchNext();
    let delivered = 0;
    for (;;) {
      const chunk = await next;
      if (!chunk || chunk.rowCount === 0) break;
      next = fetchNext();
      delivered += chunk.rowCount;
      yield { columns, values: chunk.getColumns().map((col) => col.map(toPlain)), rows: chunk.rowCount };
    }
    if (delivered !== expectedRows) {
      throw new RecsignalError(
        'QUERY_FAILED',
        `DuckDB ended a streamed result after ${delivered} of its ${expectedRows} rows without an error: the query failed part-way (the node client does not report such errors) or another statement ran on the same connection meanwhile; run the query on its own to see the error`,
        { sql },
      );
    }
  }

  async appender(table: string): Promise<DuckDBAppender> {
    return this.connection.createAppender(table);
  }

  close(): void {
    this.connection.closeSync();
    if (this.ownsInstance) this.instance.closeSync();
  }
}

/** DuckDB JS values → plain JSON-like values: bigint → number, lists → arrays, structs → objects. */
export function toPlain(v: unknown): unknown {
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(toPlain);
  if (v instanceof DuckDBListValue || v instanceof DuckDBArrayValue) return v.items.map(toPlain);
  if (v instanceof DuckDBStructValue) return toPlain(v.entries);
  if (v instanceof DuckDBMapValue) return v.entries.map((e) => ({ key: toPlain(e.key), value: toPlain(e.value) }));
  if (v instanceof Date) return v.getTime();
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = toPlain(x);
    return out;
  }
  return v;
}

/** A string literal for DuckDB SQL (file paths and such). */
export function sqlString(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

/** `sqlString(globLiteral(path))`: a path for read_parquet / read_csv, quoted (see `globLiteral`). */
export function sqlPath(path: string): string {
  return sqlString(globLiteral(path));
}
