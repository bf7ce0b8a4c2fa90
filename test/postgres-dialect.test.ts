/**
 * The dialect layer is real: the one SQL generator, rendered with the `postgres` hooks and run on a
 * real PostgreSQL, gives the reference aggregator's values (and DuckDB's: the same rows are checked
 * against the DuckDB path too) for every op of the all-ops feature set.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import type pg from 'pg';
import { compileFeatureSet } from '../src/plan/compile.ts';
import { applyRequestFeatures, featureColumns, TIME_DERIVED_KEYS, type RequestFeatureStats } from '../src/plan/rows.ts';
import { referenceFeatures, type ReferenceQuery } from '../src/compute/reference/reference.ts';
import { postgres } from '../src/compute/batch/dialect.ts';
import { queryKeyColumns, renderFeatureSql } from '../src/compute/batch/sql.ts';
import { fromSql } from '../src/compute/batch/run.ts';
import { featuresFor } from '../src/compute/batch/training-set.ts';
import { EventLog } from '../src/store/offline/event-log.ts';
import { ingest } from '../src/store/offline/ingest.ts';
import { createEventValidator } from '../src/events/validate.ts';
import { eventToJson, type InteractionEvent, type ItemMetadata } from '../src/events/schema.ts';
import type { FeatureValue } from '../src/features/ir.ts';
import allOps from './fixtures/all-ops.ts';
import { eventArb, offset } from './helpers/streams.ts';
import { assertFeatureRowsEqual, valuesEqual } from './helpers/compare.ts';
import { createTestSchema, loadEvents, loadItems, loadQueries, openTestPostgres } from './helpers/postgres.ts';

const compiled = compileFeatureSet(allOps);
const columns = featureColumns(compiled.ir);
const names = columns.map((c) => c.column);
const keyColumns = queryKeyColumns(compiled.ir.views);
const MIN = 60_000;
const HOUR = 60 * MIN;
const BASE = Date.UTC(2024, 0, 1); // a Monday, on a day/hour/hop boundary
const YEARS = 5 * 365 * 24 * HOUR;

const items: ItemMetadata[] = [
  { itemId: 'i0', title: 'A', year: 2001, genres: ['drama', 'comedy'], releaseTs: BASE - HOUR, duration: 1000 },
  { itemId: 'i1', title: 'B', year: 2010, genres: ['action'], releaseTs: BASE, duration: 3600 },
  { itemId: 'i2', title: 'C', year: null, genres: [], releaseTs: null, duration: null },
  // i3 has no metadata at all.
];

const conn = await openTestPostgres();
after(() => conn.client?.end());

/** A PostgreSQL result row as feature values: BIGINT / NUMERIC arrive as strings, histograms as JSON [{key, weight}]. */
function fromPostgres(v: unknown, type: (typeof columns)[number]['type']): FeatureValue {
  if (v === null || v === undefined) return null;
  if ((type === 'int' || type === 'float') && typeof v === 'string') return Number(v);
  return fromSql(v, type);
}

let tableSeq = 0;

/** Loads one case into fresh tables of `schema`, runs the postgres rendering, applies request features like the DuckDB path. */
async function runOnPostgres(client: pg.Client, schema: string, events: readonly InteractionEvent[], queries: readonly ReferenceQuery[]): Promise<FeatureValue[][]> {
  const n = tableSeq++;
  await loadEvents(client, `${schema}.events${n}`, dedupe(events));
  const keyed = queries.map((q) => ({ ts: q.ts, keys: Object.fromEntries(keyColumns.map((k) => [k, keyOf(q, k)])) }));
  await loadQueries(client, `${schema}.queries${n}`, keyColumns, keyed);
  const sql = renderFeatureSql({ ir: compiled.ir, dialect: postgres, events: `${schema}.events${n}`, items: `${schema}.items`, users: null, queries: `${schema}.queries${n}` });
  let result: pg.QueryResult;
  try {
    result = await client.query(sql);
  } catch (e) {
    throw new Error(`PostgreSQL rejected the generated SQL: ${(e as Error).message}\n${sql}`, { cause: e });
  }
  const stats: RequestFeatureStats = { errors: 0, firstError: null };
  return result.rows.map((row: Record<string, unknown>, i) => {
    const values = new Map(columns.filter((c) => c.view !== null).map((c) => [c.ref, fromPostgres(row[c.column], c.type)]));
    const q = queries[i] as ReferenceQuery;
    const crosses = applyRequestFeatures(compiled, (ref) => values.get(ref), { ...q.fields, ts: q.ts }, stats);
    let cross = 0;
    return columns.map((c) => (c.view === null ? (crosses[cross++] ?? null) : (values.get(c.ref) ?? null)));
  });
}

