/** @module The benchmark's sizes and switches, from flags or environment variables, and where its data lives. */
import { join } from 'node:path';
import { MEAN_EVENTS_PER_USER_DAY } from '../src/events/generate.ts';

export interface BenchOptions {
  /** Events to generate (approximately: the generator is sized by users). */
  readonly events: number;
  /** Rows of the training-set spine. */
  readonly spine: number;
  readonly days: number;
  readonly items: number;
  readonly seed: number;
  /** Events of the slice the reference aggregator runs on, and its spine. */
  readonly sliceEvents: number;
  readonly sliceSpine: number;
  /** Skip the reference aggregator (it is quadratic). */
  readonly skipReference: boolean;
  /** Time each view alone with recsignal as well (one child per view). */
  readonly perView: boolean;
  /** Give up on one timed operation after this many seconds. */
  readonly timeoutS: number;
  /** Compare hand-written SQL with recsignal on every row (default on at small sizes). */
  readonly check: boolean;
  /** Write BENCHMARKS.md and bench/results (off for a throwaway run). */
  readonly write: boolean;
  readonly quick: boolean;
  /** Keep the operations an interrupted run of the same size already measured. */
  readonly resume: boolean;
  readonly dataRoot: string;
}

const USAGE = `npm run bench -- [--quick] [--events N] [--spine N] [--slice-events N] [--slice-spine N]
  [--items N] [--seed N] [--no-reference] [--per-view] [--no-check] [--no-write] [--timeout S] [--resume]
Every flag also reads from the environment: BENCH_EVENTS, BENCH_SPINE, BENCH_QUICK=1, ...`;

/** Flags win over BENCH_* environment variables, which win over the defaults (10M events, 1M spine rows). */
export function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): BenchOptions {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--help' || a === '-h') {
      process.stdout.write(`${USAGE}\n`);
      process.exit(0);
    }
    if (!a.startsWith('--')) throw new Error(`unexpected argument '${a}'\n${USAGE}`);
    const [name, inline] = a.slice(2).split('=', 2) as [string, string | undefined];
    const boolean = ['quick', 'no-reference', 'per-view', 'check', 'no-check', 'no-write', 'resume'].includes(name);
    flags.set(name, boolean ? 'true' : (inline ?? argv[++i] ?? ''));
  }
  const get = (name: string): string | undefined => flags.get(name) ?? env[`BENCH_${name.toUpperCase().replaceAll('-', '_')}`];
  const num = (name: string, fallback: number): number => {
    const v = get(name);
    if (v === undefined || v === '') return fallback;
    const n = Number(v.replaceAll('_', ''));
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} '${v}': give a positive whole number\n${USAGE}`);
    return n;
  };
  const yes = (name: string): boolean => ['1', 'true', 'yes'].includes(String(get(name) ?? '').toLowerCase());
  const quick = yes('quick');
  const events = num('events', quick ? 300_000 : 10_000_000);
  const spine = num('spine', quick ? 30_000 : 1_000_000);
  const check = !(flags.has('no-check') || yes('no-check'));
  return {
    events,
    spine,
    days: 30,
    items: num('items', 5_000),
    seed: num('seed', 1),
    // The reference is quadratic (about 0.1 s a row on 100k events): a quick run gives it less.
    sliceEvents: num('slice-events', quick ? 30_000 : 100_000),
    sliceSpine: num('slice-spine', quick ? 3_000 : 10_000),
    skipReference: yes('no-reference'),
    perView: yes('per-view'),
    timeoutS: num('timeout', 45 * 60),
    check,
    write: !yes('no-write'),
    quick,
    resume: yes('resume'),
    dataRoot: env['BENCH_DATA'] ?? '/tmp/recsignal-bench',
  };
}

/** Users the generator needs for about `events` events over `days` days. */
export function usersFor(events: number, days: number): number {
  return Math.max(1, Math.round(events / (days * MEAN_EVENTS_PER_USER_DAY)));
}

/** The cache folder of one generated world: reruns of the same size and seed reuse it. */
export function worldDir(o: Pick<BenchOptions, 'events' | 'days' | 'items' | 'seed' | 'dataRoot'>): string {
  return join(o.dataRoot, `events${o.events}-items${o.items}-days${o.days}-seed${o.seed}`);
}
