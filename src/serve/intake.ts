/**
 * @module Events arriving over HTTP: validated as ingest validates them, applied to the online
 * state, and buffered for the offline log, which gets them in batches through a DuckDB staging
 * table (every second, every 10k events, on `wait` and on shutdown). Rejections go to the log's
 * dead-letter folder; late events are kept offline (batch is the source of truth). Nothing is lost:
 * a failed append keeps its events buffered and is retried.
 */
import { createWriteStream, mkdirSync, writeFileSync, type WriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RecsignalError, type Problem } from '../core/errors.ts';
import { safeJson } from '../core/json-text.ts';
import { formatDuration, isoTime } from '../core/time.ts';
import { eventToJson, LOG_COLUMNS, type InteractionEvent } from '../events/schema.ts';
import { createEventValidator, reasonOf } from '../events/validate.ts';
import { withLogWrite } from '../store/offline/write-lock.ts';
import { DuckDBEngine } from '../store/offline/duckdb-engine.ts';
import type { EventLog } from '../store/offline/event-log.ts';
import { appendLogRow } from '../store/offline/ingest.ts';
import type { OnlineJournal } from './online-journal.ts';
import type { ApplyResult, ServingState } from './online-state.ts';

export type Destination = 'online' | 'offline' | 'online_and_offline';

/** One record of a batch: parsed JSON, or a line that did not parse. */
export type IntakeItem = { readonly raw: unknown } | { readonly problems: readonly Problem[]; readonly text: string };

export interface Rejection {
  readonly index: number;
  /** `invalid` (validation; dead-lettered), `late` (beyond the allowed lateness) or `error` (the store failed; dead-lettered). */
  readonly reason: 'invalid' | 'late' | 'error';
  readonly problems: readonly Problem[];
}

export interface IntakeReport {
  readonly received: number;
  readonly accepted: number;
  readonly rejected: number;
  readonly duplicates: number;
  readonly late: number;
  readonly rejections: readonly Rejection[];
}

export interface IntakeOptions {
  readonly state: ServingState;
  readonly log: EventLog;
  readonly extraTypes: readonly string[];
  /** The server's "now": validation rejects events too far past it. */
  readonly clock: () => number;
  readonly maxFutureMs?: number;
  readonly flushIntervalMs?: number;
  readonly flushEvents?: number;
  readonly deadLetterPath?: string;
  /** Where events applied for the online state only are kept, so a restart replays them (default none). */
  readonly journal?: OnlineJournal;
  /** Told each event accepted (applied online, or kept for the log only). */
  readonly onAccepted?: (e: InteractionEvent) => void;
}

interface Buffered {
  readonly e: InteractionEvent;
  /** Not deduplicated by the engine (late, or offline only): checked against the log when appended. */
  readonly checked: boolean;
}

/** Offline-only ids remembered before every append is checked against the log instead. */
const MAX_OFFLINE_IDS = 1_000_000;

const STAGING = '__serve_staging';
const APPEND = '__serve_append';

export class EventIntake {
  /** `accepted`: applied online or kept for the log only; `appliedOnline`: those applied to the online state. */
  readonly counts = { received: 0, accepted: 0, appliedOnline: 0, rejected: 0, duplicates: 0, late: 0, appended: 0, flushErrors: 0 };
  lastFlushError: string | null = null;
  readonly deadLetterPath: string;
  private buffer: Buffered[] = [];
  private flushing: Promise<void> = Promise.resolve();
  private deadLetter: WriteStream | null = null;
  /** Why the dead-letter file could not be written, once it could not. */
  private deadLetterError: string | null = null;
  private readonly timer: NodeJS.Timeout;
  private readonly flushEvents: number;
  private closed = false;
  /** Ids of the events sent offline only (see `noteOfflineOnly`). */
  private readonly offlineOnly = new Set<string>();
  private checkAll = false;

  private constructor(
    private readonly o: IntakeOptions,
    private readonly db: DuckDBEngine,
  ) {
    this.flushEvents = o.flushEvents ?? 10_000;
    this.deadLetterPath = o.deadLetterPath ?? join(o.log.deadLetterDir, `serve-${new Date().toISOString().replace(/[:.]/g, '-')}.jsonl`);
    this.timer = setInterval(() => {
      if (this.buffer.length > 0) this.flush().catch(() => undefined);
      if (o.journal !== undefined && o.journal.waiting > 0) o.journal.retry();
    }, o.flushIntervalMs ?? 1000);
    this.timer.unref();
  }

