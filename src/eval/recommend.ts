/**
 * @module The one place the full-ranking rule lives: score every catalogue item, drop the items the
 * user interacted with in training, keep the top k.
 */
import type { Interaction, Scorer, Truth } from './types.ts';

/** user -> items they interacted with (the rows given, normally the training set). */
export function seenItems(rows: readonly Interaction[]): Map<string, Set<string>> {
  const seen = new Map<string, Set<string>>();
  for (const r of rows) {
    let s = seen.get(r.user);
    if (!s) seen.set(r.user, (s = new Set()));
    s.add(r.item);
  }
  return seen;
}

/**
 * user -> item -> rating of the rows given (normally the test set): the truth the metrics read. A
 * pair rated more than once takes its latest rating (by time; of equal times, the later row): the
 * random splits hand rows over in draw order, not time order.
 */
export function truthOf(rows: readonly Interaction[]): Map<string, Map<string, number>> {
  const truth = new Map<string, Map<string, number>>();
  const at = new Map<Map<string, number>, Map<string, number>>();
  for (const r of rows) {
    let m = truth.get(r.user);
    if (!m) {
      truth.set(r.user, (m = new Map()));
      at.set(m, new Map());
    }
    const times = at.get(m) as Map<string, number>;
    const before = times.get(r.item);
    if (before !== undefined && before > r.ts) continue;
    m.set(r.item, r.rating);
    times.set(r.item, r.ts);
  }
  return truth;
}

/**
 * Top-k items per user by descending score, excluding `exclude.get(user)` (pass the training
 * interactions' `seenItems` for the standard protocol). Ties keep catalogue order: it is the
 * stable descending sort numpy/pandas code gets, and it decides precision when scores tie at rank k
 * (popularity counts tie often). Users the scorer does not know get no entry.
 */
export function recommendTopK(
  scorer: Scorer,
  users: Iterable<string>,
  k: number,
  exclude?: ReadonlyMap<string, ReadonlySet<string>>,
): Map<string, string[]> {
  const items = scorer.items;
  const index = new Map<string, number>();
  items.forEach((it, i) => index.set(it, i));
  const out = new Map<string, string[]>();
  // A list holds at most the catalogue: a k past it (1e12, say) must not size the buffers.
  const cap = Math.min(k, items.length);
  const heapIdx = new Int32Array(cap);
  const heapScore = new Float64Array(cap);
  for (const user of users) {
    const scores = scorer.score(user);
    if (!scores) continue;
    const skip = new Uint8Array(items.length);
    for (const it of exclude?.get(user) ?? []) {
      const i = index.get(it);
      if (i !== undefined) skip[i] = 1;
    }
    // Insertion into a sorted buffer of size min(k, catalogue): better-or-equal scores stay ahead
    // (stable). A NaN score (a scorer's bug) ranks as -Infinity: last, instead of sticking wherever
    // it landed.
    let size = 0;
    for (let i = 0; i < items.length; i++) {
      if (skip[i]) continue;
      const v = scores[i]!;
      const s = v === v ? v : -Infinity;
      if (size === cap && !(s > heapScore[cap - 1]!)) continue;
      let pos = size < cap ? size++ : cap - 1;
      while (pos > 0 && s > heapScore[pos - 1]!) {
        heapIdx[pos] = heapIdx[pos - 1]!;
        heapScore[pos] = heapScore[pos - 1]!;
        pos--;
      }
      heapIdx[pos] = i;
      heapScore[pos] = s;
    }
    const list: string[] = [];
    for (let j = 0; j < size; j++) list.push(items[heapIdx[j]!]!);
    out.set(user, list);
  }
  return out;
}

/** The users to rank for: those with at least one held-out item. */
export function evaluationUsers(truth: Truth): string[] {
  return [...truth].filter(([, m]) => m.size > 0).map(([u]) => u);
}
