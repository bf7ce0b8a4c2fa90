/**
 * `recsignal evaluate` as a real subprocess on ML-100K: the JSON contract and its figures on the
 * Microsoft Recommenders protocol, the report files, the time protocol's warm/cold split, and the
 * errors. The data lives beside the repository (../shared/data/ml-100k); CI must provide it.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DATA = resolve(ROOT, '../shared/data/ml-100k');
const skip = !existsSync(join(DATA, 'u.data')) && process.env.CI !== 'true' ? `MovieLens 100K not found in ${DATA}` : false;

const tmp = mkdtempSync(join(tmpdir(), 'recsignal-evaluate-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function bin(...argv: string[]): Promise<{ code: number; out: string; err: string; seconds: number }> {
  const t0 = performance.now();
  return new Promise((res) => {
    execFile(process.execPath, ['bin/recsignal.js', 'evaluate', ...argv], { cwd: ROOT, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      res({ code, out: stdout, err: stderr, seconds: (performance.now() - t0) / 1000 });
    });
  });
}

const near = (actual: number, expected: number, tol: number, what: string) =>
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual.toFixed(6)} is not within ${tol} of ${expected}`);

describe('recsignal evaluate on ML-100K', { skip }, () => {
  test('ms-stratified, the five baselines: JSON figures, intervals, paired tests, report', async (t) => {
    const report = join(tmp, 'report');
    const r = await bin('--data', DATA, '--format', 'movielens', '--protocol', 'ms-stratified', '--k', '10', '--models', 'popularity,itemknn,sar,ease,als', '--json', '--report', report);
    assert.equal(r.code, 0, r.err);
    // Speed is measured in BENCHMARKS.md (quality section), not asserted here.
    t.diagnostic(`took ${r.seconds.toFixed(1)} s wall`);
    const j = JSON.parse(r.out);
    assert.equal(j.protocol, 'ms-stratified');
    assert.equal(j.k, 10);
    assert.deepEqual(Object.keys(j.models), ['popularity', 'itemknn', 'sar', 'ease', 'als']);
    const m = j.models;
    near(m.sar.ndcg, 0.393819, 5e-6, 'SAR nDCG@10');
    near(m.sar.precision, 0.340615, 5e-6, 'SAR P@10');
    near(m.sar.recall, 0.185377, 5e-6, 'SAR R@10');
    near(m.sar.map, 0.114038, 5e-6, 'SAR MAP');
    near(m.popularity.ndcg, 0.2522, 5e-4, 'popularity nDCG@10');
    near(m.popularity.precision, 0.2285, 5e-4, 'popularity P@10');
    near(m.itemknn.ndcg, 0.4113, 3e-3, 'item-kNN nDCG@10');
    near(m.ease.ndcg, 0.4829, 2e-3, 'EASE nDCG@10');
    near(m.ease.precision, 0.4198, 2e-3, 'EASE P@10');
    near(m.als.ndcg, 0.4879, 2e-3, 'ALS (32 factors, λ 40) nDCG@10');
    for (const name of Object.keys(m)) {
      const x = m[name];
      for (const key of ['ndcg', 'ndcgGraded', 'precision', 'recall', 'map', 'mapAtK', 'mrr', 'hitRate', 'auc']) {
        assert.ok(x.ci[key].lower <= x[key] && x[key] <= x.ci[key].upper, `${name} ${key} lies in its interval`);
      }
      assert.ok(x.mapAtK >= x.map, 'MAP over min(k, n) is at least MAP over n');
      assert.ok(x.coverage > 0 && x.coverage <= 1 && x.novelty > 0 && x.auc > 0.5);
      assert.equal(x.users, 943);
    }
    near(m.sar.ci.ndcg.lower, 0.3767, 2e-3, 'SAR nDCG@10 interval');
    assert.equal(j.baseline, 'als', 'the best baseline is the reference');
    const c = j.comparisons.find((x: { model: string; metric: string }) => x.model === 'sar' && x.metric === 'ndcg');
    near(c.diff, -0.0941, 5e-4, 'SAR − ALS nDCG@10');
    assert.ok(c.upper < 0 && c.pValue < 0.01 && c.permutationPValue < 0.01);
    assert.match(r.err, /^evaluate: sar: nDCG@10 0\.3938/m, 'progress lines go to stderr');

    const md = readFileSync(join(report, 'report.md'), 'utf8');
    assert.match(md, /^\| model \| nDCG@10 \| nDCG@10 graded \| P@10 \|/m);
    assert.match(md, /^\| sar \| 0\.3938 \[0\.37\d\d, 0\.41\d\d\] \|/m);
    assert.match(md, /!\[nDCG@10 by model, 95% bootstrap interval\]\(ndcg\.svg\)/);
    assert.match(md, /Only `--protocol time` splits the test users/);
    const html = readFileSync(join(report, 'report.html'), 'utf8');
    assert.match(html, /<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.match(html, /<td>ease<\/td><td>0\.4829 \[/);
    assert.match(readFileSync(join(report, 'ndcg.svg'), 'utf8'), /^<svg[^]*<\/svg>\n$/);
  });

  test('time: one cutoff, warm and cold users apart, the table on stdout', async () => {
    const report = join(tmp, 'time');
    const r = await bin('--data', DATA, '--format', 'movielens', '--protocol', 'time', '--models', 'popularity-decayed,sar', '--baseline', 'sar', '--resamples', '200', '--report', report);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^protocol time, k 10: 79999 training rows, 20001 test rows, 301 test users, cutoff 1998-03-07T02:21:09\.000Z \(109 warm, 192 cold\)$/m);
    assert.match(r.out, /^sar: warm nDCG@10 0\.\d{4} \(109 users\), cold 0\.0000 \(192 users, 0 scored\)$/m);
    assert.match(r.out, /^popularity-decayed − sar: nDCG@10 \+0\.\d{4}/m);
    const md = readFileSync(join(report, 'report.md'), 'utf8');
    assert.match(md, /^\| model \| warm users \| warm nDCG@10 \| warm P@10 \| cold users \| cold scored \|/m);
    assert.match(md, /^\| sar \| 109 \| 0\.\d{4} \[.*\] \| 192 \| 0 \| 0\.0000 \[0\.0000, 0\.0000\] \|/m);
    assert.match(readFileSync(join(report, 'warm-cold.svg'), 'utf8'), /<text[^>]*>cold<\/text>/);
  });
});

test('a JSONL event file: plays count, impressions do not, a broken line is left out', async () => {
  const day = 86_400_000, t0 = Date.UTC(2024, 0, 1);
  const ev = (user: string, item: string, d: number, type = 'play') => JSON.stringify({ event_id: `${user}-${item}-${type}`, user_id: user, item_id: item, ts: t0 + d * day, type });
  const file = join(tmp, 'events.jsonl');
  writeFileSync(file, [
    ev('u1', 'a', 1), ev('u1', 'b', 2), ev('u2', 'a', 1), ev('u2', 'c', 3), ev('u4', 'd', 1), ev('u1', 'd', 4, 'impression'),
    '{"broken', ev('u1', 'c', 10), ev('u2', 'b', 11), ev('u3', 'b', 12),
  ].join('\n'));
  const r = await bin('--data', file, '--format', 'jsonl', '--protocol', 'time', '--cutoff', '2024-01-06T00:00:00Z', '--k', '2', '--models', 'popularity,itemknn', '--resamples', '50', '--json');
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /read 8 interactions from .*events\.jsonl .*; 1 rejected lines left out/);
  const j = JSON.parse(r.out);
  assert.deepEqual(j.split, { train: 5, test: 3, testUsers: 3, catalogue: 4, cutoff: '2024-01-06T00:00:00.000Z', warmUsers: 2, coldUsers: 1 });
  // u1 and u2 find their test item first; the cold u3 gets the popular [a, b] and finds b second.
  near(j.models.popularity.ndcg, (2 + 1 / Math.log2(3)) / 3, 1e-12, 'popularity nDCG@2');
  near(j.models.itemknn.segments.warm.ndcg, 1, 1e-12, 'item-kNN warm nDCG@2');
  assert.equal(j.models.itemknn.segments.cold.ndcg, 0);
});

test('a --report that is a file, or a --cutoff outside the data, is a usage error before any work, naming the flag', async () => {
  const day = 86_400_000, t0 = Date.UTC(2024, 0, 1);
  const file = join(tmp, 'few.jsonl');
  writeFileSync(file, ['a', 'b', 'c'].flatMap((item, d) => ['u1', 'u2'].map((user) => JSON.stringify({ event_id: `${user}-${item}`, user_id: user, item_id: item, ts: t0 + d * day, type: 'play' }))).join('\n'));
  const taken = join(tmp, 'taken.txt');
  writeFileSync(taken, 'not a folder');
  const report = await bin('--data', file, '--format', 'jsonl', '--models', 'popularity', '--report', taken, '--json');
  assert.equal(report.code, 2, report.err);
  assert.match(report.err, /--report .*taken\.txt is a file; give a folder/);
  assert.equal(report.out, '');
  const late = await bin('--data', file, '--format', 'jsonl', '--protocol', 'time', '--cutoff', '2030-01-01T00:00:00Z', '--models', 'popularity');
  assert.equal(late.code, 2, late.err);
  assert.match(late.err, /--cutoff 2030-01-01T00:00:00\.000Z leaves no test rows: the interactions run from 2024-01-01T00:00:00\.000Z to 2024-01-03T00:00:00\.000Z/);
});

test('an input whose every line is rejected: the error gives the first reasons, not only a count', async () => {
  const file = join(tmp, 'no-times.jsonl');
  writeFileSync(file, ['u1', 'u2'].map((user) => JSON.stringify({ event_id: user, user_id: user, item_id: 'a', type: 'play' })).join('\n'));
  const r = await bin('--data', file, '--format', 'jsonl', '--models', 'popularity');
  assert.notEqual(r.code, 0);
  assert.match(r.err, /no interactions to evaluate in .*no-times\.jsonl: 2 lines rejected \(no-times\.jsonl:1: ts is missing \(fix: give the event time/);
});

describe('recsignal evaluate refuses bad requests', () => {
  test('unknown models and protocols are usage errors', async () => {
    const a = await bin('--data', DATA, '--format', 'movielens', '--models', 'sar,bpr');
    assert.equal(a.code, 2);
    assert.match(a.err, /unknown model 'bpr'; use some of popularity, popularity-decayed, itemknn, userknn, sar, ease, als, embedding, rp3beta, ranker/);
    const b = await bin('--data', DATA, '--format', 'movielens', '--protocol', 'leave-one-out');
    assert.equal(b.code, 2);
    assert.match(b.err, /Allowed choices are ms-stratified, per-user, time/);
  });

});
