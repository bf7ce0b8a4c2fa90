/**
 * @module Lock files shared by processes on one folder: a file created exclusively (O_EXCL) that
 * names its holder (pid, host, since, and the real path of the folder it was taken for). A lock
 * whose process is gone (a SIGKILL), unreadable (cut by a crash), or taken for another folder (copied
 * along with it) is stale: the next taker removes it. A holder on another host cannot be checked.
 */
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';

export interface LockHolder {
  readonly pid: number;
  readonly host: string;
  readonly since: string;
  /** The folder it was taken for: a lock copied with its folder (cp -r) is not the copy's. */
  readonly dir: string;
}

export function holderHere(dir: string): LockHolder {
  return { pid: process.pid, host: hostname(), since: new Date().toISOString(), dir };
}

/** Creates the lock file for `me`; false when it exists already. Other failures (a folder that cannot be written) throw. */
export function tryCreateLock(path: string, me: LockHolder): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  try {
    writeSync(fd, `${JSON.stringify(me)}\n`);
  } finally {
    closeSync(fd);
  }
  return true;
}

export function readLockHolder(path: string): LockHolder | null {
  try {
    const h = JSON.parse(readFileSync(path, 'utf8')) as LockHolder;
    return Number.isInteger(h.pid) && typeof h.host === 'string' && typeof h.dir === 'string' ? h : null;
  } catch {
    return null;
  }
}

/**
 * Whether `other` need not be respected by `me`: unreadable, taken for another folder, or held on
 * this host by a process that is gone. `ownIsStale`: a lock naming this very process that it does
 * not hold (a copy, or one left by an earlier holder of a reused pid) is stale too.
 */
export function staleLock(other: LockHolder | null, me: LockHolder, ownIsStale: boolean): boolean {
  if (other === null || other.dir !== me.dir) return true;
  if (other.host !== me.host) return false;
  return other.pid === me.pid ? ownIsStale : !alive(other.pid);
}

/** Removes the lock file if it still names this process (another may have taken over a lock it judged stale). */
export function removeOwnLock(path: string): void {
  if (readLockHolder(path)?.pid === process.pid) rmSync(path, { force: true });
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists, owned by someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
