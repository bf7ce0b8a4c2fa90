/**
 * @module The feature-driven ranker of `recsignal evaluate --models ranker`: stacking. Inside the
 * training split only, inner splits (four random ones stacked, or one earlier time cutoff) give a
 * training part (base models, event log, features) and a holdout (labels), built on worker threads
 * too (inner-stage.ts); LambdaMART learns to order each user's candidates; then everything is
 * rebuilt on the whole training split and the model ranks those candidates. Ablation by feature
 * group and importance by gain come back as `explain`.
 */
import { RecsignalError } from '../../core/errors.ts';
import { DAY_MS } from '../../core/time.ts';
import type { ModelExplain, SplitContext, TrainedModel } from '../../eval/models.ts';
import type { Interaction, Scorer } from '../../eval/types.ts';
import type { GbdtModel } from '../gbdt/index.ts';
import { trainColdScorer } from './cold.ts';
import { FEATURE_GROUPS, groupOf } from './groups.ts';
import { innerStages, startRankingStage, type RankingStage } from './inner-stage.ts';
import type { JobPool } from './job-pool.ts';
import { blendTerm, concatLearningSets, fitLambdaMart, type LambdaMartParams, type LearningSet } from './learn.ts';
import { startParallelFits } from './parallel-fits.ts';
import { num, RANKER_DEFAULTS, stageSettings, type RankerInput } from './settings.ts';
import { selectColumns } from './stage.ts';

export { RANKER_DEFAULTS } from './settings.ts';

/** What the ranker reports besides its scores: the explain of the report, plus its diagnostics. */
export interface RankerModel extends TrainedModel {
  readonly explain: ModelExplain;
  readonly diagnostics: {
    readonly candidatesPerModel: number;
    /** Mean share of a user's inner-holdout items among their candidates (≤ 1): the ceiling of the ranker's recall. */
    readonly innerCandidateRecall: number;
    /** The same for each candidate source's own top `candidatesPerModel` (mean over the inner stages). */
    readonly innerCandidateRecallBySource: Readonly<Record<string, number>>;
    readonly candidatesPerUser: number;
    readonly trees: number;
    readonly trainingRows: number;
    readonly queries: number;
  };
  readonly gbdt: GbdtModel;
}

