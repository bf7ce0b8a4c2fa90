/** @module `recsignal evaluate`: read interactions, run the evaluation library, print JSON or a table, write the report. */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { type Command, Option } from 'commander';
import { RecsignalError } from '../core/errors.ts';
import { parseInstant } from '../core/time.ts';
import { INPUT_FORMATS, isInputFormat, isProblemRecord, openReader, type InputFormat } from '../events/readers/index.ts';
import { createEventValidator } from '../events/validate.ts';
import { evaluate, type EvaluationResult } from '../eval/evaluate.ts';
import { MODELS, PROTOCOLS, resolveModels, type ProtocolName } from '../eval/models.ts';
import { writeReport } from '../eval/report.ts';
import type { Interaction } from '../eval/types.ts';
import { decimalNumber, positiveInt } from './parse.ts';

const DEFAULT_TYPES = ['rating', 'play', 'complete', 'add_to_list'];

/**
 * The interactions of an input, in source order: validated events of the given types that name an
 * item; `rating` = the event's value (1 when it has none). Rejected lines are counted, not fatal.
 */
export async function readInteractions(path: string, format: InputFormat, types: readonly string[] = DEFAULT_TYPES): Promise<{ rows: Interaction[]; rejected: number; skipped: number; reasons: string[] }> {
  const validate = createEventValidator({ extraTypes: types });
  const keep = new Set(types);
  const rows: Interaction[] = [];
  // The first few rejections, each with its first problem: what to fix when every line is refused.
  const reasons: string[] = [];
  const note = (position: string, p: { path: string; message: string; fix: string } | undefined) => {
    if (reasons.length < MAX_REASONS && p !== undefined) reasons.push(`${position}: ${p.path} ${p.message} (fix: ${p.fix})`);
  };
  let rejected = 0, skipped = 0;
  for await (const record of openReader(path, { format })) {
    if (isProblemRecord(record)) {
      rejected++;
      note(record.position, record.problems[0]);
      continue;
    }
    const v = validate(record.raw);
    if (!v.ok) {
      rejected++;
      note(record.position, v.problems[0]);
    } else if (v.event.itemId === null || !keep.has(v.event.type)) skipped++;
    else rows.push({ user: v.event.userId, item: v.event.itemId, rating: v.event.value ?? 1, ts: v.event.ts });
  }
  return { rows, rejected, skipped, reasons };
}

const MAX_REASONS = 3;

function list(v: string): string[] {
  return v.split(',').map((s) => s.trim()).filter(Boolean);
}

function seedOf(v: string): number {
  const n = decimalNumber(v);
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RecsignalError('INVALID_ARGUMENT', `--seed '${v}': give a whole number from 0 to 4294967295`);
  return n;
}

function fraction(name: string) {
  return (v: string) => {
    const n = decimalNumber(v);
    if (!(n > 0 && n < 1)) throw new RecsignalError('INVALID_ARGUMENT', `--${name} '${v}': give a number strictly between 0 and 1, e.g. 0.75`);
    return n;
  };
}

const f4 = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : '–');

