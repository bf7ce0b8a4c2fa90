/**
 * The Microsoft Recommenders MovieLens protocol on the real ML-100K: split each item's ratings
 * 75/25 (seed 42), rank every item the user did not rate in training, k = 10; the figures are the
 * published ones (SAR) and numpy measurements of the same protocol (see ../shared/data/README.md).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { before, describe, test, type TestContext } from 'node:test';
import { trainAls } from './baselines/als.ts';
import { trainEase } from './baselines/ease.ts';
import { trainItemKnn } from './baselines/itemknn.ts';
import { trainPopularity } from './baselines/popularity.ts';
import { trainSar } from './baselines/sar.ts';
import { aucFromScores, perUserRankingMetrics, type PerUserRankingMetrics, rankingMetrics, type RankingMetrics } from './metrics.ts';
import { recommendTopK, seenItems, truthOf } from './recommend.ts';
import { bootstrapCi, pairedBootstrapTest, pairedPermutationTest } from './significance.ts';
import { stratifiedSplitMs, timeCutoffSplit } from './split.ts';
import type { Interaction, Scorer } from './types.ts';

const DIR = path.resolve(process.cwd(), '../shared/data/ml-100k');
const FILE = path.join(DIR, 'u.data');
const MISSING = `MovieLens 100K not found: put u.data (from https://files.grouplens.org/datasets/movielens/ml-100k.zip) in ${DIR}`;
const skip = !existsSync(FILE) && process.env.CI !== 'true' ? MISSING : false;

/** u.data: user, item, rating, unix seconds; tab-separated. */
function loadRatings(): Interaction[] {
  if (!existsSync(FILE)) throw new Error(`${MISSING} (CI must provide it)`);
  return readFileSync(FILE, 'utf8').split('\n').filter((l) => l.length > 0).map((line) => {
    const [user, item, rating, seconds] = line.split('\t');
    return { user: user!, item: item!, rating: Number(rating), ts: Number(seconds) * 1000 };
  });
}

interface Evaluated {
  readonly scorer: Scorer;
  readonly metrics: RankingMetrics;
  readonly perUser: PerUserRankingMetrics;
  readonly fitMs: number;
}

