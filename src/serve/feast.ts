/**
 * @module Feast feature-server compatibility: `/get-online-features` (columnar entities in,
 * `metadata.feature_names` and one result column per name out, join keys first) and `/push`
 * (a columnar `df` mapped to events). Shapes follow feast `feature_server.py` and
 * `ServingService.proto` exactly.
 */
import { createHash } from 'node:crypto';
import type { Problem } from '../core/errors.ts';
import type { FeatureValue } from '../features/ir.ts';
import { invalidInput } from './http-errors.ts';
import type { RowColumns } from './fetch.ts';
import type { Destination, IntakeItem } from './intake.ts';
import type { Fields, Status } from './online-state.ts';
import { TIME_DERIVED_KEYS } from '../plan/rows.ts';
import { REQUEST_VIEW, type Selection, type ServingPlan } from './plan.ts';
import { describe } from './requests.ts';

export const MAX_ENTITY_ROWS = 10_000;

export interface OnlineFeaturesRequest {
  readonly features: readonly string[];
  readonly rows: Fields[];
  /** The entity columns that are join keys, in request order: the first result columns. */
  readonly joinKeys: readonly string[];
  readonly columns: Readonly<Record<string, readonly (string | number | null)[]>>;
  readonly fullFeatureNames: boolean;
}

/** Feast's `FieldStatus`; `INVALID` ("status is unset") is what recsignal's UNAVAILABLE becomes. */
export type FeastStatus = 'PRESENT' | 'NOT_FOUND' | 'NULL_VALUE' | 'OUTSIDE_MAX_AGE' | 'INVALID';

export interface FeastColumn {
  readonly values: FeatureValue[];
  readonly statuses: FeastStatus[];
  readonly event_timestamps: string[];
}

export interface OnlineFeaturesResponse {
  readonly metadata: { readonly feature_names: readonly string[] };
  readonly results: readonly FeastColumn[];
}

export function parseOnlineFeaturesRequest(body: unknown, plan: ServingPlan): OnlineFeaturesRequest {
  const problems: Problem[] = [];
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw invalidInput('bad /get-online-features request', [{ path: '(body)', message: `expected a JSON object, got ${describe(body)}`, fix: 'send {"features": ["view:feature"], "entities": {"user_id": ["u1"]}}' }]);
  }
  const b = body as Record<string, unknown>;
  const features = b['features'];
  // Feast reads feature_service when it is set; recsignal has no feature services, so a request
  // naming one is served only when it lists its features too (read as Feast reads a request without one).
  if (b['feature_service'] !== undefined && features === undefined) {
    problems.push({ path: 'feature_service', message: 'feature services are not supported by recsignal', fix: 'list the feature refs in "features" instead (GET /v1/feature-views lists them)' });
  } else if (!Array.isArray(features) || features.length === 0 || features.some((f) => typeof f !== 'string')) {
    problems.push({ path: 'features', message: features === undefined ? 'is missing' : 'must be a non-empty array of strings', fix: 'send feature refs as "view:feature", e.g. ["item_popularity:play_count_7d"]' });
  }
  const full = b['full_feature_names'];
  if (full !== undefined && typeof full !== 'boolean') problems.push({ path: 'full_feature_names', message: `must be a boolean, got ${describe(full)}`, fix: 'send true or false' });
  const entities = b['entities'];
  const columns: Record<string, (string | number | null)[]> = {};
  let rows = 0;
  if (entities === null || typeof entities !== 'object' || Array.isArray(entities) || Object.keys(entities).length === 0) {
    problems.push({ path: 'entities', message: entities === undefined ? 'is missing' : `must be an object of equal-length columns, got ${describe(entities)}`, fix: 'send columns of join keys (and request data), e.g. {"user_id": ["u1", "u2"], "item_id": ["i1", "i2"]}' });
  } else {
    let first: string | undefined;
    for (const [k, col] of Object.entries(entities as Record<string, unknown>)) {
      if (!Array.isArray(col)) {
        problems.push({ path: `entities.${k}`, message: `must be an array (a column), got ${describe(col)}`, fix: `send e.g. "${k}": ["a", "b"]` });
        continue;
      }
      if (first === undefined) {
        first = k;
        rows = col.length;
      } else if (col.length !== rows) {
        problems.push({ path: `entities.${k}`, message: `has ${col.length} values but entities.${first} has ${rows}`, fix: 'give every entity column one value per row' });
        continue;
      }
      const bad = col.findIndex((x) => !(x === null || typeof x === 'string' || (typeof x === 'number' && Number.isFinite(x))));
      if (bad >= 0) problems.push({ path: `entities.${k}[${bad}]`, message: `must be a string, a number or null, got ${describe(col[bad])}`, fix: 'send entity keys as strings (or numbers)' });
      else columns[k] = col as (string | number | null)[];
    }
    if (rows > MAX_ENTITY_ROWS) problems.push({ path: 'entities', message: `has ${rows} rows, more than ${MAX_ENTITY_ROWS}`, fix: `split the request: at most ${MAX_ENTITY_ROWS} rows per call` });
  }
  if (problems.length > 0) throw invalidInput('bad /get-online-features request', problems);
  const names = Object.keys(columns);
  const fieldRows: Fields[] = [];
  for (let i = 0; i < rows; i++) {
    const f: Fields = {};
    for (const k of names) f[k] = (columns[k] as (string | number | null)[])[i] ?? null;
    fieldRows.push(f);
  }
  return { features: features as string[], rows: fieldRows, joinKeys: names.filter((k) => plan.joinKeys.has(k)), columns, fullFeatureNames: full === true };
}

