/**
 * Batch SQL (DuckDB over the ingested Parquet log) must equal the reference aggregator on generated
 * event streams: window edges, ties at the query time, out-of-order arrival, duplicate ids,
 * entities with no history, and timestamps years apart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { compileFeatureSet } from '../src/plan/compile.ts';
import { featureColumns } from '../src/plan/rows.ts';
import { referenceFeatures } from '../src/compute/reference/reference.ts';
import { featuresFor } from '../src/compute/batch/training-set.ts';
import { EventLog } from '../src/store/offline/event-log.ts';
import { ingest, type IngestRecord } from '../src/store/offline/ingest.ts';
import { createEventValidator } from '../src/events/validate.ts';
import { eventToJson, type InteractionEvent, type ItemMetadata } from '../src/events/schema.ts';
import allOps from './fixtures/all-ops.ts';
import { assertFeatureRowsEqual } from './helpers/compare.ts';

const compiled = compileFeatureSet(allOps);
const columns = featureColumns(compiled.ir);
const HOUR = 3_600_000;
const BASE = Date.UTC(2024, 0, 1); // a Monday, at a day/hour/hop boundary
const YEARS = 5 * 365 * 24 * HOUR;

const items: ItemMetadata[] = [
  { itemId: 'i0', title: 'A', year: 2001, genres: ['drama', 'comedy'], releaseTs: BASE - HOUR, duration: 1000 },
  { itemId: 'i1', title: 'B', year: 2010, genres: ['action'], releaseTs: BASE, duration: 3600 },
  { itemId: 'i2', title: 'C', year: null, genres: [], releaseTs: null, duration: null },
  // i3 has no metadata at all.
];

/** Times cluster on boundaries (hops, hours, days, the 10-minute negative timeout) so edges get hit. */
const offset = fc.oneof(
  fc.integer({ min: 0, max: 8 }).map((k) => k * 30 * 60_000),
  fc.tuple(fc.integer({ min: 0, max: 8 }), fc.constantFrom(-1, 1)).map(([k, d]) => k * 30 * 60_000 + d),
  fc.integer({ min: 0, max: 6 * HOUR }),
  fc.integer({ min: 0, max: 30 }).map((k) => k * 10 * 60_000),
  fc.constant(YEARS),
  fc.integer({ min: 0, max: 3 * 24 * HOUR }),
);

const eventArb = fc.record({
  user: fc.constantFrom('u0', 'u1', 'u2'),
  item: fc.constantFrom('i0', 'i1', 'i2', 'i3'),
  type: fc.constantFrom('impression', 'play', 'pause', 'complete', 'skip', 'add_to_list', 'search'),
  off: offset,
  value: fc.option(fc.integer({ min: 0, max: 4000 }), { nil: null }),
  duration: fc.option(fc.constantFrom(1000, 3600), { nil: null }),
  device: fc.option(fc.constantFrom('tv', 'mobile'), { nil: null }),
});

const streamArb = fc
  .array(eventArb, { minLength: 0, maxLength: 40 })
  .chain((raw) =>
    fc.record({
      events: fc.constant(raw),
      // Duplicate ids: some events repeat an earlier id (with other content): the first arrival wins.
      dupOf: fc.array(fc.nat(), { maxLength: 4 }),
      queries: fc.array(
        fc.record({
          user: fc.constantFrom('u0', 'u1', 'u2', 'u9'),
          item: fc.constantFrom('i0', 'i1', 'i3', 'i9'),
          device: fc.constantFrom('tv', 'mobile'),
          off: fc.oneof(offset, raw.length > 0 ? fc.constantFrom(...raw.map((e) => e.off)) : offset),
        }),
        { minLength: 1, maxLength: 12 },
      ),
    }),
  );


test('batch SQL equals the reference aggregator on generated streams', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'recsignal-diff-'));
  let run = 0;
  try {
    await fc.assert(
      fc.asyncProperty(streamArb, async ({ events: raw, dupOf, queries }) => {
        const events: InteractionEvent[] = raw.map((e, i) => ({
          eventId: `e${i}`,
          userId: e.user,
          itemId: e.type === 'search' ? null : e.item,
          ts: BASE + e.off,
          type: e.type,
          value: e.value,
          duration: e.duration,
          context: e.device === null ? {} : { device: e.device },
        }));
        for (const d of dupOf) {
          if (events.length === 0) break;
          const src = events[d % events.length] as InteractionEvent;
          events.push({ ...src, value: 7, ts: src.ts + 1 });
        }
        // Out of order: arrival order is not time order.
        const arrival = [...events].reverse();
        const log = new EventLog(join(dir, `log${run++}`));
        const validator = createEventValidator({ now: BASE + 2 * YEARS });
        const records: IngestRecord[] = arrival.map((e, i) => ({ position: `gen:${i}`, raw: eventToJson(e) }));
        const report = await ingest(records, { log, validator, items });
        assert.equal(report.received, report.accepted + report.rejected + report.duplicates);
        assert.equal(report.rejected, 0);

        const qs = queries.map((q) => ({ fields: { user_id: q.user, item_id: q.item, device: q.device }, ts: BASE + q.off }));
        const expected = referenceFeatures(compiled, { events: arrival, items }, qs);
        const actual = await featuresFor(compiled, log, qs);
        assertFeatureRowsEqual(actual, expected, columns.map((c) => c.column), qs);
      }),
      { numRuns: Number(process.env['DIFF_RUNS'] ?? 40), ...(process.env['DIFF_SEED'] ? { seed: Number(process.env['DIFF_SEED']) } : {}) },
    );
  } catch (e) {
    // fast-check keeps the failing assertion in `cause`, which the test reporter does not print.
    const cause = (e as Error & { cause?: unknown }).cause;
    throw new Error(`${(e as Error).message}\n${cause instanceof Error ? cause.message : String(cause)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
