import assert from 'node:assert/strict';
import { test } from 'node:test';
import { aucFromScores, catalogueCoverage, novelty, perUserRankingMetrics, rankingMetrics } from './metrics.ts';
import type { Interaction, Scorer } from './types.ts';

const close = (actual: number, expected: number, what: string) =>
  assert.ok(Math.abs(actual - expected) < 1e-12, `${what}: ${actual} != ${expected}`);

const L3 = Math.log2(3);

// k = 3.
// A: top 3 = a (miss), b (hit, rank 2), c (miss); d is beyond k. |test| = 3.
// B: top 3 = x (hit, rank 1), y (miss), z (hit, rank 3). |test| = 4 > k.
// C: has a test item but no recommendation list: zero everywhere, still averaged.
// D: no test items: not evaluated.
const recs = new Map([
  ['A', ['a', 'b', 'c', 'd']],
  ['B', ['x', 'y', 'z']],
  ['D', ['a']],
]);
const truth = new Map([
  ['A', new Map([['b', 5], ['d', 3], ['e', 4]])],
  ['B', new Map([['x', 4], ['z', 2], ['p', 1], ['q', 5]])],
  ['C', new Map([['m', 3]])],
  ['D', new Map<string, number>()],
]);

test('per-user ranking metrics on a hand-computed case', () => {
  const m = perUserRankingMetrics(recs, truth, 3);
  assert.deepEqual(m.users, ['A', 'B', 'C']);
  // precision = hits / k: A 1/3, B 2/3.
  close(m.precision[0]!, 1 / 3, 'P A');
  close(m.precision[1]!, 2 / 3, 'P B');
  // recall = hits / |test|: A 1/3, B 2/4.
  close(m.recall[0]!, 1 / 3, 'R A');
  close(m.recall[1]!, 1 / 2, 'R B');
  // nDCG: A dcg = 1/log2(3); ideal has min(3,3) = 3 hits: 1 + 1/log2(3) + 1/2.
  close(m.ndcg[0]!, (1 / L3) / (1 + 1 / L3 + 0.5), 'nDCG A');
  // B dcg = 1/log2(2) + 1/log2(4) = 1.5; ideal has min(3,4) = 3 hits.
  close(m.ndcg[1]!, 1.5 / (1 + 1 / L3 + 0.5), 'nDCG B');
  // Graded: A dcg = 5/log2(3); ideal ratings 5,4,3: 5 + 4/log2(3) + 3/2.
  close(m.ndcgGraded[0]!, (5 / L3) / (5 + 4 / L3 + 1.5), 'graded A');
  // B dcg = 4/1 + 2/2 = 5; ideal ratings 5,4,2: 5 + 4/log2(3) + 2/2.
  close(m.ndcgGraded[1]!, 5 / (6 + 4 / L3), 'graded B');
  // MAP (Microsoft): A precision at the hit rank 2 is 1/2, over |test| = 3 -> 1/6.
  close(m.mapMs[0]!, 1 / 6, 'mapMs A');
  // B: (1/1 + 2/3) / 4 = 5/12; MAP@k divides by min(3,4) = 3 instead: 5/9.
  close(m.mapMs[1]!, 5 / 12, 'mapMs B');
  close(m.mapAtK[1]!, 5 / 9, 'mapAtK B');
  close(m.mapAtK[0]!, 1 / 6, 'mapAtK A');
  // MRR: first hit at rank 2 for A, rank 1 for B.
  close(m.mrr[0]!, 1 / 2, 'MRR A');
  close(m.mrr[1]!, 1, 'MRR B');
  assert.deepEqual([...m.hitRate], [1, 1, 0]);
  for (const name of ['precision', 'recall', 'ndcg', 'ndcgGraded', 'mapMs', 'mapAtK', 'mrr'] as const) {
    assert.equal(m[name][2], 0, `${name} of a user without recommendations`);
  }
});

test('averages run over users with test items', () => {
  const r = rankingMetrics(recs, truth, 3);
  assert.equal(r.users, 3);
  close(r.precision, (1 / 3 + 2 / 3 + 0) / 3, 'mean P');
  close(r.mapMs, (1 / 6 + 5 / 12) / 3, 'mean MAP');
  close(r.hitRate, 2 / 3, 'hit rate');
  assert.throws(() => rankingMetrics(recs, truth, 0), RangeError);
});

test('catalogue coverage counts distinct items within the first k', () => {
  // k = 3: {a, b, c} ∪ {x, y, z} ∪ {a} = 6 of 12.
  close(catalogueCoverage(recs, 12, 3), 0.5, 'coverage');
  close(catalogueCoverage(recs, ['a', 'b', 'c', 'd', 'x', 'y', 'z', 'a'], 1), 2 / 7, 'coverage over listed items');
});

test('novelty is the mean −log2 training share of recommended items', () => {
  const row = (item: string): Interaction => ({ user: 'u', item, rating: 1, ts: 0 });
  const train = [row('a'), row('a'), row('b'), row('x')]; // shares a 1/2, b 1/4, x 1/4
  // k = 2: slots a (1 bit), b (2), x (2), y (never trained: 0, its slot counted, as Recommenders does), a (1) -> 6 / 5.
  close(novelty(recs, train, 2), 6 / 5, 'novelty');
});

test('AUC: Mann-Whitney with half credit for ties, per user, averaged', () => {
  const items = ['i1', 'i2', 'i3', 'i4', 'i5'];
  const scores = Float64Array.from([0.9, 0.5, 0.5, 0.1, 0.3]);
  const scorer: Scorer = { items, score: (u) => (u === 'ghost' ? undefined : scores) };
  const aucTruth = new Map([
    // Candidates i1..i4 (i5 excluded). Positives i2, i4; negatives i1 (0.9), i3 (0.5).
    // Pairs: i2>i1 no, i2~i3 tie (½), i4>i1 no, i4>i3 no -> 0.5 / 4.
    ['u', new Map([['i2', 1], ['i4', 1]])],
    // i1 beats all four negatives -> 1.
    ['v', new Map([['i1', 1]])],
    // i1 wins its 4 pairs; zz is not in the catalogue and loses its 4 -> 4 / 8.
    ['w', new Map([['i1', 1], ['zz', 1]])],
    // Unknown to the scorer -> ½.
    ['ghost', new Map([['i1', 1]])],
  ]);
  const r = aucFromScores(scorer, aucTruth, new Map([['u', new Set(['i5'])]]));
  assert.deepEqual(r.users, ['u', 'v', 'w', 'ghost']);
  assert.deepEqual([...r.perUser], [0.125, 1, 0.5, 0.5]);
  close(r.auc, (0.125 + 1 + 0.5 + 0.5) / 4, 'mean AUC');
});

test('AUC: a NaN score ranks last wherever it stands in the catalogue, as in the ranked lists', () => {
  // One positive (0.5) against 0.9, 0.1, 0.2, 0.3 and a NaN: it beats 4 of 5, whichever place the NaN takes.
  const base = [0.9, 0.1, 0.2, 0.3];
  for (let at = 0; at <= base.length; at++) {
    const negatives = [...base.slice(0, at), Number.NaN, ...base.slice(at)];
    const items = ['pos', ...negatives.map((_, i) => `n${i}`)];
    const scorer: Scorer = { items, score: () => Float64Array.from([0.5, ...negatives]) };
    close(aucFromScores(scorer, new Map([['u', new Map([['pos', 1]])]])).auc, 0.8, `NaN at ${at}`);
  }
});
