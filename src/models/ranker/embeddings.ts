/**
 * @module Item embeddings for the ranker: the top eigenvectors of the cosine-normalised item
 * co-occurrence D^-½ XᵀX D^-½ (X binary users × items), found by block power iteration through
 * the sparse X, so never forming the dense item × item matrix. A user's vector is the mean of
 * their items' vectors.
 */
import { buildInteractionMatrix } from '../../eval/interaction-matrix.ts';
import { createRandomState } from '../../eval/mt19937.ts';
import type { Interaction } from '../../eval/types.ts';

export interface ItemEmbeddings {
  readonly dims: number;
  /** Row-major items × dims, in catalogue order. */
  readonly vectors: Float64Array;
  /** Row-major users × dims: the mean vector of each user's training items (zeros for none). */
  userVectors(users: readonly string[], train: readonly Interaction[]): Float64Array;
}

export function itemEmbeddings(train: readonly Interaction[], items: readonly string[], dims: number, iterations = 20, seed = 7): ItemEmbeddings {
  const x = buildInteractionMatrix(train, { items, weight: () => 1 });
  const nu = x.users.length, ni = items.length, d = dims;
  const deg = new Float64Array(ni);
  for (let p = 0; p < x.colIdx.length; p++) deg[x.colIdx[p]!]! += 1;
  const scale = Float64Array.from(deg, (v) => (v > 0 ? 1 / Math.sqrt(v) : 0));
  const rs = createRandomState(seed);
  let q: Float64Array = Float64Array.from({ length: ni * d }, () => rs.rand() - 0.5);
  orthonormalise(q, ni, d);
  const xq = new Float64Array(nu * d);
  let eig: Float64Array = new Float64Array(d);
  for (let it = 0; it < iterations; it++) {
    // xq = X · D^-½ q
    xq.fill(0);
    for (let u = 0; u < nu; u++) {
      for (let p = x.rowPtr[u]!; p < x.rowPtr[u + 1]!; p++) {
        const i = x.colIdx[p]!, s = scale[i]!;
        for (let k = 0; k < d; k++) xq[u * d + k]! += s * q[i * d + k]!;
      }
    }
    // next = D^-½ Xᵀ xq
    const next = new Float64Array(ni * d);
    for (let u = 0; u < nu; u++) {
      for (let p = x.rowPtr[u]!; p < x.rowPtr[u + 1]!; p++) {
        const i = x.colIdx[p]!, s = scale[i]!;
        for (let k = 0; k < d; k++) next[i * d + k]! += s * xq[u * d + k]!;
      }
    }
    eig = orthonormalise(next, ni, d);
    q = next;
  }
  // Scale each direction by √eigenvalue, so the dot product approximates the normalised co-occurrence.
  const vectors = new Float64Array(ni * d);
  for (let i = 0; i < ni; i++) for (let k = 0; k < d; k++) vectors[i * d + k] = q[i * d + k]! * Math.sqrt(Math.max(0, eig[k]!)) * Math.sqrt(ni);
  return {
    dims: d,
    vectors,
    userVectors(users, rows) {
      const index = new Map(users.map((u, i) => [u, i] as const));
      const itemIndex = new Map(items.map((it, i) => [it, i] as const));
      const out = new Float64Array(users.length * d);
      const n = new Float64Array(users.length);
      for (const r of rows) {
        const u = index.get(r.user), i = itemIndex.get(r.item);
        if (u === undefined || i === undefined) continue;
        n[u]! += 1;
        for (let k = 0; k < d; k++) out[u * d + k]! += vectors[i * d + k]!;
      }
      for (let u = 0; u < users.length; u++) if (n[u]! > 0) for (let k = 0; k < d; k++) out[u * d + k]! /= n[u]!;
      return out;
    },
  };
}

/** Modified Gram-Schmidt on the d columns of a row-major n × d matrix, in place; returns the norms before normalising. */
function orthonormalise(m: Float64Array, n: number, d: number): Float64Array {
  const norms = new Float64Array(d);
  for (let k = 0; k < d; k++) {
    for (let j = 0; j < k; j++) {
      let dot = 0;
      for (let i = 0; i < n; i++) dot += m[i * d + k]! * m[i * d + j]!;
      for (let i = 0; i < n; i++) m[i * d + k]! -= dot * m[i * d + j]!;
    }
    let s = 0;
    for (let i = 0; i < n; i++) s += m[i * d + k]! * m[i * d + k]!;
    const norm = Math.sqrt(s);
    norms[k] = norm;
    if (norm > 0) for (let i = 0; i < n; i++) m[i * d + k]! /= norm;
  }
  return norms;
}
