/** @module The benchmark's outputs: bench/results/<date>-batch.json and the batch section of BENCHMARKS.md. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Comparison } from './compare.ts';
import type { StepResult } from './spawn.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const BEGIN = '<!-- bench:batch -->';
const END = '<!-- /bench:batch -->';

export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGb: number;
  readonly os: string;
  readonly node: string;
  readonly duckdb: string;
  /** 1-minute load average when the run began: the machine is shared, and this says how busy it was. */
  readonly loadAtStart: number;
}

/** The machine as every benchmark describes it. */
export function machineBasics(): { cpu: string; cores: number; memoryGb: number; os: string; node: string } {
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memoryGb: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()}`,
    node: process.version,
  };
}

export function machine(duckdbVersion: string): Machine {
  return {
    ...machineBasics(),
    duckdb: duckdbVersion,
    loadAtStart: Math.round((os.loadavg()[0] ?? 0) * 100) / 100,
  };
}

export interface Operation {
  readonly id: string;
  readonly label: string;
  readonly engine: 'recsignal' | 'sql' | 'reference';
  readonly result: StepResult;
}

export interface BatchResults {
  readonly date: string;
  readonly command: string;
  readonly machine: Machine;
  readonly sizes: Readonly<Record<string, number>>;
  readonly preparation: Readonly<Record<string, unknown>>;
  readonly operations: readonly Operation[];
  readonly checks: Readonly<Record<string, Comparison | { readonly skipped: string }>>;
  readonly perView: readonly { readonly view: string; readonly result: StepResult }[];
  readonly sqlSteps: Readonly<Record<string, readonly { sql: string; seconds: number }[]>>;
}

export function writeResultsJson(r: BatchResults, suffix: string): string {
  const dir = join(REPO, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${r.date}-batch${suffix}.json`);
  writeFileSync(path, `${JSON.stringify(r, null, 2)}\n`);
  return path;
}

const fmtS = (s: StepResult | undefined): string => {
  if (s === undefined) return '—';
  if (s.status === 'timeout') return `> ${Math.round(s.processSeconds)} s (killed)`;
  if (s.status === 'failed' || s.seconds === null) return `failed after ${Math.round(s.processSeconds)} s${/Out of Memory/i.test(s.error ?? '') ? ' (DuckDB out of memory)' : ''}`;
  return s.seconds < 10 ? `${s.seconds.toFixed(2)} s` : `${s.seconds.toFixed(1)} s`;
};
const fmtMb = (s: StepResult | undefined): string => (s?.peakRssMb == null ? '—' : s.peakRssMb >= 1024 ? `${(s.peakRssMb / 1024).toFixed(1)} GB` : `${Math.round(s.peakRssMb)} MB`);
const ratio = (a: StepResult | undefined, b: StepResult | undefined): string => {
  if (a?.status === 'timeout' && b?.seconds) return `> ${(a.processSeconds / b.seconds).toFixed(1)}x`;
  if (!a?.seconds || !b?.seconds) return '—';
  return `${(a.seconds / b.seconds).toFixed(2)}x`;
};

