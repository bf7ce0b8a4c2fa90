/** @module The command line: a thin layer over the public API; the only place that picks adapters. */
import { Command, CommanderError, Option } from 'commander';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, basename, extname, join } from 'node:path';
import { RecsignalError } from '../core/errors.ts';
import { formatDuration, parseInstant, isoTime, parseDuration } from '../core/time.ts';
import { createEventValidator, ISO_LIKE, SECONDS_LIKE_BELOW } from '../events/validate.ts';
import { INPUT_FORMATS, isInputFormat, openReader, readItemsFile, readMovieLensMetadata, readUsersFile } from '../events/readers/index.ts';
import { writeGenerated } from '../events/generate-write.ts';
import { EventLog } from '../store/offline/event-log.ts';
import { ingest } from '../store/offline/ingest.ts';
import { backfill, buildTrainingSet } from '../compute/batch/training-set.ts';
import { renderFeatureSql } from '../compute/batch/sql.ts';
import { DIALECTS } from '../compute/batch/dialect.ts';
import { featureColumns } from '../plan/rows.ts';
import { loadFeatureSet } from '../plan/load-features.ts';
import { checkConsistency } from '../monitor/consistency.ts';
import { progress } from './progress.ts';
import { DEMO_FEATURES, runDemo } from './demo.ts';
import { FeatureServer } from '../serve/server.ts';
import type { ServingState } from '../serve/online-state.ts';
import { StoreState } from '../serve/store-state.ts';
import { stopSignal } from '../serve/until-stopped.ts';
import { Redis } from 'ioredis';
import { StreamConsumer } from '../compute/stream/consumer.ts';
import { parseRedisUrl, RedisStore } from '../store/online/redis/redis-store.ts';
import { parseRedisClusterUrl, RedisClusterStore } from '../store/online/redis-cluster/redis-cluster-store.ts';
import type { OnlineStore } from '../store/online/online-store.ts';
import { registerEvaluate } from './evaluate.ts';
import { registerTrainRanker } from './train-ranker.ts';
import { loadFeatureRanker } from '../models/feature-ranker.ts';
import { itemEmbeddingIndex, publishedItemIndex, publishEmbeddings } from '../models/embeddings.ts';
import { embeddingViews, publishedDims, readEmbeddings } from '../store/offline/embeddings.ts';
import { readMetadata } from '../store/offline/metadata.ts';
import { decimalNumber, nonNegativeInt, positiveInt, positiveNumber } from './parse.ts';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function parseMap(pairs: readonly string[]): Record<string, string> {
  const map: Record<string, string> = {};
  for (const p of pairs) {
    const i = p.indexOf('=');
    if (i <= 0 || i === p.length - 1) throw new RecsignalError('INVALID_ARGUMENT', `--map '${p}': write source_col=field, e.g. --map userId=user_id or --map dev=context.device`);
    map[p.slice(0, i)] = p.slice(i + 1);
  }
  return map;
}