  /** Events applied online only that wait to be journaled. */
  get journalWaiting(): number {
    return this.o.journal?.waiting ?? 0;
  }

  /** Why events applied online only wait to be journaled (they would be lost at a restart); null when none wait. */
  get journalError(): string | null {
    return this.o.journal?.error ?? null;
  }

  static async open(o: IntakeOptions): Promise<EventIntake> {
    return new EventIntake(o, await DuckDBEngine.open(':memory:', { threads: 1 }));
  }

  get buffered(): number {
    return this.buffer.length;
  }

  /** A validator as of the server clock now: the future check moves with it. */
  private validator() {
    return createEventValidator({ extraTypes: this.o.extraTypes, now: this.o.clock(), ...(this.o.maxFutureMs !== undefined ? { maxFutureMs: this.o.maxFutureMs } : {}) });
  }

  /** Validates every record (nothing applied): the all-or-nothing check of a push. */
  validate(items: readonly IntakeItem[]): { events: InteractionEvent[]; problems: { index: number; problems: readonly Problem[] }[] } {
    const validator = this.validator();
    const events: InteractionEvent[] = [];
    const problems: { index: number; problems: readonly Problem[] }[] = [];
    items.forEach((item, index) => {
      const r = 'problems' in item ? { ok: false as const, problems: item.problems } : validator(item.raw);
      if (r.ok) events.push(r.event);
      else problems.push({ index, problems: r.problems });
    });
    return { events, problems };
  }

  /**
   * Validates, applies and buffers a batch; `position` names it in dead-letter lines. The memory
   * state applies before this returns its promise. When the online store is unavailable the promise
   * rejects (IO_FAILED) and nothing of the batch happened: not applied, not logged, not dead-lettered.
   */
  async submit(items: readonly IntakeItem[], to: Destination, position: string): Promise<IntakeReport> {
    const validator = this.validator();
    const checked = items.map((item) => ('problems' in item ? { ok: false as const, problems: item.problems } : validator(item.raw)));
    const events: InteractionEvent[] = [];
    for (const r of checked) if (r.ok) events.push(r.event);
    const results = this.apply(events, to);
    const applied = Array.isArray(results) ? results : await results;
    const report = { received: items.length, accepted: 0, rejected: 0, duplicates: 0, late: 0, rejections: [] as Rejection[] };
    let j = 0;
    checked.forEach((result, index) => {
      if (!result.ok) {
        const item = items[index] as IntakeItem;
        report.rejected++;
        report.rejections.push({ index, reason: 'invalid', problems: result.problems });
        this.deadLetterLine(`${position}[${index}]`, result.problems, 'raw' in item ? item.raw : item.text);
        return;
      }
      this.route(result.event, to, applied?.[j++], index, position, report);
    });
    this.count(report);
    return report;
  }

  /**
   * Applies events that are already valid (a push, a replayed stream); the same outcomes as
   * `submit`. Those applied for the online state only go to the journal, unless `logged` says they
   * are in the log already (a replay of it).
   */
  async submitValid(events: readonly InteractionEvent[], to: Destination, position: string, logged = false): Promise<IntakeReport> {
    const results = this.apply(events, to);
    const applied = Array.isArray(results) ? results : await results;
    const report = { received: events.length, accepted: 0, rejected: 0, duplicates: 0, late: 0, rejections: [] as Rejection[] };
    const journal = to === 'online' && !logged ? this.o.journal : undefined;
    const journaled: InteractionEvent[] = [];
    events.forEach((e, index) => {
      if (this.route(e, to, applied?.[index], index, position, report) && journal !== undefined) journaled.push(e);
    });
    // One write for the batch; a failure keeps them for the next retry and shows in /health.
    journal?.write(journaled);
    this.count(report);
    return report;
  }

  /** null for offline-only batches (nothing to apply). */
  private apply(events: readonly InteractionEvent[], to: Destination): ApplyResult[] | null | Promise<ApplyResult[]> {
    return to === 'offline' ? null : this.o.state.applyEvents(events);
  }

