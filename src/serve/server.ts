/**
 * @module The feature server: fastify over the online state (in process, or in an online store).
 * It listens at once, bootstraps the state from the event log (503 until then), serves features,
 * takes events, speaks Feast's JSON, and on close stops listening, then appends what is buffered to
 * the offline log.
 */
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import type { AddressInfo } from 'node:net';
import { RecsignalError } from '../core/errors.ts';
import { parseJsonText, quoteUnsafeIntegers } from '../core/json-text.ts';
import { MINUTE_MS, isoTime } from '../core/time.ts';
import type { InteractionEvent, ItemMetadata, UserMetadata } from '../events/schema.ts';
import type { CompiledFeatureSet } from '../plan/compile.ts';
import type { RequestFeatureStats } from '../plan/rows.ts';
import type { EventLog } from '../store/offline/event-log.ts';
import { embeddingMtimes, EmbeddingWatcher, readEmbeddings } from '../store/offline/embeddings.ts';
import { readMetadata } from '../store/offline/metadata.ts';
import type { OnlineStore } from '../store/online/online-store.ts';
import { checkEntityColumns, checkNameCollisions, onlineFeaturesResponse, parseOnlineFeaturesRequest, parsePush } from './feast.ts';
import { featureReads, featuresResponseJson, fetchFeatures, fetchRows, rowReads } from './fetch.ts';
import { invalidInput, toWireError, wireError, type WireError } from './http-errors.ts';
import { OnlineJournal, replayForServing } from './online-journal.ts';
import { lockLog } from './log-lock.ts';
import { EventIntake, type IntakeReport } from './intake.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { OnlineState, type ServingState } from './online-state.ts';
import { selectRefs, servingPlan, REQUEST_VIEW, type ServingPlan } from './plan.ts';
import { eventItems, parseFeaturesBody, parseNdjson } from './requests.ts';
import { Recommender, registerRecommendations } from './recommend.ts';
import { collectGarbage } from '../core/collect-garbage.ts';
import type { FeatureRanker } from '../models/feature-ranker.ts';
import type { VectorIndex } from '../models/vector-index.ts';
import { serveNamespace, StoreState } from './store-state.ts';

declare module 'fastify' {
  interface FastifyRequest {
    startedAt: number;
  }
}

export interface ServerOptions {
  readonly compiled: CompiledFeatureSet;
  readonly log: EventLog;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 6566 (Feast's); 0 picks a free port. */
  readonly port?: number;
  /** Allowed lateness of events (ms); default 5 minutes. */
  readonly lateness?: number;
  /** Features whose newest event is older than this are STALE (OUTSIDE_MAX_AGE in Feast); default never. */
  readonly maxAgeMs?: number;
  /** Largest request body in bytes; default 8 MiB. Larger bodies get 413. */
  readonly bodyLimit?: number;
  /** The server's "now" (ms): the default request time and the future check of events. Default Date.now. */
  readonly clock?: () => number;
  /** Events to build the state from before serving, in time order; default the whole log. */
  readonly bootstrap?: AsyncIterable<InteractionEvent>;
  /** Metadata for lookups and fan-out; default read from the log. */
  readonly metadata?: { readonly items: readonly ItemMetadata[]; readonly users: readonly UserMetadata[] };
  /**
   * Events more than this ahead of the clock are rejected (dead-lettered); default one minute. An
   * accepted event moves the watermark, and every event older than the watermark minus the
   * lateness is then late: keep it well below the lateness.
   */
  readonly maxFutureMs?: number;
  readonly flushIntervalMs?: number;
  readonly flushEvents?: number;
  /**
   * Keep the online state in this store instead of in process (the caller opens and closes it).
   * Without it the state lives in the server process.
   */
  readonly store?: OnlineStore;
  /** Key prefix of the state in `store`; default `recsignal-serve:<set name>:<semantic hash>`. */
  readonly namespace?: string;
  /** How often the store is pinged to notice it going away and coming back; default 500 ms. */
  readonly storeProbeMs?: number;
  /** Serve `POST /v1/recommendations` ranked by this model; without it that route answers 404. */
  readonly ranker?: FeatureRanker;
  /** Item embeddings for the recommendations' `similar` candidates (see `itemEmbeddingIndex`). */
  readonly embeddings?: VectorIndex;
  /** How often `/v1/recommendations` recomputes its trending list (default 5 s). */
  readonly trendingRefreshMs?: number;
  /** How often the embedding tables' files are looked at, to serve a newly published version (default 10 s; 0: never). */
  readonly embeddingsCheckMs?: number;
}

export type ServerStatus = 'starting' | 'ready' | 'stopping' | 'stopped' | 'failed';

/** How far ahead of the server's clock an event may be (see `ServerOptions.maxFutureMs`). */
export const DEFAULT_MAX_FUTURE_MS = 60_000;

const UNGATED = new Set(['/health', '/metrics']);
/** Feast's routes: their bodies are JSON whatever the Content-Type says (see the catch-all parser). */
const FEAST_ROUTES = new Set(['/get-online-features', '/push']);
const ROUTES = 'GET /health, GET /metrics, GET /v1/feature-views, POST /v1/features, POST /v1/events, POST /get-online-features, POST /push, POST /v1/recommendations';

/** `S`: where the state lives; the default is the in-process state, as `start` without a store gives. */
export class FeatureServer<S extends ServingState = OnlineState> {
  status: ServerStatus = 'starting';
  /** Events replayed into the state at start. */
  bootstrapped = 0;
  bootstrapError: Error | null = null;
  /** Resolves once the state is bootstrapped and every endpoint serves. */
  readonly ready: Promise<void>;
  readonly plan: ServingPlan;
  readonly metrics: Metrics = createMetrics();
  readonly requestStats: RequestFeatureStats = { errors: 0, firstError: null };
  readonly clock: () => number;
  /** Ranks `/v1/recommendations` when the server was started with a model. */
  readonly recommender: Recommender | null;
  private url_ = '';
  /** Reads the embedding tables again when `recsignal embed` publishes (set by `start`). */
  private watcher: EmbeddingWatcher | undefined;
  private batches = 0;
  /** Gives back the log's serving lock (set by `start`). */
  private unlock: () => void = () => undefined;
  private readonly app: FastifyInstance;

