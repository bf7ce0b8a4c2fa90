/** @module Shared pieces of the stream benchmark: its options, the generated world in memory, a seeded PRNG, percentiles, and running a step in a child process. */
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { generateEvents } from '../src/events/generate.ts';
import { spawnChild } from './spawn.ts';
import { join } from 'node:path';
import type { CompiledFeatureSet } from '../src/plan/compile.ts';
import type { ServerOptions } from '../src/serve/server.ts';
import { EventLog } from '../src/store/offline/event-log.ts';
import type { InteractionEvent, ItemMetadata, UserMetadata } from '../src/events/schema.ts';

export const REPO = fileURLToPath(new URL('..', import.meta.url));
/** The demo feature set, or another one (`BENCH_FEATURES=path/features.ts`) to compare. */
export const DEMO_FEATURES = process.env['BENCH_FEATURES'] ?? 'examples/streaming/features.ts';
/** The server's default allowed lateness: the engines here run with it too. */
export const LATENESS_MS = 5 * 60_000;

export interface StreamBenchOptions {
  readonly users: number;
  readonly items: number;
  readonly days: number;
  readonly seed: number;
  /** In-process feature requests measured (after a warm-up). */
  readonly requests: number;
  readonly candidates: number;
  /** HTTP load: requests per second and seconds measured. */
  readonly rate: number;
  readonly duration: number;
}

export function parseStreamOptions(argv: readonly string[]): StreamBenchOptions {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      users: { type: 'string', default: '5000' },
      items: { type: 'string', default: '2000' },
      days: { type: 'string', default: '30' },
      seed: { type: 'string', default: '1' },
      requests: { type: 'string', default: '5000' },
      candidates: { type: 'string', default: '100' },
      rate: { type: 'string', default: '1000' },
      duration: { type: 'string', default: '20' },
    },
    strict: true,
  });
  const n = (k: keyof typeof values): number => {
    const v = Number(values[k]);
    if (!Number.isFinite(v) || v <= 0) throw new Error(`bench/stream: --${k} must be a positive number, got '${String(values[k])}'`);
    return v;
  };
  return { users: n('users'), items: n('items'), days: n('days'), seed: n('seed'), requests: n('requests'), candidates: n('candidates'), rate: n('rate'), duration: n('duration') };
}

export function optionArgs(o: StreamBenchOptions): string[] {
  return Object.entries(o).flatMap(([k, v]) => [`--${k}`, String(v)]);
}

export interface World {
  readonly items: readonly ItemMetadata[];
  readonly users: readonly UserMetadata[];
  /** Every event, in time order (the generator yields user by user). */
  readonly events: InteractionEvent[];
}

export function worldInMemory(o: StreamBenchOptions): World {
  const w = generateEvents({ users: o.users, items: o.items, days: o.days, seed: o.seed });
  const events = [...w.events()];
  events.sort((a, b) => a.ts - b.ts);
  return { items: w.items, users: w.users, events };
}

/** mulberry32: a few lines, seeded, the same on every run. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `k` distinct indices of [0, n), partial Fisher–Yates over a scratch array. */
export function sampleDistinct(next: () => number, n: number, k: number, scratch: Int32Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < k && i < n; i++) {
    const j = i + Math.floor(next() * (n - i));
    const tmp = scratch[i] as number;
    scratch[i] = scratch[j] as number;
    scratch[j] = tmp;
    out.push(scratch[i] as number);
  }
  return out;
}

export interface LatencySummary {
  readonly count: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
  readonly meanMs: number;
}

/** Nearest-rank percentiles of latencies in ms. */
export function summarize(ms: readonly number[]): LatencySummary {
  const s = Float64Array.from(ms).sort();
  const at = (p: number) => (s.length === 0 ? NaN : (s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))] as number));
  const round = (x: number) => Math.round(x * 1000) / 1000;
  let sum = 0;
  for (const x of s) sum += x;
  return { count: s.length, p50Ms: round(at(0.5)), p90Ms: round(at(0.9)), p99Ms: round(at(0.99)), p999Ms: round(at(0.999)), maxMs: round(at(1)), meanMs: round(sum / Math.max(1, s.length)) };
}

export function say(s: string): void {
  process.stderr.write(`[bench:stream] ${s}\n`);
}

/** Prints the step's report as the last stdout line, where the parent looks for it. */
export function report(r: unknown): void {
  process.stdout.write(`${JSON.stringify(r)}\n`);
}

export interface ChildResult {
  readonly ok: boolean;
  readonly seconds: number;
  readonly peakRssMb: number | null;
  readonly report: Record<string, unknown> | null;
  readonly error: string | null;
}

/** `node [flags] --import tsx bench/<script> ...args` (bench/spawn.ts), its stderr passed through, killed after `timeoutS`. */
export async function runChild(script: string, args: readonly string[], o: { readonly nodeFlags?: readonly string[]; readonly timeoutS: number }): Promise<ChildResult> {
  const run = await spawnChild(script, args, { timeoutS: o.timeoutS, ...(o.nodeFlags ? { nodeFlags: o.nodeFlags } : {}), onStderr: (s) => process.stderr.write(s), stderrChars: 4000 });
  const ok = !run.timedOut && run.code === 0 && run.report !== null;
  const error = ok ? null : run.timedOut ? `killed after ${o.timeoutS} s` : `exit ${run.code}: ${run.stderrTail.trim().split('\n').slice(-3).join(' / ')}`;
  return { ok, seconds: run.seconds, peakRssMb: run.hwmMb === null ? null : Math.round(run.hwmMb), report: run.report, error };
}

/** Feature requests as the fetch benchmarks send them: a random user, `candidates` distinct random items, a random device, at `t`. */
export function requestMaker(o: { readonly users: number; readonly items: number; readonly candidates: number; readonly seed: number }, t: number): () => { userId: string; items: string[]; context: { device: string }; t: number } {
  const devices = ['tv', 'mobile', 'web', 'tablet'];
  const next = rng(o.seed + 100);
  const scratch = Int32Array.from({ length: o.items }, (_, i) => i);
  return () => ({
    userId: `u${Math.floor(next() * o.users)}`,
    items: sampleDistinct(next, o.items, o.candidates, scratch).map((i) => `i${i}`),
    context: { device: devices[Math.floor(next() * devices.length)] as string },
    t,
  });
}

/**
 * The options of the feature server the fetch benchmarks measure: the demo set, bootstrapped from
 * `events` (which the caller may drop while they stream in), its clock fixed at `now`, its log in
 * `dir`. Callers add a store to keep the state out of process.
 */
export function benchServerOptions(o: { compiled: CompiledFeatureSet; events: AsyncIterable<InteractionEvent>; items: readonly ItemMetadata[]; users: readonly UserMetadata[]; now: number; dir: string }): Omit<ServerOptions, 'store'> {
  return {
    compiled: o.compiled,
    log: new EventLog(join(o.dir, 'log')),
    port: 0,
    clock: () => o.now,
    lateness: LATENESS_MS,
    bootstrap: o.events,
    metadata: { items: o.items, users: o.users },
    flushIntervalMs: 3_600_000,
  };
}
