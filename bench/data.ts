/**
 * @module The benchmark's inputs, cached outside the repository: a generated world (Parquet),
 * its event log ingested through the CLI's path, a spine of labelled impressions, and a small
 * slice of the world (its own log and spine) for the reference aggregator.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DAY_MS } from '../src/core/time.ts';
import { writeGenerated } from '../src/events/generate-write.ts';
import { openReader, readItemsFile, readUsersFile } from '../src/events/readers/index.ts';
import { createEventValidator } from '../src/events/validate.ts';
import { DuckDBEngine, sqlString } from '../src/store/offline/duckdb-engine.ts';
import { EventLog } from '../src/store/offline/event-log.ts';
import { ingest, type IngestReport } from '../src/store/offline/ingest.ts';
import type { CompiledFeatureSet } from '../src/plan/compile.ts';
import { usersFor, worldDir, type BenchOptions } from './options.ts';

export const START = Date.UTC(2024, 0, 1);
/** The spine samples impressions of the last two weeks, so every row has at least two weeks of history. */
export const SPINE_DAYS = 14;
const SAMPLE_STRIDE = 50;

export interface World {
  readonly dir: string;
  readonly eventsFile: string;
  readonly itemsFile: string;
  readonly usersFile: string;
  readonly log: string;
  readonly events: number;
  readonly users: number;
  /** The end of the log: backfills are taken as of it. */
  readonly end: number;
  readonly spine: string;
  readonly spineRows: number;
  readonly spinePositives: number;
  /** Every 50th spine row: small enough for recsignal to finish, for the cell-by-cell check at full size. */
  readonly spineSample: string;
  readonly spineSampleRows: number;
  readonly timings: Readonly<Record<string, number>>;
}

export interface Slice {
  readonly dir: string;
  readonly eventsFile: string;
  readonly log: string;
  readonly spine: string;
  readonly events: number;
  readonly users: number;
  readonly spineRows: number;
}

/** Generates, ingests and samples what is missing from the cache; returns where everything is. */
export async function prepareWorld(o: BenchOptions, compiled: CompiledFeatureSet, say: (s: string) => void): Promise<World> {
  const dir = worldDir(o);
  const users = usersFor(o.events, o.days);
  const eventsFile = join(dir, 'generated', 'events.parquet');
  const itemsFile = join(dir, 'generated', 'events.items.jsonl');
  const usersFile = join(dir, 'generated', 'events.users.jsonl');
  const end = START + o.days * DAY_MS;
  const timings: Record<string, number> = {};

  const generated = await cached(join(dir, 'generated', 'done.json'), timings, 'generate', async () => {
    rmSync(dir, { recursive: true, force: true }); // everything else derives from the generated file
    say(`generate: ${users} users, ${o.items} items, ${o.days} days (seed ${o.seed}) → ${eventsFile}`);
    const r = await writeGenerated({ users, items: o.items, days: o.days, seed: o.seed, start: START, out: eventsFile });
    return { events: r.events };
  });

  const logDir = join(dir, 'log');
  await cached(join(dir, 'ingest.json'), timings, 'ingest', async () => {
    rmSync(logDir, { recursive: true, force: true });
    say(`ingest: ${generated.events} events → ${logDir}`);
    return ingestFile(eventsFile, logDir, compiled, end, await readItemsFile(itemsFile), await readUsersFile(usersFile));
  });

  const spine = join(dir, `spine-${o.spine}.parquet`);
  const spineInfo = await cached(`${spine}.json`, timings, 'spine', async () => {
    say(`spine: ${o.spine} labelled impressions → ${spine}`);
    return writeSpine(new EventLog(logDir).eventsRelation(), end - SPINE_DAYS * DAY_MS, o.spine, spine);
  });
  const spineSample = join(dir, `spine-${o.spine}-every${SAMPLE_STRIDE}.parquet`);
  const sample = await cached(`${spineSample}.json`, timings, 'spine sample', async () => {
    const engine = await DuckDBEngine.open();
    try {
      await engine.run(`COPY (SELECT * EXCLUDE (file_row_number) FROM read_parquet(${sqlString(spine)}, file_row_number = true) WHERE file_row_number % ${SAMPLE_STRIDE} = 0 ORDER BY file_row_number) TO ${sqlString(spineSample)} (FORMAT parquet)`);
      return { rows: Number((await engine.query(`SELECT count(*) AS n FROM read_parquet(${sqlString(spineSample)})`))[0]?.['n']) };
    } finally {
      engine.close();
    }
  });
  return { dir, eventsFile, itemsFile, usersFile, log: logDir, events: generated.events, users, end, spine, spineRows: spineInfo.rows, spinePositives: spineInfo.positives, spineSample, spineSampleRows: sample.rows, timings };
}

/**
 * The slice: every event of a hash-chosen set of users, about `sliceEvents` in all, as its own
 * Parquet file, log and spine (so recsignal and the reference see exactly the same input).
 */
