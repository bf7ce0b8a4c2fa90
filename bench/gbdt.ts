/**
 * @module Micro-benchmark of the GBDT (src/models/gbdt): training time on 200k rows x 60 features,
 * 200 trees of 31 leaves, for the regression, binary and lambdarank objectives, and batch
 * prediction throughput. `node --import tsx bench/gbdt.ts [rows] [cols] [trees]`; prints JSON lines.
 * On a shared machine wall time swings with the load: `trainCpuSeconds` is the steadier figure.
 */
import { binaryData, rankingData, regressionData } from '../src/models/gbdt/synthetic.ts';
import { trainGbdt } from '../src/models/gbdt/train.ts';
import type { LabelledData, ObjectiveName } from '../src/models/gbdt/types.ts';

const [rows = 200_000, cols = 60, trees = 200] = process.argv.slice(2).map(Number);
const only = process.env['GBDT_BENCH_OBJECTIVES']?.split(',') ?? ['regression', 'binary', 'lambdarank'];
const docs = 50;

const sets: Record<ObjectiveName, () => LabelledData> = {
  regression: () => regressionData(rows, cols, 1),
  binary: () => binaryData(rows, cols, 1),
  lambdarank: () => rankingData(Math.floor(rows / docs), docs, cols, 1),
  rank_xendcg: () => rankingData(Math.floor(rows / docs), docs, cols, 1),
};

for (const objective of only as ObjectiveName[]) {
  const train = sets[objective]();
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const model = trainGbdt({ objective, train, numIterations: trees, numLeaves: 31 });
  const trainS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  const t1 = performance.now();
  model.predictBatch(train.features);
  const predictS = (performance.now() - t1) / 1000;
  const row = train.features.data.subarray(0, cols);
  const t2 = performance.now();
  let k = 0;
  for (; performance.now() - t2 < 300; k++) model.contributions(row);
  const shapMs = (performance.now() - t2) / k;
  console.log(JSON.stringify({
    objective, rows: train.features.rows, cols, trees: model.numTrees, numLeaves: 31,
    trainSeconds: +trainS.toFixed(2), trainCpuSeconds: +((cpu.user + cpu.system) / 1e6).toFixed(2), predictRowsPerSecond: Math.round(train.features.rows / predictS),
    treeShapMsPerRow: +shapMs.toFixed(3), node: process.version,
  }));
}
