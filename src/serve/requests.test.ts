import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RecsignalError } from '../core/errors.ts';
import { eventItems, MAX_EVENTS_PER_BATCH, parseNdjson } from './requests.ts';

test('POST /v1/events: a batch over the cap is refused whole, naming the cap and the way out', () => {
  assert.equal(eventItems(Array.from({ length: MAX_EVENTS_PER_BATCH }, () => ({}))).length, MAX_EVENTS_PER_BATCH);
  for (const body of [Array.from({ length: MAX_EVENTS_PER_BATCH + 1 }, () => ({})), parseNdjson('{}\n'.repeat(MAX_EVENTS_PER_BATCH + 1))]) {
    assert.throws(() => eventItems(body), (e: unknown) => {
      assert.ok(e instanceof RecsignalError && e.code === 'INVALID_INPUT');
      assert.match(e.message, /50001 events in one batch, more than 50,000/);
      assert.match(e.message, /split it into batches of at most 50,000 events \(nothing of this one was applied\)/);
      return true;
    });
  }
});
