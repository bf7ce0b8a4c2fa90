/** @module Opening input files: existence checks with errors that say what to give, and line streaming. */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { RecsignalError } from '../../core/errors.ts';

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
  readonly text: string;
}

/**
 * Streams the lines of a file (LF or CRLF) in constant memory; a UTF-8 byte-order mark on the
 * first line is dropped. Call `checkInput` first: readline reports a missing file poorly.
 */
export async function* readLines(path: string, encoding: BufferEncoding = 'utf8'): AsyncGenerator<Line> {
  const stream = createReadStream(path, { encoding });
  let failure: unknown;
  stream.on('error', (e) => {
    failure = e;
  });
  const rl = createInterface({ input: stream, crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const text of rl) {
      n += 1;
      yield { line: n, text: n === 1 && text.charCodeAt(0) === 0xfeff ? text.slice(1) : text };
    }
    if (failure !== undefined) throw failure;
  } catch (cause) {
    if (cause instanceof RecsignalError) throw cause;
    throw new RecsignalError('IO_FAILED', `${path}: reading failed after line ${n} (${(cause as Error).message})`, { cause });
  } finally {
    rl.close();
    stream.destroy();
  }
}
