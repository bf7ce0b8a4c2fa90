/**
 * `recsignal training-set` and `recsignal backfill` on a tiny hand-made log: one row per spine row in
 * spine order, every feature (request-time crosses included) as of the row's time from events
 * strictly before it, labels passed through; CSV and Parquet in and out; ms and ISO times.
 *
 * The log (test/fixtures/cli/events.jsonl), T0 = 2024-03-01T00:00:00Z:
 *   e1 u1 i1 play  T0          value 10
 *   e2 u1 i2 play  T0+1h       value 20
 *   e3 u1 i1 play  T0+2h       value 5    ← exactly at a spine time: excluded there
 *   e4 u1 i2 play  T0+2h−1ms   value 7    ← 1 ms before it: included
 *   e5 u2 i1 impression T0+3h (written as 05:00+02:00)
 *   e6 u2 i3 play  T0+1d+1h    value 1
 */
import { test, after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../src/cli/main.ts';
import { DuckDBEngine, sqlString } from '../src/store/offline/duckdb-engine.ts';

const FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'cli');
const FEATURES = join(FIXTURES, 'features.ts');
const SPINE = join(FIXTURES, 'spine.csv');
const HOUR = 3_600_000;
const DAY = 86_400_000;
const T0 = Date.UTC(2024, 2, 1);

const tmp = mkdtempSync(join(tmpdir(), 'recsignal-training-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let seq = 0;
const fresh = (name: string) => join(tmp, `${++seq}-${name}`);
const LOG = join(tmp, 'log');

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, (s) => (out += s), (s) => (err += s));
  return { code, out, err };
}

async function ok(...argv: string[]): Promise<string> {
  const r = await run(...argv);
  assert.equal(r.code, 0, `recsignal ${argv.join(' ')} failed: ${r.err}`);
  return r.out;
}

async function sql(query: string): Promise<Record<string, unknown>[]> {
  const engine = await DuckDBEngine.open();
  try {
    return await engine.query(query);
  } finally {
    engine.close();
  }
}

const FEATURE_COLUMNS = [
  'user_stats__plays',
  'user_stats__value_sum',
  'user_stats__last_item',
  'user_stats__recent_items',
  'item_stats__events',
  'item_meta__genres',
  'plays_x_events',
  'seen_item',
];
const LIST_COLUMNS = new Set(['user_stats__recent_items', 'item_meta__genres']);
const TEXT_COLUMNS = new Set(['user_id', 'item_id', 'user_stats__last_item', 'entity']);

/**
 * An output file's header and rows, typed the same way whatever the format: CSV cells are read as
 * text and turned into numbers or (JSON) lists by column, so CSV and Parquet compare to one table.
 */
async function readOutput(path: string): Promise<{ columns: string[]; rows: Record<string, unknown>[] }> {
  const csv = path.endsWith('.csv');
  const rel = csv ? `read_csv(${sqlString(path)}, header = true, all_varchar = true)` : `read_parquet(${sqlString(path)})`;
  const columns = (await sql(`SELECT column_name FROM (DESCRIBE SELECT * FROM ${rel})`)).map((r) => String(r['column_name']));
  const raw = await sql(`SELECT * FROM ${rel}`);
  if (csv) assert.equal(readFileSync(path, 'utf8').split('\n')[0], columns.join(','), 'CSV header');
  const rows = raw.map((r) => {
    const o: Record<string, unknown> = {};
    for (const c of columns) {
      const v = r[c];
      if (!csv || v === null || v === undefined || TEXT_COLUMNS.has(c)) o[c] = v ?? null;
      else if (LIST_COLUMNS.has(c)) o[c] = JSON.parse(String(v));
      else o[c] = Number(v);
    }
    return o;
  });
  return { columns, rows };
}

type Features = [plays: number, valueSum: number, last: string | null, recent: string[], itemEvents: number, genres: string[], playsXEvents: number, seen: number];

function featureRow(f: Features): Record<string, unknown> {
  return Object.fromEntries(FEATURE_COLUMNS.map((c, i) => [c, f[i]]));
}

