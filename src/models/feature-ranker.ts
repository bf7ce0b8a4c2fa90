/**
 * @module A ranker over a feature set's training set: the histogram GBDT (binary, or LambdaMART
 * grouped by user) on the numeric columns, lists encoded as their length and histograms as their
 * total weight, strings and times skipped. Users are held out (seeded) for early stopping and for
 * the reported AUC / logloss / nDCG. Saved as one JSON file.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { RecsignalError } from '../core/errors.ts';
import { DuckDBEngine, sqlPath, sqlString } from '../store/offline/duckdb-engine.ts';
import { auc, gbdtModelFromJSON, logloss, ndcgAtK, trainGbdt, type GbdtModel, type GbdtModelJSON } from './gbdt/index.ts';
import { createRng } from './gbdt/rng.ts';

export type RankerObjective = 'binary' | 'lambdarank';

const VECTOR_REASON = 'a vector (an embedding): give the ranker a request feature of it instead, e.g. the dot product of the user and item vectors';

/** How a training-set column becomes one number: as is, a list's length, or a histogram's total weight. */
export type RankerEncoding = 'number' | 'length' | 'sum';

export interface RankerFeature {
  /** The GBDT's feature name: the column, with `.length` or `.sum` when encoded. */
  readonly name: string;
  readonly column: string;
  readonly encoding: RankerEncoding;
}

export interface HeldOutMetrics {
  readonly users: number;
  readonly rows: number;
  readonly positives: number;
  /** null when the held-out rows have one class only (or no user was held out). */
  readonly auc: number | null;
  /** Of the binary objective's probabilities; null for lambdarank. */
  readonly logloss: number | null;
  readonly ndcgAt10: number | null;
  readonly trainUsers: number;
  readonly trainRows: number;
  /** Trees kept (the best held-out iteration). */
  readonly trees: number;
}

/** What a trained ranker is, in memory and in its JSON file alike. */
interface RankerDescription {
  readonly objective: RankerObjective;
  readonly label: string;
  readonly group: string;
  readonly features: readonly RankerFeature[];
  readonly skipped: readonly { readonly column: string; readonly reason: string }[];
  readonly metrics: HeldOutMetrics;
}

export interface FeatureRankerJSON extends RankerDescription {
  readonly format: 'recsignal-feature-ranker';
  readonly version: 1;
  readonly gbdt: GbdtModelJSON;
}

export interface FeatureRanker extends RankerDescription {
  readonly gbdt: GbdtModel;
  /** The raw score (log-odds for binary) of one row of encoded values, in `features` order (NaN = missing). */
  score(row: ArrayLike<number>): number;
  toJSON(): FeatureRankerJSON;
}

/** A training set in memory: one object per row, values as the batch engine gives them. */
export interface TrainingRows {
  readonly rows: readonly Readonly<Record<string, unknown>>[];
}

export interface TrainFeatureRankerOptions {
  /** A Parquet or CSV file (read through DuckDB), or rows in memory. */
  readonly trainingSet: string | TrainingRows;
  readonly label: string;
  /** Default 'binary'. */
  readonly objective?: RankerObjective;
  /** The column rows are grouped and held out by; default `user_id`. */
  readonly group?: string;
  /** Feature columns; default every column but the label, the group, `ts`, `*_id` keys and `exclude`. */
  readonly features?: readonly string[];
  readonly exclude?: readonly string[];
  /** Share of groups held out for early stopping and the metrics; default 0.2. */
  readonly holdout?: number;
  /** Default 7. */
  readonly seed?: number;
  /** Most trees; default 300 (early stopping keeps the best). */
  readonly numIterations?: number;
  readonly learningRate?: number;
  readonly numLeaves?: number;
}

/** One column of a loaded training set: numbers (NaN = missing) or group keys. */
interface Loaded {
  readonly rows: number;
  readonly features: RankerFeature[];
  readonly skipped: { column: string; reason: string }[];
  /** Row-major rows × features. */
  readonly data: Float64Array;
  readonly labels: Float64Array;
  readonly groups: string[];
}

