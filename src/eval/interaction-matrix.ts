/** @module The training interactions as a sparse user x item matrix (CSR), shared by the baselines. */
import { catalogueOf, usersOf } from './ids.ts';
import type { Interaction, Scorer } from './types.ts';

export interface InteractionMatrix {
  readonly users: readonly string[];
  readonly items: readonly string[];
  readonly userIndex: ReadonlyMap<string, number>;
  readonly itemIndex: ReadonlyMap<string, number>;
  /** Row u spans `colIdx[rowPtr[u] .. rowPtr[u + 1])`, item indices ascending, one entry per (user, item). */
  readonly rowPtr: Int32Array;
  readonly colIdx: Int32Array;
  /** Sum of `weight(row)` over the rows of each (user, item) pair. */
  readonly values: Float64Array;
}

export interface MatrixOptions {
  /** The catalogue to index; default every training item in `compareIds` order. */
  readonly items?: readonly string[];
  /** The value a row adds to its cell; default 1 (so a cell counts the pair's rows). */
  readonly weight?: (row: Interaction) => number;
}

/** Builds the CSR matrix; rows whose item is outside `options.items` are dropped. */
export function buildInteractionMatrix(rows: readonly Interaction[], options: MatrixOptions = {}): InteractionMatrix {
  const users = usersOf(rows);
  const items = options.items ?? catalogueOf(rows);
  const weight = options.weight ?? (() => 1);
  const userIndex = new Map(users.map((u, i) => [u, i] as const));
  const itemIndex = new Map(items.map((it, i) => [it, i] as const));
  const cells = users.map(() => new Map<number, number>());
  for (const r of rows) {
    const i = itemIndex.get(r.item);
    if (i === undefined) continue;
    const cell = cells[userIndex.get(r.user)!]!;
    cell.set(i, (cell.get(i) ?? 0) + weight(r));
  }
  const rowPtr = new Int32Array(users.length + 1);
  cells.forEach((c, u) => (rowPtr[u + 1] = rowPtr[u]! + c.size));
  const nnz = rowPtr[users.length]!;
  const colIdx = new Int32Array(nnz);
  const values = new Float64Array(nnz);
  cells.forEach((c, u) => {
    let p = rowPtr[u]!;
    for (const [i, v] of [...c].sort((a, b) => a[0] - b[0])) {
      colIdx[p] = i;
      values[p++] = v;
    }
  });
  return { users, items, userIndex, itemIndex, rowPtr, colIdx, values };
}

/** A sparse matrix in compressed rows: row r spans `colIdx[rowPtr[r] .. rowPtr[r + 1])`. */
export interface Csr {
  readonly rowPtr: Int32Array;
  readonly colIdx: Int32Array;
  readonly values: Float64Array;
}

/** The transpose of a CSR matrix of `rows` × `cols`, as CSR (its columns become rows, in row order). */
export function transpose(m: Csr, rows: number, cols: number): Csr {
  const rowPtr = new Int32Array(cols + 1);
  for (const c of m.colIdx) rowPtr[c + 1]!++;
  for (let c = 0; c < cols; c++) rowPtr[c + 1]! += rowPtr[c]!;
  const fill = rowPtr.slice(0, cols);
  const colIdx = new Int32Array(m.colIdx.length);
  const values = new Float64Array(m.values.length);
  for (let r = 0; r < rows; r++) {
    for (let p = m.rowPtr[r]!; p < m.rowPtr[r + 1]!; p++) {
      const q = fill[m.colIdx[p]!]!++;
      colIdx[q] = r;
      values[q] = m.values[p]!;
    }
  }
  return { rowPtr, colIdx, values };
}

/** Dense item x item co-occurrence XᵀX of the binary matrix: C[i·n + j] = users with both i and j. */
export function cooccurrence(m: InteractionMatrix, weighted = false): Float64Array {
  const n = m.items.length;
  const c = new Float64Array(n * n);
  for (let u = 0; u < m.users.length; u++) {
    const end = m.rowPtr[u + 1]!;
    for (let p = m.rowPtr[u]!; p < end; p++) {
      const base = m.colIdx[p]! * n;
      if (!weighted) {
        for (let q = m.rowPtr[u]!; q < end; q++) c[base + m.colIdx[q]!]! += 1;
        continue;
      }
      const v = m.values[p]!;
      for (let q = m.rowPtr[u]!; q < end; q++) c[base + m.colIdx[q]!]! += v * m.values[q]!;
    }
  }
  return c;
}

/**
 * Keeps, for each target item j (column j of the dense n x n matrix `s`), only its k largest
 * entries and zeroes the rest, in place; ties at the threshold fill the remaining places in item order.
 */
export function keepTopNeighbours(s: Float64Array, n: number, k: number): void {
  if (k >= n) return;
  const col = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    for (let i = 0; i < n; i++) col[i] = s[i * n + j]!;
    const threshold = k <= 0 ? Infinity : Float64Array.from(col).sort().reverse()[k - 1]!;
    let greater = 0;
    for (let i = 0; i < n; i++) if (col[i]! > threshold) greater++;
    let ties = k - greater;
    for (let i = 0; i < n; i++) {
      if (col[i]! > threshold) continue;
      if (col[i]! === threshold && ties > 0) ties--;
      else s[i * n + j] = 0;
    }
  }
}

/**
 * A scorer whose scores are a user's row of the matrix times a dense item x item matrix `w`
 * (row-major): score_j = Σ_i value(u, i) · w[i·n + j]. SAR, EASE and item-kNN all take this form.
 */
export function itemToItemScorer(
  m: InteractionMatrix,
  w: Float64Array,
  value: (stored: number) => number = (v) => v,
): Scorer {
  const n = m.items.length;
  return {
    items: m.items,
    score(user) {
      const u = m.userIndex.get(user);
      if (u === undefined) return undefined;
      const out = new Float64Array(n);
      const end = m.rowPtr[u + 1]!;
      let p = m.rowPtr[u]!;
      // Four of the user's rows per pass over `out` (a quarter of the loads and stores of out), each
      // added in the user's order, so every sum is the one the row-by-row loop gives, bit for bit.
      for (; p + 3 < end; p += 4) {
        const a0 = value(m.values[p]!), a1 = value(m.values[p + 1]!), a2 = value(m.values[p + 2]!), a3 = value(m.values[p + 3]!);
        const r0 = m.colIdx[p]! * n, r1 = m.colIdx[p + 1]! * n, r2 = m.colIdx[p + 2]! * n, r3 = m.colIdx[p + 3]! * n;
        for (let j = 0; j < n; j++) {
          let v = out[j]!;
          v += a0 * w[r0 + j]!;
          v += a1 * w[r1 + j]!;
          v += a2 * w[r2 + j]!;
          v += a3 * w[r3 + j]!;
          out[j] = v;
        }
      }
      for (; p < end; p++) {
        const a = value(m.values[p]!);
        const r = m.colIdx[p]! * n;
        for (let j = 0; j < n; j++) out[j]! += a * w[r + j]!;
      }
      return out;
    },
  };
}
