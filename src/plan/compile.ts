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
/** Extra event types: as the built-in ones are written. */
const EVENT_TYPE = /^[a-z][a-z0-9_]*$/;
const FEATURE_TYPES: ReadonlySet<string> = new Set<FeatureType>(['int', 'float', 'string', 'string[]', 'float[]', 'histogram']);
const INPUT_OPS = new Set(['sum', 'mean', 'min', 'max', 'stddev', 'decayed_sum', 'decayed_mean']);
const CATEGORY_OPS = new Set(['last_k', 'top_k', 'histogram']);
const CONTINUOUS_COLUMNS = new Set(['value', 'duration', 'watch_fraction', 'weight']);

/** Chronon's default hop for a window length: 5 minutes below 12 hours, 1 hour below 12 days, else 1 day. */
export function defaultHop(lengthMs: number): number {
  if (lengthMs < 12 * HOUR_MS) return 5 * MINUTE_MS;
  if (lengthMs < 12 * DAY_MS) return HOUR_MS;
  return DAY_MS;
}

/** The column a feature takes in a training set: `view__feature`; request features keep their name. */
export function featureColumn(view: string, feature: string): string {
  return `${view}__${feature}`;
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
  extraTypes.forEach((t, i) => {
    if (typeof t !== 'string' || !EVENT_TYPE.test(t)) problems.push({ path: `extraTypes[${i}]`, message: `'${String(t)}' is not a valid event type`, fix: 'use a lower_snake_case name such as thumbs_up' });
    else if ((BUILTIN_EVENT_TYPES as readonly string[]).includes(t)) problems.push({ path: `extraTypes[${i}]`, message: `'${t}' is a built-in event type`, fix: 'leave it out of extraTypes' });
    else if (extraTypes.indexOf(t) !== i) problems.push({ path: `extraTypes[${i}]`, message: `'${t}' is listed twice`, fix: 'list each extra type once' });
  });
  const knownTypes = new Set<string>([...BUILTIN_EVENT_TYPES, ...extraTypes]);
  const weights: Record<string, number> = {};
  for (const [type, w] of Object.entries(def.weights ?? {})) {
    if (!knownTypes.has(type)) problems.push({ path: `weights.${type}`, message: `'${type}' is not a known event type`, fix: 'list it in extraTypes or fix the spelling' });
    if (typeof w !== 'number' || !Number.isFinite(w)) problems.push({ path: `weights.${type}`, message: 'must be a finite number', fix: 'give each event type a numeric signal strength' });
    else weights[type] = w;
  }

  const views: FeatureViewIR[] = [];
  const seenViews = new Set<string>();
  const entities = new Map<string, { keys: readonly string[]; path: string }>();
  if (def.views !== undefined && !Array.isArray(def.views)) problems.push({ path: 'views', message: 'is not a list', fix: 'write views: [aggregationView({...}), ...]' });
  (Array.isArray(def.views) ? def.views : []).forEach((v, i) => {
    const path = `views[${i}]${v && typeof v.name === 'string' ? `(${v.name})` : ''}`;
    if (!v || typeof v.name !== 'string' || !IDENT.test(v.name)) {
      problems.push({ path: `${path}.name`, message: `'${String(v?.name)}' is not a valid view name`, fix: 'use lower_snake_case' });
      return;
    }
    if (seenViews.has(v.name)) problems.push({ path: `${path}.name`, message: `view '${v.name}' is defined twice`, fix: 'give each view its own name' });
    seenViews.add(v.name);
    const ir = compileView(v, path, knownTypes, problems);
    if (ir) {
      views.push(ir);
      // One name, one entity: backfills and --entity select by the name.
      const seen = entities.get(ir.entity.name);
      if (seen === undefined) entities.set(ir.entity.name, { keys: ir.entity.keys, path });
      else if (seen.keys.join(',') !== ir.entity.keys.join(',')) {
        problems.push({ path: `${path}.entity`, message: `entity '${ir.entity.name}' is keyed by ${ir.entity.keys.join(', ')} here and by ${seen.keys.join(', ')} in ${seen.path}`, fix: 'give entities with different keys different names' });
      }
    }
  });
  if (views.length === 0 && problems.length === 0) {
    problems.push({ path: 'views', message: 'no views', fix: 'declare at least one view with aggregationView, sessionView or lookupView' });
  }

  const requestFeatures: RequestFeatureIR[] = [];
  const functions = new Map<string, (inputs: RequestInputs) => FeatureValue>();
  const featureTypes = new Map<string, FeatureType>();
  // Each feature is a column of backfills and training sets (view__feature; request features by name):
  // two with one column name would be renamed by DuckDB (name_1) without a word.
  const columnOwners = new Map<string, string>();
  const claim = (column: string, owner: string, path: string) => {
    const other = columnOwners.get(column);
    if (other !== undefined) problems.push({ path, message: `${owner} and ${other} both make the column '${column}'`, fix: 'rename one of them (a view and its feature are joined by __ in the column name)' });
    else columnOwners.set(column, owner);
  };
  for (const v of views) {
    for (const f of viewOutputs(v)) {
      featureTypes.set(`${v.name}:${f.name}`, f.type);
      claim(featureColumn(v.name, f.name), `${v.name}:${f.name}`, `views(${v.name}).${f.name}`);
    }
  }
  if (def.requestFeatures !== undefined && !Array.isArray(def.requestFeatures)) problems.push({ path: 'requestFeatures', message: 'is not a list', fix: 'write requestFeatures: [requestFeature({...}), ...]' });
  const requestNames = new Set((Array.isArray(def.requestFeatures) ? def.requestFeatures : []).map((r) => r?.name));
  (Array.isArray(def.requestFeatures) ? def.requestFeatures : []).forEach((r, i) => {
    const ir = compileRequestFeature(r, `requestFeatures[${i}]`, featureTypes, requestNames, functions, problems);
    if (ir) requestFeatures.push(ir);
  });
  requestFeatures.forEach((r, i) => claim(r.name, `request feature ${r.name}`, `requestFeatures[${i}](${r.name}).name`));

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
  if (typeof entity.name !== 'string' || !IDENT.test(entity.name)) problems.push({ path: `${path}.entity`, message: `'${String(entity.name)}' is not a valid entity name`, fix: "use lower_snake_case, e.g. entity('user_item', ['user_id', 'item_id'])" });
  const twice = entity.keys.filter((k, i) => entity.keys.indexOf(k) !== i);
  if (twice.length > 0) problems.push({ path: `${path}.entity.keys`, message: `'${twice[0]}' is listed twice`, fix: 'list each key column once' });
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
  (Array.isArray(v.aggregations) ? v.aggregations : []).forEach((a, i) => aggregations.push(...compileAgg(a, `${path}.aggregations[${i}]`, knownTypes, columns, problems)));
  // Only when none was written: one that was written but is wrong has its own problem.
  if (!Array.isArray(v.aggregations) || v.aggregations.length === 0) problems.push({ path: `${path}.aggregations`, message: 'is empty', fix: 'add at least one aggregation, e.g. agg.count()' });
  const streamTypes = stream.kind === 'impression_not_played' ? stream.impressionTypes : stream.kind === 'abandon' ? stream.types : null;
  if (streamTypes !== null) {
    for (const a of aggregations) {
      const never = (a.filter.types ?? []).filter((t) => !streamTypes.includes(t));
      if (never.length > 0) problems.push({ path: `${path}.aggregations(${a.name}).types`, message: `this view's rows are derived ${stream.kind === 'abandon' ? 'abandons' : 'unanswered impressions'}, which keep their event types (${streamTypes.join(', ')}): '${never.join("', '")}' never occurs, and the feature would always be its default`, fix: `filter on ${streamTypes.join(' or ')}, or leave types out` });
    }
  }
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
    const given = v.defaults?.[c];
    if (given !== undefined) checkDefault(given, type, `${path}.defaults.${c}`, problems);
    return [{ name: c, type, default: given ?? (type === 'string[]' ? [] : null) }];
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
  if (options.default !== undefined) checkDefault(options.default, type, `${path}.default`, problems);
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
  // A window shorter than its default hop (under 5 minutes) hops by its own length.
  const hopMs = typeof wd === 'string' ? Math.min(defaultHop(lengthMs), lengthMs) : parseDurationInto(wd.hop, `${path}.hop`, problems);
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

/** A declared default must be a value of the feature's type (or null): the engines coalesce to it. */
function checkDefault(value: unknown, type: FeatureType, path: string, problems: Problem[]): void {
  const fits =
    value === null ||
    (type === 'int' ? Number.isInteger(value) : type === 'float' ? typeof value === 'number' && Number.isFinite(value) : type === 'string' ? typeof value === 'string'
      : type === 'string[]' ? Array.isArray(value) && value.every((x) => typeof x === 'string')
      : type === 'float[]' ? Array.isArray(value) && value.every((x) => typeof x === 'number' && Number.isFinite(x))
      : typeof value === 'object' && !Array.isArray(value) && Object.values(value as object).every((x) => typeof x === 'number' && Number.isFinite(x)));
  if (!fits) {
    const example = { int: '0', float: '0', string: "'unknown'", 'string[]': '[]', 'float[]': '[]', histogram: '{}' }[type];
    problems.push({ path, message: `${JSON.stringify(value) ?? String(value)} is not a value of the feature's type ${type}`, fix: `give a ${type} default (e.g. ${example}) or null` });
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

function compileRequestFeature(r: RequestFeatureDef, path: string, featureTypes: ReadonlyMap<string, FeatureType>, requestNames: ReadonlySet<unknown>, functions: Map<string, (inputs: RequestInputs) => FeatureValue>, problems: Problem[]): RequestFeatureIR | undefined {
  if (!r || r.kind !== 'request_feature' || typeof r.fn !== 'function') {
    problems.push({ path, message: 'is not a request feature with a function', fix: 'build it with requestFeature({ name, inputs, type, fn })' });
    return undefined;
  }
  if (!IDENT.test(r.name)) problems.push({ path: `${path}.name`, message: `'${r.name}' is not a valid name`, fix: 'use lower_snake_case' });
  if (functions.has(r.name)) problems.push({ path: `${path}.name`, message: `request feature '${r.name}' is defined twice`, fix: 'give each its own name' });
  if (!FEATURE_TYPES.has(r.type)) problems.push({ path: `${path}.type`, message: `'${String(r.type)}' is not a feature type`, fix: `use one of: ${[...FEATURE_TYPES].join(', ')}` });
  else if (r.default !== undefined) checkDefault(r.default, r.type, `${path}.default`, problems);
  if (r.inputs !== undefined && (typeof r.inputs !== 'object' || r.inputs === null || Array.isArray(r.inputs))) {
    problems.push({ path: `${path}.inputs`, message: 'is not an object of named refs', fix: "write inputs: { plays: 'user_activity:play_count_7d', device: 'request:device' }" });
  }
  for (const [alias, ref] of Object.entries(typeof r.inputs === 'object' && r.inputs !== null ? r.inputs : {})) {
    if (typeof ref !== 'string') {
      problems.push({ path: `${path}.inputs.${alias}`, message: `${JSON.stringify(ref) ?? String(ref)} is not a ref`, fix: "give a 'view:feature' or 'request:<field>' string" });
      continue;
    }
    if (ref.startsWith('request:') && ref.length > 'request:'.length) {
      // request:<field> reads the request's own data; request features do not read each other.
      const field = ref.slice('request:'.length);
      if (requestNames.has(field)) problems.push({ path: `${path}.inputs.${alias}`, message: `'${ref}' names the request feature '${field}', which request features cannot read (it would be null)`, fix: `compute it here from '${field}''s own inputs, or read a request field` });
      continue;
    }
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