  private constructor(
    o: ServerOptions,
    readonly state: S,
    readonly intake: EventIntake,
    logItems: readonly string[] = [],
  ) {
    this.plan = state.plan;
    this.clock = o.clock ?? Date.now;
    this.recommender = o.ranker === undefined ? null : new Recommender({ plan: this.plan, state, ranker: o.ranker, items: o.metadata?.items ?? [], moreItems: logItems, clock: this.clock, stats: this.requestStats, ...(o.embeddings ? { embeddings: o.embeddings } : {}), ...(o.trendingRefreshMs === undefined ? {} : { trendingRefreshMs: o.trendingRefreshMs }) });
    const bodyLimit = o.bodyLimit ?? 8 * 1024 * 1024;
    this.app = Fastify({ logger: false, bodyLimit, return503OnClosing: true });
    this.routes(bodyLimit);
    this.ready = this.bootstrap(o.bootstrap ?? replayForServing(o.log, o.compiled.ir.extraTypes));
    this.ready.catch(() => undefined);
  }

  /** Builds the state, listens, and replays the bootstrap events in the background (see `ready`). */
  static async start(o: ServerOptions & { readonly store?: undefined }): Promise<FeatureServer<OnlineState>>;
  static async start(o: ServerOptions & { readonly store: OnlineStore }): Promise<FeatureServer<StoreState>>;
  static async start(o: ServerOptions): Promise<FeatureServer<ServingState>>;
  static async start(o: ServerOptions): Promise<FeatureServer<ServingState>> {
    // One serving process per log (log-lock.ts): taken first, given back on any failure to start.
    const unlock = lockLog(o.log.dir);
    try {
      const server = await FeatureServer.open(o);
      server.unlock = unlock;
      return server;
    } catch (e) {
      unlock();
      throw e;
    }
  }

