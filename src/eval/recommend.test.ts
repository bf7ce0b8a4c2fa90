import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareIds, catalogueOf } from './ids.ts';
import { recommendTopK, seenItems, truthOf } from './recommend.ts';
import type { Scorer } from './types.ts';

const scorer: Scorer = {
  items: ['a', 'b', 'c', 'd', 'e'],
  score: (u) => (u === 'ghost' ? undefined : Float64Array.from([1, 3, 3, 2, 3])),
};

test('top k by descending score; ties keep catalogue order; seen items removed', () => {
  // Stable descending order: b, c, e (all 3), d (2), a (1).
  const all = recommendTopK(scorer, ['u'], 5);
  assert.deepEqual(all.get('u'), ['b', 'c', 'e', 'd', 'a']);
  // With b seen, the tie at rank 2 is cut by catalogue order: c and e, not e alone.
  const recs = recommendTopK(scorer, ['u', 'ghost'], 2, new Map([['u', new Set(['b', 'zz'])]]));
  assert.deepEqual(recs.get('u'), ['c', 'e']);
  assert.equal(recs.has('ghost'), false, 'unknown users get no list');
  assert.deepEqual(recommendTopK(scorer, ['u'], 9, new Map([['u', new Set(['a', 'b', 'c', 'd'])]])).get('u'), ['e']);
});

test('a NaN score ranks last, wherever it stands in the catalogue', () => {
  const nan: Scorer = { items: ['a', 'b', 'c', 'd'], score: () => Float64Array.from([NaN, 1, 3, 2]) };
  assert.deepEqual(recommendTopK(nan, ['u'], 2).get('u'), ['c', 'd']);
  assert.deepEqual(recommendTopK(nan, ['u'], 4).get('u'), ['c', 'd', 'b', 'a']);
});

test('a k past the catalogue lists the whole catalogue, and does not size buffers by k', () => {
  const scorer: Scorer = { items: ['a', 'b'], score: () => Float64Array.from([1, 2]) };
  assert.deepEqual(recommendTopK(scorer, ['u'], 1e12).get('u'), ['b', 'a']);
});

test('seen items and truth come from interaction rows', () => {
  const rows = [
    { user: '1', item: 'x', rating: 4, ts: 0 },
    { user: '1', item: 'y', rating: 2, ts: 1 },
    { user: '2', item: 'x', rating: 5, ts: 2 },
  ];
  assert.deepEqual(seenItems(rows), new Map([['1', new Set(['x', 'y'])], ['2', new Set(['x'])]]));
  assert.deepEqual(truthOf(rows).get('1'), new Map([['x', 4], ['y', 2]]));
});

test('ids: integers numerically, then other ids; a total order', () => {
  assert.deepEqual(['10', 'b', '9', '1a', '2', 'a', '100'].sort(compareIds), ['2', '9', '10', '100', '1a', 'a', 'b']);
  assert.deepEqual(catalogueOf([{ item: '3' }, { item: '20' }, { item: '3' }]), ['3', '20']);
});

test('a pair rated twice is true at its latest rating by time, whatever the rows\' order (the random splits hand them over in draw order)', () => {
  const rows = [
    { user: 'u', item: 'i', rating: 5, ts: 2000 },
    { user: 'u', item: 'i', rating: 1, ts: 1000 },
    { user: 'u', item: 'j', rating: 2, ts: 5 },
    { user: 'u', item: 'j', rating: 3, ts: 5 },
  ];
  assert.deepEqual(truthOf(rows).get('u'), new Map([['i', 5], ['j', 3]]));
});