  /** Counts, logs or dead-letters one event by its outcome; true when the online state applied it. */
  private route(e: InteractionEvent, to: Destination, applied: ApplyResult | undefined, index: number, position: string, report: { accepted: number; rejected: number; duplicates: number; late: number; rejections: Rejection[] }): boolean {
    const offline = to !== 'online';
    if (applied === undefined) {
      report.accepted++;
      this.o.onAccepted?.(e);
      this.enqueue(e, true);
      this.noteOfflineOnly(e.eventId);
      return false;
    }
    const { outcome, watermark } = applied;
    if (outcome === 'error') {
      const problems = [{ path: '(event)', message: `the online store failed to apply it: ${applied.error?.message}`, fix: 'resend it later; it was written to the dead-letter folder' }];
      report.rejected++;
      report.rejections.push({ index, reason: 'error', problems });
      this.deadLetterLine(`${position}[${index}]`, problems, e);
      return false;
    }
    if (outcome === 'applied') {
      report.accepted++;
      this.counts.appliedOnline++;
      this.o.onAccepted?.(e);
      // New to the engine; in the log already only if it came offline-only before.
      if (offline) this.enqueue(e, this.checkAll || this.offlineOnly.has(e.eventId));
      return true;
    }
    if (outcome === 'duplicate') {
      report.duplicates++;
      // A resend after a store timeout whose write did land (the 503 could not tell) finds the
      // event applied but not logged: checked against the log, it is appended once.
      if (offline) this.enqueue(e, true);
    } else {
      report.late++;
      const lateness = this.o.state.lateness;
      const problems = [{
        path: 'ts',
        message: `${isoTime(e.ts)} is older than the newest event time ${isoTime(watermark)} minus the allowed lateness (${lateness > 0 ? formatDuration(lateness) : '0'}): not applied online`,
        fix: offline
          ? 'nothing to do: it was kept in the offline log, which batch features and training sets read; to apply such events online, start the server with a larger --lateness'
          : 'it was written to the dead-letter folder; send it with to=offline (or re-ingest the dead-letter file), or start the server with a larger --lateness',
      }];
      report.rejections.push({ index, reason: 'late', problems });
      if (offline) this.enqueue(e, true);
      else this.deadLetterLine(`${position}[${index}]`, problems, e);
    }
    return false;
  }

  private count(r: IntakeReport): void {
    this.counts.received += r.received;
    this.counts.accepted += r.accepted;
    this.counts.rejected += r.rejected;
    this.counts.duplicates += r.duplicates;
    this.counts.late += r.late;
  }

  /**
   * Remembers the id of an event sent offline only: the engine never saw it, so if it comes again
   * for the online state, it must still be checked against the log before it is appended. Past
   * `MAX_OFFLINE_IDS` every appended event is checked instead (slower appends, same log).
   */
  private noteOfflineOnly(id: string): void {
    if (this.checkAll) return;
    this.offlineOnly.add(id);
    if (this.offlineOnly.size > MAX_OFFLINE_IDS) {
      this.offlineOnly.clear();
      this.checkAll = true;
    }
  }

  private enqueue(e: InteractionEvent, checked: boolean): void {
    this.buffer.push({ e, checked });
    if (this.buffer.length >= this.flushEvents) this.flush().catch(() => undefined);
  }

  private deadLetterLine(position: string, problems: readonly Problem[], input: unknown): void {
    if (this.deadLetter === null) {
      mkdirSync(this.o.log.deadLetterDir, { recursive: true });
      this.deadLetter = createWriteStream(this.deadLetterPath, { flags: 'a' });
      // A dead-letter file that cannot be written must not take the server down: it shows in /health and /metrics.
      this.deadLetter.on('error', (e) => {
        this.counts.flushErrors++;
        this.lastFlushError = `dead-letter file ${this.deadLetterPath}: ${e.message}`;
        this.deadLetterError = e.message;
      });
    }
    // safeJson: a record nested too deeply for JSON.stringify is written whole all the same (a throw
    // here, after the batch was applied online, would lose the rest of the batch's routing).
    this.deadLetter.write(`${safeJson({ position, reason: reasonOf(problems), problems, input })}\n`);
  }

