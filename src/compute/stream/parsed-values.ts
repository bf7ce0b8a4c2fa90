/**
 * @module Stored JSON values parsed (and decoded) once per distinct text. A serving read fetches
 * the state of a user and of every candidate item; most of those keys read the same as last time
 * (an item's state changes only when one of its events is applied), and parsing them was most of
 * a read's cost. The store (or its tracked cache, which Redis keeps fresh) is still asked every
 * time: a value is reused only when the text it returns now is the very text that was parsed, so
 * what is served is always what the store holds.
 * Written here because it is a few lines over a Map evicting by CLOCK; no library fits a content check.
 */
import { evictClock } from '../../core/clock-eviction.ts';

export class ParsedValues {
  /** Oldest first; `used`: read since it was kept or last passed over (CLOCK's second chance). */
  private readonly entries = new Map<string, { readonly text: string; readonly value: unknown; used: boolean }>();
  private chars = 0;
  hits = 0;
  misses = 0;

  /** @param capacityChars the stored text kept, in characters (the parsed values are a few times that in memory) */
  constructor(private readonly capacityChars: number) {}

  /**
   * The value of `text` stored under `key`, through `decode` (a key's decoding must not change
   * between calls): the one kept from a read of the same text, else a new one. The value is shared
   * between reads: callers must not change it.
   */
  parse(key: string, text: string, decode: (json: unknown) => unknown = (json) => json): unknown {
    const kept = this.entries.get(key);
    if (kept !== undefined) {
      // A hit is only marked (moving it in the Map cost ~1.4 µs a key, on hundreds of keys a request);
      // eviction gives marked entries a second chance (CLOCK), close to least-recently-read first.
      if (kept.text === text) {
        this.hits++;
        kept.used = true;
        return kept.value;
      }
      this.entries.delete(key);
      this.chars -= kept.text.length;
    }
    this.misses++;
    const value = decode(JSON.parse(text));
    if (text.length <= this.capacityChars) {
      this.entries.set(key, { text, value, used: false });
      this.chars += text.length;
      evictClock(this.entries, () => this.chars > this.capacityChars, (_, e) => (this.chars -= e.text.length));
    }
    return value;
  }

  get size(): number {
    return this.entries.size;
  }
}