/** The output name of a ref: `feature`, or `view__feature` with full_feature_names (request features: `request_features__name`). */
export function feastName(ref: string, full: boolean): string {
  const i = ref.indexOf(':');
  return full ? `${ref.slice(0, i)}__${ref.slice(i + 1)}` : ref.slice(i + 1);
}

/** Feast refuses two outputs of one name; so do we, saying how to fix it. */
export function checkNameCollisions(sel: Selection, full: boolean, joinKeys: readonly string[]): void {
  const seen = new Map<string, string>();
  for (const k of joinKeys) seen.set(k, `entities.${k}`);
  const problems: Problem[] = [];
  for (const r of sel.refs) {
    const name = feastName(r.ref, full);
    const other = seen.get(name);
    if (other !== undefined) problems.push({ path: 'features', message: `'${r.ref}' and '${other}' are both named '${name}'`, fix: 'set "full_feature_names": true to name outputs view__feature' });
    else seen.set(name, r.ref);
  }
  if (problems.length > 0) throw invalidInput('feature name collision', problems);
}

/**
 * Every entity column the selection reads must be sent: a view's join keys (time-derived ones such
 * as `hour_bucket` come from the request time) and the request data of the requested on-demand
 * features (`request:<field>`; `ts` is the request time). Feast refuses a request that lacks them
 * too; answering NOT_FOUND instead would pass a client's bug off as a cold entity.
 */
export function checkEntityColumns(sel: Selection, columns: Readonly<Record<string, unknown>>): void {
  const needs = new Map<string, string[]>();
  const need = (key: string, ref: string) => {
    if (key in columns || TIME_DERIVED_KEYS[key] !== undefined || key === 'ts') return;
    const refs = needs.get(key) ?? [];
    if (!refs.includes(ref)) refs.push(ref);
    needs.set(key, refs);
  };
  for (const r of sel.refs) {
    if (r.view !== null) for (const k of r.view.keys) need(k, r.ref);
  }
  for (const f of sel.crosses?.ir.requestFeatures ?? []) {
    const ref = `${REQUEST_VIEW}:${f.name}`;
    for (const input of Object.values(f.inputs)) {
      if (input.startsWith('request:')) need(input.slice('request:'.length), ref);
      else for (const k of viewKeysOf(sel, input)) need(k, ref);
    }
  }
  if (needs.size === 0) return;
  throw invalidInput(
    'missing entity columns',
    [...needs].map(([key, refs]) => ({
      path: `entities.${key}`,
      message: `is missing: ${refs.slice(0, 5).join(', ')}${refs.length > 5 ? ` and ${refs.length - 5} more` : ''} ${refs.length === 1 ? 'reads' : 'read'} it`,
      fix: `send a column "${key}" with one value per row (null for a row without one), or leave those features out`,
    })),
  );
}