  /**
   * Where events that could not be appended at shutdown went: the dead-letter file, or, when that
   * could not be written either (the disk the log is on is full), a file in the system's temporary
   * folder; said truthfully when neither could be written.
   */
  private rescue(events: readonly unknown[], problems: readonly Problem[]): string {
    if (this.deadLetterError === null) return `they were written to ${this.deadLetterPath}`;
    const path = join(tmpdir(), `recsignal-unsaved-${new Date().toISOString().replace(/[:.]/g, '-')}.jsonl`);
    try {
      writeFileSync(path, events.map((input) => `${safeJson({ position: 'shutdown', reason: reasonOf(problems), problems, input })}\n`).join(''));
      return `the dead-letter file could not be written either (${this.deadLetterError}), so they were written to ${path}: free disk space and take them into the log with recsignal ingest`;
    } catch (e) {
      return `the dead-letter file could not be written either (${this.deadLetterError}), nor ${path} (${(e as Error).message}): those ${events.length} events are lost`;
    }
  }

  /** Appends everything buffered so far to the offline log; resolves once it is written. */
  flush(): Promise<void> {
    const next = this.flushing.then(() => this.flushOnce());
    this.flushing = next.catch(() => undefined);
    return next;
  }

  private async flushOnce(): Promise<void> {
    if (this.buffer.length === 0) return;
    const batch = this.buffer;
    this.buffer = [];
    try {
      await this.db.run(`CREATE OR REPLACE TEMP TABLE ${STAGING} (${LOG_COLUMNS.map((c) => `${c.name} ${c.sql}`).join(', ')}, checked BOOLEAN, seq BIGINT)`);
      const a = await this.db.appender(STAGING);
      batch.forEach(({ e, checked }, seq) => {
        appendLogRow(a, e);
        a.appendBoolean(checked);
        a.appendBigInt(BigInt(seq));
        a.endRow();
      });
      a.closeSync();
      // One copy per id; late and offline-only events also must not be in the log already (checked
      // and appended as one write of the log: an ingest at the same time could append them too).
      const inLog = batch.some((b) => b.checked) ? ` AND NOT (checked AND event_id IN (SELECT event_id FROM ${this.o.log.eventsRelation()}))` : '';
      const n = await withLogWrite(this.o.log.dir, async () => {
        await this.db.run(`CREATE OR REPLACE TEMP TABLE ${APPEND} AS SELECT * EXCLUDE (rn) FROM (SELECT *, row_number() OVER (PARTITION BY event_id ORDER BY seq) AS rn FROM ${STAGING}) WHERE rn = 1${inLog}`);
        const count = await this.db.count(APPEND);
        if (count > 0) await this.o.log.append(this.db, APPEND);
        return count;
      });
      this.counts.appended += n;
      this.lastFlushError = null;
    } catch (e) {
      this.buffer = batch.concat(this.buffer);
      this.counts.flushErrors++;
      this.lastFlushError = (e as Error).message;
      throw e;
    }
  }

  /**
   * Stops the timer, appends what is buffered, closes the dead-letter file and the staging
   * database. When the last append fails, the buffered events go to the dead-letter file instead.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    let failure: RecsignalError | null = null;
    try {
      await this.flush();
    } catch (cause) {
      const problems = [{ path: '(event)', message: `not appended to the offline log at shutdown: ${(cause as Error).message}`, fix: 'take the input of each line back into the log with recsignal ingest' }];
      const unsaved = this.buffer.splice(0).map(({ e }) => eventToJson(e));
      try {
        for (const e of unsaved) this.deadLetterLine('shutdown', problems, e);
      } catch (e) {
        // The dead-letter folder could not be made.
        this.deadLetterError = (e as Error).message;
      }
      const dl = this.deadLetter;
      if (dl !== null && !dl.destroyed) await new Promise<void>((res) => dl.end(() => res()));
      failure = new RecsignalError('IO_FAILED', `appending ${unsaved.length} buffered events to the offline log failed at shutdown (${(cause as Error).message}); ${this.rescue(unsaved, problems)}`, { cause });
    } finally {
      const dl = this.deadLetter;
      if (dl !== null && !dl.destroyed) await new Promise<void>((res) => dl.end(() => res()));
      try {
        await this.o.journal?.close();
      } catch (e) {
        failure = failure === null ? (e as RecsignalError) : new RecsignalError('IO_FAILED', `${failure.message}; and ${(e as Error).message}`, { cause: e });
      }
      this.db.close();
    }
    if (failure !== null) throw failure;
  }
}
