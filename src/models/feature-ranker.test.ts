/**
 * The feature ranker on a generated streaming log's point-in-time training set: held-out users are
 * ranked clearly better than chance, a file and the same rows in memory encode alike, and a model
 * read back from JSON scores identically.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDemo } from '../cli/demo.ts';
import { DuckDBEngine, sqlString } from '../store/offline/duckdb-engine.ts';
import { encodeValue, featureRankerFromJSON, loadFeatureRanker, saveFeatureRanker, trainFeatureRanker, type FeatureRanker } from './feature-ranker.ts';

const tmp = mkdtempSync(join(tmpdir(), 'recsignal-ranker-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const training = join(tmp, 'demo', 'training.parquet');
let rows: Record<string, unknown>[];
let ranker: FeatureRanker;

before(async () => {
  await runDemo({ users: 200, items: 100, days: 7, seed: 11, dir: join(tmp, 'demo'), serve: false }, () => undefined);
  const engine = await DuckDBEngine.open();
  try {
    rows = await engine.query(`SELECT * FROM read_parquet(${sqlString(training)})`);
  } finally {
    engine.close();
  }
  ranker = await trainFeatureRanker({ trainingSet: training, label: 'label', seed: 3 });
});

test('held-out users: AUC clearly above chance, logloss below the base rate\'s', () => {
  const m = ranker.metrics;
  assert.ok(m.users > 0 && m.rows > 0 && m.positives > 0, JSON.stringify(m));
  assert.ok(m.auc !== null && m.auc > 0.65, `held-out AUC ${m.auc}`);
  const p = m.positives / m.rows;
  const baseRate = -(p * Math.log(p) + (1 - p) * Math.log(1 - p));
  assert.ok(m.logloss !== null && m.logloss < baseRate, `logloss ${m.logloss} vs ${baseRate} for the base rate`);
  assert.ok(m.trainUsers > m.users, 'most users train');
});

test('lists count as their length, histograms as their total, strings and absolute times are skipped (and said so)', () => {
  const byName = new Map(ranker.features.map((f) => [f.name, f]));
  assert.equal(byName.get('user_engagement__recent_plays.length')?.encoding, 'length');
  assert.equal(byName.get('user_genre_taste__genre_affinity.sum')?.encoding, 'sum');
  assert.equal(byName.get('genre_match')?.encoding, 'number');
  for (const key of ['user_id', 'item_id', 'ts', 'label']) assert.ok(!ranker.features.some((f) => f.column === key), key);
  assert.deepEqual(ranker.skipped.map((s) => s.column).sort(), ['item_meta__release_ts', 'user_engagement__first_event_type', 'user_engagement__last_device', 'user_meta__country']);
});

test('the same rows in memory train the same model as the file (one encoding)', async () => {
  const mem = await trainFeatureRanker({ trainingSet: { rows }, label: 'label', seed: 3 });
  assert.deepEqual(mem.features, ranker.features);
  assert.deepEqual(mem.metrics, ranker.metrics);
  const r = rows[7] as Record<string, unknown>;
  const row = ranker.features.map((f) => encodeValue(r[f.column], f.encoding));
  assert.equal(mem.score(row), ranker.score(row));
});

test('JSON round trip (through a file) gives identical scores and contributions', () => {
  const path = join(tmp, 'model.json');
  saveFeatureRanker(ranker, path);
  const back = loadFeatureRanker(path);
  const again = featureRankerFromJSON(JSON.parse(JSON.stringify(ranker.toJSON())));
  assert.deepEqual(back.features, ranker.features);
  for (const r of rows.slice(0, 200)) {
    const row = ranker.features.map((f) => encodeValue(r[f.column], f.encoding));
    assert.equal(back.score(row), ranker.score(row));
    assert.equal(again.score(row), ranker.score(row));
  }
  const row0 = ranker.features.map((f) => encodeValue((rows[0] as Record<string, unknown>)[f.column], f.encoding));
  assert.deepEqual(back.gbdt.contributions(row0), ranker.gbdt.contributions(row0));
});

test('lambdarank groups by user and reports nDCG and AUC on held-out users', async () => {
  const lr = await trainFeatureRanker({ trainingSet: training, label: 'label', objective: 'lambdarank', seed: 3 });
  assert.equal(lr.objective, 'lambdarank');
  assert.equal(lr.metrics.logloss, null);
  assert.ok(lr.metrics.auc !== null && lr.metrics.auc > 0.6, `AUC ${lr.metrics.auc}`);
  assert.ok(lr.metrics.ndcgAt10 !== null && lr.metrics.ndcgAt10 > 0);
});

test('bad input: a missing column, a constant label, a missing file, a file that is not a model', async () => {
  await assert.rejects(trainFeatureRanker({ trainingSet: training, label: 'clicked' }), /no column 'clicked'/);
  // A text column as the label: DuckDB's cast error before; now the flag and the fix.
  await assert.rejects(trainFeatureRanker({ trainingSet: training, label: 'user_id' }), /the label column 'user_id' holds text, not numbers; name a 0\/1 \(or graded\) label with --label/);
  await assert.rejects(trainFeatureRanker({ trainingSet: { rows: rows.map((r) => ({ ...r, label: 0 })) }, label: 'label' }), /never positive/);
  await assert.rejects(trainFeatureRanker({ trainingSet: join(tmp, 'nope.parquet'), label: 'label' }), /does not exist/);
  await assert.rejects(trainFeatureRanker({ trainingSet: training, label: 'label', features: ['label', 'item_popularity__play_count_7d'] }), /--features lists 'label', the label; leave it out/);
  assert.throws(() => featureRankerFromJSON({ format: 'other' } as never), /not a recsignal feature ranker/);
});

test('training sets that cannot teach anything are refused, naming the cause; columns that cannot split anything are skipped, said so', async () => {
  // One row per user: lambdarank has nothing to order (its gradients were 0, its leaves 0/0 = NaN, and the held-out AUC looped forever on NaN).
  const single = Array.from({ length: 40 }, (_, i) => ({ user_id: `u${i}`, x: i, label: i % 2 }));
  await assert.rejects(trainFeatureRanker({ trainingSet: { rows: single }, label: 'label', objective: 'lambdarank' }), /no group \(--group user_id\) holds two rows of different labels: .*use --objective binary/);
  // Labels a binary model cannot read, named by flag.
  await assert.rejects(trainFeatureRanker({ trainingSet: { rows: rows.map((r, i) => ({ ...r, label: i % 2 === 0 ? 0 : 2 })) }, label: 'label' }), /--label label holds 2: the binary objective needs 0\/1 labels .*--objective lambdarank/);
  // Two rows: the training part after the hold-out has one label.
  await assert.rejects(trainFeatureRanker({ trainingSet: { rows: [{ user_id: 'a', x: 1, label: 1 }, { user_id: 'b', x: 2, label: 0 }] }, label: 'label' }), /the training part \(1 rows of 1 groups, after holding out 1 of 2 groups\) holds one label only/);
  // An all-null and a constant column: skipped with their reasons, the model trained on the rest.
  const model = await trainFeatureRanker({ trainingSet: { rows: rows.map((r) => ({ ...r, always_null: null, always_seven: 7 })) }, label: 'label' });
  assert.deepEqual(model.skipped.filter((s) => s.column.startsWith('always_')), [{ column: 'always_null', reason: 'null in every row' }, { column: 'always_seven', reason: '7 in every row' }]);
  assert.equal(model.features.some((f) => f.column.startsWith('always_')), false);
});

test('--features naming a column twice, and --exclude naming a column the training set lacks, are refused', async () => {
  await assert.rejects(trainFeatureRanker({ trainingSet: training, label: 'label', features: ['item_popularity__play_count_7d', 'item_popularity__play_count_7d'] }), /--features lists 'item_popularity__play_count_7d' twice/);
  await assert.rejects(trainFeatureRanker({ trainingSet: training, label: 'label', exclude: ['nope'] }), /no column 'nope' \(--exclude\)/);
});

test('a training set that is neither Parquet nor CSV is refused by name (it was DuckDB\'s "No magic bytes")', async () => {
  const path = join(tmp, 'training.jsonl');
  writeFileSync(path, '{"user_id":"u1","label":1}\n');
  await assert.rejects(trainFeatureRanker({ trainingSet: path, label: 'label' }), /training set '.*training\.jsonl': give a \.parquet or \.csv file/);
});

test('a CSV training set (lists as JSON text) trains on the same features as its Parquet twin: a list counts as its length, a vector is skipped as one', async () => {
  const db = await DuckDBEngine.open();
  const parquet = join(tmp, 'lists.parquet');
  const csv = join(tmp, 'lists.csv');
  try {
    const rows = `SELECT 'u' || (i % 40) AS user_id, CAST(i % 3 = 0 AS INTEGER) AS label, i % 7 AS plays,
        list_transform(range(i % 4), x -> 'g' || x) AS genres, [CAST(i % 5 AS DOUBLE), 1.5] AS vec FROM range(400) AS t(i)`;
    await db.run(`COPY (${rows}) TO ${sqlString(parquet)} (FORMAT parquet)`);
    await db.run(`COPY (SELECT * REPLACE (CAST(to_json(genres) AS VARCHAR) AS genres, CAST(to_json(vec) AS VARCHAR) AS vec) FROM (${rows})) TO ${sqlString(csv)} (FORMAT csv, HEADER true)`);
  } finally {
    db.close();
  }
  const [p, c] = await Promise.all([parquet, csv].map((trainingSet) => trainFeatureRanker({ trainingSet, label: 'label', seed: 3 })));
  assert.deepEqual(c!.features.map((f) => f.name), p!.features.map((f) => f.name));
  assert.ok(c!.features.some((f) => f.name === 'genres.length'));
  assert.deepEqual(c!.skipped.map((s) => s.column), p!.skipped.map((s) => s.column));
  assert.ok(c!.skipped.some((s) => s.column === 'vec'));
});
