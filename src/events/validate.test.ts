import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createEventValidator } from './validate.ts';

const NOW = Date.UTC(2024, 0, 1);
const ok = { event_id: 'e1', user_id: 'u1', item_id: 'i1', ts: NOW - 1000, type: 'play', context: { device: 'tv' } };

test('ids and context values may not hold the NUL that joins composite keys: "a\\0b" × "c" would be "a" × "b\\0c"', () => {
  const validate = createEventValidator({ now: NOW });
  assert.equal(validate(ok).ok, true);
  for (const [raw, path] of [
    [{ ...ok, user_id: 'a\u0000b' }, 'user_id'],
    [{ ...ok, item_id: 'b\u0000c' }, 'item_id'],
    [{ ...ok, event_id: 'e\u0000' }, 'event_id'],
    [{ ...ok, context: { device: 'b\u0000tv' } }, 'context.device'],
    [{ ...ok, context: { daypart: 'x\u0000' } }, 'context.daypart'],
  ] as const) {
    const r = validate(raw);
    assert.equal(r.ok, false, path);
    if (!r.ok) assert.deepEqual(r.problems.map((p) => p.path), [path]);
  }
});

test('an event further ahead of now than the limit is refused, saying by how much and as of when', () => {
  const validate = createEventValidator({ now: NOW, maxFutureMs: 60_000 });
  assert.equal(validate({ ...ok, ts: NOW + 60_000 }).ok, true);
  const r = validate({ ...ok, ts: NOW + 60_001 });
  assert.equal(r.ok, false);
  if (!r.ok) assert.match(r.problems[0]?.message ?? '', /in the future: more than 1m past now \(2024-01-01T00:00:00/);
});

test('an ISO time on a day that does not exist is refused, not rolled over (2024-02-30 is not March 1st)', () => {
  const validate = createEventValidator({ now: Date.UTC(2025, 0, 1) });
  assert.equal(validate({ ...ok, ts: '2024-02-29T00:00:00Z' }).ok, true, 'a leap day');
  for (const ts of ['2024-02-30T00:00:00Z', '2023-02-29T12:00:00+02:00', '2024-13-01T00:00:00Z', '2024-04-31 08:00:00Z']) {
    const r = validate({ ...ok, ts });
    assert.equal(r.ok, false, ts);
    if (!r.ok) assert.equal(r.problems[0]?.path, 'ts');
  }
});

test('a time in seconds is refused, saying what to send; ISO text and real milliseconds are not judged', () => {
  const validate = createEventValidator({ now: Date.UTC(2025, 0, 1) });
  const r = validate({ ...ok, ts: 1714560000 });
  assert.equal(r.ok, false);
  if (!r.ok) assert.match(r.problems[0]?.fix ?? '', /send 1714560000000 \(seconds × 1000\)/);
  assert.equal(validate({ ...ok, ts: '1714560000' }).ok, false, 'digits as text too');
  assert.equal(validate({ ...ok, ts: 1714560000000 }).ok, true);
  assert.equal(validate({ ...ok, ts: '1970-01-01T00:00:05Z' }).ok, true, 'ISO text carries its unit');
  // 99999999999 × 1000 is the year 5138: not a fix to offer.
  const neither = validate({ ...ok, ts: 99_999_999_999 });
  assert.equal(neither.ok, false);
  if (!neither.ok) {
    assert.match(neither.problems[0]?.message ?? '', /too early for an event, and too late as seconds/);
    assert.doesNotMatch(neither.problems[0]?.fix ?? '', /99999999999000/);
  }
});

test('a value or duration beyond ±1e12 is refused, naming the field: at 1e308 two events summed to Infinity, served as null', () => {
  const validate = createEventValidator({ now: NOW });
  assert.equal(validate({ ...ok, type: 'rating', value: 1e12 }).ok, true);
  assert.equal(validate({ ...ok, type: 'rating', value: -1e12 }).ok, true);
  assert.equal(validate({ ...ok, duration: 5400 }).ok, true);
  for (const [raw, path] of [
    [{ ...ok, type: 'rating', value: 1e308 }, 'value'],
    [{ ...ok, type: 'rating', value: -1.0000001e12 }, 'value'],
    [{ ...ok, duration: 1e13 }, 'duration'],
  ] as const) {
    const r = validate(raw);
    assert.equal(r.ok, false, path);
    if (!r.ok) {
      assert.deepEqual(r.problems.map((p) => p.path), [path]);
      assert.match(r.problems[0]?.message ?? '', /beyond the ±1e12/);
    }
  }
});

test('an id or context value with a lone surrogate is refused: UTF-8 would turn "u\\ud800" and "u\\udc00" into one user', () => {
  const validate = createEventValidator({ now: NOW });
  assert.equal(validate({ ...ok, user_id: 'u😀' }).ok, true, 'a surrogate pair is text');
  for (const [raw, path] of [
    [{ ...ok, user_id: 'u\ud800' }, 'user_id'],
    [{ ...ok, item_id: '\udc00i' }, 'item_id'],
    [{ ...ok, event_id: 'e\ud800' }, 'event_id'],
    [{ ...ok, context: { device: 'tv\udfff' } }, 'context.device'],
  ] as const) {
    const r = validate(raw);
    assert.equal(r.ok, false, path);
    if (!r.ok) assert.deepEqual(r.problems.map((p) => p.path), [path]);
  }
});

test('an id of white space only is refused: " " and "\\t" are not ids', () => {
  const validate = createEventValidator({ now: NOW });
  assert.equal(validate({ ...ok, user_id: ' u1 ' }).ok, true, 'spaces around an id are kept as they are');
  for (const [raw, path] of [
    [{ ...ok, user_id: '  ' }, 'user_id'],
    [{ ...ok, item_id: '\t' }, 'item_id'],
    [{ ...ok, event_id: ' \n' }, 'event_id'],
  ] as const) {
    const r = validate(raw);
    assert.equal(r.ok, false, path);
    if (!r.ok) {
      assert.deepEqual(r.problems.map((p) => p.path), [path]);
      assert.match(r.problems[0]?.message ?? '', /white space/);
    }
  }
});

test('context is bounded: a value over 4,096 characters, a key over 512, more than 64 keys are refused, naming the field', () => {
  const validate = createEventValidator({ now: NOW });
  assert.equal(validate({ ...ok, context: { query: 'q'.repeat(4096) } }).ok, true);
  const long = validate({ ...ok, context: { blob: 'x'.repeat(4097) } });
  assert.equal(long.ok, false);
  if (!long.ok) assert.deepEqual(long.problems.map((p) => [p.path, p.message]), [['context.blob', 'is 4097 characters long']]);
  const many = validate({ ...ok, context: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v'])) });
  assert.equal(many.ok, false);
  if (!many.ok) assert.equal(many.problems[0]?.path, 'context');
  const key = validate({ ...ok, context: { ['k'.repeat(513)]: 'v' } });
  assert.equal(key.ok, false);
});
