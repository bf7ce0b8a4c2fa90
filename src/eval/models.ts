/**
 * @module The model registry of `evaluate`: each model is one named entry that trains on a split
 * and returns a Scorer (optionally with an `explain` of its features). Adding a model = one entry here.
 */
import { DAY_MS } from '../core/time.ts';
import { RecsignalError } from '../core/errors.ts';
import { trainAls } from './baselines/als.ts';
import { trainEase } from './baselines/ease.ts';
import { trainItemKnn } from './baselines/itemknn.ts';
import { trainPopularity } from './baselines/popularity.ts';
import { trainRp3beta } from './baselines/rp3beta.ts';
import { trainSar } from './baselines/sar.ts';
import { trainUserKnn } from './baselines/userknn.ts';
import type { Interaction, Scorer } from './types.ts';
import { RANKER_DEFAULTS, trainRanker } from '../models/ranker/pipeline.ts';
import { embeddingScorer, learnEmbeddings } from '../models/embeddings.ts';
import { sourceMetadata } from '../events/readers/movielens.ts';

export const PROTOCOLS = ['ms-stratified', 'per-user', 'time'] as const;
export type ProtocolName = (typeof PROTOCOLS)[number];

export type ParamValue = number | string | boolean;
export type ModelParams = Readonly<Record<string, ParamValue>>;

/** Where the interactions came from, for models that read more than them (metadata, the event log). */
export interface DataSource {
  readonly path: string;
  readonly format: string;
}

/** What a model may read when it trains: the training rows only, never the test rows. */
export interface SplitContext {
  readonly protocol: ProtocolName;
  readonly train: readonly Interaction[];
  /** The catalogue every model scores (the training items, `compareIds` order). */
  readonly items: readonly string[];
  /** The cutoff of `--protocol time` (train is `ts < cutoffTs`); undefined for the random splits. */
  readonly cutoffTs: number | undefined;
  readonly k: number;
  readonly seed: number;
  /** The entry's defaults overridden by `--param name.key=value`. */
  readonly params: ModelParams;
  readonly source: DataSource | undefined;
  /**
   * nDCG@k of another scorer on this split's test set under the harness's full-ranking rule: for a
   * model's own ablations (train without a feature group, measure, report the delta).
   */
  measureNdcg(scorer: Scorer): number;
  /** A progress note (goes to stderr in the CLI). */
  note(message: string): void;
}

/** What a model with features can say about them; the report renders both when present. */
export interface ModelExplain {
  /** Total split gain per feature, largest first. */
  readonly importance: readonly { readonly feature: string; readonly gain: number }[];
  /** nDCG@k with one feature group left out, and its difference to the full model (negative = the group helps). */
  readonly ablation: readonly { readonly group: string; readonly ndcg: number; readonly delta: number }[];
  /** nDCG@k of the full model the deltas are against, when it is trained otherwise than the reported one (the ranker's variants are not refitted). */
  readonly ablationBaseline?: number;
  /**
   * A model that ranks generated candidates: the share of held-out items among them (recall@n, on
   * its own inner holdouts), for the union and for each source's own top n.
   */
  readonly candidateRecall?: { readonly n: number; readonly union: number; readonly bySource: Readonly<Record<string, number>> };
}

/** A trained model: a Scorer, plus an optional explanation. */
export interface TrainedModel extends Scorer {
  readonly explain?: ModelExplain;
}

export interface ModelEntry {
  readonly name: string;
  readonly description: string;
  /** Default hyperparameters: the ones that land near the published ML-100K figures. */
  readonly defaults: ModelParams;
  /** A baseline: candidate for the reference that every model is tested against by default. */
  readonly baseline: boolean;
  train(ctx: SplitContext): TrainedModel | Promise<TrainedModel>;
  /** Set while a model cannot run; `evaluate` refuses it before any work with this message. */
  readonly unavailable?: string;
  /** What each numeric parameter may be; `--param` values outside it are refused, naming the key. */
  readonly ranges?: Readonly<Record<string, ParamRange>>;
}

/** `positive` > 0; `whole` a whole number ≥ 1; `wholeOrZero` ≥ 0 (0: all, where said); `nonNegative` ≥ 0. */
export type ParamRange = 'positive' | 'whole' | 'wholeOrZero' | 'nonNegative';

const RANGE_TEXT: Readonly<Record<ParamRange, string>> = {
  positive: 'a number above 0',
  whole: 'a whole number from 1',
  wholeOrZero: 'a whole number from 0 (0: every neighbour)',
  nonNegative: 'a number from 0',
};

