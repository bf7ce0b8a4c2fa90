import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DAY_MS } from '../core/time.ts';
import { trainAls } from './baselines/als.ts';
import { trainEase } from './baselines/ease.ts';
import { trainItemKnn } from './baselines/itemknn.ts';
import { trainPopularity } from './baselines/popularity.ts';
import { trainRp3beta } from './baselines/rp3beta.ts';
import { trainSar } from './baselines/sar.ts';
import { trainUserKnn } from './baselines/userknn.ts';
import type { Interaction } from './types.ts';

const row = (user: string, item: string, rating: number, ts = 0): Interaction => ({ user, item, rating, ts });
const close = (actual: number | undefined, expected: number, what: string) =>
  assert.ok(actual !== undefined && Math.abs(actual - expected) < 1e-12, `${what}: ${actual} != ${expected}`);

test('popularity counts training rows; the decayed variant halves per half-life', () => {
  const h = 10 * DAY_MS;
  const now = 100 * DAY_MS;
  const train = [row('1', 'x', 5, now), row('2', 'x', 1, now - h), row('3', 'x', 2, now - 2 * h), row('1', 'y', 4, now)];
  assert.deepEqual([...trainPopularity(train).score('anyone')!], [3, 1]);
  // x: 1 + 1/2 + 1/4; y: 1 (now = latest training ts).
  const decayed = trainPopularity(train, { halfLifeMs: h }).score('1')!;
  close(decayed[0], 1.75, 'x');
  close(decayed[1], 1, 'y');
});

test('SAR: jaccard similarity times time-decayed affinity', () => {
  const now = 60 * DAY_MS;
  // u1 rated a (5, now) and b (3, 30 days earlier: half weight); u2 rated a and c.
  const m = trainSar([row('u1', 'a', 5, now), row('u1', 'b', 3, now - 30 * DAY_MS), row('u2', 'a', 1, now), row('u2', 'c', 1, now)]);
  assert.deepEqual(m.items, ['a', 'b', 'c']);
  // C: aa 2, bb 1, cc 1, ab 1, ac 1, bc 0 -> jaccard ab = 1/(2+1−1) = ½, ac = ½, bc = 0.
  // Affinity u1: a 5, b 1.5. Scores: a 5 + 1.5·½ = 5.75, b 5·½ + 1.5 = 4, c 5·½ + 0 = 2.5.
  const s = m.score('u1')!;
  close(s[0], 5.75, 'a');
  close(s[1], 4, 'b');
  close(s[2], 2.5, 'c');
  assert.equal(m.score('nobody'), undefined);
});

// u1 has {1, 2}, u2 {1}, u3 {2}: C11 = 2, C22 = 2, C12 = 1.
const pairs = [row('u1', '1', 5), row('u1', '2', 3), row('u2', '1', 4), row('u3', '2', 1)];

test('EASE: with two items B12 = C12 / (C11 + λ), and the diagonal is zero', () => {
  // P = G⁻¹ for G = [[C11+λ, C12], [C12, C22+λ]]; B12 = −P12/P22 = G12/G11.
  const s = trainEase(pairs, { lambda: 1 }).score('u2')!; // u2 holds item 1 only
  close(s[0], 0, 'B11');
  close(s[1], 1 / 3, 'B12');
});

