/**
 * @module Definitions → frozen IR: validates every part (all problems, each with its path and fix),
 * names every output deterministically, fills types and defaults, and hashes the semantics.
 */
import { createHash } from 'node:crypto';
import { throwIfProblems, type Problem } from '../core/errors.ts';
import { DAY_MS, formatDuration, HOUR_MS, MINUTE_MS, tryParseDuration } from '../core/time.ts';
import { BUILTIN_EVENT_TYPES } from '../events/schema.ts';
import type { AggDef, FeatureSetDef, RequestFeatureDef, RequestInputs, ViewDef, WindowDef } from '../features/dsl.ts';
import {
  DERIVED_COLUMNS,
  EMBEDDING_OUTPUT,
  EVENT_COLUMNS,
  NUMERIC_COLUMNS,
  SESSION_OUTPUTS,
  TABLE_COLUMNS,
  TABLE_KEYS,
  type AggregationIR,
  type FeatureSetIR,
  type FeatureType,
  type FeatureValue,
  type FeatureViewIR,
  type FilterIR,
  type RequestFeatureIR,
  type StreamIR,
  type WindowIR,
} from '../features/ir.ts';

export interface CompiledFeatureSet {
  readonly ir: FeatureSetIR;
  /** Hash of the whole set's semantics (descriptions excluded). */
  readonly hash: string;
  readonly viewHashes: Readonly<Record<string, string>>;
  /** Request-time functions by feature name (functions cannot live in the plain IR). */
  readonly functions: ReadonlyMap<string, (inputs: RequestInputs) => FeatureValue>;
}

const IDENT = /^[a-z_][a-z0-9_]*$/;
const INPUT_OPS = new Set(['sum', 'mean', 'min', 'max', 'stddev', 'decayed_sum', 'decayed_mean']);
const CATEGORY_OPS = new Set(['last_k', 'top_k', 'histogram']);
const CONTINUOUS_COLUMNS = new Set(['value', 'duration', 'watch_fraction', 'weight']);

/** Chronon's default hop for a window length: 5 minutes below 12 hours, 1 hour below 12 days, else 1 day. */
export function defaultHop(lengthMs: number): number {
  if (lengthMs < 12 * HOUR_MS) return 5 * MINUTE_MS;
  if (lengthMs < 12 * DAY_MS) return HOUR_MS;
  return DAY_MS;
}

export function windowName(w: WindowIR): string {
  return w.kind === 'lifetime' ? 'lifetime' : formatDuration(w.lengthMs);
}

