import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { auc, logloss, ndcgAtK } from './metrics.ts';
import { binary, lambdarank, rankXendcg } from './objectives.ts';
import { defaultLabelGain } from './options.ts';
import { createRng } from './rng.ts';

const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-12, `${what}: ${a} != ${b}`);

describe('lambdarank gradients', () => {
  const params = (sizes: number[], truncationLevel = 30) => ({
    queryOffsets: Int32Array.from(sizes.reduce((o, s) => [...o, o[o.length - 1]! + s], [0])),
    truncationLevel, norm: true, labelGain: defaultLabelGain(),
  });

  test('a two-document query by hand: ΔNDCG = 1 - 1/log2(3), σ(0) = 1/2, then log2(1 + Σλ)/Σλ', () => {
    const labels = Float64Array.of(1, 0);
    const grad = new Float64Array(2);
    const hess = new Float64Array(2);
    lambdarank(params([2]), labels).gradients(Float64Array.of(0, 0), labels, grad, hess);
    const dNdcg = 1 - 1 / Math.log2(3);
    const sum = dNdcg; // 2 * |λ| = 2 * dNdcg / 2
    const factor = Math.log2(1 + sum) / sum;
    close(grad[0]!, -0.5 * dNdcg * factor, 'relevant document is pushed up');
    close(grad[1]!, 0.5 * dNdcg * factor, 'irrelevant document is pushed down');
    close(hess[0]!, 0.25 * dNdcg * factor, 'hessian');
    close(hess[1]!, hess[0]!, 'symmetric hessian');
  });

  test('pairs form only with documents placed above the truncation level; equal labels and lone documents get nothing', () => {
    // Query 1: 4 documents ranked by score; with truncation 1 only pairs with the top document count.
    const labels = Float64Array.of(0, 0, 2, 1, 3, 3);
    const scores = Float64Array.of(4, 3, 2, 1, 0, 0);
    const grad = new Float64Array(6);
    const hess = new Float64Array(6);
    lambdarank(params([4, 2], 1), labels).gradients(scores, labels, grad, hess);
    assert.equal(grad[1], 0, 'rank 2 (label 0) pairs with rank 1 only, whose label is equal');
    assert.ok(grad[0]! > 0 && grad[2]! < 0 && grad[3]! < 0, 'the top (irrelevant) document is pushed down, the others up');
    assert.deepEqual([grad[4], grad[5], hess[4], hess[5]], [0, 0, 0, 0]);
  });
});

describe('rank_xendcg gradients', () => {
  test('two documents by hand: the expansion sums to ρ − φ/Σφ, with φ = 2^label − γ drawn from the query\'s seeded stream', () => {
    const labels = Float64Array.of(1, 0, 0, 0, 0);
    const grad = new Float64Array(5);
    const hess = new Float64Array(5);
    rankXendcg(Int32Array.of(0, 2, 5), 7).gradients(new Float64Array(5), labels, grad, hess);
    const g = createRng(7);
    const phi = [2 - g(), 1 - g()];
    const sum = phi[0]! + phi[1]!;
    close(grad[0]!, 0.5 - phi[0]! / sum, 'relevant document');
    close(grad[1]!, 0.5 - phi[1]! / sum, 'irrelevant document');
    assert.ok(grad[0]! < 0 && grad[1]! > 0, 'the relevant document is pushed up');
    close(hess[0]!, 0.25, 'hessian ρ(1 − ρ)');
    // The second query draws from its own stream (seed + 1); with no relevant document the
    // target is near uniform, so the gradients stay small and sum to zero.
    const rest = grad.subarray(2);
    close(rest.reduce((a, b) => a + b, 0), 0, 'gradients of a query sum to 0');
    assert.ok(rest.every((x) => Math.abs(x) < 1 / 3));
  });

  test('one score far ahead of the others (ρ rounds to 1) still gives finite gradients', () => {
    const labels = Float64Array.of(0, 1, 0);
    const grad = new Float64Array(3);
    const hess = new Float64Array(3);
    rankXendcg(Int32Array.of(0, 3), 2).gradients(Float64Array.of(800, 0, 0), labels, grad, hess);
    assert.ok([...grad, ...hess].every(Number.isFinite), `${grad} ${hess}`);
    assert.ok(grad[0]! > 0 && grad[1]! < 0, 'the leading irrelevant document is pushed down, the relevant one up');
  });

  test('a new iteration draws new γ: the gradients at the same scores differ', () => {
    const labels = Float64Array.of(1, 0, 0);
    const o = rankXendcg(Int32Array.of(0, 3), 1);
    const a = new Float64Array(3);
    const b = new Float64Array(3);
    o.gradients(new Float64Array(3), labels, a, new Float64Array(3));
    o.gradients(new Float64Array(3), labels, b, new Float64Array(3));
    assert.notDeepEqual(Array.from(a), Array.from(b));
  });
});

describe('pointwise objectives', () => {
  test('binary starts from the log-odds of the base rate and has gradient p - y', () => {
    const y = Float64Array.of(1, 0, 0, 0);
    close(binary.initScore(y), Math.log(0.25 / 0.75), 'init');
    const grad = new Float64Array(4);
    const hess = new Float64Array(4);
    binary.gradients(new Float64Array(4), y, grad, hess);
    assert.deepEqual(Array.from(grad), [-0.5, 0.5, 0.5, 0.5]);
    assert.deepEqual(Array.from(hess), [0.25, 0.25, 0.25, 0.25]);
  });
});

describe('metrics', () => {
  test('nDCG@k on a literal query, and 1 for a query with nothing relevant', () => {
    const labels = [0, 2, 1, 0, 0];
    const scores = [3, 2, 1, 5, 4];
    const qo = Int32Array.of(0, 3, 5);
    const dcg = 3 / Math.log2(3) + 1 / Math.log2(4);
    const ideal = 3 + 1 / Math.log2(3);
    close(ndcgAtK(scores, labels, qo, 3, defaultLabelGain()), (dcg / ideal + 1) / 2, 'ndcg@3');
    close(ndcgAtK(scores, labels, Int32Array.of(0, 3), 1, defaultLabelGain()), 0, 'ndcg@1');
  });

  test('AUC counts ties half; logloss of margin 0 is ln 2', () => {
    close(auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), 0.75, 'auc');
    close(auc([1, 1, 1, 1], [0, 1, 0, 1]), 0.5, 'all tied');
    // NaN scores rank lowest and tie with each other (the tie loop never ended on them).
    close(auc([NaN, NaN, NaN, NaN], [0, 1, 0, 1]), 0.5, 'all NaN');
    // Pairs: NaN+ vs NaN- tie (½), NaN+ vs 0.2- lose, 0.9+ beats both: 2.5 / 4.
    close(auc([NaN, 0.2, 0.9, NaN], [1, 0, 1, 0]), 0.625, 'NaN below every number');
    close(logloss([0, 0], [0, 1]), Math.log(2), 'logloss');
  });
});
