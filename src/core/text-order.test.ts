import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { compareText } from './text-order.ts';

test('compareText is the byte order of UTF-8 (what DuckDB compares), not JavaScript\'s UTF-16 order', () => {
  assert.ok(compareText('e\uff61', 'e😀') < 0, '｡ (U+FF61) before 😀 (U+1F600)');
  assert.ok('e\uff61' > 'e😀', "JavaScript's < says otherwise");
  assert.equal(compareText('ab', 'ab'), 0);
  assert.ok(compareText('a', 'ab') < 0);
  const utf8 = (s: string) => Buffer.from(s, 'utf8');
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (a, b) => Math.sign(compareText(a, b)) === Math.sign(Buffer.compare(utf8(a), utf8(b)))),
    { numRuns: 2000 },
  );
});