export function compileFeatureSet(def: FeatureSetDef): CompiledFeatureSet {
  const problems: Problem[] = [];
  if (!def || def.kind !== 'feature_set') {
    throwIfProblems('INVALID_DEFINITION', 'invalid feature set', [
      { path: '(module)', message: 'the default export is not a feature set', fix: 'export default defineFeatureSet({ name, views: [...] })' },
    ]);
  }
  if (typeof def.name !== 'string' || !IDENT.test(def.name)) {
    problems.push({ path: 'name', message: `'${String(def.name)}' is not a valid name`, fix: 'use lower_snake_case, e.g. streaming_demo' });
  }
  const extraTypes = [...(def.extraTypes ?? [])];
  const knownTypes = new Set<string>([...BUILTIN_EVENT_TYPES, ...extraTypes]);
  const weights: Record<string, number> = {};
  for (const [type, w] of Object.entries(def.weights ?? {})) {
    if (!knownTypes.has(type)) problems.push({ path: `weights.${type}`, message: `'${type}' is not a known event type`, fix: 'list it in extraTypes or fix the spelling' });
    if (typeof w !== 'number' || !Number.isFinite(w)) problems.push({ path: `weights.${type}`, message: 'must be a finite number', fix: 'give each event type a numeric signal strength' });
    else weights[type] = w;
  }

  const views: FeatureViewIR[] = [];
  const seenViews = new Set<string>();
  (def.views ?? []).forEach((v, i) => {
    const path = `views[${i}]${v && typeof v.name === 'string' ? `(${v.name})` : ''}`;
    if (!v || typeof v.name !== 'string' || !IDENT.test(v.name)) {
      problems.push({ path: `${path}.name`, message: `'${String(v?.name)}' is not a valid view name`, fix: 'use lower_snake_case' });
      return;
    }
    if (seenViews.has(v.name)) problems.push({ path: `${path}.name`, message: `view '${v.name}' is defined twice`, fix: 'give each view its own name' });
    seenViews.add(v.name);
    const ir = compileView(v, path, knownTypes, problems);
    if (ir) views.push(ir);
  });
  if (views.length === 0 && problems.length === 0) {
    problems.push({ path: 'views', message: 'no views', fix: 'declare at least one view with aggregationView, sessionView or lookupView' });
  }

  const requestFeatures: RequestFeatureIR[] = [];
  const functions = new Map<string, (inputs: RequestInputs) => FeatureValue>();
  const featureTypes = new Map<string, FeatureType>();
  for (const v of views) for (const f of viewOutputs(v)) featureTypes.set(`${v.name}:${f.name}`, f.type);
  (def.requestFeatures ?? []).forEach((r, i) => {
    const ir = compileRequestFeature(r, `requestFeatures[${i}]`, featureTypes, functions, problems);
    if (ir) requestFeatures.push(ir);
  });

  throwIfProblems('INVALID_DEFINITION', `invalid feature set '${String(def.name)}'`, problems);
  const ir: FeatureSetIR = deepFreeze({ name: def.name, extraTypes, weights, views, requestFeatures });
  const viewHashes: Record<string, string> = {};
  for (const v of ir.views) viewHashes[v.name] = semanticHash({ ...v, weights: ir.weights });
  return Object.freeze({ ir, hash: semanticHash(ir), viewHashes: Object.freeze(viewHashes), functions });
}

function compileView(v: ViewDef, path: string, knownTypes: ReadonlySet<string>, problems: Problem[]): FeatureViewIR | undefined {
  const entity = v.entity;
  if (!entity || entity.kind !== 'entity' || !Array.isArray(entity.keys) || entity.keys.length === 0) {
    problems.push({ path: `${path}.entity`, message: 'is missing or has no keys', fix: "pass entity('user', ['user_id'])" });
    return undefined;
  }
  const entityIr = { name: entity.name, keys: [...entity.keys] };
  const description = v.description ?? null;
  if (v.kind === 'lookup_view') return compileLookup(v, path, entityIr, problems);
  if (v.kind === 'embedding_view') return compileEmbedding(v, path, entityIr, problems);
  if (v.kind === 'session_view') {
    if (entity.keys.length !== 1 || entity.keys[0] !== 'user_id') {
      problems.push({ path: `${path}.entity`, message: 'a session view is keyed by user_id alone', fix: "use entity('user', ['user_id'])" });
    }
    const gapMs = parseDurationInto(v.gap ?? '30m', `${path}.gap`, problems) ?? 0;
    return { kind: 'session', name: v.name, entity: entityIr, gapMs, filter: compileFilter(v.types, undefined, `${path}`, knownTypes, new Set(EVENT_COLUMNS), problems), description };
  }
  if (v.kind !== 'aggregation_view') {
    problems.push({ path, message: 'is not a view', fix: 'build views with aggregationView, sessionView, lookupView or embeddingView' });
    return undefined;
  }
  const columns = new Set<string>([...EVENT_COLUMNS, ...DERIVED_COLUMNS]);
  if (v.via) {
    const table = TABLE_COLUMNS[v.via.table];
    if (!table || table[v.via.column] !== 'string[]') {
      problems.push({ path: `${path}.via`, message: `'${v.via.table}.${v.via.column}' is not a list column of a metadata table`, fix: "use { table: 'items', column: 'genres', as: 'genre' }" });
    } else if (!IDENT.test(v.via.as) || columns.has(v.via.as)) {
      problems.push({ path: `${path}.via.as`, message: `'${v.via.as}' cannot name the category`, fix: 'pick a new lower_snake_case name such as genre' });
    }
    columns.add(v.via.as);
  }
  for (const [i, key] of entity.keys.entries()) {
    if (!columns.has(key)) problems.push({ path: `${path}.entity.keys[${i}]`, message: `'${key}' is not a column of the view's event rows`, fix: `key by one of: ${[...columns].join(', ')}` });
  }
  const stream = compileStream(v.stream, `${path}.stream`, knownTypes, problems);
  const aggregations: AggregationIR[] = [];
  (v.aggregations ?? []).forEach((a, i) => aggregations.push(...compileAgg(a, `${path}.aggregations[${i}]`, knownTypes, columns, problems)));
  if (aggregations.length === 0) problems.push({ path: `${path}.aggregations`, message: 'is empty', fix: 'add at least one aggregation, e.g. agg.count()' });
  const byName = new Map<string, AggregationIR>();
  for (const a of aggregations) {
    if (byName.has(a.name)) problems.push({ path: `${path}.aggregations`, message: `two outputs are named '${a.name}'`, fix: 'give one of them a name: option' });
    byName.set(a.name, a);
  }
  for (const a of aggregations) {
    if (a.op !== 'ratio') continue;
    for (const ref of [a.numerator, a.denominator]) {
      const target = ref === null ? undefined : byName.get(ref);
      if (!target || target.op === 'ratio' || (target.type !== 'int' && target.type !== 'float')) {
        problems.push({ path: `${path}.aggregations(${a.name})`, message: `ratio refers to '${String(ref)}', which is not a numeric output of this view`, fix: `use one of: ${aggregations.filter((x) => x.op !== 'ratio' && (x.type === 'int' || x.type === 'float')).map((x) => x.name).join(', ')}` });
      }
    }
  }
  return { kind: 'aggregation', name: v.name, entity: entityIr, stream, via: v.via ? { ...v.via } : null, aggregations, description };
}

