/**
 * @module LambdaMART fits of several column subsets (the ablation variants) shared between this
 * thread and worker threads (see job-pool.ts): a thread busy with other work (the main thread
 * refitting the full model, building the ranking stage) simply claims fewer.
 */
import { gbdtModelFromJSON, type GbdtModel, type GbdtModelJSON } from '../gbdt/index.ts';
import { defaultWorkers, startJobPool, workerEntry, type JobPool } from './job-pool.ts';
import { fitLambdaMart, type LambdaMartParams, type LearningSet } from './learn.ts';

/** What the fit workers share (see fit-worker.ts). */
export interface FitJobsData {
  readonly set: LearningSet;
  readonly subsets: readonly (readonly number[])[];
  readonly params: LambdaMartParams;
}

/** A worker's result: the model as JSON (predictions from it are bit-identical). */
export type FitResult = GbdtModelJSON;

/**
 * Starts fitting `fitLambdaMart(set, subsets[j], params)` for every j on `workers` worker threads
 * (default: one fewer than the cores, at most one per job); this thread joins in at `finish`.
 */
export function startParallelFits(
  set: LearningSet, subsets: readonly (readonly number[])[], params: LambdaMartParams,
  note: (message: string) => void, workers = defaultWorkers(subsets.length),
): JobPool<GbdtModel> {
  // Shared, not copied per worker: the feature matrix is the large part (~180 MB on ML-100K).
  let shared = set;
  if (workers > 0) {
    const data = new Float64Array(new SharedArrayBuffer(set.data.byteLength));
    data.set(set.data);
    shared = { ...set, data };
  }
  return startJobPool<GbdtModel, FitJobsData>({
    jobs: subsets.length,
    name: 'ablation fit',
    entry: workerEntry('fit-worker', import.meta.url),
    data: { set: shared, subsets, params },
    workers,
    run: (j) => fitLambdaMart(set, subsets[j]!, params).model,
    receive: (value) => gbdtModelFromJSON(value as FitResult),
    note,
  });
}
