/**
 * @module The evaluation runner behind `recsignal evaluate`: split, train every model, rank all
 * training-catalogue items per user minus the user's training items, then metrics at k with
 * bootstrap intervals, warm/cold segments (time protocol) and paired tests against a reference.
 */
import { RecsignalError } from '../core/errors.ts';
import { catalogueOf } from './ids.ts';
import { aucFromScores, catalogueCoverage, mean, novelty, perUserRankingMetrics, rankingMetrics, type PerUserRankingMetrics } from './metrics.ts';
import { MODELS, modelParams, resolveModels, type DataSource, type ModelEntry, type ModelExplain, type ModelParams, type ProtocolName, PROTOCOLS, type SplitContext } from './models.ts';
import { recommendTopK, seenItems, truthOf } from './recommend.ts';
import { createRandomState } from './mt19937.ts';
import { pairedBootstrapTest, pairedPermutationTest, quantileSorted } from './significance.ts';
import { randomSplitByUser, stratifiedSplitMs, timeCutoffSplit } from './split.ts';
import { isoTime } from '../core/time.ts';
import type { Interaction, Recommendations, Scorer, Truth } from './types.ts';

export interface EvaluateOptions {
  /** The interactions, in source order (the random splits draw one number per row in this order). */
  readonly interactions: readonly Interaction[];
  readonly protocol: ProtocolName;
  /** Model names from the registry, in report order. */
  readonly models: readonly string[];
  /** Cutoff depth; default 10. */
  readonly k?: number;
  /** `model.key=value` hyperparameter overrides. */
  readonly params?: readonly string[];
  /** The reference of the paired tests; default the best baseline by nDCG@k. */
  readonly baseline?: string;
  /** Split and bootstrap seed; default 42. */
  readonly seed?: number;
  /** Training share: per item (ms-stratified) or user (per-user), default 0.75; by time, default 0.8. */
  readonly ratio?: number;
  /** `--protocol time` only: an explicit cutoff (ms); train is `ts < cutoffTs`. */
  readonly cutoffTs?: number;
  /** Bootstrap resamples; default 1000. */
  readonly resamples?: number;
  /** Confidence level of the intervals; default 0.95. */
  readonly level?: number;
  readonly source?: DataSource;
  /** The model registry; default `MODELS`. */
  readonly registry?: readonly ModelEntry[];
  readonly onProgress?: (message: string) => void;
}

/** The per-user metrics that carry a bootstrap interval, with their JSON names. */
export const CI_METRICS = ['ndcg', 'ndcgGraded', 'precision', 'recall', 'map', 'mapAtK', 'mrr', 'hitRate', 'auc'] as const;
export type CiMetric = (typeof CI_METRICS)[number];
/** The metrics of the paired tests. */
export const COMPARED_METRICS = ['ndcg', 'precision', 'recall', 'map', 'mrr'] as const satisfies readonly CiMetric[];

const PER_USER_KEY: Record<Exclude<CiMetric, 'auc'>, keyof Omit<PerUserRankingMetrics, 'users'>> = {
  ndcg: 'ndcg', ndcgGraded: 'ndcgGraded', precision: 'precision', recall: 'recall',
  map: 'mapMs', mapAtK: 'mapAtK', mrr: 'mrr', hitRate: 'hitRate',
};

/** Means over a set of users (NaN, printed as null, when the set is empty) and their intervals. */
export type MetricSet = Readonly<Record<CiMetric, number>> & {
  /** Users evaluated: test users of the set. */
  readonly users: number;
  /** Of them, users the model returned scores for (cold users are unknown to personalised models and score 0). */
  readonly scoredUsers: number;
  /** Distinct recommended items / catalogue size. */
  readonly coverage: number;
  /** Mean −log2 of the training share of each recommended item. */
  readonly novelty: number;
  readonly ci: Readonly<Record<CiMetric, { readonly lower: number; readonly upper: number }>>;
};

