/** @module The input readers of `recsignal ingest`: pick one by format; each yields one RawRecord per input line or row. */
import { RecsignalError } from '../../core/errors.ts';
import type { ColumnMap } from './columns.ts';
import { readCsv } from './csv.ts';
import { readJsonl } from './jsonl.ts';
import { readMovieLens } from './movielens.ts';
import { readParquet } from './parquet.ts';
import type { RawRecord } from './raw-record.ts';

export type { RawRecord } from './raw-record.ts';
export { isProblemRecord, MAX_TEXT_CHARS } from './raw-record.ts';
export type { ColumnMap } from './columns.ts';
export { readCsv, type CsvReaderOptions } from './csv.ts';
export { readJsonl, type JsonlReaderOptions } from './jsonl.ts';
export { readParquet, type ParquetReaderOptions } from './parquet.ts';
export { readMovieLens, readMovieLensMetadata } from './movielens.ts';
export { readItemsFile, readUsersFile } from './metadata.ts';

export const INPUT_FORMATS = ['movielens', 'csv', 'jsonl', 'parquet'] as const;
export type InputFormat = (typeof INPUT_FORMATS)[number];

export function isInputFormat(s: string): s is InputFormat {
  return (INPUT_FORMATS as readonly string[]).includes(s);
}

export interface OpenReaderOptions {
  readonly format: InputFormat;
  /** `--map source_col=field`: source column → wire field or `context.<key>`. */
  readonly map?: ColumnMap | undefined;
}

/**
 * The records of an input. Errors that concern the whole input (a missing file, a `--map` naming a
 * column the input lacks, a missing header) are thrown when iteration starts; a bad line or row is
 * a problems record, never an exception.
 */
export function openReader(path: string, options: OpenReaderOptions): AsyncIterable<RawRecord> {
  const map = options.map ?? {};
  switch (options.format) {
    case 'csv':
      return readCsv(path, { map });
    case 'jsonl':
      return readJsonl(path, { map });
    case 'parquet':
      return readParquet(path, { map });
    case 'movielens':
      if (Object.keys(map).length > 0) {
        throw new RecsignalError('INVALID_ARGUMENT', '--map does not apply to --format movielens: its columns are fixed; drop --map');
      }
      return readMovieLens(path);
    default:
      throw new RecsignalError('INVALID_ARGUMENT', `unknown input format '${String(options.format)}'; use one of ${INPUT_FORMATS.join(', ')}`);
  }
}
