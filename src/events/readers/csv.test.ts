import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import fc from 'fast-check';
import { RecsignalError } from '../../core/errors.ts';
import { createEventValidator } from '../validate.ts';
import { readCsv } from './csv.ts';
import { CsvParser } from './csv-parser.ts';
import type { RawRecord } from './raw-record.ts';

const dir = mkdtempSync(join(tmpdir(), 'recsignal-csv-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function file(text: string, name = `events-${++n}.csv`): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

async function collect(it: AsyncIterable<RawRecord>): Promise<RawRecord[]> {
  const out: RawRecord[] = [];
  for await (const r of it) out.push(r);
  return out;
}

const validate = createEventValidator({ now: Date.UTC(2025, 0, 1) });

const LINES = [
  'event_id,user_id,item_id,ts,type,value,device',
  'e1,u1,i1,1714560000000,play,30,tv',
  'e2,u2,"i,2",2024-05-01T12:00:00Z,rating,4.5,"big ""smart"" tv"',
  'e3,u3,i3,1714560000000,play,,"phone',
  'with a newline"',
  'e4,u4,,1714560000000,search,,',
];

describe('readCsv', () => {
  test('LF and CRLF files give the same records, positions counting the header as line 1', async () => {
    const lf = await collect(readCsv(file(`${LINES.join('\n')}\n`, 'lf.csv')));
    const crlf = await collect(readCsv(file(`${LINES.join('\r\n')}\r\n`, 'crlf.csv')));
    assert.deepEqual(
      crlf.map((r) => ({ ...r, position: r.position.replace('crlf.csv', 'lf.csv') })),
      lf,
    );
    assert.deepEqual(lf, [
      { position: 'lf.csv:2', raw: { event_id: 'e1', user_id: 'u1', item_id: 'i1', ts: 1714560000000, type: 'play', value: 30, context: { device: 'tv' } } },
      { position: 'lf.csv:3', raw: { event_id: 'e2', user_id: 'u2', item_id: 'i,2', ts: '2024-05-01T12:00:00Z', type: 'rating', value: 4.5, context: { device: 'big "smart" tv' } } },
      { position: 'lf.csv:4', raw: { event_id: 'e3', user_id: 'u3', item_id: 'i3', ts: 1714560000000, type: 'play', context: { device: 'phone\nwith a newline' } } },
      { position: 'lf.csv:6', raw: { event_id: 'e4', user_id: 'u4', ts: 1714560000000, type: 'search' } },
    ]);
    for (const r of lf) assert.equal('raw' in r && validate(r.raw).ok, true, r.position);
  });

  test('a UTF-8 BOM, blank lines and a last line without a line break', async () => {
    const records = await collect(readCsv(file('\uFEFFevent_id,user_id,item_id,ts,type\n\ne1,u1,i1,5,play\n\n\ne2,u1,i2,6,play')));
    assert.deepEqual(records.map((r) => r.position.split(':')[1]), ['3', '6']);
    assert.deepEqual(records[0], { position: records[0]?.position, raw: { event_id: 'e1', user_id: 'u1', item_id: 'i1', ts: 5, type: 'play' } });
  });

  test('a ragged row is a problems record with its position; the other rows come through', async () => {
    const path = file('event_id,user_id,item_id,ts,type\ne1,u1,i1,5,play\ne2,u1,i2,6\ne3,u1,i3,7,play,extra\ne4,u1,i4,8,play\n', 'ragged.csv');
    const records = await collect(readCsv(path));
    assert.equal(records.length, 4);
    const ragged = records[1];
    assert.ok(ragged && 'problems' in ragged);
    assert.equal(ragged.position, 'ragged.csv:3');
    assert.equal(ragged.text, 'e2,u1,i2,6');
    assert.equal(ragged.problems.length, 1);
    assert.equal(ragged.problems[0]?.path, 'row');
    assert.equal(ragged.problems[0]?.message, 'has 4 cells but the header has 5 columns');
    assert.match(ragged.problems[0]?.fix ?? '', /one cell per header column \(event_id,user_id,item_id,ts,type\)/);
    assert.match(('problems' in records[2]! && records[2].problems[0]?.message) || '', /has 6 cells but the header has 5 columns/);
    assert.equal(records[2]?.position, 'ragged.csv:4');
    assert.deepEqual(records[3], { position: 'ragged.csv:5', raw: { event_id: 'e4', user_id: 'u1', item_id: 'i4', ts: 8, type: 'play' } });
  });

  test('quoting errors are reported: text after a closing quote, a quote never closed (that line alone; the lines after it are read on their own)', async () => {
    const records = await collect(readCsv(file('event_id,user_id,item_id,ts,type\n"e1"x,u1,i1,5,play\ne2,u1,i2,6,play\ne3,"u1,i3,7,play\ne4,u1,i4,8,play\r\ne5,u1,i5,9,play\n')));
    assert.equal(records.length, 5);
    assert.match(JSON.stringify(records[0]), /text after the closing quote/);
    assert.equal('raw' in records[1]! && (records[1].raw as { event_id: string }).event_id, 'e2');
    assert.ok(records[2] && 'problems' in records[2]);
    assert.equal(records[2].position.split(':')[1], '4');
    assert.match(records[2].problems[0]?.message ?? '', /opened on line 4 is never closed/);
    assert.equal(records[2].text, 'e3,"u1,i3,7,play');
    assert.deepEqual(records.slice(3).map((r) => [r.position.split(':')[1], 'raw' in r && (r.raw as { event_id: string }).event_id]), [['5', 'e4'], ['6', 'e5']]);
    // Two stray quotes pair up, as RFC 4180 reads them: one record from the first to the second (text after its closing quote).
    const twice = await collect(readCsv(file('event_id,user_id,item_id,ts,type\ne1,"u1,i1,5,play\ne2,u1,i2,6,play\ne3,"u1,i3,7,play\ne4,u1,i4,8,play\n')));
    assert.deepEqual(twice.map((r) => ('raw' in r ? (r.raw as { event_id: string }).event_id : `bad@${r.position.split(':')[1]}`)), ['bad@2', 'e4']);
  });

  test('a non-numeric value stays text so that validation names it; numbers become numbers', async () => {
    const [r] = await collect(readCsv(file('event_id,user_id,item_id,ts,type,value,duration\ne1,u1,i1,1714560000000,play,lots,-1.5e2\n')));
    assert.ok(r && 'raw' in r);
    assert.deepEqual(r.raw, { event_id: 'e1', user_id: 'u1', item_id: 'i1', ts: 1714560000000, type: 'play', value: 'lots', duration: -150 });
    const v = validate(r.raw);
    assert.equal(v.ok, false);
    assert.deepEqual(!v.ok && v.problems.map((p) => p.path), ['value', 'duration']);
  });

  test('--map renames columns, including to context.<key>; unknown and context.* columns go into context', async () => {
    const path = file('id,userId,movieId,timestamp,kind,rating,dev,context.session_id,page,context\nx1,7,42,1714560000000,rating,4,tv,s9,home,"{""country"":""SE"",""page"":""ignored""}"\n');
    const map = { id: 'event_id', userId: 'user_id', movieId: 'item_id', timestamp: 'ts', kind: 'type', rating: 'value', dev: 'context.device' };
    const [r] = await collect(readCsv(path, { map }));
    assert.ok(r && 'raw' in r);
    assert.deepEqual(r.raw, {
      event_id: 'x1',
      user_id: '7',
      item_id: '42',
      ts: 1714560000000,
      type: 'rating',
      value: 4,
      context: { country: 'SE', page: 'home', device: 'tv', session_id: 's9' },
    });
    assert.equal(validate(r.raw).ok, true);
  });

  test('a --map naming a missing column throws INVALID_ARGUMENT naming it and listing the columns', async () => {
    const path = file('event_id,user_id,item_id,ts,type\ne1,u1,i1,5,play\n');
    await assert.rejects(collect(readCsv(path, { map: { userid: 'user_id' } })), (e: unknown) => {
      assert.ok(e instanceof RecsignalError);
      assert.equal(e.code, 'INVALID_ARGUMENT');
      assert.match(e.message, /'userid'/);
      assert.match(e.message, /available: event_id, user_id, item_id, ts, type/);
      return true;
    });
    await assert.rejects(collect(readCsv(path, { map: { user_id: 'userid' } })), /'userid' is not an event field/);
  });

  test('whole-input errors: missing file, empty file, no header, duplicate columns, two columns to one field', async () => {
    await assert.rejects(collect(readCsv(join(dir, 'nope.csv'))), (e: unknown) => e instanceof RecsignalError && e.code === 'NOT_FOUND');
    await assert.rejects(collect(readCsv(file(''))), /is empty; a CSV needs a header row/);
    await assert.rejects(collect(readCsv(file('e1,u1,i1,5,play\n'))), /no column is an event field/);
    await assert.rejects(collect(readCsv(file('event_id,user_id,user_id\n'))), /names column 'user_id' twice/);
    await assert.rejects(
      collect(readCsv(file('event_id,user_id,uid,ts,type\n'), { map: { uid: 'user_id' } })),
      (e: unknown) => e instanceof RecsignalError && e.code === 'INVALID_ARGUMENT' && /'user_id' and 'uid' would both become user_id/.test(e.message),
    );
  });

  test('streams: a file larger than one read chunk gives every row once, in order', async () => {
    const rows = Array.from({ length: 20_000 }, (_, i) => `e${i},u${i % 7},"item, ${i}",${1714560000000 + i},play`);
    const records = await collect(readCsv(file(`event_id,user_id,item_id,ts,type\r\n${rows.join('\r\n')}\r\n`)));
    assert.equal(records.length, 20_000);
    assert.equal(records.every((r, i) => 'raw' in r && (r.raw as { event_id: string }).event_id === `e${i}` && r.position.endsWith(`:${i + 2}`)), true);
  });
});

describe('CsvParser', () => {
  const cellChar = fc.constantFrom('a', 'b', ',', '"', '\n', '\r', ' ', 'é', '😀');
  const cell = fc.array(cellChar, { maxLength: 6 }).map((cs) => cs.join(''));
  const row = fc.array(cell, { minLength: 1, maxLength: 4 });

  function serialize(cells: readonly string[]): string {
    return cells.map((c) => (/[,"\r\n]/.test(c) || (c === '' && cells.length === 1) ? `"${c.replaceAll('"', '""')}"` : c)).join(',');
  }
  const breaks = (s: string): number => s.split(/\r\n|\r|\n/).length - 1;

  test('any rows, any line ending, any chunking: the cells and start lines come back', () => {
    fc.assert(
      fc.property(fc.array(row, { minLength: 1, maxLength: 8 }), fc.constantFrom('\n', '\r\n'), fc.array(fc.nat(), { maxLength: 6 }), (rows, eol, cuts) => {
        const text = rows.map(serialize).join(eol) + eol;
        const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
        const parser = new CsvParser();
        const got = [];
        let from = 0;
        for (const p of [...points, text.length]) {
          got.push(...parser.push(text.slice(from, p)));
          from = p;
        }
        got.push(...parser.end());
        let line = 1;
        const expected = rows.map((cells) => {
          const at = line;
          line += breaks(serialize(cells)) + 1;
          return { line: at, cells: cells.map((c) => c.replaceAll('\r\n', '\n')), errors: [] };
        });
        assert.deepEqual(got.map((r) => ({ line: r.line, cells: r.cells, errors: r.errors })), expected);
        assert.deepEqual(got.map((r) => r.text), rows.map(serialize));
      }),
      { numRuns: 500 },
    );
  });
});
