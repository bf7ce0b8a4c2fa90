/** @module What every timed child prints last: its own measure of the operation and its peak memory, as one JSON line. */

export interface ChildReport {
  /** Seconds of the operation itself (from the call to its result on disk). */
  readonly seconds: number;
  /** Peak resident set of the child process, MB (process.resourceUsage().maxRSS). */
  readonly peakRssMb: number;
  readonly [extra: string]: unknown;
}

/** Times `op`, then prints the report line; the process exits right after so nothing else runs. */
export async function timeAndReport(op: () => Promise<Record<string, unknown>>): Promise<void> {
  const t0 = performance.now();
  const extra = await op();
  const seconds = (performance.now() - t0) / 1000;
  const report: ChildReport = { ...extra, seconds, peakRssMb: process.resourceUsage().maxRSS / 1024 };
  process.stdout.write(`\n${JSON.stringify(report)}\n`);
}

/** `name value` pairs after the positional arguments. */
export function argMap(args: readonly string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i + 1 < args.length; i += 2) m.set((args[i] as string).replace(/^--/, ''), args[i + 1] as string);
  return m;
}
