/**
 * @module Events sent for the online state only (`POST /push` with `to: online`, Feast's default).
 * They are not in the offline log, which batch features and training sets read (as Feast's online
 * push skips the offline store), so a server that rebuilds its state from the log alone would lose
 * them at a restart. They are appended here as wire JSON lines, one file per server run
 * (`<log>/online-only/serve-<time>.jsonl`), and replayed, merged by time with the log, whenever
 * the server builds its state. `recsignal ingest <file>` moves them into the log if wanted.
 */
import { compareText } from '../core/text-order.ts';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { RecsignalError } from '../core/errors.ts';
import { eventToJson, type InteractionEvent } from '../events/schema.ts';
import { createEventValidator } from '../events/validate.ts';
import type { EventLog } from '../store/offline/event-log.ts';
import { replayLog } from '../store/offline/replay.ts';

/**
 * Written synchronously, a batch (one request's events) per write, right after the events were
 * applied: a failed write is known at once. What could not be written is kept, retried at every
 * `retry` (the server's flush tick) and at close, and reported while it waits (`error`), since the
 * events are applied online already and would be lost at the next restart. An asynchronous stream
 * hid failures: after one error it dropped every later line while the pushes were answered 200.
 */
export class OnlineJournal {
  readonly path: string;
  private fd: number | null = null;
  /** Lines applied online and not yet written, oldest first. */
  private pending: string[] = [];
  /** Why the last write failed, while lines wait; null when none wait. */
  error: string | null = null;

  constructor(log: EventLog) {
    this.path = join(log.onlineOnlyDir, `serve-${new Date().toISOString().replace(/[:.]/g, '-')}.jsonl`);
  }

  /** Events not written yet (the last write failed). */
  get waiting(): number {
    return this.pending.length;
  }

  /** Journals events applied for the online state only; a failure keeps them for `retry`. */
  write(events: readonly InteractionEvent[]): void {
    if (events.length === 0) return;
    for (const e of events) this.pending.push(`${JSON.stringify(eventToJson(e))}\n`);
    this.retry();
  }

  /** Writes what waits; true when nothing is left waiting. */
  retry(): boolean {
    if (this.pending.length === 0) return true;
    try {
      if (this.fd === null) {
        mkdirSync(dirname(this.path), { recursive: true });
        this.fd = openSync(this.path, 'a');
      }
      const text = this.pending.join('');
      // A failure part way through keeps the whole batch: a retry may then write some lines twice,
      // and the replay drops the second copy of an id as a duplicate.
      const bytes = Buffer.from(text);
      let done = 0;
      while (done < bytes.length) done += writeSync(this.fd, bytes, done, bytes.length - done);
      this.pending = [];
      this.error = null;
      return true;
    } catch (e) {
      this.error = `online-only journal ${this.path}: ${(e as Error).message}`;
      if (this.fd !== null) {
        try {
          closeSync(this.fd);
        } catch {
          // already unusable
        }
        this.fd = null;
      }
      return false;
    }
  }

  /** Writes what waits and closes; throws (IO_FAILED) naming how many events could not be journaled. */
  async close(): Promise<void> {
    const written = this.retry();
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    if (!written) {
      throw new RecsignalError('IO_FAILED', `${this.pending.length} events applied for the online state only could not be journaled (${this.error}); a restart will not have them: resend them, or free the disk and keep the server running until /health is ok`);
    }
  }
}

/**
 * The journal's events, in the log's order (time, then id). A line that no longer reads as an event
 * (a type the feature set has dropped since, a line cut by a crash) is skipped; it stays in its file.
 */
export function readOnlineJournal(log: EventLog, extraTypes: readonly string[]): InteractionEvent[] {
  const dir = log.onlineOnlyDir;
  const events: InteractionEvent[] = [];
  if (!existsSync(dir)) return events;
  if (!statSync(dir).isDirectory()) {
    throw new RecsignalError('INVALID_INPUT', `${dir} is not a folder: it should hold the journals of events sent for the online state only; move it aside (if it holds such events, as JSON lines, take them into the log with recsignal ingest)`);
  }
  // Written by the server after validation: read back without a clock (the future check was done then).
  const validate = createEventValidator({ extraTypes, maxFutureMs: Infinity });
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.jsonl')).sort()) {
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      let r;
      try {
        r = validate(JSON.parse(line));
      } catch {
        continue;
      }
      if (r.ok) events.push(r.event);
    }
  }
  return events.sort(byTimeThenId);
}

/** The events a server builds its state from: the log's and the online-only journal's, merged in time order. */
export async function* replayForServing(log: EventLog, extraTypes: readonly string[]): AsyncGenerator<InteractionEvent> {
  const journal = readOnlineJournal(log, extraTypes);
  let j = 0;
  for await (const e of replayLog(log)) {
    while (j < journal.length && byTimeThenId(journal[j] as InteractionEvent, e) < 0) yield journal[j++] as InteractionEvent;
    yield e;
  }
  while (j < journal.length) yield journal[j++] as InteractionEvent;
}

function byTimeThenId(a: InteractionEvent, b: InteractionEvent): number {
  return a.ts - b.ts || compareText(a.eventId, b.eventId);
}
