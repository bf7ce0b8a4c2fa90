/**
 * @module Serving reads of embedding views, shared by the memory and store-backed states: the
 * tables live in process (loaded from the log, like metadata), whatever the online store is.
 */
import { EMBEDDING_OUTPUT, type FeatureValue } from '../features/ir.ts';
import type { EmbeddingTables } from '../store/offline/embeddings.ts';
import type { ReadSlots } from './online-state.ts';
import type { ViewPlan } from './plan.ts';

const MAX_CACHED = 200_000;

export class EmbeddingReads {
  /** Per view: each key's values map for the vector last read, so a hot item allocates no map per request. */
  private readonly cache: Map<string, { readonly vector: readonly number[]; readonly values: ReadonlyMap<string, FeatureValue> }>[];

  constructor(
    views: readonly ViewPlan[],
    private readonly tables: EmbeddingTables,
    private readonly maxAgeMs: number,
  ) {
    this.cache = views.map(() => new Map());
  }

  /** Reads the key's version as of t into the view's slots; false when it has none (the caller's NOT_FOUND). */
  readInto(vp: ViewPlan, key: string | null, t: number, slots: ReadSlots): boolean {
    const v = vp.view;
    if (v.kind !== 'embedding' || key === null) return false;
    const version = this.tables.get(v.table)?.at(key, t);
    if (version === undefined) return false;
    const cache = this.cache[vp.index] as Map<string, { vector: readonly number[]; values: ReadonlyMap<string, FeatureValue> }>;
    let c = cache.get(key);
    // By the vector itself: a table read again (a new version, or one replaced) holds new arrays.
    if (c === undefined || c.vector !== version.vector) {
      c = { vector: version.vector, values: new Map([[EMBEDDING_OUTPUT.name, version.vector]]) };
      if (cache.size >= MAX_CACHED) cache.clear();
      cache.set(key, c);
    }
    const i = vp.index;
    slots.values[i] = c.values;
    slots.statuses[i] = t - version.ts > this.maxAgeMs ? 'STALE' : 'PRESENT';
    slots.eventTs[i] = version.ts;
    return true;
  }
}
