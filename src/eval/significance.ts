/**
 * @module Uncertainty over users: seeded percentile bootstrap CIs of a mean, and paired tests
 * between two models' per-user metric vectors (same users, same order).
 */
import { RecsignalError } from '../core/errors.ts';
import { mean } from './metrics.ts';
import { createRandomState } from './mt19937.ts';

export interface ResamplingOptions {
  /** Number of resamples; default 1000. */
  readonly resamples?: number;
  /** Seed of the MT19937 stream drawing the resamples; default 42. */
  readonly seed?: number;
  /** Two-sided confidence level; default 0.95. */
  readonly level?: number;
}

export interface ConfidenceInterval {
  readonly mean: number;
  readonly lower: number;
  readonly upper: number;
}

/** numpy's default (linear) percentile of sorted values, q in [0, 1]. */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (pos - lo) * (sorted[hi]! - sorted[lo]!);
}

function resampledMeans(values: ArrayLike<number>, options: ResamplingOptions): Float64Array {
  const n = values.length;
  const reps = options.resamples ?? 1000;
  const rs = createRandomState(options.seed ?? 42);
  const means = new Float64Array(reps);
  for (let b = 0; b < reps; b++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += values[rs.randInt(n)]!;
    means[b] = s / n;
  }
  return means.sort();
}

function interval(sortedMeans: Float64Array, level: number): { lower: number; upper: number } {
  const alpha = (1 - level) / 2;
  return { lower: quantileSorted(sortedMeans, alpha), upper: quantileSorted(sortedMeans, 1 - alpha) };
}

/** Percentile bootstrap CI of the mean over users (resampling users with replacement). */
export function bootstrapCi(values: ArrayLike<number>, options: ResamplingOptions = {}): ConfidenceInterval {
  if (values.length === 0) throw new RecsignalError('INVALID_INPUT', 'bootstrapCi needs at least one per-user value; evaluate some users first');
  const means = resampledMeans(values, options);
  return { mean: mean(values), ...interval(means, options.level ?? 0.95) };
}

export interface PermutationTestResult {
  /** mean(a − b) over users. */
  readonly meanDiff: number;
  /** Two-sided p-value of "no difference". */
  readonly pValue: number;
}

export interface PairedBootstrapResult extends PermutationTestResult {
  /** Percentile bootstrap CI of mean(a − b). */
  readonly lower: number;
  readonly upper: number;
}

function differences(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  if (a.length !== b.length || a.length === 0) {
    throw new RecsignalError('INVALID_INPUT', `paired tests need two non-empty per-user vectors of equal length (got ${a.length} and ${b.length}); evaluate both models on the same truth`);
  }
  return Float64Array.from({ length: a.length }, (_, i) => a[i]! - b[i]!);
}

/**
 * Paired bootstrap over users: resample users, take mean(a − b); the interval is the percentile
 * interval of those means. The p-value is a studentized bootstrap test under the null (Efron &
 * Tibshirani 1993, §16.4): the differences are shifted to mean 0, resampled, and p = (1 + #{|t*| ≥
 * |t|}) / (1 + R) for t = mean / (sd / √n). The plain sign-flip count of the percentile resamples,
 * used before, rejected 16% of identical models at 6 users and 9% at 10 (nominal 5%): the spread
 * of a few users' resampled means is too narrow. Studentized, 1.6% and 3.4% (never above nominal);
 * both near 5% from 50 users on.
 */
export function pairedBootstrapTest(a: ArrayLike<number>, b: ArrayLike<number>, options: ResamplingOptions = {}): PairedBootstrapResult {
  const d = differences(a, b);
  const means = resampledMeans(d, options);
  return { meanDiff: mean(d), ...interval(means, options.level ?? 0.95), pValue: studentizedNullP(d, options) };
}

function studentizedNullP(d: Float64Array, options: ResamplingOptions): number {
  const n = d.length;
  if (n < 2) return 1; // one user: no spread to judge a difference by
  const reps = options.resamples ?? 1000;
  const rs = createRandomState(options.seed ?? 42);
  const m = mean(d);
  const observed = tStatistic(d, n, m);
  if (observed === 0) return 1;
  let extreme = 0;
  const x = new Float64Array(n);
  for (let r = 0; r < reps; r++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += x[i] = d[rs.randInt(n)]! - m;
    if (tStatistic(x, n, s / n) >= observed * (1 - 1e-12)) extreme++;
  }
  // Never below 2^(1−n), the least p of the exact sign-flip test over n users: when every user gains
  // the same, t is infinite and no resample reaches it, which alone gave p = 1/(R+1) for 2 users.
  return Math.max((1 + extreme) / (1 + reps), 2 ** (1 - n));
}

/** |mean| / (sd / √n), n ≥ 2; Infinity when the values are all equal but not 0 (every user gains the same). */
function tStatistic(x: ArrayLike<number>, n: number, m: number): number {
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (x[i]! - m) ** 2;
  const sd = Math.sqrt(ss / (n - 1));
  const am = Math.abs(m) < 1e-15 ? 0 : Math.abs(m);
  if (sd === 0) return am === 0 ? 0 : Infinity;
  return am / (sd / Math.sqrt(n));
}

/**
 * Paired permutation (sign-flip) test: under "no difference" each user's a and b are exchangeable,
 * so each difference keeps or flips its sign at random. p = (1 + #{|mean*| ≥ |observed|}) / (1 + R).
 */
export function pairedPermutationTest(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  options: Omit<ResamplingOptions, 'level'> = {},
): PermutationTestResult {
  const d = differences(a, b);
  const n = d.length;
  const reps = options.resamples ?? 1000;
  const rs = createRandomState(options.seed ?? 42);
  const observed = mean(d);
  const tol = 1e-12 * Math.max(1, Math.abs(observed));
  let extreme = 0;
  for (let r = 0; r < reps; r++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += rs.rand() < 0.5 ? d[i]! : -d[i]!;
    if (Math.abs(s / n) >= Math.abs(observed) - tol) extreme++;
  }
  return { meanDiff: observed, pValue: (1 + extreme) / (1 + reps) };
}
