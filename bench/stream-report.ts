/** @module The stream benchmark's outputs: bench/results/<date>-stream.json and the stream section of BENCHMARKS.md (only the text between its markers is ever replaced). */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { machineBasics, replaceSection } from './report.ts';
import { REPO, type LatencySummary } from './stream-common.ts';

const BEGIN = '<!-- bench:stream -->';
const END = '<!-- /bench:stream -->';

export interface StreamMachine {
  readonly cpu: string;
  readonly cores: number;
  readonly memoryGb: number;
  readonly os: string;
  readonly node: string;
}

export function streamMachine(): StreamMachine {
  return machineBasics();
}

export interface StepRecord {
  readonly step: string;
  /** 1-minute load average when the step started, and whether the wait for a quiet machine gave up. */
  readonly loadAtStart: number;
  readonly machineBusy: boolean;
  readonly seconds: number;
  readonly peakRssMb: number | null;
  readonly error: string | null;
  readonly report: Record<string, unknown> | null;
}

export interface StreamResults {
  readonly date: string;
  readonly startedAt: string;
  readonly command: string;
  readonly machine: StreamMachine;
  readonly options: Readonly<Record<string, number>>;
  readonly steps: readonly StepRecord[];
}

export function writeStreamJson(r: StreamResults): string {
  const dir = join(REPO, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${r.date}-stream.json`);
  writeFileSync(path, `${JSON.stringify(r, null, 2)}\n`);
  return path;
}

/** Re-reads BENCHMARKS.md and replaces only the stream section (appended at the end when absent). */
export function writeStreamSection(section: string): string {
  return replaceSection(BEGIN, END, `${BEGIN}\n${section.trim()}\n${END}`);
}

type Rec = Record<string, unknown>;
const num = (x: unknown): number => (typeof x === 'number' ? x : NaN);
const fmt = (x: unknown, digits = 0): string => (typeof x === 'number' && Number.isFinite(x) ? x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '?');
const ms = (x: unknown): string => (typeof x === 'number' && Number.isFinite(x) ? `${x < 10 ? x.toFixed(2) : x.toFixed(1)} ms` : '?');
const kib = (bytes: unknown): string => {
  if (typeof bytes !== 'number' || !Number.isFinite(bytes)) return '?';
  return Math.abs(bytes) >= 10 * 2 ** 20 ? `${(bytes / 2 ** 20).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`;
};

export function renderStreamSection(r: StreamResults): string {
  const step = (name: string) => r.steps.find((s) => s.step === name);
  const apply = step('apply')?.report as Rec | undefined;
  const fetch = step('fetch')?.report as Rec | undefined;
  const memory = step('memory')?.report as Rec | undefined;
  const runs = (apply?.['runs'] as Rec[] | undefined) ?? [];
  const demoEngine = runs[0];
  const demoServer = runs[1];
  const allOps = runs[2];
  const inProc = fetch?.['inProcess'] as Rec | undefined;
  const f = inProc?.['fetch'] as LatencySummary | undefined;
  const fj = inProc?.['fetchAndJson'] as LatencySummary | undefined;
  const sc = inProc?.['fetchScavenges'] as Rec | undefined;
  const http = fetch?.['http'] as Rec | undefined;
  const hl = http?.['latency'] as LatencySummary | undefined;
  const shape = fetch?.['shape'] as Rec | undefined;
  const split = memory?.['split'] as Rec | undefined;
  const m = r.machine;
  const busy = r.steps.filter((s) => s.machineBusy).map((s) => `${s.step} (load ${s.loadAtStart})`);
  const failed = r.steps.filter((s) => s.error !== null).map((s) => `${s.step}: ${s.error}`);
  const goal = (ok: boolean) => (ok ? 'met' : '**not met**');

  const lines = [
    '## Stream engine and online serving',
    '',
    `Command: \`node --import tsx bench/stream.ts\` (options: ${Object.entries(r.options).map(([k, v]) => `--${k} ${v}`).join(' ')}). Run ${r.startedAt}.`,
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGb} GB, ${m.os}, Node ${m.node}. Raw figures: \`bench/results/${r.date}-stream.json\`.`,
    '',
    `Input: \`generateEvents({ users: ${r.options['users']}, items: ${r.options['items']}, days: ${r.options['days']}, seed: ${r.options['seed']} })\`, ${fmt(apply?.['events'])} events held in memory and sorted by time; the demo feature set (\`examples/streaming/features.ts\`); allowed lateness 5 min (the server's default). Each step runs in its own Node process, after waiting for a 1-minute load below 1.5.`,
    ...(busy.length > 0 ? ['', `**The machine was loaded** (another benchmark was running) when these steps started: ${busy.join(', ')}. On two cores this inflates the figures; treat them as upper bounds.`] : []),
    ...(failed.length > 0 ? ['', `Failed steps: ${failed.join('; ')}.`] : []),
    '',
    '| measure | goal (real-time issue) | measured | |',
    '|---|---|---|---|',
    `| apply, \`StreamEngine\` in process, one core, demo set | ≥ 500,000 events/s | ${fmt(demoEngine?.['eventsPerSecond'])} events/s | ${goal(num(demoEngine?.['eventsPerSecond']) >= 500_000)} |`,
    `| apply, \`OnlineState\` (engine + key index, the server's path), demo set | ≥ 500,000 events/s | ${fmt(demoServer?.['eventsPerSecond'])} events/s | ${goal(num(demoServer?.['eventsPerSecond']) >= 500_000)} |`,
    `| apply, \`StreamEngine\`, \`test/fixtures/all-ops.ts\` (contrast) | — | ${fmt(allOps?.['eventsPerSecond'])} events/s | |`,
    `| fetch in process, 1 user + ${r.options['candidates']} candidates, memory state: p50 / p99 / p99.9 | p99 < 1 ms | ${ms(f?.p50Ms)} / ${ms(f?.p99Ms)} / ${ms(f?.p999Ms)} | ${goal(num(f?.p99Ms) < 1)} |`,
    `| young-generation collections during those fetches: count / mean pause / longest | — | ${fmt(sc?.['count'])} in ${fmt(inProc?.['requests'])} requests / ${ms(sc?.['meanPauseMs'])} / ${ms(sc?.['maxPauseMs'])} | |`,
    `| same, with the response serialised as the route does (\`featuresResponseJson\`): p50 / p99 / p99.9 | — | ${ms(fj?.p50Ms)} / ${ms(fj?.p99Ms)} / ${ms(fj?.p999Ms)} | |`,
    `| HTTP \`POST /v1/features\` on loopback at ${fmt(http?.['rate'])} req/s for ${fmt(http?.['durationS'])} s: p50 / p99 / p99.9 | p99 < 5 ms | ${ms(hl?.p50Ms)} / ${ms(hl?.p99Ms)} / ${ms(hl?.p999Ms)} (max ${ms(hl?.maxMs)}), ${fmt(http?.['errorCount'])} errors | ${goal(num(hl?.p99Ms) < 5 && num(http?.['errorCount']) === 0)} |`,
    `| for scale: Feast's Go feature server, 50 features × 100 entities on Redis | — | 22 ms p99 (Feast's published figure, not measured here) | |`,
    `| online memory per user (heap) | — | ${kib(split?.['perUserBytes'])} (of which user × item ${kib(split?.['perUserOfWhichUserItem'])}) | |`,
    `| online memory per item (heap) | — | ${kib(split?.['perItemBytes'])} | |`,
    '',
    `- **Features per request:** ${fmt(shape?.['userFeatures'])} user features once, and ${fmt(shape?.['itemFeatures'])} per candidate (${fmt(shape?.['crossFeatures'])} of them request-time crosses): ${fmt(shape?.['valuesPerResponse'])} values for ${fmt(shape?.['candidates'])} candidates. ${fmt(num(inProc?.['presentShare']) * 100, 1)}% of them \`PRESENT\`, the rest \`NOT_FOUND\` defaults (a random user has not met most random items).`,
    `- **Apply:** the whole stream, timed around the \`apply\` loop only (generation and sorting excluded); one Node thread. Rate by tenth of the stream, demo engine: ${((demoEngine?.['tenthsEventsPerSecond'] as number[] | undefined) ?? []).map((x) => fmt(x)).join(', ')} events/s.`,
    `- **Fetch in process:** \`fetchFeatures\` over the server's own state and plan (what \`POST /v1/features\` calls), ${fmt(inProc?.['requests'])} requests after ${fmt(inProc?.['warmup'])} warm-up ones, each a random user (context \`device\` random) and ${r.options['candidates']} distinct random items, default Node flags, the server's clock fixed 1 s after the last event (so cacheable reads of popular items are reused, as they would be within a hop). The fetch alone is timed in one loop, fetch plus the route's JSON serialisation (\`featuresResponseJson\`: \`JSON.stringify\` of the response with each shared row's text reused; \`JSON.stringify\` until 2026-11-26 23:45 UTC) in a second one over as many further requests, so that neither's garbage triggers collections inside the other's timings (until 2026-11-26 21:00 UTC one loop timed both, which put the serialisation's collections into the fetch's tail).`,
    `- **HTTP:** the same server (fastify) in one process; a load generator in a second process (\`bench/stream-load.ts\`: \`node:http\`, keep-alive agent) sends on a fixed schedule after a 3 s warm-up and measures from each request's scheduled send time to the end of its response, so stalls are not hidden (no coordinated omission). Mean response ${kib(http?.['meanResponseBytes'])}; at most ${fmt(http?.['maxInFlight'])} requests in flight; send lag p99 ${ms((http?.['sendLag'] as LatencySummary | undefined)?.p99Ms)}. Server and load generator share the ${m.cores} cores.`,
    `- **Memory:** \`node --expose-gc\`; heap used after forced gcs with the metadata loaded, then after building an \`OnlineState\` as the server does (\`bootstrap\`: every event applied, then the state compacted) and dropping the events: ${kib(memory?.['stateBytes'])} in all for ${fmt(memory?.['usersWithState'])} users and ${fmt(memory?.['itemsWithState'])} items with state (${fmt(memory?.['userItemPairs'])} user × item pairs), i.e. ${kib(memory?.['perEntityBytes'])} per entity (users + items). Split by dropping each view's state (engine and key index) in turn and measuring the heap it frees: views keyed by user (and user × device, user × daypart), the user × item view (${kib(split?.['perUserItemPairBytes'])} per pair) and the negatives' bookkeeping go to users; \`item_popularity\` to items; ${kib(split?.['fixedBytes'])} is fixed (metadata maps, recent event ids for deduplication). A raw row held by several views is freed, and so counted, with the last of them dropped (the order below); user × item keys are touched rarely, so they keep their rows raw longest and carry most of them.`,
  ];
  const views = (memory?.['views'] as Rec[] | undefined) ?? [];
  if (views.length > 0) {
    lines.push('', '| view | entity | keys | heap | per key |', '|---|---|---|---|---|');
    for (const v of views) lines.push(`| ${v['view']} | ${v['entity']} | ${fmt(v['keys'])} | ${kib(v['bytes'])} | ${fmt(num(v['bytes']) / Math.max(1, num(v['keys'])))} B |`);
  }
  return lines.join('\n');
}
