import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { RecsignalError } from '../../core/errors.ts';
import { createEventValidator } from '../validate.ts';
import { readJsonl } from './jsonl.ts';
import { MAX_TEXT_CHARS, type RawRecord } from './raw-record.ts';

const dir = mkdtempSync(join(tmpdir(), 'recsignal-jsonl-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

async function collect(it: AsyncIterable<RawRecord>): Promise<RawRecord[]> {
  const out: RawRecord[] = [];
  for await (const r of it) out.push(r);
  return out;
}

const e = (id: string, extra: Record<string, unknown> = {}): string =>
  JSON.stringify({ event_id: id, user_id: 'u1', item_id: 'i1', ts: 1714560000000, type: 'play', ...extra });

describe('readJsonl', () => {
  test('a malformed line is a problems record at its line; blank lines are skipped but counted; the other lines come through', async () => {
    const path = file('events.jsonl', `\uFEFF${e('e1')}\r\n\r\n{"event_id": "e2", "user_id": \r\n   \r\n${e('e3', { context: { device: 'tv' } })}\r\n[1, 2]\n`);
    const records = await collect(readJsonl(path));
    assert.equal(records.length, 4);
    assert.deepEqual(records[0], { position: 'events.jsonl:1', raw: JSON.parse(e('e1')) });
    const bad = records[1];
    assert.ok(bad && 'problems' in bad);
    assert.equal(bad.position, 'events.jsonl:3');
    assert.equal(bad.text, '{"event_id": "e2", "user_id": ');
    assert.equal(bad.problems.length, 1);
    assert.equal(bad.problems[0]?.path, '(line)');
    assert.match(bad.problems[0]?.message ?? '', /^is not valid JSON: /);
    assert.match(bad.problems[0]?.fix ?? '', /one complete JSON object per line/);
    assert.deepEqual(records[2], { position: 'events.jsonl:5', raw: JSON.parse(e('e3', { context: { device: 'tv' } })) });
    // Parseable but not an object: passed on, for validation to reject with its reason.
    assert.deepEqual(records[3], { position: 'events.jsonl:6', raw: [1, 2] });
    const validate = createEventValidator({ now: Date.UTC(2025, 0, 1) });
    assert.deepEqual(records.map((r) => 'raw' in r && validate(r.raw).ok), [true, false, true, false]);
  });

  test('the text of a bad line is cut at 10k characters', async () => {
    const long = `{"x": "${'a'.repeat(20_000)}`;
    const [r] = await collect(readJsonl(file('long.jsonl', `${long}\n`)));
    assert.ok(r && 'problems' in r);
    assert.equal(r.text.length, MAX_TEXT_CHARS);
    assert.equal(r.text, long.slice(0, MAX_TEXT_CHARS));
  });

  test('--map renames top-level keys, to fields and to context.<key>, keeping other keys', async () => {
    const path = file('mapped.jsonl', [
      JSON.stringify({ id: 'e1', uid: 'u1', item_id: 'i1', when: '2024-05-01T12:00:00Z', type: 'play', dev: 'tv', context: { country: 'SE' } }),
      // Optional keys may be absent from a line (`dev` here).
      JSON.stringify({ id: 'e2', uid: 'u2', item_id: 'i2', when: 1714560000000, type: 'play' }),
    ].join('\n'));
    const records = await collect(readJsonl(path, { map: { id: 'event_id', uid: 'user_id', when: 'ts', dev: 'context.device' } }));
    assert.deepEqual(records, [
      { position: 'mapped.jsonl:1', raw: { event_id: 'e1', user_id: 'u1', item_id: 'i1', ts: '2024-05-01T12:00:00Z', type: 'play', context: { country: 'SE', device: 'tv' } } },
      { position: 'mapped.jsonl:2', raw: { event_id: 'e2', user_id: 'u2', item_id: 'i2', ts: 1714560000000, type: 'play' } },
    ]);
  });

  test('a --map naming a key no line has throws INVALID_ARGUMENT listing the keys', async () => {
    const path = file('keys.jsonl', `${e('e1')}\n${e('e2', { value: 3 })}\n`);
    await assert.rejects(collect(readJsonl(path, { map: { rating: 'value' } })), (err: unknown) => {
      assert.ok(err instanceof RecsignalError);
      assert.equal(err.code, 'INVALID_ARGUMENT');
      assert.match(err.message, /'rating'/);
      assert.match(err.message, /available: event_id, item_id, ts, type, user_id, value/);
      return true;
    });
  });

  test('a missing file is NOT_FOUND', async () => {
    await assert.rejects(collect(readJsonl(join(dir, 'missing.jsonl'))), (err: unknown) => err instanceof RecsignalError && err.code === 'NOT_FOUND');
  });

  test('stopping early closes the file', async () => {
    const path = file('many.jsonl', Array.from({ length: 1000 }, (_, i) => e(`e${i}`)).join('\n'));
    let seen = 0;
    for await (const r of readJsonl(path, { map: { event_id: 'event_id' } })) {
      assert.equal(r.position, `many.jsonl:${seen + 1}`);
      if (++seen === 150) break;
    }
    assert.equal(seen, 150);
  });
});
