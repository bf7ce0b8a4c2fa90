/**
 * @module Events sent for the online state only (`POST /push` with `to: online`, Feast's default).
 * They are not in the offline log, which batch features and training sets read (as Feast's online
 * push skips the offline store), so a server that rebuilds its state from the log alone would lose
 * them at a restart. They are appended here as wire JSON lines, one file per server run
 * (`<log>/online-only/serve-<time>.jsonl`), and replayed, merged by time with the log, whenever
 * the server builds its state. `recsignal ingest <file>` moves them into the log if wanted.
 */
import { compareText } from '../core/text-order.ts';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { eventToJson, type InteractionEvent } from '../events/schema.ts';
import { createEventValidator } from '../events/validate.ts';
import type { EventLog } from '../store/offline/event-log.ts';
import { replayLog } from '../store/offline/replay.ts';

export class OnlineJournal {
  readonly path: string;
  private out: WriteStream | null = null;
  /** Told of a failed write: the server keeps serving, and shows it in /health and /metrics. */
  onError: (message: string) => void = () => undefined;

  constructor(log: EventLog) {
    this.path = join(log.onlineOnlyDir, `serve-${new Date().toISOString().replace(/[:.]/g, '-')}.jsonl`);
  }

  write(e: InteractionEvent): void {
    if (this.out === null) {
      mkdirSync(join(this.path, '..'), { recursive: true });
      this.out = createWriteStream(this.path, { flags: 'a' });
      this.out.on('error', (err) => this.onError(`online-only journal ${this.path}: ${err.message}`));
    }
    this.out.write(`${JSON.stringify(eventToJson(e))}\n`);
  }

  async close(): Promise<void> {
    const out = this.out;
    if (out !== null && !out.destroyed) await new Promise<void>((res) => out.end(() => res()));
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
