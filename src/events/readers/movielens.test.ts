import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RecsignalError } from '../../core/errors.ts';
import { createEventValidator } from '../validate.ts';
import { readMovieLens, readMovieLensMetadata } from './movielens.ts';
import type { RawRecord } from './raw-record.ts';

// The data set lives beside the repository, never inside it.
const ML_100K = fileURLToPath(new URL('../../../../shared/data/ml-100k', import.meta.url));
const missing = !existsSync(join(ML_100K, 'u.data'));
// Skipped locally when the data is absent; in CI a missing data set fails the tests.
const skip = missing && process.env['CI'] !== 'true'
  ? `MovieLens 100K not found at ${ML_100K}: unzip https://files.grouplens.org/datasets/movielens/ml-100k.zip there (as ../shared/data/ml-100k from the repo root)`
  : false;

async function collect(it: AsyncIterable<RawRecord>): Promise<RawRecord[]> {
  const out: RawRecord[] = [];
  for await (const r of it) out.push(r);
  return out;
}

describe('MovieLens 100K', () => {
  test('u.data gives 100,000 valid rating events from 943 users on 1,682 items, with unique ids', { skip }, async () => {
    const records = await collect(readMovieLens(ML_100K));
    assert.equal(records.length, 100_000);
    assert.deepEqual(records[0], {
      position: 'u.data:1',
      raw: { event_id: 'ml:196:242:881250949', user_id: '196', item_id: '242', ts: 881250949000, type: 'rating', value: 3 },
    });
    assert.equal(records[4]?.position, 'u.data:5');
    const validate = createEventValidator();
    const users = new Set<string>();
    const items = new Set<string>();
    const ids = new Set<string>();
    let rejected = 0;
    for (const r of records) {
      const v = 'raw' in r ? validate(r.raw) : undefined;
      if (v === undefined || !v.ok) {
        rejected += 1;
        continue;
      }
      users.add(v.event.userId);
      items.add(v.event.itemId ?? '');
      ids.add(v.event.eventId);
    }
    assert.equal(rejected, 0);
    assert.equal(users.size, 943);
    assert.equal(items.size, 1682);
    assert.equal(ids.size, 100_000);
  });

  test('metadata: 1,682 items with genres by name and latin1 titles, 943 users', { skip }, async () => {
    const { items, users } = await readMovieLensMetadata(ML_100K);
    assert.equal(items.length, 1682);
    assert.equal(users.length, 943);
    assert.deepEqual(items[0], {
      itemId: '1',
      title: 'Toy Story (1995)',
      year: 1995,
      genres: ['Animation', "Children's", 'Comedy'],
      releaseTs: Date.UTC(1995, 0, 1),
      duration: null,
    });
    const byId = new Map(items.map((i) => [i.itemId, i]));
    // Lines 543, 1104 and 1633 of u.item hold bytes 0xE9 (é), 0xE8 (è), 0xC1 (Á) and 0xF6 (ö).
    assert.equal(byId.get('543')?.title, 'Misérables, Les (1995)');
    assert.equal(byId.get('1104')?.title, "C'est arrivé près de chez vous (1992)");
    assert.equal(byId.get('1633')?.title, 'Á köldum klaka (Cold Fever) (1994)');
    assert.equal(byId.get('1633')?.year, 1996);
    assert.equal(byId.get('1373')?.releaseTs, Date.UTC(1971, 1, 4));
    assert.deepEqual(byId.get('267'), { itemId: '267', title: 'unknown', year: null, genres: ['unknown'], releaseTs: null, duration: null });
    assert.ok(items.some((i) => i.genres.includes('Sci-Fi')));
    assert.deepEqual(users[0], { userId: '1', age: 24, gender: 'M', occupation: 'technician', country: null });
  });

  test('a folder without u.data is NOT_FOUND with where to get the data; a bad line is a problems record', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'recsignal-ml-'));
    try {
      await assert.rejects(collect(readMovieLens(dir)), (e: unknown) => e instanceof RecsignalError && e.code === 'NOT_FOUND' && /ml-100k\.zip/.test(e.message));
      writeFileSync(join(dir, 'u.data'), '1\t2\t5\t881250949\n1\t3\n\n2\t2\tx\t881250949\n');
      const records = await collect(readMovieLens(join(dir, 'u.data')));
      assert.equal(records.length, 3);
      assert.equal(records[1]?.position, 'u.data:2');
      assert.match(JSON.stringify(records[1]), /has 2 tab-separated fields, expected 4/);
      const last = records[2];
      assert.ok(last && 'raw' in last);
      assert.equal(last.position, 'u.data:4');
      const v = createEventValidator()(last.raw);
      assert.deepEqual(!v.ok && v.problems.map((p) => p.path), ['value']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
