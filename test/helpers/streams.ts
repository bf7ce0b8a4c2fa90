/** Generated event streams for the differential tests: times cluster on window, hop and timeout edges. */
import fc from 'fast-check';
import type { InteractionEvent, ItemMetadata } from '../../src/events/schema.ts';

export const HOUR = 3_600_000;
export const BASE = Date.UTC(2024, 0, 1); // a Monday, at a day/hour/hop boundary
export const YEARS = 5 * 365 * 24 * HOUR;

export const items: ItemMetadata[] = [
  { itemId: 'i0', title: 'A', year: 2001, genres: ['drama', 'comedy'], releaseTs: BASE - HOUR, duration: 1000 },
  { itemId: 'i1', title: 'B', year: 2010, genres: ['action'], releaseTs: BASE, duration: 3600 },
  { itemId: 'i2', title: 'C', year: null, genres: [], releaseTs: null, duration: null },
  // i3 has no metadata at all.
];

/** Times cluster on boundaries (hops, hours, days, the 10-minute negative timeout) so edges get hit. */
export const offset = fc.oneof(
  fc.integer({ min: 0, max: 8 }).map((k) => k * 30 * 60_000),
  fc.tuple(fc.integer({ min: 0, max: 8 }), fc.constantFrom(-1, 1)).map(([k, d]) => k * 30 * 60_000 + d),
  fc.integer({ min: 0, max: 6 * HOUR }),
  fc.integer({ min: 0, max: 30 }).map((k) => k * 10 * 60_000),
  fc.constant(YEARS),
  fc.integer({ min: 0, max: 3 * 24 * HOUR }),
);

export const eventArb = fc.record({
  user: fc.constantFrom('u0', 'u1', 'u2'),
  item: fc.constantFrom('i0', 'i1', 'i2', 'i3'),
  type: fc.constantFrom('impression', 'play', 'pause', 'complete', 'skip', 'add_to_list', 'search'),
  off: offset,
  value: fc.option(fc.integer({ min: 0, max: 4000 }), { nil: null }),
  duration: fc.option(fc.constantFrom(1000, 3600), { nil: null }),
  device: fc.option(fc.constantFrom('tv', 'mobile'), { nil: null }),
});

export const queryArb = (raw: readonly { off: number }[]) =>
  fc.record({
    user: fc.constantFrom('u0', 'u1', 'u2', 'u9'),
    item: fc.constantFrom('i0', 'i1', 'i3', 'i9'),
    device: fc.constantFrom('tv', 'mobile'),
    off: fc.oneof(offset, raw.length > 0 ? fc.constantFrom(...raw.map((e) => e.off)) : offset),
  });

export function toEvent(e: { user: string; item: string; type: string; off: number; value: number | null; duration: number | null; device: string | null }, i: number): InteractionEvent {
  return {
    eventId: `e${i}`,
    userId: e.user,
    itemId: e.type === 'search' ? null : e.item,
    ts: BASE + e.off,
    type: e.type,
    value: e.value,
    duration: e.duration,
    context: e.device === null ? {} : { device: e.device },
  };
}

/** fast-check keeps the failing assertion in `cause`, which the test reporter does not print. */
export async function assertProperty(run: () => Promise<void> | void): Promise<void> {
  try {
    await run();
  } catch (e) {
    const cause = (e as Error & { cause?: unknown }).cause;
    throw new Error(`${(e as Error).message}\n${cause instanceof Error ? cause.message : String(cause)}`);
  }
}

/**
 * Runs of a differential property. Seeds are random (each CI run explores new streams; fast-check
 * prints the seed and path of a failure, and DIFF_SEED replays it). Shrinking is capped in time:
 * a run of the batch engine takes about a second, and shrinking a failure can take thousands of
 * runs, so an uncapped shrink once held CI past its limit. After DIFF_TIME_LIMIT_MS (default
 * 6 minutes) no further run starts and the failure is reported with the smallest case found so far;
 * DIFF_END_ON_FAILURE=1 reports the first failing case without shrinking (for long searches).
 */
export const runs = (fallback: number) => ({
  numRuns: Number(process.env['DIFF_RUNS'] ?? fallback),
  ...(process.env['DIFF_SEED'] ? { seed: Number(process.env['DIFF_SEED']) } : {}),
  ...(process.env['DIFF_PATH'] ? { path: process.env['DIFF_PATH'] } : {}),
  skipAllAfterTimeLimit: Number(process.env['DIFF_TIME_LIMIT_MS'] ?? 6 * 60_000),
  endOnFailure: process.env['DIFF_END_ON_FAILURE'] === '1',
});