describe('ML-100K, Microsoft Recommenders protocol', { skip }, () => {
  let ratings: Interaction[] = [];
  let train: Interaction[] = [];
  let truth = new Map<string, Map<string, number>>();
  let seen = new Map<string, Set<string>>();
  const cache = new Map<string, Evaluated>();

  before(() => {
    ratings = loadRatings();
    const split = stratifiedSplitMs(ratings, { ratio: 0.75, seed: 42 });
    train = split.train;
    truth = truthOf(split.test);
    seen = seenItems(train);
  });

  function evaluate(t: TestContext, name: string, fit: (rows: Interaction[]) => Scorer): Evaluated {
    const hit = cache.get(name);
    if (hit) return hit;
    const start = performance.now();
    const scorer = fit(train);
    const fitMs = performance.now() - start;
    const recs = recommendTopK(scorer, truth.keys(), 10, seen);
    const evaluated = { scorer, fitMs, metrics: rankingMetrics(recs, truth, 10), perUser: perUserRankingMetrics(recs, truth, 10) };
    const m = evaluated.metrics;
    t.diagnostic(`${name}: nDCG@10 ${m.ndcg.toFixed(6)} P@10 ${m.precision.toFixed(6)} R@10 ${m.recall.toFixed(6)} MAP ${m.mapMs.toFixed(6)}; fit ${fitMs.toFixed(0)} ms, rank ${(performance.now() - start - fitMs).toFixed(0)} ms`);
    cache.set(name, evaluated);
    return evaluated;
  }
  const near = (actual: number, expected: number, tol: number, what: string) =>
    assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual.toFixed(6)} is not within ${tol} of ${expected}`);

  test('the stratified split keeps 75,066 training rows', () => {
    assert.equal(ratings.length, 100_000);
    assert.equal(train.length, 75_066);
    assert.equal(truth.size, 943, 'every user has test items');
  });

  test('SAR reproduces the published figures', (t) => {
    const { metrics: m } = evaluate(t, 'SAR', (rows) => trainSar(rows));
    near(m.ndcg, 0.393819, 5e-6, 'nDCG@10');
    near(m.precision, 0.340615, 5e-6, 'P@10');
    near(m.recall, 0.185377, 5e-6, 'R@10');
    near(m.mapMs, 0.114038, 5e-6, 'MAP');
  });

  test('popularity', (t) => {
    // Counts tie often; ties keep ascending item id. The reverse tie order gives 0.251942 / 0.228208.
    const { metrics: m } = evaluate(t, 'popularity', (rows) => trainPopularity(rows));
    near(m.ndcg, 0.2522, 5e-4, 'nDCG@10');
    near(m.precision, 0.2285, 5e-4, 'P@10');
  });

  test('EASE, lambda 500', (t) => {
    const { metrics: m, fitMs } = evaluate(t, 'EASE', (rows) => trainEase(rows, { lambda: 500 }));
    near(m.ndcg, 0.4829, 2e-3, 'nDCG@10');
    near(m.precision, 0.4198, 2e-3, 'P@10');
    assert.ok(fitMs < 10_000, `EASE fit took ${fitMs} ms`);
  });

  test('item-kNN, cosine, all neighbours', (t) => {
    const { metrics: m } = evaluate(t, 'item-kNN', (rows) => trainItemKnn(rows));
    near(m.ndcg, 0.4113, 3e-3, 'nDCG@10');
    near(m.precision, 0.3547, 3e-3, 'P@10');
  });

  test('implicit ALS beats popularity', (t) => {
    const pop = evaluate(t, 'popularity', (rows) => trainPopularity(rows)).metrics;
    const { metrics: m } = evaluate(t, 'ALS', (rows) => trainAls(rows, { iterations: 8 }));
    assert.ok(m.ndcg > pop.ndcg, `ALS ${m.ndcg} vs popularity ${pop.ndcg}`);
  });

  test('bootstrap CI and paired tests over users', (t) => {
    const sar = evaluate(t, 'SAR', (rows) => trainSar(rows));
    const ease = evaluate(t, 'EASE', (rows) => trainEase(rows, { lambda: 500 }));
    const ci = bootstrapCi(sar.perUser.ndcg, { resamples: 1000, seed: 42 });
    t.diagnostic(`SAR nDCG@10 95% CI [${ci.lower.toFixed(4)}, ${ci.upper.toFixed(4)}]`);
    assert.ok(ci.lower < ci.mean && ci.mean < ci.upper && ci.upper - ci.lower < 0.05 && ci.upper - ci.lower > 0.005);
    assert.deepEqual(sar.perUser.users, ease.perUser.users, 'per-user vectors are aligned');
    const boot = pairedBootstrapTest(ease.perUser.ndcg, sar.perUser.ndcg);
    const perm = pairedPermutationTest(ease.perUser.ndcg, sar.perUser.ndcg);
    t.diagnostic(`EASE − SAR nDCG@10 ${boot.meanDiff.toFixed(4)} [${boot.lower.toFixed(4)}, ${boot.upper.toFixed(4)}], p ${boot.pValue} / ${perm.pValue.toFixed(4)}`);
    assert.ok(boot.lower > 0 && boot.pValue < 0.01 && perm.pValue < 0.01);
  });

  test('per-user AUC orders the models as nDCG does', (t) => {
    const pop = aucFromScores(evaluate(t, 'popularity', (rows) => trainPopularity(rows)).scorer, truth, seen);
    const ease = aucFromScores(evaluate(t, 'EASE', (rows) => trainEase(rows, { lambda: 500 })).scorer, truth, seen);
    t.diagnostic(`AUC popularity ${pop.auc.toFixed(4)}, EASE ${ease.auc.toFixed(4)}`);
    assert.equal(pop.users.length, 943);
    assert.ok(pop.auc > 0.5 && ease.auc > pop.auc);
  });

  test('a global 80% time cutoff leaves most test users cold', () => {
    const s = timeCutoffSplit(ratings, { quantile: 0.8 });
    // The cutoff is the timestamp at row 80,000 of the sorted ratings: 1998-03-07T02:21:09Z.
    assert.equal(new Date(s.cutoffTs).toISOString(), '1998-03-07T02:21:09.000Z');
    assert.equal(s.train.length, 79_999);
    assert.equal(s.warmUsers.size, 109);
    assert.equal(s.coldUsers.size, 192);
  });
});
