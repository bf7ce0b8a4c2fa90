/**
 * @module Event validation: every problem of an event, each naming its field and the fix.
 * Hand-written rather than a schema library because it runs once per ingested event (tens of
 * millions) and its messages must say how to repair the input, field by field.
 */
import type { Problem } from '../core/errors.ts';
import { DAY_MS, formatDuration, isoTime, tryParseInstant } from '../core/time.ts';
import { BUILTIN_EVENT_TYPES, KEY_SEPARATOR, type ContextValue, type InteractionEvent } from './schema.ts';

export interface ValidationOptions {
  /** Event types beyond the built-in ones (declared by the definitions). */
  readonly extraTypes?: readonly string[];
  /** Wall-clock "now" (ms) for the future check; defaults to Date.now(). */
  readonly now?: number;
  /** How far past `now` an event may lie before it is rejected; default one day. */
  readonly maxFutureMs?: number;
  /**
   * Refuse numeric times below 1973-03-03 as seconds given for milliseconds (default true). Off for
   * times already in milliseconds by construction (rows the evaluation harness parsed itself).
   */
  readonly refuseSeconds?: boolean;
}

export type ValidationResult =
  | { readonly ok: true; readonly event: InteractionEvent }
  | { readonly ok: false; readonly problems: readonly Problem[] };

export interface EventValidator {
  (raw: unknown): ValidationResult;
  readonly types: ReadonlySet<string>;
}

const MAX_ID_LENGTH = 512;
/** Context is what features group by, stored with every event: a 30 MB value was taken into the log. */
const MAX_CONTEXT_VALUE_LENGTH = 4096;
const MAX_CONTEXT_KEYS = 64;
/**
 * A number of milliseconds below this (1973-03-03) is a time in seconds: every second of the years
 * 1973–5138 is below it. Times given as ISO text are not judged (they carry their own unit).
 */
export const SECONDS_LIKE_BELOW = 1e11;
export const ISO_LIKE = /^\s*\d{4}-\d{2}-\d{2}/;
const WIRE_KEYS: ReadonlySet<string> = new Set(['event_id', 'user_id', 'item_id', 'ts', 'type', 'value', 'duration', 'context']);

