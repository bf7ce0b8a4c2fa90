/**
 * @module The correctness check of the baseline: two result files (recsignal's and the hand-written
 * SQL's) compared cell by cell, rows paired by position or by key columns. Numbers agree within a
 * relative 1e-9 (decayed sums are computed along different paths); lists must be equal in order;
 * histograms must have the same keys and weights within the same tolerance.
 */
import { DuckDBEngine, sqlString } from '../src/store/offline/duckdb-engine.ts';

export interface ColumnDiff {
  readonly column: string;
  readonly mismatches: number;
  /** The largest absolute difference seen in a numeric or histogram column. */
  readonly maxAbsDiff: number | null;
  /** One differing row, for the report. */
  readonly example: string | null;
}

export interface Comparison {
  readonly rowsA: number;
  readonly rowsB: number;
  /** Rows of one side with no partner on the other. */
  readonly unpaired: number;
  readonly columnsCompared: number;
  readonly onlyInA: readonly string[];
  readonly onlyInB: readonly string[];
  /** Columns with at least one mismatch. */
  readonly mismatched: readonly ColumnDiff[];
}

const TOL = 1e-9;
const NUMERIC = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|FLOAT|DOUBLE|DECIMAL.*)$/;

/**
 * Compares `a` with `b` (Parquet files); `keys` pairs rows by those columns, else by row position.
 * With `aInB`, `a` is a sample of `b`'s rows and only `a`'s rows must find a partner.
 */
export async function compareResults(a: string, b: string, keys: readonly string[] | null, options: { aInB?: boolean; skip?: readonly string[] } = {}): Promise<Comparison> {
  const skip = options.skip ?? [];
  const engine = await DuckDBEngine.open();
  try {
    await engine.run(`CREATE TEMP TABLE a AS SELECT file_row_number AS __pos, * EXCLUDE (file_row_number) FROM read_parquet(${sqlString(a)}, file_row_number = true)`);
    await engine.run(`CREATE TEMP TABLE b AS SELECT file_row_number AS __pos, * EXCLUDE (file_row_number) FROM read_parquet(${sqlString(b)}, file_row_number = true)`);
    const describe = async (t: string) => new Map((await engine.query(`SELECT column_name, column_type FROM (DESCRIBE ${t})`)).map((r) => [String(r['column_name']), String(r['column_type'])]));
    const ca = await describe('a');
    const cb = await describe('b');
    const pairOn = keys === null ? ['__pos'] : keys;
    const columns = [...ca.keys()].filter((c) => c !== '__pos' && cb.has(c) && !pairOn.includes(c) && !skip.includes(c));
    const count = async (sql: string) => Number((await engine.query(sql))[0]?.['n'] ?? 0);
    const rowsA = await count('SELECT count(*) AS n FROM a');
    const rowsB = await count('SELECT count(*) AS n FROM b');
    const on = pairOn.map((k) => `a.${q(k)} IS NOT DISTINCT FROM b.${q(k)}`).join(' AND ');
    await engine.run(`CREATE TEMP TABLE pairs AS SELECT ${pairOn.map((k) => `a.${q(k)} AS ${q(`k_${k}`)}`).join(', ')}, ${columns.map((c, i) => `a.${q(c)} AS a${i}, b.${q(c)} AS b${i}`).join(', ')} FROM a JOIN b ON ${on}`);
    const paired = await count('SELECT count(*) AS n FROM pairs');
    const mismatched: ColumnDiff[] = [];
    for (const [i, c] of columns.entries()) {
      const ta = ca.get(c) as string;
      const tb = cb.get(c) as string;
      const [same, diff] = cellRule(`a${i}`, `b${i}`, ta, tb);
      const r = (await engine.query(`SELECT count(*) FILTER (WHERE NOT (${same})) AS n, max(${diff}) AS d FROM pairs`))[0] ?? {};
      const n = Number(r['n'] ?? 0);
      if (n === 0) continue;
      const ex = (await engine.query(`SELECT ${pairOn.map((k) => `CAST(${q(`k_${k}`)} AS VARCHAR) AS ${q(k)}`).join(', ')}, CAST(a${i} AS VARCHAR) AS a, CAST(b${i} AS VARCHAR) AS b FROM pairs WHERE NOT (${same}) LIMIT 1`))[0];
      const d = r['d'];
      mismatched.push({ column: c, mismatches: n, maxAbsDiff: typeof d === 'number' ? d : null, example: ex ? JSON.stringify(ex) : null });
    }
    return {
      rowsA,
      rowsB,
      unpaired: options.aInB ? rowsA - paired : rowsA + rowsB - 2 * paired,
      columnsCompared: columns.length,
      onlyInA: [...ca.keys()].filter((c) => c !== '__pos' && !cb.has(c)),
      onlyInB: [...cb.keys()].filter((c) => c !== '__pos' && !ca.has(c)),
      mismatched,
    };
  } finally {
    engine.close();
  }
}

/** [condition that two cells agree, expression of their difference (NULL when not numeric)]. */
function cellRule(x: string, y: string, tx: string, ty: string): [string, string] {
  if (NUMERIC.test(tx) && NUMERIC.test(ty)) {
    const d = `abs(CAST(${x} AS DOUBLE) - CAST(${y} AS DOUBLE))`;
    return [`(${x} IS NULL AND ${y} IS NULL) OR coalesce(${d} <= ${TOL} * greatest(1, abs(CAST(${x} AS DOUBLE)), abs(CAST(${y} AS DOUBLE))), FALSE)`, d];
  }
  if (tx.startsWith('MAP') && ty.startsWith('MAP')) {
    const d = `list_max(list_transform(map_keys(${x}), k -> abs(CAST(${x}[k] AS DOUBLE) - CAST(${y}[k] AS DOUBLE))))`;
    return [`(${x} IS NULL AND ${y} IS NULL) OR coalesce(list_sort(map_keys(${x})) = list_sort(map_keys(${y})) AND coalesce(${d}, 0) <= ${TOL} * greatest(1, coalesce(list_max(list_transform(map_values(${x}), v -> abs(v))), 0)), FALSE)`, d];
  }
  return [`${x} IS NOT DISTINCT FROM ${y}`, 'NULL'];
}

function q(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}
