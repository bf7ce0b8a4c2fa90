/**
 * @module Gradient histograms and the best split they allow. A histogram holds (sum of gradients,
 * sum of hessians) for each of 256 bin slots of every feature, interleaved in one Float64Array;
 * a child's histogram is its parent's minus its sibling's, so only the smaller child is ever built.
 *
 * Row counts are not accumulated (that costs about half again the build time); like LightGBM, a
 * split's side count is estimated from its hessian sum times the leaf's rows-per-hessian. It is
 * exact when all hessians are equal (regression) and only feeds the `minDataInLeaf` check: the
 * counts stored in the tree come from the actual partition.
 */
import type { BinnedDataset } from './dataset.ts';

/** Bin slots per feature in a histogram: bins are bytes, so 256 covers any feature. */
const SLOTS = 256;

export function histogramSize(stride: number): number {
  return stride * SLOTS * 2;
}

export interface SplitParams {
  readonly minDataInLeaf: number;
  readonly minSumHessianInLeaf: number;
  readonly lambdaL1: number;
  readonly lambdaL2: number;
  readonly minGainToSplit: number;
}

export interface Split {
  gain: number;
  feature: number;
  /** Value bins <= this go left. */
  thresholdBin: number;
  defaultLeft: boolean;
  leftG: number;
  leftH: number;
}

export function noSplit(): Split {
  return { gain: -Infinity, feature: -1, thresholdBin: 0, defaultLeft: false, leftG: 0, leftH: 0 };
}

const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/**
 * Adds rows idx[start..end) of the chosen features into `hist` (zeroed first), row by row. When at
 * least half the features are chosen it reads a row's bins four at a time as 32-bit words and adds
 * every feature: the slots of padding columns and of features not chosen are never read, and
 * word loads are ~1.5x faster than byte loads here, more than the extra adds cost.
 */
export function buildHistogram(
  hist: Float64Array, data: BinnedDataset, features: Int32Array,
  idx: Uint32Array, start: number, end: number, grad: Float64Array, hess: Float64Array,
): void {
  hist.fill(0);
  const { bins, cols, stride } = data;
  const nf = features.length;
  if (2 * nf >= cols && LITTLE_ENDIAN) {
    const words = new Uint32Array(bins.buffer, bins.byteOffset, bins.length >>> 2);
    const wordsPerRow = stride >>> 2;
    for (let i = start; i < end; i++) {
      const r = idx[i]!;
      const g = grad[r]!;
      const h = hess[r]!;
      const w0 = r * wordsPerRow;
      for (let k = 0; k < wordsPerRow; k++) {
        const w = words[w0 + k]!;
        const o = k << 11; // 4 features x 256 slots x 2 values
        const j0 = o + ((w & 255) << 1);
        const j1 = o + 512 + (((w >>> 8) & 255) << 1);
        const j2 = o + 1024 + (((w >>> 16) & 255) << 1);
        const j3 = o + 1536 + ((w >>> 24) << 1);
        hist[j0]! += g;
        hist[j0 + 1]! += h;
        hist[j1]! += g;
        hist[j1 + 1]! += h;
        hist[j2]! += g;
        hist[j2 + 1]! += h;
        hist[j3]! += g;
        hist[j3 + 1]! += h;
      }
    }
    return;
  }
  for (let i = start; i < end; i++) {
    const r = idx[i]!;
    const g = grad[r]!;
    const h = hess[r]!;
    const base = r * stride;
    for (let k = 0; k < nf; k++) {
      const f = features[k]!;
      const j = ((f << 8) + bins[base + f]!) << 1;
      hist[j]! += g;
      hist[j + 1]! += h;
    }
  }
}

/** parent -= child, leaving the sibling's histogram in `parent`. */
export function subtractHistogram(parent: Float64Array, child: Float64Array): void {
  for (let i = 0; i < parent.length; i++) parent[i]! -= child[i]!;
}

function thresholdL1(g: number, l1: number): number {
  if (l1 === 0) return g;
  const a = Math.abs(g) - l1;
  return a > 0 ? Math.sign(g) * a : 0;
}

/** The (unshrunk) output of a leaf with these sums. */
export function leafOutput(g: number, h: number, p: SplitParams): number {
  const d = h + p.lambdaL2;
  // No curvature (lambdarank over groups with nothing to order, λ2 = 0): no step, rather than 0/0 = NaN.
  return d > 0 ? -thresholdL1(g, p.lambdaL1) / d : 0;
}

function leafGain(g: number, h: number, l1: number, l2: number): number {
  const t = thresholdL1(g, l1);
  return (t * t) / (h + l2);
}

/**
 * The best split of a leaf with sums (G, H) and `count` rows over the chosen features, written
 * into `best`. Each threshold is tried with missing values sent right, then (when the leaf has
 * any) left; with none, unseen missing values later follow the heavier side.
 */
export function findBestSplit(
  best: Split, hist: Float64Array, data: BinnedDataset, features: Int32Array,
  sumG: number, sumH: number, count: number, p: SplitParams,
): void {
  Object.assign(best, noSplit());
  const { minDataInLeaf: minC, minSumHessianInLeaf: minH, lambdaL1: l1, lambdaL2: l2 } = p;
  const parentGain = leafGain(sumG, sumH, l1, l2);
  const perHessian = sumH > 0 ? count / sumH : 0;
  for (let k = 0; k < features.length; k++) {
    const f = features[k]!;
    const nv = data.upper[f]!.length;
    const o = (f << 8) << 1;
    const mj = o + (nv << 1);
    const missH = hist[mj + 1]!;
    const hasMissing = missH > 0 || hist[mj] !== 0;
    for (let dir = 0; dir < (hasMissing ? 2 : 1); dir++) {
      // dir 0: missing goes right; dir 1: missing goes left.
      let lg = dir === 1 ? hist[mj]! : 0;
      let lh = dir === 1 ? missH : 0;
      // With missing sent right, the last value bin gives the split "missing or not".
      const lastT = dir === 0 && hasMissing ? nv - 1 : nv - 2;
      for (let t = 0; t <= lastT; t++) {
        const j = o + (t << 1);
        lg += hist[j]!;
        lh += hist[j + 1]!;
        const lc = Math.round(lh * perHessian);
        if (lc < minC || lh < minH) continue;
        const rh = sumH - lh;
        if (count - lc < minC || rh < minH) break;
        const gain = leafGain(lg, lh, l1, l2) + leafGain(sumG - lg, rh, l1, l2) - parentGain;
        if (gain > best.gain) {
          best.gain = gain;
          best.feature = f;
          best.thresholdBin = t;
          best.defaultLeft = dir === 1 || (!hasMissing && lh >= rh);
          best.leftG = lg;
          best.leftH = lh;
        }
      }
    }
  }
  if (!(best.gain > p.minGainToSplit)) best.gain = -Infinity;
}
