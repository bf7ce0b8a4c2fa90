import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VectorIndex } from './vector-index.ts';

function random(seed: number): () => number {
  let x = seed;
  return () => ((x = (x * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5;
}

test('VectorIndex.search: the k best by cosine, best first, exclusions and empty rows skipped (against sorting every item)', () => {
  const rand = random(11);
  const n = 500, dims = 8;
  const ids = Array.from({ length: n }, (_, i) => `i${i}`);
  const vectors = Float64Array.from({ length: n * dims }, rand);
  vectors.fill(0, 7 * dims, 8 * dims); // i7 has no vector
  const index = new VectorIndex(ids, vectors, dims);
  assert.equal(index.size, n - 1);
  const cos = (q: Float64Array, i: number) => {
    let dot = 0, qq = 0, vv = 0;
    for (let d = 0; d < dims; d++) {
      dot += q[d]! * vectors[i * dims + d]!;
      qq += q[d]! ** 2;
      vv += vectors[i * dims + d]! ** 2;
    }
    return dot / Math.sqrt(qq * vv);
  };
  for (let t = 0; t < 20; t++) {
    const q = Float64Array.from({ length: dims }, rand);
    const exclude = new Set(ids.filter((_, i) => i % 3 === t % 3));
    const expected = ids.map((id, i) => ({ id, score: i === 7 ? -Infinity : cos(q, i) })).filter((x) => !exclude.has(x.id) && x.id !== 'i7').sort((a, b) => b.score - a.score).slice(0, 10);
    const got = index.search(q, 10, exclude);
    assert.deepEqual(got.map((x) => x.id), expected.map((x) => x.id));
    got.forEach((x, j) => assert.ok(Math.abs(x.score - expected[j]!.score) < 1e-5));
  }
  assert.deepEqual(index.search(new Float64Array(dims), 5), [], 'a zero query matches nothing');
  assert.throws(() => index.search(new Float64Array(3), 5), /3 dims for an index of 8/);
});

test('VectorIndex.centroid: more like these', () => {
  const ids = ['a', 'b', 'c', 'd'];
  // a and b point one way, c and d the other.
  const index = new VectorIndex(ids, [1, 0.1, 1, -0.1, -1, 0.05, -1, -0.05], 2);
  const q = index.centroid(['a', 'unknown']) as Float32Array;
  assert.deepEqual(index.search(q, 1, new Set(['a'])).map((x) => x.id), ['b']);
  assert.equal(index.centroid(['unknown']), undefined);
  assert.equal(index.vector('zzz'), undefined);
  assert.throws(() => new VectorIndex(ids, [1, 2, 3], 2), /3 values for 4 ids/);
});

test('VectorIndex with the inner product: longer vectors win at the same direction', () => {
  const index = new VectorIndex(['short', 'long', 'other'], [1, 0, 3, 0, 0, 1], 2, 'ip');
  assert.deepEqual(index.search([1, 0.1], 3).map((x) => [x.id, Math.round(x.score * 100) / 100]), [['long', 3], ['short', 1], ['other', 0.1]]);
  const cosine = new VectorIndex(['short', 'long', 'other'], [1, 0, 3, 0, 0, 1], 2);
  assert.deepEqual(cosine.search([1, 0.1], 2).map((x) => x.id), ['short', 'long'], 'cosine ties in index order');
});
