/** Equality of feature rows across engines: exact for integers, strings and lists; 1e-9 relative for floats. */
import assert from 'node:assert/strict';
import type { FeatureValue } from '../../src/features/ir.ts';

const REL = 1e-9;

export function closeEnough(a: number, b: number): boolean {
  if (a === b) return true;
  const scale = Math.max(Math.abs(a), Math.abs(b));
  // Sums of terms that cancel to zero leave rounding noise: judge those against the unit scale.
  return Math.abs(a - b) <= REL * Math.max(scale, 1e-300) || Math.abs(a - b) < 1e-12;
}

export function valuesEqual(a: FeatureValue | undefined, b: FeatureValue | undefined): boolean {
  if (a === undefined) a = null;
  if (b === undefined) b = null;
  if (typeof a === 'number' && typeof b === 'number') return closeEnough(a, b);
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => x === b[i]);
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const ka = Object.keys(a).sort();
    const kb = Object.keys(b).sort();
    return ka.length === kb.length && ka.every((k, i) => k === kb[i] && closeEnough((a as Record<string, number>)[k] as number, (b as Record<string, number>)[k] as number));
  }
  return a === b;
}

export function assertFeatureRowsEqual(actual: FeatureValue[][], expected: FeatureValue[][], columns: readonly string[], queries: readonly unknown[]): void {
  assert.equal(actual.length, expected.length, 'row count');
  const diffs: string[] = [];
  expected.forEach((row, r) => {
    row.forEach((want, c) => {
      const got = actual[r]?.[c];
      if (!valuesEqual(got, want)) diffs.push(`row ${r} ${JSON.stringify(queries[r])} ${columns[c]}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
    });
  });
  assert.deepEqual(diffs.slice(0, 20), [], `${diffs.length} mismatches`);
}
