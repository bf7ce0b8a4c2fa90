/**
 * @module LambdaMART fits of several column subsets (the ablation variants), shared between this
 * thread and worker threads. A fit is single-threaded JavaScript, so on a machine with c cores up to
 * c fits run at once. Jobs are claimed from a counter in shared memory: a thread busy with other
 * work (the main thread refitting the full model, building the ranking stage) simply claims fewer.
 * A fit depends only on its inputs, so the models are the same whichever thread fits them.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { gbdtModelFromJSON, type GbdtModel, type GbdtModelJSON } from '../gbdt/index.ts';
import { fitLambdaMart, type LambdaMartParams, type LearningSet } from './learn.ts';

/** What a fit worker is started with (see fit-worker.ts). */
export interface FitWorkerData {
  readonly set: LearningSet;
  readonly subsets: readonly (readonly number[])[];
  readonly params: LambdaMartParams;
  /** Int32Array over a SharedArrayBuffer: element 0 is the next unclaimed job. */
  readonly counter: Int32Array;
}

/** A message from a fit worker: one finished job. */
export interface FitWorkerResult {
  readonly job: number;
  readonly model: GbdtModelJSON;
}

export interface ParallelFits {
  /** Fits the jobs no thread has claimed yet on this thread, then waits for the workers: the models in job order. */
  finish(): Promise<GbdtModel[]>;
  /** How many jobs worker threads have fitted so far. */
  readonly fittedByWorkers: number;
  /** Stops the workers (when the caller fails before `finish`). */
  cancel(): Promise<void>;
}

/**
 * Starts fitting `fitLambdaMart(set, subsets[j], params)` for every j on `workers` worker threads
 * (default: one fewer than the cores, at most one per job); this thread joins in at `finish`.
 * A worker that fails leaves its jobs to this thread, reported through `note`.
 */
export function startParallelFits(
  set: LearningSet, subsets: readonly (readonly number[])[], params: LambdaMartParams,
  note: (message: string) => void, workers = Math.min(subsets.length, availableParallelism() - 1),
): ParallelFits {
  const counter = new Int32Array(new SharedArrayBuffer(4));
  const models: (GbdtModel | undefined)[] = new Array(subsets.length).fill(undefined);
  const threads: Worker[] = [];
  const exited: Promise<void>[] = [];
  let fittedByWorkers = 0;
  if (workers > 0) {
    // Shared, not copied per worker: the feature matrix is the large part (~180 MB on ML-100K).
    const data = new Float64Array(new SharedArrayBuffer(set.data.byteLength));
    data.set(set.data);
    const workerData: FitWorkerData = { set: { ...set, data }, subsets, params, counter };
    const entry = new URL(import.meta.url.endsWith('.ts') ? './fit-worker.ts' : './fit-worker.js', import.meta.url);
    for (let w = 0; w < workers; w++) {
      const thread = startWorker(entry, workerData);
      thread.on('message', (m: FitWorkerResult) => {
        models[m.job] = gbdtModelFromJSON(m.model);
        fittedByWorkers++;
      });
      exited.push(new Promise((resolve) => {
        thread.on('error', (e) => note(`fit worker ${w + 1} failed (${e.message}); its jobs are fitted on the main thread`));
        thread.on('exit', () => resolve());
      }));
      threads.push(thread);
    }
  }
  return {
    async finish() {
      for (let j = Atomics.add(counter, 0, 1); j < subsets.length; j = Atomics.add(counter, 0, 1)) {
        models[j] = fitLambdaMart(set, subsets[j]!, params).model;
      }
      await Promise.all(exited);
      // Jobs a failed worker had claimed and not finished.
      return models.map((m, j) => m ?? fitLambdaMart(set, subsets[j]!, params).model);
    },
    get fittedByWorkers() {
      return fittedByWorkers;
    },
    async cancel() {
      await Promise.all(threads.map((t) => t.terminate()));
    },
  };
}

/**
 * A worker running `entry`. Run from the TypeScript sources, the worker first registers the tsx
 * loader itself: in Node 20 a worker inherits neither `register()` hooks nor `--import` in its execArgv.
 */
function startWorker(entry: URL, workerData: FitWorkerData): Worker {
  if (!entry.pathname.endsWith('.ts')) return new Worker(entry, { workerData });
  const bootstrap = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); });`;
  return new Worker(bootstrap, { eval: true, workerData });
}
