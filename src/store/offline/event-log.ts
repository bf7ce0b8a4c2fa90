/**
 * @module The offline event log: Parquet files partitioned by UTC day under one folder, append-only
 * (each append writes new files; an earlier partition's files are never rewritten), plus the
 * item and user metadata snapshots beside it.
 *
 *   <dir>/events/day=YYYY-MM-DD/part-<uuid>.parquet
 *   <dir>/items.parquet, <dir>/users.parquet
 *   <dir>/dead-letter/<ingest id>.jsonl
 *   <dir>/online-only/serve-<time>.jsonl   (events a server took for its online state only)
 */
import { existsSync, mkdirSync, readdirSync, renameSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ItemMetadata, UserMetadata } from '../../events/schema.ts';
import { LOG_COLUMNS } from '../../events/schema.ts';
import { globLiteral } from '../../core/glob-literal.ts';
import { DuckDBEngine, sqlPath, sqlString } from './duckdb-engine.ts';

export class EventLog {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = resolve(dir);
  }

  get eventsDir(): string {
    return join(this.dir, 'events');
  }

  get deadLetterDir(): string {
    return join(this.dir, 'dead-letter');
  }

  /** Events sent to a server for its online state only: not part of the log (see src/serve/online-journal.ts). */
  get onlineOnlyDir(): string {
    return join(this.dir, 'online-only');
  }

  /** True once at least one event file exists. */
  hasEvents(): boolean {
    if (!existsSync(this.eventsDir)) return false;
    return readdirSync(this.eventsDir).some((d) => d.startsWith('day=') && readdirSync(join(this.eventsDir, d)).some((f) => f.endsWith('.parquet')));
  }

  /** The days that have partitions, ascending. */
  days(): string[] {
    if (!existsSync(this.eventsDir)) return [];
    return readdirSync(this.eventsDir).filter((d) => d.startsWith('day=')).map((d) => d.slice(4)).sort();
  }

  /** SQL relation text of all events, with the log's columns in order (empty when there are none). */
  eventsRelation(): string {
    const cols = LOG_COLUMNS.map((c) => c.name).join(', ');
    if (!this.hasEvents()) {
      return `(SELECT ${LOG_COLUMNS.map((c) => `CAST(NULL AS ${c.sql}) AS ${c.name}`).join(', ')} WHERE FALSE)`;
    }
    return `(SELECT ${cols} FROM read_parquet(${sqlString(join(globLiteral(this.eventsDir), 'day=*', '*.parquet'))}, hive_partitioning = false, union_by_name = true))`;
  }

  /** The distinct item ids of the log's events, in code-point order (empty when it has none). */
  async itemIds(): Promise<string[]> {
    // DuckDB orders VARCHAR by bytes, which for UTF-8 is code-point order (as compareText).
    const rows = await this.queryEvents((ev) => `SELECT DISTINCT item_id FROM ${ev} WHERE item_id IS NOT NULL ORDER BY item_id`);
    return rows.map((r) => String(r['item_id']));
  }

  /** How many of the log's events are older than `ts` (ms). */
  async countBefore(ts: number): Promise<number> {
    const [row] = await this.queryEvents((ev) => `SELECT count(*)::BIGINT AS n FROM ${ev} WHERE ts < ${Math.floor(ts)}`);
    return Number(row?.['n'] ?? 0);
  }

  /** The time of the log's newest event (ms), or null when it has none. */
  async lastEventTs(): Promise<number | null> {
    const [row] = await this.queryEvents((ev) => `SELECT max(ts) AS t FROM ${ev}`);
    return row?.['t'] === null || row?.['t'] === undefined ? null : Number(row['t']);
  }

  /** One query over the log's events in an engine of its own; no rows when the log has no events. */
  private async queryEvents(sql: (events: string) => string): Promise<Record<string, unknown>[]> {
    if (!this.hasEvents()) return [];
    const engine = await DuckDBEngine.open();
    try {
      return await engine.query(sql(this.eventsRelation()));
    } finally {
      engine.close();
    }
  }

  itemsRelation(): string | null {
    const p = join(this.dir, 'items.parquet');
    return existsSync(p) ? `read_parquet(${sqlPath(p)})` : null;
  }

  usersRelation(): string | null {
    const p = join(this.dir, 'users.parquet');
    return existsSync(p) ? `read_parquet(${sqlPath(p)})` : null;
  }

  /**
   * Appends the rows of a table with the log's columns: new files in each day's partition,
   * written by DuckDB's partitioned COPY with unique file names, so existing files stay untouched.
   */
  async append(engine: DuckDBEngine, table: string): Promise<void> {
    mkdirSync(this.eventsDir, { recursive: true });
    const cols = LOG_COLUMNS.map((c) => c.name).join(', ');
    await engine.run(
      `COPY (SELECT ${cols}, strftime(make_timestamp(ts * 1000), '%Y-%m-%d') AS day FROM ${table} ORDER BY ts, event_id) ` +
        `TO ${sqlString(this.eventsDir)} (FORMAT parquet, PARTITION_BY (day), APPEND, FILENAME_PATTERN 'part-{uuid}')`,
    );
  }

  /** Merges metadata into the snapshots: rows with a known key replace the old ones. */
  async writeMetadata(engine: DuckDBEngine, items: readonly ItemMetadata[], users: readonly UserMetadata[]): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    if (items.length > 0) {
      await engine.run(`CREATE OR REPLACE TEMP TABLE __items (item_id VARCHAR, title VARCHAR, year BIGINT, genres VARCHAR, release_ts BIGINT, duration DOUBLE)`);
      const a = await engine.appender('__items');
      for (const i of items) {
        a.appendVarchar(i.itemId);
        nullable(a, i.title, (v) => a.appendVarchar(v));
        nullable(a, i.year, (v) => a.appendBigInt(BigInt(v)));
        a.appendVarchar(i.genres.join('\u001f'));
        nullable(a, i.releaseTs, (v) => a.appendBigInt(BigInt(v)));
        nullable(a, i.duration, (v) => a.appendDouble(v));
        a.endRow();
      }
      a.closeSync();
      await this.mergeSnapshot(engine, 'items', 'item_id', `SELECT item_id, title, year, CASE WHEN genres = '' THEN CAST([] AS VARCHAR[]) ELSE string_split(genres, '\u001f') END AS genres, release_ts, duration FROM __items`);
    }
    if (users.length > 0) {
      await engine.run(`CREATE OR REPLACE TEMP TABLE __users (user_id VARCHAR, age BIGINT, gender VARCHAR, occupation VARCHAR, country VARCHAR)`);
      const a = await engine.appender('__users');
      for (const u of users) {
        a.appendVarchar(u.userId);
        nullable(a, u.age, (v) => a.appendBigInt(BigInt(v)));
        nullable(a, u.gender, (v) => a.appendVarchar(v));
        nullable(a, u.occupation, (v) => a.appendVarchar(v));
        nullable(a, u.country, (v) => a.appendVarchar(v));
        a.endRow();
      }
      a.closeSync();
      await this.mergeSnapshot(engine, 'users', 'user_id', 'SELECT * FROM __users');
    }
  }

  private async mergeSnapshot(engine: DuckDBEngine, name: string, key: string, fresh: string): Promise<void> {
    const path = join(this.dir, `${name}.parquet`);
    const tmp = join(this.dir, `.${name}.parquet.tmp`);
    const merged = existsSync(path)
      ? `SELECT * FROM (${fresh}) UNION ALL BY NAME SELECT * FROM read_parquet(${sqlPath(path)}) WHERE ${key} NOT IN (SELECT ${key} FROM (${fresh}))`
      : fresh;
    await engine.run(`COPY (SELECT * FROM (${merged}) ORDER BY ${key}) TO ${sqlString(tmp)} (FORMAT parquet)`);
    renameSync(tmp, path);
  }
}

function nullable<T>(a: { appendNull(): void }, v: T | null, append: (v: T) => void): void {
  if (v === null || v === undefined) a.appendNull();
  else append(v);
}
