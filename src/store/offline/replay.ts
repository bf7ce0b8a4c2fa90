/** @module Reads the event log back as events, in time order: for replays into the stream engine. */
import { RecsignalError } from '../../core/errors.ts';
import type { InteractionEvent } from '../../events/schema.ts';
import { DuckDBEngine } from './duckdb-engine.ts';
import type { EventLog } from './event-log.ts';

/** The log's events in time order (ties by id), streamed in chunks. */
export async function* replayLog(log: EventLog): AsyncGenerator<InteractionEvent> {
  const engine = await DuckDBEngine.open();
  try {
    const events = await engine.count(log.eventsRelation());
    for await (const chunk of engine.chunks(`SELECT event_id, user_id, item_id, ts, type, value, duration, device, country, session_id, context FROM ${log.eventsRelation()} ORDER BY ts, event_id`, events)) {
      const [id, user, item, ts, type, value, duration, device, country, session, context] = chunk.values as unknown[][];
      for (let r = 0; r < chunk.rows; r++) {
        const ctx: Record<string, string | number | boolean | null> = context?.[r] ? JSON.parse(context[r] as string) : {};
        if (device?.[r] != null) ctx['device'] = device[r] as string;
        if (country?.[r] != null) ctx['country'] = country[r] as string;
        if (session?.[r] != null) ctx['session_id'] = session[r] as string;
        yield {
          eventId: id?.[r] as string,
          userId: user?.[r] as string,
          itemId: (item?.[r] ?? null) as string | null,
          ts: ts?.[r] as number,
          type: type?.[r] as string,
          value: (value?.[r] ?? null) as number | null,
          duration: (duration?.[r] ?? null) as number | null,
          context: ctx,
        };
      }
    }
  } catch (e) {
    // A damaged part file (a crash while it was written, a copy cut short) fails DuckDB's read with its name.
    if (/\.parquet/.test((e as Error).message)) {
      throw new RecsignalError('IO_FAILED', `reading the event log failed (${(e as Error).message.split('\n')[0]}); a part file of ${log.dir} may be damaged: move the file named there out of the log (or restore it from a copy) and start again`, { cause: e });
    }
    throw e;
  } finally {
    engine.close();
  }
}