export async function prepareSlice(o: BenchOptions, world: World, compiled: CompiledFeatureSet, say: (s: string) => void): Promise<Slice> {
  const dir = join(world.dir, `slice-${o.sliceEvents}-${o.sliceSpine}`);
  const eventsFile = join(dir, 'events.parquet');
  const logDir = join(dir, 'log');
  const spine = join(dir, 'spine.parquet');
  const info = await cached(join(dir, 'done.json'), {}, 'slice', async () => {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    say(`slice: about ${o.sliceEvents} events → ${dir}`);
    const engine = await DuckDBEngine.open();
    let users: string[];
    try {
      const src = `read_parquet(${sqlString(world.eventsFile)})`;
      await engine.run(`CREATE TEMP TABLE chosen AS
        SELECT user_id FROM (SELECT user_id, sum(n) OVER (ORDER BY hash(user_id), user_id) AS running FROM (SELECT user_id, count(*) AS n FROM ${src} GROUP BY user_id))
        WHERE running <= ${o.sliceEvents}`);
      await engine.run(`COPY (SELECT * FROM ${src} WHERE user_id IN (SELECT user_id FROM chosen) ORDER BY user_id, ts, event_id) TO ${sqlString(eventsFile)} (FORMAT parquet)`);
      users = (await engine.query('SELECT user_id FROM chosen')).map((r) => String(r['user_id']));
    } finally {
      engine.close();
    }
    const keep = new Set(users);
    const report = await ingestFile(eventsFile, logDir, compiled, world.end, await readItemsFile(world.itemsFile), (await readUsersFile(world.usersFile)).filter((u) => keep.has(u.userId)));
    const s = await writeSpine(new EventLog(logDir).eventsRelation(), world.end - SPINE_DAYS * DAY_MS, o.sliceSpine, spine);
    return { events: report.accepted, users: users.length, spineRows: s.rows };
  });
  return { dir, eventsFile, log: logDir, spine, events: info.events, users: info.users, spineRows: info.spineRows };
}

/** The CLI's ingest path: the Parquet reader, the validator, the log's append. */
async function ingestFile(file: string, logDir: string, compiled: CompiledFeatureSet, end: number, items: Awaited<ReturnType<typeof readItemsFile>>, users: Awaited<ReturnType<typeof readUsersFile>>): Promise<IngestReport> {
  const report = await ingest(openReader(file, { format: 'parquet' }), {
    log: new EventLog(logDir),
    validator: createEventValidator({ extraTypes: compiled.ir.extraTypes, now: end + DAY_MS }),
    deadLetterPath: join(logDir, 'dead-letter', 'bench.jsonl'),
    items,
    users,
  });
  if (report.rejected > 0) throw new Error(`ingest of ${file} rejected ${report.rejected} events; see ${report.deadLetter}`);
  return report;
}

/**
 * Impressions since `from`, labelled 1 when the user played the item within 10 minutes (as the
 * demo's spine), sampled down to `rows` by a hash of the event id so the sample is deterministic.
 */
export async function writeSpine(events: string, from: number, rows: number, path: string): Promise<{ rows: number; positives: number }> {
  const engine = await DuckDBEngine.open();
  try {
    await engine.run(`CREATE TEMP TABLE imp AS SELECT event_id, user_id, item_id, ts FROM ${events} WHERE type = 'impression' AND ts >= ${from}`);
    await engine.run(`CREATE TEMP TABLE plays AS SELECT user_id, item_id, ts FROM ${events} WHERE type = 'play'`);
    await engine.run(`CREATE TEMP TABLE spine AS
      SELECT i.user_id, i.item_id, i.ts,
        CAST(EXISTS (SELECT 1 FROM plays AS p WHERE p.user_id = i.user_id AND p.item_id = i.item_id AND p.ts > i.ts AND p.ts <= i.ts + 600000) AS INTEGER) AS label
      FROM (SELECT * FROM imp ORDER BY hash(event_id), event_id LIMIT ${rows}) AS i`);
    await engine.run(`COPY (SELECT * FROM spine ORDER BY ts, user_id, item_id) TO ${sqlString(path)} (FORMAT parquet)`);
    const r = (await engine.query(`SELECT count(*) AS n, sum(label) AS p FROM spine`))[0] ?? {};
    return { rows: Number(r['n']), positives: Number(r['p'] ?? 0) };
  } finally {
    engine.close();
  }
}

/** Runs `make` unless its marker file exists; the marker holds the result (and the step's time on a miss). */
async function cached<T extends object>(marker: string, timings: Record<string, number>, step: string, make: () => Promise<T>): Promise<T> {
  if (existsSync(marker)) return JSON.parse(readFileSync(marker, 'utf8')) as T;
  const t0 = performance.now();
  const value = await make();
  timings[step] = (performance.now() - t0) / 1000;
  mkdirSync(join(marker, '..'), { recursive: true });
  writeFileSync(marker, JSON.stringify({ ...value, seconds: timings[step] }));
  return value;
}
