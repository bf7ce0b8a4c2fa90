/**
 * @module How the columns of a table input (CSV, Parquet) become the wire shape: `--map` renames
 * first, then a column named after a wire field goes to that field, `context.<key>` and every other
 * column go into `context`, and a `context` column holding an object (or its JSON text) is merged
 * into it.
 */
import { RecsignalError } from '../../core/errors.ts';

/** The top-level fields of the wire shape, besides `context`. */
export const WIRE_FIELDS = ['event_id', 'user_id', 'item_id', 'ts', 'type', 'value', 'duration'] as const;
export type WireField = (typeof WIRE_FIELDS)[number];

/** `--map source_col=field`: source column (or top-level JSON key) → wire field or `context.<key>`. */
export type ColumnMap = Readonly<Record<string, string>>;

export type ColumnTarget =
  | { readonly kind: 'field'; readonly field: WireField }
  | { readonly kind: 'context'; readonly key: string }
  | { readonly kind: 'context-object' };

const ID_FIELDS: ReadonlySet<string> = new Set(['event_id', 'user_id', 'item_id']);
const NUMBER_FIELDS: ReadonlySet<string> = new Set(['ts', 'value', 'duration']);
const NUMERIC = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const TARGETS_HINT = `${WIRE_FIELDS.join(', ')}, context or context.<key>`;

/** The wire place a column name (or a `--map` target) denotes; undefined when it is none. */
export function parseTarget(name: string): ColumnTarget | undefined {
  if ((WIRE_FIELDS as readonly string[]).includes(name)) return { kind: 'field', field: name as WireField };
  if (name === 'context') return { kind: 'context-object' };
  if (name.startsWith('context.') && name.length > 'context.'.length) return { kind: 'context', key: name.slice('context.'.length) };
  return undefined;
}

/** Throws INVALID_ARGUMENT when a map target is not a wire field or context key, or a source is not in `available`. */
export function checkMap(map: ColumnMap, available: readonly string[], where: string): void {
  for (const [source, target] of Object.entries(map)) {
    if (parseTarget(target) === undefined) {
      throw new RecsignalError('INVALID_ARGUMENT', `--map ${source}=${target}: '${target}' is not an event field; map to one of ${TARGETS_HINT}`);
    }
  }
  const have = new Set(available);
  const missing = Object.keys(map).filter((source) => !have.has(source));
  if (missing.length > 0) {
    const names = missing.map((m) => `'${m}'`).join(', ');
    throw new RecsignalError(
      'INVALID_ARGUMENT',
      `--map names ${missing.length === 1 ? 'a column' : 'columns'} ${names} that ${where} does not have; available: ${available.join(', ') || '(none)'}. Fix the --map source name (names are case-sensitive)`,
    );
  }
}

function targetKey(t: ColumnTarget): string {
  return t.kind === 'field' ? t.field : t.kind === 'context' ? `context.${t.key}` : 'context';
}

/**
 * The target of each column, in order. Throws when a map is wrong (INVALID_ARGUMENT) or when two
 * columns would land in the same place (INVALID_ARGUMENT if a mapped column is involved, else
 * INVALID_INPUT), and when no column is an event field (the usual sign of a missing header row).
 */
export function planColumns(columns: readonly string[], map: ColumnMap, where: string): ColumnTarget[] {
  checkMap(map, columns, where);
  const plan = columns.map((c): ColumnTarget => parseTarget(Object.hasOwn(map, c) ? (map[c] as string) : c) ?? { kind: 'context', key: c });
  const seen = new Map<string, string>();
  plan.forEach((t, i) => {
    const column = columns[i] as string;
    const key = targetKey(t);
    const other = seen.get(key);
    if (other === undefined) {
      seen.set(key, column);
      return;
    }
    const mapped = Object.hasOwn(map, column) || Object.hasOwn(map, other);
    throw new RecsignalError(
      mapped ? 'INVALID_ARGUMENT' : 'INVALID_INPUT',
      `${where}: columns '${other}' and '${column}' would both become ${key}; ${mapped ? 'map only one of them there' : 'rename or drop one of them, or --map one elsewhere'}`,
    );
  });
  if (!plan.some((t) => t.kind === 'field' && t.field !== 'value' && t.field !== 'duration' && t.field !== 'item_id')) {
    throw new RecsignalError(
      'INVALID_INPUT',
      `${where}: no column is an event field (columns: ${columns.join(', ')}); the first row must be a header naming event_id, user_id, item_id, ts and type, or map your names with --map source_col=field`,
    );
  }
  return plan;
}

/**
 * One row as a wire-shape object. `undefined` and `null` cells are absent. Ids given as numbers
 * become their decimal text (a typed file's integer ids are ids, not quantities); `ts`, `value` and
 * `duration` become numbers when they are numeric text, a bigint or a Date (ts), and otherwise stay
 * as they are so that validation names the bad value. Context values: bigint → number, Date → ISO.
 */
export function assembleWire(plan: readonly ColumnTarget[], values: readonly unknown[]): Record<string, unknown> {
  const wire: Record<string, unknown> = {};
  let context: Record<string, unknown> | undefined;
  let badContext: unknown;
  // The context object first, so that explicit context.<key> columns override its keys.
  plan.forEach((t, i) => {
    const v = values[i];
    if (t.kind !== 'context-object' || v === undefined || v === null) return;
    const obj = contextObject(v);
    if (obj === undefined) badContext = v;
    else context = { ...context, ...obj };
  });
  plan.forEach((t, i) => {
    const v = values[i];
    if (v === undefined || v === null) return;
    if (t.kind === 'field') wire[t.field] = fieldValue(t.field, v);
    else if (t.kind === 'context') (context ??= {})[t.key] = contextValue(v);
  });
  if (badContext !== undefined) wire['context'] = badContext;
  else if (context !== undefined) wire['context'] = context;
  return wire;
}

function fieldValue(field: WireField, v: unknown): unknown {
  if (ID_FIELDS.has(field)) {
    if (typeof v === 'bigint' || (typeof v === 'number' && Number.isFinite(v))) return String(v);
    return v;
  }
  if (NUMBER_FIELDS.has(field)) {
    if (typeof v === 'bigint') return Number(v);
    if (typeof v === 'string' && NUMERIC.test(v.trim())) return Number(v);
    if (field === 'ts' && v instanceof Date) return v.getTime();
  }
  return v;
}

function contextValue(v: unknown): unknown {
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? String(v) : v.toISOString();
  return v;
}

/** A context given as an object, a DuckDB MAP (`[{ key, value }]`) or JSON object text; undefined when it is none of these. */
function contextObject(v: unknown): Record<string, unknown> | undefined {
  let obj = v;
  if (typeof v === 'string') {
    if (!v.trim().startsWith('{')) return undefined;
    try {
      obj = JSON.parse(v);
    } catch {
      return undefined;
    }
  }
  if (Array.isArray(obj) && obj.every((e) => e !== null && typeof e === 'object' && 'key' in e && 'value' in e)) {
    return Object.fromEntries(obj.map((e: { key: unknown; value: unknown }) => [String(e.key), contextValue(e.value)]));
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj) || obj instanceof Date) return undefined;
  return Object.fromEntries(Object.entries(obj).map(([k, x]) => [k, contextValue(x)]));
}
