/**
 * @module Candidate generation for the ranker: base recommenders fitted on a training part, each
 * user's candidates the union of every base model's top N unseen items, with each model's score
 * and rank of every candidate as the stacking features.
 */
import { DAY_MS } from '../../core/time.ts';
import { trainAls } from '../../eval/baselines/als.ts';
import { trainEase } from '../../eval/baselines/ease.ts';
import { trainItemKnn } from '../../eval/baselines/itemknn.ts';
import { trainPopularity } from '../../eval/baselines/popularity.ts';
import { trainSar } from '../../eval/baselines/sar.ts';
import { trainUserKnn } from '../../eval/baselines/userknn.ts';
import type { Interaction, Scorer, Truth } from '../../eval/types.ts';

/** The base models' defaults: those of the evaluate registry. */
export interface BaseModelOptions {
  readonly items: readonly string[];
  readonly seed: number;
  readonly easeLambda?: number;
  readonly alsIterations?: number;
  /** The ALS base models: each named `als`, `als_2`, … in order; default one of 16 factors, λ 1. */
  readonly als?: readonly AlsSetting[];
  /** Also a rating-weighted EASE (`ease_rated`: `trainEase` weighted by `ratedWeight`), scoring only. */
  readonly ratingEase?: boolean;
  /** Also a user-kNN (`userknn`, k neighbours), scoring only; 0 = none. */
  readonly userKnn?: number;
}

export interface AlsSetting {
  readonly factors: number;
  readonly regularization: number;
}

export interface BaseModel {
  readonly name: string;
  readonly scorer: Scorer;
  /** Generates candidates (its top N goes into the union); otherwise it only scores them. */
  readonly generates: boolean;
}