/** The markdown of one run: command, machine, date, the table, the checks. */
export function renderSection(r: BatchResults, notes: readonly string[]): string {
  const op = (id: string) => r.operations.find((o) => o.id === id)?.result;
  const m = r.machine;
  const s = r.sizes;
  const lines = [
    BEGIN,
    '## Batch: backfill and training set',
    '',
    `Command: \`${r.command}\` · date ${r.date} · ${m.cpu}, ${m.cores} cores, ${m.memoryGb} GB RAM, ${m.os}, Node ${m.node}, DuckDB ${m.duckdb} · load average ${m.loadAtStart} at the start (a shared machine: other jobs ran too, so take the figures as ±20%).`,
    '',
    `Input: ${fmtN(s['events'])} generated events (${fmtN(s['users'])} users, ${fmtN(s['items'])} items, ${s['days']} days), ingested through the CLI's Parquet path; spine of ${fmtN(s['spineRows'])} impressions of the last ${s['spineDays']} days, labelled by a play within 10 minutes (${fmtN(s['spinePositives'])} positive); the demo feature set (\`examples/streaming/features.ts\`, ${s['views']} views, ${s['trainingFeatures']} training-set features). Each operation runs alone in its own Node process; time is the operation itself (as the child measured it), memory is the child's peak RSS.`,
    '',
    '| operation | recsignal | hand-written SQL | ratio | peak memory recsignal / SQL |',
    '|---|---|---|---|---|',
    `| \`backfill\` as of the log's end (${fmtN(numberOf(op('recsignal-backfill')?.report?.['rows']))} entity rows) | ${fmtS(op('recsignal-backfill'))} | ${fmtS(op('sql-backfill'))} | ${ratio(op('recsignal-backfill'), op('sql-backfill'))} | ${fmtMb(op('recsignal-backfill'))} / ${fmtMb(op('sql-backfill'))} |`,
    `| \`training-set\`, ${fmtN(s['spineRows'])}-row spine | ${fmtS(op('recsignal-training-set'))} | ${fmtS(op('sql-training-set'))} | ${ratio(op('recsignal-training-set'), op('sql-training-set'))} | ${fmtMb(op('recsignal-training-set'))} / ${fmtMb(op('sql-training-set'))} |`,
    ...(op('recsignal-sample') ? [`| \`training-set\`, every 50th row of that spine (${fmtN(s['spineSampleRows'])} rows) | ${fmtS(op('recsignal-sample'))} | ${fmtS(op('sql-sample'))} | ${ratio(op('recsignal-sample'), op('sql-sample'))} | ${fmtMb(op('recsignal-sample'))} / ${fmtMb(op('sql-sample'))} |`] : []),
    `| \`training-set\` on the slice (${fmtN(s['sliceEvents'])} events, ${fmtN(s['sliceSpineRows'])} rows) | ${fmtS(op('recsignal-slice'))} | ${fmtS(op('sql-slice'))} | ${ratio(op('recsignal-slice'), op('sql-slice'))} | ${fmtMb(op('recsignal-slice'))} / ${fmtMb(op('sql-slice'))} |`,
    '',
    `Reference aggregator (\`referenceFeatures\`, the tests' oracle) on the same slice: ${fmtS(op('reference-slice'))}, peak ${fmtMb(op('reference-slice'))} — ${ratio(op('reference-slice'), op('recsignal-slice'))} recsignal's time there. Goal: recsignal within 1.3x of the hand-written SQL.`,
    '',
  ];
  const checks = Object.entries(r.checks);
  if (checks.length > 0) {
    lines.push('Correctness of the baseline (every cell of the hand-written result against recsignal\'s; numbers within a relative 1e-9, lists in order, histograms by key):', '');
    for (const [name, c] of checks) {
      if ('skipped' in c) lines.push(`- ${name}: not checked (${c.skipped})`);
      else if (c.mismatched.length === 0 && c.unpaired === 0) lines.push(`- ${name}: ${fmtN(c.rowsA)} rows × ${c.columnsCompared} columns, all equal.`);
      else lines.push(`- ${name}: ${c.unpaired} unpaired rows; mismatching columns: ${c.mismatched.map((d) => `${d.column} (${d.mismatches} rows${d.maxAbsDiff !== null ? `, max diff ${d.maxAbsDiff.toExponential(2)}` : ''})`).join(', ') || 'none'}.`);
    }
    lines.push('');
  }
  if (r.perView.length > 0) {
    lines.push('recsignal `training-set` one view at a time (`--views <name>`), slowest first:', '', '| view | time | peak memory |', '|---|---|---|');
    const sorted = [...r.perView].sort((a, b) => (b.result.seconds ?? b.result.processSeconds) - (a.result.seconds ?? a.result.processSeconds));
    for (const v of sorted) lines.push(`| ${v.view} | ${fmtS(v.result)} | ${fmtMb(v.result)} |`);
    lines.push('');
  }
  lines.push(...notes, END);
  return lines.join('\n');
}

/** Replaces the batch section of BENCHMARKS.md (between its markers), keeping every other section. */
export function writeBenchmarksMd(section: string): string {
  return replaceSection(BEGIN, END, section);
}

/**
 * Re-reads BENCHMARKS.md and replaces only the text from `begin` to `end` with `block` (which
 * carries both markers); appended at the end when the section is absent.
 */
export function replaceSection(begin: string, end: string, block: string): string {
  const path = join(REPO, 'BENCHMARKS.md');
  const before = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmarks\n\nHow fast recsignal is, measured by `npm run bench` and friends; raw figures in `bench/results/`.\n';
  const i = before.indexOf(begin);
  const j = before.indexOf(end);
  const next = i >= 0 && j > i ? `${before.slice(0, i)}${block}${before.slice(j + end.length)}` : `${before.trimEnd()}\n\n${block}\n`;
  writeFileSync(path, next);
  return path;
}

function fmtN(n: unknown): string {
  return typeof n === 'number' ? n.toLocaleString('en-US') : '?';
}

function numberOf(v: unknown): number | undefined {
  return typeof v === 'number' ? v : undefined;
}