function inRange(n: number, r: ParamRange): boolean {
  return r === 'positive' ? n > 0 : r === 'whole' ? Number.isInteger(n) && n >= 1 : r === 'wholeOrZero' ? Number.isInteger(n) && n >= 0 : n >= 0;
}

/** A number written in decimal (Number() would also read '0x10', '', ' 1 ' and 'Infinity'). */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function num(params: ModelParams, key: string): number {
  const v = params[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new RecsignalError('INVALID_ARGUMENT', `model parameter '${key}' must be a number, got ${JSON.stringify(v)}`);
  return v;
}

export const MODELS: readonly ModelEntry[] = [
  {
    name: 'popularity',
    description: 'most interacted-with training items, the same list for everybody',
    defaults: {},
    baseline: true,
    train: (c) => trainPopularity(c.train, { items: c.items }),
  },
  {
    name: 'popularity-decayed',
    description: 'popularity where each interaction counts 0.5^(age / halfLifeDays), age from the newest training row',
    defaults: { halfLifeDays: 30 },
    ranges: { halfLifeDays: 'positive' },
    baseline: true,
    train: (c) => trainPopularity(c.train, { items: c.items, halfLifeMs: num(c.params, 'halfLifeDays') * DAY_MS }),
  },
  {
    name: 'itemknn',
    description: 'item-kNN, cosine on binary vectors; neighbours 0 = all',
    defaults: { neighbours: 0 },
    ranges: { neighbours: 'wholeOrZero' },
    baseline: true,
    train: (c) => {
      const n = num(c.params, 'neighbours');
      return trainItemKnn(c.train, { items: c.items, ...(n > 0 ? { neighbours: n } : {}) });
    },
  },
  {
    name: 'userknn',
    description: 'user-kNN, cosine on binary vectors, the k most similar users',
    defaults: { neighbours: 50 },
    ranges: { neighbours: 'whole' },
    baseline: true,
    train: (c) => trainUserKnn(c.train, { items: c.items, neighbours: num(c.params, 'neighbours') }),
  },
  {
    name: 'sar',
    description: 'SAR (Microsoft Recommenders): Jaccard item similarity, time-decayed rating affinity',
    defaults: { similarity: 'jaccard', halfLifeDays: 30 },
    ranges: { halfLifeDays: 'positive' },
    baseline: true,
    train: (c) => {
      const similarity = String(c.params['similarity']);
      if (similarity !== 'jaccard' && similarity !== 'lift' && similarity !== 'cooccurrence') {
        throw new RecsignalError('INVALID_ARGUMENT', `sar.similarity '${similarity}': use jaccard, lift or cooccurrence`);
      }
      return trainSar(c.train, { items: c.items, similarity, halfLifeMs: num(c.params, 'halfLifeDays') * DAY_MS });
    },
  },
  {
    name: 'ease',
    description: 'EASE (Steck 2019), closed form with L2 lambda',
    defaults: { lambda: 500 },
    ranges: { lambda: 'positive' },
    baseline: true,
    train: (c) => trainEase(c.train, { items: c.items, lambda: num(c.params, 'lambda') }),
  },
  {
    name: 'als',
    description: 'implicit ALS (Hu, Koren & Volinsky), conjugate-gradient solves',
    // λ 40 chosen on two inner splits of ML-100K's training part (seeds 43, 44; λ 20–80 tried), never
    // on its test split: nDCG@10 0.2217 / 0.2242 there against 0.2127 / 0.2129 at λ 20 (λ 1 gave 0.4296 on the test split, 0.4886 with 40).
    defaults: { factors: 32, regularization: 40, alpha: 1, iterations: 15 },
    ranges: { factors: 'whole', regularization: 'nonNegative', alpha: 'nonNegative', iterations: 'whole' },
    baseline: true,
    train: (c) => trainAls(c.train, {
      items: c.items,
      factors: num(c.params, 'factors'),
      regularization: num(c.params, 'regularization'),
      alpha: num(c.params, 'alpha'),
      iterations: num(c.params, 'iterations'),
      seed: c.seed,
    }),
  },
  {
    name: 'embedding',
    description: 'ALS factors (as als) scored by dot product, with users and items that have no training rows placed in the same space from their metadata (demographics; genres and decade) by a ridge regression: cold start (src/models/embeddings.ts)',
    defaults: { factors: 32, regularization: 40, alpha: 1, iterations: 15, metaLambda: 1 },
    ranges: { factors: 'whole', regularization: 'nonNegative', alpha: 'nonNegative', iterations: 'whole', metaLambda: 'nonNegative' },
    baseline: false,
    train: async (c) => {
      const meta = await sourceMetadata(c.source);
      const e = learnEmbeddings(c.train, {
        items: c.items, factors: num(c.params, 'factors'), regularization: num(c.params, 'regularization'), alpha: num(c.params, 'alpha'),
        iterations: num(c.params, 'iterations'), seed: c.seed, metaLambda: num(c.params, 'metaLambda'),
        ...(meta ? { itemMeta: meta.items, userMeta: meta.users } : {}),
      });
      return embeddingScorer(e, c.items);
    },
  },
  {
    name: 'rp3beta',
    description: 'RP3beta (Paudel et al.), random-walk item-to-item probabilities with popularity divided out',
    defaults: { alpha: 0.7, beta: 0.3, neighbours: 50 },
    ranges: { alpha: 'nonNegative', beta: 'nonNegative', neighbours: 'whole' },
    baseline: true,
    train: (c) => trainRp3beta(c.train, { items: c.items, alpha: num(c.params, 'alpha'), beta: num(c.params, 'beta'), neighbours: num(c.params, 'neighbours') }),
  },
  {
    name: 'ranker',
    description: 'LambdaMART GBDT (or XE-NDCG, ranker.objective) stacked on the baselines\' candidates and scores, with recsignal features (examples/movielens/features.ts) computed point-in-time from an event log of the training rows (src/models/ranker/)',
    defaults: RANKER_DEFAULTS,
    baseline: false,
    train: (c) => trainRanker(c),
  },
];

/** The entries of these names, in the order given; every unknown name is listed in one error. */
export function resolveModels(names: readonly string[], registry: readonly ModelEntry[] = MODELS): ModelEntry[] {
  const unknown = names.filter((n) => !registry.some((m) => m.name === n));
  if (unknown.length > 0) {
    throw new RecsignalError('INVALID_ARGUMENT', `unknown model${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => `'${n}'`).join(', ')}; use some of ${registry.map((m) => m.name).join(', ')}`);
  }
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw new RecsignalError('INVALID_ARGUMENT', `model '${dup}' is listed twice; list each model once`);
  const entries = names.map((n) => registry.find((m) => m.name === n)!);
  const missing = entries.filter((m) => m.unavailable !== undefined);
  if (missing.length > 0) throw new RecsignalError('NOT_FOUND', missing.map((m) => m.unavailable).join('; '));
  return entries;
}

/**
 * `name.key=value` overrides onto the entries' defaults. Values parse as the default's type; keys
 * the model does not have are errors (a typo must not silently evaluate the defaults).
 */
export function modelParams(entries: readonly ModelEntry[], overrides: readonly string[]): Map<string, ModelParams> {
  const out = new Map(entries.map((e) => [e.name, { ...e.defaults }] as [string, Record<string, ParamValue>]));
  const problems: string[] = [];
  for (const o of overrides) {
    const m = /^([^.=\s]+)\.([^=\s]+)=(.+)$/.exec(o);
    if (!m) {
      problems.push(`'${o}': write model.key=value, e.g. ease.lambda=300`);
      continue;
    }
    const [, model, key, text] = m as unknown as [string, string, string, string];
    const params = out.get(model);
    const entry = entries.find((e) => e.name === model);
    if (!params || !entry) {
      problems.push(`'${o}': model '${model}' is not evaluated in this run`);
      continue;
    }
    const def = entry.defaults[key];
    if (def === undefined) {
      const keys = Object.keys(entry.defaults);
      problems.push(`'${o}': ${model} has no parameter '${key}'${keys.length > 0 ? `; it has ${keys.join(', ')}` : ''}`);
      continue;
    }
    if (typeof def === 'number') {
      const n = DECIMAL.test(text) ? Number(text) : NaN;
      const range = entry.ranges?.[key];
      if (!Number.isFinite(n)) problems.push(`'${o}': ${model}.${key} takes a number written in decimal`);
      else if (range !== undefined && !inRange(n, range)) problems.push(`'${o}': ${model}.${key} takes ${RANGE_TEXT[range]}`);
      else params[key] = n;
    } else if (typeof def === 'boolean') {
      if (text !== 'true' && text !== 'false') problems.push(`'${o}': ${model}.${key} takes true or false`);
      else params[key] = text === 'true';
    } else params[key] = text;
  }
  if (problems.length > 0) throw new RecsignalError('INVALID_ARGUMENT', `--param: ${problems.join('; ')}`);
  return out;
}
