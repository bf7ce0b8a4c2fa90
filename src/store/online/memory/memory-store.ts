/**
 * @module The embedded online store: a Map in process memory, with a snapshot file so that a
 * restart keeps state. `open({ snapshotPath })` restores the last snapshot; `close()` writes one.
 */
import { RecsignalError } from '../../../core/errors.ts';
import type { OnlineStore, OnlineWrite } from '../online-store.ts';
import { readSnapshot, writeSnapshot } from './snapshot-file.ts';

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
  #bytes = 0;
  #closed = false;
  // Snapshots run one at a time, so renames land in the order they were asked for.
  #snapshotting: Promise<void> = Promise.resolve();

  private constructor(entries: Map<string, Uint8Array>, snapshotPath: string | undefined) {
    this.#entries = entries;
    this.snapshotPath = snapshotPath;
    for (const [key, value] of entries) this.#bytes += entryBytes(key, value);
  }

  /** An empty store, or the state of `snapshotPath` when that file exists. */
  static async open(options: MemoryStoreOptions = {}): Promise<MemoryStore> {
    const restored = options.snapshotPath === undefined ? undefined : await readSnapshot(options.snapshotPath);
    return new MemoryStore(restored ?? new Map(), options.snapshotPath);
  }

  /** The number of keys held (the checkpoint included). */
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
    for (let i = 0; i < keys.length; i++) out[i] = this.#entries.get(keys[i] as string);
    return out;
  }

  async setMany(writes: readonly OnlineWrite[], checkpoint?: OnlineWrite): Promise<void> {
    this.#checkOpen();
    // Synchronous, so no read can see half of the writes.
    for (const w of writes) this.#apply(w);
    if (checkpoint !== undefined) this.#apply(checkpoint);
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
    const entries = Array.from(this.#entries);
    const run = this.#snapshotting.then(() => writeSnapshot(path, entries));
    this.#snapshotting = run.catch(() => {});
    return run;
  }

  /** Snapshots to `snapshotPath` when one was given; the store refuses reads and writes after. */
  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.snapshotPath !== undefined) await this.snapshot();
    this.#closed = true;
  }

  #apply(w: OnlineWrite): void {
    const old = this.#entries.get(w.key);
    if (old !== undefined) this.#bytes -= entryBytes(w.key, old);
    if (w.value === null) {
      this.#entries.delete(w.key);
      return;
    }
    // A copy: the caller may reuse its buffer, and a Buffer may be a view into a larger pool.
    const value = new Uint8Array(w.value);
    this.#entries.set(w.key, value);
    this.#bytes += entryBytes(w.key, value);
  }

  #checkOpen(): void {
    if (this.#closed) throw new RecsignalError('IO_FAILED', 'the memory online store is closed; open a new one with MemoryStore.open()');
  }
}

function entryBytes(key: string, value: Uint8Array): number {
  return ENTRY_OVERHEAD_BYTES + key.length + value.byteLength;
}
