/** `recsignal consistency`: the stream engine, replayed over a generated log, equals the batch engine at random probes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../src/cli/main.ts';

test('consistency over a generated log: 0 mismatches at every feature, reported per feature', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'recsignal-consistency-'));
  try {
    const quiet = () => undefined;
    const events = join(dir, 'events.jsonl');
    assert.equal(await main(['generate', '--users', '120', '--items', '80', '--days', '6', '--seed', '3', '--out', events, '--json'], quiet), 0);
    const log = join(dir, 'log');
    assert.equal(await main(['ingest', events, '--format', 'jsonl', '--log', log, '--json'], quiet), 0);
    let out = '';
    const code = await main(['consistency', '--features', 'examples/streaming/features.ts', '--log', log, '--probes', '300', '--seed', '5', '--json'], (s) => (out += s));
    const report = JSON.parse(out) as { probes: number; events: number; mismatches: number; features: { feature: string; mismatches: number; rate: number }[] };
    assert.equal(code, 0);
    assert.equal(report.probes, 300);
    assert.ok(report.events > 1000, `replayed ${report.events} events`);
    assert.equal(report.mismatches, 0, JSON.stringify(report.features.filter((f) => f.mismatches > 0)));
    assert.ok(report.features.length > 40);
    for (const f of report.features) assert.equal(f.rate, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
