/** @module Seeded synthetic data sets with known structure, for the GBDT's tests and benchmark. */
import { createRng } from './rng.ts';
import type { FeatureMatrix, LabelledData } from './types.ts';

function uniformMatrix(rows: number, cols: number, seed: number): FeatureMatrix & { data: Float64Array } {
  const rng = createRng(seed);
  const data = new Float64Array(rows * cols);
  for (let i = 0; i < data.length; i++) data[i] = rng() * 2 - 1;
  return { data, rows, cols };
}

function gaussian(rng: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
}

/** y = sin(3 x0) + x1^2 - x0 x2 + N(0, noise^2); features 3.. are noise. */
export function regressionData(rows: number, cols: number, seed: number, noise = 0.1): LabelledData & { truth: Float64Array } {
  const x = uniformMatrix(rows, cols, seed);
  const rng = createRng(seed + 1);
  const truth = new Float64Array(rows);
  const labels = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const a = x.data[r * cols]!;
    const b = x.data[r * cols + 1]!;
    const c = x.data[r * cols + 2]!;
    truth[r] = Math.sin(3 * a) + b * b - a * c;
    labels[r] = truth[r]! + noise * gaussian(rng);
  }
  return { features: x, labels, truth };
}

/** Label 1 inside the ring 0.25 < x0^2 + x1^2 < 0.75, flipped with probability `flip`. */
export function binaryData(rows: number, cols: number, seed: number, flip = 0.05): LabelledData {
  const x = uniformMatrix(rows, cols, seed);
  const rng = createRng(seed + 1);
  const labels = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const q = x.data[r * cols]! ** 2 + x.data[r * cols + 1]! ** 2;
    const y = q > 0.25 && q < 0.75 ? 1 : 0;
    labels[r] = rng() < flip ? 1 - y : y;
  }
  return { features: x, labels };
}

/** Relevance of a document: 0..4 from a nonlinear function of features 0 and 1 only. */
export function relevance(x0: number, x1: number): number {
  const u = Math.sin(3 * x0) * Math.cos(2 * x1) + x1 * x1; // in about [-1, 2]
  return u < 0 ? 0 : u < 0.4 ? 1 : u < 0.8 ? 2 : u < 1.2 ? 3 : 4;
}

/** `queries` queries of `docs` documents each, `cols` uniform features; relevance from `relevance`. */
export function rankingData(queries: number, docs: number, cols: number, seed: number): LabelledData & { groups: { sizes: Int32Array } } {
  const rows = queries * docs;
  const x = uniformMatrix(rows, cols, seed);
  const labels = new Float64Array(rows);
  for (let r = 0; r < rows; r++) labels[r] = relevance(x.data[r * cols]!, x.data[r * cols + 1]!);
  return { features: x, labels, groups: { sizes: new Int32Array(queries).fill(docs) } };
}
