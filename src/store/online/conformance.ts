/**
 * @module The conformance suite every OnlineStore adapter passes. `runOnlineStoreConformance`
 * registers node:test tests; each test gets a fresh store from `create`, writes only keys under its
 * own namespace, deletes them at the end and closes the store.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { stateKey, type OnlineStore, type OnlineWrite } from './online-store.ts';

export interface OnlineStoreConformanceOptions {
  /** Names the test group, e.g. `redis`. */
  readonly name: string;
  /** A new, connected store; called once per test. */
  readonly create: () => Promise<OnlineStore>;
  /** Tests this adapter cannot pass, each with the reason (unknown names are an error). */
  readonly skip?: readonly { readonly reason: string; readonly tests: readonly string[] }[];
  /** The prefix of every key written (default `rs-conformance-<random>`), so a shared server's other keys are never touched. */
  readonly namespace?: string;
  /**
   * The store serves reads from a process cache that hears of an expired key only when the server
   * deletes it (Redis: on access, or in its expiry cycle, which can take a while among many keys
   * with a time-to-live): expiry is then checked through a second store from `create`.
   */
  readonly cached?: boolean;
}

interface Context {
  readonly store: OnlineStore;
  /** This test's namespace: every key it writes starts with it. */
  readonly namespace: string;
  /** The store to check a key's expiry through (see `cached`); the caller closes it. */
  expiryReader(): Promise<{ readonly store: OnlineStore; close(): Promise<void> }>;
  /** A key of this test's namespace. */
  key(entity: string, keyValues: readonly string[], part?: string): string;
  /** `store.setMany`, remembering the keys so that they are deleted after the test. */
  write(writes: readonly OnlineWrite[], checkpoint?: OnlineWrite): Promise<void>;
}

interface Case {
  readonly name: string;
  run(ctx: Context): Promise<void>;
}

