/**
 * @module The ranker's answer for cold users (no training rows, so no candidates and no history
 * features): recent popularity blended with the recent popularity among users of the same
 * demographic cell (gender × age decade, from user metadata). Without metadata it is recent
 * popularity alone.
 */
import type { Interaction, Scorer } from '../../eval/types.ts';
import type { Metadata } from './features.ts';

export interface ColdOptions {
  readonly items: readonly string[];
  readonly meta: Metadata | undefined;
  /** Half-life of the popularity decay (ms), from the newest training row. */
  readonly halfLifeMs: number;
  /** Weight of the demographic cell's popularity against everybody's, in [0, 1]. */
  readonly demographicWeight: number;
}

function cellOf(u: { gender: string | null; age: number | null } | undefined): string | null {
  if (!u || u.gender === null || u.age === null) return null;
  return `${u.gender}:${Math.floor(u.age / 10)}`;
}

/** Scores for any user; known users get the same as cold ones (the warm ranker handles them). */
export function trainColdScorer(train: readonly Interaction[], o: ColdOptions): Scorer {
  const index = new Map(o.items.map((it, i) => [it, i] as const));
  const users = new Map((o.meta?.users ?? []).map((u) => [u.userId, u] as const));
  const now = train.reduce((m, r) => Math.max(m, r.ts), -Infinity);
  const all = new Float64Array(o.items.length);
  const cells = new Map<string, Float64Array>();
  for (const r of train) {
    const i = index.get(r.item);
    if (i === undefined) continue;
    const w = 0.5 ** ((now - r.ts) / o.halfLifeMs);
    all[i]! += w;
    const cell = cellOf(users.get(r.user));
    if (cell === null) continue;
    let v = cells.get(cell);
    if (!v) cells.set(cell, (v = new Float64Array(o.items.length)));
    v[i]! += w;
  }
  const normalise = (v: Float64Array) => {
    const max = v.reduce((m, x) => Math.max(m, x), 0);
    return max > 0 ? v.map((x) => x / max) : v;
  };
  const base = normalise(all);
  const blended = new Map([...cells].map(([cell, v]) => {
    const n = normalise(v);
    return [cell, base.map((b, i) => (1 - o.demographicWeight) * b + o.demographicWeight * n[i]!)] as const;
  }));
  return {
    items: o.items,
    score(user) {
      const cell = cellOf(users.get(user));
      return (cell === null ? undefined : blended.get(cell))?.slice() ?? base.slice();
    },
  };
}
