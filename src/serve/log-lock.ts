/**
 * @module One serving process per event log. Each server appends the events posted to it; two
 * processes on one log would each append an event sent to both (a client retrying on another
 * instance) and the log, which batch features read as unique by id, would hold it twice. The
 * server takes `<log>/serve.lock` (its pid, host, start and the log's real path) at start and
 * removes it at close. A lock whose process is gone (a SIGKILL), or that was copied along with the
 * log, is taken over; one held by a live process, or by another host (whose processes cannot be
 * checked from here), refuses the start, naming it. Servers in one process (tests) share the lock.
 */
import { join } from 'node:path';
import { mkdirSync, realpathSync, rmSync } from 'node:fs';
import { RecsignalError } from '../core/errors.ts';
import { holderHere, readLockHolder, removeOwnLock, staleLock, tryCreateLock } from '../core/lock-file.ts';

/** Servers of this process holding each lock file. */
const held = new Map<string, number>();

export function lockLog(dir: string): () => void {
  const path = join(dir, 'serve.lock');
  const mine = held.get(path);
  if (mine !== undefined) {
    held.set(path, mine + 1);
    return once(() => release(path));
  }
  mkdirSync(dir, { recursive: true });
  const me = holderHere(realpathSync(dir));
  for (let attempt = 0; ; attempt++) {
    let created: boolean;
    try {
      created = tryCreateLock(path, me);
    } catch (e) {
      throw lockError(path, e as Error);
    }
    if (created) {
      held.set(path, 1);
      return once(() => release(path));
    }
    if (attempt > 0) throw lockError(path, new Error('it was made again by another process while this one took it over'));
    const other = readLockHolder(path);
    // Not ours to respect: copied here with the log, or left by this very process (not held: a copy too).
    if (!staleLock(other, me, true) && other !== null) {
      throw new RecsignalError(
        'IO_FAILED',
        `another recsignal server (pid ${other.pid} on ${other.host}, since ${other.since}) serves the log ${dir}: one server per log, or events posted to both would be appended twice; stop it, or serve a copy of the log${other.host === me.host ? '' : `, or delete ${path} if that server is gone`}`,
      );
    }
    // Its process is gone, it came with a copy of the log, or the file is unreadable (cut by a crash): take it over.
    rmSync(path, { force: true });
  }
}

/**
 * Who serves the log in `dir` now, if anyone: a live process of this host (this one included) or a
 * holder on another host, as its lock says; null when there is no lock or its process is gone.
 */
export function servedBy(dir: string): string | null {
  const path = join(dir, 'serve.lock');
  const other = readLockHolder(path);
  if (other === null || staleLock(other, holderHere(realpathSync(dir)), !held.has(path))) return null;
  return `pid ${other.pid} on ${other.host}, since ${other.since}`;
}

function release(path: string): void {
  const n = held.get(path) ?? 0;
  if (n > 1) {
    held.set(path, n - 1);
    return;
  }
  held.delete(path);
  removeOwnLock(path);
}

function lockError(path: string, e: Error): RecsignalError {
  return new RecsignalError('IO_FAILED', `cannot take the serving lock ${path} (${e.message}); check that the log folder can be written`, { cause: e });
}

function once(f: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    f();
  };
}
