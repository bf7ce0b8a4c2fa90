import assert from 'node:assert/strict';
import { test } from 'node:test';
import { barChart, horizontalBarChart } from './svg.ts';

/** Each label text element: its x, its tooltip (the whole label, when cut) and the text shown. */
function labels(svg: string): { x: number; title: string | null; shown: string }[] {
  return [...svg.matchAll(/<text x="([\d.]+)" y="[\d.]+" text-anchor="(?:end|middle)"[^>]*>(?:<title>([^<]*)<\/title>)?([^<]*)<\/text>/g)].map((m) => ({ x: Number(m[1]), title: m[2] ?? null, shown: m[3] as string }));
}

const long = 'user_genres:genre_rating_sum_over_the_last_thirty_days_weighted';

test('horizontal bars: a label too long for the label column is cut with an ellipsis, the whole label in its tooltip; short ones stay as they are', () => {
  const svg = horizontalBarChart('importance', [{ label: long, value: 3 }, { label: 'ease_score', value: 1 }]);
  const [a, b] = labels(svg).filter((l) => l.shown.startsWith('user_') || l.shown === 'ease_score');
  assert.equal(a?.title, long);
  assert.ok(a!.shown.endsWith('…') && a!.shown.length <= 38, a!.shown);
  assert.ok(long.startsWith(a!.shown.slice(0, -1)));
  assert.deepEqual(b, { x: a!.x, title: null, shown: 'ease_score' });
});

test('grouped bars: turned labels are cut to what fits below the plot, and the first one stays inside the figure', () => {
  const names = [long, 'popularity-decayed', 'itemknn', 'sar', 'ease', 'als', 'rp3beta', 'ranker'];
  const svg = barChart('nDCG@10', names.map((label, i) => ({ label, bars: [{ series: 'all', value: 0.1 * i, lower: 0.05 * i, upper: 0.15 * i }] })));
  assert.match(svg, /rotate\(-25 /);
  const shown = labels(svg).filter((l) => names.some((n) => n.startsWith(l.shown.replace(/…$/, ''))) && l.shown !== '');
  assert.equal(shown.length, names.length);
  const first = shown[0]!;
  assert.equal(first.title, long);
  assert.ok(first.shown.length <= 36);
  // Anchored at its end, turned 25°: its start lies this far left of x.
  assert.ok(first.x - first.shown.length * 6.5 * Math.cos((25 * Math.PI) / 180) >= 0, `the first label starts at x ${first.x} and reaches past the left edge`);
  assert.deepEqual(shown.slice(1).map((l) => [l.shown, l.title]), names.slice(1).map((n) => [n, null]));
});

test('grouped bars with short labels are not turned, and keep the default margin', () => {
  const svg = barChart('nDCG@10', ['a', 'b'].map((label) => ({ label, bars: [{ series: 'all', value: 0.3 }] })));
  assert.doesNotMatch(svg, /rotate/);
  assert.match(svg, /<line x1="48"/);
});
