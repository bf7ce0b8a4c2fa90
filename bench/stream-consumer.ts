/**
 * @module The Redis Streams consumer's throughput, end to end as users run it: a generated stream
 * (demo feature set) is XADDed to the Redis on 127.0.0.1:6379, then `recsignal stream --until-idle
 * --json` runs as N processes of one group until the stream is consumed. Reports the consumers' own
 * seconds (from their start to idle, bootstrap excluded) and their counts, then deletes its keys.
 * Not a step of bench/stream.ts (it needs Redis):
 *   node --import tsx bench/stream-consumer.ts [--consumers 1] [--users 500] [--items 400] [--days 7] [--batch 500]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { generateEvents } from '../src/events/generate.ts';
import { eventToJson, itemColumns } from '../src/events/schema.ts';
import { dropNamespace } from '../test/helpers/redis-cluster.ts';

const { values } = parseArgs({ options: { consumers: { type: 'string', default: '1' }, users: { type: 'string', default: '500' }, items: { type: 'string', default: '400' }, days: { type: 'string', default: '7' }, batch: { type: 'string', default: '500' } } });
const consumers = Number(values.consumers);
const world = generateEvents({ users: Number(values.users), items: Number(values.items), days: Number(values.days), seed: 3 });
const events = [...world.events()].sort((a, b) => a.ts - b.ts);
const client = new Redis('redis://127.0.0.1:6379');
const prefix = `recsignal-bench-consumer-${process.pid}-${Date.now()}`;
const stream = `${prefix}:events`;
const dir = mkdtempSync(join(tmpdir(), 'recsignal-bench-consumer-'));

interface Stats { applied: number; duplicates: number; late: number; invalid: number; batches: number; conflicts: number; seconds: number }

try {
  for (let i = 0; i < events.length; i += 2000) {
    const p = client.pipeline();
    for (const e of events.slice(i, i + 2000)) p.xadd(stream, '*', 'event', JSON.stringify(eventToJson(e)));
    await p.exec();
  }
  const itemsPath = join(dir, 'items.jsonl');
  writeFileSync(itemsPath, world.items.map((i) => JSON.stringify(itemColumns(i))).join('\n'));
  const runs = Array.from({ length: consumers }, (_, k) => new Promise<Stats>((resolve, reject) => {
    const child = spawn(process.execPath, ['bin/recsignal.js', 'stream', '--features', 'examples/streaming/features.ts', '--source', `redis-stream://127.0.0.1:6379/${encodeURIComponent(stream)}`,
      '--group', 'bench', '--consumer', `c${k}`, '--online', 'redis://127.0.0.1:6379', '--lateness', '1h', '--batch', String(values.batch), '--namespace', `${prefix}:state`, '--items', itemsPath, '--until-idle', '--json'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop() as string) as Stats) : reject(new Error(`consumer c${k} exited with ${code}`))));
  }));
  const stats = await Promise.all(runs);
  const seconds = Math.max(...stats.map((s) => s.seconds));
  const applied = stats.reduce((n, s) => n + s.applied, 0);
  const result = { events: events.length, consumers, batch: Number(values.batch), seconds: Math.round(seconds * 100) / 100, eventsPerSecond: Math.round(events.length / seconds), applied, conflicts: stats.reduce((n, s) => n + s.conflicts, 0), batches: stats.reduce((n, s) => n + s.batches, 0) };
  if (applied !== events.length) throw new Error(`applied ${applied} of ${events.length}`);
  process.stdout.write(`${JSON.stringify(result)}\n`);
} finally {
  client.disconnect();
  await dropNamespace('redis://127.0.0.1:6379', prefix);
  rmSync(dir, { recursive: true, force: true });
}
