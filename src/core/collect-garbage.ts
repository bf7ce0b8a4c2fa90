/**
 * @module A full, compacting garbage collection on demand, for the one moment a server knows the
 * heap is mostly garbage: the end of a bulk load (the replay of the event log into the online state).
 *
 * Why collect: a replay of the bench's world (889,141 events, in a scratch loop that also kept the
 * events) left a 1.32 GB heap, ~0.8 GB of it the replay's garbage: V8's last major collection had run
 * mid-replay, and none ran during the 6,000 requests measured next. Each young-generation
 * collection in them paused 18.6–22.8 ms on average; after one full collection (1.32 → 0.52 GB, 1.5 s,
 * once) the same requests' paused 11.5–13 ms (three interleaved pairs, 2026-12-07; V8's own phase
 * times: the parallel scavenge 10.2 → 5.0 ms for the same 1.2 MB promoted).
 *
 * Why compact: a plain full collection frees the garbage but keeps the pages it lay on. After the
 * bench's replay the old space stayed at 1.23 GB committed for 0.51 GB live (~4,900 pages of 256 KB,
 * 60% free), and every young-generation collection walks the old generation's page list to find
 * the pages that point into the young one: one cache miss per page, ~3 of a scavenge's ~6 ms there
 * (`perf annotate` of `ScavengerCollector::CollectGarbage`, 2026-12-08). With V8's
 * `--compact-on-every-full-gc` on for this one collection, the live objects are moved onto as few
 * pages as they fill and the rest are released: old space 1.23 GB → 0.52 GB committed, scavenges
 * 6.1 → 4.0–4.3 ms on average (two interleaved pairs on an Intel Xeon), the collection itself
 * 0.6 → 1.7–2.0 s, once.
 *
 * How: `gc` is only a global under `node --expose-gc`; the flag is turned on for as long as it takes
 * to fetch the function from a fresh context, then off again (Jest's leak detector does the same).
 * Both flags are V8's own and read when used, so setting them around the call scopes them to it.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export function collectGarbage(): void {
  let gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) {
    setFlagsFromString('--expose-gc');
    try {
      gc = runInNewContext('gc') as () => void;
    } finally {
      setFlagsFromString('--no-expose-gc');
    }
  }
  setFlagsFromString('--compact-on-every-full-gc');
  try {
    gc();
  } finally {
    setFlagsFromString('--no-compact-on-every-full-gc');
  }
}
