/**
 * @module The evaluation report: one list of blocks (headings, text, tables, SVG figures) rendered
 * twice, as report.md (figures as .svg files beside it) and as a self-contained report.html.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { EvaluationResult, MetricSet } from './evaluate.ts';
import { barChart, escapeXml, horizontalBarChart } from './svg.ts';

export type ReportBlock =
  | { readonly kind: 'h'; readonly level: 1 | 2; readonly text: string }
  | { readonly kind: 'p'; readonly text: string }
  | { readonly kind: 'table'; readonly head: readonly string[]; readonly rows: readonly (readonly string[])[] }
  | { readonly kind: 'figure'; readonly file: string; readonly caption: string; readonly svg: string };

const f4 = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : '–');
const withCi = (m: MetricSet, key: keyof MetricSet['ci']) => `${f4(m[key])} [${f4(m.ci[key].lower)}, ${f4(m.ci[key].upper)}]`;
const pFmt = (p: number) => p.toFixed(4);

const PROTOCOL_TEXT: Record<EvaluationResult['protocol'], string> = {
  'ms-stratified': 'each item\'s interactions split at random into training and test (Microsoft Recommenders `python_stratified_split`, filter by item)',
  'per-user': 'each user\'s interactions split at random into training and test',
  time: 'one global timestamp cutoff: training is every interaction before it, test every one at or after it; nothing after the cutoff is used for training',
};

/** The report as blocks: the one content both renderings share. */
export function reportBlocks(r: EvaluationResult): ReportBlock[] {
  const k = r.k;
  const names = Object.keys(r.models);
  const level = `${Math.round(r.level * 100)}%`;
  const b: ReportBlock[] = [{ kind: 'h', level: 1, text: `recsignal evaluation: ${r.protocol}, k = ${k}` }];
  const src = r.data.source ? `${r.data.source.path} (${r.data.source.format}): ` : '';
  b.push({ kind: 'p', text: `${src}${r.data.rows.toLocaleString('en-US')} interactions, ${r.data.users} users, ${r.data.items} items. Protocol: ${PROTOCOL_TEXT[r.protocol]}${r.split.ratio !== undefined ? `, training share ${r.split.ratio}` : ''}${r.split.cutoff ? `, cutoff ${r.split.cutoff}` : ''}; seed ${r.seed}.` });
  b.push({ kind: 'p', text: `${r.split.train.toLocaleString('en-US')} training rows, ${r.split.test.toLocaleString('en-US')} test rows, ${r.split.testUsers} test users. Every model ranks all ${r.split.catalogue} training items for each test user, minus the items the user has in training; every test item is relevant. Intervals: ${level} percentile bootstrap over users, ${r.resamples} resamples. Took ${r.seconds.toFixed(1)} s.` });

  b.push({ kind: 'h', level: 2, text: 'Metrics' });
  b.push({
    kind: 'table',
    head: ['model', `nDCG@${k}`, `nDCG@${k} graded`, `P@${k}`, `R@${k}`, `MAP (÷n, Recommenders' map)`, `MAP@${k} (÷min(k, n), Recommenders' map_at_k)`, `MRR@${k}`, `hit rate@${k}`, 'AUC', 'coverage', 'novelty', 'train s'],
    rows: names.map((n) => {
      const m = r.models[n]!;
      return [n, withCi(m, 'ndcg'), withCi(m, 'ndcgGraded'), withCi(m, 'precision'), withCi(m, 'recall'), withCi(m, 'map'), withCi(m, 'mapAtK'), withCi(m, 'mrr'), withCi(m, 'hitRate'), withCi(m, 'auc'), f4(m.coverage), (Number.isFinite(m.novelty) ? m.novelty.toFixed(2) : '–'), m.fitSeconds.toFixed(1)];
    }),
  });
  b.push({ kind: 'p', text: `MAP (÷n) divides the sum of precisions at the hits in the top ${k} by the user's number of test items, as Microsoft Recommenders' \`map\` does; MAP@${k} (÷min(k, n)) divides by min(k, test items), as its \`map_at_k\` does (the usual MAP@k). Graded nDCG uses the rating as the gain. Coverage: distinct recommended items / catalogue. Novelty: mean −log2 of each recommended item's share of the training interactions.` });
  for (const [metric, label] of [['ndcg', `nDCG@${k}`], ['precision', `P@${k}`]] as const) {
    b.push({
      kind: 'figure', file: `${metric}.svg`, caption: `${label} by model, ${level} bootstrap interval`,
      svg: barChart(`${label} by model (${level} CI)`, names.map((n) => {
        const m = r.models[n]!;
        return { label: n, bars: [{ series: label, value: m[metric], lower: m.ci[metric].lower, upper: m.ci[metric].upper }] };
      })),
    });
  }

  b.push({ kind: 'h', level: 2, text: 'Paired tests' });
  if (r.baseline === null) b.push({ kind: 'p', text: 'One model only: nothing to compare.' });
  else {
    b.push({ kind: 'p', text: `Each model against ${r.baseline}, per user on the same test users: mean difference with its ${level} paired bootstrap interval, the bootstrap p-value and a sign-flip permutation p-value (${r.resamples} resamples each).` });
    b.push({ kind: 'table', head: ['model', 'against', 'metric', 'difference', 'interval', 'p (bootstrap)', 'p (permutation)'],
      rows: r.comparisons.map((c) => [c.model, c.against, c.metric, `${c.diff >= 0 ? '+' : ''}${f4(c.diff)}`, `[${f4(c.lower)}, ${f4(c.upper)}]`, pFmt(c.pValue), pFmt(c.permutationPValue)]) });
  }

  b.push({ kind: 'h', level: 2, text: 'Warm and cold users' });
  const segmented = names.filter((n) => r.models[n]!.segments);
  if (segmented.length === 0) {
    const without = r.split.usersWithoutTraining ?? 0;
    b.push({ kind: 'p', text: `Only \`--protocol time\` splits the test users into warm (training interactions before the cutoff) and cold (none). Here ${without === 0 ? 'every test user has training rows' : `${without} of ${r.split.testUsers} test users have no training row: a model that needs history recommends nothing to them and scores 0 for them (Microsoft Recommenders leaves such users out)`}.` });
  }
  else {
    b.push({ kind: 'p', text: `${r.split.warmUsers} warm test users (with interactions before the cutoff) and ${r.split.coldUsers} cold ones (none). A model that cannot score a user recommends nothing and scores 0 for that user; "scored" counts the users it could rank for.` });
    b.push({ kind: 'table', head: ['model', 'warm users', `warm nDCG@${k}`, `warm P@${k}`, 'cold users', 'cold scored', `cold nDCG@${k}`, `cold P@${k}`],
      rows: segmented.map((n) => {
        const { warm, cold } = r.models[n]!.segments!;
        return [n, String(warm.users), withCi(warm, 'ndcg'), withCi(warm, 'precision'), String(cold.users), String(cold.scoredUsers), withCi(cold, 'ndcg'), withCi(cold, 'precision')];
      }) });
    b.push({
      kind: 'figure', file: 'warm-cold.svg', caption: `nDCG@${k} of warm and cold users`,
      svg: barChart(`nDCG@${k}: warm vs cold users (${level} CI)`, segmented.map((n) => {
        const { warm, cold } = r.models[n]!.segments!;
        return { label: n, bars: [
          { series: 'warm', value: warm.ndcg, lower: warm.ci.ndcg.lower, upper: warm.ci.ndcg.upper },
          { series: 'cold', value: cold.ndcg, lower: cold.ci.ndcg.lower, upper: cold.ci.ndcg.upper },
        ] };
      })),
    });
  }

  const explained = names.filter((n) => r.models[n]!.explain);
  b.push({ kind: 'h', level: 2, text: 'Feature importance' });
  if (!explained.some((n) => r.models[n]!.explain!.importance.length > 0)) b.push({ kind: 'p', text: 'No model in this run reports feature importance (a model fills it through `explain.importance`; the ranker does).' });
  for (const n of explained) {
    const imp = r.models[n]!.explain!.importance;
    if (imp.length === 0) continue;
    const total = imp.reduce((s, x) => s + x.gain, 0) || 1;
    b.push({ kind: 'table', head: ['model', 'feature', 'gain', 'share'], rows: imp.map((x) => [n, x.feature, x.gain.toPrecision(4), `${((100 * x.gain) / total).toFixed(1)}%`]) });
    b.push({ kind: 'figure', file: `importance-${n}.svg`, caption: `${n}: total split gain per feature`, svg: horizontalBarChart(`${n}: feature importance (gain)`, imp.slice(0, 30).map((x) => ({ label: x.feature, value: x.gain }))) });
  }
  const generated = explained.filter((n) => r.models[n]!.explain!.candidateRecall);
  if (generated.length > 0) {
    b.push({ kind: 'h', level: 2, text: 'Candidate generation' });
    b.push({ kind: 'p', text: 'Share of held-out items among the candidates (recall@n on the model\'s own inner holdouts): the union, and each source\'s own top n. The union bounds what the ranker can find.' });
    b.push({ kind: 'table', head: ['model', 'source', 'recall@n'], rows: generated.flatMap((n) => {
      const c = r.models[n]!.explain!.candidateRecall!;
      return [[n, `union (n = ${c.n} a source)`, f4(c.union)], ...Object.entries(c.bySource).map(([g, x]) => [n, g, f4(x)])];
    }) });
  }
  b.push({ kind: 'h', level: 2, text: 'Feature-group ablation' });
  if (!explained.some((n) => r.models[n]!.explain!.ablation.length > 0)) b.push({ kind: 'p', text: 'No model in this run reports an ablation (a model fills it through `explain.ablation`, measuring each variant with the harness\'s nDCG; the ranker does).' });
  for (const n of explained) {
    const ab = r.models[n]!.explain!.ablation;
    if (ab.length === 0) continue;
    const base = r.models[n]!.explain!.ablationBaseline ?? r.models[n]!.ndcg;
    if (r.models[n]!.explain!.ablationBaseline !== undefined) b.push({ kind: 'p', text: `${n}: deltas are against the full model trained like the variants: nDCG@${k} ${f4(base)} (the reported model, ${f4(r.models[n]!.ndcg)}, is trained otherwise).` });
    b.push({ kind: 'table', head: ['model', 'without group', `nDCG@${k}`, 'delta'], rows: ab.map((x) => [n, x.group, f4(x.ndcg), `${x.delta >= 0 ? '+' : ''}${f4(x.delta)}`]) });
    b.push({ kind: 'figure', file: `ablation-${n}.svg`, caption: `${n}: nDCG@${k} without each feature group`,
      svg: barChart(`${n}: nDCG@${k} without each feature group`, [{ label: 'all features', bars: [{ series: 'nDCG', value: base }] }, ...ab.map((x) => ({ label: x.group, bars: [{ series: 'nDCG', value: x.ndcg }] }))]) });
  }
  return b;
}

