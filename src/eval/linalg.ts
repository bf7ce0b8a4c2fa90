/**
 * @module Dense symmetric positive-definite inverse on row-major Float64Arrays (Cholesky), fast
 * enough for EASE on a few thousand items without a native BLAS: every inner loop is a dot
 * product of contiguous rows, four rows against one shared row so each load feeds four products.
 */
import { RecsignalError } from '../core/errors.ts';

function dot(a: Float64Array, ai: number, b: Float64Array, bi: number, len: number): number {
  let s0 = 0, s1 = 0;
  let k = 0;
  for (; k + 1 < len; k += 2) {
    s0 += a[ai + k]! * b[bi + k]!;
    s1 += a[ai + k + 1]! * b[bi + k + 1]!;
  }
  if (k < len) s0 += a[ai + k]! * b[bi + k]!;
  return s0 + s1;
}

/** Four dot products of `a` at offsets a0..a3 with the shared `b` at bi, written to `out`. */
function dot4(a: Float64Array, a0: number, a1: number, a2: number, a3: number, b: Float64Array, bi: number, len: number, out: Float64Array): void {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (let k = 0; k < len; k++) {
    const x = b[bi + k]!;
    s0 += a[a0 + k]! * x;
    s1 += a[a1 + k]! * x;
    s2 += a[a2 + k]! * x;
    s3 += a[a3 + k]! * x;
  }
  out[0] = s0;
  out[1] = s1;
  out[2] = s2;
  out[3] = s3;
}

function notPositiveDefinite(i: number, s: number): RecsignalError {
  return new RecsignalError('INVALID_ARGUMENT', `matrix is not positive definite (pivot ${i} is ${s}); raise the regularisation (e.g. EASE lambda)`);
}

/** Lower Cholesky factor L (row-major, upper triangle zero) with A = L·Lᵀ; A is read, not changed. */
export function cholesky(a: Float64Array, n: number): Float64Array {
  const l = new Float64Array(n * n);
  const s = new Float64Array(4);
  for (let i0 = 0; i0 < n; i0 += 4) {
    const rows = Math.min(4, n - i0);
    if (rows === 4) {
      // Columns left of the block: four rows against each finished row j.
      for (let j = 0; j < i0; j++) {
        dot4(l, i0 * n, (i0 + 1) * n, (i0 + 2) * n, (i0 + 3) * n, l, j * n, j, s);
        const d = l[j * n + j]!;
        for (let t = 0; t < 4; t++) l[(i0 + t) * n + j] = (a[(i0 + t) * n + j]! - s[t]!) / d;
      }
    }
    // The block's own triangle (and every column of a short final block).
    for (let t = 0; t < rows; t++) {
      const i = i0 + t;
      for (let j = rows === 4 ? i0 : 0; j <= i; j++) {
        const v = a[i * n + j]! - dot(l, i * n, l, j * n, j);
        if (i === j) {
          if (!(v > 0)) throw notPositiveDefinite(i, v);
          l[i * n + i] = Math.sqrt(v);
        } else {
          l[i * n + j] = v / l[j * n + j]!;
        }
      }
    }
  }
  return l;
}

/** A⁻¹ of a symmetric positive-definite A (row-major n x n), via A⁻¹ = L⁻ᵀ·L⁻¹. */
export function invertSpd(a: Float64Array, n: number): Float64Array {
  const l = cholesky(a, n);
  // u = L⁻ᵀ, row-major upper triangular: row j of u is column j of L⁻¹, solved by forward
  // substitution; rows are independent, so four are solved together against each row of L.
  const u = new Float64Array(n * n);
  const s = new Float64Array(4);
  for (let j0 = 0; j0 < n; j0 += 4) {
    const rows = Math.min(4, n - j0);
    for (let t = 0; t < rows; t++) {
      const j = j0 + t;
      u[j * n + j] = 1 / l[j * n + j]!;
      for (let i = j + 1; i < j0 + rows; i++) u[j * n + i] = -dot(l, i * n + j, u, j * n + j, i - j) / l[i * n + i]!;
    }
    for (let i = j0 + rows; i < n; i++) {
      if (rows === 4) {
        // u[j][k] is zero for k < j, so all four sums may start at j0.
        dot4(u, j0 * n + j0, (j0 + 1) * n + j0, (j0 + 2) * n + j0, (j0 + 3) * n + j0, l, i * n + j0, i - j0, s);
        const d = l[i * n + i]!;
        for (let t = 0; t < 4; t++) u[(j0 + t) * n + i] = -s[t]! / d;
      } else {
        for (let t = 0; t < rows; t++) u[(j0 + t) * n + i] = -dot(l, i * n + j0, u, (j0 + t) * n + j0, i - j0) / l[i * n + i]!;
      }
    }
  }
  // A⁻¹[r][c] = Σ_k L⁻¹[k][r]·L⁻¹[k][c] = Σ_{k ≥ max(r,c)} u[r][k]·u[c][k].
  const inv = new Float64Array(n * n);
  for (let r0 = 0; r0 < n; r0 += 4) {
    const rows = Math.min(4, n - r0);
    for (let c = r0; c < n; c++) {
      if (rows === 4) {
        // For c inside the block the extra terms multiply stored zeros, so starting at c is exact.
        dot4(u, r0 * n + c, (r0 + 1) * n + c, (r0 + 2) * n + c, (r0 + 3) * n + c, u, c * n + c, n - c, s);
        for (let t = 0; t < 4; t++) {
          inv[(r0 + t) * n + c] = s[t]!;
          inv[c * n + r0 + t] = s[t]!;
        }
      } else {
        for (let t = 0; t < rows; t++) {
          const v = dot(u, (r0 + t) * n + c, u, c * n + c, n - c);
          inv[(r0 + t) * n + c] = v;
          inv[c * n + r0 + t] = v;
        }
      }
    }
  }
  return inv;
}
