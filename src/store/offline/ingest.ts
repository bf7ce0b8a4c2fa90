/**
 * @module Ingest: validate every record, append accepted events to the log, write each rejected one
 * to the dead-letter file with its reason, and drop duplicate event ids (within the input and
 * against the log). received = accepted + rejected + duplicates, always.
 */
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { once } from 'node:events';
import type { Problem } from '../../core/errors.ts';
import type { InteractionEvent, ItemMetadata, UserMetadata } from '../../events/schema.ts';
import { LOG_COLUMNS, LIFTED_CONTEXT_KEYS } from '../../events/schema.ts';
import { reasonOf, type EventValidator } from '../../events/validate.ts';
import { DuckDBEngine } from './duckdb-engine.ts';
import { withLogWrite } from './write-lock.ts';
import { EventLog } from './event-log.ts';

/** What a reader yields: a parsed record to validate, or a record that could not be parsed. */
export type IngestRecord =
  | { readonly position: string; readonly raw: unknown }
  | { readonly position: string; readonly problems: readonly Problem[]; readonly text: string };

export interface IngestOptions {
  readonly log: EventLog;
  readonly validator: EventValidator;
  /** Where rejected events go; default `<log>/dead-letter/<time>.jsonl`. */
  readonly deadLetterPath?: string;
  readonly items?: readonly ItemMetadata[];
  readonly users?: readonly UserMetadata[];
  readonly onProgress?: (received: number) => void;
}

export interface IngestReport {
  readonly received: number;
  readonly accepted: number;
  readonly rejected: number;
  readonly duplicates: number;
  readonly deadLetter: string | null;
  readonly items: number;
  readonly users: number;
}

export async function ingest(records: AsyncIterable<IngestRecord> | Iterable<IngestRecord>, options: IngestOptions): Promise<IngestReport> {
  const { log, validator } = options;
  const deadLetterPath = options.deadLetterPath ?? join(log.deadLetterDir, `${new Date().toISOString().replace(/[:.]/g, '-')}.jsonl`);
  const engine = await DuckDBEngine.open();
  let deadLetter: ReturnType<typeof createWriteStream> | null = null;
  let received = 0;
  let rejected = 0;
  let valid = 0;
  try {
    await engine.run(`CREATE TEMP TABLE __staging (${LOG_COLUMNS.map((c) => `${c.name} ${c.sql}`).join(', ')}, seq BIGINT)`);
    const a = await engine.appender('__staging');
    for await (const record of records) {
      received++;
      if (options.onProgress && received % 100_000 === 0) options.onProgress(received);
      const problems = 'problems' in record ? record.problems : undefined;
      const result = problems === undefined ? validator((record as { raw: unknown }).raw) : undefined;
      if (result === undefined || !result.ok) {
        rejected++;
        const ps = problems ?? (result as { problems: readonly Problem[] }).problems;
        if (deadLetter === null) {
          mkdirSync(dirname(deadLetterPath), { recursive: true });
          // Appended to: a --dead-letter file named again keeps the rejections of earlier runs.
          deadLetter = createWriteStream(deadLetterPath, { flags: 'a' });
        }
        const line = JSON.stringify({ position: record.position, reason: reasonOf(ps), problems: ps, input: 'raw' in record ? record.raw : record.text }, jsonSafe);
        if (!deadLetter.write(`${line}\n`)) await once(deadLetter, 'drain');
        continue;
      }
      appendLogRow(a, result.event);
      a.appendBigInt(BigInt(received));
      a.endRow();
      valid++;
    }
    a.closeSync();
    if (deadLetter !== null) {
      const stream = deadLetter;
      await new Promise<void>((res, rej) => stream.end((err?: Error | null) => (err ? rej(err) : res())));
    }

    // Duplicates: a later copy of an id in this input, or an id the log already holds. The check and
    // the append are one write of the log (another ingest at the same time would find the same ids absent).
    const accepted = await withLogWrite(log.dir, async () => {
      await engine.run(
        `CREATE TEMP TABLE __accepted AS SELECT * EXCLUDE (seq, rn) FROM (
           SELECT *, row_number() OVER (PARTITION BY event_id ORDER BY seq) AS rn FROM __staging
         ) WHERE rn = 1 AND event_id NOT IN (SELECT event_id FROM ${log.eventsRelation()})`,
      );
      const n = await engine.count('__accepted');
      if (n > 0) await log.append(engine, '__accepted');
      await log.writeMetadata(engine, options.items ?? [], options.users ?? []);
      return n;
    });
    return {
      received,
      accepted,
      rejected,
      duplicates: valid - accepted,
      deadLetter: rejected > 0 ? deadLetterPath : null,
      items: options.items?.length ?? 0,
      users: options.users?.length ?? 0,
    };
  } finally {
    deadLetter?.destroy();
    engine.close();
  }
}

/**
 * Typed inputs (Parquet) can hold bigints, which JSON.stringify refuses, and NaN or an infinity
 * (also a CSV cell of 1e400), which it writes as null: the dead-letter line must still be written,
 * with the value that was refused.
 */
function jsonSafe(_key: string, v: unknown): unknown {
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
  if (typeof v !== 'bigint') return v;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : v.toString();
}

type Appender = Awaited<ReturnType<DuckDBEngine['appender']>>;

/** One event as a row of the log's columns (LOG_COLUMNS: device, country, session_id lifted from the context). */
export function appendLogRow(a: Appender, e: InteractionEvent): void {
  a.appendVarchar(e.eventId);
  a.appendVarchar(e.userId);
  if (e.itemId === null) a.appendNull();
  else a.appendVarchar(e.itemId);
  a.appendBigInt(BigInt(e.ts));
  a.appendVarchar(e.type);
  if (e.value === null) a.appendNull();
  else a.appendDouble(e.value);
  if (e.duration === null) a.appendNull();
  else a.appendDouble(e.duration);
  const rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e.context)) if (!(LIFTED_CONTEXT_KEYS as readonly string[]).includes(k)) rest[k] = v;
  for (const k of LIFTED_CONTEXT_KEYS) {
    const v = e.context[k];
    if (typeof v === 'string') a.appendVarchar(v);
    else a.appendNull();
  }
  if (Object.keys(rest).length === 0) a.appendNull();
  else a.appendVarchar(JSON.stringify(rest));
}