const CASES: readonly Case[] = [
  {
    name: 'round-trips binary values: empty, non-UTF-8, every byte value, 1 MB',
    async run({ store, key, write }) {
      const values: [string, Uint8Array][] = [
        [key('v', ['empty']), new Uint8Array(0)],
        [key('v', ['one']), Uint8Array.of(0)],
        [key('v', ['not-utf8']), Uint8Array.of(0xff, 0xfe, 0xc3, 0x28, 0x80, 0x00, 0xed, 0xa0, 0x80, 0x0d, 0x0a)],
        [key('v', ['all-bytes']), Uint8Array.from({ length: 512 }, (_, i) => i % 256)],
        [key('v', ['one-mb']), pseudoRandomBytes(1 << 20, 7)],
      ];
      await write(values.map(([k, value]) => ({ key: k, value })));
      const got = await store.getMany(values.map(([k]) => k));
      assert.equal(got.length, values.length);
      values.forEach(([k, want], i) => assertBytes(got[i], want, k));
    },
  },
  {
    name: 'absent keys read as undefined, aligned with the input order',
    async run({ store, key, write }) {
      await write([
        { key: key('a', ['1']), value: bytes('one') },
        { key: key('a', ['3']), value: bytes('three') },
      ]);
      const got = await store.getMany([key('a', ['0']), key('a', ['1']), key('a', ['2']), key('a', ['3']), key('a', ['4'])]);
      assert.equal(got.length, 5);
      assert.equal(got[0], undefined);
      assertBytes(got[1], bytes('one'), 'a1');
      assert.equal(got[2], undefined);
      assertBytes(got[3], bytes('three'), 'a3');
      assert.equal(got[4], undefined);
      assert.deepEqual(await store.getMany([key('a', ['never'])]), [undefined]);
    },
  },
  {
    name: 'a key repeated in one getMany reads its value at each place',
    async run({ store, key, write }) {
      const k = key('d', ['x']);
      await write([{ key: k, value: bytes('x') }]);
      const got = await store.getMany([k, key('d', ['none']), k, k]);
      assert.equal(got.length, 4);
      for (const i of [0, 2, 3]) assertBytes(got[i], bytes('x'), `place ${i}`);
      assert.equal(got[1], undefined);
    },
  },
  {
    name: 'getMany of no keys and setMany of no writes do nothing',
    async run({ store }) {
      assert.deepEqual(await store.getMany([]), []);
      await store.setMany([]);
    },
  },
  {
    name: 'a null value deletes the key; deleting an absent key is fine',
    async run({ store, key, write }) {
      const [k1, k2] = [key('del', ['1']), key('del', ['2'])];
      await write([{ key: k1, value: bytes('1') }, { key: k2, value: bytes('2') }]);
      await write([{ key: k1, value: null }, { key: key('del', ['absent']), value: null }]);
      const got = await store.getMany([k1, k2]);
      assert.equal(got[0], undefined);
      assertBytes(got[1], bytes('2'), 'k2 kept');
    },
  },
  {
    name: 'writes replace earlier values, and the last write to a key in one setMany wins',
    async run({ store, key, write }) {
      const [k1, k2] = [key('w', ['1']), key('w', ['2'])];
      await write([{ key: k1, value: bytes('a long first value') }, { key: k2, value: bytes('kept') }]);
      await write([{ key: k1, value: bytes('short') }]);
      assertBytes((await store.getMany([k1]))[0], bytes('short'), 'replaced by a shorter value');
      await write([
        { key: k1, value: bytes('first') },
        { key: k2, value: null },
        { key: k1, value: bytes('second') },
        { key: k2, value: bytes('back') },
      ]);
      const got = await store.getMany([k1, k2]);
      assertBytes(got[0], bytes('second'), 'k1');
      assertBytes(got[1], bytes('back'), 'k2 deleted then written');
    },
  },
  {
    name: 'a write with a time-to-live expires; a later write without one keeps the key',
    async run({ store, key, write, expiryReader }) {
      const [gone, kept, deleted] = [key('ttl', ['gone']), key('ttl', ['kept']), key('ttl', ['deleted'])];
      await write([
        { key: gone, value: bytes('g'), ttlMs: 150 },
        { key: kept, value: bytes('k1'), ttlMs: 150 },
        { key: deleted, value: bytes('d'), ttlMs: 60_000 },
      ]);
      const now = await store.getMany([gone, kept, deleted]);
      assertBytes(now[0], bytes('g'), 'readable before it expires');
      assertBytes(now[2], bytes('d'), 'readable before it is deleted');
      await write([{ key: kept, value: bytes('k2') }, { key: deleted, value: null }]);
      await new Promise((r) => setTimeout(r, 200));
      const reader = await expiryReader();
      try {
        assert.equal((await reader.store.getMany([gone]))[0], undefined, 'a key written with ttlMs 150 still reads after 200 ms');
      } finally {
        await reader.close();
      }
      const after = await store.getMany([kept, deleted]);
      assertBytes(after[0], bytes('k2'), 'rewritten without a time-to-live: kept');
      assert.equal(after[1], undefined, 'a delete of a key with a time-to-live');
    },
  },
  {
    name: 'the checkpoint is written with the writes',
    async run({ store, key, write }) {
      const cp = key('checkpoint', ['stream'], 'offsets');
      const keys = Array.from({ length: 20 }, (_, i) => key('cp', [String(i)]));
      await write(keys.map((k, i) => ({ key: k, value: bytes(`v${i}`) })), { key: cp, value: bytes('offset=20') });
      const got = await store.getMany([...keys, cp]);
      keys.forEach((k, i) => assertBytes(got[i], bytes(`v${i}`), k));
      assertBytes(got[20], bytes('offset=20'), 'checkpoint');
      await write([{ key: keys[0] as string, value: null }], { key: cp, value: bytes('offset=21') });
      assert.equal((await store.getMany([keys[0] as string]))[0], undefined);
      assertBytes((await store.getMany([cp]))[0], bytes('offset=21'), 'checkpoint moved with a delete');
      await write([], { key: cp, value: bytes('offset=22') });
      assertBytes((await store.getMany([cp]))[0], bytes('offset=22'), 'checkpoint alone');
    },
  },
  {
    name: '1000 keys in one call',
    async run({ store, key, write }) {
      const keys = Array.from({ length: 1000 }, (_, i) => key('user', [`u${i}`], 'agg'));
      await write(keys.map((k, i) => ({ key: k, value: pseudoRandomBytes(1 + (i % 97), i) })));
      const asked = [...keys, key('user', ['missing'], 'agg')].reverse();
      const got = await store.getMany(asked);
      assert.equal(got.length, 1001);
      assert.equal(got[0], undefined);
      for (let j = 1; j < 1001; j++) {
        const i = 1000 - j;
        assertBytes(got[j], pseudoRandomBytes(1 + (i % 97), i), keys[i] as string);
      }
    },
  },
  {
    name: 'keys made by stateKey with special characters stay distinct',
    async run({ store, key, write }) {
      const keyValues: string[][] = [
        ['a|b'], ['a', 'b'], ['a\\', 'b'], ['a\\|b'], ['{x}'], ['}'], ['{'], ['x}y{z'], [''], ['', ''],
        ['with space'], ['new\nline'], ['tab\t'], ['colon:x'], ['ünïcödé'], ['😀'], ['日本語'], ['*?[]'], ['\u0000nul'],
      ];
      const keys = keyValues.map((kv) => key('odd', kv));
      assert.equal(new Set(keys).size, keys.length, 'stateKey gives distinct keys');
      await write(keys.map((k, i) => ({ key: k, value: bytes(`value ${i}`) })));
      const got = await store.getMany(keys);
      keys.forEach((k, i) => assertBytes(got[i], bytes(`value ${i}`), JSON.stringify(k)));
    },
  },
  {
    name: 'concurrent setMany calls on different keys all land',
    async run({ store, key, write }) {
      const batches = Array.from({ length: 20 }, (_, b) => Array.from({ length: 50 }, (_, i) => ({ key: key('c', [`${b}-${i}`]), value: bytes(`${b}/${i}`) })));
      await Promise.all(batches.map((ws, b) => write(ws, { key: key('c', ['checkpoint'], `${b}`), value: bytes(`cp${b}`) })));
      const all = batches.flat();
      const got = await store.getMany(all.map((w) => w.key));
      all.forEach((w, i) => assertBytes(got[i], w.value as Uint8Array, w.key));
    },
  },
  {
    name: "a written value is a copy of the caller's bytes, and only the bytes of the view",
    async run({ store, key, write }) {
      const k = key('copy', ['1']);
      const backing = new Uint8Array(64).fill(0xaa);
      const view = backing.subarray(8, 12);
      view.set([1, 2, 3, 4]);
      await write([{ key: k, value: view }]);
      view.fill(9);
      const pooled = Buffer.from('pooled'); // a view into Node's shared pool
      await write([{ key: key('copy', ['2']), value: pooled }]);
      const got = await store.getMany([k, key('copy', ['2'])]);
      assertBytes(got[0], Uint8Array.of(1, 2, 3, 4), 'changing the buffer after the write changes nothing');
      assertBytes(got[1], bytes('pooled'), 'a Buffer from the pool');
    },
  },
  {
    name: 'deletePrefix deletes every key under a prefix (many pages, glob characters taken literally) and no other',
    async run({ store, namespace, write }) {
      // SCAN pages of 1000: 2500 keys take several. The prefix is taken literally: read as a glob, it
      // would also match the lookalike's keys.
      const gone = `${namespace}:g*?[x]\\y`;
      const lookalike = `${namespace}:gABxy`;
      const under = Array.from({ length: 2500 }, (_, i) => stateKey(gone, 'user', [`u${i}`], 'state'));
      const kept = [stateKey(lookalike, 'user', ['u1'], 'state'), stateKey(`${namespace}:g`, 'user', ['u1'], 'state'), `${namespace}:other`];
      await write([...under, ...kept].map((key) => ({ key, value: bytes('v') })));
      // Read once first: a store that caches reads must not serve them after the delete.
      assert.ok((await store.getMany(under.slice(0, 100))).every((v) => v !== undefined));
      assert.equal(await store.deletePrefix(`${gone}:{`), under.length);
      assert.ok((await store.getMany(under)).every((v) => v === undefined), 'every key under the prefix is gone');
      assert.ok((await store.getMany(kept)).every((v) => v !== undefined), 'keys outside the prefix stay');
      assert.equal(await store.deletePrefix(`${gone}:{`), 0);
    },
  },
  {
    name: 'ping answers true while open and false after close',
    async run({ store }) {
      assert.equal(await store.ping(), true);
      await store.close();
      assert.equal(await store.ping(), false);
    },
  },
];

