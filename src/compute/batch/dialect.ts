/**
 * @module SQL dialect hooks: the few places where DuckDB, PostgreSQL and Spark SQL differ.
 * One generator (sql.ts and its strategies) renders every engine's query through these; there is
 * no per-engine template (Feast #3979 is what a forked template costs).
 */

export interface Dialect {
  readonly name: 'duckdb' | 'postgres' | 'spark';
  /**
   * The point-in-time strategy: true when window frames accept a per-row RANGE offset (DuckDB),
   * so scalar aggregations run as window functions over events and query rows together; false
   * when offsets must be constant (PostgreSQL, Spark), so every aggregation takes the range join.
   */
  readonly variableFrames: boolean;
  /**
   * Counts, sums and means come from running totals over one ordered relation of events and read
   * points (sql-windows.ts runningCte) instead of window frames or the range join: on for DuckDB, where it
   * was measured many times faster; PostgreSQL and Spark keep the range join.
   */
  readonly runningTotals: boolean;
  /**
   * `latestBefore` is a native ASOF join (DuckDB). Per-value running totals (histograms, top-k) are
   * then read at each query's t and window starts by ASOF joins on the events' totals; without one
   * (PostgreSQL, Spark: latestBefore pairs rows by row_number) the read points are sorted in with
   * the events instead.
   */
  readonly nativeAsof: boolean;
  /** Text compared byte by byte (ties in ordering must break the same way on every engine). */
  binaryText(expr: string): string;
  /** A quoted identifier. */
  ident(name: string): string;
  /** A literal value (string, number, boolean, null). */
  literal(value: string | number | boolean | null): string;
  /** floor(a / b) as an integer, exact for non-negative and negative a alike. */
  floorDiv(a: string, b: string): string;
  /** a / b in floating point. */
  fdiv(a: string, b: string): string;
  /** 2 ** x for a floating-point x. */
  pow2(x: string): string;
  /** value · 2 ** x (a decayed term), 0 where the product underflows. */
  scale2(value: string, x: string): string;
  /** The value of `value` on the row with the greatest (or least) `order` tuple among the filtered rows. */
  argBy(kind: 'max' | 'min', value: string, order: readonly string[], where: string): string;
  /**
   * argBy with the filter folded into CASE masks instead of a FILTER clause, for window functions
   * on engines where a FILTER clause makes them many times slower (DuckDB: 240 s against 14 s for a
   * running count over 10M events). Only dialects with variableFrames render window aggregates.
   */
  argByMasked?(kind: 'max' | 'min', value: string, order: readonly string[], where: string): string;
  /**
   * The `value`s of the `k` rows with the greatest (or least) `order` tuples, best first, as one
   * aggregate (DuckDB's max_by / min_by with a count). Without it, rows are ranked by row_number
   * and listed by `listAgg`, which on DuckDB is several times slower (a window and an ordered aggregate).
   */
  argByTop?(kind: 'max' | 'min', value: string, order: readonly string[], k: number): string;
  /** A list of `value` ordered by the ascending integer column `rank`, over the filtered rows. */
  listAgg(value: string, rank: string, where: string): string;
  /** A list of {key, weight} pairs, ordered by key. */
  pairsAgg(key: string, weight: string): string;
  /** An empty list literal, typed as a list of strings. */
  emptyList(): string;
  /** One row per element of a list column: the select expression. */
  explode(listColumn: string): string;
  /** An empty list of {key, weight} pairs. */
  emptyPairs(): string;
  /**
   * The point-in-time join: each row of `left` (aliased l) with the single latest row of `right`
   * (aliased r) whose time is strictly before l's; rows with no such row keep NULLs. r may carry
   * extra columns named `__*`: select the right row's columns by name. With `tie` (a text column of
   * right, compared byte by byte), right rows at the same time are ordered by it: the greatest wins.
   */
  latestBefore(left: string, right: string, keys: readonly string[], leftTime: string, rightTime: string, tie?: string): string;
  /** Type names. */
  /** Type names; `exact` is a decimal wide enough for running sums of weights (±1e20, 18 places). */
  readonly types: { readonly bigint: string; readonly double: string; readonly varchar: string; readonly exact: string; readonly doubles: string };
}

