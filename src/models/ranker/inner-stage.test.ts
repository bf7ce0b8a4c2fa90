import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { readInteractions } from '../../cli/evaluate.ts';
import { catalogueOf } from '../../eval/ids.ts';
import { stratifiedSplitMs } from '../../eval/split.ts';
import { innerStages } from './inner-stage.ts';
import { stageSettings, type RankerInput } from './settings.ts';

const ML = fileURLToPath(new URL('../../../../shared/data/ml-100k', import.meta.url));

test('inner stages built on a worker thread equal those built here, in split order', { skip: existsSync(ML) ? false : 'needs ../shared/data/ml-100k' }, async () => {
  const { rows } = await readInteractions(ML, 'movielens');
  const train = stratifiedSplitMs(rows.filter((r) => Number(r.user) <= 120), { ratio: 0.75, seed: 42 }).train;
  const input: RankerInput = {
    protocol: 'ms-stratified', train, items: catalogueOf(train), cutoffTs: undefined, seed: 42,
    params: { innerSplits: 3 }, source: { path: ML, format: 'movielens' },
  };
  const settings = await stageSettings(input);
  const notes: string[] = [];
  const shared = await innerStages(input, settings, (m) => notes.push(m), 1);
  const here = await innerStages(input, settings, () => undefined, 0);
  assert.ok(!notes.some((m) => m.includes('failed')), notes.join('\n'));
  const byWorkers = Number(/inner stages: (\d+) of 3 built on worker threads/.exec(notes.join('\n'))?.[1] ?? 0);
  assert.ok(byWorkers >= 1, 'the worker built a stage while this thread built the first');
  assert.equal(shared.length, 3);
  shared.forEach((s, i) => {
    const h = here[i]!;
    assert.equal(s.recall, h.recall, `split ${i + 1}: recall`);
    assert.deepEqual(s.set.names, h.set.names);
    assert.deepEqual(s.set.groupUsers, h.set.groupUsers, `split ${i + 1}: users`);
    assert.deepEqual(s.set.groupSizes, h.set.groupSizes);
    assert.deepEqual(Array.from(s.set.labels), Array.from(h.set.labels));
    // DuckDB runs on one thread for the ranker's features: bit for bit.
    assert.deepEqual(Array.from(s.set.data), Array.from(h.set.data), `split ${i + 1}: features`);
  });
});
