/**
 * @module The Parquet reader: DuckDB's `read_parquet`, streamed one chunk (2048 rows) at a time.
 * Columns map to the wire shape as in CSV (see columns.ts); BIGINT comes back as bigint and becomes
 * a number, integer ids become their text, TIMESTAMP `ts` becomes milliseconds (a TIMESTAMP without zone is taken as UTC), and a `context`
 * column may be a STRUCT, a MAP or JSON text.
 */
import { basename } from 'node:path';
import { DuckDBInstance, JSDuckDBValueConverter } from '@duckdb/node-api';
import { RecsignalError } from '../../core/errors.ts';
import { globLiteral } from '../../core/glob-literal.ts';
import { assembleWire, planColumns, type ColumnMap } from './columns.ts';
import { checkInput } from './lines.ts';
import { positionOf, type RawRecord } from './raw-record.ts';

export interface ParquetReaderOptions {
  readonly map?: ColumnMap | undefined;
}

const SQL = 'SELECT * FROM read_parquet($1)';

export async function* readParquet(path: string, options: ParquetReaderOptions = {}): AsyncGenerator<RawRecord> {
  await checkInput(path, 'file', 'give the path of a Parquet file');
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    const result = await query(() => connection.stream(SQL, [globLiteral(path)]), path);
    const plan = planColumns(result.columnNames(), options.map ?? {}, basename(path));
    let row = 0;
    for (;;) {
      const chunk = await query(() => result.fetchChunk(), path);
      if (chunk === null || chunk.rowCount === 0) break;
      for (const values of chunk.convertRows(JSDuckDBValueConverter)) {
        row += 1;
        yield { position: positionOf(path, `row ${row}`), raw: assembleWire(plan, values) };
      }
    }
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

async function query<T>(run: () => Promise<T>, path: string): Promise<T> {
  try {
    return await run();
  } catch (cause) {
    throw new RecsignalError('INVALID_INPUT', `${path}: DuckDB could not read it as Parquet (${(cause as Error).message}); check that it is a Parquet file`, { cause, sql: SQL });
  }
}
