/**
 * @module An incremental RFC 4180 parser: push text chunks, get complete rows with the line each
 * starts on. Our own rather than a library because the reader must stream in constant memory,
 * report the 1-based line of each row (a quoted cell may span lines) and keep the original text of
 * a bad row; RFC 4180 is small enough that a dependency buys nothing.
 *
 * Lenient where it is harmless: LF, CRLF and lone CR all end a row; CRLF inside a quoted cell
 * becomes LF, so that a file reads the same whatever its line endings; a quote inside an unquoted
 * cell is kept as text. Text after a closing quote, and a quote never closed, are reported.
 */
import { MAX_TEXT_CHARS } from './raw-record.ts';

export interface CsvRow {
  /** The 1-based line the row starts on. */
  readonly line: number;
  readonly cells: string[];
  /** The row's original text without its line ending, at most MAX_TEXT_CHARS long. */
  readonly text: string;
  /** Quoting errors; empty when the row parsed cleanly. */
  readonly errors: string[];
}

// Parser states (plain constants rather than an enum, so the file needs no TS-only emit).
const CELL_START = 0;
const UNQUOTED = 1;
const QUOTED = 2;
/** Just read a `"` inside a quoted cell: an escaped quote or the closing one. */
const QUOTE_IN_QUOTED = 3;
type State = typeof CELL_START | typeof UNQUOTED | typeof QUOTED | typeof QUOTE_IN_QUOTED;

/** How much of an open row is kept to read again when its quote never closes: past it, the rest of the file stays one rejected row. */
const MAX_OPEN_ROW_CHARS = 16 * 1024 * 1024;

export class CsvParser {
  private state: State = CELL_START;
  private cells: string[] = [];
  private cell = '';
  private line = 1;
  private rowLine = 1;
  /** The open row's text, kept whole up to MAX_OPEN_ROW_CHARS (to read a never-closed quote's lines again); rows carry at most MAX_TEXT_CHARS. */
  private text = '';
  /** The open row's text passed MAX_OPEN_ROW_CHARS. */
  private cut = false;
  private errors: string[] = [];
  /** The row holds something besides its line ending (blank lines are skipped). */
  private touched = false;
  /** A CR ended the last row: a following LF belongs to it. */
  private skipLf = false;
  /** A CR inside quotes waits to see whether an LF follows. */
  private crInQuotes = false;
  private first = true;
  private readonly delimiter: string;

  constructor(delimiter = ',') {
    this.delimiter = delimiter;
  }

  push(chunk: string): CsvRow[] {
    const rows: CsvRow[] = [];
    let start = 0;
    if (this.first && chunk.length > 0) {
      this.first = false;
      if (chunk.charCodeAt(0) === 0xfeff) start = 1;
    }
    let textStart = start;
    for (let i = start; i < chunk.length; i++) {
      const c = chunk[i] as string;
      if (this.skipLf) {
        this.skipLf = false;
        if (c === '\n') {
          textStart = i + 1;
          continue;
        }
      }
      if (this.crInQuotes) {
        this.crInQuotes = false;
        if (c === '\n') {
          this.cell += '\n';
          this.line += 1;
          continue;
        }
        this.cell += '\r';
        this.line += 1;
      }
      switch (this.state) {
        case QUOTED:
          if (c === '"') this.state = QUOTE_IN_QUOTED;
          else if (c === '\r') this.crInQuotes = true;
          else {
            if (c === '\n') this.line += 1;
            this.cell += c;
          }
          continue;
        case QUOTE_IN_QUOTED:
          if (c === '"') {
            this.cell += '"';
            this.state = QUOTED;
            continue;
          }
          if (c !== this.delimiter && c !== '\n' && c !== '\r') {
            this.errors.push(`cell ${this.cells.length + 1}: text after the closing quote`);
            this.cell += c;
            this.state = UNQUOTED;
            continue;
          }
          break;
        case CELL_START:
          if (c === '"') {
            this.state = QUOTED;
            this.touched = true;
            continue;
          }
          break;
        case UNQUOTED:
          break;
      }
      // Outside quotes.
      if (c === this.delimiter) {
        this.touched = true;
        this.cells.push(this.cell);
        this.cell = '';
        this.state = CELL_START;
      } else if (c === '\n' || c === '\r') {
        this.appendText(chunk.slice(textStart, i));
        textStart = i + 1;
        const row = this.endRow();
        if (row !== undefined) rows.push(row);
        this.skipLf = c === '\r';
      } else {
        this.touched = true;
        this.cell += c;
        this.state = UNQUOTED;
      }
    }
    this.appendText(chunk.slice(textStart));
    return rows;
  }

  /**
   * The last row when the input does not end with a line break. A quote never closed would make
   * the rest of the file one row: its first line is rejected alone, and the lines after it are
   * read again (when the open row's text was kept whole, up to MAX_OPEN_ROW_CHARS).
   */
  end(): CsvRow[] {
    if (this.crInQuotes) {
      this.crInQuotes = false;
      this.cell += '\r';
    }
    if (this.state === QUOTED) {
      const eol = /\r\n|\r|\n/.exec(this.text);
      if (eol !== null && !this.cut) {
        const line = this.text.slice(0, eol.index);
        const bad: CsvRow = { line: this.rowLine, cells: [...this.cells, this.cell.split(/\r\n|\r|\n/)[0] as string], text: line, errors: [...this.errors, `a quoted cell opened on line ${this.rowLine} is never closed; the line is rejected and the lines after it are read on their own`] };
        const again = new CsvParser(this.delimiter);
        again.first = false;
        again.line = again.rowLine = this.rowLine + 1;
        return [bad, ...again.push(this.text.slice(eol.index + eol[0].length)), ...again.end()];
      }
      this.errors.push(`a quoted cell opened on line ${this.rowLine} is never closed (the file ends inside quotes)`);
    }
    const row = this.endRow();
    return row === undefined ? [] : [row];
  }

  private appendText(s: string): void {
    if (s.length === 0) return;
    if (this.text.length + s.length > MAX_OPEN_ROW_CHARS) this.cut = true;
    if (this.text.length < MAX_OPEN_ROW_CHARS) this.text += s.slice(0, MAX_OPEN_ROW_CHARS - this.text.length);
  }

  private endRow(): CsvRow | undefined {
    let row: CsvRow | undefined;
    if (this.touched || this.cell !== '') {
      this.cells.push(this.cell);
      row = { line: this.rowLine, cells: this.cells, text: this.text.length > MAX_TEXT_CHARS ? this.text.slice(0, MAX_TEXT_CHARS) : this.text, errors: this.errors };
    }
    this.cells = [];
    this.cell = '';
    this.text = '';
    this.cut = false;
    this.errors = [];
    this.touched = false;
    this.state = CELL_START;
    this.line += 1;
    this.rowLine = this.line;
    return row;
  }
}
