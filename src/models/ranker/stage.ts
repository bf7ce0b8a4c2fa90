/**
 * @module One stage of the stacked ranker: on a training part, fit the base models, generate each
 * user's candidates, and join the stacking features with the recsignal features computed from an
 * event log of that same part, as of the part's end. Run once on an inner split (to learn) and
 * once on the whole training split (to rank).
 */
import { compareIds } from '../../eval/ids.ts';
import { seenItems } from '../../eval/recommend.ts';
import type { Interaction } from '../../eval/types.ts';
import type { CompiledFeatureSet } from '../../plan/compile.ts';
import { fitBaseModels, generateCandidates, type AlsSetting, type BaseModel, type CandidateSet } from './candidates.ts';
import type { AlsModel } from '../../eval/baselines/als.ts';
import { itemEmbeddings, type ItemEmbeddings } from './embeddings.ts';
import { pairFeatures, withTrainingLog, type Metadata } from './features.ts';

/** Candidate rows with every feature: row-major, `names.length` columns. */
export interface StageData {
  readonly candidates: CandidateSet;
  readonly names: readonly string[];
  readonly data: Float64Array;
  readonly base: readonly BaseModel[];
}

export interface StageOptions {
  readonly train: readonly Interaction[];
  /** The catalogue (the outer training items): candidates and scores index it. */
  readonly items: readonly string[];
  /** Users to generate candidates for. */
  readonly users: readonly string[];
  /** Features are computed as of this instant (events strictly before it). */
  readonly asOf: number;
  readonly candidatesPerModel: number;
  readonly embeddingDims: number;
  readonly seed: number;
  readonly compiled: CompiledFeatureSet;
  readonly meta: Metadata | undefined;
  readonly vocabulary: readonly string[];
  readonly note: (m: string) => void;
  /** Also the item views as of each user's last activity (see `pairFeatures`). */
  readonly itemsAtUserTime: boolean;
  /** The ALS base models' settings (see `fitBaseModels`). */
  readonly als: readonly AlsSetting[];
  /** Also the base ALS model's item factors as features (`als_item_*`). */
  readonly alsItemFactors?: boolean;
  /** Also a rating-weighted EASE's score and rank (`ease_rated_*`, see `ratedWeight`). */
  readonly ratingEase?: boolean;
  readonly userKnn?: number;
  /** Base models to use instead of fitting them (a caller that already has them). */
  readonly base?: readonly BaseModel[];
}

export async function buildStage(o: StageOptions): Promise<StageData> {
  const base = o.base ?? fitBaseModels(o.train, { items: o.items, seed: o.seed, als: o.als, ratingEase: o.ratingEase === true, userKnn: o.userKnn ?? 0 }, o.note);
  const t0 = performance.now();
  const users = [...o.users].sort(compareIds);
  const candidates = generateCandidates(base, users, seenItems(o.train), o.candidatesPerModel);
  o.note(`${candidates.items.length.toLocaleString('en-US')} candidates for ${candidates.users.length} users in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const emb: ItemEmbeddings = itemEmbeddings(o.train, o.items, o.embeddingDims);
  const pairs = Array.from(candidates.items, (i, r) => ({ user: '', item: o.items[i]!, r }));
  candidates.users.forEach((u, q) => {
    for (let r = candidates.offsets[q]!; r < candidates.offsets[q + 1]!; r++) pairs[r]!.user = u;
  });
  const t1 = performance.now();
  const block = await withTrainingLog(o.train, o.meta, (log) => pairFeatures(o.compiled, log, pairs, o.asOf, o.vocabulary, o.itemsAtUserTime ? lastActivity(o.train) : undefined));
  o.note(`recsignal features (${block.names.length} columns) for ${block.rows.toLocaleString('en-US')} pairs in ${((performance.now() - t1) / 1000).toFixed(1)} s`);

  const userVec = emb.userVectors(candidates.users, o.train);
  const embNames = [...Array.from({ length: emb.dims }, (_, d) => `emb_item_${d}`), 'emb_dot', 'emb_cosine'];
  // The base ALS model's item factors as item features (its user·item product is already als_score).
  const als = o.alsItemFactors ? (base.find((b) => b.name === 'als')?.scorer as Partial<AlsModel> | undefined) : undefined;
  const alsDims = als?.itemFactors ? (als.factors as number) : 0;
  const alsNames = Array.from({ length: alsDims }, (_, d) => `als_item_${d}`);
  const names = [...candidates.featureNames, ...embNames, ...alsNames, ...block.names];
  const cols = names.length;
  const nb = candidates.featureNames.length;
  const rows = candidates.items.length;
  const data = new Float64Array(rows * cols);
  candidates.users.forEach((_, q) => {
    const uv = userVec.subarray(q * emb.dims, (q + 1) * emb.dims);
    let un = 0;
    for (let d = 0; d < emb.dims; d++) un += uv[d]! * uv[d]!;
    for (let r = candidates.offsets[q]!; r < candidates.offsets[q + 1]!; r++) {
      const out = r * cols;
      data.set(candidates.features.subarray(r * nb, (r + 1) * nb), out);
      const iv = emb.vectors.subarray(candidates.items[r]! * emb.dims, (candidates.items[r]! + 1) * emb.dims);
      let dot = 0, inn = 0;
      for (let d = 0; d < emb.dims; d++) {
        data[out + nb + d] = iv[d]!;
        dot += iv[d]! * uv[d]!;
        inn += iv[d]! * iv[d]!;
      }
      data[out + nb + emb.dims] = dot;
      data[out + nb + emb.dims + 1] = un > 0 && inn > 0 ? dot / Math.sqrt(un * inn) : Number.NaN;
      if (alsDims > 0) data.set((als?.itemFactors as Float64Array).subarray(candidates.items[r]! * alsDims, (candidates.items[r]! + 1) * alsDims), out + nb + emb.dims + 2);
      data.set(block.data.subarray(r * block.names.length, (r + 1) * block.names.length), out + nb + emb.dims + 2 + alsDims);
    }
  });
  return { candidates, names, data, base };
}

/** Each user's time just after their last training interaction: when they were last watching. */
function lastActivity(train: readonly Interaction[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of train) out.set(r.user, Math.max(out.get(r.user) ?? -Infinity, r.ts + 1));
  return out;
}

/** The columns of `keep` (indices into `names`), row-major. */
export function selectColumns(data: Float64Array, cols: number, keep: readonly number[]): Float64Array {
  const rows = data.length / cols;
  const out = new Float64Array(rows * keep.length);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < keep.length; k++) out[r * keep.length + k] = data[r * cols + keep[k]!]!;
  }
  return out;
}
