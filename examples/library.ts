/** recsignal as a library: ingest events into a log and read point-in-time features, in process. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileFeatureSet, createEventValidator, EventLog, featureColumns, featuresFor, ingest } from 'recsignal';
import quickstart from './quickstart/features.ts';

export async function run(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'recsignal-example-'));
  try {
    const log = new EventLog(dir);
    const t = Date.parse('2024-05-01T20:00:00Z');
    const events = [
      { event_id: 'e1', user_id: 'u1', item_id: 'i1', ts: t - 3_600_000, type: 'impression' },
      { event_id: 'e2', user_id: 'u1', item_id: 'i1', ts: t - 3_500_000, type: 'play', duration: 1800 },
      { event_id: 'e3', user_id: 'u1', item_id: 'i1', ts: t - 1_800_000, type: 'complete', value: 1800, duration: 1800 },
      { event_id: 'e4', user_id: 'u1', item_id: 'i2', ts: t - 600_001, type: 'impression' },
      { event_id: 'e5', user_id: 'u1', item_id: 'i3', ts: t, type: 'play' }, // at t itself: not part of features as of t
    ];
    const report = await ingest(
      events.map((raw, i) => ({ position: `example:${i + 1}`, raw })),
      { log, validator: createEventValidator() },
    );
    const features = compileFeatureSet(quickstart);
    const [row] = await featuresFor(features, log, [{ fields: { user_id: 'u1', item_id: 'i1' }, ts: t }]);
    const named = Object.fromEntries(featureColumns(features.ir).map((c, i) => [c.column, row?.[i]]));
    return { ...report, features: named };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await run());