export type ModelResult = MetricSet & {
  readonly params: ModelParams;
  readonly fitSeconds: number;
  readonly evalSeconds: number;
  /** `--protocol time` only. */
  readonly segments?: { readonly warm: MetricSet; readonly cold: MetricSet };
  readonly explain?: ModelExplain;
};

export interface Comparison {
  readonly model: string;
  readonly against: string;
  readonly metric: CiMetric;
  /** mean(model − against) over users, with its paired bootstrap interval. */
  readonly diff: number;
  readonly lower: number;
  readonly upper: number;
  /** Paired bootstrap p-value (two-sided). */
  readonly pValue: number;
  /** Paired sign-flip permutation p-value. */
  readonly permutationPValue: number;
}

export interface EvaluationResult {
  readonly protocol: ProtocolName;
  readonly k: number;
  readonly seed: number;
  readonly resamples: number;
  readonly level: number;
  readonly data: { readonly rows: number; readonly users: number; readonly items: number; readonly source?: DataSource };
  readonly split: {
    readonly train: number;
    readonly test: number;
    readonly testUsers: number;
    /** Items every model ranks: those of the training rows. */
    readonly catalogue: number;
    readonly ratio?: number;
    readonly cutoff?: string;
    readonly warmUsers?: number;
    readonly coldUsers?: number;
    /** Random splits: test users with no training row (an item-stratified split can leave some; they score 0 where a model needs history). */
    readonly usersWithoutTraining?: number;
  };
  readonly models: Readonly<Record<string, ModelResult>>;
  /** The reference of the paired tests (null with fewer than two models). */
  readonly baseline: string | null;
  readonly comparisons: readonly Comparison[];
  readonly seconds: number;
}

function usersWithoutTraining(testUsers: readonly string[], train: readonly Interaction[]): number {
  const known = new Set(train.map((r) => r.user));
  return testUsers.filter((u) => !known.has(u)).length;
}

interface SplitOutcome {
  readonly train: Interaction[];
  readonly test: Interaction[];
  readonly cutoffTs: number | undefined;
  readonly warm: ReadonlySet<string> | undefined;
  readonly cold: ReadonlySet<string> | undefined;
}

function split(rows: readonly Interaction[], o: EvaluateOptions, seed: number): SplitOutcome {
  switch (o.protocol) {
    case 'ms-stratified':
    case 'per-user': {
      const fn = o.protocol === 'ms-stratified' ? stratifiedSplitMs : randomSplitByUser;
      const s = fn(rows, { ratio: o.ratio ?? 0.75, seed });
      return { ...s, cutoffTs: undefined, warm: undefined, cold: undefined };
    }
    case 'time': {
      const s = timeCutoffSplit(rows, o.cutoffTs !== undefined ? { cutoffTs: o.cutoffTs } : { quantile: o.ratio ?? 0.8 });
      return { train: s.train, test: s.test, cutoffTs: s.cutoffTs, warm: s.warmUsers, cold: s.coldUsers };
    }
    default:
      throw new RecsignalError('INVALID_ARGUMENT', `unknown protocol '${String(o.protocol)}'; use one of ${PROTOCOLS.join(', ')}`);
  }
}

/** What one model produced on the test users, before summarising. */
interface Ranked {
  readonly recs: Map<string, string[]>;
  readonly per: PerUserRankingMetrics;
  readonly auc: { readonly users: readonly string[]; readonly perUser: Float64Array };
}

const CHUNK = 256;

/**
 * Ranks and scores AUC chunk by chunk with a per-chunk score cache: each user is scored once for
 * both, and memory stays at CHUNK score vectors whatever the user count.
 */
