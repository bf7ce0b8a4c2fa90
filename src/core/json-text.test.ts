import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { jsonText, quoteUnsafeIntegers, safeJson } from './json-text.ts';

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

test('quoteUnsafeIntegers: integers beyond 2^53 become their digits as strings; every other value, and text inside strings, is untouched', () => {
  type V = null | boolean | number | string | { big: bigint } | V[] | { [k: string]: V };
  const big = fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map((b) => ({ big: b }));
  const { value } = fc.letrec<{ value: V }>((tie) => ({
    value: fc.oneof(
      { depthSize: 'small' },
      fc.constant(null),
      fc.boolean(),
      // A double written in 16 or more plain digits beyond 2^53 is an integer to JSON text: it is quoted too (below).
      fc.double({ noNaN: true, min: -1e15, max: 1e15 }).filter((x) => !Object.is(x, -0)),
      fc.integer(),
      fc.string({ unit: fc.constantFrom('1', '9', '"', '\\\\', '-', 'e', ' ', 'x') }),
      big,
      fc.array(tie('value'), { maxLength: 4 }),
      fc.dictionary(fc.string({ unit: fc.constantFrom('1', '2', '"', 'k') }), tie('value'), { maxKeys: 3 }),
    ),
  }));
  const text = (v: V): string => (v !== null && typeof v === 'object' && 'big' in v && typeof v.big === 'bigint' ? String(v.big) : Array.isArray(v) ? `[${v.map(text).join(',')}]` : v !== null && typeof v === 'object' ? `{${Object.entries(v).map(([k, x]) => `${JSON.stringify(k)}:${text(x as V)}`).join(',')}}` : JSON.stringify(v));
  const want = (v: V): unknown => (v !== null && typeof v === 'object' && 'big' in v && typeof v.big === 'bigint' ? (Number.isSafeInteger(Number(v.big)) ? Number(v.big) : String(v.big)) : Array.isArray(v) ? v.map(want) : v !== null && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, want(x as V)])) : v);
  fc.assert(
    fc.property(value, (v) => {
      assert.deepEqual(JSON.parse(quoteUnsafeIntegers(text(v))), want(v));
    }),
    { numRuns: 2000, seed: 5 },
  );
  assert.equal(quoteUnsafeIntegers('{"a":[9007199254740993,-9007199254740993,9007199254740991,1e16,10000000000000000,1.5e300,"9007199254740993"]}'), '{"a":["9007199254740993","-9007199254740993",9007199254740991,1e16,"10000000000000000",1.5e300,"9007199254740993"]}');
});
