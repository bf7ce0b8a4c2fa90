/**
 * @module `node --import tsx bench/stream.ts`: the real-time path against the goals of the real-time
 * issue, on a generated world held in memory. Steps, each in its own Node process: apply throughput
 * (bench/stream-apply.ts), fetch latency in process and over HTTP (bench/stream-fetch.ts with the
 * load generator bench/stream-load.ts), online memory (bench/stream-memory.ts, --expose-gc). Before
 * each step it waits for a 1-minute load below 1.5 (the machine is shared), for at most
 * BENCH_MAX_WAIT_S seconds in all (default 1800), then measures anyway and says so. Writes
 * bench/results/<date>-stream.json and the stream section of BENCHMARKS.md. BENCH_STEPS=apply,fetch,memory
 * runs only those steps and keeps the others from the day's results file.
 */
import { readFileSync } from 'node:fs';
import { optionArgs, parseStreamOptions, runChild, say } from './stream-common.ts';
import { renderStreamSection, streamMachine, writeStreamJson, writeStreamSection, type StepRecord, type StreamResults } from './stream-report.ts';

const argv = process.argv.slice(2);
const o = parseStreamOptions(argv);
const QUIET_LOAD = 1.5;
const POLL_S = 20;
const maxWaitS = Number(process.env['BENCH_MAX_WAIT_S'] ?? 1800);
const waitDeadline = Date.now() + maxWaitS * 1000;
const startedAt = new Date().toISOString();

function load1(): number {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}

/** Waits for a quiet machine; returns the load when the step may start and whether it gave up waiting. */
async function quiet(step: string): Promise<{ load: number; busy: boolean }> {
  for (;;) {
    const load = load1();
    if (load < QUIET_LOAD) return { load, busy: false };
    if (Date.now() >= waitDeadline) {
      say(`${step}: load ${load} still ≥ ${QUIET_LOAD}; measuring anyway (the figures will say the machine was loaded)`);
      return { load, busy: true };
    }
    say(`${step}: load ${load} ≥ ${QUIET_LOAD}; waiting ${POLL_S} s`);
    await new Promise((r) => setTimeout(r, POLL_S * 1000));
  }
}

const steps: StepRecord[] = [];
const run = async (step: string, script: string, nodeFlags: string[], timeoutS: number) => {
  const q = await quiet(step);
  say(`${step} …`);
  const r = await runChild(script, optionArgs(o), { nodeFlags, timeoutS });
  steps.push({ step, loadAtStart: q.load, machineBusy: q.busy, seconds: Math.round(r.seconds * 10) / 10, peakRssMb: r.peakRssMb, error: r.error, report: r.report });
  say(`${step}: ${r.ok ? 'done' : `failed (${r.error})`} in ${r.seconds.toFixed(1)} s`);
};

// BENCH_STEPS=fetch reruns one step and keeps the others from today's results file.
const only = process.env['BENCH_STEPS']?.split(',');
const today = startedAt.slice(0, 10);
const previous = ((): readonly StepRecord[] => {
  if (only === undefined) return [];
  try {
    return (JSON.parse(readFileSync(`bench/results/${today}-stream.json`, 'utf8')) as StreamResults).steps;
  } catch {
    return [];
  }
})();
for (const [step, script, flags, timeoutS] of [
  ['apply', 'stream-apply.ts', [], 1800],
  ['fetch', 'stream-fetch.ts', [], 1200],
  ['memory', 'stream-memory.ts', ['--expose-gc'], 1200],
] as const) {
  const kept = previous.find((p) => p.step === step);
  if (only !== undefined && !only.includes(step) && kept !== undefined) steps.push(kept);
  else await run(step, script, [...flags], timeoutS);
}

const results: StreamResults = {
  date: today,
  startedAt,
  command: `node --import tsx bench/stream.ts${argv.length > 0 ? ` ${argv.join(' ')}` : ''}`,
  machine: streamMachine(),
  options: { ...o },
  steps,
};
say(`wrote ${writeStreamJson(results)}`);
say(`wrote ${writeStreamSection(renderStreamSection(results))}`);
