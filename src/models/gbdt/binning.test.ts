import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { findBinUpperBounds, valueToBin } from './binning.ts';
import { binDataset, queryOffsets } from './dataset.ts';

const bounds = (values: number[], max: number) => Array.from(findBinUpperBounds(Float64Array.from(values).sort(), max));

describe('binning', () => {
  test('few distinct values get a bin each, bounded between neighbours', () => {
    assert.deepEqual(bounds([3, 1, 2, 2, 1], 10), [1.5, 2.5, Infinity]);
    assert.deepEqual(bounds([], 10), [Infinity]);
    assert.deepEqual(bounds([7, 7], 10), [Infinity]);
  });

  test('many distinct values get about equal-count bins, and a heavy value a bin of its own', () => {
    const values = Array.from({ length: 1000 }, (_, i) => i);
    const u = bounds(values, 4);
    assert.deepEqual(u, [249.5, 499.5, 749.5, Infinity]);
    const heavy = [...Array.from({ length: 100 }, (_, i) => i), ...new Array(300).fill(50)];
    const h = bounds(heavy, 4);
    const bin50 = valueToBin(Float64Array.from(h), 50);
    assert.ok(valueToBin(Float64Array.from(h), 49) !== bin50 && valueToBin(Float64Array.from(h), 51) !== bin50, `bounds ${h}`);
  });

  test('value <= upper[t] is exactly bin <= t, even for adjacent doubles', () => {
    const a = 1;
    const b = 1 + Number.EPSILON;
    const u = findBinUpperBounds(Float64Array.of(a, b), 10);
    assert.equal(valueToBin(u, a), 0);
    assert.equal(valueToBin(u, b), 1);
    assert.ok(a <= u[0]! && !(b <= u[0]!));
  });

  test('missing values get the bin after the value bins; bins stay within 255', () => {
    const rows = 600;
    const data = new Float64Array(rows * 2);
    for (let r = 0; r < rows; r++) {
      data[r * 2] = r % 7 === 0 ? NaN : r;
      data[r * 2 + 1] = r % 3;
    }
    const ds = binDataset({ features: { data, rows, cols: 2 }, labels: new Float64Array(rows) }, 255, 200_000, 0);
    assert.equal(ds.upper[0]!.length, 254);
    assert.equal(ds.upper[1]!.length, 3);
    assert.equal(ds.bins[0 * ds.stride], 254, 'row 0 of feature 0 is NaN');
    assert.equal(ds.binsByColumn[0], 254);
    assert.equal(ds.bins[1 * ds.stride + 1], 1);
    assert.equal(ds.stride, 4);
  });

  test('query groups from sizes or contiguous ids', () => {
    assert.deepEqual(Array.from(queryOffsets({ sizes: [2, 3] }, 5)), [0, 2, 5]);
    assert.deepEqual(Array.from(queryOffsets({ queryIds: ['a', 'a', 'b', 'c', 'c'] }, 5)), [0, 2, 3, 5]);
    assert.throws(() => queryOffsets({ queryIds: ['a', 'b', 'a'] }, 3), /not contiguous/);
    assert.throws(() => queryOffsets({ sizes: [2, 2] }, 5), /add up to 4/);
  });
});