function compileLookup(v: Extract<ViewDef, { kind: 'lookup_view' }>, path: string, entity: { name: string; keys: string[] }, problems: Problem[]): FeatureViewIR | undefined {
  const table = TABLE_COLUMNS[v.table];
  if (!table) {
    problems.push({ path: `${path}.table`, message: `'${String(v.table)}' is not a metadata table`, fix: "use 'items' or 'users'" });
    return undefined;
  }
  const key = TABLE_KEYS[v.table];
  if (entity.keys.length !== 1 || entity.keys[0] !== key) {
    problems.push({ path: `${path}.entity`, message: `a lookup on ${v.table} is keyed by ${key}`, fix: `use an entity with keys ['${key}']` });
  }
  const columns = (v.columns ?? []).flatMap((c, i) => {
    const type = table[c];
    if (!type || c === key) {
      problems.push({ path: `${path}.columns[${i}]`, message: `'${c}' is not a column of ${v.table}`, fix: `use one of: ${Object.keys(table).filter((x) => x !== key).join(', ')}` });
      return [];
    }
    return [{ name: c, type, default: v.defaults?.[c] ?? (type === 'string[]' ? [] : null) }];
  });
  if ((v.columns ?? []).length === 0) problems.push({ path: `${path}.columns`, message: 'is empty', fix: 'list the metadata columns to serve' });
  return { kind: 'lookup', name: v.name, entity, table: v.table, columns, description: v.description ?? null };
}

function compileEmbedding(v: Extract<ViewDef, { kind: 'embedding_view' }>, path: string, entity: { name: string; keys: string[] }, problems: Problem[]): FeatureViewIR | undefined {
  if (entity.keys.length !== 1 || (entity.keys[0] !== 'item_id' && entity.keys[0] !== 'user_id')) {
    problems.push({ path: `${path}.entity`, message: 'an embedding view is keyed by item_id or user_id alone', fix: "use entity('item', ['item_id']) or entity('user', ['user_id'])" });
  }
  if (typeof v.table !== 'string' || !IDENT.test(v.table)) {
    problems.push({ path: `${path}.table`, message: `'${String(v.table)}' cannot name an embedding table`, fix: "use a lower_snake_case name, e.g. 'als_items' (the file <log>/embeddings/als_items.parquet)" });
  }
  if (!Number.isInteger(v.dims) || v.dims < 1 || v.dims > 4096) {
    problems.push({ path: `${path}.dims`, message: `${String(v.dims)} is not a vector length`, fix: 'give the vectors\' length, an integer from 1 to 4096, e.g. 32' });
  }
  return { kind: 'embedding', name: v.name, entity, table: v.table, dims: v.dims, description: v.description ?? null };
}

