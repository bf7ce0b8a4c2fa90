/**
 * @module Request bodies of the recsignal endpoints, checked field by field: every problem with its
 * path and fix, in one 400. The Feast endpoints have their own module (feast.ts).
 */
import type { Problem } from '../core/errors.ts';
import { isoTime, tryParseInstant } from '../core/time.ts';
import { ISO_LIKE, SECONDS_LIKE_BELOW } from '../events/validate.ts';
import { invalidInput } from './http-errors.ts';
import type { IntakeItem } from './intake.ts';
import type { Fields } from './online-state.ts';

export const MAX_CANDIDATES = 10_000;
const FEATURES_KEYS = new Set(['user_id', 'items', 'features', 'context', 'ts']);
const RESERVED_CONTEXT = new Set(['user_id', 'item_id', 'ts']);

export interface FeaturesBody {
  readonly userId: string;
  readonly items: readonly string[];
  readonly features: readonly string[] | undefined;
  readonly context: Fields;
  readonly ts: number | undefined;
}

export function parseFeaturesBody(body: unknown): FeaturesBody {
  const problems: Problem[] = [];
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw invalidInput('bad /v1/features request', [{ path: '(body)', message: `expected a JSON object, got ${describe(body)}`, fix: 'send {"user_id": "u1", "items": ["i1", "i2"], "features": ["view:feature"], "context": {"device": "tv"}}' }]);
  }
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) {
    if (!FEATURES_KEYS.has(k)) problems.push({ path: k, message: 'is not a field of a features request', fix: `use only: ${[...FEATURES_KEYS].join(', ')}; request data such as device goes in context` });
  }
  const userId = b['user_id'];
  if (typeof userId !== 'string' || userId === '') {
    problems.push({ path: 'user_id', message: userId === undefined ? 'is missing' : `must be a non-empty string, got ${describe(userId)}`, fix: 'send the user id as a JSON string, e.g. "user_id": "u1"' });
  }
  const items = stringList(b['items'], 'items', problems, false, MAX_CANDIDATES, 'candidate item ids, e.g. "items": ["i1", "i2"]');
  const features = stringList(b['features'], 'features', problems, true, Infinity, 'feature refs, e.g. "features": ["item_popularity:play_count_7d"]; leave it out for every feature');
  const context = contextFields(b['context'], 'context', problems);
  let ts: number | undefined;
  if (b['ts'] !== undefined && b['ts'] !== null) {
    ts = tryParseInstant(b['ts']);
    if (ts === undefined || ts < 0) {
      problems.push({ path: 'ts', message: `${describe(b['ts'])} is not a time`, fix: 'give whole milliseconds since the epoch (or an ISO-8601 string with a zone), or leave ts out for now' });
      ts = undefined;
    } else if (ts < SECONDS_LIKE_BELOW && !(typeof b['ts'] === 'string' && ISO_LIKE.test(b['ts']))) {
      // As events' times are checked: read as milliseconds, seconds would answer every feature with its default as of 1970.
      problems.push({ path: 'ts', message: `${ts} is ${isoTime(ts)}: it looks like seconds since the epoch`, fix: `ts is milliseconds since the epoch: send ${ts * 1000} (seconds × 1000), or an ISO-8601 time with a zone` });
      ts = undefined;
    }
  }
  if (problems.length > 0) throw invalidInput('bad /v1/features request', problems);
  return { userId: userId as string, items: items ?? [], features, context, ts };
}

function stringList(v: unknown, path: string, problems: Problem[], nonEmpty: boolean, max: number, what: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) {
    problems.push({ path, message: `must be an array of strings, got ${describe(v)}`, fix: `send ${what}` });
    return undefined;
  }
  if (nonEmpty && v.length === 0) {
    problems.push({ path, message: 'is empty', fix: `send ${what}` });
    return undefined;
  }
  if (v.length > max) {
    problems.push({ path, message: `has ${v.length} entries, more than ${max}`, fix: `split the request: at most ${max} per call` });
    return undefined;
  }
  const bad = v.findIndex((x) => typeof x !== 'string' || x === '');
  if (bad >= 0) {
    problems.push({ path: `${path}[${bad}]`, message: `must be a non-empty string, got ${describe(v[bad])}`, fix: `send ${what}` });
    return undefined;
  }
  return v as string[];
}

