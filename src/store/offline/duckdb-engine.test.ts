import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DuckDBEngine } from './duckdb-engine.ts';

describe('DuckDBEngine.chunks (one fetch kept in flight)', () => {
  let engine: DuckDBEngine;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  before(async () => {
    engine = await DuckDBEngine.open();
    process.on('unhandledRejection', onUnhandled);
  });
  after(() => {
    process.off('unhandledRejection', onUnhandled);
    engine.close();
  });

  it('yields every row of a many-chunk result once, in order, with numbers for BIGINT', async () => {
    const seen: number[] = [];
    let chunks = 0;
    for await (const chunk of engine.chunks('SELECT i, i * 2 AS twice FROM range(10000) AS t(i) ORDER BY i', 10000)) {
      chunks++;
      assert.deepEqual(chunk.columns, ['i', 'twice']);
      const [is, twice] = chunk.values as [number[], number[]];
      for (let r = 0; r < chunk.rows; r++) {
        assert.equal(twice[r], 2 * (is[r] as number));
        seen.push(is[r] as number);
      }
    }
    assert.ok(chunks > 1, `expected several chunks, got ${chunks}`);
    assert.deepEqual(seen, Array.from({ length: 10000 }, (_, i) => i));
  });

  it('a caller that stops after the first chunk leaves no failure behind, and the connection stays usable', async () => {
    for await (const chunk of engine.chunks('SELECT i FROM range(100000) AS t(i)', 100000)) {
      assert.ok(chunk.rows > 0);
      break;
    }
    const [row] = await engine.query('SELECT 41 + 1 AS n');
    assert.equal(row?.['n'], 42);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(unhandled, []);
  });

  it('a query that fails part-way is thrown, not taken for a shorter whole (the client ends such a stream silently)', async () => {
    let rows = 0;
    await assert.rejects(
      (async () => {
        for await (const chunk of engine.chunks(`SELECT CASE WHEN i < 200000 THEN i ELSE error('row ' || i || ' is bad') END AS v FROM range(1000000) AS t(i)`, 1000000)) {
          rows += chunk.rows;
          // Busy with this chunk while the next fetch, already sent, runs into the failure.
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
      })(),
      // Usually the failure comes after some chunks, and only the row count tells; DuckDB may also
      // meet it before the first chunk, and then it reports it itself.
      (e: Error) => /ended a streamed result after \d+ of its 1000000 rows|row \d+ is bad/.test(e.message),
    );
    assert.ok(rows <= 200000, `rows before the failure: ${rows}`);
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(unhandled, []);
  });

  it('a result with fewer rows than the caller counted is refused', async () => {
    await assert.rejects(
      (async () => {
        for await (const _ of engine.chunks('SELECT i FROM range(10) AS t(i)', 11));
      })(),
      /after 10 of its 11 rows/,
    );
  });
});

describe('DuckDBEngine.connect (a second connection to the same database)', () => {
  it('streams a table while the first connection writes another, sees no TEMP table of the first, and closes alone', async () => {
    const engine = await DuckDBEngine.open();
    try {
      await engine.run('CREATE TABLE shared AS SELECT i FROM range(200000) AS t(i)');
      await engine.run('CREATE TEMP TABLE own AS SELECT 1 AS x');
      const side = await engine.connect();
      let sum = 0;
      // The main connection runs a statement between the side's fetches: both results stay whole.
      for await (const chunk of side.chunks('SELECT i FROM shared', 200000)) {
        for (let r = 0; r < chunk.rows; r++) sum += (chunk.values[0] as number[])[r] as number;
        if (sum > 0 && (await engine.count('shared')) !== 200000) assert.fail('the main connection lost a row');
      }
      assert.equal(sum, (199999 * 200000) / 2);
      await assert.rejects(side.query('SELECT x FROM own'), /own/);
      side.close();
      assert.equal(await engine.count('shared'), 200000);
    } finally {
      engine.close();
    }
  });
});