function rankAll(scorer: Scorer, truth: Truth, users: readonly string[], k: number, seen: ReadonlyMap<string, ReadonlySet<string>>): Ranked {
  const recs = new Map<string, string[]>();
  const aucUsers: string[] = [];
  const aucValues: number[] = [];
  for (let start = 0; start < users.length; start += CHUNK) {
    const chunk = users.slice(start, start + CHUNK);
    const cache = new Map<string, Float64Array | undefined>();
    const cached: Scorer = {
      items: scorer.items,
      score(user) {
        if (!cache.has(user)) cache.set(user, scorer.score(user));
        return cache.get(user);
      },
    };
    for (const [u, list] of recommendTopK(cached, chunk, k, seen)) recs.set(u, list);
    const sub = new Map(chunk.map((u) => [u, truth.get(u)!] as const));
    const a = aucFromScores(cached, sub, seen);
    aucUsers.push(...a.users);
    aucValues.push(...a.perUser);
  }
  return { recs, per: perUserRankingMetrics(recs, truth, k), auc: { users: aucUsers, perUser: Float64Array.from(aucValues) } };
}

function pick(values: Float64Array, users: readonly string[], keep: ReadonlySet<string> | undefined): Float64Array {
  if (!keep) return values;
  const out: number[] = [];
  users.forEach((u, i) => keep.has(u) && out.push(values[i]!));
  return Float64Array.from(out);
}

/**
 * `bootstrapCi` of several equal-length per-user vectors in one pass: with one seed bootstrapCi
 * draws the same user indices for every vector, so drawing them once gives identical intervals.
 */
export function bootstrapIntervals(vectors: readonly Float64Array[], o: { resamples: number; seed: number; level: number }): { lower: number; upper: number }[] {
  const n = vectors[0]?.length ?? 0;
  if (n === 0 || vectors.some((v) => v.length !== n)) return vectors.map(() => ({ lower: Number.NaN, upper: Number.NaN }));
  const rs = createRandomState(o.seed);
  const means = vectors.map(() => new Float64Array(o.resamples));
  const sums = new Float64Array(vectors.length);
  for (let b = 0; b < o.resamples; b++) {
    sums.fill(0);
    for (let i = 0; i < n; i++) {
      const j = rs.randInt(n);
      for (let v = 0; v < vectors.length; v++) sums[v]! += vectors[v]![j]!;
    }
    for (let v = 0; v < vectors.length; v++) means[v]![b] = sums[v]! / n;
  }
  const alpha = (1 - o.level) / 2;
  return means.map((m) => {
    m.sort();
    return { lower: quantileSorted(m, alpha), upper: quantileSorted(m, 1 - alpha) };
  });
}

function summarise(r: Ranked, keep: ReadonlySet<string> | undefined, ctx: { train: readonly Interaction[]; catalogue: number; k: number; resamples: number; level: number; seed: number }): MetricSet {
  const ranking = CI_METRICS.filter((name) => name !== 'auc');
  const vectors = ranking.map((name) => pick(r.per[PER_USER_KEY[name]], r.per.users, keep));
  const auc = pick(r.auc.perUser, r.auc.users, keep);
  const intervals = [...bootstrapIntervals(vectors, ctx), ...bootstrapIntervals([auc], ctx)];
  const values = {} as Record<CiMetric, number>;
  const ci = {} as Record<CiMetric, { lower: number; upper: number }>;
  [...ranking, 'auc' as const].forEach((name, i) => {
    values[name] = mean(name === 'auc' ? auc : vectors[i]!);
    ci[name] = intervals[i]!;
  });
  const users = keep ? r.per.users.filter((u) => keep.has(u)) : r.per.users;
  const recs: Recommendations = keep ? new Map([...r.recs].filter(([u]) => keep.has(u))) : r.recs;
  return {
    users: users.length,
    scoredUsers: users.filter((u) => r.recs.has(u)).length,
    ...values,
    coverage: users.length === 0 ? Number.NaN : catalogueCoverage(recs, ctx.catalogue, ctx.k),
    novelty: novelty(recs, ctx.train, ctx.k),
    ci,
  };
}

function perUserOf(r: Ranked, metric: CiMetric): Float64Array {
  return metric === 'auc' ? r.auc.perUser : r.per[PER_USER_KEY[metric]];
}

const seconds = (since: number) => (performance.now() - since) / 1000;

