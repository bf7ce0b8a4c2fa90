import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decimalNumber, nonNegativeInt, positiveInt, positiveNumber } from './parse.ts';

test('numeric flags are read in decimal only (0x10, 0b1, blank and 1_000 are usage errors, not 16, 1 or 0), and whole numbers stay exact', () => {
  assert.equal(decimalNumber('42'), 42);
  assert.equal(decimalNumber('-0.5'), -0.5);
  assert.equal(decimalNumber('.25'), 0.25);
  assert.equal(decimalNumber('1e-3'), 0.001);
  for (const v of ['0x10', '0b1', '0o7', '', ' ', ' 5', '1_000', 'Infinity', '5px']) assert.ok(Number.isNaN(decimalNumber(v)), `'${v}'`);
  assert.equal(positiveInt('k')('10'), 10);
  assert.throws(() => positiveInt('k')('0x10'), /--k '0x10': give a positive whole number/);
  // Beyond 2^53 a number is no longer exact (and `consistency --probes 1e30` reached DuckDB as LIMIT 1e+30).
  assert.throws(() => positiveInt('probes')('1e30'), /--probes '1e30': give a positive whole number \(at most 2\^53 − 1\)/);
  assert.equal(positiveInt('probes')('9007199254740991'), Number.MAX_SAFE_INTEGER);
  assert.throws(() => nonNegativeInt('n')(''), /--n '': give a whole number, 0 or more/);
  assert.equal(positiveNumber('speed')('3600'), 3600);
  assert.throws(() => positiveNumber('speed')('0b11'), /--speed '0b11'/);
});
