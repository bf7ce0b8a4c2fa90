/**
 * Embedding views in every engine: versions published at generated times (ties with query times
 * included) must read the same in batch SQL (DuckDB over the Parquet tables), the stream engine
 * and the reference aggregator: the key's latest version with ts < t, or null before the first.
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
import { EmbeddingTable, readEmbeddings, writeEmbeddings, type EmbeddingVersion } from '../src/store/offline/embeddings.ts';
import { ingest } from '../src/store/offline/ingest.ts';
import { createEventValidator } from '../src/events/validate.ts';
import { eventToJson } from '../src/events/schema.ts';
import { RecsignalError } from '../src/core/errors.ts';
import { assertProperty, BASE, eventArb, items, offset, queryArb, runs, toEvent, YEARS } from './helpers/streams.ts';
import { assertFeatureRowsEqual } from './helpers/compare.ts';
import embeddingOps from './fixtures/embedding-ops.ts';

const compiled = compileFeatureSet(embeddingOps);
const columns = featureColumns(compiled.ir).map((c) => c.column);

const vectorArb = fc.array(fc.double({ min: -10, max: 10, noNaN: true, noDefaultInfinity: true }), { minLength: 3, maxLength: 3 });
const versionsArb = (keys: readonly string[]) => fc.array(fc.record({ key: fc.constantFrom(...keys), off: offset, vector: vectorArb }), { maxLength: 8 });

const caseArb = fc.array(eventArb, { minLength: 1, maxLength: 20 }).chain((raw) =>
  fc.record({
    raw: fc.constant(raw),
    users: versionsArb(['u0', 'u1', 'u2']),
    items: versionsArb(['i0', 'i1', 'i3']),
    queries: fc.array(queryArb(raw), { minLength: 1, maxLength: 12 }),
  }),
);

/** One version per (key, ts), as a table holds them (a later write of the same pair replaces it). */
function dedupe(list: readonly { key: string; off: number; vector: number[] }[]): EmbeddingVersion[] {
  return [...new Map(list.map((v) => [`${v.key}@${v.off}`, { key: v.key, ts: BASE + v.off, vector: v.vector }])).values()];
}

test('embedding views: batch SQL, the stream engine and the reference agree on generated versions', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'recsignal-emb-diff-'));
  let run = 0;
  try {
    await assertProperty(() => fc.assert(
      fc.asyncProperty(caseArb, async ({ raw, users, items: itemVersions, queries }) => {
        const events = raw.map(toEvent);
        const log = new EventLog(join(dir, `log${run++}`));
        const report = await ingest(events.map((e, i) => ({ position: `gen:${i}`, raw: eventToJson(e) })), { log, validator: createEventValidator({ now: BASE + 2 * YEARS }), items });
        assert.equal(report.rejected, 0);
        const tables = { gen_users: dedupe(users), gen_items: dedupe(itemVersions) };
        for (const [name, versions] of Object.entries(tables)) if (versions.length > 0) await writeEmbeddings(log, name, versions);

        const qs = queries.map((q) => ({ fields: { user_id: q.user, item_id: q.item, device: q.device }, ts: BASE + q.off }));
        const expected = referenceFeatures(compiled, { events, items, embeddings: tables }, qs);
        assertFeatureRowsEqual(await featuresFor(compiled, log, qs), expected, columns, qs);
        // At one time (a backfill's plan) too.
        const at = qs.map((q) => ({ ...q, ts: (qs[0] as (typeof qs)[number]).ts }));
        assertFeatureRowsEqual(await featuresFor(compiled, log, at), referenceFeatures(compiled, { events, items, embeddings: tables }, at), columns, at);

        // The stream engine reads the tables as the server loads them from the log.
        const engine = new StreamEngine(compiled, { items, embeddings: await readEmbeddings(log, compiled.ir.views) });
        for (const e of [...events].sort((a, b) => a.ts - b.ts)) engine.apply(e);
        assertFeatureRowsEqual(qs.map((q) => engine.features(q.fields, q.ts)), expected, columns, qs);
      }),
      runs(25),
    ));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a table version replaces the one of the same key and time; a vector of the wrong length is refused with the fix', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'recsignal-emb-'));
  try {
    const log = new EventLog(dir);
    await writeEmbeddings(log, 'gen_items', [{ key: 'i0', ts: BASE, vector: [1, 2, 3] }, { key: 'i1', ts: BASE, vector: [0, 0, 1] }]);
    const r = await writeEmbeddings(log, 'gen_items', [{ key: 'i0', ts: BASE, vector: [4, 5, 6] }, { key: 'i0', ts: BASE + HOUR_MS, vector: [7, 8, 9] }]);
    assert.deepEqual({ versions: r.versions, keys: r.keys }, { versions: 3, keys: 2 });
    const table = (await readEmbeddings(log, compiled.ir.views)).get('gen_items') as EmbeddingTable;
    assert.equal(table.at('i0', BASE), undefined, 'a version is served after its time, not at it');
    assert.deepEqual(table.at('i0', BASE + 1), { ts: BASE, vector: [4, 5, 6] });
    assert.deepEqual(table.at('i0', BASE + HOUR_MS + 1)?.vector, [7, 8, 9]);
    assert.deepEqual(table.at('i1', BASE + 10 * HOUR_MS)?.vector, [0, 0, 1]);

    await writeEmbeddings(log, 'gen_users', [{ key: 'u0', ts: BASE, vector: [1, 2] }]);
    await assert.rejects(readEmbeddings(log, compiled.ir.views), (e: unknown) => {
      assert.ok(e instanceof RecsignalError);
      assert.match(e.message, /gen_users.*'u0'.*2 values.*dims 3/);
      assert.match(e.problems[0]?.fix ?? '', /--factors 3/);
      return true;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const HOUR_MS = 3_600_000;

test('embedding views are validated: keys, table name and dims, each with its fix', () => {
  assert.throws(
    () => compileFeatureSet({ ...embeddingOps, views: [{ ...(embeddingOps.views[0] as object), name: 'x', entity: { kind: 'entity', name: 'ui', keys: ['user_id', 'item_id'] }, table: 'Bad-Name', dims: 0 } as never] }),
    (e: unknown) => {
      assert.ok(e instanceof RecsignalError);
      const paths = e.problems.map((p) => p.path);
      assert.ok(paths.some((p) => p.endsWith('.entity')), paths.join());
      assert.ok(paths.some((p) => p.endsWith('.table')), paths.join());
      assert.ok(paths.some((p) => p.endsWith('.dims')), paths.join());
      return true;
    },
  );
});
