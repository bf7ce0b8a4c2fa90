/** @module GBDT defaults (LightGBM's, except where noted) and validation that reports every bad option at once. */
import { throwIfProblems, type Problem } from '../../core/errors.ts';
import { OBJECTIVES, type GbdtOptions, type MetricName, type ObjectiveName } from './types.ts';

export type ResolvedOptions = Required<Omit<GbdtOptions, 'valid' | 'featureNames' | 'labelGain' | 'onIteration'>> &
  Pick<GbdtOptions, 'valid' | 'onIteration'> & { readonly labelGain: readonly number[] };

/** LightGBM's defaults, except `learningRate` 0.05 (LightGBM: 0.1) and `baggingFreq` (see its doc). */
export const GBDT_DEFAULTS = Object.freeze({
  numIterations: 100,
  learningRate: 0.05,
  numLeaves: 31,
  maxDepth: -1,
  minDataInLeaf: 20,
  minSumHessianInLeaf: 1e-3,
  lambdaL1: 0,
  lambdaL2: 0,
  minGainToSplit: 0,
  featureFraction: 1,
  baggingFraction: 1,
  baggingFreq: 1,
  seed: 0,
  maxBin: 255,
  binConstructSampleCount: 200_000,
  earlyStoppingRounds: 0,
  evalAt: 10,
  lambdarankTruncationLevel: 30,
  lambdarankNorm: true,
});

const DEFAULT_METRIC: Record<ObjectiveName, MetricName> = { regression: 'rmse', binary: 'logloss', lambdarank: 'ndcg', rank_xendcg: 'ndcg' };

/** 2^rel - 1 for rel = 0..30, LightGBM's default label gain. */
export function defaultLabelGain(): number[] {
  return Array.from({ length: 31 }, (_, i) => 2 ** i - 1);
}

type Check = readonly [keyof GbdtOptions, (v: number) => boolean, string];

const CHECKS: readonly Check[] = [
  ['numIterations', (v) => Number.isInteger(v) && v >= 1, 'an integer >= 1'],
  ['learningRate', (v) => v > 0, 'a number > 0'],
  ['numLeaves', (v) => Number.isInteger(v) && v >= 2 && v <= 131072, 'an integer in [2, 131072]'],
  ['maxDepth', (v) => Number.isInteger(v) && (v === -1 || v >= 1), 'an integer >= 1, or -1 for no limit'],
  ['minDataInLeaf', (v) => Number.isInteger(v) && v >= 1, 'an integer >= 1'],
  ['minSumHessianInLeaf', (v) => v >= 0, 'a number >= 0'],
  ['lambdaL1', (v) => v >= 0, 'a number >= 0'],
  ['lambdaL2', (v) => v >= 0, 'a number >= 0'],
  ['minGainToSplit', (v) => v >= 0, 'a number >= 0'],
  ['featureFraction', (v) => v > 0 && v <= 1, 'a number in (0, 1]'],
  ['baggingFraction', (v) => v > 0 && v <= 1, 'a number in (0, 1]'],
  ['baggingFreq', (v) => Number.isInteger(v) && v >= 1, 'an integer >= 1'],
  ['seed', (v) => Number.isInteger(v), 'an integer'],
  ['baggingSeed', (v) => Number.isInteger(v), 'an integer'],
  ['featureFractionSeed', (v) => Number.isInteger(v), 'an integer'],
  ['maxBin', (v) => Number.isInteger(v) && v >= 3 && v <= 255, 'an integer in [3, 255]'],
  ['binConstructSampleCount', (v) => Number.isInteger(v) && v >= 1, 'an integer >= 1'],
  ['earlyStoppingRounds', (v) => Number.isInteger(v) && v >= 0, 'an integer >= 0 (0 = off)'],
  ['evalAt', (v) => Number.isInteger(v) && v >= 1, 'an integer >= 1'],
  ['lambdarankTruncationLevel', (v) => Number.isInteger(v) && v >= 1, 'an integer >= 1'],
];

/** Fills defaults and throws one INVALID_ARGUMENT error listing every bad option. */
export function resolveOptions(o: GbdtOptions): ResolvedOptions {
  const problems: Problem[] = [];
  if (!(OBJECTIVES as readonly string[]).includes(o.objective)) {
    problems.push({ path: 'objective', message: `unknown objective ${JSON.stringify(o.objective)}`, fix: `use one of ${OBJECTIVES.map((x) => `'${x}'`).join(', ')}` });
  }
  for (const [key, ok, want] of CHECKS) {
    const v = o[key];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) {
      problems.push({ path: key, message: `got ${String(v)}`, fix: `pass ${want}` });
    }
  }
  const metric = o.metric ?? DEFAULT_METRIC[o.objective] ?? 'rmse';
  if (!['rmse', 'logloss', 'auc', 'ndcg'].includes(metric)) {
    problems.push({ path: 'metric', message: `unknown metric ${JSON.stringify(metric)}`, fix: "use 'rmse', 'logloss', 'auc' or 'ndcg'" });
  }
  if (o.earlyStoppingRounds !== undefined && o.earlyStoppingRounds > 0 && o.valid === undefined) {
    problems.push({ path: 'earlyStoppingRounds', message: 'early stopping needs a validation set', fix: 'pass `valid`, or set earlyStoppingRounds to 0' });
  }
  const labelGain = o.labelGain ?? defaultLabelGain();
  if (labelGain.some((g) => !Number.isFinite(g) || g < 0)) {
    problems.push({ path: 'labelGain', message: 'gains must be finite and >= 0', fix: 'pass one gain >= 0 per integer label' });
  }
  throwIfProblems('INVALID_ARGUMENT', 'trainGbdt options', problems);
  const seed = o.seed ?? GBDT_DEFAULTS.seed;
  return {
    ...GBDT_DEFAULTS,
    ...definedOnly(o),
    metric,
    labelGain,
    seed,
    baggingSeed: o.baggingSeed ?? seed * 31 + 3,
    featureFractionSeed: o.featureFractionSeed ?? seed * 31 + 2,
    valid: o.valid,
    onIteration: o.onIteration,
  } as ResolvedOptions;
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
