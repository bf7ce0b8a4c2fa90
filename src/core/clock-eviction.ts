/**
 * @module CLOCK eviction over a Map kept in insertion order (oldest first): an entry read since it
 * was kept or last passed over (`used`) gets a second chance at the end; the others leave, oldest
 * first, until the cache is within its budget. Close to least-recently-used, but a hit costs a flag
 * instead of moving the entry (which measured ~1.4 µs a key on the serving read path).
 */
export function evictClock<K, E extends { used: boolean }>(entries: Map<K, E>, over: () => boolean, evicted: (key: K, entry: E) => void): void {
  for (const [key, e] of entries) {
    if (!over()) break;
    entries.delete(key);
    if (e.used) {
      e.used = false;
      entries.set(key, e);
    } else evicted(key, e);
  }
}
