/** @module A worker thread of `startParallelFits`. */
import { serveJobs } from './job-pool.ts';
import { fitLambdaMart } from './learn.ts';
import type { FitJobsData, FitResult } from './parallel-fits.ts';

await serveJobs<FitJobsData>((j, { set, subsets, params }): FitResult => fitLambdaMart(set, subsets[j]!, params).model.toJSON());