const NUMERIC_TYPES = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|REAL|DOUBLE|BOOLEAN|DECIMAL(\(.*\))?)$/;

export async function trainFeatureRanker(o: TrainFeatureRankerOptions): Promise<FeatureRanker> {
  const objective = o.objective ?? 'binary';
  if (objective !== 'binary' && objective !== 'lambdarank') {
    throw new RecsignalError('INVALID_ARGUMENT', `objective '${String(objective)}': use 'binary' (a click or play label) or 'lambdarank' (graded labels, ranked per user)`);
  }
  const group = o.group ?? 'user_id';
  const loaded = withoutUninformative(typeof o.trainingSet === 'string' ? await loadFile(o.trainingSet, o.label, group, o) : loadRows(o.trainingSet, o.label, group, o));
  if (loaded.features.length === 0) {
    // The first few columns with their reasons, then counts by reason: a wide set otherwise made a message of several KB.
    const shown = loaded.skipped.slice(0, 4).map((s) => `${s.column} (${s.reason})`);
    const byReason = new Map<string, number>();
    for (const s of loaded.skipped.slice(4)) {
      const reason = s.reason.endsWith(' in every row') ? 'constant' : s.reason;
      byReason.set(reason, (byReason.get(reason) ?? 0) + 1);
    }
    const rest = [...byReason].map(([reason, n]) => `${n} more: ${reason}`);
    throw new RecsignalError('INVALID_INPUT', `the training set has no usable feature column (${loaded.skipped.length} skipped: ${[...shown, ...rest].join(', ') || 'none'}); a training set with more rows, from \`recsignal training-set\` over more events, has numbers that vary`);
  }
  checkLabels(loaded.labels, objective, o.label);
  if (objective === 'lambdarank' && !anyGroupToOrder(loaded)) {
    throw new RecsignalError('INVALID_INPUT', `no group (--group ${group}) holds two rows of different labels: lambdarank orders the rows within each group and has nothing to order here; use --objective binary, or group by a coarser column`);
  }

  // Hold out a seeded share of the groups (users): a user's rows are all trained on or all held out.
  const distinct = [...new Set(loaded.groups)].sort();
  const rng = createRng(o.seed ?? 7);
  for (let i = distinct.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [distinct[i], distinct[j]] = [distinct[j] as string, distinct[i] as string];
  }
  const share = o.holdout ?? 0.2;
  const nHeld = distinct.length < 2 ? 0 : Math.min(distinct.length - 1, Math.max(1, Math.round(distinct.length * share)));
  const held = new Set(distinct.slice(0, nHeld));
  const trainPart = part(loaded, (g) => !held.has(g));
  const validPart = nHeld > 0 ? part(loaded, (g) => held.has(g)) : null;
  const binary = objective === 'binary';
  const d = loaded.features.length;
  if (!hasBothClasses(trainPart.labels, true)) {
    throw new RecsignalError('INVALID_INPUT', `the training part (${trainPart.rows} rows of ${distinct.length - nHeld} groups, after holding out ${nHeld} of ${distinct.length} groups) holds one label only: nothing to learn; give a larger training set (more ${group} values with both labels)`);
  }

  const gbdt = trainGbdt({
    objective,
    train: { features: { data: trainPart.data, rows: trainPart.rows, cols: d }, labels: trainPart.labels, ...(binary ? {} : { groups: { sizes: trainPart.sizes } }) },
    ...(validPart && hasBothClasses(validPart.labels, binary)
      ? { valid: { features: { data: validPart.data, rows: validPart.rows, cols: d }, labels: validPart.labels, ...(binary ? {} : { groups: { sizes: validPart.sizes } }) }, earlyStoppingRounds: 30 }
      : {}),
    featureNames: loaded.features.map((f) => f.name),
    numIterations: o.numIterations ?? 300,
    learningRate: o.learningRate ?? 0.05,
    numLeaves: o.numLeaves ?? 31,
    minDataInLeaf: Math.max(2, Math.min(20, Math.floor(trainPart.rows / 50))),
    featureFraction: 0.9,
    baggingFraction: 0.8,
    seed: o.seed ?? 7,
    ...(binary ? { metric: 'logloss' as const } : { metric: 'ndcg' as const, evalAt: 10 }),
  });

  const metrics = heldOutMetrics(gbdt, validPart, d, binary, { users: distinct.length - nHeld, rows: trainPart.rows });
  return createRanker({ objective, label: o.label, group, features: loaded.features, skipped: loaded.skipped, metrics, gbdt });
}

