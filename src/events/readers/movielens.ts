/**
 * @module The MovieLens 100K reader: u.data as rating events, and u.item / u.user / u.genre as
 * item and user metadata. u.item is ISO-8859-1 (titles such as "Misérables, Les (1995)").
 */
import { readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { RecsignalError } from '../../core/errors.ts';
import type { ItemMetadata, UserMetadata } from '../schema.ts';
import { checkInput, NOT_UTF8_FIX, readLines } from './lines.ts';
import { positionOf, problemRecord, type RawRecord } from './raw-record.ts';

const GET_DATA = 'give the folder unzipped from https://files.grouplens.org/datasets/movielens/ml-100k.zip (it holds u.data, u.item, u.user, u.genre)';
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const INTEGER = /^\d+$/;

/** The folder itself, or the folder of a u.data path. */
async function folderOf(path: string): Promise<string> {
  const isFile = await stat(path).then((s) => s.isFile(), () => false);
  const folder = isFile ? dirname(path) : path;
  await checkInput(folder, 'folder', GET_DATA);
  return folder;
}

/**
 * One rating event per line of u.data (`user \t item \t rating \t unix seconds`). The event id
 * `ml:<user>:<item>:<seconds>` is deterministic and unique: u.data has one row per (user, item).
 */
export async function* readMovieLens(path: string): AsyncGenerator<RawRecord> {
  const folder = await folderOf(path);
  const file = join(folder, 'u.data');
  await checkInput(file, 'file', GET_DATA);
  for await (const { line, text, invalid } of readLines(file)) {
    if (text.trim() === '') continue;
    const position = positionOf(file, line);
    if (invalid !== undefined) {
      yield problemRecord(position, [{ path: 'row', message: invalid, fix: NOT_UTF8_FIX }], text);
      continue;
    }
    const f = text.split('\t');
    if (f.length !== 4) {
      yield problemRecord(position, [{ path: 'row', message: `has ${f.length} tab-separated fields, expected 4 (user, item, rating, unix seconds)`, fix: 'restore the line from the original ml-100k.zip' }], text);
      continue;
    }
    const [user, item, rating, seconds] = f as [string, string, string, string];
    yield {
      position,
      raw: {
        event_id: `ml:${user}:${item}:${seconds}`,
        user_id: user,
        item_id: item,
        // Left as text when malformed, so that validation names the field.
        ts: INTEGER.test(seconds) ? Number(seconds) * 1000 : seconds,
        type: 'rating',
        value: INTEGER.test(rating) ? Number(rating) : rating,
      },
    };
  }
}

/** The metadata an evaluation's data source carries: a MovieLens folder's u.item and u.user; none for other formats. */
export async function sourceMetadata(source: { readonly path: string; readonly format: string } | undefined): Promise<{ items: ItemMetadata[]; users: UserMetadata[] } | undefined> {
  return source?.format === 'movielens' ? readMovieLensMetadata(source.path) : undefined;
}

export async function readMovieLensMetadata(path: string): Promise<{ items: ItemMetadata[]; users: UserMetadata[] }> {
  const folder = await folderOf(path);
  // u.genre lists `name|flag index`; the flags of u.item follow that index.
  const genres = (await table(folder, 'u.genre', 2))
    .map(({ fields }) => ({ name: fields[0] as string, index: Number(fields[1]) }))
    .sort((a, b) => a.index - b.index)
    .map((g) => g.name);
  if (genres.length !== 19) {
    throw new RecsignalError('INVALID_INPUT', `${join(folder, 'u.genre')}: has ${genres.length} genres, expected 19; ${GET_DATA}`);
  }
  const items = (await table(folder, 'u.item', 5 + genres.length)).map(({ fields, where }): ItemMetadata => {
    const released = releaseDate(fields[2] as string, where);
    return {
      itemId: fields[0] as string,
      title: fields[1] === '' ? null : (fields[1] as string),
      year: released === null ? null : new Date(released).getUTCFullYear(),
      genres: genres.filter((_, g) => fields[5 + g] === '1'),
      releaseTs: released,
      duration: null,
    };
  });
  const users = (await table(folder, 'u.user', 5)).map(({ fields }): UserMetadata => ({
    userId: fields[0] as string,
    age: INTEGER.test(fields[1] as string) ? Number(fields[1]) : null,
    gender: fields[2] === '' ? null : (fields[2] as string),
    occupation: fields[3] === '' ? null : (fields[3] as string),
    // u.user has a zip code, not a country.
    country: null,
  }));
  return { items, users };
}

/** The `|`-separated lines of a small file, decoded as latin1 (u.item is ISO-8859-1; the others are ASCII). */
async function table(folder: string, name: string, width: number): Promise<{ fields: string[]; where: string }[]> {
  const file = join(folder, name);
  await checkInput(file, 'file', GET_DATA);
  const rows: { fields: string[]; where: string }[] = [];
  (await readFile(file, 'latin1')).split(/\r?\n/).forEach((text, i) => {
    if (text.trim() === '') return;
    const fields = text.split('|');
    const where = `${name}:${i + 1}`;
    if (fields.length !== width) {
      throw new RecsignalError('INVALID_INPUT', `${where}: has ${fields.length} '|'-separated fields, expected ${width}; restore the file from ml-100k.zip`);
    }
    rows.push({ fields, where });
  });
  return rows;
}

/** `01-Jan-1995` (one line has `4-Feb-1971`) → ms at UTC midnight; null when empty. */
function releaseDate(text: string, where: string): number | null {
  if (text === '') return null;
  const m = /^(\d{1,2})-([A-Z][a-z]{2})-(\d{4})$/.exec(text);
  const month = m === null ? -1 : MONTHS.indexOf(m[2] as string);
  if (m === null || month < 0) {
    throw new RecsignalError('INVALID_INPUT', `${where}: release date '${text}' is not like 01-Jan-1995; restore the file from ml-100k.zip`);
  }
  return Date.UTC(Number(m[3]), month, Number(m[1]));
}
