/**
 * @module The ranker's settings (`--param ranker.key=value` over RANKER_DEFAULTS) and what every
 * stage shares: the feature set, the metadata, the base models' settings. All of it can be rebuilt
 * from plain data (`RankerInput`), which is what a worker thread of the inner stages gets.
 */
import { RecsignalError } from '../../core/errors.ts';
import type { ModelParams, SplitContext } from '../../eval/models.ts';
import type { Interaction } from '../../eval/types.ts';
import { sourceMetadata } from '../../events/readers/movielens.ts';
import { DEFAULT_FEATURE_SET, loadRankerFeatureSet, vocabularyOf } from './features.ts';
import type { StageOptions } from './stage.ts';

export const RANKER_DEFAULTS = {
  candidates: 50,
  /** Training share of the inner random split: closer to 1 = base models nearer the final ones, fewer labels. */
  innerRatio: 0.85,
  /** Inner random splits (seeds seed+1, seed+2, ...) whose labelled candidates are stacked into one training set; 1 under --protocol time. */
  innerSplits: 4,
  embeddingDims: 8,
  /** The base ALS model's item factors as features too (`als_item_*`). */
  alsItemFactors: false,
  /** The ALS base model (`als_*` features). */
  alsFactors: 16,
  alsRegularization: 1,
  /** A second ALS base model (`als_2_*`), 0 factors = none. */
  als2Factors: 0,
  als2Regularization: 40,
  /** Most trees; how many are kept is chosen by early stopping on the held-out inner users. */
  iterations: 300,
  earlyStopping: 30,
  minTrees: 40,
  validShare: 0.2,
  /** After choosing the tree count on the held-out inner users, train again on every inner user with it. */
  refit: true,
  learningRate: 0.05,
  leaves: 7,
  minDataInLeaf: 200,
  truncation: 30,
  featureFraction: 0.8,
  baggingFraction: 0.8,
  /** 'lambdarank' (LambdaMART), or 'rank_xendcg' (XE-NDCG: a listwise cross entropy, linear per user). */
  objective: 'lambdarank',
  /** Labels: every held-out item 1 (the metric's binary relevance), or graded (2 for a rating of 4–5). */
  gradedLabels: false,
  coldHalfLifeDays: 30,
  coldDemographicWeight: 0.5,
  /**
   * Item views also as of each user's last activity (the item's popularity when that user was
   * watching). 'auto': on for the random splits, whose held-out ratings happen at the users' own
   * times; off under --protocol time, where every request is at the cutoff.
   */
  itemsAtUserTime: 'auto',
  /**
   * A second EASE (λ 500) on a rating-weighted matrix (a rating of 4–5 weighs 1, one of 1–3 weighs
   * 0.5, fixed before it was tried), whose score and rank are features only (`ease_rated_*`): it
   * generates no candidates. On since 2026-12-07: inner validation 0.2713 against 0.2678 (seed 42),
   * and never lower on three more seeds (BENCHMARKS, variants).
   */
  ratingEase: true,
  /** A user-kNN base model with this many neighbours, features only (`userknn_*`); 0 = none. */
  userKnn: 0,
  ablation: true,
  /**
   * A base model's rank column (e.g. 'ease_rank') added to the GBDT's score as w · −log2(1 + rank),
   * w chosen on the held-out inner users from BLEND_WEIGHTS ('' : off).
   */
  blend: '',
  features: '',
} as const;

/** What the ranker trains from, as plain data: the split context without its functions. */
export type RankerInput = Pick<SplitContext, 'protocol' | 'train' | 'items' | 'cutoffTs' | 'seed' | 'params' | 'source'>;

export function num(p: ModelParams, key: keyof typeof RANKER_DEFAULTS): number {
  const v = p[key] ?? RANKER_DEFAULTS[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new RecsignalError('INVALID_ARGUMENT', `ranker.${key} must be a number, got ${JSON.stringify(v)}`);
  return v;
}

function bool(p: ModelParams, key: keyof typeof RANKER_DEFAULTS): boolean {
  const v = p[key] ?? RANKER_DEFAULTS[key];
  if (typeof v !== 'boolean') throw new RecsignalError('INVALID_ARGUMENT', `ranker.${key} must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

function itemsAtUserTime(input: RankerInput): boolean {
  const v = input.params['itemsAtUserTime'] ?? RANKER_DEFAULTS.itemsAtUserTime;
  if (v === 'auto') return input.protocol !== 'time';
  if (typeof v !== 'boolean') throw new RecsignalError('INVALID_ARGUMENT', `ranker.itemsAtUserTime must be true, false or auto, got ${JSON.stringify(v)}`);
  return v;
}

/** What every stage (inner or full) is built with, besides its training part, users and time. */
export type StageSettings = Pick<StageOptions, 'alsItemFactors' | 'als' | 'items' | 'candidatesPerModel' | 'embeddingDims' | 'seed' | 'compiled' | 'meta' | 'vocabulary' | 'itemsAtUserTime' | 'ratingEase' | 'userKnn'>;

export async function stageSettings(input: RankerInput): Promise<StageSettings> {
  const p = input.params;
  const path = String(p['features'] ?? '') || DEFAULT_FEATURE_SET;
  const [compiled, meta] = await Promise.all([
    loadRankerFeatureSet(path),
    sourceMetadata(input.source),
  ]);
  const als = [{ factors: num(p, 'alsFactors'), regularization: num(p, 'alsRegularization') }];
  if (num(p, 'als2Factors') > 0) als.push({ factors: num(p, 'als2Factors'), regularization: num(p, 'als2Regularization') });
  return {
    als, alsItemFactors: bool(p, 'alsItemFactors'), items: input.items, candidatesPerModel: num(p, 'candidates'), embeddingDims: num(p, 'embeddingDims'), seed: input.seed,
    compiled, meta, vocabulary: vocabularyOf(meta), itemsAtUserTime: itemsAtUserTime(input),
    ratingEase: bool(p, 'ratingEase'), userKnn: num(p, 'userKnn'),
  };
}

/** Just after the last training interaction. */
export const endOf = (rows: readonly Interaction[]) => rows.reduce((m, r) => Math.max(m, r.ts), -Infinity) + 1;
