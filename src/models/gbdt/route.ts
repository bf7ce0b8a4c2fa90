/** @module Sending a row of raw values down a tree: `value <= threshold` goes left, NaN takes the learned default side. */

/** Flattened tree arrays; a child >= 0 is a node, a child < 0 is `~leaf`. */
export interface TreeArrays {
  readonly feature: Int32Array;
  readonly threshold: Float64Array;
  readonly defaultLeft: Uint8Array;
  readonly left: Int32Array;
  readonly right: Int32Array;
  readonly count: Float64Array;
  readonly leafValue: Float64Array;
  readonly leafCount: Float64Array;
}

/** The leaf reached by the row whose feature f is `data[base + f * colStride]`. */
export function routeRow(t: TreeArrays, root: number, data: ArrayLike<number>, base: number, colStride: number): number {
  let node = root;
  while (node >= 0) {
    const v = data[base + t.feature[node]! * colStride]!;
    node = v <= t.threshold[node]! || (v !== v && t.defaultLeft[node] === 1) ? t.left[node]! : t.right[node]!;
  }
  return ~node;
}
