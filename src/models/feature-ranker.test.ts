/**
 * The feature ranker on a generated streaming log's point-in-time training set: held-out users are
 * ranked clearly better than chance, a file and the same rows in memory encode alike, and a model
 * read back from JSON scores identically.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
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
