/**
 * @module Leaf-wise (best-first) growth of one regression tree on binned data, as LightGBM grows
 * them: the leaf whose best split gains most is split next, until `numLeaves` or no split gains.
 * Rows of each leaf are a contiguous range of one index array, partitioned in place on a split.
 */
import type { BinnedDataset } from './dataset.ts';
import { buildHistogram, findBestSplit, histogramSize, leafOutput, noSplit, subtractHistogram, type Split, type SplitParams } from './histogram.ts';

export interface TreeParams extends SplitParams {
  readonly numLeaves: number;
  readonly maxDepth: number;
  readonly learningRate: number;
}

/** One grown tree. Internal node k < numLeaves - 1; a child < 0 is `~leaf`. Leaf values include shrinkage. */
export interface LearnedTree {
  readonly numLeaves: number;
  readonly feature: Int32Array;
  readonly thresholdBin: Int32Array;
  readonly threshold: Float64Array;
  readonly defaultLeft: Uint8Array;
  readonly left: Int32Array;
  readonly right: Int32Array;
  readonly gain: Float64Array;
  readonly count: Float64Array;
  readonly leafValue: Float64Array;
  readonly leafCount: Float64Array;
  /** Rows of leaf l are idx[leafStart[l] .. leafStart[l] + leafCount[l]) of the index array grown on. */
  readonly leafStart: Int32Array;
}

/** Buffers reused across trees: one histogram per possible leaf, and a partition scratch array. */
export interface LearnerWorkspace {
  readonly histograms: Float64Array[];
  readonly scratch: Uint32Array;
}

export function createWorkspace(data: BinnedDataset, numLeaves: number): LearnerWorkspace {
  const size = histogramSize(data.stride);
  return { histograms: Array.from({ length: numLeaves }, () => new Float64Array(size)), scratch: new Uint32Array(data.rows) };
}

/** Grows a tree on rows idx[0..n), reordering idx so each leaf's rows are contiguous. */
export function growTree(
  data: BinnedDataset, grad: Float64Array, hess: Float64Array, idx: Uint32Array, n: number,
  features: Int32Array, p: TreeParams, ws: LearnerWorkspace,
): LearnedTree {
  const L = p.numLeaves;
  const t = {
    numLeaves: 1,
    feature: new Int32Array(L - 1), thresholdBin: new Int32Array(L - 1), threshold: new Float64Array(L - 1),
    defaultLeft: new Uint8Array(L - 1), left: new Int32Array(L - 1), right: new Int32Array(L - 1),
    gain: new Float64Array(L - 1), count: new Float64Array(L - 1),
    leafValue: new Float64Array(L), leafCount: new Float64Array(L), leafStart: new Int32Array(L),
  };
  const leafG = new Float64Array(L);
  const leafH = new Float64Array(L);
  const leafDepth = new Int32Array(L);
  /** The node whose child leaf l is (-1 for the root), and which side. */
  const leafParent = new Int32Array(L).fill(-1);
  const leafIsLeft = new Uint8Array(L);
  const leafHist = new Int32Array(L);
  const best: Split[] = Array.from({ length: L }, noSplit);

  let g0 = 0;
  let h0 = 0;
  for (let i = 0; i < n; i++) {
    g0 += grad[idx[i]!]!;
    h0 += hess[idx[i]!]!;
  }
  leafG[0] = g0;
  leafH[0] = h0;
  t.leafCount[0] = n;
  leafHist[0] = 0;
  const canSplit = (l: number) =>
    t.leafCount[l]! >= 2 * p.minDataInLeaf && (p.maxDepth <= 0 || leafDepth[l]! < p.maxDepth);
  if (canSplit(0)) {
    buildHistogram(ws.histograms[0]!, data, features, idx, 0, n, grad, hess);
    findBestSplit(best[0]!, ws.histograms[0]!, data, features, g0, h0, n, p);
  }

  while (t.numLeaves < L) {
    let l = -1;
    for (let k = 0; k < t.numLeaves; k++) if (best[k]!.gain > (l < 0 ? -Infinity : best[l]!.gain)) l = k;
    if (l < 0 || best[l]!.gain === -Infinity) break;
    const s = best[l]!;
    const r = t.numLeaves++;
    const node = r - 1;
    t.feature[node] = s.feature;
    t.thresholdBin[node] = s.thresholdBin;
    t.threshold[node] = data.upper[s.feature]![s.thresholdBin]!;
    t.defaultLeft[node] = s.defaultLeft ? 1 : 0;
    t.left[node] = ~l;
    t.right[node] = ~r;
    t.gain[node] = s.gain;
    t.count[node] = t.leafCount[l]!;
    if (leafParent[l]! >= 0) {
      if (leafIsLeft[l]) t.left[leafParent[l]!] = node;
      else t.right[leafParent[l]!] = node;
    }
    const start = t.leafStart[l]!;
    const total = t.leafCount[l]!;
    const nLeft = partition(data, idx, ws.scratch, start, start + total, s);
    t.leafStart[r] = start + nLeft;
    t.leafCount[l] = nLeft;
    t.leafCount[r] = total - nLeft;
    leafG[r] = leafG[l]! - s.leftG;
    leafH[r] = leafH[l]! - s.leftH;
    leafG[l] = s.leftG;
    leafH[l] = s.leftH;
    leafDepth[l]!++;
    leafDepth[r] = leafDepth[l]!;
    leafParent[l] = node;
    leafIsLeft[l] = 1;
    leafParent[r] = node;
    leafIsLeft[r] = 0;

    const splitL = canSplit(l);
    const splitR = canSplit(r);
    best[l] = noSplit();
    best[r] = noSplit();
    if (!splitL && !splitR) continue;
    // Build the smaller child; the larger one's histogram is parent minus smaller, in the parent's buffer.
    const parentHist = leafHist[l]!;
    const small = t.leafCount[l]! <= t.leafCount[r]! ? l : r;
    const large = small === l ? r : l;
    const smallHist = r; // buffer r is free: leaf r is new
    buildHistogram(ws.histograms[smallHist]!, data, features, idx, t.leafStart[small]!, t.leafStart[small]! + t.leafCount[small]!, grad, hess);
    subtractHistogram(ws.histograms[parentHist]!, ws.histograms[smallHist]!);
    leafHist[small] = smallHist;
    leafHist[large] = parentHist;
    for (const c of [l, r]) {
      if (c === l ? splitL : splitR) {
        findBestSplit(best[c]!, ws.histograms[leafHist[c]!]!, data, features, leafG[c]!, leafH[c]!, t.leafCount[c]!, p);
      }
    }
  }
  for (let l = 0; l < t.numLeaves; l++) t.leafValue[l] = leafOutput(leafG[l]!, leafH[l]!, p) * p.learningRate;
  return t;
}