const DRAMA = ['Drama', 'Comedy'];
// spine.csv, row by row (deliberately not sorted by time or key; rows 1 and 4 are the same).
const SPINE_ROWS: { user_id: string; item_id: string; ts: number; label: number; f: Features }[] = [
  { user_id: 'u1', item_id: 'i1', ts: T0 + 2 * HOUR, label: 1, f: [3, 37, 'i2', ['i2', 'i1'], 1, DRAMA, 301, 1] },
  { user_id: 'u2', item_id: 'i1', ts: T0 + DAY, label: 0, f: [0, 0, 'i1', ['i1'], 3, DRAMA, 3, 1] },
  { user_id: 'u1', item_id: 'i2', ts: T0, label: 0, f: [0, 0, null, [], 0, ['Action'], 0, 0] },
  { user_id: 'u1', item_id: 'i1', ts: T0 + 2 * HOUR, label: 1, f: [3, 37, 'i2', ['i2', 'i1'], 1, DRAMA, 301, 1] },
  { user_id: 'u1', item_id: 'i1', ts: T0 + 1, label: 1, f: [1, 10, 'i1', ['i1'], 1, DRAMA, 101, 1] },
  { user_id: 'u3', item_id: 'i9', ts: T0 + DAY, label: 0, f: [0, 0, null, [], 0, [], 0, 0] },
];

function assertTrainingRows(rows: Record<string, unknown>[], withTs: boolean): void {
  assert.equal(rows.length, SPINE_ROWS.length, 'one row per spine row');
  const want = SPINE_ROWS.map((s) => ({ user_id: s.user_id, item_id: s.item_id, ...(withTs ? { ts: s.ts } : {}), label: s.label, ...featureRow(s.f) }));
  const got = rows.map((r) => {
    if (withTs) return r;
    const { ts: _ts, ...rest } = r;
    return rest;
  });
  assert.deepEqual(got, want);
}

/** Writes a copy of spine.csv with each row's time rendered by `render`. */
function spineWith(render: (ms: number, i: number) => string, name = 'spine.csv', tsHeader = 'ts'): string {
  const path = fresh(name);
  writeFileSync(path, `user_id,item_id,${tsHeader},label\n${SPINE_ROWS.map((s, i) => `${s.user_id},${s.item_id},${render(s.ts, i)},${s.label}`).join('\n')}\n`);
  return path;
}

before(async () => {
  // events.items.jsonl beside the input is picked up as item metadata.
  const c = JSON.parse(await ok('ingest', join(FIXTURES, 'events.jsonl'), '--format', 'jsonl', '--log', LOG, '--json')) as Record<string, unknown>;
  assert.deepEqual([c['received'], c['accepted'], c['rejected'], c['duplicates'], c['items']], [6, 6, 0, 0, 3]);
});