/** Runs the whole evaluation; throws a RecsignalError on bad options before doing any work. */
export async function evaluate(o: EvaluateOptions): Promise<EvaluationResult> {
  const t0 = performance.now();
  const note = o.onProgress ?? (() => undefined);
  const k = o.k ?? 10;
  const seed = o.seed ?? 42;
  const resamples = o.resamples ?? 1000;
  const level = o.level ?? 0.95;
  if (!(Number.isInteger(k) && k > 0)) throw new RecsignalError('INVALID_ARGUMENT', `k must be a positive whole number, got ${k}; e.g. 10`);
  if (!(Number.isInteger(resamples) && resamples > 0)) throw new RecsignalError('INVALID_ARGUMENT', `resamples must be a positive whole number, got ${resamples}; e.g. 1000`);
  if (!(level > 0 && level < 1)) throw new RecsignalError('INVALID_ARGUMENT', `level must lie strictly between 0 and 1, got ${level}; e.g. 0.95`);
  if (!PROTOCOLS.includes(o.protocol)) throw new RecsignalError('INVALID_ARGUMENT', `unknown protocol '${String(o.protocol)}'; use one of ${PROTOCOLS.join(', ')}`);
  if (o.cutoffTs !== undefined && o.protocol !== 'time') throw new RecsignalError('INVALID_ARGUMENT', `a cutoff applies to --protocol time only; drop it or use --protocol time`);
  if (o.models.length === 0) throw new RecsignalError('INVALID_ARGUMENT', 'no models to evaluate; name some, e.g. popularity,sar,ease');
  const entries = resolveModels(o.models, o.registry ?? MODELS);
  const params = modelParams(entries, o.params ?? []);
  if (o.baseline !== undefined && !o.models.includes(o.baseline)) {
    throw new RecsignalError('INVALID_ARGUMENT', `baseline '${o.baseline}' is not among the evaluated models (${o.models.join(', ')}); add it to the models`);
  }
  if (o.interactions.length === 0) throw new RecsignalError('INVALID_INPUT', 'no interactions to evaluate; check the data folder and format');

  const rows = o.interactions;
  if (o.cutoffTs !== undefined) {
    let first = Infinity;
    let last = -Infinity;
    for (const r of rows) {
      if (r.ts < first) first = r.ts;
      if (r.ts > last) last = r.ts;
    }
    // Training is every row before the cutoff, test every row at or after it: both need some.
    if (!(o.cutoffTs > first && o.cutoffTs <= last)) {
      throw new RecsignalError('INVALID_ARGUMENT', `--cutoff ${isoTime(o.cutoffTs)} leaves ${o.cutoffTs <= first ? 'no training rows' : 'no test rows'}: the interactions run from ${isoTime(first)} to ${isoTime(last)}; give a cutoff after the first and at or before the last (or leave it out: the ratio then picks it)`);
    }
  }
  const s = split(rows, o, seed);
  if (s.train.length === 0 || s.test.length === 0) {
    throw new RecsignalError('INVALID_INPUT', `the split left ${s.train.length} training and ${s.test.length} test rows; both need some (change the ratio or the cutoff)`);
  }
  const items = catalogueOf(s.train);
  const seen = seenItems(s.train);
  const truth = truthOf(s.test);
  const users = [...truth.keys()];
  note(`split ${o.protocol}: ${s.train.length.toLocaleString('en-US')} training rows, ${s.test.length.toLocaleString('en-US')} test rows, ${users.length} test users, ${items.length} catalogue items${s.warm ? `; cutoff ${new Date(s.cutoffTs!).toISOString()}, ${s.warm.size} warm and ${s.cold!.size} cold test users` : ''}`);
  // Figures that can only be 0 or tiny say why, rather than look like a model's failing.
  const inCatalogue = new Set(items);
  if (!s.test.some((r) => inCatalogue.has(r.item))) note('warning: no test item is in the catalogue (the training items): every ranking metric will be 0 whatever the model');
  if (k > items.length) note(`warning: k ${k} exceeds the catalogue's ${items.length} items: precision@k is at most ${(items.length / k).toFixed(3)}`);

  const sumCtx = { train: s.train, catalogue: items.length, k, resamples, level, seed };
  const ranked = new Map<string, Ranked>();
  const models: Record<string, ModelResult> = {};
  for (const entry of entries) {
    const ctx: SplitContext = {
      protocol: o.protocol, train: s.train, items, cutoffTs: s.cutoffTs, k, seed,
      params: params.get(entry.name)!, source: o.source,
      measureNdcg: (scorer) => rankingMetrics(recommendTopK(scorer, users, k, seen), truth, k).ndcg,
      note: (m) => note(`${entry.name}: ${m}`),
    };
    const tFit = performance.now();
    const model = await entry.train(ctx);
    const fitSeconds = seconds(tFit);
    const tEval = performance.now();
    const r = rankAll(model, truth, users, k, seen);
    ranked.set(entry.name, r);
    const all = summarise(r, undefined, sumCtx);
    const segments = s.warm && s.cold ? { warm: summarise(r, s.warm, sumCtx), cold: summarise(r, s.cold, sumCtx) } : undefined;
    const evalSeconds = seconds(tEval);
    models[entry.name] = {
      ...all, params: ctx.params, fitSeconds, evalSeconds,
      ...(segments ? { segments } : {}),
      ...(model.explain ? { explain: model.explain } : {}),
    };
    note(`${entry.name}: nDCG@${k} ${all.ndcg.toFixed(4)} [${all.ci.ndcg.lower.toFixed(4)}, ${all.ci.ndcg.upper.toFixed(4)}], P@${k} ${all.precision.toFixed(4)}; trained in ${fitSeconds.toFixed(1)} s, evaluated in ${evalSeconds.toFixed(1)} s`);
  }

  const baseline = referenceOf(o, entries, models);
  const comparisons: Comparison[] = [];
  if (baseline !== null) {
    const ref = ranked.get(baseline)!;
    for (const name of o.models) {
      if (name === baseline) continue;
      const r = ranked.get(name)!;
      for (const metric of COMPARED_METRICS) {
        const a = perUserOf(r, metric), b = perUserOf(ref, metric);
        const boot = pairedBootstrapTest(a, b, { resamples, seed, level });
        const perm = pairedPermutationTest(a, b, { resamples, seed });
        comparisons.push({ model: name, against: baseline, metric, diff: boot.meanDiff, lower: boot.lower, upper: boot.upper, pValue: boot.pValue, permutationPValue: perm.pValue });
      }
    }
    note(`paired tests against ${baseline}: ${comparisons.length} comparisons`);
  }

  const allUsers = new Set<string>(), allItems = new Set<string>();
  for (const r of rows) {
    allUsers.add(r.user);
    allItems.add(r.item);
  }
  return {
    protocol: o.protocol, k, seed, resamples, level,
    data: { rows: rows.length, users: allUsers.size, items: allItems.size, ...(o.source ? { source: o.source } : {}) },
    split: {
      train: s.train.length, test: s.test.length, testUsers: users.length, catalogue: items.length,
      ...(o.protocol === 'time'
        ? { ...(o.cutoffTs === undefined ? { ratio: o.ratio ?? 0.8 } : {}), cutoff: new Date(s.cutoffTs!).toISOString(), warmUsers: s.warm!.size, coldUsers: s.cold!.size }
        : { ratio: o.ratio ?? 0.75, usersWithoutTraining: usersWithoutTraining(users, s.train) }),
    },
    models, baseline, comparisons, seconds: seconds(t0),
  };
}

/** `--baseline`, else the baseline entry with the best nDCG@k (first listed on a tie), else the first model. */
function referenceOf(o: EvaluateOptions, entries: readonly ModelEntry[], models: Record<string, ModelResult>): string | null {
  if (o.models.length < 2) return null;
  if (o.baseline !== undefined) return o.baseline;
  const candidates = entries.filter((e) => e.baseline).map((e) => e.name);
  let best: string | null = null;
  for (const name of candidates.length > 0 ? candidates : o.models) {
    if (best === null || models[name]!.ndcg > models[best]!.ndcg) best = name;
  }
  return best;
}