/** The join keys of the view an input ref reads (the selection reads it: a cross's input need not be a requested ref). */
function viewKeysOf(sel: Selection, input: string): readonly string[] {
  const view = input.slice(0, input.indexOf(':'));
  return [...sel.onceViews, ...sel.itemViews].find((v) => v.view.name === view)?.keys ?? [];
}

const EPOCH = '1970-01-01T00:00:00Z';

/** RFC 3339 in UTC as protobuf's JSON mapping writes a Timestamp: no fraction when whole seconds. */
export function rfc3339(ms: number): string {
  const iso = new Date(ms).toISOString();
  return ms % 1000 === 0 ? `${iso.slice(0, 19)}Z` : iso;
}

export function onlineFeaturesResponse(req: OnlineFeaturesRequest, sel: Selection, cols: RowColumns): OnlineFeaturesResponse {
  const n = req.rows.length;
  const epochs = new Array<string>(n).fill(EPOCH);
  const results: FeastColumn[] = req.joinKeys.map((k) => ({ values: [...(req.columns[k] ?? [])], statuses: new Array<FeastStatus>(n).fill('PRESENT'), event_timestamps: epochs }));
  sel.refs.forEach((r, j) => {
    const values = cols.values[j] as FeatureValue[];
    const statuses = cols.statuses[j] as Status[];
    const ts = cols.eventTs[j] as (number | null)[];
    const out: FeastColumn = { values: new Array(n), statuses: new Array(n), event_timestamps: new Array(n) };
    for (let i = 0; i < n; i++) {
      const s = statuses[i] as Status;
      const v = values[i] ?? null;
      // Feast returns no value for an entity it does not know; recsignal's default is in /v1/features.
      // A store that did not answer knows neither way: INVALID (unset), no value, never NOT_FOUND.
      out.values[i] = s === 'NOT_FOUND' || s === 'UNAVAILABLE' ? null : v;
      out.statuses[i] = s === 'NOT_FOUND' ? 'NOT_FOUND' : s === 'UNAVAILABLE' ? 'INVALID' : s === 'STALE' ? 'OUTSIDE_MAX_AGE' : v === null ? 'NULL_VALUE' : 'PRESENT';
      const t = ts[i];
      out.event_timestamps[i] = t === null || t === undefined ? EPOCH : rfc3339(t);
    }
    results.push(out);
  });
  return { metadata: { feature_names: [...req.joinKeys, ...sel.refs.map((r) => feastName(r.ref, req.fullFeatureNames))] }, results };
}

export interface PushRequest {
  readonly source: string;
  readonly to: Destination;
  readonly items: IntakeItem[];
}

const EVENT_COLUMNS = new Set(['event_id', 'user_id', 'item_id', 'type', 'value', 'duration', 'ts']);
const ID_COLUMNS = new Set(['event_id', 'user_id', 'item_id']);
const IGNORED_COLUMNS = new Set(['created', 'created_timestamp']);
const DESTINATIONS: readonly Destination[] = ['online', 'offline', 'online_and_offline'];

/**
 * Maps a push's columnar `df` to events, row by row: event_id, user_id, item_id, type, value,
 * duration and ts go to the event; `event_timestamp` is the time when there is no ts (a string
 * without a zone is UTC, as pandas writes it); `created` is ignored; `context.<key>` and every other
 * column go to the context. A row without event_id gets one derived from its content, so a retried
 * push is a duplicate, not a second event.
 */
