/**
 * @module A full garbage collection on demand, for the one moment a server knows the heap is mostly
 * garbage: the end of a bulk load (the replay of the event log into the online state).
 *
 * Why: a replay of the bench's world (889,141 events, in a scratch loop that also kept the events)
 * left a 1.32 GB heap, ~0.8 GB of it the replay's garbage: V8's last major collection had run
 * mid-replay, and none ran during the 6,000 requests measured next. Each young-generation
 * collection in them paused 18.6–22.8 ms on average; after one full collection (1.32 → 0.52 GB, 1.5 s,
 * once) the same requests' paused 11.5–13 ms (three interleaved pairs, 2026-12-07; V8's own phase
 * times: the parallel scavenge 10.2 → 5.0 ms for the same 1.2 MB promoted).
 *
 * How: `gc` is only a global under `node --expose-gc`; the flag is turned on for as long as it takes
 * to fetch the function from a fresh context, then off again (Jest's leak detector does the same).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export function collectGarbage(): void {
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed !== undefined) return exposed();
  setFlagsFromString('--expose-gc');
  try {
    (runInNewContext('gc') as () => void)();
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
}
