import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRandomState } from './mt19937.ts';
import { randomSplitByUser, roundHalfEven, stratifiedSplitMs, timeCutoffSplit } from './split.ts';
import type { Interaction } from './types.ts';

test('roundHalfEven rounds halves to the even neighbour, like Python round', () => {
  assert.deepEqual([0.5, 1.5, 2.5, 4.5, 7.5, 1.2, 2.7, 3].map(roundHalfEven), [0, 2, 2, 4, 8, 1, 3, 3]);
});

// Items with 4, 2, 1 and 6 rows: round(0.75·n) = 3, round(1.5) = 2, round(0.75) = 1, round(4.5) = 4.
const sizes: [string, number][] = [['7', 4], ['12', 2], ['3', 1], ['100', 6]];
const rows: Interaction[] = [];
for (const [item, n] of sizes) {
  for (let i = 0; i < n; i++) rows.push({ user: `u${rows.length % 5}`, item, rating: 1 + (rows.length % 5), ts: rows.length });
}
// Interleave items so file order is not grouped.
rows.sort((a, b) => ((a.ts * 7) % 13) - ((b.ts * 7) % 13));

test('stratified split keeps round(0.75·n) of each item, the rows with the smallest draws', () => {
  const { train, test: held } = stratifiedSplitMs(rows, { ratio: 0.75, seed: 42 });
  const count = (xs: Interaction[], item: string) => xs.filter((r) => r.item === item).length;
  assert.deepEqual(sizes.map(([it]) => count(train, it)), [3, 2, 1, 4]);
  assert.equal(train.length + held.length, rows.length);
  // One draw per row in input order; within item '100' the two largest draws are held out.
  const rs = createRandomState(42);
  const draws = new Map(rows.map((r) => [r, rs.rand()] as const));
  const d100 = rows.filter((r) => r.item === '100').map((r) => draws.get(r)!).sort((a, b) => a - b);
  assert.deepEqual(held.filter((r) => r.item === '100').map((r) => draws.get(r)), d100.slice(4));
  // Output is grouped by item in numeric id order, as pandas concatenates its groups.
  assert.deepEqual([...new Set(train.map((r) => r.item))], ['3', '7', '12', '100']);
});

test('membership does not depend on how item keys sort', () => {
  const renamed = rows.map((r) => ({ ...r, item: `item-${r.item}` })); // string order now differs
  const a = stratifiedSplitMs(rows);
  const b = stratifiedSplitMs(renamed);
  const key = (r: Interaction) => r.ts;
  assert.deepEqual(a.train.map(key).sort(), b.train.map(key).sort());
});

test('per-user random split keeps round(ratio·n) rows of each user', () => {
  const { train, test: held } = randomSplitByUser(rows, { ratio: 0.5, seed: 3 });
  const perUser = new Map<string, number>();
  for (const r of rows) perUser.set(r.user, (perUser.get(r.user) ?? 0) + 1);
  for (const [u, n] of perUser) assert.equal(train.filter((r) => r.user === u).length, roundHalfEven(0.5 * n), u);
  assert.equal(train.length + held.length, rows.length);
  assert.throws(() => randomSplitByUser(rows, { ratio: 1 }), /between 0 and 1/);
});

test('time cutoff: one global cutoff, warm and cold test users', () => {
  const r = (user: string, ts: number): Interaction => ({ user, item: 'i', rating: 1, ts });
  // ts 1..10; 0.8 quantile is the timestamp at position floor(0.8·10) = 8 -> 9.
  const data = [r('a', 1), r('a', 2), r('b', 3), r('a', 4), r('b', 5), r('a', 6), r('a', 7), r('b', 8), r('a', 9), r('c', 10)];
  const s = timeCutoffSplit(data, { quantile: 0.8 });
  assert.equal(s.cutoffTs, 9);
  assert.deepEqual(s.test.map((x) => x.ts), [9, 10]);
  assert.ok(s.train.every((x) => x.ts < 9));
  assert.deepEqual([...s.warmUsers], ['a']);
  assert.deepEqual([...s.coldUsers], ['c']);
  const explicit = timeCutoffSplit(data, { cutoffTs: 5 });
  assert.equal(explicit.train.length, 4);
  assert.deepEqual([...explicit.warmUsers].sort(), ['a', 'b']);
});
