/**
 * @module Runs one benchmark step in its own Node process, so that its wall time and peak memory
 * are its own: the child prints a JSON report as its last stdout line (see child.ts). A child that
 * runs past the timeout is killed; its peak memory is then what /proc last showed.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface StepResult {
  readonly status: 'ok' | 'failed' | 'timeout';
  /** The child's own measure of the operation (ok only). */
  readonly seconds: number | null;
  /** Spawn to exit, as the parent saw it (includes Node and tsx start-up). */
  readonly processSeconds: number;
  readonly peakRssMb: number | null;
  readonly report: Record<string, unknown> | null;
  readonly error: string | null;
}

const REPO = fileURLToPath(new URL('..', import.meta.url));

/** What a finished child left: its exit, its output, and the most memory /proc showed it holding. */
export interface ChildRun {
  readonly code: number | null;
  readonly timedOut: boolean;
  /** Spawn to exit, as the parent saw it (includes Node and tsx start-up). */
  readonly seconds: number;
  /** The JSON object on its last stdout line, if it printed one. */
  readonly report: Record<string, unknown> | null;
  /** The end of its stderr. */
  readonly stderrTail: string;
  readonly hwmMb: number | null;
}

/**
 * `node [flags] --import tsx bench/<script> ...args` from the repository root, in its own process
 * group (a timeout kills it and nothing else); peak memory polled from /proc every second.
 */
export async function spawnChild(script: string, args: readonly string[], o: { readonly timeoutS: number; readonly nodeFlags?: readonly string[]; readonly env?: NodeJS.ProcessEnv; readonly onStderr?: (s: string) => void; readonly stderrChars?: number }): Promise<ChildRun> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [...(o.nodeFlags ?? []), '--import', 'tsx', `bench/${script}`, ...args], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    env: { ...process.env, ...o.env },
  });
  let stdout = '';
  let stderrTail = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    o.onStderr?.(s);
    stderrTail = (stderrTail + s).slice(-(o.stderrChars ?? 20000));
  });
  let hwmMb: number | null = null;
  const poll = setInterval(() => {
    const v = vmHwmMb(child.pid);
    if (v !== null) hwmMb = v;
  }, 1000);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
  }, o.timeoutS * 1000);
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  clearTimeout(timer);
  clearInterval(poll);
  let report: Record<string, unknown> | null = null;
  try {
    report = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as Record<string, unknown>;
  } catch {
    report = null;
  }
  return { code, timedOut, seconds: (performance.now() - t0) / 1000, report, stderrTail, hwmMb };
}

/** One timed batch operation: the child measures itself; a failure names its cause (out of memory first). */
export async function runStep(script: string, args: readonly string[], options: { timeoutS: number; verbose: boolean; env?: NodeJS.ProcessEnv }): Promise<StepResult> {
  const run = await spawnChild(script, args, { timeoutS: options.timeoutS, ...(options.env ? { env: options.env } : {}), ...(options.verbose ? { onStderr: (s: string) => process.stderr.write(s) } : {}) });
  const { report, hwmMb, seconds: processSeconds } = run;
  if (run.timedOut) return { status: 'timeout', seconds: null, processSeconds, peakRssMb: hwmMb, report: null, error: `killed after ${options.timeoutS} s` };
  if (run.code !== 0 || report === null) {
    const lines = run.stderrTail.trim().split('\n');
    const cause = lines.find((l) => /Out of Memory/i.test(l)) ?? lines.find((l) => /^\s*\w*Error:/.test(l)) ?? lines.at(-1) ?? '';
    return { status: 'failed', seconds: null, processSeconds, peakRssMb: hwmMb, report: null, error: `exit ${run.code}: ${cause.trim()}` };
  }
  const seconds = typeof report['seconds'] === 'number' ? report['seconds'] : null;
  const peak = typeof report['peakRssMb'] === 'number' ? report['peakRssMb'] : hwmMb;
  return { status: 'ok', seconds, processSeconds, peakRssMb: peak, report, error: null };
}

function vmHwmMb(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}
