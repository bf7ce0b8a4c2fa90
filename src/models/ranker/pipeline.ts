/**
 * @module The feature-driven ranker of `recsignal evaluate --models ranker`: stacking. Inside the
 * training split only, inner splits (two random ones stacked, or one earlier time cutoff) give a training part (base models, event log, features)
 * and a holdout (labels); LambdaMART learns to order each user's candidates; then everything is
 * rebuilt on the whole training split and the model ranks those candidates. Ablation by feature
 * group and importance by gain come back as `explain`.
 */
import { RecsignalError } from '../../core/errors.ts';
import { DAY_MS } from '../../core/time.ts';
import { usersOf } from '../../eval/ids.ts';
import type { ModelExplain, ModelParams, SplitContext, TrainedModel } from '../../eval/models.ts';
import { truthOf } from '../../eval/recommend.ts';
import { randomSplitByUser, stratifiedSplitMs, timeCutoffSplit } from '../../eval/split.ts';
import type { Interaction, Scorer } from '../../eval/types.ts';
import { readMovieLensMetadata } from '../../events/readers/movielens.ts';
import type { GbdtModel } from '../gbdt/index.ts';
import { candidateRecall } from './candidates.ts';
import { trainColdScorer } from './cold.ts';
import { DEFAULT_FEATURE_SET, loadRankerFeatureSet, vocabularyOf, type Metadata } from './features.ts';
import { FEATURE_GROUPS, groupOf } from './groups.ts';
import { concatLearningSets, fitLambdaMart, type LambdaMartParams, type LearningSet } from './learn.ts';
import { startParallelFits, type ParallelFits } from './parallel-fits.ts';
import { buildStage, selectColumns, type StageData } from './stage.ts';

export const RANKER_DEFAULTS = {
  candidates: 50,
  /** Training share of the inner random split: closer to 1 = base models nearer the final ones, fewer labels. */
  innerRatio: 0.85,
  /** Inner random splits (seeds seed+1, seed+2, ...) whose labelled candidates are stacked into one training set; 1 under --protocol time. */
  innerSplits: 4,
  embeddingDims: 8,
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
  ablation: true,
  features: '',
} as const;

/** What the ranker reports besides its scores: the explain of the report, plus its diagnostics. */
export interface RankerModel extends TrainedModel {
  readonly explain: ModelExplain;
  readonly diagnostics: {
    readonly candidatesPerModel: number;
    /** Mean share of a user's inner-holdout items among their candidates (≤ 1): the ceiling of the ranker's recall. */
    readonly innerCandidateRecall: number;
    readonly candidatesPerUser: number;
    readonly trees: number;
    readonly trainingRows: number;
    readonly queries: number;
  };
  readonly gbdt: GbdtModel;
}