function checkLabels(labels: Float64Array, objective: RankerObjective, label: string): void {
  let pos = 0;
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i] as number;
    if (objective === 'lambdarank' && (!Number.isInteger(y) || y < 0 || y > 30)) {
      throw new RecsignalError('INVALID_INPUT', `--label ${label} holds ${y}: lambdarank needs whole relevance grades 0..30; use --objective binary for 0/1 labels`);
    }
    if (objective === 'binary' && y !== 0 && y !== 1) {
      throw new RecsignalError('INVALID_INPUT', `--label ${label} holds ${y}: the binary objective needs 0/1 labels (played or not); use --objective lambdarank for graded labels (whole numbers 0..30)`);
    }
    if (y > 0) pos++;
  }
  if (pos === 0 || pos === labels.length) {
    throw new RecsignalError('INVALID_INPUT', `label '${label}' is ${pos === 0 ? 'never' : 'always'} positive over ${labels.length} rows: nothing to learn; build the training set over a longer or busier period`);
  }
}

/** Some group has two rows with different labels: something for lambdarank to order. */
function anyGroupToOrder(l: Loaded): boolean {
  const first = new Map<string, number>();
  for (let r = 0; r < l.rows; r++) {
    const g = l.groups[r] as string;
    const y = l.labels[r] as number;
    const seen = first.get(g);
    if (seen === undefined) first.set(g, y);
    else if (seen !== y) return true;
  }
  return false;
}

/**
 * Without the feature columns that cannot split anything: null in every row, or one value in
 * every row. Kept, they change nothing but the features a tree samples (an all-null column moved a
 * model's held-out AUC from 0.747 to 0.726).
 */
function withoutUninformative(l: Loaded): Loaded {
  const d = l.features.length;
  const keep: number[] = [];
  const skipped = [...l.skipped];
  for (let f = 0; f < d; f++) {
    let first = NaN;
    let varies = false;
    let nulls = 0;
    for (let r = 0; r < l.rows; r++) {
      const v = l.data[r * d + f] as number;
      if (Number.isNaN(v)) nulls++;
      else if (Number.isNaN(first)) first = v;
      else if (v !== first) varies = true;
      if (varies && nulls > 0) break;
    }
    const feature = l.features[f] as RankerFeature;
    if (nulls === l.rows) skipped.push({ column: feature.name, reason: 'null in every row' });
    else if (!varies && nulls === 0) skipped.push({ column: feature.name, reason: `${first} in every row` });
    else keep.push(f);
  }
  if (keep.length === d) return l;
  const k = keep.length;
  const data = new Float64Array(l.rows * k);
  for (let r = 0; r < l.rows; r++) for (let j = 0; j < k; j++) data[r * k + j] = l.data[r * d + (keep[j] as number)] as number;
  return { ...l, features: keep.map((f) => l.features[f] as RankerFeature), skipped, data };
}

function hasBothClasses(labels: Float64Array, binary: boolean): boolean {
  let pos = 0;
  for (const y of labels) if (y > 0) pos++;
  return binary ? pos > 0 && pos < labels.length : pos > 0;
}

