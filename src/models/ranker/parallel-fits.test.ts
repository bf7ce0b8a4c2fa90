import assert from 'node:assert/strict';
import test from 'node:test';
import { fitLambdaMart, type LambdaMartParams, type LearningSet } from './learn.ts';
import { startParallelFits } from './parallel-fits.ts';

function syntheticSet(): LearningSet {
  const rows = 1200;
  const names = ['a', 'b', 'c', 'd'];
  const data = new Float64Array(rows * names.length).map((_, i) => ((i * 7919) % 101) / 101);
  // Relevant when a + b is large: something for the trees to learn.
  const labels = new Float64Array(rows).map((_, r) => (data[r * 4]! + data[r * 4 + 1]! > 1.3 ? 1 : 0));
  const groupSizes = Array.from({ length: 60 }, () => 20);
  return { names, data, labels, groupSizes, groupUsers: groupSizes.map((_, g) => `u${g}`), rows };
}

const params: LambdaMartParams = { iterations: 6, learningRate: 0.1, leaves: 3, minDataInLeaf: 5, earlyStopping: 0, minTrees: 1, validShare: 0.2, truncation: 8, featureFraction: 0.8, baggingFraction: 0.8, objective: 'lambdarank', seed: 3, k: 3, refit: false };

test('fits done by a worker thread equal the same fits run in turn, in job order', async () => {
  const set = syntheticSet();
  const subsets = [[0, 1], [1, 2, 3], [0, 3], [2]];
  const notes: string[] = [];
  const fits = startParallelFits(set, subsets, params, (m) => notes.push(m), 1);
  // This thread is busy elsewhere meanwhile, as the ranker's is: the worker claims every job.
  while (fits.doneByWorkers < subsets.length && notes.length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
  const models = await fits.finish();
  assert.deepEqual(notes, [], 'the worker started and finished its jobs');
  assert.equal(fits.doneByWorkers, subsets.length);
  assert.equal(models.length, subsets.length);
  subsets.forEach((cols, j) => assert.deepEqual(models[j]!.toJSON(), fitLambdaMart(set, cols, params).model.toJSON(), `job ${j}`));
});

test('with no worker, every fit runs on the calling thread', async () => {
  const set = syntheticSet();
  const fits = startParallelFits(set, [[0, 1], [2, 3]], params, () => assert.fail('no worker to fail'), 0);
  const models = await fits.finish();
  assert.equal(fits.doneByWorkers, 0);
  assert.deepEqual(models[1]!.toJSON(), fitLambdaMart(set, [2, 3], params).model.toJSON());
});
