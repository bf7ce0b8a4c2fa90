/**
 * @module The JSONL reader: one wire-shape JSON object per line, streamed; blank lines skipped, a
 * line that is not JSON becomes a problems record. `--map` renames top-level keys (a target may be
 * `context.<key>`); other keys pass through untouched, since JSONL already is the wire shape.
 */
import { basename } from 'node:path';
import { checkMap, type ColumnMap } from './columns.ts';
import { checkInput, NOT_UTF8_FIX, readLines, type Line } from './lines.ts';
import { positionOf, problemRecord, type RawRecord } from './raw-record.ts';

export interface JsonlReaderOptions {
  readonly map?: ColumnMap | undefined;
}

/**
 * How many objects are read ahead to learn the keys a `--map` may name: keys can be absent from a
 * line (optional fields), so the first line alone would reject a valid map.
 */
const MAP_LOOKAHEAD = 100;

type Parsed = { readonly line: Line; readonly value: unknown } | { readonly line: Line; readonly error: string; readonly fix?: string };

export async function* readJsonl(path: string, options: JsonlReaderOptions = {}): AsyncGenerator<RawRecord> {
  await checkInput(path, 'file', 'give the path of a JSONL file (one JSON object per line)');
  const map = options.map ?? {};
  const mapped = Object.keys(map).length > 0;
  const lines = readLines(path);
  try {
    const ahead: Parsed[] = [];
    if (mapped) {
      const keys = new Set<string>();
      let objects = 0;
      while (objects < MAP_LOOKAHEAD) {
        const next = await lines.next();
        if (next.done) break;
        const p = parse(next.value);
        if (p === undefined) continue;
        ahead.push(p);
        if ('value' in p && isObject(p.value)) {
          objects += 1;
          for (const k of Object.keys(p.value)) keys.add(k);
        }
      }
      // With no object to learn from (empty file, every line broken) the map cannot be checked.
      if (objects > 0) checkMap(map, [...keys].sort(), `${basename(path)} (keys of its first ${objects} objects)`);
      else checkMap(map, Object.keys(map), basename(path));
    }
    for (const p of ahead) yield toRecord(path, p, map, mapped);
    for (;;) {
      const next = await lines.next();
      if (next.done) break;
      const p = parse(next.value);
      if (p !== undefined) yield toRecord(path, p, map, mapped);
    }
  } finally {
    await lines.return(undefined);
  }
}

function parse(line: Line): Parsed | undefined {
  if (line.text.trim() === '') return undefined;
  if (line.invalid !== undefined) return { line, error: line.invalid, fix: NOT_UTF8_FIX };
  try {
    return { line, value: JSON.parse(line.text) };
  } catch (e) {
    return { line, error: (e as Error).message };
  }
}

function toRecord(path: string, p: Parsed, map: ColumnMap, mapped: boolean): RawRecord {
  const position = positionOf(path, p.line.line);
  if ('error' in p && p.fix !== undefined) return problemRecord(position, [{ path: '(line)', message: p.error, fix: p.fix }], p.line.text);
  if ('error' in p) {
    return problemRecord(
      position,
      [{ path: '(line)', message: `is not valid JSON: ${p.error}`, fix: 'write one complete JSON object per line, e.g. {"event_id":"e1","user_id":"u1","item_id":"i1","ts":1714560000000,"type":"play"}; a line break inside a string must be written \\n' }],
      p.line.text,
    );
  }
  return { position, raw: mapped && isObject(p.value) ? rename(p.value, map) : p.value };
}

function rename(obj: Record<string, unknown>, map: ColumnMap): Record<string, unknown> {
  const out: Record<string, unknown> = { ...obj };
  const moved: [string, unknown][] = [];
  for (const [source, target] of Object.entries(map)) {
    if (!Object.hasOwn(obj, source)) continue;
    moved.push([target, obj[source]]);
    delete out[source];
  }
  for (const [target, v] of moved) {
    if (target.startsWith('context.')) {
      const ctx = out['context'];
      // A context that is not an object is left as it is: validation rejects the event and says why.
      if (ctx === undefined || ctx === null) out['context'] = { [target.slice('context.'.length)]: v };
      else if (isObject(ctx)) out['context'] = { ...ctx, [target.slice('context.'.length)]: v };
    } else {
      out[target] = v;
    }
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
