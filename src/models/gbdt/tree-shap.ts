/**
 * @module Per-prediction feature contributions by path-dependent TreeSHAP (Lundberg, Erion & Lee
 * 2018, Algorithm 2, as in LightGBM's `Tree::TreeSHAP`): exact Shapley values of each tree's
 * output where a feature outside the coalition is integrated out by the training rows that reached
 * each node. For every row the contributions plus the expected value add up to the raw score.
 */
import type { TreeArrays } from './route.ts';

/** The path of distinct features from the root to the current node, one slice per recursion depth. */
interface Path {
  feature: Int32Array;
  zero: Float64Array;
  one: Float64Array;
  weight: Float64Array;
}

export function createPath(maxDepth: number): Path {
  const size = ((maxDepth + 2) * (maxDepth + 3)) / 2;
  return { feature: new Int32Array(size), zero: new Float64Array(size), one: new Float64Array(size), weight: new Float64Array(size) };
}

function extend(p: Path, o: number, depth: number, zero: number, one: number, feature: number): void {
  p.feature[o + depth] = feature;
  p.zero[o + depth] = zero;
  p.one[o + depth] = one;
  p.weight[o + depth] = depth === 0 ? 1 : 0;
  for (let i = depth - 1; i >= 0; i--) {
    p.weight[o + i + 1]! += (one * p.weight[o + i]! * (i + 1)) / (depth + 1);
    p.weight[o + i] = (zero * p.weight[o + i]! * (depth - i)) / (depth + 1);
  }
}

function unwind(p: Path, o: number, depth: number, at: number): void {
  const one = p.one[o + at]!;
  const zero = p.zero[o + at]!;
  let next = p.weight[o + depth]!;
  for (let i = depth - 1; i >= 0; i--) {
    if (one !== 0) {
      const tmp = p.weight[o + i]!;
      p.weight[o + i] = (next * (depth + 1)) / ((i + 1) * one);
      next = tmp - (p.weight[o + i]! * zero * (depth - i)) / (depth + 1);
    } else {
      p.weight[o + i] = (p.weight[o + i]! * (depth + 1)) / (zero * (depth - i));
    }
  }
  for (let i = at; i < depth; i++) {
    p.feature[o + i] = p.feature[o + i + 1]!;
    p.zero[o + i] = p.zero[o + i + 1]!;
    p.one[o + i] = p.one[o + i + 1]!;
  }
}

function unwoundSum(p: Path, o: number, depth: number, at: number): number {
  const one = p.one[o + at]!;
  const zero = p.zero[o + at]!;
  let next = p.weight[o + depth]!;
  let total = 0;
  for (let i = depth - 1; i >= 0; i--) {
    if (one !== 0) {
      const tmp = (next * (depth + 1)) / ((i + 1) * one);
      total += tmp;
      next = p.weight[o + i]! - (tmp * zero * (depth - i)) / (depth + 1);
    } else {
      total += p.weight[o + i]! / zero / ((depth - i) / (depth + 1));
    }
  }
  return total;
}

/** Node or leaf count: how many training rows reached it. */
function cover(t: TreeArrays, child: number): number {
  return child >= 0 ? t.count[child]! : t.leafCount[~child]!;
}

/**
 * Adds one tree's SHAP values for a row to phi[0..d). `value(f)` reads the row's feature f.
 * `o` is where this depth's path slice starts in the shared buffer.
 */
export function treeShap(
  t: TreeArrays, node: number, value: (f: number) => number, phi: Float64Array, p: Path,
  parentOffset: number, depth: number, zero: number, one: number, feature: number,
): void {
  // Copy the parent's path into this depth's slice, then extend it with the parent's split.
  const o = parentOffset + depth;
  if (depth > 0) {
    p.feature.copyWithin(o, parentOffset, parentOffset + depth);
    p.zero.copyWithin(o, parentOffset, parentOffset + depth);
    p.one.copyWithin(o, parentOffset, parentOffset + depth);
    p.weight.copyWithin(o, parentOffset, parentOffset + depth);
  }
  extend(p, o, depth, zero, one, feature);
  if (node < 0) {
    const leafValue = t.leafValue[~node]!;
    for (let i = 1; i <= depth; i++) {
      const w = unwoundSum(p, o, depth, i);
      phi[p.feature[o + i]!]! += w * (p.one[o + i]! - p.zero[o + i]!) * leafValue;
    }
    return;
  }
  const f = t.feature[node]!;
  const v = value(f);
  const goLeft = v <= t.threshold[node]! || (v !== v && t.defaultLeft[node] === 1);
  const hot = goLeft ? t.left[node]! : t.right[node]!;
  const cold = goLeft ? t.right[node]! : t.left[node]!;
  const w = t.count[node]!;
  let inZero = 1;
  let inOne = 1;
  let d = depth;
  // A feature already on the path is unwound, so each feature appears once.
  let at = 0;
  while (at <= d && p.feature[o + at] !== f) at++;
  if (at <= d) {
    inZero = p.zero[o + at]!;
    inOne = p.one[o + at]!;
    unwind(p, o, d, at);
    d--;
  }
  treeShap(t, hot, value, phi, p, o, d + 1, (cover(t, hot) / w) * inZero, inOne, f);
  treeShap(t, cold, value, phi, p, o, d + 1, (cover(t, cold) / w) * inZero, 0, f);
}

/** The tree's output averaged over the training rows (by leaf counts). */
export function expectedValue(t: TreeArrays, root: number): number {
  let sum = 0;
  let n = 0;
  const stack = [root];
  while (stack.length > 0) {
    const c = stack.pop()!;
    if (c < 0) {
      sum += t.leafValue[~c]! * t.leafCount[~c]!;
      n += t.leafCount[~c]!;
    } else stack.push(t.left[c]!, t.right[c]!);
  }
  return n > 0 ? sum / n : 0;
}

/** Depth of the deepest leaf (0 for a one-leaf tree). */
export function treeDepth(t: TreeArrays, root: number): number {
  return root < 0 ? 0 : 1 + Math.max(treeDepth(t, t.left[root]!), treeDepth(t, t.right[root]!));
}