  private static async open(o: ServerOptions): Promise<FeatureServer<ServingState>> {
    const metadata = o.metadata ?? (await readMetadata(o.log));
    // Embedding tables are read at start and read again when their files change (`recsignal embed`).
    const readAt = embeddingMtimes(o.log, o.compiled.ir.views);
    const embeddings = await readEmbeddings(o.log, o.compiled.ir.views);
    const watcher = new EmbeddingWatcher(o.log, o.compiled.ir.views, embeddings, o.embeddingsCheckMs ?? 10_000, readAt);
    const plan = servingPlan(o.compiled);
    const lateness = o.lateness ?? 5 * MINUTE_MS;
    const maxAge = o.maxAgeMs !== undefined ? { maxAgeMs: o.maxAgeMs } : {};
    let intake: EventIntake | undefined;
    const state: ServingState = o.store === undefined
      ? new OnlineState({ plan, items: metadata.items, users: metadata.users, embeddings, lateness, ...maxAge })
      : new StoreState({
          plan, store: o.store, namespace: o.namespace ?? serveNamespace(o.compiled.ir.name, o.compiled.hash),
          items: metadata.items, users: metadata.users, embeddings, lateness, ...maxAge,
          ...(o.storeProbeMs !== undefined ? { probeMs: o.storeProbeMs } : {}),
          countLogBefore: (ts) => o.log.countBefore(ts),
          // Events acknowledged before an outage may still be buffered: in the log first, then replayed.
          rebuildFrom: async () => {
            await intake?.flush();
            return replayForServing(o.log, o.compiled.ir.extraTypes);
          },
        });
    const clock = o.clock ?? Date.now;
    // The recommendations' catalogue: the items table, and the log's items (a log may have no items table).
    const logItems = o.ranker === undefined ? [] : await o.log.itemIds();
    let server: FeatureServer<ServingState> | undefined;
    intake = await EventIntake.open({
      state,
      log: o.log,
      extraTypes: o.compiled.ir.extraTypes,
      clock,
      maxFutureMs: o.maxFutureMs ?? DEFAULT_MAX_FUTURE_MS,
      journal: new OnlineJournal(o.log),
      onAccepted: (e) => server?.recommender?.noteItem(e.itemId),
      ...(o.flushIntervalMs !== undefined ? { flushIntervalMs: o.flushIntervalMs } : {}),
      ...(o.flushEvents !== undefined ? { flushEvents: o.flushEvents } : {}),
    });
    try {
      server = new FeatureServer({ ...o, metadata }, state, intake, logItems);
    } catch (e) {
      // A model that does not fit the feature set, say: nothing was started that should outlive this.
      await intake.close();
      await watcher.close();
      throw e;
    }
    server.watcher = watcher;
    const host = o.host ?? '127.0.0.1';
    const port = o.port ?? 6566;
    try {
      await server.app.listen({ host, port });
    } catch (cause) {
      server.status = 'stopping';
      await watcher.close();
      await server.intake.close().catch(() => undefined);
      await state.close();
      throw new RecsignalError('IO_FAILED', `cannot listen on ${host}:${port} (${(cause as Error).message}); pick another --port (0 picks a free one) or --host`, { cause });
    }
    const address = server.app.server.address() as AddressInfo;
    server.url_ = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
    return server;
  }

  get url(): string {
    return this.url_;
  }

  private async bootstrap(events: AsyncIterable<InteractionEvent>): Promise<void> {
    try {
      await this.state.bootstrap(events, () => this.bootstrapped++, () => this.status !== 'starting');
      if (this.status === 'starting') {
        // The replay's garbage goes before the first request rather than into every later young-generation pause (see collectGarbage).
        collectGarbage();
        this.status = 'ready';
      }
    } catch (e) {
      this.bootstrapError = e as Error;
      this.status = 'failed';
      throw e;
    }
  }

  /**
   * Applies already-valid events as if pushed (a replayed stream); `to` as in /push. `logged`: the
   * events are in the log already (a replay of it), so they are not journaled when sent online only.
   */
  push(events: readonly InteractionEvent[], to: 'online' | 'online_and_offline' = 'online_and_offline', o: { readonly logged?: boolean } = {}): Promise<IntakeReport> {
    return this.intake.submitValid(events, to, `stream #${++this.batches}`, o.logged === true);
  }

  /** Stops listening (in-flight requests finish), then appends buffered events to the log. */
  async close(): Promise<void> {
    if (this.status === 'stopped' || this.status === 'stopping') return;
    this.status = 'stopping';
    try {
      await this.app.close();
      await this.ready.catch(() => undefined);
    } finally {
      try {
        await this.watcher?.close();
        // The buffered events into the log first: a store-backed state then seals its checkpoint with the log as it is.
        await this.intake.close().finally(() => this.state.close());
      } finally {
        this.unlock();
        this.status = 'stopped';
      }
    }
  }

  private send(reply: FastifyReply, w: WireError): FastifyReply {
    return reply.code(w.status).send(w.body);
  }