interface Part {
  readonly rows: number;
  readonly data: Float64Array;
  readonly labels: Float64Array;
  /** Rows per group, in row order (rows sorted by group, then training-set order). */
  readonly sizes: number[];
}

function part(l: Loaded, keep: (g: string) => boolean): Part {
  const idx: number[] = [];
  for (let r = 0; r < l.rows; r++) if (keep(l.groups[r] as string)) idx.push(r);
  idx.sort((a, b) => ((l.groups[a] as string) < (l.groups[b] as string) ? -1 : (l.groups[a] as string) > (l.groups[b] as string) ? 1 : a - b));
  const d = l.features.length;
  const data = new Float64Array(idx.length * d);
  const labels = new Float64Array(idx.length);
  const sizes: number[] = [];
  idx.forEach((r, i) => {
    data.set(l.data.subarray(r * d, (r + 1) * d), i * d);
    labels[i] = l.labels[r] as number;
    if (i === 0 || l.groups[r] !== l.groups[idx[i - 1] as number]) sizes.push(0);
    sizes[sizes.length - 1]! += 1;
  });
  return { rows: idx.length, data, labels, sizes };
}

function heldOutMetrics(gbdt: GbdtModel, v: Part | null, d: number, binary: boolean, train: { users: number; rows: number }): HeldOutMetrics {
  const base = { trainUsers: train.users, trainRows: train.rows, trees: gbdt.numTrees };
  if (v === null || v.rows === 0) return { users: 0, rows: 0, positives: 0, auc: null, logloss: null, ndcgAt10: null, ...base };
  const raw = gbdt.predictBatch({ data: v.data, rows: v.rows, cols: d }, { raw: true });
  const binaryLabels = v.labels.map((y) => (y > 0 ? 1 : 0));
  const a = auc(raw, binaryLabels);
  const offsets = new Int32Array(v.sizes.length + 1);
  v.sizes.forEach((s, i) => (offsets[i + 1] = (offsets[i] as number) + s));
  const gains = Array.from({ length: 31 }, (_, i) => 2 ** i - 1);
  return {
    users: v.sizes.length,
    rows: v.rows,
    positives: binaryLabels.reduce((s, y) => s + y, 0),
    auc: Number.isNaN(a) ? null : a,
    logloss: binary ? logloss(raw, binaryLabels) : null,
    ndcgAt10: ndcgAtK(raw, binary ? binaryLabels : v.labels, offsets, 10, gains),
    ...base,
  };
}

const TIME_REASON = 'a point in time (absolute times do not carry over to serving; use an age feature)';

/** `release_ts`, `ts`: absolute times, which would tie the model to the training period. */
function isTimeColumn(column: string): boolean {
  return /(^|_)ts$/.test(column);
}

/** Which columns are features, by name: the chosen ones, or all but keys, time and label. */
function candidateColumns(all: readonly string[], label: string, group: string, o: TrainFeatureRankerOptions): string[] {
  for (const c of [label, group, ...(o.features ?? []), ...(o.exclude ?? [])]) {
    if (!all.includes(c)) throw new RecsignalError('INVALID_INPUT', `the training set has no column '${c}'${(o.exclude ?? []).includes(c) ? ' (--exclude)' : ''}; it has: ${all.join(', ')}`);
  }
  const twice = (o.features ?? []).filter((c, i, a) => a.indexOf(c) !== i);
  if (twice.length > 0) throw new RecsignalError('INVALID_ARGUMENT', `--features lists '${twice[0]}' twice; list each column once`);
  if (o.features !== undefined) {
    // The label as a feature scores AUC 1 and serves nothing; the group is a user id.
    const leaks = o.features.filter((c) => c === label || c === group);
    if (leaks.length > 0) throw new RecsignalError('INVALID_ARGUMENT', `--features lists ${leaks.map((c) => `'${c}'`).join(' and ')}, the ${leaks.includes(label) ? 'label' : 'group'}${leaks.length > 1 ? ' and the group' : ''}; leave ${leaks.length > 1 ? 'them' : 'it'} out`);
    return o.features.filter((c) => !(o.exclude ?? []).includes(c));
  }
  const exclude = new Set([label, group, 'ts', ...(o.exclude ?? [])]);
  return all.filter((c) => !exclude.has(c) && !/(^|_)id$/.test(c));
}