describe('training-set', () => {
  test('CSV: one row per spine row, spine order, features as of each row (strictly before), labels and crosses', async () => {
    const out = fresh('training.csv');
    const printed = await ok('training-set', '--features', FEATURES, '--log', LOG, '--spine', SPINE, '--out', out, '--json');
    assert.equal(JSON.parse(printed).rows, 6);
    assert.equal(JSON.parse(printed).features, FEATURE_COLUMNS.length);
    const { columns, rows } = await readOutput(out);
    assert.deepEqual(columns, ['user_id', 'item_id', 'ts', 'label', ...FEATURE_COLUMNS]);
    assertTrainingRows(rows, true);
  });

  test('a spine of 250,000 rows: request features on every row (a streaming read once stopped at 204,800)', async () => {
    const spine = fresh('big-spine.parquet');
    const out = fresh('big.parquet');
    await sql(`COPY (SELECT s.user_id, s.item_id, s.ts, s.label FROM read_csv('${SPINE}') AS s, range(250000 // (SELECT count(*) FROM read_csv('${SPINE}')) + 1) ORDER BY ALL LIMIT 250000) TO ${sqlString(spine)} (FORMAT parquet)`);
    await ok('training-set', '--features', FEATURES, '--log', LOG, '--spine', spine, '--out', out);
    const [counts] = await sql(`SELECT count(*) AS n, count(plays_x_events) AS crossed, count(DISTINCT (user_id, item_id, ts, plays_x_events)) AS distinct_rows FROM read_parquet(${sqlString(out)})`);
    assert.equal(Number(counts?.['n']), 250_000);
    assert.equal(Number(counts?.['crossed']), 250_000, 'every row has its request feature');
    // Repeated spine rows get the same features, so there are as many distinct rows as spine rows.
    const [spineRows] = await sql(`SELECT count(DISTINCT (user_id, item_id, ts)) AS n FROM read_csv('${SPINE}')`);
    assert.equal(Number(counts?.['distinct_rows']), Number(spineRows?.['n']));
  });

  test('Parquet out: the same table, lists as native lists', async () => {
    const out = fresh('training.parquet');
    await ok('training-set', '--features', FEATURES, '--log', LOG, '--spine', SPINE, '--out', out);
    const { columns, rows } = await readOutput(out);
    assert.deepEqual(columns, ['user_id', 'item_id', 'ts', 'label', ...FEATURE_COLUMNS]);
    assertTrainingRows(rows, true);
  });

  test('spine times as ISO-8601 strings (Z, offsets, milliseconds) give the same features', async () => {
    const spine = spineWith((ms, i) => (i % 2 === 0 ? new Date(ms).toISOString() : new Date(ms + 2 * HOUR).toISOString().replace('Z', '+02:00')));
    for (const ext of ['csv', 'parquet']) {
      const out = fresh(`training.${ext}`);
      await ok('training-set', '--features', FEATURES, '--log', LOG, '--spine', spine, '--out', out);
      assertTrainingRows((await readOutput(out)).rows, false);
    }
  });

  test('Parquet spines: ms as BIGINT, ISO text, and TIMESTAMPTZ', async () => {
    const engine = await DuckDBEngine.open();
    const spines: string[] = [];
    try {
      const csv = `read_csv(${sqlString(SPINE)}, header = true, columns = {'user_id': 'VARCHAR', 'item_id': 'VARCHAR', 'ts': 'BIGINT', 'label': 'INTEGER'})`;
      for (const [name, tsExpr] of [
        ['ms', 'ts'],
        ['iso', `strftime(make_timestamp(ts * 1000), '%Y-%m-%dT%H:%M:%S.%gZ')`],
        ['tstz', 'to_timestamp(ts / 1000.0)'],
      ] as const) {
        const p = fresh(`spine-${name}.parquet`);
        await engine.run(`COPY (SELECT user_id, item_id, ${tsExpr} AS ts, label FROM ${csv}) TO ${sqlString(p)} (FORMAT parquet)`);
        spines.push(p);
      }
    } finally {
      engine.close();
    }
    for (const spine of spines) {
      const out = fresh('training.parquet');
      await ok('training-set', '--features', FEATURES, '--log', LOG, '--spine', spine, '--out', out);
      const { rows } = await readOutput(out);
      assertTrainingRows(rows, spine.endsWith('-ms.parquet'));
    }
  });

  test('--ts-col names another time column', async () => {
    const spine = spineWith((ms) => String(ms), 'spine.csv', 'at');
    const out = fresh('training.csv');
    await ok('training-set', '--features', FEATURES, '--log', LOG, '--spine', spine, '--out', out, '--ts-col', 'at');
    const { rows } = await readOutput(out);
    assertTrainingRows(rows.map(({ at, ...r }) => ({ ...r, ts: at })), true);
  });

  test('a spine without its time column: a clear error naming the column, no output', async () => {
    const spine = spineWith((ms) => String(ms), 'spine.csv', 'when');
    const out = fresh('training.csv');
    const r = await run('training-set', '--features', FEATURES, '--log', LOG, '--spine', spine, '--out', out);
    assert.ok(r.code === 1 || r.code === 2, `exit code ${r.code}`);
    assert.match(r.err, /no time column 'ts'/);
    assert.match(r.err, /user_id, item_id, when, label/);
    assert.match(r.err, /--ts-col/);
    assert.equal(r.out, '');
  });

  test('a spine with an unparseable time: a clear error naming the column and the row', async () => {
    const spine = spineWith((ms, i) => (i === 2 ? 'soon' : String(ms)));
    const r = await run('training-set', '--features', FEATURES, '--log', LOG, '--spine', spine, '--out', fresh('training.csv'));
    assert.ok(r.code === 1 || r.code === 2, `exit code ${r.code}`);
    assert.match(r.err, /'ts'/);
    assert.match(r.err, /row 3: soon/);
  });

  test('a spine with a zoneless ISO time is rejected like an event would be', async () => {
    const spine = spineWith((ms) => new Date(ms).toISOString().replace('Z', ''));
    const r = await run('training-set', '--features', FEATURES, '--log', LOG, '--spine', spine, '--out', fresh('training.csv'));
    assert.ok(r.code === 1 || r.code === 2, `exit code ${r.code}`);
    assert.match(r.err, /zone/);
  });

  test('bad arguments: unknown output format, missing log folder', async () => {
    const wrongOut = await run('training-set', '--features', FEATURES, '--log', LOG, '--spine', SPINE, '--out', fresh('training.json'));
    assert.equal(wrongOut.code, 2);
    assert.match(wrongOut.err, /give a \.csv or \.parquet file/);
    const noLog = await run('training-set', '--features', FEATURES, '--log', fresh('nowhere'), '--spine', SPINE, '--out', fresh('training.csv'));
    assert.equal(noLog.code, 1);
    assert.match(noLog.err, /no such folder/);
  });
});