/** Stable in-place partition of idx[start..end) by the split; returns how many went left. */
function partition(data: BinnedDataset, idx: Uint32Array, scratch: Uint32Array, start: number, end: number, s: Split): number {
  const f = s.feature;
  const col = data.binsByColumn.subarray(f * data.rows, (f + 1) * data.rows);
  const tb = s.thresholdBin;
  const missing = data.upper[f]!.length;
  const defLeft = s.defaultLeft;
  let w = start;
  let k = 0;
  for (let i = start; i < end; i++) {
    const row = idx[i]!;
    const b = col[row]!;
    if (b === missing ? defLeft : b <= tb) idx[w++] = row;
    else scratch[k++] = row;
  }
  idx.set(scratch.subarray(0, k), w);
  return w - start;
}

/** Adds the tree's output to `scores` for every row, routing on bins (rows outside the bag too). */
export function addTreeByBins(tree: LearnedTree, data: BinnedDataset, scores: Float64Array): void {
  const { binsByColumn: bins, cols, rows } = data;
  if (tree.numLeaves === 1) {
    for (let r = 0; r < rows; r++) scores[r]! += tree.leafValue[0]!;
    return;
  }
  const missing = new Int32Array(cols);
  for (let f = 0; f < cols; f++) missing[f] = data.upper[f]!.length;
  for (let r = 0; r < rows; r++) {
    let node = 0;
    while (node >= 0) {
      const f = tree.feature[node]!;
      const b = bins[f * rows + r]!;
      const goLeft = b === missing[f] ? tree.defaultLeft[node] === 1 : b <= tree.thresholdBin[node]!;
      node = goLeft ? tree.left[node]! : tree.right[node]!;
    }
    scores[r]! += tree.leafValue[~node]!;
  }
}

/** Adds the tree's output to `scores` for rows idx[0..n), using the leaf ranges growTree left in idx. */
export function addTreeByLeafRanges(tree: LearnedTree, idx: Uint32Array, scores: Float64Array): void {
  for (let l = 0; l < tree.numLeaves; l++) {
    const v = tree.leafValue[l]!;
    const s = tree.leafStart[l]!;
    const e = s + tree.leafCount[l]!;
    for (let i = s; i < e; i++) scores[idx[i]!]! += v;
  }
}
