/** The ranker end to end on a seeded slice of ML-100K, and its parts on small literal data. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readInteractions } from '../../cli/evaluate.ts';
import { evaluate } from '../../eval/evaluate.ts';
import { MODELS, type ModelEntry } from '../../eval/models.ts';
import type { Interaction, Scorer } from '../../eval/types.ts';
import { trainEase } from '../../eval/baselines/ease.ts';
import { candidateRecall, fitBaseModels, generateCandidates, ratedWeight, type BaseModel } from './candidates.ts';
import { trainColdScorer } from './cold.ts';
import { itemEmbeddings } from './embeddings.ts';
import { loadRankerFeatureSet, pairFeatures, withTrainingLog } from './features.ts';
import { FEATURE_GROUPS, groupOf } from './groups.ts';
import { concatLearningSets, fitLambdaMart, type LearningSet } from './learn.ts';
import { trainRanker, type RankerModel } from './pipeline.ts';

const ML = fileURLToPath(new URL('../../../../shared/data/ml-100k', import.meta.url));

const fixed = (items: string[], v: number[]): Scorer => ({ items, score: (u) => (u === 'nobody' ? undefined : Float64Array.from(v)) });

test('rated EASE: the plain EASE when every rating weighs 1; a low rating weighs less; scoring only', () => {
  const liked: Interaction[] = [
    ['u1', 'a'], ['u1', 'b'], ['u2', 'a'], ['u2', 'b'], ['u2', 'c'], ['u3', 'b'], ['u3', 'c'], ['u4', 'a'], ['u4', 'c'], ['u4', 'd'],
  ].map(([user, item], i) => ({ user: user!, item: item!, rating: 5, ts: i }));
  const items = ['a', 'b', 'c', 'd'];
  const rate = (train: Interaction[]) => trainEase(train, { items, lambda: 2, weight: (r) => ratedWeight(r.rating) });
  const plain = trainEase(liked, { items, lambda: 2 }), rated = rate(liked);
  for (const u of ['u1', 'u2', 'u3', 'u4']) {
    const p = plain.score(u)!, r = rated.score(u)!;
    p.forEach((v, j) => assert.ok(Math.abs(v - r[j]!) < 1e-12, `${u} ${items[j]}: ${v} vs ${r[j]}`));
  }
  // u1 rates b low (weight 0.5): u1's scores change.
  const mixed = liked.map((r) => (r.user === 'u1' && r.item === 'b' ? { ...r, rating: 2 } : r));
  assert.notDeepEqual(Array.from(rate(mixed).score('u1')!), Array.from(rated.score('u1')!));
  const base = fitBaseModels(liked, { items, seed: 1, ratingEase: true });
  assert.deepEqual(base.filter((b) => b.name === 'ease_rated').map((b) => b.generates), [false]);
  assert.equal(fitBaseModels(liked, { items, seed: 1 }).some((b) => b.name === 'ease_rated'), false);
});

test('candidates: the union of each model top n, seen items excluded, recall at most 1', () => {
  const items = ['a', 'b', 'c', 'd', 'e'];
  const base: BaseModel[] = [
    { name: 'm1', scorer: fixed(items, [5, 4, 3, 2, 1]), generates: true },
    { name: 'm2', scorer: fixed(items, [1, 2, 3, 4, 5]), generates: true },
  ];
  const set = generateCandidates(base, ['u'], new Map([['u', new Set(['a'])]]), 2);
  assert.deepEqual(Array.from(set.items, (i) => items[i]), ['b', 'c', 'd', 'e']);
  assert.deepEqual(set.featureNames, ['m1_score', 'm1_rank', 'm2_score', 'm2_rank']);
  // b: m1 score 4, rank 1 among unseen; m2 score 2, rank 4.
  assert.deepEqual(Array.from(set.features.subarray(0, 4)), [4, 1, 2, 4]);
  const truth = new Map([['u', new Map([['b', 5], ['z', 3]])]]);
  assert.equal(candidateRecall(set, truth), 0.5);
  // By source: m1's top 2 unseen are b, c; m2's are e, d.
  assert.deepEqual(set.generators, ['m1', 'm2']);
  assert.deepEqual(Array.from(set.sources), [1, 1, 2, 2]);
  assert.equal(candidateRecall(set, truth, 'm1'), 0.5);
  assert.equal(candidateRecall(set, truth, 'm2'), 0);
  assert.throws(() => candidateRecall(set, truth, 'm3'), /'m3' generates no candidates/);
  assert.equal(generateCandidates(base, ['nobody'], new Map(), 2).users.length, 0, 'a user no base model knows gets no candidates');
});

test('candidate ranks follow the stable rule (score, then catalogue order) with many ties', () => {
  let x = 99;
  const rand = () => ((x = (x * 1103515245 + 12345) % 2147483648) / 2147483648);
  const items = Array.from({ length: 200 }, (_, i) => `i${String(i).padStart(3, '0')}`);
  // Scores on a coarse grid (many ties, a -0 among the zeros), and a seen tenth of the catalogue.
  const v = items.map(() => Math.floor(rand() * 12) / 4 - 1).map((s, i) => (i === 7 ? -0 : s));
  const seen = new Set(items.filter(() => rand() < 0.1));
  const set = generateCandidates([{ name: 'm', scorer: fixed(items, v), generates: true }], ['u'], new Map([['u', seen]]), 30);
  const unseen = items.map((_, i) => i).filter((i) => !seen.has(items[i]!));
  const expected = [...unseen].sort((a, b) => v[b]! - v[a]! || a - b);
  const rankOf = new Map(expected.map((i, r) => [i, r + 1] as const));
  assert.deepEqual(Array.from(set.items), expected.slice(0, 30).sort((a, b) => a - b), 'the top 30 by the stable rule, in catalogue order');
  Array.from(set.items).forEach((i, r) => assert.equal(set.features[r * 2 + 1], rankOf.get(i), `rank of ${items[i]}`));
});

test('every ranker feature name falls in one ablation group', () => {
  assert.equal(groupOf('ease_rank'), 'base-model scores');
  assert.equal(groupOf('popularity_decayed_score'), 'base-model scores');
  assert.equal(groupOf('als_score'), 'embeddings');
  assert.equal(groupOf('emb_cosine'), 'embeddings');
  assert.equal(groupOf('user_ratings__recency'), 'user temporal');
  assert.equal(groupOf('item_ratings__trend'), 'item popularity');
  assert.equal(groupOf('user_meta__age'), 'metadata');
  assert.equal(groupOf('genre_match'), 'crosses');
});

test('LambdaMART keeps at least minTrees when early stopping, exactly `iterations` without it, and refits on every user', () => {
  // 80 users x 8 candidates; column 0 is the label plus seeded noise, column 1 is noise.
  let x = 12345;
  const rand = () => ((x = (x * 1103515245 + 12345) % 2147483648) / 2147483648);
  const sizes = Array.from({ length: 80 }, () => 8);
  const rows = 640;
  const labels = Float64Array.from({ length: rows }, (_, r) => (r % 8 < 2 ? 1 : 0));
  const data = Float64Array.from({ length: rows * 2 }, (_, i) => (i % 2 === 0 ? labels[i / 2]! + 2 * rand() : rand()));
  const half = (from: number): LearningSet => ({
    names: ['signal', 'noise'], data: data.subarray(from * 2 * 320, (from + 1) * 2 * 320), labels: labels.subarray(from * 320, (from + 1) * 320),
    groupSizes: sizes.slice(0, 40), groupUsers: Array.from({ length: 40 }, (_, u) => `u${u}`), rows: 320,
  });
  // The same 40 users twice (two inner splits): one set of 80 groups.
  const set = concatLearningSets([half(0), half(1)]);
  assert.equal(set.rows, rows);
  assert.equal(set.groupSizes.length, 80);
  const p = { iterations: 50, learningRate: 0.1, leaves: 3, minDataInLeaf: 5, earlyStopping: 3, minTrees: 20, validShare: 0.3, truncation: 8, featureFraction: 0.8, baggingFraction: 0.8, objective: 'lambdarank' as const, seed: 1, k: 3, refit: false };
  let stoppedAt = -1;
  const stopped = fitLambdaMart(set, [0, 1], p, { onStop: (best) => (stoppedAt = best) }).model;
  assert.ok(stoppedAt >= 1 && stoppedAt <= 50, `validation chose ${stoppedAt}`);
  assert.equal(stopped.numTrees, Math.max(stoppedAt, 20), 'the choice, never below the minimum');
  assert.equal(fitLambdaMart(set, [0, 1], { ...p, earlyStopping: 0, iterations: 7 }).model.numTrees, 7);
  // Refit: the same tree count, learnt again with the held-out users in: another model.
  const both = fitLambdaMart(set, [0, 1], { ...p, refit: true });
  const refit = both.model;
  assert.equal(refit.numTrees, stopped.numTrees);
  assert.deepEqual(both.trainUsersModel.toJSON(), stopped.toJSON(), 'the model before the refit is the early-stopped one');
  const some = { data: data.subarray(0, 2 * 16), rows: 16, cols: 2 };
  assert.notDeepEqual(Array.from(refit.predictBatch(some)), Array.from(stopped.predictBatch(some)), 'trained on more users');
});

test("item features at a user's time are the item's as of that user's last rating", async () => {
  const DAY = 86_400_000;
  const rows: Interaction[] = [
    { user: 'early', item: 'a', rating: 4, ts: 1 * DAY }, { user: 'early', item: 'b', rating: 3, ts: 3 * DAY },
    { user: 'late', item: 'a', rating: 5, ts: 2 * DAY }, { user: 'late', item: 'a2', rating: 5, ts: 9 * DAY },
    { user: 'other', item: 'a', rating: 2, ts: 8 * DAY },
  ];
  const compiled = await loadRankerFeatureSet();
  const times = new Map([['early', 3 * DAY + 1], ['late', 9 * DAY + 1], ['other', 8 * DAY + 1]]);
  const pairs = [{ user: 'early', item: 'a' }, { user: 'late', item: 'a' }];
  const block = await withTrainingLog(rows, undefined, (log) => pairFeatures(compiled, log, pairs, 10 * DAY, [], times));
  const col = (name: string) => {
    const j = block.names.indexOf(name);
    assert.ok(j >= 0, `${name} in ${block.names.join(', ')}`);
    return [0, 1].map((r) => block.data[r * block.names.length + j]);
  };
  assert.deepEqual(col('item_ratings__rating_count'), [3, 3], 'as of the one time for all: every rating of a');
  assert.deepEqual(col('item_ratings__rating_count_at_user_time'), [2, 3], "as of each user's time: a's ratings before it");
  assert.deepEqual(col('item_ratings__rating_mean_at_user_time'), [4.5, 11 / 3]);
});

test('item embeddings put co-rated items close', () => {
  const rows: Interaction[] = [];
  for (let u = 0; u < 20; u++) for (const it of u < 10 ? ['a', 'b'] : ['c', 'd']) rows.push({ user: `u${u}`, item: it, rating: 5, ts: u });
  const e = itemEmbeddings(rows, ['a', 'b', 'c', 'd'], 2);
  const v = (i: number) => Array.from(e.vectors.subarray(i * 2, i * 2 + 2));
  const cos = (x: number[], y: number[]) => (x[0]! * y[0]! + x[1]! * y[1]!) / Math.hypot(...x) / Math.hypot(...y);
  assert.ok(cos(v(0), v(1)) > 0.99, 'a and b share their users');
  assert.ok(Math.abs(cos(v(0), v(2))) < 0.01, 'a and c share none');
});

test('cold users get recent popularity blended with their demographic cell', () => {
  const rows: Interaction[] = [
    { user: 'm1', item: 'x', rating: 5, ts: 0 }, { user: 'm2', item: 'x', rating: 5, ts: 0 }, { user: 'f1', item: 'y', rating: 5, ts: 0 },
  ];
  const meta = {
    items: [],
    users: [
      { userId: 'm1', age: 25, gender: 'M', occupation: null, country: null }, { userId: 'm2', age: 27, gender: 'M', occupation: null, country: null },
      { userId: 'f1', age: 22, gender: 'F', occupation: null, country: null }, { userId: 'f2', age: 29, gender: 'F', occupation: null, country: null },
    ],
  };
  const s = trainColdScorer(rows, { items: ['x', 'y'], meta, halfLifeMs: 1e9, demographicWeight: 0.8 });
  const f2 = Array.from(s.score('f2')!);
  // Everybody: x 1, y 0.5; the F cell (f1 only): x 0, y 1; blended 0.2 · everybody + 0.8 · cell.
  assert.ok(Math.abs(f2[0]! - 0.2) < 1e-12 && Math.abs(f2[1]! - 0.9) < 1e-12, String(f2));
  assert.deepEqual(Array.from(s.score('unknown')!), [1, 0.5], 'no metadata: popularity alone');
});

test('on a seeded slice of ML-100K the ranker beats popularity and explains itself', { skip: existsSync(ML) ? false : 'needs ../shared/data/ml-100k' }, async () => {
  const { rows } = await readInteractions(ML, 'movielens');
  const slice = rows.filter((r) => Number(r.user) <= 200);
  let trained: RankerModel | undefined;
  const ranker = MODELS.find((m) => m.name === 'ranker')!;
  const registry: ModelEntry[] = [
    MODELS.find((m) => m.name === 'popularity')!,
    { ...ranker, train: async (c) => (trained = await trainRanker(c)) },
  ];
  const r = await evaluate({
    interactions: slice, protocol: 'ms-stratified', models: ['popularity', 'ranker'], registry, resamples: 200, seed: 42,
    params: ['ranker.iterations=60'], source: { path: ML, format: 'movielens' },
  });
  const rk = r.models['ranker']!, pop = r.models['popularity']!;
  assert.ok(rk.ndcg > pop.ndcg + 0.05, `ranker ${rk.ndcg} vs popularity ${pop.ndcg}`);
  const cmp = r.comparisons.find((c) => c.model === 'ranker' && c.metric === 'ndcg')!;
  assert.ok(cmp.lower > 0, 'the paired interval excludes popularity');
  assert.deepEqual(rk.explain!.ablation.map((a) => a.group), FEATURE_GROUPS.map((g) => `without ${g}`), 'one ablation row per feature group');
  const base = rk.explain!.ablationBaseline!;
  assert.ok(base > pop.ndcg, `ablation baseline ${base}`);
  for (const a of rk.explain!.ablation) assert.ok(Math.abs(a.ndcg - a.delta - base) < 1e-9, 'delta is against the full model trained like the variants');
  assert.ok(rk.explain!.importance.length > 10 && rk.explain!.importance.every((f, i, all) => i === 0 || all[i - 1]!.gain >= f.gain));
  const d = trained!.diagnostics;
  assert.ok(d.innerCandidateRecall > 0.3 && d.innerCandidateRecall <= 1, `candidate recall ${d.innerCandidateRecall}`);
  assert.ok(d.candidatesPerUser >= 50);
  // Each source's own recall is at most the union's, and the union's is at least the best source's.
  const bySource = Object.entries(d.innerCandidateRecallBySource);
  assert.deepEqual(bySource.map(([g]) => g), ['ease', 'itemknn', 'sar', 'als', 'popularity', 'popularity_decayed']);
  for (const [g, x] of bySource) assert.ok(x > 0 && x <= d.innerCandidateRecall + 1e-12, `${g} recall ${x} vs union ${d.innerCandidateRecall}`);
  assert.deepEqual(rk.explain!.candidateRecall, { n: d.candidatesPerModel, union: d.innerCandidateRecall, bySource: d.innerCandidateRecallBySource });
});

test('a blend column gets a weight chosen on the held-out users: a perfect rank the GBDT does not see earns one', () => {
  // 60 users x 10 candidates; the GBDT sees noise only (columns 0, 1, 3); column 2, left out of its
  // columns, is the labels' perfect rank (0 for the positive): only the blend can use it.
  let x = 777;
  const rand = () => ((x = (x * 1103515245 + 12345) % 2147483648) / 2147483648);
  const rows = 600;
  const labels = Float64Array.from({ length: rows }, (_, r) => (r % 10 === 3 ? 1 : 0));
  const data = new Float64Array(rows * 4);
  for (let r = 0; r < rows; r++) {
    data[r * 4] = rand();
    data[r * 4 + 1] = rand();
    data[r * 4 + 2] = labels[r] === 1 ? 0 : 1 + (r % 10);
    data[r * 4 + 3] = Math.floor(rand() * 10);
  }
  const set: LearningSet = { names: ['a', 'b', 'perfect_rank', 'random_rank'], data, labels, groupSizes: Array.from({ length: 60 }, () => 10), groupUsers: Array.from({ length: 60 }, (_, u) => `u${u}`), rows };
  const p = { iterations: 5, learningRate: 0.1, leaves: 3, minDataInLeaf: 5, earlyStopping: 0, minTrees: 1, validShare: 0.3, truncation: 10, featureFraction: 1, baggingFraction: 1, objective: 'lambdarank' as const, seed: 1, k: 3, refit: false };
  const perfect = fitLambdaMart(set, [0, 1, 3], { ...p, blend: 2 });
  assert.ok(perfect.blendWeight > 0, `weight ${perfect.blendWeight}`);
  assert.equal(perfect.blendCurve.find((c) => c.weight === perfect.blendWeight)?.ndcg, 1, 'the perfect rank ranks every held-out user right');
  assert.equal(perfect.blendCurve.length, 8);
  assert.equal(fitLambdaMart(set, [0, 1, 3], p).blendWeight, 0, 'no blend column: no weight');
  assert.ok((perfect.blendCurve[0]?.ndcg ?? 1) < 1, 'the GBDT alone (weight 0) does not rank them right');
});