/** Request context: flat string / number / null values (they key views such as user × device and feed request features). */
/**
 * A request's context. `reservedFix` says where a reserved key (user_id, item_id, ts) belongs in
 * this route's request: the fix differs by route (`/v1/recommendations` names its user `user` and
 * takes its time from the server's clock).
 */
export function contextFields(v: unknown, path: string, problems: Problem[], reservedFix: (key: string) => string = (k) => `send ${k} at the top level of the request, not in context`): Fields {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) {
    problems.push({ path, message: `must be an object, got ${describe(v)}`, fix: 'send context as an object, e.g. {"device": "tv"}' });
    return {};
  }
  const out: Fields = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (RESERVED_CONTEXT.has(k)) {
      problems.push({ path: `${path}.${k}`, message: 'is not a context field', fix: reservedFix(k) });
    } else if (x === null || typeof x === 'string' || (typeof x === 'number' && Number.isFinite(x))) {
      out[k] = x;
    } else {
      problems.push({ path: `${path}.${k}`, message: `must be a string, a finite number or null, got ${describe(x)}`, fix: 'flatten context into string or number values' });
    }
  }
  return out;
}

/** A `/v1/events` body: a JSON array of events (already parsed), or JSON lines (parsed line by line). */
export function eventItems(body: unknown): IntakeItem[] {
  const items = isNdjson(body) ? body[NDJSON] : Array.isArray(body) ? body.map((raw) => ({ raw })) : undefined;
  if (items === undefined) {
    throw invalidInput('bad /v1/events request', [{
      path: '(body)',
      message: `expected a JSON array of events, got ${describe(body)}`,
      fix: 'wrap events in [ ... ] (a single event too), or send JSON lines with content-type application/x-ndjson',
    }]);
  }
  // Each record is answered (and, rejected, dead-lettered) one by one: a 3 MB body of a million `{}`
  // made a reply too long for one string (a 500 after every record was counted) and a 1.3 GB dead-letter file.
  if (items.length > MAX_EVENTS_PER_BATCH) {
    throw invalidInput('bad /v1/events request', [{
      path: '(body)',
      message: `${items.length} events in one batch, more than ${MAX_EVENTS_PER_BATCH.toLocaleString('en-US')}`,
      fix: `split it into batches of at most ${MAX_EVENTS_PER_BATCH.toLocaleString('en-US')} events (nothing of this one was applied); for bulk loads use recsignal ingest or a Redis stream`,
    }]);
  }
  return items;
}

/** Most events one POST /v1/events takes: every record gets its own line in the reply. */
export const MAX_EVENTS_PER_BATCH = 50_000;

/** Marks a parsed JSON-lines body: no JSON document can carry a symbol key. */
const NDJSON: unique symbol = Symbol('ndjson');

/** A JSON-lines body, parsed: one record per non-blank line. */
export interface NdjsonBody {
  readonly [NDJSON]: IntakeItem[];
}

/** Parses JSON lines; a line that does not parse becomes a rejection of that record, not an error of the batch. */
export function parseNdjson(text: string): NdjsonBody {
  const items: IntakeItem[] = [];
  let line = 0;
  for (const l of text.split('\n')) {
    line++;
    const s = l.trim();
    if (s === '') continue;
    try {
      items.push({ raw: JSON.parse(s) });
    } catch (e) {
      items.push({ problems: [{ path: `(line ${line})`, message: `is not valid JSON (${(e as Error).message})`, fix: 'send one JSON object per line' }], text: s });
    }
  }
  return { [NDJSON]: items };
}

function isNdjson(body: unknown): body is NdjsonBody {
  return body !== null && typeof body === 'object' && NDJSON in body;
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `'${v.length > 40 ? `${v.slice(0, 40)}…` : v}'`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}
