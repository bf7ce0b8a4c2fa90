/**
 * `recsignal ingest`, run through the CLI: every kind of bad input lands in the dead-letter file with
 * its field and fix, duplicates are dropped within an input and against the log, counts always add
 * up, earlier partitions are never rewritten, and MovieLens 100K ingests whole.
 */
import { test, after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { main } from '../src/cli/main.ts';
import { DuckDBEngine, sqlString } from '../src/store/offline/duckdb-engine.ts';
import { withLogWrite } from '../src/store/offline/write-lock.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ML_100K = resolve(ROOT, '../shared/data/ml-100k');
const DAY = 86_400_000;
const T0 = Date.UTC(2024, 2, 1); // 2024-03-01T00:00:00Z

const tmp = mkdtempSync(join(tmpdir(), 'recsignal-ingest-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let seq = 0;
const fresh = (name: string) => join(tmp, `${++seq}-${name}`);

interface Run {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

async function run(...argv: string[]): Promise<Run> {
  let out = '';
  let err = '';
  const code = await main(argv, (s) => (out += s), (s) => (err += s));
  return { code, out, err };
}

interface Counts {
  readonly received: number;
  readonly accepted: number;
  readonly rejected: number;
  readonly duplicates: number;
  readonly deadLetter: string | null;
}

async function ingestJson(path: string, format: string, log: string, ...extra: string[]): Promise<Counts> {
  const r = await run('ingest', path, '--format', format, '--log', log, '--json', ...extra);
  assert.equal(r.code, 0, `ingest failed: ${r.err}`);
  const lines = r.out.trim().split('\n');
  assert.equal(lines.length, 1, `--json prints one object, got: ${r.out}`);
  const c = JSON.parse(lines[0] as string) as Counts;
  for (const k of ['received', 'accepted', 'rejected', 'duplicates'] as const) assert.equal(typeof c[k], 'number', `--json has ${k}`);
  assert.equal(c.received, c.accepted + c.rejected + c.duplicates, 'received = accepted + rejected + duplicates');
  assert.equal(deadLetterLines(c).length, c.rejected, 'one dead-letter line per rejected event');
  return c;
}

interface DeadLetter {
  readonly position: string;
  readonly reason: string;
  readonly problems: { path: string; message: string; fix: string }[];
  readonly input: unknown;
}

function deadLetterLines(c: Counts): DeadLetter[] {
  if (c.rejected === 0) {
    assert.equal(c.deadLetter, null, 'no dead-letter file when nothing is rejected');
    return [];
  }
  assert.ok(c.deadLetter !== null && existsSync(c.deadLetter), 'the dead-letter file exists');
  return readFileSync(c.deadLetter, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as DeadLetter);
}

async function sql(query: string): Promise<Record<string, unknown>[]> {
  const engine = await DuckDBEngine.open();
  try {
    return await engine.query(query);
  } finally {
    engine.close();
  }
}

const events = (log: string) => `read_parquet(${sqlString(join(log, 'events', 'day=*', '*.parquet'))}, hive_partitioning = false, union_by_name = true)`;

function partFiles(log: string): Map<string, { bytes: Buffer; mtimeMs: number }> {
  const files = new Map<string, { bytes: Buffer; mtimeMs: number }>();
  const dir = join(log, 'events');
  for (const day of readdirSync(dir)) {
    for (const f of readdirSync(join(dir, day))) {
      const p = join(dir, day, f);
      files.set(relative(dir, p), { bytes: readFileSync(p), mtimeMs: statSync(p).mtimeMs });
    }
  }
  return files;
}

const ev = (o: Record<string, unknown>) => JSON.stringify(o);
const good = (id: string, extra: Record<string, unknown> = {}) => ev({ event_id: id, user_id: 'u1', item_id: 'i1', ts: T0, type: 'play', ...extra });

describe('ingest JSONL: every kind of bad input', () => {
  // Each line with the problem paths its dead-letter entry must name (empty: accepted; 'dup': duplicate).
  const LINES: [string, string[] | 'dup'][] = [
    [good('ok1', { value: 30, duration: 100, context: { device: 'tv', app: 'web', n: 3, flag: true, none: null } }), []],
    ['{"event_id": "broken", "user_id": ', ['(line)']],
    [ev({ user_id: 'u1', item_id: 'i1', ts: T0, type: 'play' }), ['event_id']],
    [good(''), ['event_id']],
    [ev({ event_id: 'no-user', item_id: 'i1', ts: T0, type: 'play' }), ['user_id']],
    [good('empty-user', { user_id: '' }), ['user_id']],
    [ev({ event_id: 'no-item', user_id: 'u1', ts: T0, type: 'play' }), ['item_id']],
    [good('empty-item', { item_id: '' }), ['item_id']],
    [ev({ event_id: 'search1', user_id: 'u1', ts: T0 + 5, type: 'search', context: { query: 'space' } }), []],
    [ev({ event_id: 'no-ts', user_id: 'u1', item_id: 'i1', type: 'play' }), ['ts']],
    [good('bad-ts', { ts: 'yesterday' }), ['ts']],
    [good('zoneless-ts', { ts: '2024-03-01T12:00:00' }), ['ts']],
    [good('negative-ts', { ts: -1000 }), ['ts']],
    [good('future-ts', { ts: '2100-01-01T00:00:00Z' }), ['ts']],
    [good('unknown-type', { type: 'watched' }), ['type']],
    [good('text-value', { value: 'ten' }), ['value']],
    [good('zero-duration', { duration: 0 }), ['duration']],
    [good('negative-duration', { duration: -30 }), ['duration']],
    [good('context-string', { context: 'tv' }), ['context']],
    [good('context-array', { context: ['tv'] }), ['context']],
    [good('nested-context', { context: { device: 'tv', screen: { w: 1920 } } }), ['context.screen']],
    [good('rating-no-value', { type: 'rating' }), ['value']],
    ['[1, 2, 3]', ['(event)']],
    // Every problem of an event is listed, not just the first.
    [ev({ event_id: 'many', ts: 'soon', type: 'watched' }), ['user_id', 'type', 'item_id', 'ts']],
    [good('ok1', { user_id: 'u2', ts: T0 + 1 }), 'dup'],
    [good('rating1', { type: 'rating', value: 4, ts: '2024-03-01T03:00:00+02:00', context: { device: 'phone', country: 'NL', session_id: 's9' } }), []],
    [good('next-day', { ts: T0 + DAY + 1 }), []],
    [good('rating1', { type: 'rating', value: 1 }), 'dup'],
  ];
  let input: string;
  let log: string;
  let counts: Counts;
  let dead: DeadLetter[];

  before(async () => {
    input = fresh('events.jsonl');
    // A blank line is skipped, not counted as an event.
    writeFileSync(input, `${LINES.slice(0, 5).map(([l]) => l).join('\n')}\n\n${LINES.slice(5).map(([l]) => l).join('\n')}\n`);
    log = fresh('log');
    counts = await ingestJson(input, 'jsonl', log);
    dead = deadLetterLines(counts);
  });

  test('counts add up: every line received, each bad one rejected, duplicates dropped', () => {
    const rejected = LINES.filter(([, e]) => e !== 'dup' && e.length > 0).length;
    const dups = LINES.filter(([, e]) => e === 'dup').length;
    assert.deepEqual(
      { received: counts.received, accepted: counts.accepted, rejected: counts.rejected, duplicates: counts.duplicates },
      { received: LINES.length, accepted: LINES.length - rejected - dups, rejected, duplicates: dups },
    );
  });

  test('each rejected line has its own dead-letter entry naming the field and the fix', () => {
    const byLine = new Map(dead.map((d) => [d.position, d]));
    assert.equal(byLine.size, dead.length, 'one entry per rejected line');
    LINES.forEach(([, expected], i) => {
      const lineNo = i < 5 ? i + 1 : i + 2; // the blank line after the fifth
      const d = byLine.get(`${basename(input)}:${lineNo}`);
      if (expected === 'dup' || expected.length === 0) {
        assert.equal(d, undefined, `line ${lineNo} is not a rejection`);
        return;
      }
      assert.ok(d, `line ${lineNo} (${LINES[i]?.[0]}) is in the dead-letter file`);
      assert.deepEqual(d.problems.map((p) => p.path).sort(), [...expected].sort(), `line ${lineNo} problems: ${d.reason}`);
      for (const p of d.problems) {
        assert.ok(p.message.length > 0 && p.fix.length > 0, `line ${lineNo}: ${p.path} has a message and a fix`);
        assert.ok(d.reason.includes(`${p.path}: ${p.message} (fix: ${p.fix})`), `the reason line names ${p.path} and its fix`);
      }
    });
  });

  test('the dead-letter entry keeps the original input', () => {
    const broken = dead.find((d) => d.problems[0]?.path === '(line)');
    assert.equal(broken?.input, '{"event_id": "broken", "user_id": ');
    const future = dead.find((d) => (d.input as { event_id?: string }).event_id === 'future-ts');
    assert.equal((future?.input as { ts?: string }).ts, '2100-01-01T00:00:00Z');
  });

  test('the log holds exactly the accepted events, first copy of a duplicate id, parsed and lifted', async () => {
    const rows = await sql(`SELECT event_id, user_id, item_id, ts, type, value, duration, device, country, session_id, context FROM ${events(log)} ORDER BY event_id`);
    assert.deepEqual(rows, [
      { event_id: 'next-day', user_id: 'u1', item_id: 'i1', ts: T0 + DAY + 1, type: 'play', value: null, duration: null, device: null, country: null, session_id: null, context: null },
      { event_id: 'ok1', user_id: 'u1', item_id: 'i1', ts: T0, type: 'play', value: 30, duration: 100, device: 'tv', country: null, session_id: null, context: '{"app":"web","n":3,"flag":true,"none":null}' },
      { event_id: 'rating1', user_id: 'u1', item_id: 'i1', ts: T0 + 3_600_000, type: 'rating', value: 4, duration: null, device: 'phone', country: 'NL', session_id: 's9', context: null },
      { event_id: 'search1', user_id: 'u1', item_id: null, ts: T0 + 5, type: 'search', value: null, duration: null, device: null, country: null, session_id: null, context: '{"query":"space"}' },
    ]);
    assert.deepEqual(readdirSync(join(log, 'events')).sort(), ['day=2024-03-01', 'day=2024-03-02'], 'partitioned by UTC day');
  });
});

test('ingest against the log: duplicates dropped, earlier partition files never rewritten', async () => {
  const log = fresh('log');
  const first = fresh('first.jsonl');
  writeFileSync(first, [good('a'), good('b', { ts: T0 + 1000 }), good('c', { ts: T0 + DAY })].join('\n'));
  const c1 = await ingestJson(first, 'jsonl', log);
  assert.deepEqual([c1.received, c1.accepted, c1.rejected, c1.duplicates], [3, 3, 0, 0]);
  const before = partFiles(log);
  assert.equal(before.size, 2, 'one file per day partition');
  await new Promise((r) => setTimeout(r, 20)); // so that a rewrite would show in the mtime

  // Same-day and next-day events, ids already in the log (with other content), and a repeat within the input.
  const second = fresh('second.jsonl');
  writeFileSync(second, [good('a', { user_id: 'other' }), good('d', { ts: T0 + 2000 }), good('d', { ts: T0 + 3000 }), good('c'), good('e', { ts: T0 + 2 * DAY }), 'oops'].join('\n'));
  const c2 = await ingestJson(second, 'jsonl', log);
  assert.deepEqual([c2.received, c2.accepted, c2.rejected, c2.duplicates], [6, 2, 1, 3]);

  const afterFiles = partFiles(log);
  for (const [name, f] of before) {
    const now = afterFiles.get(name);
    assert.ok(now, `${name} is still there`);
    assert.ok(now.bytes.equals(f.bytes), `${name} is byte-identical`);
    assert.equal(now.mtimeMs, f.mtimeMs, `${name} was not rewritten`);
  }
  assert.equal(afterFiles.size, 4, 'the second ingest wrote new files (same day and a new day)');
  assert.ok([...afterFiles.keys()].filter((k) => k.startsWith('day=2024-03-01/')).length === 2, 'a second file in the existing day partition');

  const rows = await sql(`SELECT event_id, user_id, ts FROM ${events(log)} ORDER BY event_id`);
  assert.deepEqual(rows, [
    { event_id: 'a', user_id: 'u1', ts: T0 },
    { event_id: 'b', user_id: 'u1', ts: T0 + 1000 },
    { event_id: 'c', user_id: 'u1', ts: T0 + DAY },
    { event_id: 'd', user_id: 'u1', ts: T0 + 2000 },
    { event_id: 'e', user_id: 'u1', ts: T0 + 2 * DAY },
  ]);

  // Re-ingesting the first file changes nothing.
  const c3 = await ingestJson(first, 'jsonl', log);
  assert.deepEqual([c3.received, c3.accepted, c3.rejected, c3.duplicates], [3, 0, 0, 3]);
  assert.equal(partFiles(log).size, 4, 'an all-duplicate ingest writes no file');
});

test('ingest CSV: CRLF line endings, quoting, ragged rows, text in number columns, search without item', async () => {
  const input = fresh('events.csv');
  const rows = [
    'event_id,user_id,item_id,ts,value,device,type',
    `c1,u1,i1,${T0},30,tv,play`,
    `c2,u1,"i,2",2024-03-01T01:00:00Z,,"big ""smart"" tv",play`,
    `c3,u1,i1,${T0 + 10}`,
    `c4,u1,i1,${T0 + 20},lots,tv,play`,
    `c5,u2,,${T0 + 30},,,search`,
    `c6,u2,,${T0 + 40},,,play`,
    `c7,u2,i3,${T0 + 50},,,play,extra`,
    `c1,u9,i9,${T0 + 60},,,play`,
    `c8,u2,i3,${T0 + 70},,,complete`,
  ];
  writeFileSync(input, `${rows.join('\r\n')}\r\n`);
  const log = fresh('log');
  const c = await ingestJson(input, 'csv', log);
  assert.deepEqual([c.received, c.accepted, c.rejected, c.duplicates], [9, 4, 4, 1]);
  const dead = deadLetterLines(c);
  assert.deepEqual(
    dead.map((d) => [d.position, d.problems.map((p) => p.path).join(',')]),
    [
      [4, 'row'],
      [5, 'value'],
      [7, 'item_id'],
      [8, 'row'],
    ].map(([line, p]) => [`${basename(input)}:${line}`, p]),
  );
  assert.match(dead[0]?.reason ?? '', /has 4 cells but the header has 7 columns/);
  const logged = await sql(`SELECT event_id, user_id, item_id, ts, type, value, device FROM ${events(log)} ORDER BY event_id`);
  assert.deepEqual(logged, [
    { event_id: 'c1', user_id: 'u1', item_id: 'i1', ts: T0, type: 'play', value: 30, device: 'tv' },
    { event_id: 'c2', user_id: 'u1', item_id: 'i,2', ts: T0 + 3_600_000, type: 'play', value: null, device: 'big "smart" tv' },
    { event_id: 'c5', user_id: 'u2', item_id: null, ts: T0 + 30, type: 'search', value: null, device: null },
    { event_id: 'c8', user_id: 'u2', item_id: 'i3', ts: T0 + 70, type: 'complete', value: null, device: null },
  ]);
});

test('ingest --map renames input columns, into fields and context keys (CSV and JSONL)', async () => {
  const csv = fresh('mapped.csv');
  writeFileSync(csv, `id,userId,movie,when,kind,dev\nm1,7,42,${T0},play,tv\nm2,8,43,2024-03-01T00:00:01Z,skip,phone\n`);
  const log = fresh('log');
  const c = await ingestJson(csv, 'csv', log, '--map', 'id=event_id', '--map', 'userId=user_id', '--map', 'movie=item_id', '--map', 'when=ts', '--map', 'kind=type', '--map', 'dev=context.device');
  assert.deepEqual([c.received, c.accepted, c.rejected, c.duplicates], [2, 2, 0, 0]);

  const jsonl = fresh('mapped.jsonl');
  writeFileSync(jsonl, `${ev({ eid: 'j1', uid: 'u5', item_id: 'i5', time: T0 + 5, type: 'play', screen: 'big' })}\n${ev({ eid: 'm1', uid: 'u5', item_id: 'i5', time: T0 + 6, type: 'play' })}\n`);
  const j = await ingestJson(jsonl, 'jsonl', log, '--map', 'eid=event_id', '--map', 'uid=user_id', '--map', 'time=ts', '--map', 'screen=context.screen');
  assert.deepEqual([j.received, j.accepted, j.rejected, j.duplicates], [2, 1, 0, 1], 'm1 is already in the log');

  const rows = await sql(`SELECT event_id, user_id, item_id, ts, type, device, context FROM ${events(log)} ORDER BY event_id`);
  assert.deepEqual(rows, [
    { event_id: 'j1', user_id: 'u5', item_id: 'i5', ts: T0 + 5, type: 'play', device: null, context: '{"screen":"big"}' },
    { event_id: 'm1', user_id: '7', item_id: '42', ts: T0, type: 'play', device: 'tv', context: null },
    { event_id: 'm2', user_id: '8', item_id: '43', ts: T0 + 1000, type: 'skip', device: 'phone', context: null },
  ]);
});

test('ingest --map naming a column the input lacks: a clear error, exit code 2, nothing written', async () => {
  const csv = fresh('events.csv');
  writeFileSync(csv, `event_id,user_id,item_id,ts,type\ne1,u1,i1,${T0},play\n`);
  const jsonl = fresh('events.jsonl');
  writeFileSync(jsonl, `${good('e1')}\n`);
  for (const [path, format] of [[csv, 'csv'], [jsonl, 'jsonl']] as const) {
    const log = fresh('log');
    const r = await run('ingest', path, '--format', format, '--log', log, '--map', 'userId=user_id', '--json');
    assert.equal(r.code, 2, `${format}: exit code 2`);
    assert.equal(r.out, '', `${format}: no counts printed`);
    assert.match(r.err, /--map names a column 'userId'/, `${format}: names the missing column`);
    assert.match(r.err, /available: .*event_id.*user_id/, `${format}: lists the columns there are`);
    assert.ok(!existsSync(join(log, 'events')), `${format}: no events written`);
  }
  const bad = await run('ingest', csv, '--format', 'csv', '--log', fresh('log'), '--map', 'userId');
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--map 'userId': write source_col=field/);
  const wrongTarget = await run('ingest', csv, '--format', 'csv', '--log', fresh('log'), '--map', 'user_id=customer');
  assert.equal(wrongTarget.code, 2);
  assert.match(wrongTarget.err, /'customer' is not an event field/);
  const wrongFormat = await run('ingest', csv, '--format', 'xml', '--log', fresh('log'));
  assert.equal(wrongFormat.code, 2);
  assert.match(wrongFormat.err, /xml/);
  const missing = await run('ingest', fresh('nope.jsonl'), '--format', 'jsonl', '--log', fresh('log'));
  assert.equal(missing.code, 1);
  assert.match(missing.err, /no such file/);
});

test('ingest Parquet: typed columns, and a bad typed value goes to the dead-letter file', async () => {
  const path = fresh('events.parquet');
  const engine = await DuckDBEngine.open();
  try {
    await engine.run(`COPY (
      SELECT * FROM (VALUES
        ('p1', 5, 'i1', TIMESTAMP '2024-03-01 00:00:00', 'play', 12.5),
        ('p2', 6, 'i2', TIMESTAMP '2024-03-01 00:00:01', 'rating', NULL),
        ('p3', 6, 'i2', TIMESTAMP '2024-03-01 00:00:02', 'watched', 1.0)
      ) AS t(event_id, user_id, item_id, ts, type, value)) TO ${sqlString(path)} (FORMAT parquet)`);
    const intType = fresh('int-type.parquet');
    await engine.run(`COPY (SELECT 'x1' AS event_id, 'u1' AS user_id, 'i1' AS item_id, ${T0}::BIGINT AS ts, 7::BIGINT AS type) TO ${sqlString(intType)} (FORMAT parquet)`);
    const log = fresh('log');
    const c = await ingestJson(path, 'parquet', log);
    assert.deepEqual([c.received, c.accepted, c.rejected, c.duplicates], [3, 1, 2, 0]);
    assert.deepEqual(deadLetterLines(c).map((d) => d.problems.map((p) => p.path)), [['value'], ['type']]);
    assert.deepEqual(await sql(`SELECT event_id, user_id, ts, value FROM ${events(log)}`), [{ event_id: 'p1', user_id: '5', ts: T0, value: 12.5 }]);
    // A BIGINT where text belongs: rejected with its reason (the dead-letter line must still serialize).
    const i = await ingestJson(intType, 'parquet', log);
    assert.deepEqual([i.received, i.accepted, i.rejected, i.duplicates], [1, 0, 1, 0]);
    const d = deadLetterLines(i)[0];
    assert.equal(d?.problems[0]?.path, 'type');
    assert.deepEqual(d?.input, { event_id: 'x1', user_id: 'u1', item_id: 'i1', ts: T0, type: 7 });
  } finally {
    engine.close();
  }
});

test('ingest without --json prints the four counts, one a line', async () => {
  const input = fresh('events.jsonl');
  writeFileSync(input, [good('t1'), good('t1'), 'nope', good('t2', { ts: T0 + 1 })].join('\n'));
  const r = await run('ingest', input, '--format', 'jsonl', '--log', fresh('log'));
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^received\s+4$/m);
  assert.match(r.out, /^accepted\s+2$/m);
  assert.match(r.out, /^rejected\s+1$/m);
  assert.match(r.out, /^duplicates\s+1$/m);
  assert.match(r.out, /^dead-letter .*\.jsonl$/m);
});

describe('ingest MovieLens 100K', () => {
  const present = existsSync(join(ML_100K, 'u.data'));
  const where = `MovieLens 100K is not at ${ML_100K}: unzip https://files.grouplens.org/datasets/movielens/ml-100k.zip there (u.data, u.item, u.user, u.genre)`;
  if (!present && process.env['CI'] === 'true') {
    test('MovieLens 100K is present in CI', () => assert.fail(where));
    return;
  }
  const skip = present ? false : where;
  let log: string;

  test('as a real subprocess (the bin): 100000 received and accepted', { skip }, async () => {
    log = fresh('ml-log');
    // Run exactly as documented, from the repo root, the way `npx recsignal` does.
    const { stdout } = await promisify(execFile)(process.execPath, ['bin/recsignal.js', 'ingest', '../shared/data/ml-100k', '--format', 'movielens', '--log', log, '--json'], { cwd: ROOT });
    const c = JSON.parse(stdout) as Counts;
    assert.deepEqual([c.received, c.accepted, c.rejected, c.duplicates], [100_000, 100_000, 0, 0]);
  });

  test('re-ingesting: every event a duplicate', { skip }, async () => {
    const c = await ingestJson(ML_100K, 'movielens', log);
    assert.deepEqual([c.received, c.accepted, c.rejected, c.duplicates], [100_000, 0, 0, 100_000]);
  });

  test('the log holds 943 users, 1682 items, and item metadata with genres', { skip }, async () => {
    const [r] = await sql(`SELECT count(*) AS n, count(DISTINCT event_id) AS ids, count(DISTINCT user_id) AS users, count(DISTINCT item_id) AS items, min(value) AS lo, max(value) AS hi, count(*) FILTER (WHERE type <> 'rating') AS other FROM ${events(log)}`);
    assert.deepEqual(r, { n: 100_000, ids: 100_000, users: 943, items: 1682, lo: 1, hi: 5, other: 0 });
    const items = `read_parquet(${sqlString(join(log, 'items.parquet'))})`;
    const [m] = await sql(`SELECT count(*) AS n, count(DISTINCT item_id) AS ids, count(*) FILTER (WHERE len(genres) > 0) AS with_genres FROM ${items}`);
    assert.deepEqual(m, { n: 1682, ids: 1682, with_genres: 1682 });
    const [toyStory] = await sql(`SELECT title, genres FROM ${items} WHERE item_id = '1'`);
    assert.deepEqual(toyStory, { title: 'Toy Story (1995)', genres: ['Animation', "Children's", 'Comedy'] });
    const [users] = await sql(`SELECT count(*) AS n FROM read_parquet(${sqlString(join(log, 'users.parquet'))})`);
    assert.equal(users?.['n'], 943);
  });
});

test('ingest of bytes that are not UTF-8: a JSONL line is rejected naming the byte (two such ids were one user), a CSV is refused whole naming its line, nothing lost', async () => {
  const log = fresh('log');
  const jsonl = fresh('latin1.jsonl');
  const line = (id: string, user: Buffer) => Buffer.concat([Buffer.from(`{"event_id":"${id}","user_id":"`), user, Buffer.from(`","item_id":"i1","ts":${T0},"type":"play"}\n`)]);
  writeFileSync(jsonl, Buffer.concat([line('a', Buffer.from('café')), line('b', Buffer.from([0x63, 0x61, 0x66, 0xe9])), line('c', Buffer.from([0x63, 0x61, 0x66, 0xe8])), line('d', Buffer.from('caf\ufffd'))]));
  const c = await ingestJson(jsonl, 'jsonl', log);
  assert.deepEqual([c.received, c.accepted, c.rejected, c.duplicates], [4, 2, 2, 0]);
  const dead = deadLetterLines(c);
  const at = '{"event_id":"b","user_id":"caf'.length + 1;
  assert.deepEqual(dead.map((d) => [d.position, d.problems[0]?.message]), [[`${basename(jsonl)}:2`, `byte ${at} (0xE9) is not UTF-8`], [`${basename(jsonl)}:3`, `byte ${at} (0xE8) is not UTF-8`]]);
  assert.match(dead[0]?.problems[0]?.fix ?? '', /save the file as UTF-8/);
  assert.deepEqual(await sql(`SELECT event_id, user_id FROM ${events(log)} ORDER BY event_id`), [{ event_id: 'a', user_id: 'café' }, { event_id: 'd', user_id: 'caf\ufffd' }]);

  const csv = fresh('latin1.csv');
  writeFileSync(csv, Buffer.concat([Buffer.from(`event_id,user_id,item_id,ts,type\ne,u1,i1,${T0},play\nf,caf`), Buffer.from([0xe9]), Buffer.from(`,i1,${T0},play\n`)]));
  const r = await run('ingest', csv, '--format', 'csv', '--log', log, '--json');
  assert.notEqual(r.code, 0);
  assert.match(r.err, new RegExp(`${basename(csv).replace('.', '\\.')}:3: the file is not UTF-8 \\(byte 0xE9\\); nothing was ingested`));
  assert.equal((await sql(`SELECT count(*)::INT AS n FROM ${events(log)} WHERE event_id IN ('e', 'f')`))[0]?.['n'], 0);
});

test('ingest --dead-letter naming a file again appends: the earlier runs\' rejections are kept', async () => {
  const log = fresh('log');
  const deadLetter = fresh('rejected.jsonl');
  for (const [name, id] of [['one.jsonl', 'x1'], ['two.jsonl', 'x2']] as const) {
    const path = fresh(name);
    writeFileSync(path, `${good(id)}\n{"event_id": "${id}-bad"}\n`);
    const r = await run('ingest', path, '--format', 'jsonl', '--log', log, '--json', '--dead-letter', deadLetter);
    assert.equal(r.code, 0, r.err);
  }
  const lines = readFileSync(deadLetter, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as DeadLetter);
  assert.deepEqual(lines.map((l) => (l.input as { event_id: string }).event_id), ['x1-bad', 'x2-bad']);
});

test('ingest: a value JSON cannot write (1e400 in a CSV) is kept in the dead-letter entry as its text, not as null', async () => {
  const log = fresh('log');
  const csv = fresh('huge.csv');
  writeFileSync(csv, `event_id,user_id,item_id,ts,type,value\nh1,u1,i1,${T0},rating,1e400\n`);
  const c = await ingestJson(csv, 'csv', log);
  assert.deepEqual([c.received, c.rejected], [1, 1]);
  const [dead] = deadLetterLines(c);
  assert.equal((dead?.input as { value: unknown }).value, 'Infinity');
  assert.equal(dead?.problems[0]?.path, 'value');
});

test('ingests of one file into one log at once (three in this process, two more as processes): each event lands once (each had found the ids absent and appended them)', async () => {
  const log = fresh('log');
  const file = fresh('same.jsonl');
  writeFileSync(file, Array.from({ length: 200 }, (_, i) => good(`x${i}`, { ts: T0 + i })).join('\n'));
  const proc = () => promisify(execFile)(process.execPath, ['bin/recsignal.js', 'ingest', file, '--format', 'jsonl', '--log', log, '--json'], { cwd: ROOT }).then((r) => JSON.parse(r.stdout) as { accepted: number; duplicates: number });
  const results = await Promise.all([proc(), proc(), ingestJson(file, 'jsonl', log), ingestJson(file, 'jsonl', log), ingestJson(file, 'jsonl', log)]);
  assert.deepEqual(results.map((r) => r.accepted + r.duplicates), [200, 200, 200, 200, 200]);
  assert.equal(results.reduce((s, r) => s + r.accepted, 0), 200);
  const [row] = await sql(`SELECT count(*) AS n, count(DISTINCT event_id) AS ids FROM ${events(log)}`);
  assert.deepEqual([Number(row?.['n']), Number(row?.['ids'])], [200, 200]);
  assert.equal(existsSync(join(log, 'write.lock')), false, 'the write lock is gone after the writes');
});

test('the log\'s write lock: one left by a process that is gone is taken over; one a live process holds is waited for, then refused naming it', async () => {
  const log = fresh('log');
  mkdirSync(log, { recursive: true });
  const holder = (pid: number) => JSON.stringify({ pid, host: hostname(), since: '2024-01-01T00:00:00.000Z', dir: realpathSync(log) });
  // A pid that was alive and is not any more.
  const gone = await new Promise<number>((res) => {
    const child = execFile(process.execPath, ['-e', '0'], () => res(child.pid as number));
  });
  writeFileSync(join(log, 'write.lock'), holder(gone));
  assert.equal(await withLogWrite(log, async () => 'written'), 'written');
  assert.equal(existsSync(join(log, 'write.lock')), false);
  // A live one (the parent of this test process) holds it: waited for, then refused with who holds it.
  writeFileSync(join(log, 'write.lock'), holder(process.ppid));
  await assert.rejects(withLogWrite(log, async () => 'written', 200), new RegExp(`the log .* is being written by pid ${process.ppid} on ${hostname()} \\(since 2024-01-01T00:00:00.000Z\\); waited 0 s for it`));
  rmSync(join(log, 'write.lock'));
});
