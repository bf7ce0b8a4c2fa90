/**
 * PostgreSQL for tests: a connection on loopback, a throwaway schema per run, and loaders that put
 * the event log, item metadata and a queries relation into it with the columns the generator reads.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { LOG_COLUMNS, type InteractionEvent, type ItemMetadata } from '../../src/events/schema.ts';

export const PG_START_HINT = 'start it with: pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start';

/** Either a connected client or the reason the tests that need one are skipped. */
export type TestPostgres = { readonly client: pg.Client; readonly skip: false } | { readonly client: null; readonly skip: string };

/**
 * Connects to 127.0.0.1:`port` (5432), database `test` (trust auth), as `postgres` or else `root`.
 * In CI (CI=true) an unreachable server is an error, never a skip: the services are part of the run.
 */
export async function openTestPostgres(port = 5432): Promise<TestPostgres> {
  const problems: string[] = [];
  for (const user of ['postgres', 'root']) {
    const client = new pg.Client({ host: '127.0.0.1', port, database: 'test', user, connectionTimeoutMillis: 3000 });
    client.on('error', () => {}); // a dropped connection surfaces on the next query instead
    try {
      await client.connect();
      return { client, skip: false };
    } catch (e) {
      problems.push(`as ${user}: ${(e as Error).message}`);
      await client.end().catch(() => {});
    }
  }
  const message = `PostgreSQL is not reachable on 127.0.0.1:${port} (database test; ${problems.join('; ')})`;
  if (process.env['CI'] === 'true') throw new Error(`${message}. CI must run it: .ci/run starts it, or ${PG_START_HINT}`);
  return { client: null, skip: `${message}; ${PG_START_HINT}` };
}

/** A fresh schema `rs_test_<random>`; `drop` removes it with everything in it. */
export async function createTestSchema(client: pg.Client): Promise<{ readonly name: string; drop(): Promise<void> }> {
  const name = `rs_test_${randomBytes(6).toString('hex')}`;
  await client.query(`CREATE SCHEMA ${name}`);
  return { name, drop: async () => void (await client.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`)) };
}

// Text columns are COLLATE "C" so that ORDER BY on strings (top-k / last-k ties, first / last by
// event id) is code-point order, as in DuckDB, Spark and the reference, whatever the cluster's locale.
const PG_TYPES: Readonly<Record<string, string>> = { VARCHAR: 'VARCHAR COLLATE "C"', BIGINT: 'BIGINT', DOUBLE: 'DOUBLE PRECISION' };
const ARRAY_TYPES: Readonly<Record<string, string>> = { VARCHAR: 'varchar[]', BIGINT: 'bigint[]', DOUBLE: 'float8[]' };
const LIFTED = new Set(['device', 'country', 'session_id']);

/** Loads events (already deduplicated, as the log holds them) into `table` with the log's columns. */
export async function loadEvents(client: pg.Client, table: string, events: readonly InteractionEvent[]): Promise<void> {
  await client.query(`CREATE TABLE ${table} (${LOG_COLUMNS.map((c) => `${c.name} ${PG_TYPES[c.sql]}`).join(', ')})`);
  const value = (e: InteractionEvent, column: string): string | number | null => {
    switch (column) {
      case 'event_id': return e.eventId;
      case 'user_id': return e.userId;
      case 'item_id': return e.itemId;
      case 'ts': return e.ts;
      case 'type': return e.type;
      case 'value': return e.value;
      case 'duration': return e.duration;
      case 'context': {
        const rest = Object.entries(e.context).filter(([k]) => !LIFTED.has(k));
        return rest.length === 0 ? null : JSON.stringify(Object.fromEntries(rest));
      }
      default: {
        const v = e.context[column];
        return typeof v === 'string' ? v : null;
      }
    }
  };
  await insertColumns(client, table, LOG_COLUMNS.map((c) => ({ type: ARRAY_TYPES[c.sql] as string, values: events.map((e) => value(e, c.name)) })));
}

/** Item metadata with `genres` as TEXT[], the columns of TABLE_COLUMNS.items. */
export async function loadItems(client: pg.Client, table: string, items: readonly ItemMetadata[]): Promise<void> {
  await client.query(`CREATE TABLE ${table} (item_id VARCHAR COLLATE "C", title VARCHAR COLLATE "C", year BIGINT, genres TEXT[] COLLATE "C", release_ts BIGINT, duration DOUBLE PRECISION)`);
  for (const i of items) {
    await client.query(`INSERT INTO ${table} VALUES ($1, $2, $3, $4::text[], $5, $6)`, [i.itemId, i.title, i.year, [...i.genres], i.releaseTs, i.duration]);
  }
}

/** The queries relation: `__row`, `__t` (ms) and one VARCHAR column per key (NULL where a row has none). */
export async function loadQueries(client: pg.Client, table: string, keys: readonly string[], rows: readonly { readonly keys: Readonly<Record<string, string | null>>; readonly ts: number }[]): Promise<void> {
  await client.query(`CREATE TABLE ${table} (__row BIGINT, __t BIGINT${keys.map((k) => `, ${k} VARCHAR COLLATE "C"`).join('')})`);
  await insertColumns(client, table, [
    { type: 'bigint[]', values: rows.map((_, i) => i) },
    { type: 'bigint[]', values: rows.map((r) => r.ts) },
    ...keys.map((k) => ({ type: 'varchar[]', values: rows.map((r) => r.keys[k] ?? null) })),
  ]);
}

/** One INSERT of whole columns through unnest: one round trip whatever the row count. */
async function insertColumns(client: pg.Client, table: string, columns: readonly { type: string; values: readonly (string | number | null)[] }[]): Promise<void> {
  if ((columns[0]?.values.length ?? 0) === 0) return;
  const params = columns.map((c, i) => `$${i + 1}::${c.type}`).join(', ');
  await client.query(`INSERT INTO ${table} SELECT * FROM unnest(${params})`, columns.map((c) => [...c.values]));
}
