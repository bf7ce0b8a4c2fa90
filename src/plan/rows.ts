/**
 * @module Shared vocabulary of the engines' rows: the derived event columns, the training-set
 * column names of features, and the application of request-time functions (one implementation,
 * used wherever a training set or a response is assembled).
 */
import { DAY_MS, HOUR_MS } from '../core/time.ts';
import type { FeatureSetIR, FeatureType, FeatureValue, FeatureViewIR, WindowIR } from '../features/ir.ts';
import type { CompiledFeatureSet } from './compile.ts';
import { featureColumn, viewOutputs } from './compile.ts';

export const HOUR_BUCKETS = ['night', 'morning', 'afternoon', 'evening'] as const;

export function hourOfDay(ts: number): number {
  return Math.floor((((ts % DAY_MS) + DAY_MS) % DAY_MS) / HOUR_MS);
}

/** night [0,6), morning [6,12), afternoon [12,18), evening [18,24), UTC. */
export function hourBucket(ts: number): string {
  return HOUR_BUCKETS[Math.floor(hourOfDay(ts) / 6)] as string;
}

/** 1970-01-01 was a Thursday: day index + 4 mod 7 gives 0 for Sunday. */
export function dayType(ts: number): string {
  const dow = (((Math.floor(ts / DAY_MS) + 4) % 7) + 7) % 7;
  return dow === 0 || dow === 6 ? 'weekend' : 'weekday';
}

/** Keys that can be derived from the request time when a spine does not carry them. */
export const TIME_DERIVED_KEYS: Readonly<Record<string, (ts: number) => string>> = { hour_bucket: hourBucket, day_type: dayType };

/** Start of a sawtooth window as of t; -Infinity for lifetime. */
export function windowStart(w: WindowIR, t: number): number {
  if (w.kind === 'lifetime') return -Infinity;
  return Math.floor((t - w.lengthMs) / w.hopMs) * w.hopMs;
}

// The column a feature takes (view__feature): defined where the feature set is checked for clashes.
export { featureColumn };

export interface FeatureColumn {
  readonly ref: string;
  readonly column: string;
  readonly view: string | null;
  readonly feature: string;
  readonly type: FeatureType;
  readonly default: FeatureValue;
}

/** Every output column of a feature set, views first then request features, in definition order. */
export function featureColumns(ir: FeatureSetIR, views: readonly FeatureViewIR[] = ir.views): FeatureColumn[] {
  const out: FeatureColumn[] = [];
  for (const v of views) {
    for (const o of viewOutputs(v)) out.push({ ref: `${v.name}:${o.name}`, column: featureColumn(v.name, o.name), view: v.name, feature: o.name, type: o.type, default: o.default });
  }
  for (const r of ir.requestFeatures) out.push({ ref: `request_features:${r.name}`, column: r.name, view: null, feature: r.name, type: r.type, default: r.default });
  return out;
}

export interface RequestFeatureStats {
  /** Calls that threw or returned a value of the wrong kind; the default was used. */
  errors: number;
  firstError: string | null;
}

/**
 * Applies every request-time function to one row. `values` maps `view:feature` to its value;
 * `request` holds the request's own fields (`ts` included). Functions that throw yield the default
 * and are counted, so one bad row does not stop a million-row training set. `into`, when given,
 * receives the values (from index 0) instead of a new array: the serving path calls this once per
 * candidate, hundreds of times a request, and keeps one scratch array for it.
 */
export function applyRequestFeatures(
  compiled: CompiledFeatureSet,
  values: (ref: string) => FeatureValue | undefined,
  request: Readonly<Record<string, unknown>>,
  stats: RequestFeatureStats,
  into?: FeatureValue[],
): FeatureValue[] {
  const plan = planOf(compiled);
  const out = into ?? new Array<FeatureValue>(plan.length);
  // Plain loops over the plan: a closure, an iterator and entry arrays per call, times every
  // candidate of every request, were about a fifth of what a served request allocated (measured
  // by scavenges over 5,000 fetches of the demo set: 39 before, 32 after).
  for (let k = 0; k < plan.length; k++) {
    const { r, fn, aliases, refs, fields, args } = plan[k] as RequestPlan;
    for (let j = 0; j < aliases.length; j++) {
      const field = fields[j];
      args[aliases[j] as string] = field !== null ? toFeatureValue(request[field as string]) : values(refs[j] as string) ?? null;
    }
    let v: FeatureValue | undefined;
    try {
      v = fn(args);
    } catch (e) {
      stats.errors++;
      stats.firstError ??= `${r.name}: ${(e as Error).message}`;
      v = undefined;
    }
    if (v === undefined || v === null || (typeof v === 'number' && !Number.isFinite(v))) out[k] = v === null ? null : r.default;
    else if (ofKind(r.type, v)) out[k] = v;
    else {
      // Written as it came, a string in an int column crashes the training set's writer and 0.5 becomes 1.
      stats.errors++;
      stats.firstError ??= `${r.name}: returned ${JSON.stringify(v)?.slice(0, 60)}, not a value of its declared type ${r.type}`;
      out[k] = r.default;
    }
  }
  return out;
}

/** Whether a request function's (non-null) result is of the feature's declared type. */
function ofKind(type: FeatureType, v: FeatureValue): boolean {
  switch (type) {
    case 'int':
      return typeof v === 'number' && Number.isInteger(v);
    case 'float':
      return typeof v === 'number';
    case 'string':
      return typeof v === 'string';
    case 'string[]':
      return Array.isArray(v) && v.every((x) => typeof x === 'string');
    case 'float[]':
      return Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isFinite(x));
    case 'histogram':
      return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.values(v).every((x) => typeof x === 'number' && Number.isFinite(x));
  }
}

interface RequestPlan {
  readonly r: CompiledFeatureSet['ir']['requestFeatures'][number];
  readonly fn: (inputs: Readonly<Record<string, FeatureValue>>) => FeatureValue;
  /** Per input, in the definition's order: its name in the function's argument, its ref, and the request field it reads (or null). */
  readonly aliases: readonly string[];
  readonly refs: readonly string[];
  readonly fields: readonly (string | null)[];
  /**
   * The object the function receives, made once with every alias and refilled for each call (the
   * functions are pure: they keep nothing of it). One made per call was three objects per served
   * candidate, ~17 KB of the ~95 KB a request of the demo set allocated (sampling heap profile).
   */
  readonly args: Record<string, FeatureValue>;
}

// Worked out once per feature set: this runs for every training row and every served candidate.
const plans = new WeakMap<CompiledFeatureSet, RequestPlan[]>();

function planOf(compiled: CompiledFeatureSet): RequestPlan[] {
  let plan = plans.get(compiled);
  if (!plan) {
    plan = compiled.ir.requestFeatures.map((r) => {
      const inputs = Object.entries(r.inputs);
      return {
        r,
        fn: compiled.functions.get(r.name) as RequestPlan['fn'],
        aliases: inputs.map(([alias]) => alias),
        refs: inputs.map(([, ref]) => ref),
        fields: inputs.map(([, ref]) => (ref.startsWith('request:') ? ref.slice(8) : null)),
        args: Object.fromEntries(inputs.map(([alias]) => [alias, null])) as Record<string, FeatureValue>,
      };
    });
    plans.set(compiled, plan);
  }
  return plan;
}

function toFeatureValue(v: unknown): FeatureValue {
  if (v === undefined || v === null) return null;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number' || typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  return v as FeatureValue;
}
