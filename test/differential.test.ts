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
import { StreamEngine } from '../src/compute/stream/engine.ts';
import { EventLog } from '../src/store/offline/event-log.ts';
import { ingest, type IngestRecord } from '../src/store/offline/ingest.ts';
import { createEventValidator } from '../src/events/validate.ts';
import { eventToJson, type InteractionEvent } from '../src/events/schema.ts';
import { assertProperty, BASE, eventArb, items, queryArb, runs, toEvent, YEARS } from './helpers/streams.ts';
import allOps from './fixtures/all-ops.ts';
import { assertFeatureRowsEqual } from './helpers/compare.ts';

const compiled = compileFeatureSet(allOps);
const columns = featureColumns(compiled.ir);
// Whole event-type weights: weighted top-k and histograms then sum them as integers, not decimals.
const integral = compileFeatureSet({ ...allOps, weights: { ...allOps.weights, impression: 1 } });
const weighted = ['u', 'ugh'];
const weightedColumns = featureColumns(integral.ir, integral.ir.views.filter((v) => weighted.includes(v.name))).map((c) => c.column);

const streamArb = fc
  .array(eventArb, { minLength: 0, maxLength: 40 })
  .chain((raw) =>
    fc.record({
      events: fc.constant(raw),
      // Duplicate ids: some events repeat an earlier id (with other content): the first arrival wins.
      dupOf: fc.array(fc.nat(), { maxLength: 4 }),
      queries: fc.array(queryArb(raw), { minLength: 1, maxLength: 12 }),
    }),
  );

test('batch SQL equals the reference aggregator on generated streams', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'recsignal-diff-'));
  let run = 0;
  try {
    await assertProperty(() => fc.assert(
      fc.asyncProperty(streamArb, async ({ events: raw, dupOf, queries }) => {
        const events: InteractionEvent[] = raw.map(toEvent);
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
        // Views computed in slices of their keys (as on a large spine), and counts, sums and means as
        // running totals (as for keys with large partitions; these small ones take window frames by
        // default), give the same rows.
        assertFeatureRowsEqual(await featuresFor(compiled, log, qs, { chunkRows: 2, framedPartitionRows: 0 }), expected, columns.map((c) => c.column), qs);
        // Only some views (the option the ranker uses): their columns alone, the same values.
        const some = compiled.ir.views.filter((v) => v.kind === 'aggregation').slice(-2).map((v) => v.name);
        const own = columns.flatMap((c, j) => (c.view !== null && some.includes(c.view) ? [j] : []));
        assertFeatureRowsEqual(await featuresFor(compiled, log, qs, { views: some }), expected.map((r) => own.map((j) => r[j]!)), own.map((j) => columns[j]!.column), qs);

        const integralRows = referenceFeatures(integral, { events: arrival, items }, qs);
        const integralOwn = featureColumns(integral.ir).flatMap((c, j) => (c.view !== null && weighted.includes(c.view) ? [j] : []));
        assertFeatureRowsEqual(await featuresFor(integral, log, qs, { views: weighted }), integralRows.map((r) => integralOwn.map((j) => r[j]!)), weightedColumns, qs);

        // All queries at one time (a backfill): the engine takes its single-time plan.
        const at = qs.map((q) => ({ ...q, ts: (qs[0] as (typeof qs)[number]).ts }));
        assertFeatureRowsEqual(await featuresFor(compiled, log, at), referenceFeatures(compiled, { events: arrival, items }, at), columns.map((c) => c.column), at);
      }),
      runs(40),
    ));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ties at one time break by code point on every engine: ids and values above U+FFFF against U+E000–U+FFFF', async () => {
  // JavaScript's < puts "😀" (a surrogate pair) before "｡" (U+FF61); UTF-8, DuckDB's order, the reverse.
  const dir = mkdtempSync(join(tmpdir(), 'recsignal-diff-text-'));
  try {
    const t = BASE + 3_600_000;
    const events: InteractionEvent[] = [
      { eventId: 'e\uff61', userId: 'u1', itemId: 'i\uff61', ts: t, type: 'play', value: 1, duration: null, context: { device: 'tv' } },
      { eventId: 'e😀', userId: 'u1', itemId: 'i😀', ts: t, type: 'play', value: 2, duration: null, context: { device: 'tv' } },
    ];
    const log = new EventLog(join(dir, 'log'));
    const report = await ingest(events.map((e, i) => ({ position: `t:${i}`, raw: eventToJson(e) })), { log, validator: createEventValidator({ now: BASE + 2 * YEARS }), items });
    assert.equal(report.accepted, 2);
    const qs = ['i\uff61', 'i😀'].map((item) => ({ fields: { user_id: 'u1', item_id: item, device: 'tv' }, ts: t + 1 }));
    const expected = referenceFeatures(compiled, { events, items }, qs);
    assertFeatureRowsEqual(await featuresFor(compiled, log, qs), expected, columns.map((c) => c.column), qs);
    const engine = new StreamEngine(compiled, { lateness: 0, items });
    for (const e of [...events].reverse()) engine.apply(e);
    assertFeatureRowsEqual(qs.map((q) => engine.features(q.fields, q.ts)) as never, expected, columns.map((c) => c.column), qs);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
