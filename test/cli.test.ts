/**
 * The command line as a whole: the demo end to end, listing a feature set, reporting every problem
 * of an invalid one, usage errors, and the bin run as a real subprocess (the way `npx recsignal` runs).
 */
import { test, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { prepareDemoDir } from '../src/cli/demo.ts';
import { lockLog } from '../src/serve/log-lock.ts';
import { main } from '../src/cli/main.ts';
import { DuckDBEngine, sqlString } from '../src/store/offline/duckdb-engine.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const STREAMING = join(ROOT, 'examples', 'streaming', 'features.ts');
const FIXTURES = join(ROOT, 'test', 'fixtures', 'cli');
const INVALID = join(FIXTURES, 'invalid-features.ts');

const tmp = mkdtempSync(join(tmpdir(), 'recsignal-cli-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, (s) => (out += s), (s) => (err += s));
  return { code, out, err };
}

/** Runs `node bin/recsignal.js ...` from the repo root; resolves with the exit code even when it fails. */
function bin(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((res) => {
    execFile(process.execPath, ['bin/recsignal.js', ...argv], { cwd: ROOT }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      res({ code, out: stdout, err: stderr });
    });
  });
}

async function count(path: string): Promise<number> {
  const engine = await DuckDBEngine.open();
  try {
    return Number((await engine.query(`SELECT count(*) AS n FROM read_parquet(${sqlString(path)})`))[0]?.['n']);
  } finally {
    engine.close();
  }
}

describe('demo', () => {
  test('demo --dir empties only a folder the demo made, or an empty one: a folder with other files is refused, and kept', () => {
    const mine = join(tmp, 'precious');
    mkdirSync(mine);
    writeFileSync(join(mine, 'keep.txt'), 'important');
    assert.throws(() => prepareDemoDir(mine), /holds files the demo did not make \(keep\.txt\).*give a new or empty folder/);
    assert.equal(readFileSync(join(mine, 'keep.txt'), 'utf8'), 'important');
    const demo = join(tmp, 'demo-dir');
    prepareDemoDir(demo);
    writeFileSync(join(demo, 'old-run.txt'), 'from the last run');
    prepareDemoDir(demo);
    assert.equal(existsSync(join(demo, 'old-run.txt')), false, "the demo's own folder is emptied");
  });

  test('demo --dir does not take names for proof: a data/ folder of the user\'s own log/ and model.json is refused, and a log a live server holds is not emptied', () => {
    const data = join(tmp, 'data');
    mkdirSync(join(data, 'log'), { recursive: true });
    writeFileSync(join(data, 'model.json'), 'my own model');
    assert.throws(() => prepareDemoDir(data), /holds files the demo did not make \(log, model\.json\)/);
    assert.equal(readFileSync(join(data, 'model.json'), 'utf8'), 'my own model');
    // A folder an earlier version of the demo made (before its mark): its generated events are there.
    const earlier = join(tmp, 'earlier-demo');
    mkdirSync(join(earlier, 'generated'), { recursive: true });
    writeFileSync(join(earlier, 'generated', 'events.jsonl'), '');
    writeFileSync(join(earlier, 'model.json'), '{}');
    prepareDemoDir(earlier);
    assert.equal(existsSync(join(earlier, 'model.json')), false);
    // A demo folder whose log this process serves (a demo still running there).
    const served = join(tmp, 'served-demo');
    prepareDemoDir(served);
    const release = lockLog(join(served, 'log'));
    try {
      assert.throws(() => prepareDemoDir(served), new RegExp(`its log is being served \\(pid ${process.pid} on `));
      assert.equal(existsSync(join(served, 'log', 'serve.lock')), true);
    } finally {
      release();
    }
    prepareDemoDir(served);
    const file = join(tmp, 'a-file');
    writeFileSync(file, '');
    assert.throws(() => prepareDemoDir(file), /--dir '.*a-file' is a file; give a new or empty folder/);
  });

  test('flags that would be ignored: serving flags with demo --no-serve are warned about, --redis-cache with serve --online memory is refused', async () => {
    const r = await run('demo', '--no-serve', '--users', '30', '--items', '20', '--days', '2', '--port', '9999', '--speed', '10', '--dir', join(tmp, 'demo-flags'));
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /warning: --no-serve: --speed, --port only apply to serving, which --no-serve skips/);
    const s = await run('serve', '--features', 'examples/streaming/features.ts', '--log', join(tmp, 'no-log'), '--online', 'memory', '--redis-cache', '5');
    assert.equal(s.code, 2);
    assert.match(s.err, /--redis-cache sizes the cache of a Redis store; leave it out with --online memory/);
  });

  test('generate --start in seconds is a usage error, as every other time flag: it wrote a 1970 log that ingest then refused whole', async () => {
    const r = await run('generate', '--users', '5', '--items', '5', '--days', '1', '--start', '1704067200', '--out', join(tmp, 'seconds.jsonl'));
    assert.equal(r.code, 2);
    assert.match(r.err, /--start '1704067200' is 1970-01-20T17:21:07\.200Z: it looks like seconds since the epoch; give milliseconds \(1704067200000\)/);
    assert.equal(existsSync(join(tmp, 'seconds.jsonl')), false);
  });

  test('demo --no-serve runs the batch path end to end at small sizes and prints the counts', async () => {
    const dir = join(tmp, 'demo');
    const r = await run('demo', '--no-serve', '--users', '200', '--items', '100', '--days', '7', '--dir', dir);
    assert.equal(r.code, 0, r.err);
    const events = /generated ([\d,]+); received (\d+), accepted (\d+), rejected (\d+), duplicates (\d+)/.exec(r.out);
    assert.ok(events, `prints event counts:\n${r.out}`);
    const [generated, received, accepted, rejected, duplicates] = events.slice(1).map((s) => Number(s.replaceAll(',', '')));
    assert.ok((generated as number) > 1000, 'a week of 200 users makes events');
    assert.deepEqual([received, accepted, rejected, duplicates], [generated, generated, 0, 0]);
    assert.match(r.out, /^metadata\s+100 items, 200 users$/m);
    const backfill = /^backfill .*?(\d+) user, .*?(\d+) item\b/m.exec(r.out);
    assert.ok(backfill, 'prints backfill counts');
    assert.equal(Number(backfill[1]), 200, 'every simulated user is backfilled');
    const training = /^training\s+(\d+) spine rows \((\d+) positive\) × (\d+) features/m.exec(r.out);
    assert.ok(training, 'prints training-set counts');
    const rows = Number(training[1]);
    assert.ok(rows > 0 && Number(training[2]) > 0 && Number(training[2]) < rows, 'some positive and some negative labels');
    assert.equal(await count(join(dir, 'training.parquet')), rows, 'the training set on disk has the printed row count');
    assert.ok(existsSync(join(dir, 'backfill.parquet')));
    assert.doesNotMatch(r.out, /serving:/, '--no-serve does not mention serving');
  });
});

