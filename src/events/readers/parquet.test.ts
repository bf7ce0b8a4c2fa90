import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { RecsignalError } from '../../core/errors.ts';
import { createEventValidator } from '../validate.ts';
import { readParquet } from './parquet.ts';
import type { RawRecord } from './raw-record.ts';

const dir = mkdtempSync(join(tmpdir(), 'recsignal-parquet-'));
let instance: DuckDBInstance;
let connection: DuckDBConnection;

before(async () => {
  instance = await DuckDBInstance.create(':memory:');
  connection = await instance.connect();
});
after(() => {
  connection.closeSync();
  instance.closeSync();
  rmSync(dir, { recursive: true, force: true });
});

async function write(name: string, select: string): Promise<string> {
  const path = join(dir, name);
  await connection.run(`COPY (${select}) TO '${path.replaceAll("'", "''")}' (FORMAT parquet)`);
  return path;
}

async function collect(it: AsyncIterable<RawRecord>): Promise<RawRecord[]> {
  const out: RawRecord[] = [];
  for await (const r of it) out.push(r);
  return out;
}

const validate = createEventValidator({ now: Date.UTC(2025, 0, 1) });

describe('readParquet', () => {
  test('rows over several chunks come back in order, BIGINT as numbers, a STRUCT context as an object', async () => {
    const path = await write(
      'events.parquet',
      `SELECT 'e' || range AS event_id, 'u' || (range % 10) AS user_id, 'i' || range AS item_id,
              (1714560000000 + range)::BIGINT AS ts, 'progress' AS type, (range * 0.5)::DOUBLE AS value,
              120::BIGINT AS duration, {'device': 'tv', 'position': range::BIGINT} AS context
       FROM range(5000) ORDER BY range`,
    );
    const records = await collect(readParquet(path));
    assert.equal(records.length, 5000);
    assert.deepEqual(records[4999], {
      position: 'events.parquet:row 5000',
      raw: { event_id: 'e4999', user_id: 'u9', item_id: 'i4999', ts: 1714560004999, type: 'progress', value: 2499.5, duration: 120, context: { device: 'tv', position: 4999 } },
    });
    assert.equal(records.every((r, i) => r.position === `events.parquet:row ${i + 1}`), true);
    const r0 = records[0];
    assert.ok(r0 && 'raw' in r0);
    const raw = r0.raw as Record<string, unknown>;
    assert.equal(typeof raw['ts'], 'number');
    assert.equal(typeof raw['duration'], 'number');
    assert.equal(typeof (raw['context'] as Record<string, unknown>)['position'], 'number');
    assert.equal(records.filter((r) => 'raw' in r && validate(r.raw).ok).length, 5000);
  });

  test('integer ids become text, a TIMESTAMP ts milliseconds, NULL is absent; a context may be JSON text or a MAP', async () => {
    const json = await write(
      'json.parquet',
      `SELECT 1::BIGINT AS event_id, 7::INTEGER AS user_id, NULL::VARCHAR AS item_id, TIMESTAMP '2024-05-01 12:00:00' AS ts,
              'search' AS type, '{"device": "phone", "query": "cats"}' AS context`,
    );
    assert.deepEqual(await collect(readParquet(json)), [
      { position: 'json.parquet:row 1', raw: { event_id: '1', user_id: '7', ts: Date.UTC(2024, 4, 1, 12), type: 'search', context: { device: 'phone', query: 'cats' } } },
    ]);
    const map = await write('map.parquet', `SELECT 'e1' AS event_id, 'u1' AS user_id, 'i1' AS item_id, 1714564800000::BIGINT AS ts, 'play' AS type, MAP {'device': 'tv', 'country': 'SE'} AS context`);
    const [r] = await collect(readParquet(map));
    assert.ok(r && 'raw' in r);
    assert.deepEqual((r.raw as Record<string, unknown>)['context'], { device: 'tv', country: 'SE' });
    assert.equal(validate(r.raw).ok, true);
  });

  test('--map applies to column names; a missing column throws INVALID_ARGUMENT listing the columns', async () => {
    const path = await write('mapped.parquet', `SELECT 'e1' AS id, 42::BIGINT AS userId, 9::BIGINT AS movieId, 881250949000::BIGINT AS timestamp, 'rating' AS kind, 4::TINYINT AS rating, 'tv' AS dev`);
    const map = { id: 'event_id', userId: 'user_id', movieId: 'item_id', timestamp: 'ts', kind: 'type', rating: 'value', dev: 'context.device' };
    assert.deepEqual(await collect(readParquet(path, { map })), [
      { position: 'mapped.parquet:row 1', raw: { event_id: 'e1', user_id: '42', item_id: '9', ts: 881250949000, type: 'rating', value: 4, context: { device: 'tv' } } },
    ]);
    await assert.rejects(collect(readParquet(path, { map: { user: 'user_id' } })), (e: unknown) => {
      assert.ok(e instanceof RecsignalError);
      assert.equal(e.code, 'INVALID_ARGUMENT');
      assert.match(e.message, /'user'.*available: id, userId, movieId, timestamp, kind, rating, dev/);
      return true;
    });
  });

  test('a file that is not Parquet is INVALID_INPUT; a missing one NOT_FOUND', async () => {
    const bad = join(dir, 'bad.parquet');
    writeFileSync(bad, 'not parquet');
    await assert.rejects(collect(readParquet(bad)), (e: unknown) => e instanceof RecsignalError && e.code === 'INVALID_INPUT' && e.sql !== undefined);
    await assert.rejects(collect(readParquet(join(dir, 'none.parquet'))), (e: unknown) => e instanceof RecsignalError && e.code === 'NOT_FOUND');
  });
});