describe('backfill', () => {
  const AT = T0 + 2 * HOUR; // e3 sits exactly here: excluded; e4 is 1 ms before: included
  const user = (plays: number, sum: number, last: string, recent: string[]) => ({
    entity: 'user', user_id: 'u1', user_stats__plays: plays, user_stats__value_sum: sum, user_stats__last_item: last, user_stats__recent_items: recent, item_id: null, item_stats__events: null, item_meta__genres: null,
  });
  const item = (id: string, events: number, genres: string[]) => ({
    entity: 'item', user_id: null, user_stats__plays: null, user_stats__value_sum: null, user_stats__last_item: null, user_stats__recent_items: null, item_id: id, item_stats__events: events, item_meta__genres: genres,
  });

  test('--at as ISO and as ms give the same file: every entity as of that time', async () => {
    const iso = fresh('backfill.csv');
    const ms = fresh('backfill.csv');
    const printed = await ok('backfill', '--features', FEATURES, '--log', LOG, '--at', '2024-03-01T02:00:00Z', '--out', iso, '--json');
    assert.deepEqual({ ...JSON.parse(printed), seconds: 0, out: '' }, { rows: 4, entities: { user: 1, item: 3 }, features: 6, at: '2024-03-01T02:00:00.000Z', out: '', seconds: 0 });
    await ok('backfill', '--features', FEATURES, '--log', LOG, '--at', String(AT), '--out', ms);
    assert.equal(readFileSync(iso, 'utf8'), readFileSync(ms, 'utf8'));
    const { rows } = await readOutput(iso);
    // u2's first event is after AT: not an entity yet. i3 has metadata only.
    assert.deepEqual(rows, [user(3, 37, 'i2', ['i2', 'i1']), item('i1', 1, DRAMA), item('i2', 2, ['Action']), item('i3', 0, [])]);
  });

  test('1 ms later the event at the boundary counts (Parquet out)', async () => {
    const out = fresh('backfill.parquet');
    await ok('backfill', '--features', FEATURES, '--log', LOG, '--at', '2024-03-01T02:00:00.001Z', '--out', out);
    const { rows } = await readOutput(out);
    assert.deepEqual(rows, [user(4, 42, 'i1', ['i1', 'i2']), item('i1', 2, DRAMA), item('i2', 2, ['Action']), item('i3', 0, [])]);
  });

  test('a bad --at is a usage error that says what to give', async () => {
    const r = await run('backfill', '--features', FEATURES, '--log', LOG, '--at', 'tomorrow', '--out', fresh('backfill.csv'));
    assert.equal(r.code, 2);
    assert.match(r.err, /--at: 'tomorrow' is not an instant/);
    const zoneless = await run('backfill', '--features', FEATURES, '--log', LOG, '--at', '2024-03-01T02:00:00', '--out', fresh('backfill.csv'));
    assert.equal(zoneless.code, 2);
  });
});
