import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { stateKey } from '../../store/online/online-store.ts';
import { KEY_SEPARATOR } from './engine.ts';
import { stateKeys } from './store-backed.ts';

test("a view's store key is stateKey's text, for key values with and without the characters it escapes", () => {
  // The view keys are built by a shortcut (a prefix per view); state written by an older build must
  // still be found, so the text has to be exactly stateKey's.
  const value = fc.string({ unit: fc.constantFrom('a', 'b', '7', '|', '}', '\\', '{', ':', 'é'), maxLength: 6 });
  fc.assert(
    fc.property(fc.constantFrom('ns', 'rs:abc'), fc.constantFrom('user_plays', 'pair×view'), fc.array(value, { minLength: 1, maxLength: 3 }), (ns, view, values) => {
      const k = stateKeys(ns);
      const key = values.join(KEY_SEPARATOR);
      const expected = stateKey(ns, `view:${view}`, values, 'state');
      assert.equal(k.view(view, key), expected);
      assert.equal(k.view(view, key), expected, 'the second call, from the kept prefix');
    }),
    { numRuns: 500 },
  );
});
