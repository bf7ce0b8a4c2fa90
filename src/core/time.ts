/** @module Time: integer milliseconds since the Unix epoch, UTC, everywhere. Parsing of instants and durations. */
import { RecsignalError } from './errors.ts';

export const SECOND_MS = 1_000;
export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 86_400_000;

const UNIT_MS: Record<string, number> = { ms: 1, s: SECOND_MS, m: MINUTE_MS, h: HOUR_MS, d: DAY_MS, w: 7 * DAY_MS };
const DURATION = /^(\d+)(ms|s|m|h|d|w)$/;
// An ISO-8601 instant must carry a zone (Z or ±hh:mm): a zoneless time is ambiguous and rejected.
const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}(T|\s)\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i;

/** Parses a duration such as `30m`, `7d`, `1h` or `250ms` into milliseconds; returns undefined when malformed. */
export function tryParseDuration(text: string): number | undefined {
  const m = DURATION.exec(text.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = UNIT_MS[m[2] as string] as number;
  return n * unit;
}

export function parseDuration(text: string, what = 'duration'): number {
  const ms = tryParseDuration(text);
  if (ms === undefined || ms <= 0) {
    throw new RecsignalError('INVALID_ARGUMENT', `${what}: '${text}' is not a duration; write a positive whole number and a unit, e.g. 30m, 12h, 7d (units: ms s m h d w)`);
  }
  return ms;
}

/** Renders milliseconds as the shortest exact duration text (`7d`, `90m`): used in output column names. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [['d', DAY_MS], ['h', HOUR_MS], ['m', MINUTE_MS], ['s', SECOND_MS]] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/**
 * Parses an instant: a number (or numeric string) of milliseconds since the epoch, or an ISO-8601
 * string with a zone. Returns undefined when it is neither.
 */
export function tryParseInstant(input: unknown): number | undefined {
  if (typeof input === 'number') return Number.isSafeInteger(input) ? input : undefined;
  if (typeof input === 'bigint') return Number(input);
  if (typeof input !== 'string') return undefined;
  const s = input.trim();
  if (/^-?\d+$/.test(s)) {
    const n = Number(s);
    return Number.isSafeInteger(n) ? n : undefined;
  }
  if (!ISO_WITH_ZONE.test(s)) return undefined;
  const ms = Date.parse(s.replace(' ', 'T'));
  return Number.isNaN(ms) || !isCalendarDate(s) ? undefined : ms;
}

/** Whether an ISO text's date exists: Date.parse takes 2024-02-30 as March 1st. */
function isCalendarDate(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(s);
  if (m === null) return true;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return month >= 1 && month <= 12 && day >= 1 && day <= new Date(Date.UTC(year, month, 0)).getUTCDate();
}

export function parseInstant(input: unknown, what = 'time'): number {
  const ms = tryParseInstant(input);
  if (ms === undefined) {
    throw new RecsignalError('INVALID_ARGUMENT', `${what}: '${String(input)}' is not an instant; give milliseconds since the epoch or an ISO-8601 time with a zone, e.g. 2024-05-01T00:00:00Z`);
  }
  return ms;
}

export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/** The UTC day (YYYY-MM-DD) an instant falls in: the event log's partition key. */
export function utcDay(ms: number): string {
  return new Date(Math.floor(ms / DAY_MS) * DAY_MS).toISOString().slice(0, 10);
}
