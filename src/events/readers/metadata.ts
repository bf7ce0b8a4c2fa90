/**
 * @module Item and user metadata files: JSONL with snake_case keys, one item or user a line. Every
 * row is checked and all problems are reported together, each naming file:line, the field and the fix.
 */
import { basename } from 'node:path';
import { RecsignalError, formatProblems, type Problem } from '../../core/errors.ts';
import { tryParseInstant } from '../../core/time.ts';
import type { ItemMetadata, UserMetadata } from '../schema.ts';
import { checkInput, NOT_UTF8_FIX, readLines } from './lines.ts';

const ITEM_KEYS = ['item_id', 'title', 'year', 'genres', 'release_ts', 'duration'] as const;
const USER_KEYS = ['user_id', 'age', 'gender', 'occupation', 'country'] as const;
/** Problems listed in the error message; the error's `problems` keeps up to MAX_KEPT. */
const MAX_LISTED = 20;
const MAX_KEPT = 1000;

/** Reads `{"item_id", "title", "year", "genres": [...], "release_ts", "duration"}` lines; only item_id is required. */
export async function readItemsFile(path: string): Promise<ItemMetadata[]> {
  return readMetadata(path, 'item', ITEM_KEYS, (check) => ({
    itemId: check.id('item_id'),
    title: check.text('title'),
    year: check.number('year', 'a whole year such as 1995', (n) => Number.isInteger(n) && n >= 0),
    genres: check.genres(),
    releaseTs: check.instant('release_ts'),
    duration: check.number('duration', 'the length in seconds, a positive number', (n) => n > 0),
  }));
}

/** Reads `{"user_id", "age", "gender", "occupation", "country"}` lines; only user_id is required. */
export async function readUsersFile(path: string): Promise<UserMetadata[]> {
  return readMetadata(path, 'user', USER_KEYS, (check) => ({
    userId: check.id('user_id'),
    age: check.number('age', 'whole years, e.g. 34', (n) => Number.isInteger(n) && n >= 0),
    gender: check.text('gender'),
    occupation: check.text('occupation'),
    country: check.text('country'),
  }));
}

interface Checker {
  id(key: string): string;
  text(key: string): string | null;
  number(key: string, what: string, ok: (n: number) => boolean): number | null;
  instant(key: string): number | null;
  genres(): string[];
}

async function readMetadata<T>(
  path: string,
  what: 'item' | 'user',
  keys: readonly string[],
  build: (check: Checker) => T,
): Promise<T[]> {
  await checkInput(path, 'file', `give the path of a JSONL file with one ${what} a line`);
  const name = basename(path);
  const idKey = `${what}_id`;
  const known = new Set(keys);
  const out: T[] = [];
  const seen = new Map<string, number>();
  const problems: Problem[] = [];
  let count = 0;
  const report = (p: Problem): void => {
    count += 1;
    if (problems.length < MAX_KEPT) problems.push(p);
  };

  for await (const { line, text, invalid } of readLines(path)) {
    if (text.trim() === '') continue;
    const at = `${name}:${line}`;
    if (invalid !== undefined) {
      report({ path: at, message: invalid, fix: NOT_UTF8_FIX });
      continue;
    }
    let row: unknown;
    try {
      row = JSON.parse(text);
    } catch (e) {
      report({ path: at, message: `is not valid JSON: ${(e as Error).message}`, fix: `write one JSON object per line, e.g. {"${idKey}": "42"}` });
      continue;
    }
    if (row === null || typeof row !== 'object' || Array.isArray(row)) {
      report({ path: at, message: 'is not a JSON object', fix: `write one JSON object per line, e.g. {"${idKey}": "42"}` });
      continue;
    }
    const r = row as Record<string, unknown>;
    const before = count;
    const bad = (key: string, message: string, fix: string): void => report({ path: `${at} ${key}`, message, fix });
    for (const k of Object.keys(r)) {
      if (!known.has(k)) bad(k, 'is not a known key', `use only ${keys.join(', ')} (snake_case), or remove it`);
    }
    const check: Checker = {
      id: (key) => {
        const v = r[key];
        if (typeof v === 'string' && v !== '') return v;
        bad(key, v === undefined || v === '' ? 'is missing' : `must be a string, got ${JSON.stringify(v)}`, `give every ${what} a non-empty string ${key}, e.g. "${key}": "${typeof v === 'number' ? v : '42'}"`);
        return '';
      },
      text: (key) => {
        const v = r[key];
        if (v === undefined || v === null) return null;
        if (typeof v === 'string') return v === '' ? null : v;
        bad(key, `must be a string, got ${JSON.stringify(v)}`, `send ${key} as a JSON string or null`);
        return null;
      },
      number: (key, expected, ok) => {
        const v = r[key];
        if (v === undefined || v === null) return null;
        if (typeof v === 'number' && Number.isFinite(v) && ok(v)) return v;
        bad(key, `must be ${expected}, got ${JSON.stringify(v)}`, `send ${key} as a JSON number or null`);
        return null;
      },
      instant: (key) => {
        const v = r[key];
        if (v === undefined || v === null) return null;
        const ms = tryParseInstant(v);
        if (ms !== undefined) return ms;
        bad(key, `${JSON.stringify(v)} is not a time`, 'give milliseconds since the epoch or an ISO-8601 time with a zone, e.g. "1995-01-01T00:00:00Z"');
        return null;
      },
      genres: () => {
        const v = r['genres'];
        if (v === undefined || v === null) return [];
        if (Array.isArray(v) && v.every((g) => typeof g === 'string' && g !== '')) return v as string[];
        bad('genres', `must be an array of non-empty strings, got ${JSON.stringify(v)}`, 'send genres as e.g. ["Comedy", "Drama"], or [] when unknown');
        return [];
      },
    };
    const value = build(check);
    const id = r[idKey];
    if (typeof id === 'string' && id !== '') {
      const first = seen.get(id);
      if (first !== undefined) bad(idKey, `'${id}' already appears on line ${first}`, `give each ${what} one line; merge the two`);
      else seen.set(id, line);
    }
    if (count === before) out.push(value);
  }

  if (count > 0) {
    const listed = formatProblems(problems.slice(0, MAX_LISTED));
    const more = count > MAX_LISTED ? `\n  … and ${count - MAX_LISTED} more` : '';
    throw new RecsignalError('INVALID_INPUT', `${path}: ${count} problem${count === 1 ? '' : 's'} in the ${what} metadata\n${listed}${more}`, { problems });
  }
  return out;
}