/** The plain-text table printed without --json. */
export function formatResultTable(r: EvaluationResult): string {
  const lines = [`protocol ${r.protocol}, k ${r.k}: ${r.split.train} training rows, ${r.split.test} test rows, ${r.split.testUsers} test users${r.split.cutoff ? `, cutoff ${r.split.cutoff} (${r.split.warmUsers} warm, ${r.split.coldUsers} cold)` : ''}`];
  const head = ['model', `nDCG@${r.k}`, '95% CI', `P@${r.k}`, `R@${r.k}`, 'MAP', `MAP@${r.k}`, 'MRR', 'hit', 'AUC', 'cover', 'novelty'];
  const rows = Object.entries(r.models).map(([name, m]) => [name, f4(m.ndcg), `[${f4(m.ci.ndcg.lower)}, ${f4(m.ci.ndcg.upper)}]`, f4(m.precision), f4(m.recall), f4(m.map), f4(m.mapAtK), f4(m.mrr), f4(m.hitRate), f4(m.auc), f4(m.coverage), (Number.isFinite(m.novelty) ? m.novelty.toFixed(2) : '–')]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  for (const row of [head, ...rows]) lines.push(row.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '));
  for (const [name, m] of Object.entries(r.models)) {
    if (m.segments) lines.push(`${name}: warm nDCG@${r.k} ${f4(m.segments.warm.ndcg)} (${m.segments.warm.users} users), cold ${f4(m.segments.cold.ndcg)} (${m.segments.cold.users} users, ${m.segments.cold.scoredUsers} scored)`);
  }
  for (const c of r.comparisons.filter((x) => x.metric === 'ndcg')) {
    lines.push(`${c.model} − ${c.against}: nDCG@${r.k} ${c.diff >= 0 ? '+' : ''}${f4(c.diff)} [${f4(c.lower)}, ${f4(c.upper)}], p ${c.pValue.toFixed(4)} (bootstrap) / ${c.permutationPValue.toFixed(4)} (permutation)`);
  }
  lines.push(`took ${r.seconds.toFixed(1)} s`);
  return `${lines.join('\n')}\n`;
}

/** Adds the command; it writes through the program's configured output (stdout / stderr in the bin). */
export function registerEvaluate(program: Command): void {
  const io = program.configureOutput();
  const out = (s: string) => (io.writeOut ?? ((x: string) => process.stdout.write(x)))(s);
  const err = (s: string) => (io.writeErr ?? ((x: string) => process.stderr.write(x)))(s);
  program
    .command('evaluate')
    .description('offline evaluation: split the interactions, train each model, rank every catalogue item per user (minus training items) and report metrics at k with bootstrap intervals and paired tests')
    .requiredOption('--data <path>', 'the interactions: a MovieLens folder, or a CSV / JSONL / Parquet events file')
    .addOption(new Option('--format <format>', 'input format').choices([...INPUT_FORMATS]).makeOptionMandatory())
    .addOption(new Option('--protocol <name>', 'ms-stratified: each item 75/25 at random (Microsoft Recommenders, seed 42); per-user: each user 75/25 at random; time: one global cutoff, warm and cold users apart').choices([...PROTOCOLS]).default('ms-stratified'))
    .option('--k <n>', 'cutoff depth', positiveInt('k'), 10)
    .addOption(new Option('--models <list>', `comma-separated: ${MODELS.map((m) => m.name).join(', ')}`).argParser(list).default(['popularity', 'itemknn', 'sar', 'ease', 'als'], 'popularity,itemknn,sar,ease,als'))
    .option('--baseline <name>', 'reference model of the paired tests (default: the best baseline by nDCG@k)')
    .addOption(new Option('--param <model.key=value>', 'a hyperparameter, e.g. ease.lambda=300 (repeatable)').argParser((v: string, prev: string[]) => [...prev, v]).default([], 'none'))
    .option('--seed <n>', 'split and bootstrap seed', seedOf, 42)
    .option('--ratio <x>', 'training share: per item / per user (default 0.75), or by time (default 0.8)', fraction('ratio'))
    .option('--cutoff <time>', '--protocol time: the cutoff instant (ms or ISO-8601 with zone) instead of --ratio')
    .option('--resamples <n>', 'bootstrap and permutation resamples', positiveInt('resamples'), 1000)
    .addOption(new Option('--types <list>', 'event types that count as interactions (CSV / JSONL / Parquet)').argParser(list).default(DEFAULT_TYPES, DEFAULT_TYPES.join(',')))
    .option('--report <dir>', 'write report.md, report.html and the SVG plots to this folder')
    .option('--json', 'print one JSON object on stdout')
    .option('--quiet', 'no progress lines on stderr')
    .action(async (o) => {
      if (!isInputFormat(o.format)) throw new RecsignalError('INVALID_ARGUMENT', `--format: use one of ${INPUT_FORMATS.join(', ')}`);
      const say = o.quiet ? () => undefined : (m: string) => err(`evaluate: ${m}\n`);
      resolveModels(o.models); // unknown or unavailable models fail before the data is read
      if (o.report) reportFolder(o.report); // and a report that cannot be written, before the work
      const t0 = performance.now();
      const data = await readInteractions(o.data, o.format, o.types);
      say(`read ${data.rows.length.toLocaleString('en-US')} interactions from ${o.data} in ${((performance.now() - t0) / 1000).toFixed(1)} s${data.rejected > 0 ? `; ${data.rejected} rejected lines left out, e.g. ${data.reasons.join('; ')}` : ''}`);
      if (data.rows.length === 0) {
        throw new RecsignalError('INVALID_INPUT', `no interactions to evaluate in ${o.data}: ${data.rejected} lines rejected${data.rejected > 0 ? ` (${data.reasons.join('; ')})` : ''}, ${data.skipped} of other types (evaluated: ${o.types.join(', ')}; --types to change)`);
      }
      const result = await evaluate({
        interactions: data.rows,
        protocol: o.protocol as ProtocolName,
        models: o.models,
        k: o.k,
        params: o.param,
        seed: o.seed,
        resamples: o.resamples,
        source: { path: o.data, format: o.format },
        onProgress: say,
        ...(o.baseline !== undefined ? { baseline: o.baseline } : {}),
        ...(o.ratio !== undefined ? { ratio: o.ratio } : {}),
        ...(o.cutoff !== undefined ? { cutoffTs: parseInstant(o.cutoff, '--cutoff') } : {}),
      });
      // The figures first: a report that fails to write must not lose them.
      out(o.json ? `${JSON.stringify(result)}\n` : formatResultTable(result));
      if (o.report) {
        let files: string[];
        try {
          files = await writeReport(result, o.report);
        } catch (e) {
          throw new RecsignalError('IO_FAILED', `--report ${o.report}: writing the report failed (${(e as Error).message}); the figures above are complete`, { cause: e });
        }
        say(`report: ${files.join(', ')}`);
      }
    });
}

/** Makes the report folder, or says why --report cannot be one. */
function reportFolder(dir: string): void {
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new RecsignalError('INVALID_ARGUMENT', `--report ${dir} is a file; give a folder (it is made if missing)`);
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new RecsignalError('INVALID_ARGUMENT', `--report ${dir}: cannot make that folder (${(e as Error).message}); give a folder that can be written`, { cause: e });
  }
}
