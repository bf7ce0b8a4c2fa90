/**
 * @module The embedded online store: a Map in process memory, with a snapshot file so that a
 * restart keeps state. `open({ snapshotPath })` restores the last snapshot; `close()` writes one.
 */
import { RecsignalError } from '../../../core/errors.ts';
import type { OnlineStore, OnlineWrite } from '../online-store.ts';
import { readSnapshot, writeSnapshot, type SnapshotEntry } from './snapshot-file.ts';

/**
 * What V8 spends per entry besides the key's characters and the value's bytes (the Map slot, the
 * key string's header, the Uint8Array and its ArrayBuffer), measured on Node 20 x64 with
 * 500k entries. It dominates for small values: store few, larger values per entity.
 */
const ENTRY_OVERHEAD_BYTES = 280;

export interface MemoryStoreOptions {
  /** A file to restore from when present; `close()` writes it. Omit for a store that forgets on exit. */
  readonly snapshotPath?: string;
}

export class MemoryStore implements OnlineStore {
  readonly kind = 'memory';
  readonly snapshotPath: string | undefined;
  readonly #entries: Map<string, Uint8Array>;
  /** Wall-clock expiry (ms) of the keys written with a time-to-live. */
  readonly #expiry: Map<string, number>;
  /** When setMany next drops the expired keys nobody read (a read drops the ones it meets). */
  #sweepAt = 0;
  #bytes = 0;
  #closed = false;
  // Snapshots run one at a time, so renames land in the order they were asked for.
  #snapshotting: Promise<void> = Promise.resolve();

  private constructor(entries: Map<string, Uint8Array>, expiry: Map<string, number>, snapshotPath: string | undefined) {
    this.#entries = entries;
    this.#expiry = expiry;
    this.snapshotPath = snapshotPath;
    for (const [key, value] of entries) this.#bytes += entryBytes(key, value);
  }

  /** An empty store, or the state of `snapshotPath` when that file exists. */
  static async open(options: MemoryStoreOptions = {}): Promise<MemoryStore> {
    const restored = options.snapshotPath === undefined ? undefined : await readSnapshot(options.snapshotPath);
    const store = new MemoryStore(restored?.entries ?? new Map(), restored?.expiry ?? new Map(), options.snapshotPath);
    store.#sweep(Date.now());
    return store;
  }

  /** The number of keys held (the checkpoint included; expired keys until swept). */
  get size(): number {
    return this.#entries.size;
  }

  /** An estimate of the heap the entries take: key characters + value bytes + a fixed per-entry overhead. */
  get approximateBytes(): number {
    return this.#bytes;
  }

  async getMany(keys: readonly string[]): Promise<(Uint8Array | undefined)[]> {
    this.#checkOpen();
    const out = new Array<Uint8Array | undefined>(keys.length);
    const now = this.#expiry.size > 0 ? Date.now() : 0;
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string;
      out[i] = now > 0 && this.#expired(key, now) ? undefined : this.#entries.get(key);
    }
    return out;
  }

  async setMany(writes: readonly OnlineWrite[], checkpoint?: OnlineWrite): Promise<void> {
    this.#checkOpen();
    // Synchronous, so no read can see half of the writes.
    const now = Date.now();
    for (const w of writes) this.#apply(w, now);
    if (checkpoint !== undefined) this.#apply(checkpoint, now);
    if (this.#expiry.size > 0 && now >= this.#sweepAt) this.#sweep(now);
  }

  async deletePrefix(prefix: string): Promise<number> {
    this.#checkOpen();
    let deleted = 0;
    const now = Date.now();
    for (const key of [...this.#entries.keys()]) {
      if (!key.startsWith(prefix)) continue;
      // An expired key is gone already, as in Redis: not counted.
      if (!this.#expired(key, now)) deleted++;
      this.#drop(key);
    }
    return deleted;
  }

  async ping(): Promise<boolean> {
    return !this.#closed;
  }

  /**
   * Writes every entry (the checkpoint is one of them) to `path` (default: `snapshotPath`)
   * through a temporary file and a rename. The state written is the state when this is called;
   * writes made while it runs go to the next snapshot.
   */
  async snapshot(path: string | undefined = this.snapshotPath): Promise<void> {
    if (path === undefined) {
      throw new RecsignalError('INVALID_ARGUMENT', 'snapshot() needs a path: pass one, or open the store with MemoryStore.open({ snapshotPath })');
    }
    // Stored values are never changed in place (writes replace them), so copying the pairs is enough.
    const entries = Array.from(this.#entries, ([key, value]): SnapshotEntry => [key, value, this.#expiry.get(key)]);
    const run = this.#snapshotting.then(() => writeSnapshot(path, entries));
    this.#snapshotting = run.catch(() => {});
    return run;
  }

  /**
   * Snapshots to `snapshotPath` when one was given; the store refuses reads and writes from the
   * call on (a write while the snapshot was written was accepted and then lost). If the snapshot
   * fails, the store stays open, so the caller can try again.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.snapshotPath === undefined) return;
    try {
      await this.snapshot();
    } catch (e) {
      this.#closed = false;
      throw e;
    }
  }

  #apply(w: OnlineWrite, now: number): void {
    if (w.value === null) {
      this.#drop(w.key);
      return;
    }
    const old = this.#entries.get(w.key);
    if (old !== undefined) this.#bytes -= entryBytes(w.key, old);
    // A copy: the caller may reuse its buffer, and a Buffer may be a view into a larger pool.
    const value = new Uint8Array(w.value);
    this.#entries.set(w.key, value);
    this.#bytes += entryBytes(w.key, value);
    if (w.ttlMs !== undefined) this.#expiry.set(w.key, now + Math.max(1, w.ttlMs));
    else this.#expiry.delete(w.key);
  }

  #drop(key: string): void {
    const old = this.#entries.get(key);
    if (old === undefined) return;
    this.#bytes -= entryBytes(key, old);
    this.#entries.delete(key);
    this.#expiry.delete(key);
  }

  /** Drops the key when it has expired by `now` (as Redis does on access). */
  #expired(key: string, now: number): boolean {
    const at = this.#expiry.get(key);
    if (at === undefined || at > now) return false;
    this.#drop(key);
    return true;
  }

  /** Drops every expired key; at most once a minute from setMany, so the walk is amortised over the writes. */
  #sweep(now: number): void {
    for (const [key, at] of this.#expiry) if (at <= now) this.#drop(key);
    this.#sweepAt = now + SWEEP_EVERY_MS;
  }

  #checkOpen(): void {
    if (this.#closed) throw new RecsignalError('IO_FAILED', 'the memory online store is closed; open a new one with MemoryStore.open()');
  }
}

const SWEEP_EVERY_MS = 60_000;

function entryBytes(key: string, value: Uint8Array): number {
  return ENTRY_OVERHEAD_BYTES + key.length + value.byteLength;
}