/** A query row's key, as the DuckDB path fills `__queries`: the field, else derived from the time. */
function keyOf(q: ReferenceQuery, key: string): string | null {
  const v = q.fields[key];
  if (v !== undefined && v !== null) return String(v);
  return TIME_DERIVED_KEYS[key]?.(q.ts) ?? null;
}

/** What the log holds after ingest: the first arrival of each event id. */
function dedupe(events: readonly InteractionEvent[]): InteractionEvent[] {
  const seen = new Set<string>();
  return events.filter((e) => !seen.has(e.eventId) && seen.add(e.eventId));
}

function ev(id: string, user: string, item: string | null, ts: number, type: string, value: number | null = null, duration: number | null = null, device: string | null = null): InteractionEvent {
  return { eventId: id, userId: user, itemId: item, ts, type, value, duration, context: device === null ? {} : { device } };
}

/**
 * Hand-made history that hits every edge the semantics contract names: window starts (an event on
 * the hop boundary and one just before it), ties in time (broken by event id, where 'e10' < 'e9'),
 * events at the query time (excluded), negatives at exactly ts + timeout, a play exactly at the
 * timeout, abandons, session gaps of exactly 30 minutes, metadata with several / no genres, no
 * metadata, a duplicate id, an event five years before the rest (decay underflows to 0), and
 * decayed terms whose product with a value below 1 underflows.
 */
const T = BASE + 24 * HOUR; // query anchor: Tuesday 00:00
const handEvents: InteractionEvent[] = [
  ev('e0', 'u0', 'i0', T - YEARS, 'complete', 900, 1000, 'tv'),
  ev('e1', 'u0', 'i1', T - 25 * HOUR, 'play', 200, 3600, 'mobile'),
  ev('e2', 'u0', 'i0', T - 24 * HOUR, 'play', 100, 1000, 'tv'), // 1d window start exactly
  ev('e3', 'u0', 'i2', T - 24 * HOUR - 1, 'skip', 5, null, 'tv'), // just outside the 1d window
  ev('e4', 'u0', 'i1', T - 2 * HOUR, 'impression', null, null, 'tv'), // not played within 10m
  ev('e5', 'u0', 'i0', T - 2 * HOUR, 'impression', null, null, 'mobile'), // played exactly at +10m
  ev('e6', 'u0', 'i0', T - 2 * HOUR + 10 * MIN, 'play', 250, 1000, 'mobile'), // abandon (0.25 < 0.3)
  ev('e9', 'u0', 'i3', T - HOUR, 'play', 40, null, 'tv'), // 1h window start; ties with e10
  ev('e10', 'u0', 'i1', T - HOUR, 'complete', 3600, 3600, 'tv'),
  ev('e11', 'u0', 'i2', T - HOUR - 1, 'add_to_list', null, null, null),
  ev('e12', 'u0', null, T - 30 * MIN, 'search', null, null, 'mobile'), // exactly the session gap after e9/e10
  ev('e13', 'u0', 'i0', T - 20 * MIN, 'pause', 7, 1000, 'tv'),
  ev('e14', 'u0', 'i0', T - 1, 'play', 300, 1000, 'tv'),
  ev('e15', 'u0', 'i1', T, 'complete', 3600, 3600, 'tv'), // at the query time: excluded
  ev('e16', 'u1', 'i1', T - 10 * MIN, 'impression', null, null, 'mobile'), // becomes a negative at exactly T
  ev('e17', 'u1', 'i3', T - 3 * HOUR, 'play', 100, 1000, null),
  ev('e18', 'u1', 'i3', T - 3 * HOUR, 'play', 100, 1000, null), // same item, same time
  ev('e19', 'u2', 'i2', T - 90 * MIN, 'complete', 0, 1000, 'tv'),
  ev('e20', 'u2', 'i0', T - 90 * MIN, 'play', 999, 3600, 'mobile'),
  ev('e21', 'u2', 'i1', T - 89 * MIN, 'play', 1, 1000, 'mobile'),
  // Decayed terms that underflow to 0 from two non-zero factors (PostgreSQL raised 'value out of range: underflow'):
  ev('e22', 'u1', 'i2', T - 1074.5 * HOUR, 'impression', null, null, 'tv'), // weight 0.5 · 2^-1074.5 (decayedSum, 1h)
  ev('e23', 'u1', 'i2', T - 3 * HOUR - 2149 * HOUR, 'pause', 0.5, 1000, 'tv'), // value 0.5 · 2^-1074.5 against u1's newest value (decayedMean, 2h)
  ev('e10', 'u2', 'i1', T - 5 * MIN, 'complete', 7, 1000, 'tv'), // duplicate id: dropped
];
const handTimes = [T, T + 1, T - 1, T - HOUR, T - HOUR + 1, T - 90 * MIN, T + 10 * MIN, T + 30 * MIN - 1, T + 30 * MIN, T + 2 * HOUR, T + YEARS, T - YEARS, T - YEARS + 1];
const handQueries: ReferenceQuery[] = handTimes.flatMap((ts, i) =>
  (['u0', 'u1', 'u2', 'u9'] as const).map((user, j) => ({
    ts,
    fields: { user_id: user, item_id: ['i0', 'i1', 'i2', 'i3', 'i9'][(i + j) % 5] as string, device: j % 2 === 0 ? 'tv' : 'mobile', genre: [null, 'drama', 'action', 'comedy'][(i + 2 * j) % 4] ?? null },
  })),
);