function compileStream(s: AggregationViewStream, path: string, knownTypes: ReadonlySet<string>, problems: Problem[]): StreamIR {
  if (!s) return { kind: 'events' };
  if (s.kind === 'impression_not_played') {
    checkTypes(s.impressionTypes, `${path}.impressionTypes`, knownTypes, problems);
    checkTypes(s.playTypes, `${path}.playTypes`, knownTypes, problems);
    return { kind: 'impression_not_played', timeoutMs: parseDurationInto(s.within, `${path}.within`, problems) ?? 0, impressionTypes: [...s.impressionTypes], playTypes: [...s.playTypes] };
  }
  if (!(typeof s.below === 'number' && s.below > 0 && s.below <= 1)) {
    problems.push({ path: `${path}.below`, message: `${String(s.below)} is not a watch fraction`, fix: 'use a number in (0, 1], e.g. 0.2' });
  }
  checkTypes(s.types, `${path}.types`, knownTypes, problems);
  return { kind: 'abandon', below: s.below, types: [...s.types] };
}
type AggregationViewStream = Extract<ViewDef, { kind: 'aggregation_view' }>['stream'];

function compileAgg(a: AggDef, path: string, knownTypes: ReadonlySet<string>, columns: ReadonlySet<string>, problems: Problem[]): AggregationIR[] {
  if (!a || a.kind !== 'aggregation') {
    problems.push({ path, message: 'is not an aggregation', fix: 'build it with agg.count(), agg.mean(...), ...' });
    return [];
  }
  const { op, input, options } = a;
  const filter = compileFilter(options.types, options.where, path, knownTypes, columns, problems);
  if (input !== null) {
    if (!columns.has(input)) problems.push({ path: `${path}.input`, message: `'${input}' is not a column of the view's event rows`, fix: `use one of: ${[...columns].join(', ')}` });
    else if (INPUT_OPS.has(op) && !NUMERIC_COLUMNS.has(input)) problems.push({ path: `${path}.input`, message: `${op} needs a numeric column, '${input}' is not`, fix: `use one of: ${[...NUMERIC_COLUMNS].join(', ')}` });
    else if (CATEGORY_OPS.has(op) && CONTINUOUS_COLUMNS.has(input)) problems.push({ path: `${path}.input`, message: `${op} groups by category, and '${input}' is a continuous number`, fix: 'use a categorical column such as item_id, genre, device or hour_of_day' });
  }
  if (a.weight !== null && !NUMERIC_COLUMNS.has(a.weight)) problems.push({ path: `${path}.weight`, message: `'${a.weight}' is not a numeric column`, fix: `use one of: ${[...NUMERIC_COLUMNS].join(', ')}` });
  let halfLifeMs: number | null = null;
  if (op.startsWith('decayed_')) halfLifeMs = parseDurationInto(a.halfLife ?? '', `${path}.halfLife`, problems) ?? null;
  if ((op === 'last_k' || op === 'top_k') && !(Number.isInteger(a.k) && (a.k as number) > 0 && (a.k as number) <= 1000)) {
    problems.push({ path: `${path}.k`, message: `${String(a.k)} is not a valid k`, fix: 'use a whole number from 1 to 1000' });
  }
  if (options.name !== undefined && !IDENT.test(options.name)) problems.push({ path: `${path}.name`, message: `'${options.name}' is not a valid name`, fix: 'use lower_snake_case' });

  const type = outputType(op, input);
  const windowDefs: readonly WindowDef[] = op === 'ratio' ? ['lifetime'] : options.windows ?? ['lifetime'];
  if (windowDefs.length === 0) problems.push({ path: `${path}.windows`, message: 'is empty', fix: "list windows such as ['7d', 'lifetime']" });
  return windowDefs.flatMap((wd, wi) => {
    const window = compileWindow(wd, `${path}.windows[${wi}]`, problems);
    if (!window) return [];
    const name =
      op === 'ratio'
        ? options.name ?? `${a.numerator}_per_${a.denominator}`
        : options.name !== undefined
          ? windowDefs.length > 1 ? `${options.name}_${windowName(window)}` : options.name
          : autoName(op, input, filter, a, halfLifeMs, window);
    return [{
      name, op, input, window, filter, halfLifeMs, k: a.k, weight: a.weight,
      numerator: a.numerator, denominator: a.denominator, type,
      default: options.default !== undefined ? options.default : defaultFor(op),
    }];
  });
}

