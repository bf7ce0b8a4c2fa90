/** @module Training data as the tree learner reads it: validated inputs, query offsets, and row-major bins. */
import type { Problem } from '../../core/errors.ts';
import { findBinUpperBounds, valueToBin } from './binning.ts';
import { createRng } from './rng.ts';
import { isRankingObjective, type FeatureMatrix, type LabelledData, type ObjectiveName, type QueryGroups } from './types.ts';

export interface BinnedDataset {
  readonly rows: number;
  readonly cols: number;
  /**
   * bins[row * stride + feature]: a row's bins share a cache line, which histogram building reads
   * row by row, four bins per 32-bit load; `stride` is `cols` rounded up to a multiple of 4.
   */
  readonly bins: Uint8Array;
  readonly stride: number;
  /** The same bins column-major, binsByColumn[feature * rows + row]: partitions read one feature of many rows. */
  readonly binsByColumn: Uint8Array;
  /** Per feature, the upper bounds of its value bins; its missing bin is `upper.length`. */
  readonly upper: readonly Float64Array[];
  readonly labels: Float64Array;
  /** Query q is rows [queryOffsets[q], queryOffsets[q + 1]); null without groups. */
  readonly queryOffsets: Int32Array | null;
}

/** Strides that read value (r, f) as `data[r * rowStride + f * colStride]` in either layout. */
export function strides(m: FeatureMatrix): { rowStride: number; colStride: number } {
  return m.layout === 'column-major' ? { rowStride: 1, colStride: m.rows } : { rowStride: m.cols, colStride: 1 };
}

/** Every problem with one labelled data set, each with its path under `where`. */
export function dataProblems(where: string, d: LabelledData, objective: ObjectiveName, needsGroups: boolean, cols?: number): Problem[] {
  const problems: Problem[] = [];
  const m = d.features;
  if (!Number.isInteger(m.rows) || !Number.isInteger(m.cols) || m.rows < 1 || m.cols < 1) {
    problems.push({ path: `${where}.features`, message: `bad shape ${m.rows} x ${m.cols}`, fix: 'pass rows >= 1 and cols >= 1' });
    return problems;
  }
  if (m.data.length !== m.rows * m.cols) {
    problems.push({ path: `${where}.features.data`, message: `length ${m.data.length} != rows * cols = ${m.rows * m.cols}`, fix: 'pass exactly rows * cols values' });
  }
  if (cols !== undefined && m.cols !== cols) {
    problems.push({ path: `${where}.features.cols`, message: `${m.cols} features, training has ${cols}`, fix: 'use the same feature columns as training' });
  }
  if (d.labels.length !== m.rows) {
    problems.push({ path: `${where}.labels`, message: `${d.labels.length} labels for ${m.rows} rows`, fix: 'pass one label per row' });
  }
  for (let i = 0; i < d.labels.length; i++) {
    const y = d.labels[i]!;
    const bad = !Number.isFinite(y) ||
      (objective === 'binary' && y !== 0 && y !== 1) ||
      (isRankingObjective(objective) && (!Number.isInteger(y) || y < 0 || y > 30));
    if (bad) {
      const want = objective === 'binary' ? '0 or 1' : isRankingObjective(objective) ? 'an integer relevance in [0, 30]' : 'a finite number';
      problems.push({ path: `${where}.labels[${i}]`, message: `got ${y}`, fix: `each label must be ${want}` });
      break;
    }
  }
  if (needsGroups && d.groups === undefined) {
    problems.push({ path: `${where}.groups`, message: 'missing', fix: 'pass query groups (sizes or queryIds) for ranking' });
  } else if (d.groups !== undefined) {
    try {
      queryOffsets(d.groups, m.rows);
    } catch (e) {
      problems.push({ path: `${where}.groups`, message: (e as Error).message, fix: 'group sizes must be >= 1 and add up to the row count; query ids one per row' });
    }
  }
  return problems;
}

/** Offsets of contiguous query groups: q spans rows [offsets[q], offsets[q + 1]). */
export function queryOffsets(groups: QueryGroups, rows: number): Int32Array {
  const out: number[] = [0];
  if ('sizes' in groups) {
    let at = 0;
    for (let i = 0; i < groups.sizes.length; i++) {
      const s = groups.sizes[i]!;
      if (!Number.isInteger(s) || s < 1) throw new Error(`group ${i} has size ${s}`);
      at += s;
      out.push(at);
    }
    if (at !== rows) throw new Error(`group sizes add up to ${at}, not ${rows} rows`);
  } else {
    const ids = groups.queryIds;
    if (ids.length !== rows) throw new Error(`${ids.length} query ids for ${rows} rows`);
    const seen = new Set<number | string>();
    for (let i = 1; i <= rows; i++) {
      if (i === rows || ids[i] !== ids[i - 1]) {
        if (seen.has(ids[i - 1]!)) throw new Error(`query id ${String(ids[i - 1])} is not contiguous`);
        seen.add(ids[i - 1]!);
        out.push(i);
      }
    }
  }
  return Int32Array.from(out);
}

/** Validated training data binned into at most `maxBin` bins per feature (one kept for missing). */
export function binDataset(d: LabelledData, maxBin: number, sampleCount: number, seed: number): BinnedDataset {
  const m = d.features;
  const { rows, cols } = m;
  const { rowStride, colStride } = strides(m);
  const sample = sampleRows(rows, sampleCount, seed);
  // Read the sample row by row (sequential in a row-major matrix) into one column per feature.
  const columns = Array.from({ length: cols }, () => new Float64Array(sample.length));
  const kept = new Int32Array(cols);
  for (let i = 0; i < sample.length; i++) {
    const base = sample[i]! * rowStride;
    for (let f = 0; f < cols; f++) {
      const v = m.data[base + f * colStride]!;
      if (v === v) columns[f]![kept[f]!++] = v;
    }
  }
  const upper = columns.map((c, f) => findBinUpperBounds(c.subarray(0, kept[f]!).sort(), maxBin - 1));
  columns.length = 0;
  const stride = (cols + 3) & ~3;
  const bins = new Uint8Array(rows * stride);
  const binsByColumn = new Uint8Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const base = r * rowStride;
    for (let f = 0; f < cols; f++) {
      const v = m.data[base + f * colStride]!;
      const u = upper[f]!;
      const b = v === v ? valueToBin(u, v) : u.length;
      bins[r * stride + f] = b;
      binsByColumn[f * rows + r] = b;
    }
  }
  const labels = Float64Array.from(d.labels);
  return { rows, cols, bins, stride, binsByColumn, upper, labels, queryOffsets: d.groups === undefined ? null : queryOffsets(d.groups, rows) };
}

/** All rows, or a seeded sample of `count` of them in ascending order. */
function sampleRows(rows: number, count: number, seed: number): Int32Array {
  const all = new Int32Array(rows);
  for (let i = 0; i < rows; i++) all[i] = i;
  if (rows <= count) return all;
  const rng = createRng(seed);
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(rng() * (rows - i));
    const t = all[i]!;
    all[i] = all[j]!;
    all[j] = t;
  }
  return all.subarray(0, count).sort();
}
