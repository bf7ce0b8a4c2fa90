/**
 * @module The CSV reader: RFC 4180 with a header row, streamed from the file. Columns go through
 * `--map`, then to their wire field; `context.<key>` columns and every other column go into
 * `context` (as text: CSV has no types), and a `context` column may hold a JSON object. An empty
 * cell is absent; `ts`, `value` and `duration` cells that are numbers become numbers.
 */
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { RecsignalError } from '../../core/errors.ts';
import { firstInvalidUtf8, hexByte } from '../../core/utf8.ts';
import { assembleWire, planColumns, type ColumnMap, type ColumnTarget } from './columns.ts';
import { CsvParser, type CsvRow } from './csv-parser.ts';
import { checkInput, NOT_UTF8_FIX } from './lines.ts';
import { positionOf, problemRecord, type RawRecord } from './raw-record.ts';

export interface CsvReaderOptions {
  readonly map?: ColumnMap | undefined;
  /** Cell separator; default `,`. */
  readonly delimiter?: string | undefined;
}

const QUOTING_FIX = 'quote a cell that holds the delimiter, a quote or a line break ("a, b"), and write a quote inside a quoted cell as ""';

export async function* readCsv(path: string, options: CsvReaderOptions = {}): AsyncGenerator<RawRecord> {
  await checkInput(path, 'file', 'give the path of a CSV file with a header row');
  const parser = new CsvParser(options.delimiter ?? ',');
  const name = basename(path);
  let header: string[] | undefined;
  let plan: ColumnTarget[] = [];

  const toRecord = (row: CsvRow): RawRecord | undefined => {
    if (header === undefined) {
      if (row.errors.length > 0) {
        throw new RecsignalError('INVALID_INPUT', `${name}:${row.line}: the header row is malformed (${row.errors.join('; ')}); ${QUOTING_FIX}`);
      }
      header = row.cells.map((c) => c.trim());
      checkHeader(header, name, row.line);
      plan = planColumns(header, options.map ?? {}, name);
      return undefined;
    }
    const position = positionOf(path, row.line);
    if (row.errors.length > 0) {
      return problemRecord(position, row.errors.map((message) => ({ path: 'row', message, fix: QUOTING_FIX })), row.text);
    }
    if (row.cells.length !== header.length) {
      return problemRecord(
        position,
        [{ path: 'row', message: `has ${row.cells.length} cells but the header has ${header.length} columns`, fix: `give every row one cell per header column (${header.join(',')}); ${QUOTING_FIX}` }],
        row.text,
      );
    }
    return { position, raw: assembleWire(plan, row.cells.map((c) => (c === '' ? undefined : c))) };
  };

  // Streamed chunk by chunk: memory stays at one chunk plus the rows it completes. Decoded strictly:
  // bytes that are not UTF-8 would be replaced by U+FFFD, merging ids that differ only there. A row
  // can span lines (quoted line breaks), so such a file is refused whole, naming the line.
  const stream = createReadStream(path, { highWaterMark: 64 * 1024 });
  // ignoreBOM keeps a byte-order mark as text, for the parser to drop as before.
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  let linesBefore = 0;
  const decode = (bytes: Buffer, last: boolean): string => {
    try {
      return decoder.decode(bytes, { stream: !last });
    } catch (cause) {
      // A chunk may start inside a character the previous one began: those bytes are not the culprit.
      let from = 0;
      while (from < 3 && from < bytes.length && ((bytes[from] as number) & 0xc0) === 0x80) from++;
      const at = Math.max(from, from + firstInvalidUtf8(bytes.subarray(from)));
      let line = linesBefore + 1;
      for (let i = 0; i < at; i++) if (bytes[i] === 0x0a) line++;
      throw new RecsignalError('INVALID_INPUT', `${basename(path)}:${line}: the file is not UTF-8 (byte ${hexByte(bytes[at] ?? 0)}); nothing was ingested; ${NOT_UTF8_FIX}`, { cause });
    }
  };
  try {
    for await (const bytes of stream as AsyncIterable<Buffer>) {
      const chunk = decode(bytes, false);
      for (let i = bytes.indexOf(0x0a); i >= 0; i = bytes.indexOf(0x0a, i + 1)) linesBefore++;
      for (const row of parser.push(chunk)) {
        const r = toRecord(row);
        if (r !== undefined) yield r;
      }
    }
  } catch (cause) {
    if (cause instanceof RecsignalError) throw cause;
    throw new RecsignalError('IO_FAILED', `${path}: reading failed (${(cause as Error).message})`, { cause });
  } finally {
    stream.destroy();
  }
  const tail = decode(Buffer.alloc(0), true);
  if (tail !== '') for (const row of parser.push(tail)) {
    const r = toRecord(row);
    if (r !== undefined) yield r;
  }
  for (const row of parser.end()) {
    const r = toRecord(row);
    if (r !== undefined) yield r;
  }
  if (header === undefined) {
    throw new RecsignalError('INVALID_INPUT', `${path} is empty; a CSV needs a header row naming its columns, e.g. event_id,user_id,item_id,ts,type`);
  }
}

function checkHeader(header: readonly string[], name: string, line: number): void {
  const seen = new Set<string>();
  header.forEach((c, i) => {
    if (c === '') {
      throw new RecsignalError('INVALID_INPUT', `${name}:${line}: header column ${i + 1} has no name; name every column (a trailing delimiter makes an empty one)`);
    }
    if (seen.has(c)) throw new RecsignalError('INVALID_INPUT', `${name}:${line}: the header names column '${c}' twice; rename one of them`);
    seen.add(c);
  });
}
