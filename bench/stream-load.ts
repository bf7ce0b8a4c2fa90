/**
 * @module The HTTP load generator of bench/stream.ts, run as its own process. It sends
 * `POST /v1/features` (1 user, N random candidates) to a server on 127.0.0.1 on a fixed schedule
 * (open loop), and measures each request from its scheduled send time to the end of its response,
 * so a stalled server shows up as latency instead of as fewer requests (no coordinated omission).
 * Bounded: rate × (warm-up + duration) requests, a 10 s timeout each, and a hard stop.
 */
import http from 'node:http';
import { parseArgs } from 'node:util';
import { report, rng, sampleDistinct, say, summarize } from './stream-common.ts';

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    rate: { type: 'string', default: '1000' },
    duration: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '3' },
    users: { type: 'string', default: '5000' },
    items: { type: 'string', default: '2000' },
    candidates: { type: 'string', default: '100' },
    seed: { type: 'string', default: '7' },
  },
  strict: true,
});
const url = new URL(values.url ?? '');
if (url.hostname !== '127.0.0.1') throw new Error(`bench/stream-load.ts only loads 127.0.0.1, got '${url.hostname}'`);
const port = Number(url.port);
const rate = Math.min(5000, Number(values.rate));
const duration = Math.min(120, Number(values.duration));
const warmup = Math.min(30, Number(values.warmup));
const users = Number(values.users);
const items = Number(values.items);
const candidates = Number(values.candidates);
const TIMEOUT_MS = 10_000;
const DEVICES = ['tv', 'mobile', 'web', 'tablet'];

// A pool of request bodies, built before the clock starts so building them costs the schedule nothing.
const next = rng(Number(values.seed));
const scratch = Int32Array.from({ length: items }, (_, i) => i);
const bodies = Array.from({ length: 2000 }, () =>
  Buffer.from(
    JSON.stringify({
      user_id: `u${Math.floor(next() * users)}`,
      items: sampleDistinct(next, items, candidates, scratch).map((i) => `i${i}`),
      context: { device: DEVICES[Math.floor(next() * DEVICES.length)] },
    }),
  ),
);

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const interval = 1000 / rate;
const warmupCount = Math.round(rate * warmup);
const total = warmupCount + Math.round(rate * duration);
const latencies: number[] = [];
const sendLag: number[] = [];
const errors: Record<string, number> = {};
let done = 0;
let inFlight = 0;
let maxInFlight = 0;
let bytes = 0;

const finished = new Promise<void>((resolve) => {
  const start = performance.now() + 200;
  const scheduled = (i: number) => start + i * interval;
  const complete = (i: number, ok: boolean, what: string) => {
    inFlight--;
    const ms = performance.now() - scheduled(i);
    if (i >= warmupCount) {
      if (ok) latencies.push(ms);
      else errors[what] = (errors[what] ?? 0) + 1;
    }
    if (++done === total) resolve();
  };
  const fire = (i: number) => {
    const body = bodies[i % bodies.length] as Buffer;
    if (i >= warmupCount) sendLag.push(performance.now() - scheduled(i));
    inFlight++;
    if (inFlight > maxInFlight) maxInFlight = inFlight;
    let settled = false;
    const settle = (ok: boolean, what: string) => {
      if (settled) return;
      settled = true;
      complete(i, ok, what);
    };
    const req = http.request({ host: '127.0.0.1', port, path: '/v1/features', method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.length } }, (res) => {
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.on('end', () => settle(res.statusCode === 200, `status ${res.statusCode}`));
      res.on('error', (e) => settle(false, e.message));
    });
    req.setTimeout(TIMEOUT_MS, () => {
      req.destroy(new Error('timeout'));
    });
    req.on('error', (e) => settle(false, e.message));
    req.end(body);
  };
  let sent = 0;
  const tick = () => {
    const now = performance.now();
    while (sent < total && scheduled(sent) <= now) fire(sent++);
    if (sent < total) setTimeout(tick, Math.max(0, scheduled(sent) - performance.now()));
  };
  setTimeout(tick, 200);
});
const hardStop = new Promise<void>((resolve) => setTimeout(resolve, (warmup + duration) * 1000 + 30_000).unref());
await Promise.race([finished, hardStop]);
const measured = total - warmupCount;
const missing = measured - latencies.length - Object.values(errors).reduce((s, x) => s + x, 0);
if (missing > 0) errors['no response by the hard stop'] = missing;
say(`load: ${latencies.length} ok of ${measured} at ${rate}/s`);
report({
  rate,
  durationS: duration,
  warmupS: warmup,
  candidates,
  sent: measured,
  ok: latencies.length,
  errors,
  errorCount: Object.values(errors).reduce((s, x) => s + x, 0),
  latency: summarize(latencies),
  sendLag: summarize(sendLag),
  maxInFlight,
  meanResponseBytes: Math.round(bytes / Math.max(1, done)),
});
agent.destroy();
process.exit(0);
