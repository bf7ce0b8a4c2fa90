/**
 * @module The server's metrics in the Prometheus text exposition format (0.0.4), hand-written:
 * request latency histograms per route, event counters, stream lag, store and log errors.
 */

/** Latency buckets in seconds: fine below a millisecond, where the fetch path is meant to live. */
const BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

interface Histogram {
  readonly counts: number[];
  sum: number;
  count: number;
}

export interface Metrics {
  /** One finished request: its route pattern, status and duration. */
  observe(route: string, method: string, status: number, seconds: number): void;
  /** Renders everything; gauges and the counters kept elsewhere come from `snapshot`. */
  render(snapshot: MetricsSnapshot): string;
}

export interface MetricsSnapshot {
  readonly events: { readonly received: number; readonly accepted?: number; readonly applied: number; readonly rejected: number; readonly duplicates: number; readonly late: number };
  readonly watermarkMs: number;
  readonly nowMs: number;
  readonly onlineStoreErrors: number;
  /** The online store answers and holds the state (always true in memory). */
  readonly onlineStoreUp: boolean;
  readonly requestFeatureErrors: number;
  readonly log: { readonly appended: number; readonly buffered: number; readonly flushErrors: number; readonly journalWaiting?: number };
  readonly keys: Readonly<Record<string, number>>;
  readonly ready: boolean;
  /** Key reads served by the online store's process cache, and those that went to the store (absent without one). */
  readonly cache?: { readonly hits: number; readonly misses: number } | null;
}

export function createMetrics(): Metrics {
  const histograms = new Map<string, Histogram>();
  const requests = new Map<string, number>();
  return {
    observe(route, method, status, seconds) {
      const hk = `route="${escapeLabel(route)}",method="${method}"`;
      let h = histograms.get(hk);
      if (!h) {
        h = { counts: BUCKETS.map(() => 0), sum: 0, count: 0 };
        histograms.set(hk, h);
      }
      let i = 0;
      while (i < BUCKETS.length && seconds > (BUCKETS[i] as number)) i++;
      if (i < BUCKETS.length) h.counts[i] = (h.counts[i] as number) + 1;
      h.sum += seconds;
      h.count++;
      const rk = `${hk},status="${status}"`;
      requests.set(rk, (requests.get(rk) ?? 0) + 1);
    },
    render(s) {
      const out: string[] = [];
      const metric = (name: string, type: string, help: string, lines: string[]) => {
        out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...lines);
      };
      const hLines: string[] = [];
      for (const [labels, h] of histograms) {
        let cumulative = 0;
        BUCKETS.forEach((b, i) => {
          cumulative += h.counts[i] as number;
          hLines.push(`recsignal_http_request_duration_seconds_bucket{${labels},le="${b}"} ${cumulative}`);
        });
        hLines.push(`recsignal_http_request_duration_seconds_bucket{${labels},le="+Inf"} ${h.count}`);
        hLines.push(`recsignal_http_request_duration_seconds_sum{${labels}} ${h.sum}`);
        hLines.push(`recsignal_http_request_duration_seconds_count{${labels}} ${h.count}`);
      }
      metric('recsignal_http_request_duration_seconds', 'histogram', 'HTTP request latency by route.', hLines);
      metric('recsignal_http_requests_total', 'counter', 'HTTP requests by route and status.', [...requests].map(([l, n]) => `recsignal_http_requests_total{${l}} ${n}`));
      const counter = (name: string, help: string, value: number) => metric(name, 'counter', help, [`${name} ${value}`]);
      const gauge = (name: string, help: string, value: number) => metric(name, 'gauge', help, [`${name} ${value}`]);
      counter('recsignal_events_received_total', 'Events received (HTTP and push).', s.events.received);
      counter('recsignal_events_accepted_total', 'Events accepted: applied to the online state, or kept for the offline log only.', s.events.accepted ?? s.events.applied);
      counter('recsignal_events_applied_total', 'Events applied to the online state.', s.events.applied);
      counter('recsignal_events_rejected_total', 'Events rejected: by validation, or whose online apply failed (each written to the dead-letter folder with its reason).', s.events.rejected);
      counter('recsignal_events_duplicates_total', 'Events dropped as duplicates of an id already seen.', s.events.duplicates);
      counter('recsignal_events_late_total', 'Events beyond the allowed lateness: not applied online, kept in the offline log.', s.events.late);
      const watermark = Number.isFinite(s.watermarkMs) ? s.watermarkMs : NaN;
      gauge('recsignal_stream_watermark_seconds', 'The newest event time applied, in seconds since the epoch.', watermark / 1000);
      gauge('recsignal_stream_lag_seconds', 'Wall clock (the server clock) minus the watermark.', (s.nowMs - watermark) / 1000);
      counter('recsignal_online_store_errors_total', 'Reads or writes that failed inside the online store.', s.onlineStoreErrors);
      gauge('recsignal_online_store_up', '1 while the online store answers and holds the state; 0 while features are served as defaults (UNAVAILABLE).', s.onlineStoreUp ? 1 : 0);
      counter('recsignal_request_feature_errors_total', 'Request-time feature calls that threw and took their default.', s.requestFeatureErrors);
      counter('recsignal_event_log_appended_total', 'Events appended to the offline event log.', s.log.appended);
      gauge('recsignal_event_log_buffered_events', 'Events waiting for the next append to the offline log.', s.log.buffered);
      counter('recsignal_event_log_flush_errors_total', 'Failed appends to the offline log (the events stay buffered and are retried).', s.log.flushErrors);
      gauge('recsignal_online_journal_waiting_events', 'Events applied for the online state only that the journal could not write yet (retried; a restart now would lose them).', s.log.journalWaiting ?? 0);
      if (s.cache) {
        counter('recsignal_online_cache_hits_total', 'Key reads answered by the online store\'s process cache (Redis client tracking keeps it fresh).', s.cache.hits);
        counter('recsignal_online_cache_misses_total', 'Key reads that went to the online store.', s.cache.misses);
      }
      metric('recsignal_online_keys', 'gauge', 'Entity keys held per view.', Object.entries(s.keys).map(([v, n]) => `recsignal_online_keys{view="${escapeLabel(v)}"} ${n}`));
      gauge('recsignal_ready', '1 once the state is bootstrapped and the server serves.', s.ready ? 1 : 0);
      return `${out.join('\n')}\n`;
    },
  };
}

function escapeLabel(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
