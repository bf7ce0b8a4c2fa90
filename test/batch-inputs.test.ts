/**
 * The batch commands' inputs, from a review: a log or spine under a folder whose name holds glob
 * characters, request features whose views are not computed, spine columns that clash with
 * features, unknown entities, and files that are missing, empty or cannot be written.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { main } from '../src/cli/main.ts';

const FEATURES = 'examples/quickstart/features.ts';
const T0 = Date.UTC(2024, 2, 1);
const root = mkdtempSync(join(tmpdir(), 'rs-batch-inputs-'));
after(() => rmSync(root, { recursive: true, force: true }));

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, (s) => (out += s), (s) => (err += s));
  return { code, out, err };
}

const event = (id: string, user: string, item: string, type: string, ts: number) => JSON.stringify({ event_id: id, user_id: user, item_id: item, type, ts });

/** One CSV line's fields (lists are quoted JSON: "[""i1"",""i2""]"). */
function fields(line: string): string[] {
  return [...line.matchAll(/("(?:[^"]|"")*"|[^,]*)(,|$)/g)].slice(0, -1).map((m) => (m[1] as string).replace(/^"|"$/g, '').replaceAll('""', '"'));
}

/** The value of `column` in the first row of a CSV file. */
function firstRow(path: string, column: string): string | undefined {
  const [header, row] = readFileSync(path, 'utf8').trim().split('\n');
  return fields(row as string)[fields(header as string).indexOf(column)];
}

function csv(path: string, text: string): string {
  writeFileSync(path, text);
  return path;
}

// A folder named like a glob: DuckDB's readers take every path as one.
const dir = join(root, 'runs[2024]*?');
mkdirSync(dir);
const log = join(dir, 'log');

test('a log and a spine under a folder named with [ ] * ? work past the first ingest', async () => {
  for (const [i, day] of [0, 1].entries()) {
    const input = join(dir, `day${i}.jsonl`);
    writeFileSync(input, [event(`a${i}`, 'u1', 'i1', 'play', T0 + day * 86_400_000), event(`b${i}`, 'u1', 'i2', 'play', T0 + day * 86_400_000 + 1000)].join('\n'));
    const r = await run('ingest', input, '--format', 'jsonl', '--log', log);
    assert.equal(r.code, 0, r.err);
  }
  const spine = csv(join(dir, 'spine.csv'), `user_id,item_id,ts\nu1,i1,${T0 + 2 * 86_400_000}\n`);
  const out = join(dir, 'ts.csv');
  const r = await run('training-set', '--features', FEATURES, '--log', log, '--spine', spine, '--out', out);
  assert.equal(r.code, 0, r.err);
  assert.equal(firstRow(out, 'item_stats__play_count_7d'), '2', 'both days of i1 counted');
});

test('--views: request features reading a view left out are left out too, not computed from nulls', async () => {
  const spine = csv(join(dir, 'spine-views.csv'), `user_id,item_id,ts\nu1,i1,${T0 + 2 * 86_400_000}\n`);
  const out = join(dir, 'views.csv');
  const r = await run('training-set', '--features', FEATURES, '--log', log, '--spine', spine, '--out', out, '--views', 'item_stats');
  assert.equal(r.code, 0, r.err);
  const header = (readFileSync(out, 'utf8').split('\n')[0] as string).split(',');
  assert.deepEqual(header, ['user_id', 'item_id', 'ts', 'item_stats__play_count_7d'], 'seen_recently reads user_activity, not computed here');
  const all = join(dir, 'all.csv');
  assert.equal((await run('training-set', '--features', FEATURES, '--log', log, '--spine', spine, '--out', all)).code, 0);
  assert.equal(firstRow(all, 'seen_recently'), '1', 'with its view, i1 is among the recent plays');
});

test('a spine column named like a feature (or __row) is refused, naming it', async () => {
  const clash = csv(join(dir, 'clash.csv'), `user_id,item_id,ts,item_stats__play_count_7d\nu1,i1,${T0 + 2 * 86_400_000},99\n`);
  const r = await run('training-set', '--features', FEATURES, '--log', log, '--spine', clash, '--out', join(dir, 'clash-out.csv'));
  assert.equal(r.code, 1, r.err);
  assert.match(r.err, /the spine has columns named like features \(item_stats__play_count_7d\).*drop or rename them/);
  const row = csv(join(dir, 'row.csv'), `user_id,ts,__row\nu1,${T0 + 2 * 86_400_000},7\n`);
  const r2 = await run('training-set', '--features', FEATURES, '--log', log, '--spine', row, '--out', join(dir, 'row-out.csv'));
  assert.equal(r2.code, 1, r2.err);
  assert.match(r2.err, /a column is named __row/);
});

test('missing, empty and unwritable files, and unknown entities, are clear errors naming the flag and the fix', async () => {
  const at = String(T0 + 2 * 86_400_000);
  const missing = await run('training-set', '--features', FEATURES, '--log', log, '--spine', join(dir, 'nope.csv'), '--out', join(dir, 'x.csv'));
  assert.equal(missing.code, 2, missing.err);
  assert.match(missing.err, /spine '.*nope\.csv': no such file/);
  const empty = await run('training-set', '--features', FEATURES, '--log', log, '--spine', csv(join(dir, 'empty.csv'), ''), '--out', join(dir, 'x.csv'));
  assert.equal(empty.code, 1, empty.err);
  assert.match(empty.err, /spine '.*empty\.csv' is empty; it needs a header row/);
  const folder = await run('backfill', '--features', FEATURES, '--log', log, '--at', at, '--out', join(dir, 'no-such-folder', 'b.csv'));
  assert.equal(folder.code, 2, folder.err);
  assert.match(folder.err, /--out '.*b\.csv': the folder .*no-such-folder does not exist; create it first/);
  const entity = await run('backfill', '--features', FEATURES, '--log', log, '--at', at, '--out', join(dir, 'b.csv'), '--entity', 'user,usr');
  assert.equal(entity.code, 2, entity.err);
  assert.match(entity.err, /unknown entities: usr; the feature set has user, item/);
});

test('times in seconds (a spine column, --at) are refused as events are, not read as 1970 with every feature at its default', async () => {
  const spine = csv(join(dir, 'seconds.csv'), `user_id,ts\nu1,${Math.floor((T0 + 2 * 86_400_000) / 1000)}\n`);
  const r = await run('training-set', '--features', FEATURES, '--log', log, '--spine', spine, '--out', join(dir, 's.csv'));
  assert.equal(r.code, 1, r.err);
  assert.match(r.err, /spine: the times in 'ts' look like seconds since the epoch \(row 1: 1709424000, read as ms, is in 1970\)/);
  const at = await run('backfill', '--features', FEATURES, '--log', log, '--at', '1709424000', '--out', join(dir, 'b2.csv'));
  assert.equal(at.code, 2, at.err);
  assert.match(at.err, /--at '1709424000' is 1970-01-20.*looks like seconds since the epoch; give milliseconds \(1709424000000\)/);
  const iso = csv(join(dir, 'iso.csv'), 'user_id,ts\nu1,2024-03-03T00:00:00Z\n');
  assert.equal((await run('training-set', '--features', FEATURES, '--log', log, '--spine', iso, '--out', join(dir, 'iso-out.csv'))).code, 0, 'ISO text carries its unit');
});