const mdCell = (s: string) => s.replace(/\|/g, '\\|');

export function renderMarkdown(blocks: readonly ReportBlock[]): string {
  const out: string[] = [];
  for (const b of blocks) {
    if (b.kind === 'h') out.push(`${'#'.repeat(b.level)} ${b.text}`);
    else if (b.kind === 'p') out.push(b.text);
    else if (b.kind === 'figure') out.push(`![${b.caption}](${b.file})`);
    else out.push([`| ${b.head.map(mdCell).join(' | ')} |`, `|${b.head.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`, ...b.rows.map((r) => `| ${r.map(mdCell).join(' | ')} |`)].join('\n'));
  }
  return `${out.join('\n\n')}\n`;
}

const inline = (s: string) => escapeXml(s).replace(/`([^`]+)`/g, '<code>$1</code>');

export function renderHtml(blocks: readonly ReportBlock[]): string {
  const title = blocks.find((b) => b.kind === 'h');
  const body = blocks.map((b) => {
    if (b.kind === 'h') return `<h${b.level}>${inline(b.text)}</h${b.level}>`;
    if (b.kind === 'p') return `<p>${inline(b.text)}</p>`;
    if (b.kind === 'figure') return `<figure>${b.svg}<figcaption>${inline(b.caption)}</figcaption></figure>`;
    return `<table><thead><tr>${b.head.map((h) => `<th>${inline(h)}</th>`).join('')}</tr></thead><tbody>${b.rows.map((r) => `<tr>${r.map((c) => `<td>${inline(c)}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
  });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title && title.kind === 'h' ? inline(title.text) : 'recsignal evaluation'}</title>
<style>body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}table{border-collapse:collapse;font-size:13px;margin:1em 0}th,td{border:1px solid #ccc;padding:3px 6px;text-align:right;white-space:nowrap}th:first-child,td:first-child{text-align:left}figure{margin:1em 0}figcaption{font-size:12px;color:#555}</style>
</head><body>
${body.join('\n')}
</body></html>
`;
}

/** Writes report.md, report.html and the figures' .svg files into `dir` (created); returns the paths written. */
export async function writeReport(result: EvaluationResult, dir: string): Promise<string[]> {
  const blocks = reportBlocks(result);
  await mkdir(dir, { recursive: true });
  const files: string[] = [];
  const put = async (name: string, text: string) => {
    const p = join(dir, name);
    await writeFile(p, text);
    files.push(p);
  };
  await put('report.md', renderMarkdown(blocks));
  await put('report.html', renderHtml(blocks));
  for (const b of blocks) if (b.kind === 'figure') await put(b.file, `${b.svg}\n`);
  return files;
}