function autoName(op: string, input: string | null, filter: FilterIR, a: AggDef, halfLifeMs: number | null, w: WindowIR): string {
  const label = [...(filter.types ?? []), ...filter.where.map((c) => `${c.column}_${c.in.join('_')}`)].join('_').toLowerCase().replace(/[^a-z0-9_]/g, '_');
  const measured = a.weight !== null ? `${input}_${a.weight}` : input;
  const subject = measured === null ? label || 'event' : label ? `${label}_${measured}` : measured;
  const opText = op === 'last_k' ? `last${a.k}` : op === 'top_k' ? `top${a.k}` : halfLifeMs !== null ? `${op}_hl${formatDuration(halfLifeMs)}` : op;
  return `${subject}_${opText}_${windowName(w)}`;
}

function outputType(op: string, input: string | null): FeatureType {
  switch (op) {
    case 'count':
    case 'count_distinct':
      return 'int';
    case 'first':
    case 'last':
      return input !== null && NUMERIC_COLUMNS.has(input) ? 'float' : 'string';
    case 'last_k':
    case 'top_k':
      return 'string[]';
    case 'histogram':
      return 'histogram';
    default:
      return 'float';
  }
}

function defaultFor(op: string): FeatureValue {
  if (op === 'count' || op === 'count_distinct' || op === 'sum' || op === 'decayed_sum' || op === 'decayed_count') return 0;
  if (op === 'last_k' || op === 'top_k') return [];
  if (op === 'histogram') return {};
  return null;
}

function compileWindow(wd: WindowDef, path: string, problems: Problem[]): WindowIR | undefined {
  if (wd === 'lifetime') return { kind: 'lifetime' };
  const lengthText = typeof wd === 'string' ? wd : wd?.length;
  const lengthMs = parseDurationInto(lengthText ?? '', path, problems);
  if (lengthMs === undefined) return undefined;
  const hopMs = typeof wd === 'string' ? defaultHop(lengthMs) : parseDurationInto(wd.hop, `${path}.hop`, problems);
  if (hopMs === undefined) return undefined;
  if (hopMs > lengthMs) {
    problems.push({ path: `${path}.hop`, message: 'the hop is longer than the window', fix: 'use a hop at most the window length' });
    return undefined;
  }
  return { kind: 'sliding', lengthMs, hopMs };
}

function compileFilter(types: readonly string[] | undefined, where: Readonly<Record<string, readonly (string | number)[]>> | undefined, path: string, knownTypes: ReadonlySet<string>, columns: ReadonlySet<string>, problems: Problem[]): FilterIR {
  if (types !== undefined) checkTypes(types, `${path}.types`, knownTypes, problems);
  const clauses = Object.entries(where ?? {}).map(([column, values]) => {
    if (!columns.has(column)) problems.push({ path: `${path}.where.${column}`, message: `'${column}' is not a column of the view's event rows`, fix: `use one of: ${[...columns].join(', ')}` });
    if (!Array.isArray(values) || values.length === 0) problems.push({ path: `${path}.where.${column}`, message: 'needs a non-empty list of values', fix: `write { ${column}: ['value'] }` });
    else if (NUMERIC_COLUMNS.has(column)) {
      // The engines compare a numeric column's values as numbers (SQL) and as text (stream, reference): only a number's own text means the same to both.
      const odd = values.filter((x) => !Number.isFinite(Number(x)) || String(Number(x)) !== String(x));
      if (odd.length > 0) problems.push({ path: `${path}.where.${column}`, message: `'${column}' holds numbers; ${odd.map((x) => JSON.stringify(x)).join(', ')} ${odd.length === 1 ? 'is' : 'are'} not one written plainly`, fix: `write numbers, e.g. { ${column}: [${odd.map((x) => (Number.isFinite(Number(x)) ? String(Number(x)) : '0')).join(', ')}] }` });
    }
    return { column, in: [...(values ?? [])] };
  });
  return { types: types === undefined ? null : [...types], where: clauses };
}