function quoteString(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

function literal(value: string | number | boolean | null): string {
  if (value === null) return 'NULL';
  if (typeof value === 'string') return quoteString(value);
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  if (!Number.isFinite(value)) throw new Error(`cannot render ${value} as SQL`);
  return Number.isInteger(value) ? String(value) : String(value);
}

/**
 * The point-in-time join without ASOF or LATERAL: pair each left row with the right rows before
 * it, number them newest first per left (keys, time), keep the first. Plain SQL for engines that
 * lack ASOF; `r` carries the right row's columns plus __lk<i>, __lt and __rn.
 */
function latestByRowNumber(left: string, right: string, keys: readonly string[], lt: string, rt: string, tie: string | undefined, binaryText: (expr: string) => string): string {
  const leftKeys = keys.map((k) => `l0.${k}`).join(', ');
  const pairs = [
    `SELECT r0.*, ${keys.map((k, i) => `l0.${k} AS __lk${i}`).join(', ')}, l0.${lt} AS __lt,`,
    `row_number() OVER (PARTITION BY ${leftKeys}, l0.${lt} ORDER BY r0.${rt} DESC${tie === undefined ? '' : `, ${binaryText(`r0.${tie}`)} DESC`}) AS __rn`,
    `FROM ${left} AS l0 JOIN ${right} AS r0 ON ${keys.map((k) => `r0.${k} = l0.${k}`).join(' AND ')} AND r0.${rt} < l0.${lt}`,
  ].join(' ');
  return `${left} AS l LEFT JOIN (SELECT * FROM (${pairs}) AS r1 WHERE __rn = 1) AS r ON ${keys.map((k, i) => `r.__lk${i} = l.${k}`).join(' AND ')} AND r.__lt = l.${lt}`;
}

/** PostgreSQL compares text by the database's collation unless told otherwise: "C" is byte order. */
const postgresText = (e: string) => `(${e}) COLLATE "C"`;
/** DuckDB and Spark compare text byte by byte already. */
const byteText = (e: string) => e;

const doubleQuoted = (name: string) => `"${name.replaceAll('"', '""')}"`;

export const duckdb: Dialect = {
  name: 'duckdb',
  ident: doubleQuoted,
  literal,
  floorDiv: (a, b) => `CAST(floor(CAST(${a} AS DOUBLE) / ${b}) AS BIGINT)`,
  fdiv: (a, b) => `(CAST(${a} AS DOUBLE) / ${b})`,
  pow2: (x) => `pow(2.0, ${x})`,
  scale2: (value, x) => `${value} * pow(2.0, ${x})`,
  argBy: (kind, value, order, where) => `arg_${kind}(${value}, ${order.length === 1 ? order[0] : `(${order.join(', ')})`})${where === 'TRUE' ? '' : ` FILTER (WHERE ${where})`}`,
  // arg_min / arg_max skip rows whose ordering value is NULL, so masking both drops the filtered rows.
  argByMasked: (kind, value, order, where) => `arg_${kind}(CASE WHEN ${where} THEN ${value} END, CASE WHEN ${where} THEN ${order.length === 1 ? order[0] : `(${order.join(', ')})`} END)`,
  listAgg: (value, rank, where) => `list(${value} ORDER BY ${rank}) FILTER (WHERE ${where})`,
  argByTop: (kind, value, order, k) => `${kind}_by(${value}, ${order.length === 1 ? order[0] : `(${order.join(', ')})`}, ${k})`,
  // Sorting the finished list (by key: keys are distinct) is ~10x faster than an ordered aggregate.
  pairsAgg: (key, weight) => `list_sort(list({'key': ${key}, 'weight': ${weight}}))`,
  emptyList: () => `CAST([] AS VARCHAR[])`,
  explode: (col) => `unnest(${col})`,
  emptyPairs: () => `CAST([] AS STRUCT("key" VARCHAR, weight DOUBLE)[])`,
  // A tie compares (time, text) structs; '' is below every text, so the inequality keeps r's time < l's.
  latestBefore: (left, right, keys, lt, rt, tie) =>
    `${left} AS l ASOF LEFT JOIN ${right} AS r ON ${keys.map((k) => `l.${k} = r.${k}`).join(' AND ')} AND ${tie === undefined ? `l.${lt} > r.${rt}` : `{'t': l.${lt}, 'k': ''} > {'t': r.${rt}, 'k': r.${tie}}`}`,
  types: { bigint: 'BIGINT', double: 'DOUBLE', varchar: 'VARCHAR', exact: 'DECIMAL(38, 18)', doubles: 'DOUBLE[]' },
  variableFrames: true,
  runningTotals: true,
  nativeAsof: true,
  binaryText: byteText,
};

export const postgres: Dialect = {
  name: 'postgres',
  ident: doubleQuoted,
  literal,
  floorDiv: (a, b) => `CAST(floor(CAST(${a} AS DOUBLE PRECISION) / ${b}) AS BIGINT)`,
  fdiv: (a, b) => `(CAST(${a} AS DOUBLE PRECISION) / ${b})`,
  // PostgreSQL's power() raises 'value out of range: underflow' where the result rounds to 0
  // (a decay over years); below 2^-1075 the IEEE result is 0, so give that without calling it.
  pow2: (x) => `CASE WHEN ${x} > -1075 THEN power(2.0::double precision, ${x}) ELSE 0.0::double precision END`,
  // The product raises the same error where it rounds to 0 from two non-zero factors (0.5 · 2^-1074.5):
  // 0 below 2^-1070 (rounding in the logarithm kept clear of the edge; DuckDB gives a subnormal there,
  // below 1e-321, which every comparison of values takes as equal).
  scale2: (value, x) =>
    `CASE WHEN ${value} = 0 OR ${x} + ln(abs(CAST(${value} AS DOUBLE PRECISION))) / ln(2.0) <= -1070 THEN 0.0::double precision ELSE ${value} * power(2.0::double precision, ${x}) END`,
  argBy: (kind, value, order, where) =>
    `(array_agg(${value} ORDER BY ${order.map((o) => `${o} ${kind === 'max' ? 'DESC' : 'ASC'}`).join(', ')}) FILTER (WHERE ${where}))[1]`,
  listAgg: (value, rank, where) => `array_agg(${value} ORDER BY ${rank}) FILTER (WHERE ${where})`,
  pairsAgg: (key, weight) => `json_agg(json_build_object('key', ${key}, 'weight', ${weight}) ORDER BY ${key})`,
  emptyList: () => `CAST(ARRAY[] AS VARCHAR[])`,
  explode: (col) => `unnest(${col})`,
  emptyPairs: () => `CAST('[]' AS JSON)`,
  // Not LATERAL ... ORDER BY ... LIMIT 1: PostgreSQL inlines the right CTE into the lateral
  // subquery and recomputes its window functions for every left row (20k events, 2k queries:
  // 260 s against 0.3 s for this join).
  latestBefore: (left, right, keys, lt, rt, tie) => latestByRowNumber(left, right, keys, lt, rt, tie, postgresText),
  types: { bigint: 'BIGINT', double: 'DOUBLE PRECISION', varchar: 'VARCHAR', exact: 'NUMERIC(38, 18)', doubles: 'DOUBLE PRECISION[]' },
  variableFrames: false,
  runningTotals: false,
  nativeAsof: false,
  binaryText: postgresText,
};

/** Spark SQL / Databricks text: rendered and golden-tested, not run here (no Spark on this machine). */
export const spark: Dialect = {
  name: 'spark',
  ident: (name) => `\`${name.replaceAll('`', '``')}\``,
  // Spark reads a backslash in a string literal as an escape, and 'a''b' as two adjacent
  // literals ('ab'): escape both with a backslash instead of doubling the quote.
  literal: (value) => (typeof value === 'string' ? `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'` : literal(value)),
  floorDiv: (a, b) => `CAST(floor(CAST(${a} AS DOUBLE) / ${b}) AS BIGINT)`,
  fdiv: (a, b) => `(CAST(${a} AS DOUBLE) / ${b})`,
  pow2: (x) => `pow(2.0, ${x})`,
  scale2: (value, x) => `${value} * pow(2.0, ${x})`,
  argBy: (kind, value, order, where) => `${kind}_by(${value}, ${order.length === 1 ? order[0] : `struct(${order.join(', ')})`}) FILTER (WHERE ${where})`,
  listAgg: (value, rank, where) => `transform(array_sort(collect_list(struct(${rank} AS o, ${value} AS v)) FILTER (WHERE ${where})), x -> x.v)`,
  pairsAgg: (key, weight) => `array_sort(collect_list(named_struct('key', ${key}, 'weight', ${weight})))`,
  emptyList: () => `CAST(array() AS ARRAY<STRING>)`,
  explode: (col) => `explode(${col})`,
  emptyPairs: () => `CAST(array() AS ARRAY<STRUCT<key: STRING, weight: DOUBLE>>)`,
  // Spark 3.4 and 3.5 reject ORDER BY / LIMIT in a correlated LATERAL subquery (SPARK-36191
  // lifts that in 4.0); the row_number join runs on every 3.x.
  latestBefore: (left, right, keys, lt, rt, tie) => latestByRowNumber(left, right, keys, lt, rt, tie, byteText),
  types: { bigint: 'BIGINT', double: 'DOUBLE', varchar: 'STRING', exact: 'DECIMAL(38, 18)', doubles: 'ARRAY<DOUBLE>' },
  variableFrames: false,
  runningTotals: false,
  nativeAsof: false,
  binaryText: byteText,
};

export const DIALECTS = { duckdb, postgres, spark } as const;