/** Fits every base model on `train`, all over the same catalogue `items`. */
export function fitBaseModels(train: readonly Interaction[], o: BaseModelOptions, note: (m: string) => void = () => undefined): BaseModel[] {
  const items = o.items;
  const timed = (name: string, generates: boolean, fit: () => Scorer): BaseModel => {
    const t = performance.now();
    const scorer = fit();
    note(`base ${name} fitted in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    return { name, scorer, generates };
  };
  return [
    timed('ease', true, () => trainEase(train, { items, lambda: o.easeLambda ?? 500 })),
    timed('itemknn', true, () => trainItemKnn(train, { items })),
    timed('sar', true, () => trainSar(train, { items, similarity: 'jaccard', halfLifeMs: 30 * DAY_MS })),
    ...(o.als ?? [{ factors: 16, regularization: 1 }]).map((a, j) =>
      timed(j === 0 ? 'als' : `als_${j + 1}`, true, () => trainAls(train, { items, factors: a.factors, regularization: a.regularization, alpha: 1, iterations: o.alsIterations ?? 15, seed: o.seed })),
    ),
    timed('popularity', true, () => trainPopularity(train, { items })),
    timed('popularity_decayed', true, () => trainPopularity(train, { items, halfLifeMs: 30 * DAY_MS })),
    ...(o.ratingEase ? [timed('ease_rated', false, () => trainEase(train, { items, lambda: o.easeLambda ?? 500, weight: (r) => ratedWeight(r.rating) }))] : []),
    ...((o.userKnn ?? 0) > 0 ? [timed('userknn', false, () => trainUserKnn(train, { items, neighbours: o.userKnn! }))] : []),
  ];
}

/** A rating's weight in the rated EASE, fixed a priori: a liked item (4–5) counts fully, another half. */
export const ratedWeight = (rating: number): number => (rating >= 4 ? 1 : 0.5);

/** Candidates of many users, contiguous per user (the query groups of LambdaMART). */
export interface CandidateSet {
  readonly users: readonly string[];
  /** Candidates of user u: rows `offsets[u] .. offsets[u + 1]`. */
  readonly offsets: Int32Array;
  /** Catalogue index of each row's item. */
  readonly items: Int32Array;
  /** Per row: for each base model, its score and its rank among the user's unseen items (1 = best). */
  readonly features: Float64Array;
  readonly featureNames: readonly string[];
  /** The catalogue the indices refer to. */
  readonly catalogue: readonly string[];
  /** Per row, bit b set when generating model `generators[b]` has the item in its top n. */
  readonly sources: Uint32Array;
  /** The generating models' names, by bit of `sources`. */
  readonly generators: readonly string[];
}

/**
 * The union of each generating model's top `n` unseen items, per user, in catalogue order.
 * Users no base model knows (cold users) get no candidates here.
 */
export function generateCandidates(models: readonly BaseModel[], users: readonly string[], seen: ReadonlyMap<string, ReadonlySet<string>>, n: number): CandidateSet {
  const catalogue = models[0]!.scorer.items;
  const ni = catalogue.length;
  const index = new Map(catalogue.map((it, i) => [it, i] as const));
  const m = models.length;
  const featureNames = models.flatMap((b) => [`${b.name}_score`, `${b.name}_rank`]);
  const kept: string[] = [];
  const offsets: number[] = [0];
  const rowItems: number[] = [];
  const feats: number[] = [];
  const order = new Int32Array(ni);
  const generating = models.map((b, j) => (b.generates ? j : -1)).filter((j) => j >= 0);
  if (generating.length > 32) throw new Error(`generateCandidates: at most 32 generating models, got ${generating.length}`);
  const rowSources: number[] = [];
  for (const user of users) {
    const all = models.map((b) => b.scorer.score(user));
    if (all.some((s) => s === undefined)) continue;
    const scores = all as Float64Array[];
    const skip = new Uint8Array(ni);
    for (const it of seen.get(user) ?? []) {
      const i = index.get(it);
      if (i !== undefined) skip[i] = 1;
    }
    let count = 0;
    for (let i = 0; i < ni; i++) if (!skip[i]) order[count++] = i;
    const unseen = order.subarray(0, count);
    // Per model, its unseen scores sorted (ascending): the top n of the generating models, then the
    // rank of each candidate, by binary search.
    const sorted = scores.map((s) => {
      const v = new Float64Array(count);
      for (let k = 0; k < count; k++) v[k] = s[unseen[k]!]!;
      return v.sort();
    });
    // Bit g of chosen[i]: generating model g has item i in its top n.
    const chosen = new Uint32Array(ni);
    generating.forEach((b, g) => markTop(scores[b]!, unseen, sorted[b]!, n, chosen, 1 << g));
    for (let k = 0; k < count; k++) {
      const i = unseen[k]!;
      if (!chosen[i]) continue;
      rowItems.push(i);
      rowSources.push(chosen[i]!);
      for (let b = 0; b < m; b++) feats.push(scores[b]![i]!, rankOf(scores[b]!, unseen, sorted[b]!, i));
    }
    kept.push(user);
    offsets.push(rowItems.length);
  }
  return {
    users: kept, offsets: Int32Array.from(offsets), items: Int32Array.from(rowItems), features: Float64Array.from(feats), featureNames, catalogue,
    sources: Uint32Array.from(rowSources), generators: generating.map((b) => models[b]!.name),
  };
}

/**
 * The rank of unseen item `i` by score, best first, ties in catalogue order (the harness's stable
 * rule): 1 + the unseen items scoring higher + those scoring the same earlier in the catalogue.
 * `sorted` holds the unseen scores ascending: two binary searches, and a scan only on a tie.
 * (A comparator sort of every unseen item, per model and user, was the ranker's slowest step.)
 */
function rankOf(s: Float64Array, unseen: Int32Array, sorted: Float64Array, i: number): number {
  const x = s[i]!;
  const above = upperBound(sorted, x);
  let before = 0;
  if (above - lowerBound(sorted, x) > 1) for (let k = 0; k < unseen.length && unseen[k]! < i; k++) if (s[unseen[k]!] === x) before++;
  return 1 + (sorted.length - above) + before;
}

/** Sets `bit` in `chosen` for the unseen items ranked 1..n by `rankOf`'s rule: all above the n-th score, then its ties in catalogue order. */
function markTop(s: Float64Array, unseen: Int32Array, sorted: Float64Array, n: number, chosen: Uint32Array, bit: number): void {
  const count = unseen.length;
  if (count <= n) {
    for (const i of unseen) chosen[i]! |= bit;
    return;
  }
  const threshold = sorted[count - n]!;
  let ties = n - (count - upperBound(sorted, threshold));
  for (let k = 0; k < count; k++) {
    const i = unseen[k]!;
    const x = s[i]!;
    if (x > threshold) chosen[i]! |= bit;
    else if (x === threshold && ties > 0) {
      chosen[i]! |= bit;
      ties--;
    }
  }
}

/** First index of an ascending array whose value is >= x. */
function lowerBound(a: Float64Array, x: number): number {
  let lo = 0, hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index of an ascending array whose value is > x. */
function upperBound(a: Float64Array, x: number): number {
  let lo = 0, hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! <= x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Mean over the users with truth of the share of their held-out items among their candidates (≤ 1);
 * with `generator`, among that generating model's top n only (its recall@n).
 */
export function candidateRecall(set: CandidateSet, truth: Truth, generator?: string): number {
  const g = generator === undefined ? -1 : set.generators.indexOf(generator);
  if (generator !== undefined && g < 0) throw new Error(`candidateRecall: '${generator}' generates no candidates here (${set.generators.join(', ')})`);
  const mask = g < 0 ? 0xffffffff : 1 << g;
  let sum = 0, users = 0;
  set.users.forEach((u, q) => {
    const t = truth.get(u);
    if (!t || t.size === 0) return;
    let hits = 0;
    for (let r = set.offsets[q]!; r < set.offsets[q + 1]!; r++) if ((set.sources[r]! & mask) !== 0 && t.has(set.catalogue[set.items[r]!]!)) hits++;
    sum += hits / t.size;
    users++;
  });
  return users === 0 ? Number.NaN : sum / users;
}
