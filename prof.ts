import { loadFeatureSet } from './src/cli/load-features.ts';
import { EventLog } from './src/store/offline/event-log.ts';
import { DuckDBEngine } from './src/store/offline/duckdb-engine.ts';
import { loadSpine, prepareQueries, computeFeatures, spineTimeExpr, openBatch } from './src/compute/batch/run.ts';
const compiled = await loadFeatureSet('examples/streaming/features.ts');
const log = new EventLog(process.argv[2] ?? '.recsignal/demo/log');
const ctx = await openBatch(compiled, log);
const engine = ctx.engine;
await loadSpine(engine, process.argv[3] ?? '.recsignal/demo/spine.parquet');
const te = await spineTimeExpr(engine, 'ts');
let tot = 0;
for (const v of compiled.ir.views) {
  await prepareQueries(ctx, '__spine', '__row', te, [v]);
  const t0 = performance.now();
  await computeFeatures(ctx, [v], false);
  const s = (performance.now() - t0)/1000; tot += s;
  console.log(v.name, s.toFixed(2));
}
console.log('total', tot.toFixed(2));
