/**
 * @module The demo: the whole batch path on the embedded default, no services. Generate a
 * streaming-service log, ingest it, backfill the demo features, build a point-in-time training
 * set from impressions labelled by whether a play followed, and print what happened.
 */
import { existsSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DAY_MS, isoTime } from '../core/time.ts';
import { createEventValidator } from '../events/validate.ts';
import { writeGenerated } from '../events/generate-write.ts';
import { openReader, readItemsFile, readUsersFile } from '../events/readers/index.ts';
import { EventLog } from '../store/offline/event-log.ts';
import { ingest } from '../store/offline/ingest.ts';
import { DuckDBEngine, sqlString } from '../store/offline/duckdb-engine.ts';
import { backfill, buildTrainingSet } from '../compute/batch/training-set.ts';
import { loadFeatureSet } from './load-features.ts';
import { progress } from './progress.ts';

export interface DemoOptions {
  readonly users: number;
  readonly items: number;
  readonly days: number;
  readonly seed: number;
  readonly dir: string;
  readonly serve: boolean;
}

export const DEMO_FEATURES = fileURLToPath(new URL('../../examples/streaming/features.ts', import.meta.url));
const START = Date.UTC(2024, 0, 1);

export async function runDemo(o: DemoOptions, out: (s: string) => void): Promise<void> {
  const dir = resolve(o.dir);
  if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  const timings: [string, number][] = [];
  const step = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const r = await fn();
    timings.push([name, (performance.now() - t0) / 1000]);
    return r;
  };

  out(`recsignal demo: ${o.users} users, ${o.items} items, ${o.days} days (seed ${o.seed}) in ${dir}\n`);
  const compiled = await loadFeatureSet(DEMO_FEATURES);
  const eventsFile = join(dir, 'generated', 'events.jsonl');
  const p = progress('generate', null);
  const gen = await step('generate', () => writeGenerated({ users: o.users, items: o.items, days: o.days, seed: o.seed, start: START, out: eventsFile, onProgress: (n) => p.update(n, 'events') }));
  p.stop();

  const log = new EventLog(join(dir, 'log'));
  const report = await step('ingest', async () =>
    ingest(openReader(eventsFile, { format: 'jsonl' }), {
      log,
      validator: createEventValidator({ extraTypes: compiled.ir.extraTypes, now: START + (o.days + 1) * DAY_MS }),
      items: await readItemsFile(gen.itemsPath),
      users: await readUsersFile(gen.usersPath),
    }),
  );

  const end = START + o.days * DAY_MS;
  const backfillOut = join(dir, 'backfill.parquet');
  const bf = await step('backfill', () => backfill({ compiled, log, at: end, out: backfillOut }));

  // The spine: impressions of the last week, labelled 1 when the user played the item within 10 minutes.
  const spine = join(dir, 'spine.parquet');
  const spineRows = await step('spine', () => writeSpine(log, end - 7 * DAY_MS, spine));
  const trainingOut = join(dir, 'training.parquet');
  const ts = await step('training-set', () => buildTrainingSet({ compiled, log, spine, out: trainingOut }));

  out(`\nevents     generated ${gen.events.toLocaleString('en-US')}; received ${report.received}, accepted ${report.accepted}, rejected ${report.rejected}, duplicates ${report.duplicates}\n`);
  out(`metadata   ${report.items} items, ${report.users} users\n`);
  out(`features   ${compiled.ir.views.length} views, ${ts.columns.length} features (set ${compiled.ir.name}, hash ${compiled.hash})\n`);
  out(`backfill   as of ${isoTime(end)}: ${Object.entries(bf.entities).map(([e, n]) => `${n} ${e}`).join(', ')} → ${backfillOut}\n`);
  out(`training   ${ts.rows} spine rows (${spineRows.positives} positive) × ${ts.columns.length} features, point-in-time → ${trainingOut}\n`);
  out(`time       ${timings.map(([n, s]) => `${n} ${s.toFixed(2)} s`).join(', ')}\n`);
  out(`\nexample training rows:\n${await exampleRows(trainingOut)}\n`);
  if (o.serve) {
    out('\nserving: the online path (stream engine, online store, HTTP API) is not built yet; this run did the batch path only (same as --no-serve).\n');
  }
}

async function writeSpine(log: EventLog, from: number, path: string): Promise<{ rows: number; positives: number }> {
  const engine = await DuckDBEngine.open();
  try {
    const ev = log.eventsRelation();
    await engine.run(`CREATE TEMP TABLE spine AS
      SELECT i.user_id, i.item_id, i.ts,
        CAST(EXISTS (SELECT 1 FROM ${ev} AS p WHERE p.type = 'play' AND p.user_id = i.user_id AND p.item_id = i.item_id AND p.ts > i.ts AND p.ts <= i.ts + 600000) AS INTEGER) AS label
      FROM ${ev} AS i WHERE i.type = 'impression' AND i.ts >= ${from}
      ORDER BY hash(i.event_id) LIMIT 20000`);
    await engine.run(`COPY (SELECT * FROM spine ORDER BY ts, user_id, item_id) TO ${sqlString(path)} (FORMAT parquet)`);
    const r = (await engine.query(`SELECT count(*) AS n, sum(label) AS p FROM spine`))[0] ?? {};
    return { rows: Number(r['n']), positives: Number(r['p'] ?? 0) };
  } finally {
    engine.close();
  }
}

async function exampleRows(path: string): Promise<string> {
  const engine = await DuckDBEngine.open();
  try {
    const cols = ['user_id', 'item_id', 'label', 'user_engagement__play_count_7d', 'user_engagement__engagement_short', 'user_negatives__ignored_7d', 'user_session__session_event_count', 'item_popularity__trend_1d_30d', 'genre_match', 'item_age_days'];
    const rows = await engine.query(`SELECT ${cols.map((c) => `"${c}"`).join(', ')} FROM read_parquet(${sqlString(path)}) WHERE user_engagement__play_count_7d > 0 LIMIT 5`);
    const short = (c: string) => c.replace(/^[a-z_]+__/, '');
    const fmt = (v: unknown) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(3)) : String(v));
    const widths = cols.map((c) => Math.max(short(c).length, ...rows.map((r) => fmt(r[c]).length)));
    const line = (vals: string[]) => vals.map((v, i) => v.padStart(widths[i] as number)).join('  ');
    return [line(cols.map(short)), ...rows.map((r) => line(cols.map((c) => fmt(r[c]))))].join('\n');
  } finally {
    engine.close();
  }
}