function num(p: ModelParams, key: keyof typeof RANKER_DEFAULTS): number {
  const v = p[key] ?? RANKER_DEFAULTS[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new RecsignalError('INVALID_ARGUMENT', `ranker.${key} must be a number, got ${JSON.stringify(v)}`);
  return v;
}

async function metadataOf(ctx: SplitContext): Promise<Metadata | undefined> {
  if (ctx.source?.format !== 'movielens') return undefined;
  return readMovieLensMetadata(ctx.source.path);
}

/** The inner split mirrors the outer protocol: the same random rule with another seed, or an earlier time cutoff. */
function innerSplit(ctx: SplitContext, index: number): { train: Interaction[]; holdout: Interaction[]; asOf: number } {
  if (ctx.protocol === 'time') {
    const s = timeCutoffSplit(ctx.train, { quantile: 0.8 });
    return { train: s.train, holdout: s.test, asOf: s.cutoffTs };
  }
  const fn = ctx.protocol === 'per-user' ? randomSplitByUser : stratifiedSplitMs;
  const s = fn(ctx.train, { ratio: num(ctx.params, 'innerRatio'), seed: ctx.seed + 1 + index });
  return { train: s.train, holdout: s.test, asOf: endOf(s.train) };
}

function itemsAtUserTime(ctx: SplitContext): boolean {
  const v = ctx.params['itemsAtUserTime'] ?? RANKER_DEFAULTS.itemsAtUserTime;
  if (v === 'auto') return ctx.protocol !== 'time';
  if (typeof v !== 'boolean') throw new RecsignalError('INVALID_ARGUMENT', `ranker.itemsAtUserTime must be true, false or auto, got ${JSON.stringify(v)}`);
  return v;
}

const endOf = (rows: readonly Interaction[]) => rows.reduce((m, r) => Math.max(m, r.ts), -Infinity) + 1;

export async function trainRanker(ctx: SplitContext): Promise<RankerModel> {
  const p = ctx.params;
  const n = num(p, 'candidates');
  const dims = num(p, 'embeddingDims');
  const params: LambdaMartParams = {
    iterations: num(p, 'iterations'), learningRate: num(p, 'learningRate'), leaves: num(p, 'leaves'),
    minDataInLeaf: num(p, 'minDataInLeaf'), earlyStopping: num(p, 'earlyStopping'), minTrees: num(p, 'minTrees'),
    validShare: num(p, 'validShare'), truncation: num(p, 'truncation'), seed: ctx.seed, k: ctx.k, refit: p['refit'] !== false,
  };
  const path = String(p['features'] ?? '') || DEFAULT_FEATURE_SET;
  const [compiled, meta] = await Promise.all([loadRankerFeatureSet(path), metadataOf(ctx)]);
  const vocabulary = vocabularyOf(meta);
  const als = [{ factors: num(p, 'alsFactors'), regularization: num(p, 'alsRegularization') }];
  if (num(p, 'als2Factors') > 0) als.push({ factors: num(p, 'als2Factors'), regularization: num(p, 'als2Regularization') });
  const common = { als, items: ctx.items, candidatesPerModel: n, embeddingDims: dims, seed: ctx.seed, compiled, meta, vocabulary, itemsAtUserTime: itemsAtUserTime(ctx) };

  // Learn on the inner split(s): one time cutoff, or several random splits stacked (more labelled users).
  const splits = ctx.protocol === 'time' ? 1 : Math.max(1, Math.round(num(p, 'innerSplits')));
  const graded = p['gradedLabels'] === true;
  const sets: LearningSet[] = [];
  const recalls: number[] = [];
  let names: readonly string[] = [];
  for (let s = 0; s < splits; s++) {
    const inner = innerSplit(ctx, s);
    const innerTruth = truthOf(inner.holdout);
    const innerTrainUsers = new Set(usersOf(inner.train));
    ctx.note(`inner split ${s + 1}/${splits}: ${inner.train.length} rows to fit on, ${inner.holdout.length} held out for labels`);
    const learnStage = await buildStage({
      ...common, train: inner.train, asOf: inner.asOf, note: (m) => ctx.note(`inner ${s + 1}: ${m}`),
      users: [...innerTruth.keys()].filter((u) => innerTrainUsers.has(u)),
    });
    recalls.push(candidateRecall(learnStage.candidates, innerTruth));
    ctx.note(`inner ${s + 1}: candidate recall@${n}/model ${recalls[s]!.toFixed(4)} (${(learnStage.candidates.items.length / learnStage.candidates.users.length).toFixed(0)} candidates a user)`);
    sets.push(labelled(learnStage, innerTruth, graded));
    names = learnStage.names;
  }
  const recall = recalls.reduce((a, b) => a + b, 0) / recalls.length;
  const learning = concatLearningSets(sets);
  const all = names.map((_, j) => j);
  // Ablation variants keep the chosen number of trees and the training users (no second choice per
  // variant, no refit): they compare with the full feature set trained alike. They are fitted on
  // worker threads from the moment the tree count is known, alongside the refit and the ranking stage.
  const withAblation = p['ablation'] !== false;
  const variants = withAblation ? ablationVariants(names) : [];
  let ablationFits: ParallelFits | undefined;
  const t0 = performance.now();
  let stop = '';
  const fitted = fitLambdaMart(learning, all, params, {
    onStop: (best, ndcg) => (stop = `; validation nDCG@${ctx.k} over candidates peaked at ${best} trees (${ndcg.toFixed(4)}), minimum ${params.minTrees}`),
    onChosen: (trees) => {
      const fixed: LambdaMartParams = { ...params, iterations: trees, earlyStopping: 0, refit: false };
      if (variants.length > 0) ablationFits = startParallelFits(learning, variants.map((v) => v.keep), fixed, ctx.note);
    },
  });
  const gbdt = fitted.model;
  ctx.note(`LambdaMART: ${gbdt.numTrees} trees (of at most ${params.iterations}, chosen on the ${(params.validShare * 100).toFixed(0)}% of inner users held out${stop}${params.refit ? '; then refitted on every inner user' : ''}) on ${learning.rows} rows / ${learning.groupSizes.length} groups in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  try {
    // Rank on the whole training split.
    const rankStage = await buildStage({
      ...common, train: ctx.train, asOf: ctx.cutoffTs ?? endOf(ctx.train), note: (m) => ctx.note(`full: ${m}`),
      users: usersOf(ctx.train),
    });
    const cold = trainColdScorer(ctx.train, { items: ctx.items, meta, halfLifeMs: num(p, 'coldHalfLifeDays') * DAY_MS, demographicWeight: num(p, 'coldDemographicWeight') });
    const fallback = popularityOrder(ctx.train, ctx.items);
    const scorer = stageScorer(rankStage, all, gbdt, fallback, cold);

    const importance = gbdt.importanceReport().filter((f) => f.gain > 0).map((f) => ({ feature: f.name, gain: f.gain }));
    const baseline = withAblation ? ctx.measureNdcg(stageScorer(rankStage, all, fitted.trainUsersModel, fallback, cold)) : Number.NaN;
    if (withAblation) ctx.note(`ablation baseline (all groups, trained like the variants: without the refit): nDCG@${ctx.k} ${baseline.toFixed(4)}`);
    const ablation: { group: string; ndcg: number; delta: number }[] = [];
    if (ablationFits !== undefined) {
      const t1 = performance.now();
      const models = await ablationFits.finish();
      variants.forEach(({ group, keep }, v) => {
        const ndcg = ctx.measureNdcg(stageScorer(rankStage, keep, models[v]!, fallback, cold));
        ablation.push({ group: `without ${group}`, ndcg, delta: ndcg - baseline });
        ctx.note(`ablation without ${group}: nDCG@${ctx.k} ${ndcg.toFixed(4)} (${(ndcg - baseline >= 0 ? '+' : '')}${(ndcg - baseline).toFixed(4)})`);
      });
      ctx.note(`ablation: ${variants.length} variants (${ablationFits.fittedByWorkers} fitted on worker threads), waited ${((performance.now() - t1) / 1000).toFixed(1)} s for them after the ranking stage`);
    }
    return {
      ...scorer,
      explain: { importance, ablation, ...(withAblation ? { ablationBaseline: baseline } : {}) },
      diagnostics: {
        candidatesPerModel: n, innerCandidateRecall: recall,
        candidatesPerUser: rankStage.candidates.items.length / Math.max(1, rankStage.candidates.users.length),
        trees: gbdt.numTrees, trainingRows: learning.rows, queries: learning.groupSizes.length,
      },
      gbdt,
    };
  } catch (e) {
    await ablationFits?.cancel();
    throw e;
  }
}

/** The stage's rows labelled 1 for a held-out item, 0 otherwise; graded: 2 for a held-out item rated 4 or 5, 1 for another. */
function labelled(stage: StageData, truth: ReadonlyMap<string, ReadonlyMap<string, number>>, graded: boolean): LearningSet {
  const c = stage.candidates;
  const labels = new Float64Array(c.items.length);
  const groupSizes: number[] = [];
  c.users.forEach((u, q) => {
    const t = truth.get(u);
    for (let r = c.offsets[q]!; r < c.offsets[q + 1]!; r++) {
      const rating = t?.get(c.catalogue[c.items[r]!]!);
      labels[r] = rating === undefined ? 0 : graded && rating >= 4 ? 2 : 1;
    }
    groupSizes.push(c.offsets[q + 1]! - c.offsets[q]!);
  });
  return { names: stage.names, data: stage.data, labels, groupSizes, groupUsers: c.users, rows: c.items.length };
}

/** Catalogue scores in [0, 1) by training popularity: the order of the items outside a user's candidates. */
function popularityOrder(train: readonly Interaction[], items: readonly string[]): Float64Array {
  const index = new Map(items.map((it, i) => [it, i] as const));
  const counts = new Float64Array(items.length);
  for (const r of train) {
    const i = index.get(r.item);
    if (i !== undefined) counts[i]! += 1;
  }
  const max = counts.reduce((m, v) => Math.max(m, v), 0);
  return counts.map((v) => (max > 0 ? (0.999 * v) / max : 0));
}

/**
 * Scores a stage's candidates with a GBDT on columns `cols`; a user's other items rank below every
 * candidate, by popularity. Users outside the stage go to the cold model (or popularity).
 */
function stageScorer(stage: StageData, cols: readonly number[], gbdt: GbdtModel, fallback: Float64Array, cold: Scorer): Scorer {
  const c = stage.candidates;
  const x = cols.length === stage.names.length ? stage.data : selectColumns(stage.data, stage.names.length, cols);
  const pred = gbdt.predictBatch({ data: x, rows: c.items.length, cols: cols.length });
  const byUser = new Map<string, Float64Array>();
  c.users.forEach((u, q) => {
    let min = Infinity;
    for (let r = c.offsets[q]!; r < c.offsets[q + 1]!; r++) min = Math.min(min, pred[r]!);
    const floor = (Number.isFinite(min) ? min : 0) - 2;
    const s = fallback.map((v) => floor + v);
    for (let r = c.offsets[q]!; r < c.offsets[q + 1]!; r++) s[c.items[r]!] = pred[r]!;
    byUser.set(u, s);
  });
  return {
    items: c.catalogue,
    score(user) {
      const s = byUser.get(user);
      if (s) return s.slice();
      return cold.score(user);
    },
  };
}

/** One variant per feature group the feature set has: every column but that group's. */
function ablationVariants(names: readonly string[]): { group: string; keep: number[] }[] {
  return FEATURE_GROUPS.map((group) => ({ group, keep: names.flatMap((nm, j) => (groupOf(nm) === group ? [] : [j])) }))
    .filter(({ keep }) => keep.length < names.length);
}
