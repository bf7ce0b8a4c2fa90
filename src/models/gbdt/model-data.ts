/** @module A trained ensemble as flat arrays: built tree by tree during training, saved to and read from plain JSON. */
import { RecsignalError } from '../../core/errors.ts';
import type { TreeArrays } from './route.ts';
import type { LearnedTree } from './tree-learner.ts';
import type { GbdtModelJSON, ModelHeader } from './types.ts';

export interface ModelData extends TreeArrays, ModelHeader {
  readonly treeRoots: Int32Array;
  readonly gain: Float64Array;
}

/** Trees as they are appended during training, with node and leaf indices made global. */
export interface EnsembleBuilder {
  readonly roots: number[];
  readonly feature: number[];
  readonly threshold: number[];
  readonly defaultLeft: number[];
  readonly left: number[];
  readonly right: number[];
  readonly gain: number[];
  readonly count: number[];
  readonly leafValue: number[];
  readonly leafCount: number[];
  /** Node and leaf counts after each tree, to cut the ensemble back to its best iteration. */
  readonly ends: { nodes: number; leaves: number }[];
}

export function createEnsembleBuilder(): EnsembleBuilder {
  return { roots: [], feature: [], threshold: [], defaultLeft: [], left: [], right: [], gain: [], count: [], leafValue: [], leafCount: [], ends: [] };
}

export function appendTree(b: EnsembleBuilder, t: LearnedTree): void {
  const nodeOff = b.feature.length;
  const leafOff = b.leafValue.length;
  const child = (c: number) => (c >= 0 ? c + nodeOff : ~(~c + leafOff));
  b.roots.push(t.numLeaves === 1 ? ~leafOff : nodeOff);
  for (let k = 0; k < t.numLeaves - 1; k++) {
    b.feature.push(t.feature[k]!);
    b.threshold.push(t.threshold[k]!);
    b.defaultLeft.push(t.defaultLeft[k]!);
    b.left.push(child(t.left[k]!));
    b.right.push(child(t.right[k]!));
    b.gain.push(t.gain[k]!);
    b.count.push(t.count[k]!);
  }
  for (let l = 0; l < t.numLeaves; l++) {
    b.leafValue.push(t.leafValue[l]!);
    b.leafCount.push(t.leafCount[l]!);
  }
  b.ends.push({ nodes: b.feature.length, leaves: b.leafValue.length });
}

/** The first `trees` trees as model arrays. */
export function finishEnsemble(
  b: EnsembleBuilder, trees: number, head: Omit<ModelData, keyof TreeArrays | 'treeRoots' | 'gain'>,
): ModelData {
  const end = trees === 0 ? { nodes: 0, leaves: 0 } : b.ends[trees - 1]!;
  return {
    ...head,
    treeRoots: Int32Array.from(b.roots.slice(0, trees)),
    feature: Int32Array.from(b.feature.slice(0, end.nodes)),
    threshold: Float64Array.from(b.threshold.slice(0, end.nodes)),
    defaultLeft: Uint8Array.from(b.defaultLeft.slice(0, end.nodes)),
    left: Int32Array.from(b.left.slice(0, end.nodes)),
    right: Int32Array.from(b.right.slice(0, end.nodes)),
    gain: Float64Array.from(b.gain.slice(0, end.nodes)),
    count: Float64Array.from(b.count.slice(0, end.nodes)),
    leafValue: Float64Array.from(b.leafValue.slice(0, end.leaves)),
    leafCount: Float64Array.from(b.leafCount.slice(0, end.leaves)),
  };
}

export function modelToJSON(m: ModelData): GbdtModelJSON {
  return {
    format: 'recsignal-gbdt',
    version: 1,
    objective: m.objective,
    numFeatures: m.numFeatures,
    featureNames: [...m.featureNames],
    baseScore: m.baseScore,
    bestIteration: m.bestIteration,
    metric: m.metric === null ? null : { name: m.metric.name, k: m.metric.k, history: m.metric.history.map((r) => ({ ...r })) },
    treeRoots: Array.from(m.treeRoots),
    nodes: {
      feature: Array.from(m.feature),
      threshold: Array.from(m.threshold, (t) => (t === Infinity ? 'inf' : t)),
      defaultLeft: Array.from(m.defaultLeft),
      left: Array.from(m.left),
      right: Array.from(m.right),
      gain: Array.from(m.gain),
      count: Array.from(m.count),
    },
    leaves: { value: Array.from(m.leafValue), count: Array.from(m.leafCount) },
  };
}

/** Reads a saved model, checking its shape so a bad file fails here rather than mid-prediction. */
export function modelFromJSON(j: GbdtModelJSON): ModelData {
  const bad = (why: string) =>
    new RecsignalError('INVALID_INPUT', `not a recsignal GBDT model: ${why}. Load the object that model.toJSON() produced.`);
  if (j === null || typeof j !== 'object' || j.format !== 'recsignal-gbdt') throw bad('format is not "recsignal-gbdt"');
  if (j.version !== 1) throw bad(`version ${String(j.version)} is not 1`);
  const n = j.nodes.feature.length;
  for (const k of ['threshold', 'defaultLeft', 'left', 'right', 'gain', 'count'] as const) {
    if (j.nodes[k].length !== n) throw bad(`nodes.${k} has ${j.nodes[k].length} entries, nodes.feature ${n}`);
  }
  const leaves = j.leaves.value.length;
  if (j.leaves.count.length !== leaves) throw bad('leaves.value and leaves.count differ in length');
  const inRange = (c: number) => Number.isInteger(c) && (c >= 0 ? c < n : ~c < leaves);
  if (![...j.treeRoots, ...j.nodes.left, ...j.nodes.right].every(inRange)) throw bad('a child or root index is out of range');
  if (!j.nodes.feature.every((f) => Number.isInteger(f) && f >= 0 && f < j.numFeatures)) throw bad('a split feature is out of range');
  return {
    objective: j.objective,
    numFeatures: j.numFeatures,
    featureNames: [...j.featureNames],
    baseScore: j.baseScore,
    bestIteration: j.bestIteration,
    metric: j.metric,
    treeRoots: Int32Array.from(j.treeRoots),
    feature: Int32Array.from(j.nodes.feature),
    threshold: Float64Array.from(j.nodes.threshold, (t) => (t === 'inf' ? Infinity : t)),
    defaultLeft: Uint8Array.from(j.nodes.defaultLeft),
    left: Int32Array.from(j.nodes.left),
    right: Int32Array.from(j.nodes.right),
    gain: Float64Array.from(j.nodes.gain),
    count: Float64Array.from(j.nodes.count),
    leafValue: Float64Array.from(j.leaves.value),
    leafCount: Float64Array.from(j.leaves.count),
  };
}
