/** @module Opening input files: existence checks with errors that say what to give, and line streaming. */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { RecsignalError } from '../../core/errors.ts';
import { decodeUtf8 } from '../../core/utf8.ts';

/** Throws NOT_FOUND / INVALID_ARGUMENT unless `path` is a readable file (or folder). */
export async function checkInput(path: string, kind: 'file' | 'folder', fix: string): Promise<void> {
  let isFile: boolean;
  try {
    isFile = (await stat(path)).isFile();
  } catch (cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new RecsignalError('NOT_FOUND', `${path}: no such ${kind}; ${fix}`, { cause });
    }
    throw new RecsignalError('IO_FAILED', `${path}: cannot read it (${(cause as Error).message}); check its permissions`, { cause });
  }
  if (kind === 'file' && !isFile) {
    throw new RecsignalError('INVALID_ARGUMENT', `${path} is a folder; give the path of the file to read`);
  }
  if (kind === 'folder' && isFile) {
    throw new RecsignalError('INVALID_ARGUMENT', `${path} is a file; ${fix}`);
  }
}

export interface Line {
  /** 1-based. */
  readonly line: number;
  /** The line's text; when it is not UTF-8, its bytes decoded with U+FFFD in place of the bad ones (for messages only). */
  readonly text: string;
  /** Set when the line is not UTF-8: which byte, e.g. "byte 4 (0xE9) is not UTF-8". */
  readonly invalid?: string;
}

/**
 * Streams the lines of a file in constant memory (one chunk plus the line it completes); a line
 * ends at LF, CRLF or a lone CR, as Node's readline splits them, and a UTF-8 byte-order mark on the
 * first line is dropped. Each line is decoded strictly: one that is not UTF-8 comes with `invalid`
 * set, for the reader to refuse (replacing the bytes would merge distinct ids). Call `checkInput`
 * first, for a clear error on a missing file.
 */
export async function* readLines(path: string): AsyncGenerator<Line> {
  const stream = createReadStream(path, { highWaterMark: 64 * 1024 });
  let n = 0;
  let pending: Buffer[] = [];
  // The last chunk ended in CR: an LF first in the next one belongs to it (CRLF).
  let afterCr = false;
  const lineOf = (bytes: Buffer): Line => {
    n += 1;
    const d = decodeUtf8(bytes);
    let text = 'text' in d ? d.text : bytes.toString('utf8');
    if (n === 1 && text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    return 'text' in d ? { line: n, text } : { line: n, text, invalid: d.invalid };
  };
  const take = (piece: Buffer): Buffer => {
    if (pending.length === 0) return piece;
    pending.push(piece);
    const all = Buffer.concat(pending);
    pending = [];
    return all;
  };
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let start = afterCr && chunk[0] === 0x0a ? 1 : 0;
      afterCr = false;
      let lf = chunk.indexOf(0x0a, start);
      let cr = chunk.indexOf(0x0d, start);
      while (lf >= 0 || cr >= 0) {
        const end = cr >= 0 && (lf < 0 || cr < lf) ? cr : lf;
        yield lineOf(take(chunk.subarray(start, end)));
        start = end + 1;
        if (end === cr) {
          if (start === chunk.length) afterCr = true;
          else if (chunk[start] === 0x0a) start += 1;
        }
        if (lf >= 0 && lf < start) lf = chunk.indexOf(0x0a, start);
        if (cr >= 0 && cr < start) cr = chunk.indexOf(0x0d, start);
      }
      if (start < chunk.length) pending.push(chunk.subarray(start));
    }
    if (pending.length > 0) yield lineOf(take(Buffer.alloc(0)));
  } catch (cause) {
    if (cause instanceof RecsignalError) throw cause;
    throw new RecsignalError('IO_FAILED', `${path}: reading failed after line ${n} (${(cause as Error).message})`, { cause });
  } finally {
    stream.destroy();
  }
}

/** The fix for a line or file that is not UTF-8. */
export const NOT_UTF8_FIX = 'save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8 in > out, if it is Latin-1)';
