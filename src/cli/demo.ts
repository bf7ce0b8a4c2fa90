/**
 * @module The demo: the whole path on the embedded default, no services. Generate a
 * streaming-service log, ingest it, backfill the demo features, build a point-in-time training
 * set from impressions labelled by whether a play followed, and print what happened; then (unless
 * --no-serve) serve the features while the log's last day streams in on a simulated clock.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { RecsignalError } from '../core/errors.ts';
import { DAY_MS, MINUTE_MS, formatDuration, isoTime } from '../core/time.ts';
import type { InteractionEvent } from '../events/schema.ts';
import type { CompiledFeatureSet } from '../plan/compile.ts';
import { replayLog } from '../store/offline/replay.ts';
import { FeatureServer } from '../serve/server.ts';
import { servedBy } from '../serve/log-lock.ts';
import { stopSignal } from '../serve/until-stopped.ts';
import { createEventValidator } from '../events/validate.ts';
import { writeGenerated } from '../events/generate-write.ts';
import { openReader, readItemsFile, readUsersFile } from '../events/readers/index.ts';
import { EventLog } from '../store/offline/event-log.ts';
import { ingest } from '../store/offline/ingest.ts';
import { DuckDBEngine, sqlPath, sqlString } from '../store/offline/duckdb-engine.ts';
import { backfill, buildTrainingSet } from '../compute/batch/training-set.ts';
import { saveFeatureRanker, trainFeatureRanker, type FeatureRanker } from '../models/feature-ranker.ts';
import { itemEmbeddingIndex } from '../models/embeddings.ts';
import { candidateRecallBySource, type CandidateRecall, type SourceRecall } from '../serve/candidate-recall.ts';
import { readMetadata } from '../store/offline/metadata.ts';
import { loadFeatureSet } from '../plan/load-features.ts';
import { formatHeldOut, formatTopFeatures } from './train-ranker.ts';
import { progress } from './progress.ts';

export interface DemoOptions {
  readonly users: number;
  readonly items: number;
  readonly days: number;
  readonly seed: number;
  readonly dir: string;
  readonly serve: boolean;
  /** Serving: event time per wall time of the live stream; default 3600 (an hour a second). */
  readonly speed?: number;
  /** Serving: the port; default 6566, 0 picks a free one. */
  readonly port?: number;
  /** Serving: stop after this long; default at SIGINT / SIGTERM. */
  readonly exitAfterMs?: number;
}

export const DEMO_FEATURES = fileURLToPath(new URL('../../examples/streaming/features.ts', import.meta.url));
const START = Date.UTC(2024, 0, 1);

/** Marks a folder the demo made: only such a folder (or an empty one) is emptied by the next run. */
const DEMO_MARK = '.recsignal-demo';
/** What the demo writes in its folder: a folder holding nothing else is one an earlier version made, before the mark. */
const DEMO_OUTPUTS = new Set([DEMO_MARK, 'generated', 'log', 'backfill.parquet', 'spine.parquet', 'training.parquet', 'model.json']);

/**
 * Empties `dir` for a new run, refusing a folder the demo did not make (`--dir .` must not delete a
 * project): one with the demo's mark, an empty one, or (made before the mark) one holding only the
 * demo's outputs with its generated events among them. A `data/` folder of the user's own `log/`
 * and `model.json` has the same names as the demo's outputs, and was deleted: names are no proof.
 * Nor is a folder emptied whose log a live server serves (a demo still running there, say).
 */
export function prepareDemoDir(dir: string): void {
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new RecsignalError('INVALID_ARGUMENT', `--dir '${dir}' is a file; give a new or empty folder for the demo's files`);
    const entries = readdirSync(dir);
    const earlierDemo = entries.every((e) => DEMO_OUTPUTS.has(e)) && existsSync(join(dir, 'generated', 'events.jsonl'));
    if (entries.length > 0 && !entries.includes(DEMO_MARK) && !earlierDemo) {
      throw new RecsignalError('INVALID_ARGUMENT', `--dir '${dir}' holds files the demo did not make (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', …' : ''}); the demo replaces its folder's contents, so give a new or empty folder`);
    }
    const server = servedBy(join(dir, 'log'));
    if (server !== null) {
      throw new RecsignalError('INVALID_ARGUMENT', `--dir '${dir}': its log is being served (${server}); stop that server (or demo) first, or give the demo another --dir`);
    }
    rmSync(dir, { recursive: true, force: true });
  }
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, DEMO_MARK), 'made by `recsignal demo`, which empties this folder on its next run\n');
}