function checkTypes(types: readonly string[], path: string, knownTypes: ReadonlySet<string>, problems: Problem[]): void {
  if (!Array.isArray(types) || types.length === 0) {
    problems.push({ path, message: 'needs a non-empty list of event types', fix: "write e.g. ['play']" });
    return;
  }
  for (const t of types) {
    if (!knownTypes.has(t)) problems.push({ path, message: `'${t}' is not a known event type`, fix: `use one of: ${[...knownTypes].join(', ')}, or declare it in extraTypes` });
  }
}

function parseDurationInto(text: string, path: string, problems: Problem[]): number | undefined {
  const ms = typeof text === 'string' ? tryParseDuration(text) : undefined;
  if (ms === undefined || ms <= 0) {
    problems.push({ path, message: `'${String(text)}' is not a duration`, fix: 'write a positive whole number and a unit: 30m, 12h, 7d (ms s m h d w)' });
    return undefined;
  }
  return ms;
}

function compileRequestFeature(r: RequestFeatureDef, path: string, featureTypes: ReadonlyMap<string, FeatureType>, functions: Map<string, (inputs: RequestInputs) => FeatureValue>, problems: Problem[]): RequestFeatureIR | undefined {
  if (!r || r.kind !== 'request_feature' || typeof r.fn !== 'function') {
    problems.push({ path, message: 'is not a request feature with a function', fix: 'build it with requestFeature({ name, inputs, type, fn })' });
    return undefined;
  }
  if (!IDENT.test(r.name)) problems.push({ path: `${path}.name`, message: `'${r.name}' is not a valid name`, fix: 'use lower_snake_case' });
  if (functions.has(r.name)) problems.push({ path: `${path}.name`, message: `request feature '${r.name}' is defined twice`, fix: 'give each its own name' });
  for (const [alias, ref] of Object.entries(r.inputs ?? {})) {
    if (ref.startsWith('request:') && ref.length > 'request:'.length) continue;
    if (!featureTypes.has(ref)) {
      problems.push({ path: `${path}.inputs.${alias}`, message: `'${ref}' is not a feature of this set`, fix: "refer to 'view:feature' (`recsignal features --features <file>` lists them) or 'request:<field>'" });
    }
  }
  functions.set(r.name, r.fn);
  return { name: r.name, inputs: { ...r.inputs }, type: r.type, default: r.default ?? null, source: r.fn.toString(), description: r.description ?? null };
}

/** Every output of a view with its type and default. */
export function viewOutputs(v: FeatureViewIR): { name: string; type: FeatureType; default: FeatureValue }[] {
  if (v.kind === 'aggregation') return v.aggregations.map((a) => ({ name: a.name, type: a.type, default: a.default }));
  if (v.kind === 'session') return SESSION_OUTPUTS.map((o) => ({ ...o }));
  if (v.kind === 'embedding') return [{ ...EMBEDDING_OUTPUT }];
  return v.columns.map((c) => ({ ...c }));
}

/** A stable hash of semantics: keys sorted, descriptions left out. */
export function semanticHash(value: unknown): string {
  return createHash('sha256').update(canonical(value)).digest('hex').slice(0, 16);
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([k, v]) => k !== 'description' && v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  }
  return value;
}
