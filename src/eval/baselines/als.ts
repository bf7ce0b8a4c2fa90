/**
 * @module Implicit-feedback ALS (Hu, Koren & Volinsky 2008): confidence c = 1 + α·r on observed
 * pairs, preference 1 there and 0 elsewhere; each half-step solved per row by a few conjugate
 * gradient steps warm-started from the previous factors (Takács et al. 2011, as in `implicit`).
 */
import { buildInteractionMatrix, transpose, type Csr } from '../interaction-matrix.ts';
import { createRandomState } from '../mt19937.ts';
import type { Interaction, Scorer } from '../types.ts';

export interface AlsOptions {
  readonly items?: readonly string[];
  /** Latent dimensions; default 32. */
  readonly factors?: number;
  /** L2 regularisation on both factor matrices; default 1. */
  readonly regularization?: number;
  /** Confidence slope α in c = 1 + α·r; default 1. */
  readonly alpha?: number;
  /** r = the rating (default), or with `binary` the number of rows of the pair (1 without duplicates). */
  readonly binary?: boolean;
  /** Alternating sweeps; default 15. */
  readonly iterations?: number;
  /** Conjugate gradient steps per row and sweep; default 3. */
  readonly cgSteps?: number;
  /** Seed of the initial factors (uniform in [0, 0.01)); default 42. */
  readonly seed?: number;
}

/**
 * One half-step: for each row u of `conf`, move x_u towards the solution of
 * (YᵀY + Yᵀ(C_u − I)Y + λI) x_u = Yᵀ C_u p_u with `steps` CG iterations.
 */
function solveHalf(x: Float64Array, y: Float64Array, conf: Csr, rows: number, yRows: number, f: number, reg: number, steps: number): void {
  const yty = new Float64Array(f * f);
  for (let i = 0; i < yRows; i++) {
    const o = i * f;
    for (let a = 0; a < f; a++) {
      const ya = y[o + a]!;
      for (let b = 0; b < f; b++) yty[a * f + b]! += ya * y[o + b]!;
    }
  }
  for (let a = 0; a < f; a++) yty[a * f + a]! += reg;
  const r = new Float64Array(f), p = new Float64Array(f), ap = new Float64Array(f);
  for (let u = 0; u < rows; u++) {
    const xo = u * f;
    // r = b − A·x
    for (let a = 0; a < f; a++) {
      let s = 0;
      for (let b = 0; b < f; b++) s += yty[a * f + b]! * x[xo + b]!;
      r[a] = -s;
    }
    for (let q = conf.rowPtr[u]!; q < conf.rowPtr[u + 1]!; q++) {
      const yo = conf.colIdx[q]! * f;
      const c = conf.values[q]!;
      let yx = 0;
      for (let a = 0; a < f; a++) yx += y[yo + a]! * x[xo + a]!;
      const w = c - (c - 1) * yx;
      for (let a = 0; a < f; a++) r[a]! += w * y[yo + a]!;
    }
    p.set(r);
    let rsOld = 0;
    for (let a = 0; a < f; a++) rsOld += r[a]! * r[a]!;
    for (let step = 0; step < steps && rsOld > 1e-20; step++) {
      for (let a = 0; a < f; a++) {
        let s = 0;
        for (let b = 0; b < f; b++) s += yty[a * f + b]! * p[b]!;
        ap[a] = s;
      }
      for (let q = conf.rowPtr[u]!; q < conf.rowPtr[u + 1]!; q++) {
        const yo = conf.colIdx[q]! * f;
        let yp = 0;
        for (let a = 0; a < f; a++) yp += y[yo + a]! * p[a]!;
        const w = (conf.values[q]! - 1) * yp;
        for (let a = 0; a < f; a++) ap[a]! += w * y[yo + a]!;
      }
      let pAp = 0;
      for (let a = 0; a < f; a++) pAp += p[a]! * ap[a]!;
      const alpha = rsOld / pAp;
      let rsNew = 0;
      for (let a = 0; a < f; a++) {
        x[xo + a]! += alpha * p[a]!;
        r[a]! -= alpha * ap[a]!;
        rsNew += r[a]! * r[a]!;
      }
      for (let a = 0; a < f; a++) p[a] = r[a]! + (rsNew / rsOld) * p[a]!;
      rsOld = rsNew;
    }
  }
}

/** An ALS model: a scorer, and its factors (row-major, `factors` columns) of `items` and of `users`. */
export interface AlsModel extends Scorer {
  readonly factors: number;
  readonly itemFactors: Float64Array;
  readonly users: readonly string[];
  readonly userFactors: Float64Array;
}

export function trainAls(train: readonly Interaction[], options: AlsOptions = {}): AlsModel {
  const f = options.factors ?? 32;
  const reg = options.regularization ?? 1;
  const alpha = options.alpha ?? 1;
  const binary = options.binary ?? false;
  const m = buildInteractionMatrix(train, {
    ...(options.items ? { items: options.items } : {}),
    weight: (r) => (binary ? 1 : r.rating),
  });
  // Confidence of an observed (user, item) cell; preference is 1 there, 0 on every other cell.
  const nu = m.users.length, ni = m.items.length;
  const userConf: Csr = { rowPtr: m.rowPtr, colIdx: m.colIdx, values: m.values.map((v) => 1 + alpha * v) };
  const itemConf = transpose(userConf, nu, ni);
  const rs = createRandomState(options.seed ?? 42);
  const uf = Float64Array.from({ length: nu * f }, () => rs.rand() * 0.01);
  const itf = Float64Array.from({ length: ni * f }, () => rs.rand() * 0.01);
  const steps = options.cgSteps ?? 3;
  for (let it = 0; it < (options.iterations ?? 15); it++) {
    solveHalf(uf, itf, userConf, nu, ni, f, reg, steps);
    solveHalf(itf, uf, itemConf, ni, nu, f, reg, steps);
  }
  return {
    items: m.items,
    factors: f,
    itemFactors: itf,
    users: m.users,
    userFactors: uf,
    score(user) {
      const u = m.userIndex.get(user);
      if (u === undefined) return undefined;
      const out = new Float64Array(ni);
      for (let i = 0; i < ni; i++) {
        let s = 0;
        for (let a = 0; a < f; a++) s += uf[u * f + a]! * itf[i * f + a]!;
        out[i] = s;
      }
      return out;
    },
  };
}