export async function runDemo(o: DemoOptions, out: (s: string) => void): Promise<void> {
  const dir = resolve(o.dir);
  prepareDemoDir(dir);
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
  // The ranker: a GBDT on that training set, users held out; a log too small to learn from serves features only.
  const modelOut = join(dir, 'model.json');
  const ranker = await step('train', () => trainFeatureRanker({ trainingSet: trainingOut, label: 'label', seed: o.seed }).catch((e: Error) => e));
  if (!(ranker instanceof Error)) saveFeatureRanker(ranker, modelOut);

  out(`\nevents     generated ${gen.events.toLocaleString('en-US')}; received ${report.received}, accepted ${report.accepted}, rejected ${report.rejected}, duplicates ${report.duplicates}\n`);
  out(`metadata   ${report.items} items, ${report.users} users\n`);
  out(`features   ${compiled.ir.views.length} views, ${ts.columns.length} features (set ${compiled.ir.name}, hash ${compiled.hash})\n`);
  out(`backfill   as of ${isoTime(end)}: ${Object.entries(bf.entities).map(([e, n]) => `${n} ${e}`).join(', ')} → ${backfillOut}\n`);
  out(`training   ${ts.rows} spine rows (${spineRows.positives} positive) × ${ts.columns.length} features, point-in-time → ${trainingOut}\n`);
  out(ranker instanceof Error
    ? `ranker     not trained (${ranker.message}); serving features only\n`
    : `ranker     ${ranker.objective} GBDT on ${ranker.features.length} features → ${modelOut}\n           ${formatHeldOut(ranker.metrics)}\n           top features by gain:\n${formatTopFeatures(ranker, 5).replace(/^/gm, '         ')}\n`);
  out(`time       ${timings.map(([n, s]) => `${n} ${s.toFixed(2)} s`).join(', ')}\n`);
  out(`\nexample training rows:\n${await exampleRows(trainingOut)}\n`);
  if (o.serve) await serveDemo(compiled, log, end, o, out, ranker instanceof Error ? undefined : ranker);
}

/**
 * Serving on the embedded default: the state is the log replayed up to its last day; the last day
 * then streams in (online only: those events are in the log already) on a clock that runs `speed`
 * times faster than the wall clock, and requests are answered as of that clock.
 */
async function serveDemo(compiled: CompiledFeatureSet, log: EventLog, end: number, o: DemoOptions, out: (s: string) => void, ranker: FeatureRanker | undefined): Promise<void> {
  const cutoff = Math.max(START, end - DAY_MS);
  const speed = o.speed ?? 3600;
  const events = replayLog(log);
  let pending: InteractionEvent | null = null;
  // An active user and the items they met last, for the printed examples.
  let example: { user: string; device: string | null; items: string[] } | null = null;
  let recent: string[] = [];
  async function* head(): AsyncGenerator<InteractionEvent> {
    for (;;) {
      const r = await events.next();
      if (r.done) return;
      if (r.value.ts >= cutoff) {
        pending = r.value;
        return;
      }
      const e = r.value;
      if (e.itemId !== null) {
        recent = [e.itemId, ...recent.filter((i) => i !== e.itemId)].slice(0, 3);
        if (e.type === 'play') example = { user: e.userId, device: typeof e.context['device'] === 'string' ? e.context['device'] : null, items: [...new Set([e.itemId, ...recent])].slice(0, 3) };
      }
      yield e;
    }
  }
  let wall0: number | null = null;
  const clock = () => (wall0 === null ? cutoff : cutoff + (Date.now() - wall0) * speed);
  // Item embeddings for the recommendations' `similar` candidates: learned from the log before the
  // served stream starts (so nothing after it), new items placed by their genres and year.
  const embeddings = ranker ? await itemEmbeddingIndex(log, cutoff, compiled.ir.weights, await readMetadata(log), { seed: o.seed }) : null;
  if (embeddings) out(`embeddings ${embeddings.index.dims}-dim item vectors: ${embeddings.learned} learned from interactions before ${isoTime(cutoff)}, ${embeddings.fromMetadata} from metadata (cold start); exact nearest-neighbour retrieval\n`);
  out(`\nstarting the server: replaying the log up to ${isoTime(cutoff)} into the stream engine…\n`);
  // From here a signal stops the server cleanly (its lock released), even one that comes while it starts.
  const stop = stopSignal();
  const server = await FeatureServer.start({ compiled, log, host: '127.0.0.1', port: o.port ?? 6566, bootstrap: head(), clock, lateness: 5 * MINUTE_MS, ...(ranker ? { ranker } : {}), ...(embeddings ? { embeddings: embeddings.index } : {}) }).catch(async (e: unknown) => {
    stop.cancel();
    await events.return(undefined);
    throw e;
  });
  let live = 0;
  let stopping = false;
  let pump: Promise<void> = Promise.resolve();
  try {
    const ready = await Promise.race([server.ready.then(() => true), stop.stopped.then(() => false)]);
    if (ready) {
      // Before the clock starts: how much of the streamed day's plays each candidate source held as of the cutoff.
      if (server.recommender) out(formatCandidateRecall(await candidateRecallBySource(server.recommender, await laterPlays(log, cutoff, end, CANDIDATE_USERS), cutoff)));
      wall0 = Date.now();
      stop.after(o.exitAfterMs);
      printServing(server.url, cutoff, speed, server.bootstrapped, example, ranker !== undefined, out);
      pump = (async () => {
        while (!stopping) {
          const now = clock();
          const batch: InteractionEvent[] = [];
          while (pending !== null && (pending as InteractionEvent).ts <= now && !stopping) {
            batch.push(pending);
            const r = await events.next();
            pending = r.done ? null : r.value;
          }
          if (batch.length > 0) {
            server.push(batch, 'online', { logged: true });
            live += batch.length;
          }
          if (pending === null) {
            out(`live       the last day has streamed in (${live} events); the clock runs on\n`);
            return;
          }
          await sleep(50);
        }
      })();
    }
    const reason = await stop.stopped;
    stopping = true;
    await pump;
    out(ready
      ? `\nstopped (${reason}) at ${isoTime(clock())} (simulated): ${live} live events applied, watermark ${isoTime(server.state.engine.watermark)}\n`
      : `\nstopped (${reason}) while replaying the log\n`);
  } finally {
    stopping = true;
    await server.close();
    await events.return(undefined);
  }
}

