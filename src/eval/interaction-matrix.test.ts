import assert from 'node:assert/strict';
import test from 'node:test';
import { buildInteractionMatrix, itemToItemScorer } from './interaction-matrix.ts';

test('item-to-item scores are, bit for bit, the row-by-row sums of the weights of the items a user has', () => {
  // 7 items for u1 (a block of four rows, then three one by one), 2 for u2, weights far apart in magnitude.
  const rows = [
    ...['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((item, ts) => ({ user: 'u1', item, ts, rating: 1 + (ts % 5) })),
    { user: 'u2', item: 'b', ts: 0, rating: 3 },
    { user: 'u2', item: 'g', ts: 1, rating: 5 },
  ];
  const x = buildInteractionMatrix(rows);
  const n = x.items.length;
  const w = Float64Array.from({ length: n * n }, (_, i) => Math.sin(i * 12.9898) * 10 ** ((i % 7) - 3));
  const value = (v: number) => v / 3;
  const scorer = itemToItemScorer(x, w, value);
  for (const user of ['u1', 'u2']) {
    const u = x.userIndex.get(user)!;
    const expected = new Float64Array(n);
    for (let p = x.rowPtr[u]!; p < x.rowPtr[u + 1]!; p++) {
      for (let j = 0; j < n; j++) expected[j]! += value(x.values[p]!) * w[x.colIdx[p]! * n + j]!;
    }
    assert.deepEqual(Array.from(scorer.score(user)!), Array.from(expected), user);
  }
  assert.equal(scorer.score('nobody'), undefined);
});
