/**
 * @module The memory store's snapshot file: a length-prefixed binary dump of every entry, written to
 * a temporary file, synced and renamed over the old one, so a crash mid-write leaves the previous
 * snapshot whole.
 *
 *   "RSONLINE" (8 bytes) · version u32 LE (2) · entry count u32 LE
 *   per entry: key length u32 LE · key UTF-8 · value length u32 LE · value bytes · expiry f64 LE
 *   CRC-32 u32 LE of every byte before it
 *   "RSEND\0\0\0" (8 bytes)
 *
 * The expiry is the wall-clock time (ms) the key is dropped at, 0 for none. The checksum catches
 * damage that keeps every length intact (a changed digit inside a value read back silently). Version
 * 1 files (no expiry, no checksum) are still read.
 */
import { open, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import { randomBytes } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { RecsignalError } from '../../../core/errors.ts';

const MAGIC = Buffer.from('RSONLINE', 'latin1');
const END = Buffer.from('RSEND\0\0\0', 'latin1');
const VERSION = 2;
const CHUNK = 1 << 20;

/** One entry: key, value, and the wall-clock time (ms) it expires at, when it does. */
export type SnapshotEntry = readonly [key: string, value: Uint8Array, expiresAt?: number | undefined];

/**
 * Writes `entries` to `path` atomically. The entries array must not change while this runs (the
 * memory store passes a copy of its map's pairs; values are never mutated in place).
 */
export async function writeSnapshot(path: string, entries: readonly SnapshotEntry[]): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const file = await open(temp, 'w');
    try {
      const buf = Buffer.allocUnsafe(CHUNK);
      let at = 0;
      let crc = 0;
      const flush = async (): Promise<void> => {
        if (at > 0) {
          crc = crc32(buf.subarray(0, at), crc);
          await file.write(buf, 0, at);
        }
        at = 0;
      };
      const room = async (n: number): Promise<void> => {
        if (at + n > CHUNK) await flush();
      };
      MAGIC.copy(buf, 0);
      buf.writeUInt32LE(VERSION, 8);
      buf.writeUInt32LE(entries.length, 12);
      at = 16;
      for (const [key, value, expiresAt] of entries) {
        const keyLength = Buffer.byteLength(key, 'utf8');
        if (8 + keyLength > CHUNK) throw new RecsignalError('INVALID_ARGUMENT', `a key of ${keyLength} bytes is too long to snapshot; keep keys under 1 MiB`);
        await room(8 + keyLength);
        buf.writeUInt32LE(keyLength, at);
        at += 4;
        at += buf.write(key, at, 'utf8');
        buf.writeUInt32LE(value.byteLength, at);
        at += 4;
        if (value.byteLength > CHUNK / 4) {
          await flush();
          crc = crc32(value, crc);
          await file.write(value, 0, value.byteLength);
        } else {
          await room(value.byteLength);
          buf.set(value, at);
          at += value.byteLength;
        }
        await room(8);
        buf.writeDoubleLE(expiresAt ?? 0, at);
        at += 8;
      }
      await flush();
      buf.writeUInt32LE(crc >>> 0, 0);
      END.copy(buf, 4);
      await file.write(buf, 0, 4 + END.length);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, path);
    await syncDir(dirname(path));
  } catch (e) {
    await rm(temp, { force: true }).catch(() => {});
    if (e instanceof RecsignalError) throw e;
    throw new RecsignalError('IO_FAILED', `could not write the online store snapshot ${path}: ${(e as Error).message}; check that its folder exists and is writable and that the disk has room`, { cause: e });
  }
}

/** A snapshot read back: the entries, and the expiry times of those that have one. */
export interface Snapshot {
  readonly entries: Map<string, Uint8Array>;
  readonly expiry: Map<string, number>;
}

/** Reads a snapshot; undefined when the file does not exist. Throws IO_FAILED on a damaged file. */
export async function readSnapshot(path: string): Promise<Snapshot | undefined> {
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new RecsignalError('IO_FAILED', `could not read the online store snapshot ${path}: ${(e as Error).message}; check its permissions`, { cause: e });
  }
  const damaged = (what: string): RecsignalError =>
    new RecsignalError('IO_FAILED', `the online store snapshot ${path} is damaged (${what}); restore it from a backup, or delete it to start with an empty store`);
  if (data.length < 16 + END.length || !data.subarray(0, 8).equals(MAGIC)) throw damaged('not a recsignal online snapshot');
  const version = data.readUInt32LE(8);
  if (version !== VERSION && version !== 1) throw damaged(`format version ${version}, this build reads 1 and ${VERSION}`);
  const tail = version === 1 ? 0 : 8;
  const count = data.readUInt32LE(12);
  const entries = new Map<string, Uint8Array>();
  const expiry = new Map<string, number>();
  const end = data.length - END.length - (version === 1 ? 0 : 4);
  if (version !== 1) {
    if (end < 16 || !data.subarray(data.length - END.length).equals(END)) throw damaged("cut off: it lacks the end marker");
    if ((crc32(data.subarray(0, end)) >>> 0) !== data.readUInt32LE(end)) throw damaged('its checksum does not match its content');
  }
  let at = 16;
  for (let i = 0; i < count; i++) {
    if (at + 4 > end) throw damaged(`cut off at entry ${i} of ${count}`);
    const keyLength = data.readUInt32LE(at);
    at += 4;
    if (at + keyLength + 4 > end) throw damaged(`cut off at entry ${i} of ${count}`);
    const key = data.toString('utf8', at, at + keyLength);
    at += keyLength;
    const valueLength = data.readUInt32LE(at);
    at += 4;
    if (at + valueLength + tail > end) throw damaged(`cut off at entry ${i} of ${count}`);
    // A copy, so that the file's buffer is freed once read.
    const value = new Uint8Array(valueLength);
    value.set(data.subarray(at, at + valueLength));
    at += valueLength;
    entries.set(key, value);
    if (tail > 0) {
      const expiresAt = data.readDoubleLE(at);
      at += tail;
      if (!Number.isFinite(expiresAt) || expiresAt < 0) throw damaged(`entry ${i} expires at ${expiresAt}`);
      if (expiresAt !== 0) expiry.set(key, expiresAt);
    }
  }
  if (at !== end || !data.subarray(data.length - END.length).equals(END)) throw damaged(`${end - at} unexpected bytes after ${count} entries`);
  return { entries, expiry };
}

async function syncDir(dir: string): Promise<void> {
  // Makes the rename durable; some file systems cannot sync a folder, which only weakens durability.
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    /* best effort */
  }
}