/** A text column whose every value is a JSON list: 'numbers' when every element is a number (a vector), else 'list'; null otherwise. */
async function jsonListKind(engine: DuckDBEngine, q: string): Promise<'numbers' | 'list' | null> {
  const [r] = await engine.query(
    `SELECT count(*) AS n, bool_and(json_valid(${q}) AND json_type(${q}) = 'ARRAY') AS lists,
       bool_and(NOT json_valid(${q}) OR json_type(${q}) <> 'ARRAY' OR json_array_length(${q}) = 0 OR list_bool_and(list_transform(json_extract(${q}, '$[*]'), x -> json_type(x) IN ('DOUBLE', 'BIGINT', 'UBIGINT')))) AS numbers,
       bool_or(json_valid(${q}) AND json_type(${q}) = 'ARRAY' AND json_array_length(${q}) > 0) AS any_items
     FROM __ts WHERE ${q} IS NOT NULL`,
  );
  if (r === undefined || Number(r['n']) === 0 || r['lists'] !== true) return null;
  return r['numbers'] === true && r['any_items'] === true ? 'numbers' : 'list';
}

async function loadFile(path: string, label: string, group: string, o: TrainFeatureRankerOptions): Promise<Loaded> {
  if (!existsSync(path)) throw new RecsignalError('NOT_FOUND', `training set '${path}' does not exist; build one with \`recsignal training-set --spine ... --out ${path}\``);
  if (!/\.(parquet|csv)$/i.test(path)) throw new RecsignalError('INVALID_ARGUMENT', `training set '${path}': give a .parquet or .csv file (\`recsignal training-set\` writes Parquet)`);
  const engine = await DuckDBEngine.open();
  try {
    const csv = path.toLowerCase().endsWith('.csv');
    const reader = csv ? `read_csv_auto(${sqlPath(path)})` : `read_parquet(${sqlPath(path)})`;
    await engine.run(`CREATE TEMP TABLE __ts AS SELECT * FROM ${reader}`);
    const types = new Map((await engine.query('DESCRIBE __ts')).map((r) => [String(r['column_name']), String(r['column_type'])]));
    const features: RankerFeature[] = [];
    const skipped: { column: string; reason: string }[] = [];
    const exprs: string[] = [];
    for (const column of candidateColumns([...types.keys()], label, group, o)) {
      const type = types.get(column) as string;
      let list: 'numbers' | 'list' | null = null;
      const q = `"${column.replaceAll('"', '""')}"`;
      if (isTimeColumn(column)) {
        skipped.push({ column, reason: TIME_REASON });
      } else if (NUMERIC_TYPES.test(type)) {
        features.push({ name: column, column, encoding: 'number' });
        exprs.push(`CAST(${q} AS DOUBLE)`);
      } else if (type.endsWith('[]') && NUMERIC_TYPES.test(type.slice(0, -2))) {
        skipped.push({ column, reason: VECTOR_REASON });
      } else if (type.endsWith('[]')) {
        features.push({ name: `${column}.length`, column, encoding: 'length' });
        exprs.push(`CAST(coalesce(len(${q}), 0) AS DOUBLE)`);
      } else if (type.startsWith('MAP(') && /DOUBLE|INT|FLOAT|DECIMAL/.test(type)) {
        features.push({ name: `${column}.sum`, column, encoding: 'sum' });
        exprs.push(`CAST(coalesce(list_sum(map_values(${q})), 0) AS DOUBLE)`);
      } else if (type === 'VARCHAR' && csv && (list = await jsonListKind(engine, q)) !== null) {
        // A CSV training set writes lists as JSON text (recsignal training-set): read as Parquet's lists are.
        if (list === 'numbers') skipped.push({ column, reason: VECTOR_REASON });
        else {
          features.push({ name: `${column}.length`, column, encoding: 'length' });
          exprs.push(`CAST(coalesce(json_array_length(${q}), 0) AS DOUBLE)`);
        }
      } else {
        skipped.push({ column, reason: /TIME|DATE/.test(type) ? TIME_REASON : type === 'VARCHAR' ? 'a string' : `type ${type}` });
      }
    }
    const lq = `"${label.replaceAll('"', '""')}"`;
    const gq = `"${group.replaceAll('"', '""')}"`;
    const labelType = types.get(label) as string;
    if (!NUMERIC_TYPES.test(labelType) && labelType !== 'BOOLEAN') {
      throw new RecsignalError('INVALID_INPUT', `the label column '${label}' holds ${labelType === 'VARCHAR' ? 'text' : labelType}, not numbers; name a 0/1 (or graded) label with --label`);
    }
    const select = `SELECT CAST(${lq} AS DOUBLE) AS __label, CAST(${gq} AS VARCHAR) AS __group${exprs.map((e, i) => `, ${e} AS __f${i}`).join('')} FROM __ts WHERE ${lq} IS NOT NULL`;
    const labels: number[] = [];
    const groups: string[] = [];
    const chunks: Float64Array[] = [];
    const d = features.length;
    const expected = await engine.count(`__ts WHERE ${lq} IS NOT NULL`);
    for await (const chunk of engine.chunks(select, expected)) {
      const block = new Float64Array(chunk.rows * d);
      for (let r = 0; r < chunk.rows; r++) {
        labels.push(Number(chunk.values[0]?.[r]));
        groups.push(String(chunk.values[1]?.[r] ?? ''));
        for (let f = 0; f < d; f++) {
          const v = chunk.values[f + 2]?.[r];
          block[r * d + f] = v === null || v === undefined ? NaN : Number(v);
        }
      }
      chunks.push(block);
    }
    const data = new Float64Array(labels.length * d);
    let at = 0;
    for (const c of chunks) {
      data.set(c, at);
      at += c.length;
    }
    return { rows: labels.length, features, skipped, data, labels: Float64Array.from(labels), groups };
  } finally {
    engine.close();
  }
}

