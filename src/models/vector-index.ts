/**
 * @module A nearest-neighbour index over item vectors, for candidate retrieval: the k items whose
 * vectors are most similar (cosine) to a query vector, some ids excluded.
 *
 * Exact, by one scan of a contiguous Float32Array: at the catalogue sizes of this project (1.7k
 * MovieLens items, a few thousand generated ones, 10k in the scale test) a scan of n × 32 floats
 * takes tens of microseconds and returns the true neighbours, which an approximate graph index
 * (HNSW) would trade away for speed it does not need here. Past ~10⁵ items that changes:
 * `../shared/DEPENDENCIES.md` lists usearch (prebuilt, HNSW) as the library to put behind this
 * same `search` then.
 */

export interface Neighbour {
  readonly id: string;
  /** Similarity to the query: cosine (in [-1, 1]) or inner product, by the index's metric. */
  readonly score: number;
}

/**
 * `cosine`: direction only. `ip` (inner product): the vectors as they are, so that an item's norm
 * (in implicit ALS, roughly how widely it is watched) counts too.
 */
export type Metric = 'cosine' | 'ip';

export class VectorIndex {
  readonly dims: number;
  readonly size: number;
  private readonly ids: readonly string[];
  /** The rows searched: unit length (cosine) or as given (ip); a row of zeros (an item with no vector) never matches. */
  private readonly unit: Float32Array;
  private readonly present: Uint8Array;
  private readonly position: Map<string, number>;

  /** `vectors` is row-major, `ids.length` rows of `dims`; an all-zero row is an item with no vector. */
  constructor(ids: readonly string[], vectors: ArrayLike<number>, dims: number, readonly metric: Metric = 'cosine') {
    if (vectors.length !== ids.length * dims) throw new RangeError(`VectorIndex: ${vectors.length} values for ${ids.length} ids × ${dims} dims`);
    this.dims = dims;
    this.ids = ids;
    this.unit = new Float32Array(ids.length * dims);
    this.present = new Uint8Array(ids.length);
    this.position = new Map(ids.map((id, i) => [id, i]));
    let size = 0;
    for (let i = 0; i < ids.length; i++) {
      let norm = 0;
      for (let d = 0; d < dims; d++) norm += vectors[i * dims + d]! ** 2;
      if (!(norm > 0)) continue;
      const s = metric === 'cosine' ? 1 / Math.sqrt(norm) : 1;
      for (let d = 0; d < dims; d++) this.unit[i * dims + d] = vectors[i * dims + d]! * s;
      this.present[i] = 1;
      size++;
    }
    this.size = size;
  }

  /** The indexed vector of an id (a copy; unit length under cosine), or undefined when it has none. */
  vector(id: string): Float32Array | undefined {
    const i = this.position.get(id);
    return i === undefined || !this.present[i] ? undefined : this.unit.slice(i * this.dims, (i + 1) * this.dims);
  }

  /**
   * The sum of the indexed vectors of `ids` (unit vectors under cosine): a query for "more like
   * these" (its length does not change the order of a search). Undefined when none has a vector.
   */
  centroid(ids: Iterable<string>): Float32Array | undefined {
    const q = new Float32Array(this.dims);
    let n = 0;
    for (const id of ids) {
      const i = this.position.get(id);
      if (i === undefined || !this.present[i]) continue;
      for (let d = 0; d < this.dims; d++) q[d]! += this.unit[i * this.dims + d]!;
      n++;
    }
    return n === 0 ? undefined : q;
  }

  /** The k most similar indexed items, best first (ties by index order), skipping `exclude`; cosine scores are of the normalised query. */
  search(query: ArrayLike<number>, k: number, exclude?: ReadonlySet<string>): Neighbour[] {
    const dims = this.dims;
    if (query.length !== dims) throw new RangeError(`VectorIndex.search: a query of ${query.length} dims for an index of ${dims}`);
    let qn = 0;
    for (let d = 0; d < dims; d++) qn += query[d]! ** 2;
    if (!(qn > 0) || k <= 0) return [];
    const qs = this.metric === 'cosine' ? 1 / Math.sqrt(qn) : 1;
    // The best k so far, sorted descending by score (insertion: k is small beside the catalogue).
    const top: { i: number; s: number }[] = [];
    for (let i = 0; i < this.ids.length; i++) {
      if (!this.present[i]) continue;
      let s = 0;
      const o = i * dims;
      for (let d = 0; d < dims; d++) s += this.unit[o + d]! * query[d]!;
      s *= qs;
      if (top.length === k && !(s > top[k - 1]!.s)) continue;
      if (exclude?.has(this.ids[i]!)) continue;
      let pos = top.length < k ? top.length : k - 1;
      if (top.length < k) top.push({ i, s });
      while (pos > 0 && s > top[pos - 1]!.s) {
        top[pos] = top[pos - 1]!;
        pos--;
      }
      top[pos] = { i, s };
    }
    return top.map(({ i, s }) => ({ id: this.ids[i]!, score: s }));
  }
}
