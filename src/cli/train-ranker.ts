/** @module `recsignal train-ranker`: a GBDT ranker on a training set, saved as JSON, with its held-out metrics. */
import { type Command, Option } from 'commander';
import { RecsignalError } from '../core/errors.ts';
import { saveFeatureRanker, topFeaturesByGain, trainFeatureRanker, type FeatureRanker, type HeldOutMetrics } from '../models/feature-ranker.ts';
import { decimalNumber, nonNegativeInt, positiveInt } from './parse.ts';

function list(v: string): string[] {
  return v.split(',').map((s) => s.trim()).filter(Boolean);
}

function share(v: string): number {
  const n = decimalNumber(v);
  if (!Number.isFinite(n) || n <= 0 || n >= 1) throw new RecsignalError('INVALID_ARGUMENT', `--holdout '${v}': give a share between 0 and 1, e.g. 0.2`);
  return n;
}

/** One line of held-out figures, as the CLI and the demo print them. */
export function formatHeldOut(m: HeldOutMetrics, group = 'user_id'): string {
  const f = (x: number | null) => (x === null ? 'n/a' : x.toFixed(4));
  // Held out by group: users by default, whatever --group names otherwise.
  const noun = group === 'user_id' ? 'users' : `groups (${group})`;
  return `held-out ${m.users} ${noun} (${m.rows} rows, ${m.positives} positive): AUC ${f(m.auc)}${m.logloss === null ? '' : `, logloss ${f(m.logloss)}`}, nDCG@10 ${f(m.ndcgAt10)}; trained on ${m.trainUsers} ${noun} (${m.trainRows} rows), ${m.trees} trees`;
}

export function formatTopFeatures(r: FeatureRanker, n: number): string {
  return topFeaturesByGain(r, n).map((t) => `  ${t.name.padEnd(58)} ${(t.share * 100).toFixed(1).padStart(5)}%`).join('\n');
}

export function registerTrainRanker(program: Command, out: (s: string) => void = (s) => process.stdout.write(s)): void {
  program
    .command('train-ranker')
    .description('train a GBDT ranker on a point-in-time training set (binary, or LambdaMART per user), holding out users for early stopping; saves JSON for `serve --model`')
    .requiredOption('--training-set <file>', 'Parquet or CSV training set (e.g. from `recsignal training-set`)')
    .requiredOption('--label <column>', 'label column (0/1 for binary, relevance grades for lambdarank)')
    .requiredOption('--out <model.json>', 'where to write the model')
    .addOption(new Option('--objective <name>', 'objective').choices(['binary', 'lambdarank']).default('binary'))
    .option('--group <column>', 'rows are grouped (lambdarank) and held out by this column', 'user_id')
    .option('--features <cols>', 'feature columns, comma-separated (default: every column but keys, ts and the label)', list)
    .option('--exclude <cols>', 'columns to leave out, comma-separated', list)
    .option('--holdout <share>', 'share of users held out for early stopping and the metrics', share, 0.2)
    .option('--seed <n>', 'seed of the held-out users and of bagging', nonNegativeInt('seed'), 7)
    .option('--iterations <n>', 'most trees (early stopping keeps the best)', positiveInt('iterations'), 300)
    .option('--json', 'print the metrics as JSON')
    .action(async (o) => {
      const t0 = performance.now();
      const r = await trainFeatureRanker({
        trainingSet: o.trainingSet, label: o.label, objective: o.objective, group: o.group, holdout: o.holdout, seed: o.seed, numIterations: o.iterations,
        ...(o.features ? { features: o.features } : {}), ...(o.exclude ? { exclude: o.exclude } : {}),
      });
      saveFeatureRanker(r, o.out);
      const seconds = (performance.now() - t0) / 1000;
      if (o.json) {
        out(`${JSON.stringify({ objective: r.objective, metrics: r.metrics, features: r.features.map((f) => f.name), skipped: r.skipped, top_features: topFeaturesByGain(r, 10), out: o.out, seconds })}\n`);
        return;
      }
      out(`${r.objective} ranker on ${r.features.length} features → ${o.out} (${seconds.toFixed(1)} s)\n`);
      out(`${formatHeldOut(r.metrics, o.group)}\n`);
      if (r.skipped.length > 0) out(`skipped    ${r.skipped.map((s) => `${s.column} (${s.reason})`).join(', ')}\n`);
      out(`top features by gain:\n${formatTopFeatures(r, 10)}\n`);
    });
}