export function createEventValidator(options: ValidationOptions = {}): EventValidator {
  const types = new Set<string>([...BUILTIN_EVENT_TYPES, ...(options.extraTypes ?? [])]);
  const typeList = [...types].join(', ');
  const maxFuture = options.maxFutureMs ?? DAY_MS;
  const refuseSeconds = options.refuseSeconds ?? true;
  const now = options.now;

  const validate = (raw: unknown): ValidationResult => {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
      return { ok: false, problems: [{ path: '(event)', message: `expected a JSON object, got ${describe(raw)}`, fix: 'send one object per event with event_id, user_id, item_id, ts and type' }] };
    }
    const r = raw as Record<string, unknown>;
    const problems: Problem[] = [];
    // An unknown key would be dropped silently; naming it keeps a typo ("valu") from losing data.
    for (const key of Object.keys(r)) {
      if (!WIRE_KEYS.has(key)) problems.push({ path: key, message: 'is not an event field', fix: `move it into context (e.g. "context": {"${key}": ...}) or rename it to one of: ${[...WIRE_KEYS].join(', ')}` });
    }

    const eventId = idField(r, 'event_id', problems, true);
    const userId = idField(r, 'user_id', problems, true);
    const type = r['type'];
    if (typeof type !== 'string' || type === '') {
      problems.push({ path: 'type', message: type === undefined ? 'is missing' : `must be a string, got ${describe(type)}`, fix: `set type to one of: ${typeList}` });
    } else if (!types.has(type)) {
      problems.push({ path: 'type', message: `'${type}' is not a known event type`, fix: `use one of: ${typeList}, or declare it: extraTypes in defineFeatureSet, or --types on recsignal ingest` });
    }
    const itemId = idField(r, 'item_id', problems, type !== 'search');

    let ts: number | undefined;
    if (r['ts'] === undefined || r['ts'] === null || r['ts'] === '') {
      problems.push({ path: 'ts', message: 'is missing', fix: 'give the event time as milliseconds since the epoch or an ISO-8601 string with a zone, e.g. 2024-05-01T12:00:00Z' });
    } else {
      ts = tryParseInstant(r['ts']);
      if (ts === undefined) {
        problems.push({ path: 'ts', message: `${describe(r['ts'])} is not a time`, fix: 'use whole milliseconds since the epoch or an ISO-8601 string with a zone (Z or +hh:mm)' });
      } else if (ts < 0) {
        problems.push({ path: 'ts', message: `${ts} is before 1970-01-01`, fix: 'check the unit: ts is milliseconds since the epoch, UTC' });
        ts = undefined;
      } else if (refuseSeconds && ts < SECONDS_LIKE_BELOW && !(typeof r['ts'] === 'string' && ISO_LIKE.test(r['ts']))) {
        // Seconds × 1000 is the fix only when it is a time that would be taken (not in the future).
        const asMs = ts * 1000;
        const taken = asMs <= (now ?? Date.now()) + maxFuture;
        problems.push({
          path: 'ts',
          message: `${ts} is ${isoTime(ts)}: ${taken ? 'it looks like seconds since the epoch' : 'too early for an event, and too late as seconds'}`,
          fix: taken ? `ts is milliseconds since the epoch: send ${asMs} (seconds × 1000), or an ISO-8601 time with a zone` : 'ts is milliseconds since the epoch, UTC: check how the sender writes its times, or send an ISO-8601 time with a zone',
        });
        ts = undefined;
      } else {
        const at = now ?? Date.now();
        if (ts > at + maxFuture) {
          problems.push({ path: 'ts', message: `${isoTime(ts)} is in the future: more than ${formatDuration(maxFuture)} past now (${isoTime(at)})`, fix: 'check the unit (milliseconds, not microseconds) and the clock of the sender' });
          ts = undefined;
        }
      }
    }

    const value = numberField(r, 'value', problems, false);
    const duration = numberField(r, 'duration', problems, true);
    if (type === 'rating' && (r['value'] === undefined || r['value'] === null)) {
      problems.push({ path: 'value', message: 'is missing on a rating', fix: 'put the rating in value, e.g. "value": 4' });
    }

    const context = contextField(r['context'], problems);

    if (problems.length > 0 || eventId === undefined || userId === undefined || ts === undefined || typeof type !== 'string') {
      return { ok: false, problems };
    }
    return {
      ok: true,
      event: { eventId, userId, itemId: itemId ?? null, ts, type, value: value ?? null, duration: duration ?? null, context },
    };
  };
  return Object.assign(validate, { types: types as ReadonlySet<string> });
}

function idField(r: Record<string, unknown>, key: string, problems: Problem[], required: boolean): string | undefined {
  const v = r[key];
  if (v === undefined || v === null || v === '') {
    if (required) problems.push({ path: key, message: 'is missing', fix: `give every event a non-empty string ${key}` });
    return undefined;
  }
  if (typeof v !== 'string') {
    problems.push({ path: key, message: `must be a string, got ${describe(v)}`, fix: `send ${key} as a JSON string, e.g. "${key}": "${String(v)}"` });
    return undefined;
  }
  if (v.trim() === '') {
    problems.push({ path: key, message: `is only white space (${JSON.stringify(v)})`, fix: `give a ${key} with visible characters${required ? '' : ', or leave it out'}` });
    return undefined;
  }
  if (v.length > MAX_ID_LENGTH) {
    problems.push({ path: key, message: `is ${v.length} characters long`, fix: `keep ids under ${MAX_ID_LENGTH} characters` });
    return undefined;
  }
  if (v.includes(KEY_SEPARATOR)) {
    problems.push(separatorProblem(key));
    return undefined;
  }
  if (LONE_SURROGATE.test(v)) {
    problems.push(surrogateProblem(key));
    return undefined;
  }
  return v;
}

/**
 * The largest |value| or duration an event may carry. Aggregates sum values and their squares: at
 * 1e308 two events overflowed to Infinity, served as null with status PRESENT. Below 1e12 the sum
 * of squares of a billion events is still finite (1e33), and no rating or watch time comes near.
 */
const MAX_MAGNITUDE = 1e12;

