/**
 * @module Jobs 0..n−1 shared between this thread and worker threads. The ranker's heavy steps are
 * single-threaded JavaScript (base models, LambdaMART fits), so on a machine with c cores up to c
 * jobs run at once. Jobs are claimed from a counter in shared memory: a thread busy with other work
 * simply claims fewer. Each job's result depends only on its inputs, so the results are the same
 * whichever thread computes them, and they come back in job order.
 */
import { availableParallelism } from 'node:os';
import { parentPort, Worker, workerData } from 'node:worker_threads';

export interface JobPool<T> {
  /** Runs the jobs no thread has claimed yet on this thread, then waits for the workers: the results in job order. */
  finish(): Promise<T[]>;
  /** How many jobs worker threads have finished so far. */
  readonly doneByWorkers: number;
  /** Stops the workers (when the caller fails before `finish`). */
  cancel(): Promise<void>;
}

/** What a pool's worker is started with. */
export interface PoolWorkerData<D> {
  /** Int32Array over a SharedArrayBuffer: element 0 is the next unclaimed job. */
  readonly counter: Int32Array;
  readonly jobs: number;
  readonly data: D;
}

type WorkerMessage =
  | { readonly kind: 'result'; readonly job: number; readonly value: unknown }
  | { readonly kind: 'note'; readonly message: string };

/** One fewer worker than the cores (this thread is one), at most one per job. */
export function defaultWorkers(jobs: number): number {
  return Math.max(0, Math.min(jobs, availableParallelism() - 1));
}

export interface JobPoolOptions<T, D> {
  readonly jobs: number;
  /** What the jobs are, in messages ("ablation fit", "inner stage"). */
  readonly name: string;
  /** The worker entry: a module that calls `serveJobs` (its `.ts` path; the `.js` one is used from the build). */
  readonly entry: URL;
  /** Plain data every worker gets (structured clone; typed arrays over a SharedArrayBuffer are shared). */
  readonly data: D;
  readonly workers: number;
  /** Runs job j on this thread. */
  readonly run: (job: number) => T | Promise<T>;
  /** A worker's result as this thread returns it. */
  readonly receive: (value: unknown) => T;
  readonly note: (message: string) => void;
}

/** Starts the workers at once; this thread joins in at `finish`. A worker that fails leaves its jobs to this thread. */
export function startJobPool<T, D>(o: JobPoolOptions<T, D>): JobPool<T> {
  const counter = new Int32Array(new SharedArrayBuffer(4));
  const results = new Map<number, T>();
  const threads: Worker[] = [];
  const exited: Promise<void>[] = [];
  let doneByWorkers = 0;
  const workerInput: PoolWorkerData<D> = { counter, jobs: o.jobs, data: o.data };
  for (let w = 0; w < o.workers; w++) {
    const thread = startWorker(o.entry, workerInput);
    thread.on('message', (m: WorkerMessage) => {
      if (m.kind === 'note') return o.note(m.message);
      results.set(m.job, o.receive(m.value));
      doneByWorkers++;
    });
    exited.push(new Promise((resolve) => {
      thread.on('error', (e) => o.note(`${o.name} worker ${w + 1} failed (${e.message}); its jobs run on the main thread`));
      thread.on('exit', () => resolve());
    }));
    threads.push(thread);
  }
  return {
    async finish() {
      for (let j = Atomics.add(counter, 0, 1); j < o.jobs; j = Atomics.add(counter, 0, 1)) results.set(j, await o.run(j));
      await Promise.all(exited);
      const out: T[] = [];
      // A job a failed worker had claimed and not finished runs here.
      for (let j = 0; j < o.jobs; j++) out.push(results.has(j) ? (results.get(j) as T) : await o.run(j));
      return out;
    },
    get doneByWorkers() {
      return doneByWorkers;
    },
    async cancel() {
      await Promise.all(threads.map((t) => t.terminate()));
    },
  };
}

/**
 * The worker side: claims jobs until none is left, posting each result (its `transfer` list moved,
 * not copied). `run` gets the pool's data and a note function that reaches the main thread.
 */
export async function serveJobs<D>(
  run: (job: number, data: D, note: (message: string) => void) => unknown,
  transfer: (value: unknown) => ArrayBuffer[] = () => [],
): Promise<void> {
  const { counter, jobs, data } = workerData as PoolWorkerData<D>;
  const port = parentPort;
  if (port === null) throw new Error('serveJobs runs in a worker thread started by startJobPool');
  const note = (message: string) => port.postMessage({ kind: 'note', message } satisfies WorkerMessage);
  for (let j = Atomics.add(counter, 0, 1); j < jobs; j = Atomics.add(counter, 0, 1)) {
    const value = await run(j, data, note);
    port.postMessage({ kind: 'result', job: j, value } satisfies WorkerMessage, transfer(value));
  }
}

/** The `.ts` entry beside a module run from the sources, the `.js` one beside the build. */
export function workerEntry(name: string, base: string): URL {
  return new URL(`./${name}${base.endsWith('.ts') ? '.ts' : '.js'}`, base);
}

/**
 * A worker running `entry`. Run from the TypeScript sources, the worker first registers the tsx
 * loader itself: in Node 20 a worker inherits neither `register()` hooks nor `--import` in its execArgv.
 */
function startWorker(entry: URL, data: unknown): Worker {
  if (!entry.pathname.endsWith('.ts')) return new Worker(entry, { workerData: data });
  const bootstrap = `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); });`;
  return new Worker(bootstrap, { eval: true, workerData: data });
}