/** The names of the suite's tests, for `skip` lists. */
export const ONLINE_STORE_CONFORMANCE_TESTS: readonly string[] = CASES.map((c) => c.name);

export function runOnlineStoreConformance(options: OnlineStoreConformanceOptions): void {
  const skips = new Map<string, string>();
  for (const { reason, tests } of options.skip ?? []) {
    for (const name of tests) {
      if (!ONLINE_STORE_CONFORMANCE_TESTS.includes(name)) {
        throw new Error(`runOnlineStoreConformance(${options.name}): no test is named ${JSON.stringify(name)}; the names are ONLINE_STORE_CONFORMANCE_TESTS`);
      }
      skips.set(name, reason);
    }
  }
  const namespace = options.namespace ?? `rs-conformance-${randomBytes(6).toString('hex')}`;
  describe(`online store conformance: ${options.name}`, () => {
    CASES.forEach((c, index) => {
      const reason = skips.get(c.name);
      test(c.name, reason === undefined ? {} : { skip: reason }, async () => {
        const store = await options.create();
        const written = new Set<string>();
        const ns = `${namespace}:${index}`;
        const ctx: Context = {
          store,
          namespace: ns,
          expiryReader: async () => {
            if (options.cached !== true) return { store, close: async () => undefined };
            const other = await options.create();
            return { store: other, close: () => other.close() };
          },
          key: (entity, keyValues, part = 'state') => stateKey(ns, entity, keyValues, part),
          write: async (writes, checkpoint) => {
            for (const w of writes) written.add(w.key);
            if (checkpoint !== undefined) written.add(checkpoint.key);
            await store.setMany(writes, checkpoint);
          },
        };
        try {
          await c.run(ctx);
        } finally {
          try {
            if (written.size > 0) await store.setMany([...written].map((key) => ({ key, value: null })));
          } finally {
            await store.close();
          }
        }
      });
    });
  });
}

function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** Deterministic bytes (xorshift32), so a failure reproduces. */
function pseudoRandomBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = (seed * 2654435761 + 1) >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

function assertBytes(actual: Uint8Array | undefined, expected: Uint8Array, label: string): void {
  assert.ok(actual instanceof Uint8Array, `${label}: expected ${expected.byteLength} bytes, got ${String(actual)}`);
  if (Buffer.compare(Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength), Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength)) !== 0) {
    const show = (b: Uint8Array): string => Buffer.from(b.subarray(0, 32)).toString('hex') + (b.byteLength > 32 ? '…' : '');
    assert.fail(`${label}: got ${actual.byteLength} bytes ${show(actual)}, want ${expected.byteLength} bytes ${show(expected)}`);
  }
}