function numberField(r: Record<string, unknown>, key: string, problems: Problem[], positive: boolean): number | undefined {
  const v = r[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    problems.push({ path: key, message: `must be a finite number, got ${describe(v)}`, fix: `send ${key} as a JSON number or leave it out` });
    return undefined;
  }
  if (Math.abs(v) > MAX_MAGNITUDE) {
    problems.push({ path: key, message: `is ${v}, beyond the ±1e12 an event may carry`, fix: `send ${key} in its usual unit (a rating, seconds); a sum of such values would overflow to a non-number` });
    return undefined;
  }
  if (positive && v <= 0) {
    problems.push({ path: key, message: `must be positive, got ${v}`, fix: `give the item's length in seconds, or leave ${key} out` });
    return undefined;
  }
  return v;
}

function contextField(v: unknown, problems: Problem[]): Record<string, ContextValue> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) {
    problems.push({ path: 'context', message: `must be an object, got ${describe(v)}`, fix: 'send context as an object, e.g. {"device": "tv"}' });
    return {};
  }
  const out: Record<string, ContextValue> = {};
  const entries = Object.entries(v as Record<string, unknown>);
  if (entries.length > MAX_CONTEXT_KEYS) {
    problems.push({ path: 'context', message: `has ${entries.length} keys`, fix: `keep context to at most ${MAX_CONTEXT_KEYS} keys: what features are keyed or filtered by (device, country, ...)` });
    return {};
  }
  for (const [k, x] of entries) {
    if (k.length > MAX_ID_LENGTH) {
      problems.push({ path: `context.${k.slice(0, 40)}…`, message: `is a key ${k.length} characters long`, fix: `keep context keys under ${MAX_ID_LENGTH} characters` });
      continue;
    }
    if (typeof x === 'string' && x.length > MAX_CONTEXT_VALUE_LENGTH) {
      problems.push({ path: `context.${k}`, message: `is ${x.length} characters long`, fix: `keep context values under ${MAX_CONTEXT_VALUE_LENGTH} characters: they are what features group by (a device, a country, a query), stored with every event` });
      continue;
    }
    if (x === null || typeof x === 'string' || typeof x === 'boolean' || (typeof x === 'number' && Number.isFinite(x))) {
      if ((k === 'device' || k === 'country' || k === 'session_id') && x !== null && typeof x !== 'string') {
        problems.push({ path: `context.${k}`, message: `must be a string, got ${describe(x)}`, fix: `send context.${k} as a string` });
        continue;
      }
      if (typeof x === 'string' && x.includes(KEY_SEPARATOR)) {
        problems.push(separatorProblem(`context.${k}`));
        continue;
      }
      if (typeof x === 'string' && LONE_SURROGATE.test(x)) {
        problems.push(surrogateProblem(`context.${k}`));
        continue;
      }
      out[k] = x;
    } else {
      problems.push({ path: `context.${k}`, message: `must be a string, number, boolean or null, got ${describe(x)}`, fix: 'flatten nested context values into their own keys' });
    }
  }
  return out;
}

/** Half of a UTF-16 surrogate pair, alone (JSON's "\ud800"): not text, and not writable as UTF-8. */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * UTF-8 (Redis keys, Parquet, snapshot files) writes a lone surrogate as U+FFFD, so "u\ud800" and
 * "u\udc00" would become one user in the online store and another two in process.
 */
function surrogateProblem(path: string): Problem {
  return { path, message: 'holds half of a UTF-16 surrogate pair on its own (e.g. "\\ud800"), which is not text and cannot be stored as UTF-8', fix: 'send ids and context values as valid Unicode text' };
}

function separatorProblem(path: string): Problem {
  return { path, message: 'contains the NUL character (U+0000), which joins the columns of composite keys', fix: 'remove control characters from ids and context values' };
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `'${v.length > 40 ? `${v.slice(0, 40)}…` : v}'`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

/** One line per rejected event: `field: message (fix: ...)` joined by `; `. */
export function reasonOf(problems: readonly Problem[]): string {
  return problems.map((p) => `${p.path}: ${p.message} (fix: ${p.fix})`).join('; ');
}
