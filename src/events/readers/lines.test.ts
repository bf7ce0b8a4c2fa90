import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import fc from 'fast-check';
import { readLines, type Line } from './lines.ts';

const dir = mkdtempSync(join(tmpdir(), 'recsignal-lines-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function lines(bytes: Buffer): Promise<Line[]> {
  const path = join(dir, 'f.txt');
  writeFileSync(path, bytes);
  const out: Line[] = [];
  for await (const l of readLines(path)) out.push(l);
  return out;
}

test('lines end at LF, CRLF or a lone CR as readline splits them, across 64 KiB reads and characters cut by them', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(fc.string({ unit: 'grapheme', maxLength: 40 }), fc.constantFrom('\n', '\r\n', '\r')), { maxLength: 30 }),
      fc.string({ unit: 'grapheme', maxLength: 5 }),
      fc.nat({ max: 70_000 }),
      async (rows, last, padding) => {
        // Padding moves the rows across the 64 KiB read boundary, with multi-byte characters in it.
        const text = 'é'.repeat(Math.floor(padding / 2)) + rows.map(([t, eol]) => t + eol).join('') + last;
        const want = text.split(/\r\n|\r|\n/);
        if (want.at(-1) === '') want.pop();
        const got = await lines(Buffer.from(text));
        assert.deepEqual(got.map((l) => l.text), want);
        assert.deepEqual(got.map((l) => l.line), want.map((_, i) => i + 1));
        assert.ok(got.every((l) => l.invalid === undefined));
      },
    ),
    { numRuns: 60, seed: 3 },
  );
});

test('a line that is not UTF-8 says which byte; the BOM of the first line is dropped', async () => {
  const got = await lines(Buffer.concat([Buffer.from('\ufeffa\n'), Buffer.from([0x62, 0xff, 0x0a]), Buffer.from('c\r\n')]));
  assert.deepEqual(got, [{ line: 1, text: 'a' }, { line: 2, text: 'b\ufffd', invalid: 'byte 2 (0xFF) is not UTF-8' }, { line: 3, text: 'c' }]);
});

test('a CRLF cut by the 64 KiB read is one line break, and a CR ending a read is one too', async () => {
  const head = 'x'.repeat(65_535);
  assert.deepEqual((await lines(Buffer.from(`${head}\r\nnext\n`))).map((l) => l.text.length), [65_535, 4]);
  assert.deepEqual((await lines(Buffer.from(`${head}\rnext`))).map((l) => l.text.length), [65_535, 4]);
  assert.deepEqual((await lines(Buffer.from(`${head}\r`))).map((l) => l.text.length), [65_535]);
});