const streamArb = fc.array(eventArb, { minLength: 0, maxLength: 40 }).chain((raw) =>
  fc.record({
    dupOf: fc.array(fc.nat(), { maxLength: 4 }),
    queries: fc.array(
      fc.record({
        user: fc.constantFrom('u0', 'u1', 'u2', 'u9'),
        item: fc.constantFrom('i0', 'i1', 'i3', 'i9'),
        device: fc.constantFrom('tv', 'mobile'),
        genre: fc.constantFrom(null, 'drama', 'comedy', 'action', 'horror'),
        off: fc.oneof(offset, raw.length > 0 ? fc.constantFrom(...raw.map((e) => e.off)) : offset),
      }),
      { minLength: 1, maxLength: 12 },
    ),
  }).map(({ dupOf, queries }) => {
    const events: InteractionEvent[] = raw.map((e, i) => ev(`e${i}`, e.user, e.type === 'search' ? null : e.item, BASE + e.off, e.type, e.value, e.duration, e.device));
    for (const d of dupOf) {
      if (events.length === 0) break;
      const src = events[d % events.length] as InteractionEvent;
      events.push({ ...src, value: 7, ts: src.ts + 1 });
    }
    return {
      events: events.reverse(), // arrival order is not time order; duplicates arrive first and win
      queries: queries.map((q): ReferenceQuery => ({ ts: BASE + q.off, fields: { user_id: q.user, item_id: q.item, device: q.device, genre: q.genre } })),
    };
  }),
);

test('postgres dialect: generated SQL on PostgreSQL equals the reference aggregator', { skip: conn.skip }, async (t) => {
  const client = conn.client as pg.Client;
  const schema = await createTestSchema(client);
  try {
    await loadItems(client, `${schema.name}.items`, items);

    await t.test('hand-made edges, and the same rows as DuckDB', async () => {
      const expected = referenceFeatures(compiled, { events: handEvents, items }, handQueries);
      // The history is worth comparing only if every feature leaves its default somewhere.
      const idle = columns.filter((c, i) => expected.every((row) => valuesEqual(row[i] ?? null, c.default)));
      assert.deepEqual(idle.map((c) => c.column), [], 'features the hand-made history never moves off their default');
      const actual = await runOnPostgres(client, schema.name, handEvents, handQueries);
      assertFeatureRowsEqual(actual, expected, names, handQueries);

      const dir = mkdtempSync(join(tmpdir(), 'recsignal-pg-'));
      try {
        const log = new EventLog(dir);
        const validator = createEventValidator({ now: T + 2 * YEARS });
        await ingest(handEvents.map((e, i) => ({ position: `hand:${i}`, raw: eventToJson(e) })), { log, validator, items });
        const duck = await featuresFor(compiled, log, handQueries);
        assertFeatureRowsEqual(actual, duck, names, handQueries);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    await t.test('fixed-seed generated streams', async () => {
      await fc.assert(
        fc.asyncProperty(streamArb, async ({ events, queries }) => {
          const expected = referenceFeatures(compiled, { events, items }, queries);
          const actual = await runOnPostgres(client, schema.name, events, queries);
          assertFeatureRowsEqual(actual, expected, names, queries);
        }),
        { numRuns: Number(process.env['PG_DIFF_RUNS'] ?? 25), seed: Number(process.env['PG_DIFF_SEED'] ?? 20240101), endOnFailure: true },
      ).catch((e: unknown) => {
        // fast-check keeps the failing assertion in `cause`, which the test reporter does not print.
        const cause = (e as Error & { cause?: unknown }).cause;
        throw new Error(`${(e as Error).message}\n${cause instanceof Error ? cause.message : String(cause)}`);
      });
    });
  } finally {
    await schema.drop();
  }
});