export function parsePush(body: unknown): PushRequest {
  const problems: Problem[] = [];
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw invalidInput('bad /push request', [{ path: '(body)', message: `expected a JSON object, got ${describe(body)}`, fix: 'send {"push_source_name": "events", "df": {"user_id": ["u1"], ...}, "to": "online"}' }]);
  }
  const b = body as Record<string, unknown>;
  const source = b['push_source_name'];
  if (typeof source !== 'string' || source === '') problems.push({ path: 'push_source_name', message: source === undefined ? 'is missing' : `must be a non-empty string, got ${describe(source)}`, fix: 'name the push source, e.g. "events" (every view reads the one event stream)' });
  const to = b['to'] ?? 'online';
  if (!DESTINATIONS.includes(to as Destination)) problems.push({ path: 'to', message: `${describe(to)} is not a destination`, fix: `use one of: ${DESTINATIONS.join(', ')}` });
  const df = b['df'];
  let rows = 0;
  const cols: [string, unknown[]][] = [];
  if (df === null || typeof df !== 'object' || Array.isArray(df) || Object.keys(df).length === 0) {
    problems.push({ path: 'df', message: df === undefined ? 'is missing' : `must be an object of equal-length columns, got ${describe(df)}`, fix: 'send columns, e.g. {"user_id": ["u1"], "item_id": ["i1"], "type": ["play"], "event_timestamp": ["2024-01-01 10:00:00+00:00"]}' });
  } else {
    for (const [k, col] of Object.entries(df as Record<string, unknown>)) {
      if (!Array.isArray(col)) {
        problems.push({ path: `df.${k}`, message: `must be an array (a column), got ${describe(col)}`, fix: `send e.g. "${k}": [...]` });
        continue;
      }
      if (cols.length === 0) rows = col.length;
      else if (col.length !== rows) {
        problems.push({ path: `df.${k}`, message: `has ${col.length} values but df.${(cols[0] as [string, unknown[]])[0]} has ${rows}`, fix: 'give every column one value per row' });
        continue;
      }
      cols.push([k, col]);
    }
  }
  if (problems.length > 0) throw invalidInput('bad /push request', problems);
  const items: IntakeItem[] = [];
  for (let i = 0; i < rows; i++) {
    const raw: Record<string, unknown> = {};
    const context: Record<string, unknown> = {};
    let eventTimestamp: unknown;
    for (const [k, col] of cols) {
      const v = col[i];
      if (v === null || v === undefined || IGNORED_COLUMNS.has(k)) continue;
      // Feast's pushes carry integer entity keys as numbers (its tests push "driver_id": [123]); ids here are text.
      if (ID_COLUMNS.has(k) && typeof v === 'number' && Number.isSafeInteger(v)) raw[k] = String(v);
      else if (EVENT_COLUMNS.has(k)) raw[k] = v;
      else if (k === 'event_timestamp') eventTimestamp = v;
      else if (k === 'context' && typeof v === 'object' && !Array.isArray(v)) Object.assign(context, v);
      else context[k.startsWith('context.') ? k.slice(8) : k] = v;
    }
    if (raw['ts'] === undefined && eventTimestamp !== undefined) raw['ts'] = typeof eventTimestamp === 'string' ? withZone(eventTimestamp) : eventTimestamp;
    if (Object.keys(context).length > 0) raw['context'] = context;
    if (raw['event_id'] === undefined) raw['event_id'] = `push-${createHash('sha256').update(`${source as string}\u0000${JSON.stringify(raw)}`).digest('hex').slice(0, 24)}`;
    items.push({ raw });
  }
  return { source: source as string, to: to as Destination, items };
}

/** pandas writes naive UTC times ("2022-05-13 10:59:42"): read them as UTC. */
function withZone(s: string): string {
  const t = s.trim();
  return /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?$/.test(t) ? `${t}Z` : t;
}
