/**
 * @module The ranker's stages as jobs: on each inner split of the training split, the base models,
 * candidates and features of the inner training part, labelled with the inner holdout; and the
 * ranking stage on the whole training split. They need only plain data, so they are shared
 * between this thread and worker threads (job-pool.ts): the inner stages come back in split order,
 * and the ranking stage is built on a worker while this thread fits LambdaMART.
 */
import { usersOf } from '../../eval/ids.ts';
import { truthOf } from '../../eval/recommend.ts';
import { randomSplitByUser, stratifiedSplitMs, timeCutoffSplit } from '../../eval/split.ts';
import type { Interaction } from '../../eval/types.ts';
import { candidateRecall } from './candidates.ts';
import { defaultWorkers, startJobPool, workerEntry, type JobPool } from './job-pool.ts';
import type { LearningSet } from './learn.ts';
import { endOf, num, type RankerInput, type StageSettings } from './settings.ts';
import { buildStage, type StageData } from './stage.ts';

/** What a stage worker is given: the input, and which stages it builds. */
export interface StageJobs {
  readonly input: RankerInput;
  /** 'inner': job j is inner stage j; 'ranking': job 0 is the ranking stage. */
  readonly kind: 'inner' | 'ranking';
}

/** The ranking stage without its base models (functions): what the ranker scores with. */
export type RankingStage = Omit<StageData, 'base'>;

/** One inner stage's labelled candidates, and the share of the holdout its candidates hold. */
export interface InnerStage {
  readonly set: LearningSet;
  readonly recall: number;
  /** Recall@n of each generating model's own top n (the union's is `recall`). */
  readonly recallBySource: Readonly<Record<string, number>>;
}

/** The inner split mirrors the outer protocol: the same random rule with another seed, or an earlier time cutoff. */
function innerSplit(input: RankerInput, index: number): { train: Interaction[]; holdout: Interaction[]; asOf: number } {
  if (input.protocol === 'time') {
    const s = timeCutoffSplit(input.train, { quantile: 0.8 });
    return { train: s.train, holdout: s.test, asOf: s.cutoffTs };
  }
  const fn = input.protocol === 'per-user' ? randomSplitByUser : stratifiedSplitMs;
  const s = fn(input.train, { ratio: num(input.params, 'innerRatio'), seed: input.seed + 1 + index });
  return { train: s.train, holdout: s.test, asOf: endOf(s.train) };
}

/** How many inner splits: one time cutoff, or several random splits stacked (more labelled users). */
export function innerSplitCount(input: RankerInput): number {
  return input.protocol === 'time' ? 1 : Math.max(1, Math.round(num(input.params, 'innerSplits')));
}

/** Inner stage s (0-based), its progress through `note`. */
export async function innerStage(input: RankerInput, settings: StageSettings, s: number, note: (m: string) => void): Promise<InnerStage> {
  const inner = innerSplit(input, s);
  const innerTruth = truthOf(inner.holdout);
  const innerTrainUsers = new Set(usersOf(inner.train));
  note(`inner split ${s + 1}/${innerSplitCount(input)}: ${inner.train.length} rows to fit on, ${inner.holdout.length} held out for labels`);
  const stage = await buildStage({
    ...settings, train: inner.train, asOf: inner.asOf, note: (m) => note(`inner ${s + 1}: ${m}`),
    users: [...innerTruth.keys()].filter((u) => innerTrainUsers.has(u)),
  });
  const recall = candidateRecall(stage.candidates, innerTruth);
  const recallBySource = Object.fromEntries(stage.candidates.generators.map((g) => [g, candidateRecall(stage.candidates, innerTruth, g)]));
  const bySource = Object.entries(recallBySource).map(([g, r]) => `${g} ${r.toFixed(4)}`).join(', ');
  note(`inner ${s + 1}: candidate recall@${settings.candidatesPerModel}: union ${recall.toFixed(4)} (${(stage.candidates.items.length / stage.candidates.users.length).toFixed(0)} candidates a user); by source ${bySource}`);
  return { set: labelled(stage, innerTruth, input.params['gradedLabels'] === true), recall, recallBySource };
}

/**
 * Every inner stage, on this thread and `workers` worker threads (default: one fewer than the
 * cores). A worker loads the feature set and metadata itself, from `input`.
 */
export async function innerStages(input: RankerInput, settings: StageSettings, note: (m: string) => void, workers?: number): Promise<InnerStage[]> {
  const splits = innerSplitCount(input);
  const pool = startJobPool<InnerStage, StageJobs>({
    jobs: splits,
    name: 'inner stage',
    entry: workerEntry('stage-worker', import.meta.url),
    data: { input, kind: 'inner' },
    workers: workers ?? defaultWorkers(splits - 1),
    run: (s) => innerStage(input, settings, s, note),
    receive: (value) => value as InnerStage,
    note,
  });
  const stages = await pool.finish();
  if (pool.doneByWorkers > 0) note(`inner stages: ${pool.doneByWorkers} of ${splits} built on worker threads`);
  return stages;
}

/** The ranking stage: the whole training split's base models, candidates and features, as of its end. */
export async function rankingStage(input: RankerInput, settings: StageSettings, note: (m: string) => void): Promise<RankingStage> {
  const { candidates, names, data } = await buildStage({
    ...settings, train: input.train, asOf: input.cutoffTs ?? endOf(input.train), note: (m) => note(`full: ${m}`),
    users: usersOf(input.train),
  });
  return { candidates, names, data };
}

/**
 * Starts the ranking stage on a worker thread (when the machine has a core to spare), so it is built
 * while this thread fits LambdaMART; `finish` builds it here otherwise.
 */
export function startRankingStage(input: RankerInput, settings: StageSettings, note: (m: string) => void): JobPool<RankingStage> {
  return startJobPool<RankingStage, StageJobs>({
    jobs: 1,
    name: 'ranking stage',
    entry: workerEntry('stage-worker', import.meta.url),
    data: { input, kind: 'ranking' },
    workers: defaultWorkers(1),
    run: () => rankingStage(input, settings, note),
    receive: (value) => value as RankingStage,
    note,
  });
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

