import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ParsedValues } from './parsed-values.ts';

test('a key read again with the same text reuses the parse; changed text is parsed anew', () => {
  const p = new ParsedValues(1000);
  const a = p.parse('k', '{"n":1}');
  assert.equal(p.parse('k', '{"n":1}'), a);
  assert.deepEqual([p.hits, p.misses], [1, 1]);
  const b = p.parse('k', '{"n":2}');
  assert.notEqual(b, a);
  assert.deepEqual(b, { n: 2 });
  assert.deepEqual([p.hits, p.misses, p.size], [1, 2, 1]);
});

test('the least recently read keys leave first when the kept text passes the capacity', () => {
  const p = new ParsedValues(20); // two 8-character texts fit, three do not
  const x = p.parse('x', '{"v":11}');
  p.parse('y', '{"v":22}');
  p.parse('x', '{"v":11}'); // x is now the most recent
  p.parse('z', '{"v":33}'); // evicts y
  assert.equal(p.size, 2);
  assert.equal(p.parse('x', '{"v":11}'), x);
  const misses = p.misses;
  p.parse('y', '{"v":22}');
  assert.equal(p.misses, misses + 1, 'y was evicted, so it is parsed again');
});

test('a text larger than the capacity is parsed but not kept', () => {
  const p = new ParsedValues(4);
  assert.deepEqual(p.parse('k', '{"n":1}'), { n: 1 });
  assert.equal(p.size, 0);
});
