/**
 * @module `npm run bench`: the batch path against its practical limit. On a generated log (10M
 * events by default) with the demo feature set, times recsignal's `backfill` and `training-set`
 * beside a hand-written DuckDB SQL script computing the same features (bench/handwritten/), checks
 * that the two agree cell by cell, and times the reference aggregator on a small slice. Every
 * operation runs alone in a child process. Writes bench/results/<date>-batch.json and the batch
 * section of BENCHMARKS.md. Data is cached under /tmp/recsignal-bench (BENCH_DATA), never in the repo.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEMO_FEATURES } from '../src/cli/demo.ts';
import { loadFeatureSet } from '../src/plan/load-features.ts';
import { featureColumns } from '../src/plan/rows.ts';
import { DuckDBEngine } from '../src/store/offline/duckdb-engine.ts';
import type { Comparison } from './compare.ts';
import type { Slice, World } from './data.ts';
import { SPINE_DAYS } from './data.ts';
import { parseOptions } from './options.ts';
import { machine, renderSection, writeBenchmarksMd, writeResultsJson, type BatchResults, type Operation } from './report.ts';
import { runStep, type StepResult } from './spawn.ts';

const argv = process.argv.slice(2);
const o = parseOptions(argv);
const verbose = Boolean(process.env['BENCH_VERBOSE']);
const say = (s: string) => process.stderr.write(`[bench] ${s}\n`);
const shown = argv.filter((a) => a !== '--resume');
const command = `npm run bench${shown.length > 0 ? ` -- ${shown.join(' ')}` : ''}`;
const compiled = await loadFeatureSet(DEMO_FEATURES);
const engine = await DuckDBEngine.open();
const duckdbVersion = String((await engine.query('SELECT version() AS v'))[0]?.['v']);
engine.close();
const started = machine(duckdbVersion);
const date = new Date().toISOString().slice(0, 10);

say(`preparing ${o.events.toLocaleString('en-US')} events, spine ${o.spine.toLocaleString('en-US')} (cache ${o.dataRoot})`);
const prep = await runStep('prepare.ts', argv, { timeoutS: 4 * 3600, verbose: true });
if (prep.status !== 'ok' || prep.report === null) throw new Error(`bench: preparing the data failed: ${prep.error}`);
const world = prep.report['world'] as World;
const slice = prep.report['slice'] as Slice | null;
const outDir = join(world.dir, 'out');
mkdirSync(outDir, { recursive: true });
const out = (name: string) => join(outDir, name);

// Each finished operation is saved at once, so a run that is killed (a shared machine) can go on
// with --resume instead of starting over.
const saved = join(outDir, 'operations.json');
const previous: Operation[] = o.resume && existsSync(saved) ? (JSON.parse(readFileSync(saved, 'utf8')) as Operation[]) : [];
const operations: Operation[] = [];
const step = async (id: string, label: string, engineName: Operation['engine'], script: string, args: readonly string[]): Promise<StepResult> => {
  const done = previous.find((p) => p.id === id && p.result.status !== 'failed');
  if (done) {
    operations.push(done);
    say(`${label}: kept from the interrupted run (--resume)`);
    return done.result;
  }
  say(`${label} …`);
  const result = await runStep(script, args, { timeoutS: o.timeoutS, verbose, env: verbose ? { BENCH_VERBOSE: '1' } : {} });
  operations.push({ id, label, engine: engineName, result });
  writeFileSync(saved, JSON.stringify([...previous.filter((p) => !operations.some((x) => x.id === p.id)), ...operations]));
  say(`${label}: ${result.status === 'ok' ? `${result.seconds?.toFixed(2)} s, peak ${Math.round(result.peakRssMb ?? 0)} MB` : `${result.status} (${result.error})`}`);
  return result;
};

const at = String(world.end);
await step('sql-backfill', 'hand-written SQL backfill', 'sql', 'op-sql.ts', ['backfill', '--log', world.log, '--at', at, '--out', out('sql-backfill.parquet')]);
await step('recsignal-backfill', 'recsignal backfill', 'recsignal', 'op-recsignal.ts', ['backfill', '--log', world.log, '--at', at, '--out', out('recsignal-backfill.parquet')]);
await step('sql-training-set', 'hand-written SQL training set', 'sql', 'op-sql.ts', ['training-set', '--log', world.log, '--spine', world.spine, '--out', out('sql-training.parquet')]);
await step('recsignal-training-set', 'recsignal training set', 'recsignal', 'op-recsignal.ts', ['training-set', '--log', world.log, '--spine', world.spine, '--out', out('recsignal-training.parquet')]);
if (slice !== null) {
  await step('recsignal-slice', 'recsignal training set on the slice', 'recsignal', 'op-recsignal.ts', ['training-set', '--log', slice.log, '--spine', slice.spine, '--out', out('recsignal-slice.parquet')]);
  await step('sql-slice', 'hand-written SQL training set on the slice', 'sql', 'op-sql.ts', ['training-set', '--log', slice.log, '--spine', slice.spine, '--out', out('sql-slice.parquet')]);
  await step('reference-slice', 'reference aggregator on the slice', 'reference', 'op-reference.ts', ['--events', slice.eventsFile, '--items', world.itemsFile, '--users', world.usersFile, '--spine', slice.spine]);
}

// The baseline is worth something only if it computes the same values: compare every cell.
const checks: Record<string, Comparison | { skipped: string }> = {};
const check = async (name: string, a: string, b: string, ok: boolean, keys: string | null, aInB = false) => {
  if (!o.check) return void (checks[name] = { skipped: 'turned off with --no-check' });
  if (!ok) return void (checks[name] = { skipped: 'one side did not finish' });
  const r = await runStep('check.ts', [a, b, keys ?? '-', ...(aInB ? ['a-in-b'] : [])], { timeoutS: 3600, verbose });
  checks[name] = r.status === 'ok' && r.report !== null ? (r.report as unknown as Comparison) : { skipped: `the check failed: ${r.error}` };
  const c = checks[name];
  say(`check ${name}: ${'skipped' in c ? c.skipped : c.mismatched.length === 0 && c.unpaired === 0 ? `${c.rowsA} rows × ${c.columnsCompared} columns equal` : `MISMATCH in ${c.mismatched.map((d) => d.column).join(', ') || `${c.unpaired} unpaired rows`}`}`);
};
const okOf = (id: string) => operations.find((x) => x.id === id)?.result.status === 'ok';
await check('backfill', out('recsignal-backfill.parquet'), out('sql-backfill.parquet'), okOf('recsignal-backfill') && okOf('sql-backfill'), 'entity,user_id,device,hour_bucket,item_id');
await check('training set', out('recsignal-training.parquet'), out('sql-training.parquet'), okOf('recsignal-training-set') && okOf('sql-training-set'), null);
if (o.check && okOf('sql-training-set')) {
  // A sample recsignal can finish even when the whole spine is too much for it: checks the
  // hand-written rows at full log size, and gives a ratio at a small spine.
  await step('recsignal-sample', `recsignal training set on every 50th spine row (${world.spineSampleRows} rows), for the check`, 'recsignal', 'op-recsignal.ts', ['training-set', '--log', world.log, '--spine', world.spineSample, '--out', out('recsignal-sample.parquet')]);
  await step('sql-sample', `hand-written SQL training set on the same ${world.spineSampleRows} rows`, 'sql', 'op-sql.ts', ['training-set', '--log', world.log, '--spine', world.spineSample, '--out', out('sql-sample.parquet')]);
  await check(`training set, ${world.spineSampleRows.toLocaleString('en-US')}-row sample`, out('recsignal-sample.parquet'), out('sql-training.parquet'), okOf('recsignal-sample'), 'user_id,item_id,ts', true);
}
if (slice !== null) await check('training set on the slice', out('recsignal-slice.parquet'), out('sql-slice.parquet'), okOf('recsignal-slice') && okOf('sql-slice'), null);

// Which views cost the most: recsignal's training set one view at a time.
const perView: { view: string; result: StepResult }[] = [];
if (o.perView) {
  const spineViews = compiled.ir.views.filter((v) => v.entity.keys.every((k) => ['user_id', 'item_id', 'hour_bucket', 'day_type'].includes(k)));
  for (const v of spineViews) {
    const id = `view-${v.name}`;
    const done = previous.find((p) => p.id === id && p.result.status !== 'failed');
    if (done) {
      perView.push({ view: v.name, result: done.result });
      continue;
    }
    say(`recsignal training set, view ${v.name} …`);
    const result = await runStep('op-recsignal.ts', ['training-set', '--log', world.log, '--spine', world.spine, '--out', out(`recsignal-view-${v.name}.parquet`), '--views', v.name], { timeoutS: Math.min(o.timeoutS, 900), verbose });
    perView.push({ view: v.name, result });
    operations.push({ id, label: `recsignal training set, view ${v.name}`, engine: 'recsignal', result });
    writeFileSync(saved, JSON.stringify([...previous.filter((p) => !operations.some((x) => x.id === p.id)), ...operations]));
    say(`  ${v.name}: ${result.status === 'ok' ? `${result.seconds?.toFixed(2)} s` : result.status}`);
  }
}

operations.splice(0, operations.length, ...operations.filter((x) => !x.id.startsWith('view-')));
const sqlSteps: Record<string, { sql: string; seconds: number }[]> = {};
for (const op of operations) if (op.engine === 'sql' && Array.isArray(op.result.report?.['steps'])) sqlSteps[op.id] = op.result.report['steps'] as { sql: string; seconds: number }[];

const results: BatchResults = {
  date,
  command,
  machine: started,
  sizes: {
    events: world.events,
    users: world.users,
    items: o.items,
    days: o.days,
    seed: o.seed,
    spineRows: world.spineRows,
    spinePositives: world.spinePositives,
    spineDays: SPINE_DAYS,
    spineSampleRows: world.spineSampleRows,
    sliceEvents: slice?.events ?? 0,
    sliceUsers: slice?.users ?? 0,
    sliceSpineRows: slice?.spineRows ?? 0,
    views: compiled.ir.views.length,
    trainingFeatures: featureColumns(compiled.ir).length - 1, // user_device needs a device the spine lacks
  },
  preparation: { ...world.timings, cache: world.dir },
  operations,
  checks,
  perView,
  sqlSteps,
};

const notes = [
  'What the baseline is: `bench/handwritten/training-set.sql` and `backfill.sql`, plain DuckDB SQL written by hand for exactly this feature set, the way a competent engineer would: per user, window functions whose RANGE frame starts at each row\'s own sawtooth start, over the union of events and query rows; per item and per user × genre, running totals read by ASOF joins at t and at each window\'s start (DuckDB\'s RANGE frames take minutes over partitions of hundreds of thousands of rows, such as a popular item\'s); ASOF joins for the latest state before t (sessions, last device); and, for the k most recent distinct items, a join on the span during which an event is its item\'s latest. The backfill is one GROUP BY per entity. Query rows are deduplicated and named by integer surrogates. Nothing is left out: the three request-time features are rewritten as SQL expressions, so both sides produce every column. It runs on DuckDB\'s defaults (memory limit 80% of RAM, all cores), as recsignal does.',
  '',
  'Reproduce: `npm run bench` (full size: 10M events, 1M spine rows; `--per-view` adds recsignal one view at a time, `--resume` goes on after an interrupted run) or `npm run bench -- --quick` (300k events, 30k rows, a 30k-event slice). Generated data, the ingested log and the spines are cached under /tmp/recsignal-bench (`BENCH_DATA`), so a rerun times only the operations. Raw figures, each hand-written statement\'s time and the checks: `bench/results/`.',
];
if (o.write) {
  const suffix = o.quick ? '-quick' : o.events === 10_000_000 && o.spine === 1_000_000 ? '' : `-${o.events}-${o.spine}`;
  say(`wrote ${writeResultsJson(results, suffix)}`);
  if (!o.quick || process.env['BENCH_WRITE_MD_QUICK']) say(`wrote ${writeBenchmarksMd(renderSection(results, notes))}`);
}
process.stdout.write(`${renderSection(results, notes)}\n`);
