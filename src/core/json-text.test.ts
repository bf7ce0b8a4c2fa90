import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { jsonText, safeJson } from './json-text.ts';

test('jsonText writes what JSON.stringify writes, for any JSON value and plain data with undefined and NaN', () => {
  fc.assert(fc.property(fc.jsonValue(), (v) => assert.equal(jsonText(v), JSON.stringify(v))), { numRuns: 500, seed: 42 });
  const odd = { a: undefined, b: [undefined, NaN, Infinity, -0], 'quo"te': 'line\nbreak', c: { d: null } };
  assert.equal(jsonText(odd), JSON.stringify(odd));
});

test('a value nested past what JSON.stringify can take is written whole, and parses back', () => {
  const depth = 100_000;
  const text = `${'['.repeat(depth)}1${']'.repeat(depth)}`;
  const deep: unknown = JSON.parse(text);
  assert.throws(() => JSON.stringify(deep), RangeError);
  assert.equal(safeJson({ input: deep }), `{"input":${text}}`);
});