export function buildProgram(out: (s: string) => void, err: (s: string) => void = (s) => process.stderr.write(s)): Command {
  const program = new Command('recsignal')
    .description('Features for recommendation and personalization: one typed definition, point-in-time-correct in batch and real time.')
    .exitOverride()
    .configureOutput({ writeOut: out, writeErr: err });

  program
    .command('demo')
    .description('generate a streaming-service event log, ingest it, backfill the demo features and build a training set, then serve the features while the last day streams in (no services needed)')
    .option('--no-serve', 'batch only: stop after the training set and the model, without serving')
    .option('--users <n>', 'users to simulate', positiveInt('users'), 1500)
    .option('--items <n>', 'catalogue size', positiveInt('items'), 600)
    .option('--days <n>', 'days to simulate', positiveInt('days'), 28)
    .option('--seed <n>', 'random seed', positiveInt('seed'), 7)
    .option('--dir <dir>', 'working folder', '.recsignal/demo')
    .option('--speed <x>', 'serving: event time per wall time of the live stream (3600 = one hour per second)', positiveNumber('speed'), 3600)
    .option('--port <n>', 'serving: port (0 picks a free one)', port, 6566)
    .option('--exit-after <seconds>', 'serving: stop after serving this many seconds (default: run until Ctrl-C)', positiveNumber('exit-after'))
    .action(async (o, cmd: Command) => {
      const ignored = o.serve === false ? ['speed', 'port', 'exitAfter'].filter((k) => cmd.getOptionValueSource(k) === 'cli') : [];
      if (ignored.length > 0) err(`warning: --no-serve: ${ignored.map((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ')} only ${ignored.length === 1 ? 'applies' : 'apply'} to serving, which --no-serve skips\n`);
      await runDemo({ users: o.users, items: o.items, days: o.days, seed: o.seed, dir: o.dir, serve: o.serve !== false, speed: o.speed, port: o.port, ...(o.exitAfter !== undefined ? { exitAfterMs: o.exitAfter * 1000 } : {}) }, out);
    });

  program
    .command('generate')
    .description('write a synthetic streaming-service event log (JSONL or Parquet, by extension) with item and user metadata beside it')
    .requiredOption('--users <n>', 'users', positiveInt('users'))
    .requiredOption('--items <n>', 'items', positiveInt('items'))
    .requiredOption('--days <n>', 'days', positiveInt('days'))
    .option('--seed <n>', 'seed', positiveInt('seed'), 1)
    .option('--start <time>', 'first instant (ms or ISO-8601 with zone)', '2024-01-01T00:00:00Z')
    .requiredOption('--out <file>', 'events file: .jsonl or .parquet')
    .option('--json', 'print the result as JSON')
    .action(async (o) => {
      const p = progress('generate', null);
      const t0 = performance.now();
      const r = await writeGenerated({ users: o.users, items: o.items, days: o.days, seed: o.seed, start: notSeconds(parseInstant(o.start, '--start'), o.start, '--start'), out: o.out, onProgress: (n) => p.update(n, 'events') });
      p.stop();
      const seconds = (performance.now() - t0) / 1000;
      out(o.json ? `${JSON.stringify({ ...r, seconds })}\n` : `wrote ${r.events.toLocaleString('en-US')} events to ${r.out} in ${seconds.toFixed(1)} s\nitems: ${r.itemsPath}\nusers: ${r.usersPath}\n`);
    });

  program
    .command('ingest <path>')
    .description('validate events and append them to the event log; rejected events go to a dead-letter file with their reasons')
    .addOption(new Option('--format <format>', 'input format').choices([...INPUT_FORMATS]).makeOptionMandatory())
    .requiredOption('--log <dir>', 'event log folder (created if missing)')
    .option('--map <source=field>', 'rename an input column (repeatable); field may be context.<key>', collect, [])
    .option('--items <file>', 'item metadata (JSONL); default: <stem>.items.jsonl beside the input when present')
    .option('--users <file>', 'user metadata (JSONL); default: <stem>.users.jsonl beside the input when present')
    .option('--dead-letter <file>', 'where rejected events go (default: <log>/dead-letter/<time>.jsonl)')
    .option('--types <list>', 'extra event types to accept, comma-separated')
    .option('--features <file>', 'accept the extra event types this feature set declares')
    .option('--json', 'print one JSON object: received, accepted, rejected, duplicates')
    .action(async (path: string, o) => {
      if (!isInputFormat(o.format)) throw new RecsignalError('INVALID_ARGUMENT', `--format: use one of ${INPUT_FORMATS.join(', ')}`);
      const extraTypes = [...(o.types ? String(o.types).split(',').map((s: string) => s.trim()).filter(Boolean) : []), ...(o.features ? (await loadFeatureSet(o.features)).ir.extraTypes : [])];
      const { items, users } = await metadataFor(path, o.format, o.items, o.users);
      const p = progress('ingest', null, process.stderr, Boolean(o.json));
      const t0 = performance.now();
      const report = await ingest(openReader(path, { format: o.format, map: parseMap(o.map) }), {
        log: new EventLog(o.log),
        validator: createEventValidator({ extraTypes }),
        ...(o.deadLetter ? { deadLetterPath: o.deadLetter } : {}),
        items,
        users,
        onProgress: (n) => p.update(n, 'events'),
      });
      p.stop();
      const seconds = (performance.now() - t0) / 1000;
      if (o.json) out(`${JSON.stringify({ ...report, seconds })}\n`);
      else {
        out(`received   ${report.received}\naccepted   ${report.accepted}\nrejected   ${report.rejected}\nduplicates ${report.duplicates}\n`);
        if (report.items + report.users > 0) out(`metadata   ${report.items} items, ${report.users} users\n`);
        if (report.deadLetter) out(`dead-letter ${report.deadLetter}\n`);
        out(`took       ${seconds.toFixed(2)} s\n`);
      }
    });

  program
    .command('backfill')
    .description('every entity\'s features as of one time (events strictly before it), to one CSV or Parquet file')
    .requiredOption('--features <file>', 'features.ts module')
    .requiredOption('--log <dir>', 'event log folder')
    .requiredOption('--at <time>', 'ms since the epoch or ISO-8601 with a zone')
    .requiredOption('--out <file>', '.csv or .parquet')
    .option('--entity <names>', 'only these entities, comma-separated')
    .option('--json', 'print the result as JSON')
    .action(async (o) => {
      const compiled = await loadFeatureSet(o.features);
      const log = requireLog(o.log);
      const at = notSeconds(parseInstant(o.at, '--at'), o.at, '--at');
      const t0 = performance.now();
      const bar = progress('backfill', 100, process.stderr, Boolean(o.json));
      const r = await backfill({ compiled, log, at, out: o.out, ...(o.entity ? { entities: String(o.entity).split(',') } : {}), onProgress: (entity, pct) => bar.update(Math.round(pct), entity) });
      bar.stop();
      const seconds = (performance.now() - t0) / 1000;
      out(o.json ? `${JSON.stringify({ rows: r.rows, entities: r.entities, features: r.columns.length, at: isoTime(at), out: o.out, seconds })}\n`
        : `backfill as of ${isoTime(at)}: ${r.rows} rows (${Object.entries(r.entities).map(([e, n]) => `${e} ${n}`).join(', ')}), ${r.columns.length} features → ${o.out} in ${seconds.toFixed(2)} s\n`);
    });

  program
    .command('training-set')
    .description('a point-in-time-correct training set: one row per spine row, same order, every feature as of that row\'s time')
    .requiredOption('--features <file>', 'features.ts module')
    .requiredOption('--log <dir>', 'event log folder')
    .requiredOption('--spine <file>', '.csv or .parquet: entity keys, a time column, optional labels')
    .requiredOption('--out <file>', '.csv or .parquet')
    .option('--ts-col <name>', 'the spine\'s time column', 'ts')
    .option('--views <names>', 'only these views, comma-separated (default: every view whose keys the spine has)')
    .option('--json', 'print the result as JSON')
    .action(async (o) => {
      const compiled = await loadFeatureSet(o.features);
      const t0 = performance.now();
      const bar = progress('training-set', 100, process.stderr, Boolean(o.json));
      const r = await buildTrainingSet({ compiled, log: requireLog(o.log), spine: o.spine, out: o.out, tsColumn: o.tsCol, ...(o.views ? { views: String(o.views).split(',') } : {}), onProgress: (pct) => bar.update(Math.round(pct), '%') });
      bar.stop();
      const seconds = (performance.now() - t0) / 1000;
      if (r.requestErrors.errors > 0) err(`warning: ${r.requestErrors.errors} request-feature calls failed and took their default; first: ${r.requestErrors.firstError}\n`);
      out(o.json ? `${JSON.stringify({ rows: r.rows, features: r.columns.length, requestErrors: r.requestErrors.errors, out: o.out, seconds })}\n`
        : `training set: ${r.rows} rows × ${r.columns.length} features → ${o.out} in ${seconds.toFixed(2)} s\n`);
    });

  program
    .command('features')
    .description('list a feature set: views, entity keys, features with types, semantic hashes')
    .requiredOption('--features <file>', 'features.ts module')
    .option('--json', 'print as JSON')
    .action(async (o) => {
      const compiled = await loadFeatureSet(o.features);
      const cols = featureColumns(compiled.ir);
      if (o.json) {
        out(`${JSON.stringify({
          name: compiled.ir.name,
          hash: compiled.hash,
          views: compiled.ir.views.map((v) => ({ name: v.name, kind: v.kind, entity: v.entity.name, join_keys: v.entity.keys, hash: compiled.viewHashes[v.name], features: cols.filter((c) => c.view === v.name).map((c) => ({ name: c.feature, type: c.type, ref: c.ref })) })),
          request_features: compiled.ir.requestFeatures.map((r) => ({ name: r.name, type: r.type, ref: `request_features:${r.name}`, inputs: r.inputs })),
        }, null, 2)}\n`);
        return;
      }
      out(`${compiled.ir.name} (${compiled.hash})\n`);
      for (const v of compiled.ir.views) {
        out(`\n${v.name}  [${v.kind}] keys: ${v.entity.keys.join(', ')}  hash ${compiled.viewHashes[v.name]}\n`);
        for (const c of cols.filter((x) => x.view === v.name)) out(`  ${c.ref.padEnd(60)} ${c.type}\n`);
      }
      if (compiled.ir.requestFeatures.length > 0) out(`\nrequest features\n`);
      for (const r of compiled.ir.requestFeatures) out(`  ${r.name.padEnd(60)} ${r.type}  ← ${Object.values(r.inputs).join(', ')}\n`);
    });

  program
    .command('embed')
    .description('learn item and user embeddings (implicit ALS; metadata projection for entities without interactions) from the events before --at, and publish them as that version of the embedding tables <name>_items and <name>_users that embeddingView reads')
    .requiredOption('--features <file>', 'features.ts module (its event-type weights make the implicit feedback)')
    .requiredOption('--log <dir>', 'event log folder')
    .option('--at <time>', 'the version\'s time, ms since the epoch or ISO-8601 with a zone (default: just after the log\'s last event)')
    .option('--name <name>', 'table prefix: <name>_items and <name>_users', 'als')
    .option('--factors <n>', 'vector length', positiveInt('factors'), 32)
    .option('--regularization <x>', 'ALS L2 penalty', positiveNumber('regularization'), 40)
    .option('--seed <n>', 'ALS seed', positiveInt('seed'), 42)
    .option('--json', 'print the result as JSON')
    .action(async (o) => {
      if (!/^[a-z_][a-z0-9_]*$/.test(String(o.name))) throw new RecsignalError('INVALID_ARGUMENT', `--name '${o.name}': use a lower_snake_case name such as als`);
      const compiled = await loadFeatureSet(o.features);
      const log = requireLog(o.log);
      const last = o.at === undefined ? await log.lastEventTs() : null;
      const at = o.at === undefined ? (last ?? Date.now()) + 1 : notSeconds(parseInstant(o.at, '--at'), o.at, '--at');
      // The tables' vectors must fit the views that read them, and the versions already published.
      const tables = [`${o.name}_items`, `${o.name}_users`];
      for (const v of embeddingViews(compiled.ir.views).filter((x) => tables.includes(x.table) && x.dims !== o.factors)) {
        throw new RecsignalError('INVALID_ARGUMENT', `--factors ${o.factors}: view ${v.name} reads ${v.table} with dims ${v.dims}; give --factors ${v.dims}, or another --name`);
      }
      const published = await publishedDims(log, tables);
      for (const [table, dims] of published) {
        if (dims !== o.factors) throw new RecsignalError('INVALID_ARGUMENT', `--factors ${o.factors}: ${table} already holds vectors of ${dims} values; give --factors ${dims}, or another --name`);
      }
      const t0 = performance.now();
      const r = await publishEmbeddings(log, at, compiled.ir.weights, await readMetadata(log), { name: o.name, factors: o.factors, regularization: o.regularization, seed: o.seed });
      const seconds = (performance.now() - t0) / 1000;
      if (o.json) out(`${JSON.stringify({ ...r, seconds })}\n`);
      else {
        out(`embeddings at ${isoTime(r.at)} (${r.dims} dims, from ${r.interactions} user × item interactions) in ${seconds.toFixed(2)} s\n`);
        for (const s of [r.items, r.users]) out(`  ${s.table}: ${s.learned} learned, ${s.fromMetadata} from metadata → ${s.path}\n`);
      }
    });

  program
    .command('consistency')
    .description('replay the log through the stream engine and compare, at N random (entity, time) probes, the online value with the batch value as of that time')
    .requiredOption('--features <file>', 'features.ts module')
    .requiredOption('--log <dir>', 'event log folder')
    .option('--probes <n>', 'how many (entity, time) probes', positiveInt('probes'), 1000)
    .option('--seed <n>', 'probe seed', positiveInt('seed'), 1)
    .option('--online <store>', 'where the replayed stream state lives: memory | redis://host:port | redis-cluster://host:port,... (a namespace of its own, deleted afterwards)', 'memory')
    .option('--lateness <duration>', 'the stream engine\'s allowed lateness, as the server or consumer being checked runs it (the log is replayed in time order: it decides when raw rows fold into tiles)', '5m')
    .option('--json', 'print the report as JSON')
    .action(async (o) => {
      const online = checkOnlineStore(o.online);
      const lateness = parseDuration(o.lateness, '--lateness');
      const compiled = await loadFeatureSet(o.features);
      const log = requireLog(o.log);
      const store = await openOnlineStore(online);
      const bar = progress('replay', null, process.stderr, Boolean(o.json));
      const t0 = performance.now();
      let r: Awaited<ReturnType<typeof checkConsistency>>;
      try {
        r = await checkConsistency({ compiled, log, probes: o.probes, seed: o.seed, lateness, onProgress: (n) => bar.update(n, 'events'), ...(store ? { store } : {}) });
      } finally {
        await store?.close();
      }
      bar.stop();
      const seconds = (performance.now() - t0) / 1000;
      if (o.json) out(`${JSON.stringify({ ...r, seconds })}\n`);
      else {
        out(`${r.probes} probes × ${r.features.length} features over ${r.events} replayed events: ${r.mismatches} mismatches (rate ${r.rate})\n`);
        out(`  ${'feature'.padEnd(64)} ${'mismatches'.padStart(10)}  ${'rate'.padEnd(8)}  not default\n`);
        for (const f of r.features) out(`  ${f.feature.padEnd(64)} ${String(f.mismatches).padStart(10)}  ${f.rate.toFixed(6)}  ${f.informative}\n`);
        for (const f of r.features.filter((x) => x.example !== null).slice(0, 5)) out(`  e.g. ${f.feature}: ${JSON.stringify(f.example)}\n`);
        out(`took ${seconds.toFixed(2)} s\n`);
      }
      // Exit 1 (main's code for a failed check): mismatches, or nothing compared at all, which is no pass.
      if (r.mismatches > 0) throw new RecsignalError('CHECK_FAILED', `${r.mismatches} mismatches in ${r.probes} probes: the online path and the batch engine disagree (the features above say where)`);
      if (r.probes === 0) throw new RecsignalError('CHECK_FAILED', `the log at '${o.log}' gave no probe (${r.events} events): nothing was compared; ingest events first`);
      // A view's feature read at its default on both sides at every probe was not tested: say which.
      const stateful = r.features.filter((f) => f.view !== null);
      const untested = stateful.filter((f) => f.informative === 0).map((f) => f.feature);
      if (untested.length > 0 && untested.length === stateful.length) throw new RecsignalError('CHECK_FAILED', `every probe read every feature at its default on both sides (no key had events before its probe's time): nothing was tested; use a log with more events or more --probes`);
      if (untested.length > 0) err(`warning: ${untested.length} of ${stateful.length} view features read their default on both sides at every probe, so their 0 mismatches test nothing: ${untested.slice(0, 8).join(', ')}${untested.length > 8 ? ', …' : ''}; more --probes, or events for their keys, would test them\n`);
    });

  program
    .command('sql')
    .description('print the point-in-time SQL a feature set compiles to, for DuckDB, PostgreSQL or Spark SQL')
    .requiredOption('--features <file>', 'features.ts module')
    .addOption(new Option('--dialect <name>', 'SQL dialect').choices(Object.keys(DIALECTS)).default('duckdb'))
    .option('--events <relation>', 'relation holding the event log', 'events')
    .option('--items <relation>', 'relation holding item metadata', 'items')
    .option('--users <relation>', 'relation holding user metadata', 'users')
    .option('--queries <relation>', 'relation with __row, __t and the entity keys', 'queries')
    .action(async (o) => {
      const compiled = await loadFeatureSet(o.features);
      // Each embedding view reads the relation named as its table (key, ts, vector).
      const embeddings = Object.fromEntries(embeddingViews(compiled.ir.views).map((v) => [v.table, v.table]));
      out(`${renderFeatureSql({ ir: compiled.ir, dialect: DIALECTS[o.dialect as keyof typeof DIALECTS], events: o.events, items: o.items, users: o.users, embeddings, queries: o.queries })};\n`);
    });

  program
    .command('serve')
    .description('serve features over HTTP (recsignal and Feast-compatible JSON): replay the event log into the stream engine, then take events and answer feature requests')
    .requiredOption('--features <file>', 'features.ts module')
    .requiredOption('--log <dir>', 'event log folder: replayed at start; events posted to the server are appended to it')
    .requiredOption('--online <store>', 'online state: memory | redis://host:port | redis-cluster://host:port,...')
    .option('--port <n>', 'port (0 picks a free one)', port, 6566)
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--lateness <duration>', 'how late (behind the newest event time) an event may arrive and still count online', '5m')
    .option('--max-age <duration>', 'features whose newest event is older than this are STALE')
    .option('--max-future <duration>', 'events further ahead of the server clock than this are rejected and dead-lettered (an accepted event moves the watermark: keep it well below --lateness)', '1m')
    .option('--body-limit <bytes>', 'largest request body; larger ones get 413', positiveInt('body-limit'), 8 * 1024 * 1024)
    .option('--exit-after <seconds>', 'stop after serving this many seconds (default: run until SIGINT / SIGTERM)', positiveNumber('exit-after'))
    .option('--namespace <prefix>', 'key prefix of the state in a Redis store (default: recsignal-serve:<feature set>:<hash>)')
    .option('--redis-cache <MiB>', 'with redis:// or redis-cluster://: keep values read in process, up to this many MiB, kept fresh by Redis client tracking (a cached read makes no round trip; writes by other processes are seen once Redis invalidates them); 0 turns it off', nonNegativeInt('redis-cache'), 256)
    .option('--model <model.json>', 'a ranker from `recsignal train-ranker`: serves POST /v1/recommendations')
    .option('--embeddings', 'with --model: add the items nearest to a user\'s recent plays to the recommendations\' candidates, by the item vectors of the feature set\'s item embeddingView as published (recsignal embed), or else learned from the log at start (new items placed by their metadata)')
    .action(async (o, cmd: Command) => {
      const ranker = o.model === undefined ? undefined : loadFeatureRanker(o.model);
      if (o.embeddings && ranker === undefined) throw new RecsignalError('INVALID_ARGUMENT', '--embeddings feeds the recommendations\' candidates: give --model too');
      const online = checkOnlineStore(o.online);
      if (online === 'memory' && cmd.getOptionValueSource('redisCache') === 'cli') throw new RecsignalError('INVALID_ARGUMENT', '--redis-cache sizes the cache of a Redis store; leave it out with --online memory (the state is in process already)');
      if (o.namespace !== undefined && (online === 'memory' || /[{}]/.test(o.namespace))) {
        throw new RecsignalError('INVALID_ARGUMENT', online === 'memory' ? '--namespace names keys in a Redis store; leave it out with --online memory' : `--namespace '${o.namespace}': keep { and } out of it (they are Redis Cluster hash tags)`);
      }
      const compiled = await loadFeatureSet(o.features);
      const log = new EventLog(o.log);
      if (!existsSync(log.dir)) err(`note: --log '${o.log}' does not exist yet: starting with an empty state; events posted to the server create it\n`);
      const lateness = parseDuration(o.lateness, '--lateness');
      const maxFutureMs = parseDuration(o.maxFuture, '--max-future');
      warnFutureBeyondLateness(maxFutureMs, lateness, err);
      const maxAge = o.maxAge !== undefined ? { maxAgeMs: parseDuration(o.maxAge, '--max-age') } : {};
      // An item embedding view's published table, when the feature set has one; else vectors learned now.
      const itemView = embeddingViews(compiled.ir.views).find((v) => v.entity.keys[0] === 'item_id');
      const published = o.embeddings && itemView && existsSync(log.dir) ? (await readEmbeddings(log, [itemView])).get(itemView.table) : undefined;
      const fromTable = published ? publishedItemIndex(published, Date.now()) : null;
      const embeddings = fromTable ?? (o.embeddings && existsSync(log.dir) ? await itemEmbeddingIndex(log, Date.now(), compiled.ir.weights, await readMetadata(log)) : null);
      if (fromTable) out(`embeddings ${fromTable.index.dims}-dim item vectors: ${fromTable.index.size} from the published table ${itemView?.table} (newest version ${isoTime(fromTable.newest)})\n`);
      else if (embeddings && 'learned' in embeddings) out(`embeddings ${embeddings.index.dims}-dim item vectors: ${embeddings.learned} learned from the log's interactions, ${embeddings.fromMetadata} from metadata\n`);
      else if (o.embeddings) err(`note: --embeddings: the log has no interactions to learn item embeddings from yet; recommendations go without similar items until a restart\n`);
      const store = await openOnlineStore(online, o.redisCache * 1024 * 1024);
      const t0 = performance.now();
      let server: FeatureServer<ServingState>;
      // From here a signal stops the server cleanly (its lock released), even one that comes while it starts.
      const stop = stopSignal();
      try {
        server = await FeatureServer.start({
          compiled,
          log,
          host: o.host,
          port: o.port,
          lateness,
          maxFutureMs,
          bodyLimit: o.bodyLimit,
          ...maxAge,
          ...(ranker === undefined ? {} : { ranker }),
          ...(embeddings ? { embeddings: embeddings.index } : {}),
          ...(store === undefined ? {} : { store, ...(o.namespace !== undefined ? { namespace: o.namespace } : {}) }),
        });
      } catch (e) {
        stop.cancel();
        await store?.close();
        throw e;
      }
      const where = server.state instanceof StoreState ? `online state in ${store?.kind} ${o.online.replace(/^[a-z-]+:\/\//, '')} under ${server.state.namespace}` : 'online state in memory';
      out(`recsignal serve: ${compiled.ir.name} (${compiled.hash}) on ${server.url}, ${where}; replaying ${log.dir}\n`);
      try {
        const started = await Promise.race([server.ready.then(() => 'ready' as const, (e: Error) => e), stop.stopped]);
        if (started instanceof Error) {
          await server.close();
          throw new RecsignalError(started instanceof RecsignalError ? started.code : 'IO_FAILED', `building the online state failed: ${started.message}`, { cause: started });
        }
        if (started === 'ready') {
          const wm = server.state.watermark;
          const s = server.state;
          const how = s instanceof StoreState && s.started === 'resumed'
            ? `found the state of ${compiled.hash} in the store; ${s.caughtUp.replayed} events of the log from its watermark minus the lateness re-applied (${s.caughtUp.applied} new)`
            : s instanceof StoreState && s.started === 'rebuilt'
              ? `the log ${s.rebuiltFor > 0 ? `gained ${s.rebuiltFor} events` : `lost ${-s.rebuiltFor} events`} older than the stored state's watermark minus the lateness since the server stopped (a resume would not have them): ${s.staleKeysDeleted} keys of the old state deleted, ${server.bootstrapped} events replayed and written to the store`
              : `${server.bootstrapped} events replayed${s instanceof StoreState ? ' and written to the store' : ''}`;
          out(`ready: ${how} in ${((performance.now() - t0) / 1000).toFixed(1)} s; watermark ${Number.isFinite(wm) ? isoTime(wm) : 'none (empty log)'}\n`);
          out(`endpoints: POST /v1/features, POST /v1/events, GET /v1/feature-views, POST /get-online-features, POST /push, GET /health, GET /metrics${ranker === undefined ? '' : `, POST /v1/recommendations (${ranker.objective} ranker, ${ranker.features.length} features, held-out AUC ${ranker.metrics.auc?.toFixed(3) ?? 'n/a'})`}\n`);
          stop.after(o.exitAfter === undefined ? undefined : o.exitAfter * 1000);
        }
        const reason = await stop.stopped;
        await server.close();
        const c = server.intake.counts;
        const logOnly = c.accepted - c.appliedOnline;
        out(`stopped (${reason}): received ${c.received}, applied ${c.appliedOnline}${logOnly > 0 ? ` (and ${logOnly} for the log only)` : ''}, rejected ${c.rejected}, duplicates ${c.duplicates}, late ${c.late}; appended ${c.appended} to the log\n`);
      } finally {
        await store?.close();
      }
    });

  program
    .command('stream')
    .description('consume events from a Redis Stream with a consumer group into the stream engine, its state kept in Redis; run several with the same --group to share the work; each event counts exactly once, also across crashes')
    .requiredOption('--source <url>', 'redis-stream://host:port/<stream key>; each message has a field `event` holding the event as JSON')
    .requiredOption('--group <name>', 'consumer group (created, reading from the stream\'s start, when missing)')
    .option('--features <file>', 'features.ts module (default: the demo\'s, examples/streaming/features.ts)')
    .option('--consumer <name>', 'this consumer\'s name: keep it across restarts, so a restarted consumer finishes the messages it held (default: <host>-<pid>, one per process: a consumer restarted under a new name has what its predecessor held taken over after --take-over-after)')
    .option('--online <url>', 'redis://host:port holding the state, the checkpoints and the dead letters (<stream key>:dead) (default: the --source Redis)')
    .option('--lateness <duration>', 'how late (behind the newest event time) an event may arrive and still count; later ones are dead-lettered', '5m')
    .option('--max-future <duration>', 'events further ahead of this machine\'s clock than this are rejected and dead-lettered (an accepted event moves the watermark: keep it well below --lateness)', '1m')
    .option('--batch <n>', 'messages per read and commit', positiveInt('batch'), 500)
    .option('--namespace <prefix>', 'key prefix of the state (default: recsignal:<feature set>:<hash>)')
    .option('--items <file>', 'item metadata (JSONL), for views that fan out through it (e.g. by genre)')
    .option('--users <file>', 'user metadata (JSONL), for lookup views')
    .option('--until-idle', 'stop once the group has nothing new for this consumer (default: run until SIGINT / SIGTERM)')
    .option('--take-over-after <duration>', 'a consumer of the group that has neither read nor committed for this long is dead: this one applies and acknowledges its pending messages for it (keep it under 30s, when the others stop waiting for a silent consumer\'s watermark)', '20s')
    .option('--json', 'print the final counts as JSON')
    .action(async (o) => {
      const source = /^redis-stream:\/\/([^\s/]+)\/(.+)$/.exec(String(o.source));
      if (!source) throw new RecsignalError('INVALID_ARGUMENT', `--source '${o.source}': write redis-stream://host:port/<stream key>, e.g. redis-stream://127.0.0.1:6379/events`);
      const sourceUrl = `redis://${source[1]}`;
      const streamKey = decodeURIComponent(source[2] as string);
      parseRedisUrl(sourceUrl);
      o.online ??= sourceUrl;
      // One name per process: two processes under one name would each take the other's commits for
      // their own. A restart gets a new name; a live consumer (this one, if alone) takes the old one over.
      o.consumer ??= `${hostname()}-${process.pid}`;
      if (!/^rediss?:\/\//.test(String(o.online))) throw new RecsignalError('INVALID_ARGUMENT', `--online '${o.online}': the stream consumer keeps its state in one Redis: write redis://host:port (a Redis Cluster refuses its cross-slot transactions)`);
      const endpoint = parseRedisUrl(o.online);
      const compiled = await loadFeatureSet(o.features ?? DEMO_FEATURES);
      const lateness = parseDuration(o.lateness, '--lateness');
      const takeOverAfterMs = parseDuration(o.takeOverAfter, '--take-over-after');
      if (takeOverAfterMs >= 30_000) throw new RecsignalError('INVALID_ARGUMENT', `--take-over-after '${o.takeOverAfter}': keep it under 30s; past that the other consumers stop waiting for a silent consumer's watermark and may fold away what its held events need, which are then judged late`);
      const maxFutureMs = parseDuration(o.maxFuture, '--max-future');
      warnFutureBeyondLateness(maxFutureMs, lateness, err);
      const items = o.items ? await readItemsFile(o.items) : [];
      const users = o.users ? await readUsersFile(o.users) : [];
      // The state connection does not resend commands in flight when it reconnects: a MULTI/EXEC
      // resent on a new connection would run without the WATCH of the old one (see StreamConsumer).
      const connect = async (url: string, what: string, resend = true) => {
        const client = new Redis(url, { lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 3, autoResendUnfulfilledCommands: resend });
        client.on('error', () => undefined);
        try {
          await client.connect();
        } catch (e) {
          client.disconnect();
          throw new RecsignalError('IO_FAILED', `${what} at ${url.replace(/\/\/[^@]*@/, '//')}: connecting failed (${(e as Error).message}); check that it runs and answers (${parseRedisUrl(url).probe})`, { cause: e });
        }
        return client;
      };
      const streams = await connect(sourceUrl, '--source');
      const state = await connect(o.online, '--online', false).catch((e: unknown) => {
        streams.disconnect();
        throw e;
      });
      const namespace = o.namespace ?? `recsignal:${compiled.ir.name}:${compiled.hash}`;
      const consumer = new StreamConsumer(streams, state, {
        compiled, namespace, lateness, items, users,
        stream: streamKey, group: o.group, consumer: o.consumer, batch: o.batch,
        // As serve: one sender with a fast clock would move the watermark and make everyone's on-time events late.
        validator: createEventValidator({ extraTypes: compiled.ir.extraTypes, maxFutureMs }),
        untilIdle: Boolean(o.untilIdle), takeOverAfterMs,
      });
      if (!o.json) out(`recsignal stream: ${compiled.ir.name} (${compiled.hash}) from ${streamKey} on ${source[1]} as ${o.group}/${o.consumer}; state in ${endpoint.target} under ${namespace}\n`);
      const stop = stopSignal();
      void stop.stopped.then(() => consumer.stop());
      const t0 = performance.now();
      try {
        const s = await consumer.run();
        const seconds = (performance.now() - t0) / 1000;
        out(o.json ? `${JSON.stringify({ ...s, seconds })}\n`
          : `stopped: applied ${s.applied}, duplicates ${s.duplicates}, late ${s.late}, invalid ${s.invalid}${s.removedUnread > 0 ? `, lost ${s.removedUnread} (removed from the stream before the group read them)` : ''} (dead letters in ${streamKey}:dead); acknowledged ${s.acked} in ${s.batches} batches, ${s.conflicts} retried on conflicts, ${s.alreadyApplied} found applied before a restart, ${s.takenOver} taken over from dead consumers${s.unreceived > 0 ? `, ${s.unreceived} read back after their delivery to this consumer was lost` : ''}; ${seconds.toFixed(1)} s${s.pendingOwn > 0 ? `; ${s.pendingOwn} of this consumer's messages still pending (run it again under the same --consumer name to apply them)` : ''}${s.pendingInGroup > 0 ? `; ${s.pendingInGroup} messages still pending with other consumers of the group (a crashed one's are taken over once it has been silent for --take-over-after: run again after that)` : ''}\n`);
      } finally {
        streams.disconnect();
        state.disconnect();
      }
    });

  registerEvaluate(program);
  registerTrainRanker(program, out);
  return program;
}

