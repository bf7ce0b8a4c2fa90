import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Interaction } from '../eval/types.ts';
import type { ItemMetadata, UserMetadata } from '../events/schema.ts';
import { embeddingScorer, learnEmbeddings, ridge } from './embeddings.ts';

test('ridge: recovers a linear map from one-hot rows when the penalty is small', () => {
  // y = x·W with W = [[1, 2], [3, -1], [0, 5]]; rows are every non-empty subset of the 3 columns.
  const w = [1, 2, 3, -1, 0, 5];
  const xs: Float64Array[] = [];
  const ys: Float64Array[] = [];
  for (let m = 1; m < 8; m++) {
    const x = Float64Array.from([m & 1, (m >> 1) & 1, (m >> 2) & 1]);
    xs.push(x);
    ys.push(Float64Array.from([0, 1], (c) => x[0]! * w[c]! + x[1]! * w[2 + c]! + x[2]! * w[4 + c]!));
  }
  const got = ridge(xs, ys, 3, 2, 1e-9);
  got.forEach((v, i) => assert.ok(Math.abs(v - w[i]!) < 1e-6, `W[${i}] = ${v}, expected ${w[i]}`));
});

/** Two tastes: users u0..u19 (gender F) watch the drama items, u20..u39 (gender M) the action ones. */
function world() {
  const items: ItemMetadata[] = Array.from({ length: 20 }, (_, i) => ({ itemId: `i${i}`, title: null, year: 1990 + i, genres: [i < 10 ? 'Drama' : 'Action'], releaseTs: null, duration: null }));
  const users: UserMetadata[] = Array.from({ length: 40 }, (_, u) => ({ userId: `u${u}`, age: 30, gender: u < 20 ? 'F' : 'M', occupation: null, country: null }));
  const train: Interaction[] = [];
  for (let u = 0; u < 40; u++) {
    for (let k = 0; k < 6; k++) {
      const i = (u < 20 ? 0 : 10) + ((u * 7 + k * 3) % 10);
      // i9 and i19 stay unwatched: new items with metadata only.
      if (i % 10 === 9) continue;
      train.push({ user: `u${u}`, item: `i${i}`, rating: 5, ts: u * 1000 + k });
    }
  }
  // A new user of each gender, with no rows.
  users.push({ userId: 'newF', age: 30, gender: 'F', occupation: null, country: null }, { userId: 'newM', age: 30, gender: 'M', occupation: null, country: null });
  return { items, users, train };
}

test('learnEmbeddings: items and users without rows get a vector from their metadata, in the taste space of their kind', () => {
  const { items, users, train } = world();
  const catalogue = items.map((i) => i.itemId);
  const e = learnEmbeddings(train, { items: catalogue, factors: 4, regularization: 1, itemMeta: items, userMeta: users, seed: 1 });
  assert.equal(e.item('i0')?.source, 'interactions');
  assert.equal(e.item('i9')?.source, 'metadata');
  assert.equal(e.user('u0')?.source, 'interactions');
  assert.equal(e.user('newF')?.source, 'metadata');
  assert.equal(e.user('nobody'), undefined);
  const dot = (a: Float64Array, b: Float64Array) => a.reduce((s, x, i) => s + x * b[i]!, 0);
  const vec = (v: { vector: Float64Array } | undefined) => (v as { vector: Float64Array }).vector;
  // The new drama item scores higher for a drama watcher than for an action watcher, and the new action item the other way.
  assert.ok(dot(vec(e.user('u1')), vec(e.item('i9'))) > dot(vec(e.user('u21')), vec(e.item('i9'))));
  assert.ok(dot(vec(e.user('u21')), vec(e.item('i19'))) > dot(vec(e.user('u1')), vec(e.item('i19'))));
  // A new user's top items are those their demographic cell watches.
  const scorer = embeddingScorer(e, catalogue);
  const top = (user: string) => {
    const s = scorer.score(user) as Float64Array;
    return [...s.keys()].sort((a, b) => s[b]! - s[a]!).slice(0, 5).map((i) => catalogue[i]!);
  };
  assert.ok(top('newF').every((id) => Number(id.slice(1)) < 10), `newF's top 5: ${top('newF').join(', ')}`);
  assert.ok(top('newM').every((id) => Number(id.slice(1)) >= 10), `newM's top 5: ${top('newM').join(', ')}`);
  assert.equal(scorer.score('nobody'), undefined);
});

test('learnEmbeddings: without metadata, only entities with rows have vectors', () => {
  const { items, train } = world();
  const e = learnEmbeddings(train, { items: items.map((i) => i.itemId), factors: 4, regularization: 1 });
  assert.equal(e.item('i9'), undefined);
  assert.equal(e.user('newF'), undefined);
  assert.ok(e.user('u3'));
  // The catalogue row of an item with no vector is zeros, not ALS's random start.
  assert.ok(e.catalogue.subarray(9 * 4, 10 * 4).every((x) => x === 0));
});
