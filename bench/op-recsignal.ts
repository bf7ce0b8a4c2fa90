/**
 * @module Child step: one recsignal batch operation, as the CLI runs it.
 *   backfill     --log DIR --at MS --out FILE [--entities a,b]
 *   training-set --log DIR --spine FILE --out FILE [--views a,b]
 */
import { DEMO_FEATURES } from '../src/cli/demo.ts';
import { loadFeatureSet } from '../src/plan/load-features.ts';
import { backfill, buildTrainingSet } from '../src/compute/batch/training-set.ts';
import { EventLog } from '../src/store/offline/event-log.ts';
import { argMap, timeAndReport } from './child.ts';

const [op, ...rest] = process.argv.slice(2);
const a = argMap(rest);
const need = (k: string): string => {
  const v = a.get(k);
  if (v === undefined) throw new Error(`op-recsignal ${op}: --${k} is required`);
  return v;
};
const compiled = await loadFeatureSet(DEMO_FEATURES);
const log = new EventLog(need('log'));
const list = (k: string): string[] | undefined => a.get(k)?.split(',').filter(Boolean);

if (op === 'backfill') {
  const entities = list('entities');
  await timeAndReport(async () => {
    const r = await backfill({ compiled, log, at: Number(need('at')), out: need('out'), ...(entities ? { entities } : {}) });
    return { rows: r.rows, entities: r.entities, features: r.columns.length };
  });
} else if (op === 'training-set') {
  const views = list('views');
  await timeAndReport(async () => {
    const r = await buildTrainingSet({ compiled, log, spine: need('spine'), out: need('out'), ...(views ? { views } : {}) });
    return { rows: r.rows, features: r.columns.length, requestErrors: r.requestErrors.errors };
  });
} else {
  throw new Error(`op-recsignal: unknown operation '${op}'; use backfill or training-set`);
}
