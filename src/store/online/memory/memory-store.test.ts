/** The memory store beyond the conformance suite: its snapshot file, its size figures, and a closed store. */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { RecsignalError } from '../../../core/errors.ts';
import { MemoryStore } from './memory-store.ts';

const dir = await mkdtemp(join(tmpdir(), 'rs-memory-store-'));
after(() => rm(dir, { recursive: true, force: true }));

const hex = (v: Uint8Array | undefined): string | undefined => (v === undefined ? undefined : Buffer.from(v).toString('hex'));

test('open() without a snapshot file, or with one not yet written, gives an empty store', async () => {
  for (const store of [await MemoryStore.open(), await MemoryStore.open({ snapshotPath: join(dir, 'absent.snap') })]) {
    assert.equal(store.size, 0);
    assert.equal(store.approximateBytes, 0);
    await store.close();
  }
});

test('size and approximateBytes follow writes, overwrites and deletes', async () => {
  const store = await MemoryStore.open();
  await store.setMany([{ key: 'a', value: new Uint8Array(100) }, { key: 'b', value: new Uint8Array(10) }]);
  assert.equal(store.size, 2);
  const two = store.approximateBytes;
  assert.ok(two > 110, `${two} counts the values and per-entry overhead`);
  await store.setMany([{ key: 'a', value: new Uint8Array(1100) }]);
  assert.equal(store.approximateBytes, two + 1000);
  await store.setMany([{ key: 'a', value: null }, { key: 'b', value: null }]);
  assert.deepEqual([store.size, store.approximateBytes], [0, 0]);
  await store.close();
});

test('a snapshot holds the state when it was asked for, and 30k entries (several write chunks) round-trip', async () => {
  const path = join(dir, 'many.snap');
  const store = await MemoryStore.open();
  const writes = Array.from({ length: 30_000 }, (_, i) => ({ key: `ns:{user:${i}}:agg`, value: new Uint8Array(i % 300).fill(i % 256) }));
  writes.push({ key: 'ns:big', value: new Uint8Array(3 << 20).fill(5) }); // larger than the write buffer
  await store.setMany(writes, { key: 'ns:checkpoint', value: Uint8Array.of(1) });
  const snapshot = store.snapshot(path);
  await store.setMany([{ key: 'ns:later', value: Uint8Array.of(2) }, { key: 'ns:{user:0}:agg', value: null }], { key: 'ns:checkpoint', value: Uint8Array.of(2) });
  await snapshot;

  const restored = await MemoryStore.open({ snapshotPath: path });
  assert.equal(restored.size, 30_002);
  const keys = [...writes.map((w) => w.key), 'ns:checkpoint', 'ns:later'];
  const got = await restored.getMany(keys);
  const want = [...writes.map((w) => w.value), Uint8Array.of(1), undefined];
  const wrong = keys.filter((_, i) => hex(got[i]) !== hex(want[i]));
  assert.deepEqual(wrong, []);
  await restored.close();
  await store.close();
});

test('close() writes the snapshot; snapshot() needs a path when the store has none', async () => {
  const path = join(dir, 'closed.snap');
  const store = await MemoryStore.open({ snapshotPath: path });
  await store.setMany([{ key: 'k', value: Uint8Array.of(9) }]);
  await store.close();
  const again = await MemoryStore.open({ snapshotPath: path });
  assert.equal(hex((await again.getMany(['k']))[0]), '09');
  await again.close();

  // A write once close() has begun is refused, not accepted and then left out of the snapshot.
  const closing = await MemoryStore.open({ snapshotPath: path });
  const closed = closing.close();
  await assert.rejects(closing.setMany([{ key: 'late', value: Uint8Array.of(1) }]), (e: RecsignalError) => e.code === 'IO_FAILED' && /closed/.test(e.message));
  await closed;

  const plain = await MemoryStore.open();
  await assert.rejects(plain.snapshot(), (e: RecsignalError) => e.code === 'INVALID_ARGUMENT' && /snapshotPath/.test(e.message));
  await plain.close();
  await assert.rejects(plain.getMany(['k']), (e: RecsignalError) => e.code === 'IO_FAILED' && /closed/.test(e.message));
  assert.equal(await plain.ping(), false);
});