  private routes(bodyLimit: number): void {
    const app = this.app;
    app.decorateRequest('startedAt', 0);
    app.removeContentTypeParser(['application/json', 'text/plain']);
    // On Feast's routes, integers beyond 2^53 (int64 entity keys) are read as their digits (quoteUnsafeIntegers).
    const parse = (url: string, body: string) => parseJsonText(FEAST_ROUTES.has(url.split('?')[0] as string) ? quoteUnsafeIntegers(body) : body);
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
      try {
        done(null, parse(req.url, body as string));
      } catch (e) {
        done(e as Error, undefined);
      }
    });
    // Feast's own clients post JSON without saying so: its Python remote online store sends a
    // string body with no Content-Type (`requests.post(url, data=...)`), its docs' curl examples
    // send form encoding, and Feast's servers parse either as JSON. So do its two routes here.
    app.addContentTypeParser('*', { parseAs: 'string' }, (req, body, done) => {
      if (!FEAST_ROUTES.has(req.url.split('?')[0] as string)) done(Object.assign(new Error('media type'), { code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE' }), undefined);
      else {
        try {
          done(null, parse(req.url, body as string));
        } catch (e) {
          done(e as Error, undefined);
        }
      }
    });
    app.addContentTypeParser(['application/x-ndjson', 'application/jsonl'], { parseAs: 'string' }, (req, body, done) => {
      if (req.url.split('?')[0] !== '/v1/events') done(Object.assign(new Error('JSON lines'), { code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE' }), undefined);
      else done(null, parseNdjson(body as string));
    });
    app.addHook('onRequest', (req, reply, done) => {
      req.startedAt = performance.now();
      const path = req.url.split('?')[0] as string;
      if (this.status !== 'ready' && !UNGATED.has(path)) {
        this.send(reply, wireError('NOT_READY', this.notReadyMessage()));
        return;
      }
      done();
    });
    app.addHook('onResponse', (req, reply, done) => {
      this.metrics.observe(req.routeOptions.url ?? 'unmatched', req.method, reply.statusCode, (performance.now() - req.startedAt) / 1000);
      done();
    });
    app.setErrorHandler((err, _req, reply) => {
      const w = toWireError(err, bodyLimit);
      this.send(reply, w);
    });
    app.setNotFoundHandler((req, reply) => {
      this.send(reply, wireError('ROUTE_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}; the server has: ${ROUTES}`));
    });

    app.get('/health', async (_req, reply) => {
      const store = this.state.health();
      const problems = [
        ...(store.ok ? [] : [store.message]),
        ...(this.intake.lastFlushError === null ? [] : [`appending to the offline log fails (${this.intake.lastFlushError}); events stay buffered and are retried`]),
        ...(this.watcher?.lastError == null ? [] : [`${this.watcher.lastError}: the table as read before is served, and a restart would fail on it; publish it again`]),
        ...(this.intake.journalError === null ? [] : [`journaling events applied for the online state only fails (${this.intake.journalError}); they stay in memory and are retried, and a restart now would lose them`]),
      ];
      const ok = this.status === 'ready' && problems.length === 0;
      const status = this.status === 'ready' && !ok ? 'degraded' : this.status === 'ready' ? 'ok' : this.status;
      const wm = this.state.watermark;
      return reply.code(ok ? 200 : 503).send({
        status,
        ...(ok ? {} : { message: this.status === 'ready' ? problems.join('; ') : this.notReadyMessage() }),
        watermark: Number.isFinite(wm) ? isoTime(wm) : null,
        lag_seconds: Number.isFinite(wm) ? (this.clock() - wm) / 1000 : null,
        events_bootstrapped: this.bootstrapped,
        buffered: this.intake.buffered,
        online_store: store.store,
      });
    });

    app.get('/metrics', async (_req, reply) => {
      const c = this.intake.counts;
      const text = this.metrics.render({
        events: { received: c.received, accepted: c.accepted, applied: c.appliedOnline, rejected: c.rejected, duplicates: c.duplicates, late: c.late },
        watermarkMs: this.state.watermark,
        nowMs: this.clock(),
        onlineStoreErrors: this.state.errors,
        onlineStoreUp: this.state.health().ok,
        requestFeatureErrors: this.requestStats.errors,
        log: { appended: c.appended, buffered: this.intake.buffered, flushErrors: c.flushErrors, journalWaiting: this.intake.journalWaiting },
        keys: this.state.sizes(),
        ready: this.status === 'ready',
        cache: this.state.cacheStats?.() ?? null,
      });
      return reply.type('text/plain; version=0.0.4; charset=utf-8').send(text);
    });

    const registry = featureRegistry(this.plan);
    app.get('/v1/feature-views', async () => registry);

    app.post('/v1/features', async (req, reply) => {
      const b = parseFeaturesBody(req.body);
      const sel = selectRefs(this.plan, b.features);
      const q = { userId: b.userId, items: b.items, context: b.context, t: b.ts ?? this.clock() };
      const reader = await this.state.reader(q.t, featureReads(sel, q));
      // Serialised here rather than by fastify: the shared rows' text is reused (featuresResponseJson).
      return reply.type('application/json; charset=utf-8').send(featuresResponseJson(fetchFeatures(reader, this.plan, sel, q, this.requestStats)));
    });

    app.post('/v1/events', async (req) => {
      const wait = waitFlag((req.query as Record<string, unknown>)['wait']);
      const report = await this.intake.submit(eventItems(req.body), 'online_and_offline', `POST /v1/events #${++this.batches}`);
      // Applying is synchronous: features reflect the batch on return. wait=true also waits until it is in the offline log.
      if (wait) await this.flushed('the events were applied online');
      return report;
    });

    registerRecommendations(app, () => this.recommender);

    app.post('/get-online-features', async (req) => {
      const r = parseOnlineFeaturesRequest(req.body, this.plan);
      const sel = selectRefs(this.plan, r.features);
      checkNameCollisions(sel, r.fullFeatureNames, r.joinKeys);
      checkEntityColumns(sel, r.columns);
      const t = this.clock();
      const reader = await this.state.reader(t, rowReads(sel, r.rows));
      return onlineFeaturesResponse(r, sel, fetchRows(reader, this.plan, sel, r.rows, t, this.requestStats));
    });

    app.post('/push', async (req, reply) => {
      const p = parsePush(req.body);
      const { events, problems } = this.intake.validate(p.items);
      if (problems.length > 0) {
        throw invalidInput(`push rejected (${problems.length} of ${p.items.length} rows invalid; no row was written)`, problems.flatMap((x) => x.problems.map((pr) => ({ ...pr, path: `df[${x.index}].${pr.path}` }))));
      }
      await this.intake.submitValid(events, p.to, `POST /push ${p.source} #${++this.batches}`);
      // Offline parts are written before the reply, as Feast's push does without its batcher.
      if (p.to !== 'online') await this.flushed(p.to === 'offline' ? 'the rows were validated' : 'the rows were applied online');
      // Feast's push handler returns None, which FastAPI sends as the JSON body null.
      return reply.code(200).type('application/json').send('null');
    });
  }

  /** Waits for the offline log to have everything buffered; a failure says what did happen. */
  private async flushed(what: string): Promise<void> {
    try {
      await this.intake.flush();
    } catch (cause) {
      throw new RecsignalError('IO_FAILED', `${what}, but appending them to the offline log failed (${(cause as Error).message}); they stay buffered and the append is retried every second`, { cause });
    }
  }

  private notReadyMessage(): string {
    if (this.status === 'starting') return `the server is bootstrapping its state from the event log (${this.bootstrapped} events so far); retry shortly`;
    if (this.status === 'failed') return `bootstrapping the state failed: ${this.bootstrapError?.message}; restart the server`;
    return 'the server is shutting down; retry on another instance';
  }
}

function waitFlag(v: unknown): boolean {
  if (v === undefined || v === 'false' || v === '0') return false;
  if (v === 'true' || v === '1' || v === '') return true;
  throw invalidInput('bad /v1/events query', [{ path: 'wait', message: `'${String(v)}' is not a boolean`, fix: 'use ?wait=true (reply once the events are in the offline log too) or leave it out' }]);
}

/** `GET /v1/feature-views`: the shape of `recsignal features --json`. */
function featureRegistry(plan: ServingPlan) {
  const { compiled } = plan;
  return {
    name: compiled.ir.name,
    hash: compiled.hash,
    views: plan.views.map((vp) => ({
      name: vp.view.name,
      kind: vp.view.kind,
      entity: vp.view.entity.name,
      join_keys: vp.keys,
      hash: compiled.viewHashes[vp.view.name],
      features: plan.all.filter((r) => r.view === vp).map((r) => ({ name: r.feature, type: r.type, ref: r.ref })),
    })),
    request_features: compiled.ir.requestFeatures.map((r) => ({ name: r.name, type: r.type, ref: `${REQUEST_VIEW}:${r.name}`, inputs: r.inputs })),
  };
}