test('RP3beta: W_ij = deg(i)^-α Σ_u x_ui x_uj deg(u)^-α / deg(j)^β, top sources per target', () => {
  // u1 {a, b}, u2 {a, c}, u3 {b}: item degrees a 2, b 2, c 1; user degrees 2, 2, 1.
  const rows = [row('u1', 'a', 5), row('u1', 'b', 5), row('u2', 'a', 5), row('u2', 'c', 5), row('u3', 'b', 5)];
  const wab = (1 / 2) * (1 / 2) / Math.SQRT2, wac = (1 / 2) * (1 / 2) / 1, wba = (1 / 2) * (1 / 2) / Math.SQRT2;
  const all = trainRp3beta(rows, { alpha: 1, beta: 0.5, neighbours: 10 });
  assert.deepEqual(all.items, ['a', 'b', 'c']);
  const u3 = all.score('u3')!; // holds b only: row b of W
  close(u3[0], wba, 'W_ba');
  close(u3[1], 0, 'W_bb (diagonal)');
  close(u3[2], 0, 'W_bc (no common user)');
  const u1 = all.score('u1')!; // a and b: rows a + b
  close(u1[0], wba, 'score a');
  close(u1[1], wab, 'score b');
  close(u1[2], wac, 'score c');
  // One source per target: a keeps c (W_ca = 1 · 1/2 / √2 beats W_ba), so u1's a loses W_ba.
  const one = trainRp3beta(rows, { alpha: 1, beta: 0.5, neighbours: 1 }).score('u1')!;
  close(one[0], 0, 'score a, W_ba pruned');
  close(one[1], wab, 'score b');
  close(one[2], wac, 'score c');
});

test('item-kNN: cosine of binary item vectors', () => {
  // cos(1, 2) = C12 / sqrt(C11·C22) = 1/2; self-similarity is dropped.
  const s = trainItemKnn(pairs).score('u2')!;
  close(s[0], 0, 'self');
  close(s[1], 0.5, 'cos');
  // Add u2 -> 3: C33 = 1, C13 = 1, C23 = 0. Target 1's neighbours: 3 (1/√2) beats 2 (½).
  const three = [...pairs, row('u2', '3', 1)];
  close(trainItemKnn(three).score('u3')![0], 0.5, 'all neighbours: u3 (item 2) reaches item 1');
  const pruned = trainItemKnn(three, { neighbours: 1 });
  close(pruned.score('u3')![0], 0, 'one neighbour: 2 is not among target 1\'s');
  close(pruned.score('u2')![1], 0.5, 'target 2 keeps its best neighbour, 1');
});

test('user-kNN: cosine of binary user vectors, summed over the k nearest users who hold the item', () => {
  // u1 {a, b}; u2 {a, b, c}: cos = 2/√6; u3 {a, d}: cos = 1/2; u4 {e}: shares nothing with u1.
  const rows = [row('u1', 'a', 1), row('u1', 'b', 1), row('u2', 'a', 1), row('u2', 'b', 1), row('u2', 'c', 1), row('u3', 'a', 1), row('u3', 'd', 1), row('u4', 'e', 1)];
  const all = trainUserKnn(rows);
  assert.deepEqual(all.items, ['a', 'b', 'c', 'd', 'e']);
  const s = all.score('u1')!;
  close(s[0], 2 / Math.sqrt(6) + 0.5, 'a: u2 + u3');
  close(s[1], 2 / Math.sqrt(6), 'b: u2');
  close(s[2], 2 / Math.sqrt(6), 'c: u2');
  close(s[3], 0.5, 'd: u3');
  close(s[4], 0, 'e: u4 is no neighbour');
  const one = trainUserKnn(rows, { neighbours: 1 }).score('u1')!;
  close(one[3], 0, 'd: u3 is not the nearest');
  close(one[2], 2 / Math.sqrt(6), 'c: u2 is');
  assert.equal(all.score('nobody'), undefined);
});

test('ALS is deterministic under a seed and ranks the co-consumed item first', () => {
  const train = [
    row('a', 'x', 5), row('a', 'y', 5), row('b', 'x', 5), row('b', 'y', 5),
    row('c', 'x', 5), row('c', 'y', 5), row('d', 'x', 5), row('e', 'z', 1),
  ];
  const one = trainAls(train, { factors: 4, iterations: 10, seed: 7 }).score('d')!;
  const two = trainAls(train, { factors: 4, iterations: 10, seed: 7 }).score('d')!;
  assert.deepEqual(one, two);
  // d has x; everybody else with x also has y, so y must outscore z.
  assert.ok(one[1]! > one[2]!, `y ${one[1]} vs z ${one[2]}`);
});
