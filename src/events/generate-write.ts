/** @module Writes a generated world to disk: events as JSONL or Parquet (staged in DuckDB), metadata as JSONL beside them. */
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { DuckDBInstance } from '@duckdb/node-api';
import { RecsignalError } from '../core/errors.ts';
import { generateEvents, type GenerateOptions } from './generate.ts';
import { eventToJson, type InteractionEvent, type ItemMetadata, type UserMetadata } from './schema.ts';

export interface WriteGeneratedOptions extends GenerateOptions {
  /** The events file: `.jsonl` or `.parquet`. Metadata goes beside it as `<stem>.items.jsonl` and `<stem>.users.jsonl`. */
  readonly out: string;
  /** Called every few tens of thousands of events, and once at the end with the total. */
  readonly onProgress?: (eventsWritten: number) => void;
}

export interface WriteGeneratedResult {
  readonly events: number;
  readonly itemsPath: string;
  readonly usersPath: string;
  readonly out: string;
}

// Progress and the event loop get a turn this often; also the Appender's flush size, which bounds
// how many rows sit in memory before DuckDB takes them.
const CHUNK_ROWS = 50_000;
const JSONL_BATCH_LINES = 1_000;

const STAGING_TABLE = 'generated_events';
const STAGING_COLUMNS = [
  'event_id VARCHAR', 'user_id VARCHAR', 'item_id VARCHAR', 'ts BIGINT', 'type VARCHAR',
  'value DOUBLE', 'duration DOUBLE', 'context VARCHAR',
].join(', ');

export async function writeGenerated(opts: WriteGeneratedOptions): Promise<WriteGeneratedResult> {
  const format = formatOf(opts.out);
  const world = generateEvents(opts);
  const out = path.resolve(opts.out);
  const dir = path.dirname(out);
  const stem = path.basename(out, path.extname(out));
  const itemsPath = path.join(dir, `${stem}.items.jsonl`);
  const usersPath = path.join(dir, `${stem}.users.jsonl`);
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (cause) {
    throw new RecsignalError('IO_FAILED', `generate: cannot create the directory ${dir}; choose an out path in a writable directory`, { cause });
  }
  await writeLines(itemsPath, mapIter(world.items, (it) => JSON.stringify(itemToJson(it))));
  await writeLines(usersPath, mapIter(world.users, (u) => JSON.stringify(userToJson(u))));
  const events = format === 'jsonl'
    ? await writeLines(out, mapIter(world.events(), (e) => JSON.stringify(eventToJson(e))), opts.onProgress)
    : await writeParquet(world.events(), out, opts.onProgress);
  opts.onProgress?.(events);
  return { events, itemsPath, usersPath, out };
}

function formatOf(out: string): 'jsonl' | 'parquet' {
  const ext = path.extname(out).toLowerCase();
  if (ext === '.jsonl') return 'jsonl';
  if (ext === '.parquet') return 'parquet';
  throw new RecsignalError('INVALID_ARGUMENT', `generate: cannot tell the format of '${out}'; end the out path with .jsonl or .parquet`);
}

function itemToJson(it: ItemMetadata): Record<string, unknown> {
  return { item_id: it.itemId, title: it.title, year: it.year, genres: it.genres, release_ts: it.releaseTs, duration: it.duration };
}

function userToJson(u: UserMetadata): Record<string, unknown> {
  return { user_id: u.userId, age: u.age, gender: u.gender, occupation: u.occupation, country: u.country };
}

function* mapIter<T, U>(xs: Iterable<T>, f: (x: T) => U): Generator<U> {
  for (const x of xs) yield f(x);
}

/** Streams lines to a file, waiting on the stream whenever its buffer is full; returns the line count. */
async function writeLines(file: string, lines: Iterable<string>, onProgress?: (n: number) => void): Promise<number> {
  const stream = fs.createWriteStream(file, { encoding: 'utf8' });
  // Without a listener an early error (a missing directory, a full disk) would crash the process.
  stream.on('error', () => {});
  let count = 0;
  let batch = '';
  try {
    for (const line of lines) {
      batch += `${line}\n`;
      count++;
      if (count % JSONL_BATCH_LINES !== 0) continue;
      if (stream.errored) throw stream.errored;
      if (!stream.write(batch)) await once(stream, 'drain');
      batch = '';
      if (count % CHUNK_ROWS === 0) onProgress?.(count);
    }
    stream.end(batch);
    await finished(stream);
    return count;
  } catch (cause) {
    stream.destroy();
    throw new RecsignalError('IO_FAILED', `generate: writing ${file} failed after ${count} lines; check that the directory is writable and the disk has room`, { cause });
  }
}

/**
 * Appends the events to a table in a throwaway on-disk DuckDB database (so tens of millions of rows
 * spill to disk instead of memory), then lets DuckDB write the Parquet file in one COPY.
 */
async function writeParquet(events: Iterable<InteractionEvent>, out: string, onProgress?: (n: number) => void): Promise<number> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'recsignal-generate-'));
  let instance: DuckDBInstance | undefined;
  let sql: string | undefined; // the statement running, for the error
  try {
    // A fixed memory limit: by default DuckDB takes 80% of RAM, and the staged rows can spill to the file.
    instance = await DuckDBInstance.create(path.join(tmp, 'staging.duckdb'), { memory_limit: '512MB' });
    const connection = await instance.connect();
    try {
      await connection.run((sql = `CREATE TABLE ${STAGING_TABLE} (${STAGING_COLUMNS})`));
      sql = undefined;
      const appender = await connection.createAppender(STAGING_TABLE);
      let count = 0;
      for (const e of events) {
        appender.appendVarchar(e.eventId);
        appender.appendVarchar(e.userId);
        if (e.itemId === null) appender.appendNull();
        else appender.appendVarchar(e.itemId);
        appender.appendBigInt(BigInt(e.ts));
        appender.appendVarchar(e.type);
        if (e.value === null) appender.appendNull();
        else appender.appendDouble(e.value);
        if (e.duration === null) appender.appendNull();
        else appender.appendDouble(e.duration);
        appender.appendVarchar(JSON.stringify(e.context));
        appender.endRow();
        if (++count % CHUNK_ROWS === 0) {
          appender.flushSync();
          onProgress?.(count);
          await yieldToLoop(); // lets a progress bar redraw
        }
      }
      appender.closeSync();
      await connection.run((sql = `COPY ${STAGING_TABLE} TO '${out.replaceAll("'", "''")}' (FORMAT parquet)`));
      return count;
    } finally {
      connection.closeSync();
    }
  } catch (cause) {
    throw new RecsignalError('QUERY_FAILED', `generate: writing ${out} through DuckDB failed; check that the directory is writable and ${os.tmpdir()} has room for the staging database`, { cause, ...(sql === undefined ? {} : { sql }) });
  } finally {
    instance?.closeSync();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