function printServing(url: string, cutoff: number, speed: number, replayed: number, example: { user: string; device: string | null; items: string[] } | null, recommends: boolean, out: (s: string) => void): void {
  const user = example?.user ?? 'u1';
  const items = example && example.items.length > 0 ? example.items : ['i1', 'i2'];
  const features = { user_id: user, items, ...(example?.device ? { context: { device: example.device } } : {}) };
  const feast = { features: ['user_engagement:play_count_1d', 'item_popularity:play_count_1d', 'request_features:genre_match'], entities: { user_id: items.map(() => user), item_id: items }, full_feature_names: true };
  const post = (path: string, body: unknown) => `  curl -s ${url}${path} -H 'content-type: application/json' -d '${JSON.stringify(body)}'`;
  out(`serving    ${url}: ${replayed.toLocaleString('en-US')} events up to ${isoTime(cutoff)} in the online state; the last day streams in at ${speed}× (${formatDuration(Math.round(speed * 1000))} of event time a second)\n`);
  out(`           requests are answered as of the simulated clock (docs/serving.md describes every endpoint)\n`);
  const recommend = { user, k: 10, ...(example?.device ? { context: { device: example.device } } : {}) };
  out(`try\n${post('/v1/features', features)}\n${post('/get-online-features', feast)}\n${recommends ? `${post('/v1/recommendations', recommend)}\n` : ''}  curl -s ${url}/metrics\n`);
  out(`Ctrl-C stops the server.\n`);
}

/** Users measured by the demo's candidate recall (those with plays in the streamed day, by id). */
const CANDIDATE_USERS = 300;

/** The items each user played in [from, to): the demo's truth for candidate recall, for the first `users` users by id. */
async function laterPlays(log: EventLog, from: number, to: number, users: number): Promise<Map<string, Set<string>>> {
  const engine = await DuckDBEngine.open();
  try {
    const rows = await engine.query(`SELECT DISTINCT user_id, item_id FROM ${log.eventsRelation()} WHERE type = 'play' AND item_id IS NOT NULL AND ts >= ${from} AND ts < ${to} ORDER BY user_id, item_id`);
    const out = new Map<string, Set<string>>();
    for (const r of rows) {
      const u = String(r['user_id']);
      let items = out.get(u);
      if (!items) {
        if (out.size === users) break;
        out.set(u, (items = new Set()));
      }
      items.add(String(r['item_id']));
    }
    return out;
  } finally {
    engine.close();
  }
}

function formatCandidateRecall(r: CandidateRecall): string {
  const f = (x: SourceRecall) => `${x.recall.toFixed(3)} (${x.items.toFixed(0)} items)`;
  return `candidates recall of the streamed day's plays as of its start, ${r.users} users: union ${f(r.union)}; ${Object.entries(r.bySource).map(([k, x]) => `${k} ${f(x)}`).join(', ')}\n`;
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
    const rows = await engine.query(`SELECT ${cols.map((c) => `"${c}"`).join(', ')} FROM read_parquet(${sqlPath(path)}) WHERE user_engagement__play_count_7d > 0 LIMIT 5`);
    const short = (c: string) => c.replace(/^[a-z_]+__/, '');
    const fmt = (v: unknown) => (typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(3)) : String(v));
    const widths = cols.map((c) => Math.max(short(c).length, ...rows.map((r) => fmt(r[c]).length)));
    const line = (vals: string[]) => vals.map((v, i) => v.padStart(widths[i] as number)).join('  ');
    return [line(cols.map(short)), ...rows.map((r) => line(cols.map((c) => fmt(r[c]))))].join('\n');
  } finally {
    engine.close();
  }
}
