/** @module A worker thread of `startParallelFits`: claims jobs from the shared counter until none is left. */
import { parentPort, workerData } from 'node:worker_threads';
import { fitLambdaMart } from './learn.ts';
import type { FitWorkerData, FitWorkerResult } from './parallel-fits.ts';

const { set, subsets, params, counter } = workerData as FitWorkerData;
for (let j = Atomics.add(counter, 0, 1); j < subsets.length; j = Atomics.add(counter, 0, 1)) {
  const result: FitWorkerResult = { job: j, model: fitLambdaMart(set, subsets[j]!, params).model.toJSON() };
  parentPort!.postMessage(result);
}
