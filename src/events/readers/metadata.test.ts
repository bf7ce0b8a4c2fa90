import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { RecsignalError } from '../../core/errors.ts';
import { readItemsFile, readUsersFile } from './metadata.ts';

const dir = mkdtempSync(join(tmpdir(), 'recsignal-metadata-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, lines: readonly unknown[]): string {
  const path = join(dir, name);
  writeFileSync(path, lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n'));
  return path;
}

describe('readItemsFile', () => {
  test('reads snake_case items; only item_id is required', async () => {
    const path = file('items.jsonl', [
      { item_id: 'i1', title: 'Toy Story (1995)', year: 1995, genres: ['Animation', "Children's"], release_ts: '1995-01-01T00:00:00Z', duration: 4860 },
      '',
      { item_id: 'i2' },
      { item_id: 'i3', title: null, year: null, genres: null, release_ts: 788918400000, duration: null },
    ]);
    assert.deepEqual(await readItemsFile(path), [
      { itemId: 'i1', title: 'Toy Story (1995)', year: 1995, genres: ['Animation', "Children's"], releaseTs: Date.UTC(1995, 0, 1), duration: 4860 },
      { itemId: 'i2', title: null, year: null, genres: [], releaseTs: null, duration: null },
      { itemId: 'i3', title: null, year: null, genres: [], releaseTs: 788918400000, duration: null },
    ]);
  });

  test('reports every problem with file:line, field and fix', async () => {
    const path = file('bad-items.jsonl', [
      { item_id: 7, year: '1995', genres: 'Comedy', releaseTs: 5 },
      '{"item_id": "i2",',
      { item_id: 'i3', duration: -1, release_ts: '1995-01-01' },
      { item_id: 'i3' },
      '[1]',
    ]);
    await assert.rejects(readItemsFile(path), (e: unknown) => {
      assert.ok(e instanceof RecsignalError);
      assert.equal(e.code, 'INVALID_INPUT');
      assert.deepEqual(e.problems.map((p) => p.path), [
        'bad-items.jsonl:1 releaseTs',
        'bad-items.jsonl:1 item_id',
        'bad-items.jsonl:1 year',
        'bad-items.jsonl:1 genres',
        'bad-items.jsonl:2',
        'bad-items.jsonl:3 release_ts',
        'bad-items.jsonl:3 duration',
        'bad-items.jsonl:4 item_id',
        'bad-items.jsonl:5',
      ]);
      assert.match(e.message, /9 problems/);
      assert.match(e.message, /bad-items\.jsonl:1 item_id: must be a string, got 7 \(fix: .*"item_id": "7"/);
      assert.match(e.message, /bad-items\.jsonl:1 releaseTs: is not a known key \(fix: use only item_id, title, year, genres, release_ts, duration/);
      assert.match(e.message, /bad-items\.jsonl:4 item_id: 'i3' already appears on line 3/);
      return true;
    });
  });
});

describe('readUsersFile', () => {
  test('reads snake_case users and rejects bad ones', async () => {
    const good = file('users.jsonl', [{ user_id: 'u1', age: 24, gender: 'M', occupation: 'technician', country: 'US' }, { user_id: 'u2' }]);
    assert.deepEqual(await readUsersFile(good), [
      { userId: 'u1', age: 24, gender: 'M', occupation: 'technician', country: 'US' },
      { userId: 'u2', age: null, gender: null, occupation: null, country: null },
    ]);
    const bad = file('bad-users.jsonl', [{ user_id: 'u1', age: 24.5, country: 1 }, { age: 3 }]);
    await assert.rejects(readUsersFile(bad), (e: unknown) => {
      assert.ok(e instanceof RecsignalError);
      assert.deepEqual(e.problems.map((p) => `${p.path}: ${p.message}`), [
        'bad-users.jsonl:1 age: must be whole years, e.g. 34, got 24.5',
        'bad-users.jsonl:1 country: must be a string, got 1',
        'bad-users.jsonl:2 user_id: is missing',
      ]);
      return true;
    });
    await assert.rejects(readUsersFile(join(dir, 'none.jsonl')), (e: unknown) => e instanceof RecsignalError && e.code === 'NOT_FOUND');
  });
});
