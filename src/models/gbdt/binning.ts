/**
 * @module Quantile binning of one feature: the upper bound of each value bin, found from a sample of
 * its values (distinct values each get a bin when they fit, otherwise bins of about equal count). A
 * value goes to the first bin whose upper bound is >= it, so `value <= upper[t]` is exactly
 * `bin <= t` and a split found on bins is replayed on raw values with no lookup table. Missing
 * values (NaN) get the bin after the last value bin.
 */

/** Upper bounds of the value bins of one feature, ascending; the last is +Infinity. */
export function findBinUpperBounds(sorted: Float64Array, maxValueBins: number): Float64Array {
  const n = sorted.length;
  let distinct = n === 0 ? 0 : 1;
  for (let i = 1; i < n; i++) if (sorted[i] !== sorted[i - 1]) distinct++;
  const upper: number[] = [];
  if (distinct <= maxValueBins) {
    for (let i = 1; i < n; i++) if (sorted[i] !== sorted[i - 1]) upper.push(between(sorted[i - 1]!, sorted[i]!));
  } else {
    // Greedy equal-count bins over runs of equal values; a run heavier than a bin's share gets a bin of its own.
    let remaining = n;
    let binsLeft = maxValueBins;
    let acc = 0;
    let i = 0;
    while (i < n && binsLeft > 1) {
      const runEnd = endOfRun(sorted, i);
      if (runEnd === n) break;
      acc += runEnd - i;
      const target = remaining / binsLeft;
      const nextRun = endOfRun(sorted, runEnd) - runEnd;
      if (acc >= target || nextRun >= target) {
        upper.push(between(sorted[runEnd - 1]!, sorted[runEnd]!));
        remaining -= acc;
        binsLeft--;
        acc = 0;
      }
      i = runEnd;
    }
  }
  upper.push(Infinity);
  return Float64Array.from(upper);
}

function endOfRun(sorted: Float64Array, i: number): number {
  const v = sorted[i];
  let j = i + 1;
  while (j < sorted.length && sorted[j] === v) j++;
  return j;
}

/** A bound b with a <= b < b's right neighbour, near the midpoint (a/2 + b/2 cannot overflow). */
function between(a: number, b: number): number {
  const m = a / 2 + b / 2;
  return m >= a && m < b ? m : a;
}

/** The value bin of a non-missing value: the first bin whose upper bound is >= it. */
export function valueToBin(upper: Float64Array, v: number): number {
  let lo = 0;
  let hi = upper.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (v <= upper[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