test('a damaged snapshot is refused with IO_FAILED, naming the file and what to do', async () => {
  const good = join(dir, 'good.snap');
  const store = await MemoryStore.open({ snapshotPath: good });
  await store.setMany([{ key: 'k', value: new Uint8Array(1000).fill(1) }]);
  await store.close();
  const bytes = await readFile(good);
  const cases: [string, Buffer, RegExp][] = [
    ['cut.snap', bytes.subarray(0, bytes.length - 500), /cut off: it lacks the end marker/],
    // A changed byte inside the value: every length intact, so only the checksum can tell.
    ['flipped.snap', Buffer.from(bytes.map((b, i) => (i === 100 ? b ^ 0x10 : b))), /checksum does not match/],
    ['tail.snap', Buffer.concat([bytes, Buffer.from('x')]), /unexpected bytes|damaged/],
    ['other.snap', Buffer.from('{"json": true}                    '), /not a recsignal online snapshot/],
    ['version.snap', Buffer.concat([bytes.subarray(0, 8), Buffer.from([9, 0, 0, 0]), bytes.subarray(12)]), /format version 9/],
  ];
  for (const [name, content, why] of cases) {
    const path = join(dir, name);
    await writeFile(path, content);
    await assert.rejects(
      MemoryStore.open({ snapshotPath: path }),
      (e: RecsignalError) => e.code === 'IO_FAILED' && why.test(e.message) && e.message.includes(path) && /delete it to start with an empty store/.test(e.message),
      name,
    );
  }
});

test('a snapshot into a missing folder fails with IO_FAILED and leaves no temporary file', async () => {
  const store = await MemoryStore.open();
  await store.setMany([{ key: 'k', value: Uint8Array.of(1) }]);
  await assert.rejects(store.snapshot(join(dir, 'no-such-folder', 'x.snap')), (e: RecsignalError) => e.code === 'IO_FAILED' && /folder exists/.test(e.message));
  assert.deepEqual((await readdir(dir)).filter((f) => f.endsWith('.tmp')), []);
  await store.close();
});

test('time-to-live: kept through a snapshot and dropped at restore once past; version 1 files still read', async () => {
  const path = join(dir, 'ttl.snap');
  const store = await MemoryStore.open({ snapshotPath: path });
  await store.setMany([
    { key: 'short', value: Uint8Array.of(1), ttlMs: 200 },
    { key: 'long', value: Uint8Array.of(2), ttlMs: 3_600_000 },
    { key: 'plain', value: Uint8Array.of(3) },
  ]);
  await store.close();
  const restored = await MemoryStore.open({ snapshotPath: path });
  assert.deepEqual((await restored.getMany(['short', 'long', 'plain'])).map(hex), ['01', '02', '03'], 'restored with their expiry, not yet past');
  await new Promise((r) => setTimeout(r, 250));
  await restored.close(); // snapshots again: 'short' is past but not yet swept
  const later = await MemoryStore.open({ snapshotPath: path });
  assert.equal(later.size, 2, 'an entry past its expiry is dropped at restore');
  assert.deepEqual((await later.getMany(['short', 'long', 'plain'])).map(hex), [undefined, '02', '03']);
  await later.close();

  // A version 1 file (no expiry field) is read as before.
  const v1 = Buffer.concat([Buffer.from('RSONLINE', 'latin1'), Buffer.from([1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0]), Buffer.from('k'), Buffer.from([1, 0, 0, 0, 7]), Buffer.from('RSEND\0\0\0', 'latin1')]);
  await writeFile(join(dir, 'v1.snap'), v1);
  const old = await MemoryStore.open({ snapshotPath: join(dir, 'v1.snap') });
  assert.equal(hex((await old.getMany(['k']))[0]), '07');
  await old.close();
});
