import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { decodeUtf8, firstInvalidUtf8 } from './utf8.ts';

const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const lenient = new TextDecoder('utf-8', { ignoreBOM: true });
const valid = (b: Uint8Array) => {
  try {
    strict.decode(b);
    return true;
  } catch {
    return false;
  }
};

test('firstInvalidUtf8 agrees with a strict decoder: -1 exactly for UTF-8, else the bytes before it are UTF-8 and the sequence there is not', () => {
  // Bytes near the boundaries of UTF-8's ranges, mixed with text that is valid.
  const interesting = fc.constantFrom(0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff);
  const piece = fc.oneof(
    fc.uint8Array({ maxLength: 6 }),
    fc.array(interesting, { maxLength: 6 }).map((a) => Uint8Array.from(a)),
    fc.string({ unit: 'grapheme', maxLength: 6 }).map((s) => new TextEncoder().encode(s)),
  );
  fc.assert(
    fc.property(fc.array(piece, { maxLength: 6 }), (pieces) => {
      const bytes = Uint8Array.from(pieces.flatMap((p) => [...p]));
      const at = firstInvalidUtf8(bytes);
      if (at === -1) return assert.ok(valid(bytes), `${Buffer.from(bytes).toString('hex')} was called UTF-8`);
      assert.ok(!valid(bytes), `${Buffer.from(bytes).toString('hex')} was called invalid at ${at}`);
      assert.ok(valid(bytes.subarray(0, at)), 'what comes before it is UTF-8');
      // A replacing decoder puts U+FFFD for what starts there (and the bytes there are not U+FFFD's own).
      assert.equal(lenient.decode(bytes.subarray(at)).charCodeAt(0), 0xfffd);
      assert.notDeepEqual([...bytes.subarray(at, at + 3)], [0xef, 0xbf, 0xbd]);
    }),
    { numRuns: 3000, seed: 7 },
  );
});

test('decodeUtf8 names the byte that is not UTF-8', () => {
  assert.deepEqual(decodeUtf8(Buffer.from('café')), { text: 'café' });
  assert.deepEqual(decodeUtf8(Buffer.from([0x63, 0x61, 0x66, 0xe9])), { invalid: 'byte 4 (0xE9) is not UTF-8' });
  assert.deepEqual(decodeUtf8(Buffer.from([0xed, 0xa0, 0x80])), { invalid: 'byte 1 (0xED) is not UTF-8' }, 'an encoded surrogate');
  assert.deepEqual(decodeUtf8(Buffer.from([0xef, 0xbf, 0xbd])), { text: '\ufffd' }, 'U+FFFD itself is UTF-8');
});
