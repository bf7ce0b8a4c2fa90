/** last_k and top_k pick their k values without sorting every entry: the same values, in the same order, as a full sort. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { AggregationIR } from '../../features/ir.ts';
import { compact, emptyPartial, finalize, type Partial } from './partials.ts';

const agg = (op: 'last_k' | 'top_k', k: number) => ({ op, k, input: 'x', weight: null, name: op, window: { kind: 'lifetime' } }) as unknown as AggregationIR;
/** Values and small integer times or weights, so that ties are common. */
const entries = fc.array(fc.tuple(fc.integer({ min: 0, max: 30 }).map((i) => `v${i}`), fc.integer({ min: -2, max: 4 })), { maxLength: 40 });

test('last_k: the k newest values, newest first, ties broken by the greater value; compact keeps them', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 8 }), entries, (k, es) => {
      const a = agg('last_k', k);
      const p = emptyPartial(a) as Extract<Partial, { kind: 'latest' }>;
      for (const [v, ts] of es) p.at.set(v, ts);
      const sorted = [...p.at.entries()].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? 1 : x[0] > y[0] ? -1 : 0)).slice(0, k).map(([v]) => v);
      const expected = p.at.size === 0 ? null : sorted;
      assert.deepEqual(finalize(a, p, 0), expected);
      compact(a, p);
      assert.deepEqual(finalize(a, p, 0), expected);
    }),
  );
});

test('top_k: the k heaviest values, heaviest first, ties broken by the smaller value', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 8 }), entries, (k, es) => {
      const a = agg('top_k', k);
      const p = emptyPartial(a) as Extract<Partial, { kind: 'weights' }>;
      for (const [v, w] of es) p.w.set(v, w);
      const sorted = [...p.w.entries()].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0)).slice(0, k).map(([v]) => v);
      assert.deepEqual(finalize(a, p, 0), p.w.size === 0 ? null : sorted);
    }),
  );
});