/**
 * A time flag given as a number of seconds (below 1e11 ms, 1973) read as milliseconds is a time in
 * January 1970, before every event: a backfill as of it comes out empty. Refused, as for events; ISO
 * text carries its unit.
 */
function notSeconds(ms: number, text: string, flag: string): number {
  if (ms < SECONDS_LIKE_BELOW && !ISO_LIKE.test(text)) throw new RecsignalError('INVALID_ARGUMENT', `${flag} '${text}' is ${isoTime(ms)}: it looks like seconds since the epoch; give milliseconds (${ms * 1000}) or an ISO-8601 time with a zone`);
  return ms;
}

function port(v: string): number {
  const n = decimalNumber(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new RecsignalError('INVALID_ARGUMENT', `--port '${v}': give a port from 0 to 65535 (0 picks a free one)`);
  return n;
}

type OnlineChoice = 'memory' | { readonly kind: 'redis' | 'redis-cluster'; readonly url: string };

/** The online state is picked here: in process, one Redis, or a Redis Cluster. */
function checkOnlineStore(store: string): OnlineChoice {
  if (store === 'memory') return 'memory';
  if (/^rediss?:\/\//.test(store)) {
    parseRedisUrl(store);
    return { kind: 'redis', url: store };
  }
  if (store.startsWith('redis-cluster://')) {
    parseRedisClusterUrl(store);
    return { kind: 'redis-cluster', url: store };
  }
  throw new RecsignalError('INVALID_ARGUMENT', `--online '${store}': use memory, redis://host:port or redis-cluster://host:port,host:port`);
}

/** Connects the chosen store (nothing for memory); IO_FAILED, saying what to check, when it does not answer. */
async function openOnlineStore(choice: OnlineChoice, cacheBytes = 0): Promise<OnlineStore | undefined> {
  if (choice === 'memory') return undefined;
  return choice.kind === 'redis' ? RedisStore.connect(choice.url, { cacheBytes }) : RedisClusterStore.connect(choice.url, { cacheBytes });
}

function requireLog(dir: string): EventLog {
  const log = new EventLog(dir);
  if (!existsSync(log.dir)) throw new RecsignalError('NOT_FOUND', `--log '${dir}': no such folder; create it with \`recsignal ingest <file> --format ... --log ${dir}\``);
  return log;
}

/**
 * An accepted event moves the watermark: one from the edge of --max-future makes every on-time event
 * behind it by more than --lateness late. Allowed (a clock may be known to run ahead), said once.
 */
function warnFutureBeyondLateness(maxFutureMs: number, latenessMs: number, err: (s: string) => void): void {
  if (maxFutureMs >= latenessMs) err(`warning: --max-future (${formatDuration(maxFutureMs)}) is not below --lateness (${formatDuration(latenessMs)}): one event from that far ahead makes every on-time event late; keep --max-future well below --lateness\n`);
}

async function metadataFor(path: string, format: string, itemsFlag: string | undefined, usersFlag: string | undefined) {
  if (format === 'movielens') return readMovieLensMetadata(path);
  const stem = join(dirname(path), basename(path, extname(path)));
  const itemsPath = itemsFlag ?? (existsSync(`${stem}.items.jsonl`) ? `${stem}.items.jsonl` : undefined);
  const usersPath = usersFlag ?? (existsSync(`${stem}.users.jsonl`) ? `${stem}.users.jsonl` : undefined);
  return {
    items: itemsPath ? await readItemsFile(itemsPath) : [],
    users: usersPath ? await readUsersFile(usersPath) : [],
  };
}

/** Runs the CLI; returns the exit code (0 ok, 1 failure, 2 usage). Errors and warnings go to `err`. */
export async function main(
  argv: readonly string[],
  out: (s: string) => void = (s) => process.stdout.write(s),
  err: (s: string) => void = (s) => process.stderr.write(s),
): Promise<number> {
  const program = buildProgram(out, err);
  try {
    await program.parseAsync(['node', 'recsignal', ...argv]);
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    if (e instanceof RecsignalError) {
      err(`recsignal: ${e.message}\n`);
      if (process.env['RECSIGNAL_DEBUG'] && e.sql) err(`${e.sql}\n`);
      return e.code === 'INVALID_ARGUMENT' ? 2 : 1;
    }
    err(`recsignal: unexpected error: ${(e as Error).stack ?? String(e)}\n`);
    return 1;
  }
}
