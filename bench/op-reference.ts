/**
 * @module Child step: the reference aggregator (the tests' oracle) on the slice: every feature of
 * every spine row, computed by reading the semantics contract literally. Only `referenceFeatures`
 * is timed; reading the events and the spine into memory is reported apart.
 *   --events FILE.parquet --items FILE.jsonl --users FILE.jsonl --spine FILE.parquet
 */
import { DEMO_FEATURES } from '../src/cli/demo.ts';
import { loadFeatureSet } from '../src/plan/load-features.ts';
import { referenceFeatures, type ReferenceQuery } from '../src/compute/reference/reference.ts';
import { openReader, readItemsFile, readUsersFile } from '../src/events/readers/index.ts';
import type { InteractionEvent } from '../src/events/schema.ts';
import { createEventValidator } from '../src/events/validate.ts';
import { DuckDBEngine, sqlString } from '../src/store/offline/duckdb-engine.ts';
import { argMap, timeAndReport } from './child.ts';

const a = argMap(process.argv.slice(2));
const need = (k: string): string => {
  const v = a.get(k);
  if (v === undefined) throw new Error(`op-reference: --${k} is required`);
  return v;
};

const t0 = performance.now();
const compiled = await loadFeatureSet(DEMO_FEATURES);
const validator = createEventValidator({ extraTypes: compiled.ir.extraTypes, now: Number.MAX_SAFE_INTEGER - 86_400_000 });
const events: InteractionEvent[] = [];
for await (const record of openReader(need('events'), { format: 'parquet' })) {
  const r = 'raw' in record ? validator(record.raw) : undefined;
  if (r === undefined || !r.ok) throw new Error(`op-reference: ${record.position} does not validate`);
  events.push(r.event);
}
const present = new Set(events.map((e) => e.userId));
const items = await readItemsFile(need('items'));
const users = (await readUsersFile(need('users'))).filter((u) => present.has(u.userId));
const engine = await DuckDBEngine.open();
const queries: ReferenceQuery[] = (await engine.query(`SELECT user_id, item_id, ts FROM read_parquet(${sqlString(need('spine'))})`)).map((r) => ({
  fields: { user_id: String(r['user_id']), item_id: String(r['item_id']) },
  ts: Number(r['ts']),
}));
engine.close();
const loadSeconds = (performance.now() - t0) / 1000;

await timeAndReport(async () => {
  const rows = referenceFeatures(compiled, { events, items, users }, queries);
  return { rows: rows.length, events: events.length, loadSeconds };
});