export async function trainRanker(ctx: SplitContext): Promise<RankerModel> {
  const p = ctx.params;
  const params: LambdaMartParams = {
    iterations: num(p, 'iterations'), learningRate: num(p, 'learningRate'), leaves: num(p, 'leaves'),
    minDataInLeaf: num(p, 'minDataInLeaf'), earlyStopping: num(p, 'earlyStopping'), minTrees: num(p, 'minTrees'),
    validShare: num(p, 'validShare'), truncation: num(p, 'truncation'),
    featureFraction: num(p, 'featureFraction'), baggingFraction: num(p, 'baggingFraction'), objective: objectiveOf(p), seed: ctx.seed, k: ctx.k, refit: p['refit'] !== false,
    blend: null,
  };
  // Plain data only (not ctx itself, which holds functions): it is cloned to the worker threads.
  const input: RankerInput = { protocol: ctx.protocol, train: ctx.train, items: ctx.items, cutoffTs: ctx.cutoffTs, seed: ctx.seed, params: p, source: ctx.source };
  const common = await stageSettings(input);
  const n = common.candidatesPerModel;

  // Learn on the inner split(s), built on worker threads too.
  const stages = await innerStages(input, common, ctx.note);
  const recalls = stages.map((st) => st.recall);
  const names = stages[0]!.set.names;
  const sets: LearningSet[] = stages.map((st) => st.set);
  const recall = recalls.reduce((a, b) => a + b, 0) / recalls.length;
  const recallBySource = Object.fromEntries(Object.keys(stages[0]!.recallBySource).map((g) => [g, stages.reduce((a, st) => a + (st.recallBySource[g] ?? 0), 0) / stages.length]));
  const learning = concatLearningSets(sets);
  // Too little data: no candidate of an inner split was held out (it failed as "train.features: bad shape 0 x 58").
  if (!learning.labels.some((y) => y > 0)) {
    throw new RecsignalError('INVALID_INPUT', `ranker: the inner splits of the training part gave ${learning.rows} candidate rows for ${learning.groupSizes.length} users and none held out: too little data to learn from (it needs users with several interactions); evaluate it on more interactions, or leave it out of --models`);
  }
  const all = names.map((_, j) => j);
  const blendName = String(p['blend'] ?? RANKER_DEFAULTS.blend);
  const blendColumn = blendName === '' ? null : names.indexOf(blendName);
  if (blendColumn === -1) throw new RecsignalError('INVALID_ARGUMENT', `ranker.blend '${blendName}' is not a column of the ranker's features; use a base model's rank, e.g. ease_rank (columns: ${names.filter((n) => n.endsWith('_rank')).join(', ')})`);
  const fitParams: LambdaMartParams = { ...params, blend: blendColumn };
  // The ranking stage (the whole training split) is built on a worker while LambdaMART fits here.
  const ranking = startRankingStage(input, common, ctx.note);
  // Ablation variants keep the chosen number of trees and the training users (no second choice per
  // variant, no refit): they compare with the full feature set trained alike. They are fitted on
  // worker threads from the moment the tree count is known, alongside the refit.
  const withAblation = p['ablation'] !== false;
  const variants = withAblation ? ablationVariants(names) : [];
  let ablationFits: JobPool<GbdtModel> | undefined;
  try {
    const t0 = performance.now();
    let stop = '';
    const fitted = fitLambdaMart(learning, all, fitParams, {
      onStop: (best, ndcg) => (stop = `; validation nDCG@${ctx.k} over candidates peaked at ${best} trees (${ndcg.toFixed(4)}), minimum ${params.minTrees}`),
      onChosen: (trees) => {
        const fixed: LambdaMartParams = { ...params, iterations: trees, earlyStopping: 0, refit: false };
        if (variants.length > 0) ablationFits = startParallelFits(learning, variants.map((v) => v.keep), fixed, ctx.note);
      },
    });
    const gbdt = fitted.model;
    const blend = blendColumn === null ? null : { column: blendColumn, weight: fitted.blendWeight };
    if (blend !== null) ctx.note(`blend with ${blendName}: weight ${blend.weight} chosen on the held-out inner users (${fitted.blendCurve.map((c) => `${c.weight}: ${c.ndcg.toFixed(4)}`).join(', ')})`);
    ctx.note(`LambdaMART: ${gbdt.numTrees} trees (of at most ${params.iterations}, chosen on the ${(params.validShare * 100).toFixed(0)}% of inner users held out${stop}${params.refit ? '; then refitted on every inner user' : ''}) on ${learning.rows} rows / ${learning.groupSizes.length} groups in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    const rankStage = (await ranking.finish())[0]!;
    const cold = trainColdScorer(ctx.train, { items: ctx.items, meta: common.meta, halfLifeMs: num(p, 'coldHalfLifeDays') * DAY_MS, demographicWeight: num(p, 'coldDemographicWeight') });
    const fallback = popularityOrder(ctx.train, ctx.items);
    const scorer = stageScorer(rankStage, all, gbdt, fallback, cold, blend);

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
      ctx.note(`ablation: ${variants.length} variants (${ablationFits.doneByWorkers} fitted on worker threads), waited ${((performance.now() - t1) / 1000).toFixed(1)} s for them after the refit`);
    }
    return {
      ...scorer,
      explain: { importance, ablation, ...(withAblation ? { ablationBaseline: baseline } : {}), candidateRecall: { n, union: recall, bySource: recallBySource } },
      diagnostics: {
        candidatesPerModel: n, innerCandidateRecall: recall, innerCandidateRecallBySource: recallBySource,
        candidatesPerUser: rankStage.candidates.items.length / Math.max(1, rankStage.candidates.users.length),
        trees: gbdt.numTrees, trainingRows: learning.rows, queries: learning.groupSizes.length,
      },
      gbdt,
    };
  } catch (e) {
    await Promise.all([ranking.cancel(), ablationFits?.cancel()]);
    throw e;
  }
}

function objectiveOf(p: SplitContext['params']): LambdaMartParams['objective'] {
  const v = p['objective'] ?? RANKER_DEFAULTS.objective;
  if (v !== 'lambdarank' && v !== 'rank_xendcg') throw new RecsignalError('INVALID_ARGUMENT', `ranker.objective must be lambdarank or rank_xendcg, got ${JSON.stringify(v)}`);
  return v;
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
function stageScorer(stage: RankingStage, cols: readonly number[], gbdt: GbdtModel, fallback: Float64Array, cold: Scorer, blend: { column: number; weight: number } | null = null): Scorer {
  const c = stage.candidates;
  const x = cols.length === stage.names.length ? stage.data : selectColumns(stage.data, stage.names.length, cols);
  const pred = gbdt.predictBatch({ data: x, rows: c.items.length, cols: cols.length });
  if (blend !== null && blend.weight !== 0) for (let r = 0; r < pred.length; r++) pred[r]! += blendTerm(stage.data[r * stage.names.length + blend.column]!, blend.weight);
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