describe('features', () => {
  test('features --json lists every view with its join keys and features, and the request features', async () => {
    const r = await run('features', '--features', STREAMING, '--json');
    assert.equal(r.code, 0, r.err);
    const set = JSON.parse(r.out) as {
      name: string;
      hash: string;
      views: { name: string; kind: string; join_keys: string[]; hash: string; features: { name: string; type: string; ref: string }[] }[];
      request_features: { name: string; type: string; inputs: Record<string, string> }[];
    };
    assert.equal(set.name, 'streaming_demo');
    assert.match(set.hash, /^[0-9a-f]{8,}$/);
    const keys = Object.fromEntries(set.views.map((v) => [v.name, v.join_keys]));
    assert.deepEqual(keys, {
      user_engagement: ['user_id'],
      user_genre_taste: ['user_id'],
      user_negatives: ['user_id'],
      user_abandons: ['user_id'],
      user_session: ['user_id'],
      user_device: ['user_id', 'device'],
      user_daypart: ['user_id', 'hour_bucket'],
      item_popularity: ['item_id'],
      user_item: ['user_id', 'item_id'],
      item_meta: ['item_id'],
      user_meta: ['user_id'],
    });
    for (const v of set.views) {
      assert.ok(v.features.length > 0, `${v.name} lists its features`);
      for (const f of v.features) assert.equal(f.ref, `${v.name}:${f.name}`);
    }
    const engagement = set.views.find((v) => v.name === 'user_engagement');
    assert.deepEqual(engagement?.features.slice(0, 4).map((f) => [f.name, f.type]), [
      ['play_count_1d', 'int'],
      ['play_count_7d', 'int'],
      ['play_count_30d', 'int'],
      ['play_count_lifetime', 'int'],
    ]);
    assert.deepEqual(set.request_features.map((f) => f.name), ['genre_match', 'item_age_days', 'recently_ignored_item']);
    assert.deepEqual(set.request_features[0]?.inputs, { taste: 'user_genre_taste:genre_affinity', genres: 'item_meta:genres' });
  });

  test('features (text) prints each view with its keys', async () => {
    const r = await run('features', '--features', STREAMING);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^user_item\s+\[aggregation\] keys: user_id, item_id/m);
    assert.match(r.out, /^\s+user_engagement:play_count_7d\s+int$/m);
    assert.match(r.out, /^\s+genre_match\s+float/m);
  });

  const PROBLEMS = [
    ['name', "'Bad Name' is not a valid name", 'use lower_snake_case'],
    ['views[0](user_stats).aggregations[0].input', "'no_such_column' is not a column", 'use one of: event_id'],
    ['views[0](user_stats).aggregations[1].windows[0]', "'7 days' is not a duration", 'write a positive whole number and a unit'],
    ['views[1](item_meta).columns[0]', "'colour' is not a column of items", 'use one of: title'],
  ] as const;

  test('an invalid features file: every problem with its path and fix, exit non-zero', async () => {
    const r = await run('features', '--features', INVALID, '--json');
    assert.equal(r.code, 1);
    assert.equal(r.out, '');
    const lines = r.err.split('\n').filter((l) => l.startsWith('  - '));
    for (const [path, message, fix] of PROBLEMS) {
      const line = lines.find((l) => l.startsWith(`  - ${path}: `));
      assert.ok(line, `lists ${path}:\n${r.err}`);
      assert.ok(line.includes(message), `${path}: says what is wrong`);
      assert.match(line, new RegExp(`\\(fix: ${fix.replace(/[[\]().]/g, '\\$&')}`), `${path}: says how to fix it`);
    }
  });

  test('an invalid features file lists no spurious problem', async () => {
    const r = await run('features', '--features', INVALID);
    assert.equal(r.err.split('\n').filter((l) => l.startsWith('  - ')).length, PROBLEMS.length, r.err);
  });

  test('a features file that does not exist, or has no default export', async () => {
    const missing = await run('features', '--features', join(tmp, 'nope.ts'));
    assert.equal(missing.code, 1);
    assert.match(missing.err, /no such file; point it at a module that does `export default defineFeatureSet/);
    const noExport = await run('features', '--features', join(ROOT, 'src', 'core', 'time.ts'));
    assert.equal(noExport.code, 1);
    assert.match(noExport.err, /has no default export/);
  });
});

describe('usage', () => {
  test('unknown commands and missing required options exit 2; --help exits 0', async () => {
    const unknown = await run('frobnicate');
    assert.equal(unknown.code, 2);
    assert.match(unknown.err, /unknown command 'frobnicate'/);
    const noLog = await run('ingest', 'x.jsonl', '--format', 'jsonl');
    assert.equal(noLog.code, 2);
    assert.match(noLog.err, /--log/);
    const badNumber = await run('demo', '--users', 'many');
    assert.equal(badNumber.code, 2);
    assert.match(badNumber.err, /--users 'many': give a positive whole number/);
    // Past 30 s the other consumers stop waiting for a silent one: a takeover would come too late.
    const slowTakeover = await run('stream', '--source', 'redis-stream://127.0.0.1:6379/x', '--group', 'g', '--take-over-after', '45s');
    assert.equal(slowTakeover.code, 2);
    assert.match(slowTakeover.err, /--take-over-after '45s': keep it under 30s/);
    const help = await run('--help');
    assert.equal(help.code, 0);
    for (const c of ['demo', 'ingest', 'backfill', 'training-set', 'features', 'sql']) assert.match(help.out, new RegExp(`^\\s+${c}\\b`, 'm'));
  });
});

describe('the bin, as a subprocess', () => {
  test('node bin/recsignal.js features --json prints the feature set', async () => {
    const r = await bin('features', '--features', 'examples/streaming/features.ts', '--json');
    assert.equal(r.code, 0, r.err);
    assert.equal((JSON.parse(r.out) as { views: unknown[] }).views.length, 11);
  });

  test('node bin/recsignal.js exits non-zero with the problems on stderr', async () => {
    const r = await bin('features', '--features', 'test/fixtures/cli/invalid-features.ts');
    assert.equal(r.code, 1);
    assert.equal(r.out, '');
    assert.match(r.err, /^recsignal: invalid feature set 'Bad Name'/m);
    const usage = await bin('ingest', 'x.jsonl', '--format', 'yaml', '--log', join(tmp, 'log'));
    assert.equal(usage.code, 2);
  });
});
