/**
 * The evaluation runner: exact values on a small literal table under one time cutoff (warm and cold
 * users), the registry's refusals, a model's `explain` reaching the report, and the three protocols
 * on the real ML-100K.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { DAY_MS } from '../core/time.ts';
import { trainItemKnn } from './baselines/itemknn.ts';
import { trainPopularity } from './baselines/popularity.ts';
import { bootstrapIntervals, evaluate, type EvaluationResult } from './evaluate.ts';
import { MODELS, modelParams, resolveModels, type ModelEntry } from './models.ts';
import { renderHtml, renderMarkdown, reportBlocks } from './report.ts';
import { bootstrapCi } from './significance.ts';
import type { Interaction } from './types.ts';

const row = (user: string, item: string, day: number, rating = 4): Interaction => ({ user, item, rating, ts: day * DAY_MS });

// Train (before day 5): u1 {a, b}, u2 {a, c}, u4 {d}. Test: u1 c, u2 b, and u3, who has nothing before the cutoff.
const ROWS: Interaction[] = [
  row('u1', 'a', 1), row('u1', 'b', 2), row('u2', 'a', 1), row('u2', 'c', 3), row('u4', 'd', 1),
  row('u1', 'c', 10), row('u2', 'b', 11, 5), row('u3', 'b', 12),
];
const close = (actual: number, expected: number, what: string) => assert.ok(Math.abs(actual - expected) < 1e-12, `${what}: ${actual} ≠ ${expected}`);

describe('evaluate on a small literal table, one time cutoff', () => {
  const run = () => evaluate({ interactions: ROWS, protocol: 'time', cutoffTs: 5 * DAY_MS, k: 2, models: ['popularity', 'itemknn'], resamples: 200 });

  test('split, catalogue and warm / cold users', async () => {
    const r = await run();
    assert.deepEqual(r.split, { train: 5, test: 3, testUsers: 3, catalogue: 4, cutoff: '1970-01-06T00:00:00.000Z', warmUsers: 2, coldUsers: 1 });
    assert.deepEqual(r.data, { rows: 8, users: 4, items: 4 });
  });

  test('popularity: every metric by hand', async () => {
    const m = (await run()).models['popularity']!;
    // Counts a 2, b c d 1 (ties in catalogue order). u1 gets [c, d], u2 [b, d]: a hit at rank 1; cold u3 gets [a, b]: a hit at rank 2.
    const atTwo = 1 / Math.log2(3);
    close(m.ndcg, (2 + atTwo) / 3, 'nDCG');
    close(m.precision, 0.5, 'P');
    close(m.recall, 1, 'R');
    close(m.mrr, (1 + 1 + 0.5) / 3, 'MRR');
    close(m.map, (1 + 1 + 0.5) / 3, 'MAP');
    close(m.hitRate, 1, 'hit rate');
    // u1: c ties d → ½; u2: b ties d → ½; u3: b (1) loses to a (2), ties c and d → 1/3.
    close(m.auc, (0.5 + 0.5 + 1 / 3) / 3, 'AUC');
    close(m.coverage, 1, 'coverage');
    close(m.novelty, (5 * -Math.log2(1 / 5) + -Math.log2(2 / 5)) / 6, 'novelty');
    assert.equal(m.users, 3);
    assert.equal(m.scoredUsers, 3);
    assert.ok(m.ci.ndcg.lower <= m.ndcg && m.ndcg <= m.ci.ndcg.upper);
    close(m.segments!.warm.ndcg, 1, 'warm nDCG');
    close(m.segments!.cold.ndcg, atTwo, 'cold nDCG');
    assert.equal(m.segments!.cold.users, 1);
  });

  test('a personalised model scores nothing for cold users; the paired test uses the best baseline', async () => {
    const r = await run();
    const knn = r.models['itemknn']!;
    close(knn.segments!.warm.ndcg, 1, 'warm nDCG');
    assert.equal(knn.segments!.cold.scoredUsers, 0);
    close(knn.segments!.cold.ndcg, 0, 'cold nDCG');
    assert.equal(r.baseline, 'popularity');
    const c = r.comparisons.find((x) => x.model === 'itemknn' && x.metric === 'ndcg')!;
    assert.equal(c.against, 'popularity');
    close(c.diff, -1 / Math.log2(3) / 3, 'difference');
    assert.ok(c.pValue > 0 && c.pValue <= 1 && c.permutationPValue > 0 && c.permutationPValue <= 1);
  });

  test('results are deterministic for a seed', async () => {
    const strip = (r: EvaluationResult) => JSON.stringify({ ...r, seconds: 0, models: Object.fromEntries(Object.entries(r.models).map(([n, m]) => [n, { ...m, fitSeconds: 0, evalSeconds: 0 }])) });
    assert.equal(strip(await run()), strip(await run()));
  });
});

test('one bootstrap pass over several vectors gives bootstrapCi of each, bit for bit', () => {
  const a = Float64Array.from({ length: 57 }, (_, i) => ((i * 7919) % 101) / 101);
  const b = Float64Array.from(a, (x, i) => (i % 3 === 0 ? 1 - x : x * x));
  const o = { resamples: 300, seed: 7, level: 0.9 };
  const both = bootstrapIntervals([a, b], o);
  [a, b].forEach((v, i) => {
    const one = bootstrapCi(v, o);
    assert.deepEqual(both[i], { lower: one.lower, upper: one.upper });
  });
  assert.ok(Number.isNaN(bootstrapIntervals([new Float64Array(0)], o)[0]!.lower), 'no users: no interval');
});

describe('the registry refuses bad requests before any work', () => {
  const base = { interactions: ROWS, protocol: 'per-user' as const };
  test('every unknown model is named', async () => {
    await assert.rejects(evaluate({ ...base, models: ['sar', 'bpr', 'lightgcn'] }), /unknown models 'bpr', 'lightgcn'; use some of popularity, popularity-decayed, itemknn, userknn, sar, ease, als, embedding, rp3beta, ranker/);
  });
  test('a parameter the model does not have, and a baseline not evaluated', async () => {
    await assert.rejects(evaluate({ ...base, models: ['ease'], params: ['ease.lamda=3', 'sar.x=1'] }), /ease has no parameter 'lamda'; it has lambda; 'sar.x=1': model 'sar' is not evaluated in this run/);
    await assert.rejects(evaluate({ ...base, models: ['ease', 'sar'], baseline: 'popularity' }), /baseline 'popularity' is not among the evaluated models/);
    await assert.rejects(evaluate({ ...base, models: ['ease'], cutoffTs: 1 }), /a cutoff applies to --protocol time only/);
  });
  test('a parameter override reaches the model', async () => {
    const r = await evaluate({ interactions: ROWS, protocol: 'time', cutoffTs: 5 * DAY_MS, k: 2, models: ['popularity-decayed'], params: ['popularity-decayed.halfLifeDays=0.5'], resamples: 10 });
    assert.deepEqual(r.models['popularity-decayed']!.params, { halfLifeDays: 0.5 });
    assert.equal(r.baseline, null, 'one model: nothing to compare');
  });
});

describe('a model explain reaches the JSON and the report', () => {
  const explained: ModelEntry = {
    name: 'explained', description: 'popularity with a made-up explanation', defaults: {}, baseline: false,
    train(ctx) {
      // Ablation measured with the harness's own rule: item-kNN stands in for "without the popularity group".
      const without = ctx.measureNdcg(trainItemKnn(ctx.train, { items: ctx.items }));
      const full = ctx.measureNdcg(trainPopularity(ctx.train, { items: ctx.items }));
      return { ...trainPopularity(ctx.train, { items: ctx.items }), explain: {
        importance: [{ feature: 'item_stats__play_count_7d', gain: 30 }, { feature: 'user<&>genre', gain: 10 }],
        ablation: [{ group: 'popularity', ndcg: without, delta: without - full }],
        candidateRecall: { n: 50, union: 0.625, bySource: { ease: 0.5, popularity: 0.25 } },
      } };
    },
  };
  const registry = [...MODELS, explained];

  test('measureNdcg is the harness nDCG, and the sections render with their SVGs', async () => {
    const r = await evaluate({ interactions: ROWS, protocol: 'time', cutoffTs: 5 * DAY_MS, k: 2, models: ['itemknn', 'explained'], registry, resamples: 50 });
    const m = r.models['explained']!;
    close(m.explain!.ablation[0]!.ndcg, r.models['itemknn']!.ndcg, 'ablation nDCG');
    close(m.explain!.ablation[0]!.delta, r.models['itemknn']!.ndcg - m.ndcg, 'ablation delta');
    assert.equal(r.baseline, 'itemknn', 'the best baseline, not the best model');
    const blocks = reportBlocks(r);
    const md = renderMarkdown(blocks);
    assert.match(md, /\| explained \| item_stats__play_count_7d \| 30\.00 \| 75\.0% \|/);
    assert.match(md, /\| explained \| popularity \| 0\.6667 \| -0\.2103 \|/);
    assert.match(md, /!\[explained: total split gain per feature\]\(importance-explained\.svg\)/);
    assert.match(md, /## Candidate generation[\s\S]*\| explained \| union \(n = 50 a source\) \| 0\.6250 \|\n\| explained \| ease \| 0\.5000 \|\n\| explained \| popularity \| 0\.2500 \|/);
    assert.deepEqual(m.explain!.candidateRecall, { n: 50, union: 0.625, bySource: { ease: 0.5, popularity: 0.25 } }, 'in the JSON as the model gave it');
    const html = renderHtml(blocks);
    assert.ok(html.includes('user&lt;&amp;&gt;genre'), 'text is escaped');
    assert.equal(html.match(/<svg /g)?.length, blocks.filter((b) => b.kind === 'figure').length);
    for (const b of blocks) if (b.kind === 'figure') assertWellFormedTags(b.svg);
  });
});

/** No tag repeats an attribute (XML forbids it; renderers reject the whole image). */
function assertWellFormedTags(svg: string): void {
  for (const tag of svg.match(/<[a-z][^>]*>/g) ?? []) {
    const names = [...tag.matchAll(/\s([a-z-]+)="/g)].map((x) => x[1]);
    assert.equal(new Set(names).size, names.length, `repeated attribute in ${tag}`);
  }
  assert.equal(svg.match(/<svg/g)?.length, svg.match(/<\/svg>/g)?.length);
}

const FILE = path.resolve(process.cwd(), '../shared/data/ml-100k/u.data');
const skip = !existsSync(FILE) && process.env.CI !== 'true' ? `MovieLens 100K not found at ${FILE}` : false;

describe('ML-100K, the three protocols', { skip }, () => {
  const ratings = () => readFileSync(FILE, 'utf8').split('\n').filter((l) => l.length > 0).map((line) => {
    const [user, item, rating, seconds] = line.split('\t');
    return { user: user!, item: item!, rating: Number(rating), ts: Number(seconds) * 1000 };
  });

  test('ms-stratified reproduces SAR exactly', async (t) => {
    const r = await evaluate({ interactions: ratings(), protocol: 'ms-stratified', models: ['popularity', 'sar'], resamples: 200 });
    const sar = r.models['sar']!;
    t.diagnostic(`SAR nDCG@10 ${sar.ndcg.toFixed(6)} P@10 ${sar.precision.toFixed(6)} MAP ${sar.map.toFixed(6)}; ${r.seconds.toFixed(1)} s`);
    assert.ok(Math.abs(sar.ndcg - 0.393819) < 5e-6 && Math.abs(sar.precision - 0.340615) < 5e-6 && Math.abs(sar.map - 0.114038) < 5e-6);
    assert.equal(r.split.train, 75_066);
    assert.equal(sar.segments, undefined, 'segments belong to the time protocol');
  });

  test('per-user: every test user is warm and the personalised models beat popularity', async (t) => {
    const r = await evaluate({ interactions: ratings(), protocol: 'per-user', models: ['popularity', 'itemknn'], resamples: 200 });
    t.diagnostic(`per-user nDCG@10: popularity ${r.models['popularity']!.ndcg.toFixed(4)}, item-kNN ${r.models['itemknn']!.ndcg.toFixed(4)}`);
    assert.equal(r.split.testUsers, 943);
    assert.equal(r.models['itemknn']!.scoredUsers, 943);
    const c = r.comparisons.find((x) => x.model === 'popularity' && x.metric === 'ndcg')!;
    assert.ok(c.against === 'itemknn' && c.upper < 0 && c.pValue < 0.05);
  });

  test('time: 109 warm and 192 cold users, reported apart', async (t) => {
    const r = await evaluate({ interactions: ratings(), protocol: 'time', models: ['popularity-decayed', 'ease'], resamples: 200 });
    const pop = r.models['popularity-decayed']!, ease = r.models['ease']!;
    t.diagnostic(`warm nDCG@10: popularity-decayed ${pop.segments!.warm.ndcg.toFixed(4)}, EASE ${ease.segments!.warm.ndcg.toFixed(4)}; cold: ${pop.segments!.cold.ndcg.toFixed(4)} / ${ease.segments!.cold.ndcg.toFixed(4)}`);
    assert.equal(r.split.cutoff, '1998-03-07T02:21:09.000Z');
    assert.deepEqual([pop.segments!.warm.users, pop.segments!.cold.users], [109, 192]);
    assert.equal(ease.segments!.cold.scoredUsers, 0);
    assert.equal(pop.segments!.cold.scoredUsers, 192);
    assert.ok(ease.segments!.warm.ndcg > 0.1 && pop.segments!.cold.ndcg > 0.3);
  });

  test('time: the embedding model scores cold users from their demographics, as ALS does warm ones', async (t) => {
    const source = { path: path.dirname(FILE), format: 'movielens' as const };
    const r = await evaluate({ interactions: ratings(), protocol: 'time', models: ['popularity', 'als', 'embedding'], resamples: 200, source });
    const pop = r.models['popularity']!, als = r.models['als']!, emb = r.models['embedding']!;
    t.diagnostic(`cold nDCG@10: popularity ${pop.segments!.cold.ndcg.toFixed(4)}, embedding ${emb.segments!.cold.ndcg.toFixed(4)}; warm: ALS ${als.segments!.warm.ndcg.toFixed(4)}, embedding ${emb.segments!.warm.ndcg.toFixed(4)}`);
    assert.equal(emb.segments!.cold.scoredUsers, 192, 'every cold user has a vector from u.user');
    assert.equal(als.segments!.cold.scoredUsers, 0);
    assert.equal(emb.segments!.warm.ndcg, als.segments!.warm.ndcg, 'warm users: the same factors as ALS');
    assert.ok(emb.segments!.cold.ndcg > pop.segments!.cold.ndcg, 'the demographic projection beats plain popularity for cold users');
  });
});

test('--param values outside what a parameter may be are refused, naming the key (they ran to tied scores or a message about another key)', () => {
  const entries = resolveModels(['als', 'userknn', 'itemknn', 'sar', 'ease', 'popularity-decayed']);
  for (const [param, text] of [
    ['als.factors=0', 'als.factors takes a whole number from 1'],
    ['als.factors=2.5', 'als.factors takes a whole number from 1'],
    ['als.regularization=-5', 'als.regularization takes a number from 0'],
    ['userknn.neighbours=0', 'userknn.neighbours takes a whole number from 1'],
    ['itemknn.neighbours=-1', 'itemknn.neighbours takes a whole number from 0'],
    ['sar.halfLifeDays=0', 'sar.halfLifeDays takes a number above 0'],
    ['popularity-decayed.halfLifeDays=0', 'popularity-decayed.halfLifeDays takes a number above 0'],
    ['ease.lambda=0x10', 'ease.lambda takes a number written in decimal'],
  ] as const) {
    assert.throws(() => modelParams(entries, [param]), (e: Error) => e.message.includes(text), param);
  }
  const ok = modelParams(entries, ['itemknn.neighbours=0', 'ease.lambda=250.5', 'als.factors=16']);
  assert.deepEqual([ok.get('itemknn')?.['neighbours'], ok.get('ease')?.['lambda'], ok.get('als')?.['factors']], [0, 250.5, 16]);
});

test('degenerate evaluations say why their figures are 0 or capped: no test item in the catalogue, k beyond it', async () => {
  const t0 = Date.UTC(2024, 0, 1);
  const rows = [
    { user: 'u1', item: 'a', rating: 1, ts: t0 },
    { user: 'u2', item: 'b', rating: 1, ts: t0 + 1000 },
    // After the cutoff, only an item never seen before it.
    { user: 'u1', item: 'new', rating: 1, ts: t0 + 5000 },
  ];
  const notes: string[] = [];
  await evaluate({ interactions: rows, protocol: 'time', models: ['popularity'], k: 5, cutoffTs: t0 + 2000, resamples: 20, onProgress: (m) => notes.push(m) });
  assert.ok(notes.some((m) => /warning: no test item is in the catalogue/.test(m)), notes.join('\n'));
  assert.ok(notes.some((m) => /warning: k 5 exceeds the catalogue's 2 items: precision@k is at most 0\.400/.test(m)), notes.join('\n'));
});

test('the ranker on too little data says so, naming the model, instead of a matrix shape', async () => {
  const t0 = Date.UTC(2024, 0, 1);
  const rows = [
    { user: 'u1', item: 'x', rating: 1, ts: t0 },
    { user: 'u2', item: 'y', rating: 1, ts: t0 + 100_000 },
    { user: 'u1', item: 'y', rating: 1, ts: t0 + 200_000 },
  ];
  await assert.rejects(evaluate({ interactions: rows, protocol: 'time', models: ['ranker'], k: 5, resamples: 20 }), /ranker: the inner splits of the training part gave 0 candidate rows .*too little data to learn from/);
});