function loadRows(ts: TrainingRows, label: string, group: string, o: TrainFeatureRankerOptions): Loaded {
  const rows = ts.rows.filter((r) => r[label] !== null && r[label] !== undefined);
  const all = [...new Set(ts.rows.flatMap((r) => Object.keys(r)))];
  const features: RankerFeature[] = [];
  const skipped: { column: string; reason: string }[] = [];
  for (const column of candidateColumns(all, label, group, o)) {
    // A non-empty sample tells a list of strings from a histogram read back as a list of { key, value }.
    const values = rows.map((r) => r[column]).filter((v) => v !== null && v !== undefined);
    const sample = values.find((v) => !Array.isArray(v) || v.length > 0) ?? values[0];
    if (isTimeColumn(column)) skipped.push({ column, reason: TIME_REASON });
    else if (typeof sample === 'number' || typeof sample === 'boolean' || sample === undefined) features.push({ name: column, column, encoding: 'number' });
    else if (Array.isArray(sample) && sample.length > 0 && sample.every((x) => typeof x === 'number')) skipped.push({ column, reason: VECTOR_REASON });
    else if (Array.isArray(sample) && sample.every((x) => typeof x === 'string')) features.push({ name: `${column}.length`, column, encoding: 'length' });
    else if (typeof sample === 'object') features.push({ name: `${column}.sum`, column, encoding: 'sum' });
    else skipped.push({ column, reason: typeof sample === 'string' ? 'a string' : `a ${typeof sample}` });
  }
  const d = features.length;
  const data = new Float64Array(rows.length * d);
  rows.forEach((r, i) => features.forEach((f, j) => (data[i * d + j] = encodeValue(r[f.column], f.encoding))));
  return { rows: rows.length, features, skipped, data, labels: Float64Array.from(rows, (r) => Number(r[label])), groups: rows.map((r) => String(r[group] ?? '')) };
}

