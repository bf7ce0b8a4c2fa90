import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { RecsignalError } from '../../core/errors.ts';
import { isInputFormat, openReader, type InputFormat, type RawRecord } from './index.ts';

const dir = mkdtempSync(join(tmpdir(), 'recsignal-readers-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function collect(it: AsyncIterable<RawRecord>): Promise<RawRecord[]> {
  const out: RawRecord[] = [];
  for await (const r of it) out.push(r);
  return out;
}

describe('openReader', () => {
  test('CSV and JSONL of the same events give the same wire objects', async () => {
    const csv = join(dir, 'e.csv');
    const jsonl = join(dir, 'e.jsonl');
    writeFileSync(csv, 'eid,user_id,item_id,ts,type,value,context.device\ne1,u1,i1,1714560000000,play,30,tv\n');
    writeFileSync(jsonl, `${JSON.stringify({ eid: 'e1', user_id: 'u1', item_id: 'i1', ts: 1714560000000, type: 'play', value: 30, context: { device: 'tv' } })}\n`);
    const map = { eid: 'event_id' };
    const fromCsv = await collect(openReader(csv, { format: 'csv', map }));
    const fromJsonl = await collect(openReader(jsonl, { format: 'jsonl', map }));
    assert.deepEqual(fromCsv.map((r) => 'raw' in r && r.raw), fromJsonl.map((r) => 'raw' in r && r.raw));
    assert.deepEqual(fromCsv.map((r) => r.position), ['e.csv:2']);
  });

  test('--map with movielens and an unknown format are INVALID_ARGUMENT', () => {
    assert.throws(() => openReader(dir, { format: 'movielens', map: { a: 'user_id' } }), (e: unknown) => e instanceof RecsignalError && e.code === 'INVALID_ARGUMENT');
    assert.throws(() => openReader(dir, { format: 'xlsx' as InputFormat }), /unknown input format 'xlsx'; use one of movielens, csv, jsonl, parquet/);
    assert.equal(isInputFormat('parquet'), true);
    assert.equal(isInputFormat('xlsx'), false);
  });
});
