import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RecsignalError } from '../core/errors.ts';
import { invertSpd } from './linalg.ts';

test('inverts a 2x2 SPD matrix exactly', () => {
  // [[4, 2], [2, 3]]⁻¹ = 1/8 · [[3, −2], [−2, 4]].
  const inv = invertSpd(Float64Array.from([4, 2, 2, 3]), 2);
  [3 / 8, -2 / 8, -2 / 8, 4 / 8].forEach((v, i) => assert.ok(Math.abs(inv[i]! - v) < 1e-15, `${i}: ${inv[i]}`));
});

test('A·A⁻¹ = I on sizes that hit the 4-row blocks and their remainders', () => {
  for (const n of [1, 3, 4, 9, 33]) {
    // A = MᵀM + I with a fixed pseudo-random 0/1 matrix M: symmetric positive definite.
    const a = new Float64Array(n * n);
    for (let r = 0; r < 2 * n; r++) {
      const row = Array.from({ length: n }, (_, j) => ((r * 7 + j * 13) % 5 === 0 ? 1 : 0));
      for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) a[i * n + j]! += row[i]! * row[j]!;
    }
    for (let i = 0; i < n; i++) a[i * n + i]! += 1;
    const inv = invertSpd(a, n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += a[i * n + k]! * inv[k * n + j]!;
        assert.ok(Math.abs(s - (i === j ? 1 : 0)) < 1e-12, `n=${n} (${i},${j}) = ${s}`);
        assert.equal(inv[i * n + j], inv[j * n + i]);
      }
    }
  }
});

test('a singular matrix is refused with advice', () => {
  assert.throws(() => invertSpd(Float64Array.from([1, 1, 1, 1]), 2), (e: unknown) => e instanceof RecsignalError && /regularisation/.test(e.message));
});