/**
 * One value as the model reads it: what the training set's SQL encoding gives for the same value.
 * A histogram is an object (serving) or a list of { key, value } (a training set read back).
 */
export function encodeValue(v: unknown, encoding: RankerEncoding): number {
  if (encoding === 'number') {
    if (typeof v === 'number') return v;
    if (typeof v === 'boolean') return v ? 1 : 0;
    return NaN;
  }
  if (encoding === 'length') return Array.isArray(v) ? v.length : 0;
  if (v === null || v === undefined || typeof v !== 'object') return 0;
  let s = 0;
  for (const x of Array.isArray(v) ? v.map((e) => (e as { value?: unknown }).value) : Object.values(v)) if (typeof x === 'number') s += x;
  return s;
}

function createRanker(p: Omit<FeatureRanker, 'score' | 'toJSON'>): FeatureRanker {
  return Object.freeze({
    ...p,
    score: (row: ArrayLike<number>) => p.gbdt.predict(row, { raw: true }),
    toJSON: (): FeatureRankerJSON => ({
      format: 'recsignal-feature-ranker', version: 1, objective: p.objective, label: p.label, group: p.group,
      features: p.features, skipped: p.skipped, metrics: p.metrics, gbdt: p.gbdt.toJSON(),
    }),
  });
}

export function featureRankerFromJSON(json: FeatureRankerJSON): FeatureRanker {
  if (json === null || typeof json !== 'object' || json.format !== 'recsignal-feature-ranker' || json.version !== 1) {
    throw new RecsignalError('INVALID_INPUT', 'not a recsignal feature ranker (format recsignal-feature-ranker, version 1); train one with `recsignal train-ranker`');
  }
  const gbdt = gbdtModelFromJSON(json.gbdt);
  if (gbdt.numFeatures !== json.features.length) throw new RecsignalError('INVALID_INPUT', `the ranker lists ${json.features.length} features but its trees read ${gbdt.numFeatures}; the file is damaged: train it again`);
  return createRanker({ objective: json.objective, label: json.label, group: json.group, features: json.features, skipped: json.skipped, metrics: json.metrics, gbdt });
}

export function saveFeatureRanker(ranker: FeatureRanker, path: string): void {
  try {
    writeFileSync(path, `${JSON.stringify(ranker.toJSON())}\n`);
  } catch (cause) {
    throw new RecsignalError('IO_FAILED', `cannot write the model to '${path}' (${(cause as Error).message}); check the folder exists and is writable`, { cause });
  }
}

export function loadFeatureRanker(path: string): FeatureRanker {
  if (!existsSync(path)) throw new RecsignalError('NOT_FOUND', `model '${path}' does not exist; train one with \`recsignal train-ranker --training-set train.parquet --label label --out ${path}\``);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (cause) {
    throw new RecsignalError('INVALID_INPUT', `model '${path}' is not JSON (${(cause as Error).message}); train it again with \`recsignal train-ranker\``, { cause });
  }
  return featureRankerFromJSON(json as FeatureRankerJSON);
}

/** The features by total gain, most first: what a ranker learned to lean on. */
export function topFeaturesByGain(ranker: FeatureRanker, n: number): { name: string; gain: number; share: number }[] {
  const report = ranker.gbdt.importanceReport();
  const total = report.reduce((s, r) => s + r.gain, 0) || 1;
  return report.slice(0, n).filter((r) => r.gain > 0).map((r) => ({ name: r.name, gain: r.gain, share: r.gain / total }));
}
