/**
 * A stream consumer in its own process, for the crash test: `node --import tsx
 * test/helpers/consumer-process.ts '<json config>'`. Prints `committed <last id>` after each EXEC
 * (then waits `delayMs` before the XACK, to widen the crash window), `done <stats>` at the end.
 * SIGTERM / SIGINT stop it after the batch in hand.
 */
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { compileFeatureSet } from '../../src/plan/compile.ts';
import { createEventValidator } from '../../src/events/validate.ts';
import type { ItemMetadata } from '../../src/events/schema.ts';
import { StreamConsumer } from '../../src/compute/stream/consumer.ts';
import allOps from '../fixtures/all-ops.ts';

export interface ConsumerProcessConfig {
  readonly redis: string;
  readonly stream: string;
  readonly group: string;
  readonly consumer: string;
  readonly namespace: string;
  readonly lateness: number;
  readonly batch: number;
  readonly itemsPath: string;
  readonly delayMs: number;
}

const config = JSON.parse(process.argv[2] ?? '{}') as ConsumerProcessConfig;
const items = JSON.parse(readFileSync(config.itemsPath, 'utf8')) as ItemMetadata[];
const streams = new Redis(config.redis);
const state = new Redis(config.redis);
const consumer = new StreamConsumer(streams, state, {
  compiled: compileFeatureSet(allOps),
  namespace: config.namespace,
  lateness: config.lateness,
  items,
  stream: config.stream,
  group: config.group,
  consumer: config.consumer,
  validator: createEventValidator({ now: Date.UTC(2030, 0, 1) }),
  batch: config.batch,
  blockMs: 200,
  afterCommit: async (lastId) => {
    process.stdout.write(`committed ${lastId}\n`);
    if (config.delayMs > 0) await new Promise((r) => setTimeout(r, config.delayMs));
  },
});
process.once('SIGTERM', () => consumer.stop());
process.once('SIGINT', () => consumer.stop());
const stats = await consumer.run();
process.stdout.write(`done ${JSON.stringify(stats)}\n`);
streams.disconnect();
state.disconnect();
