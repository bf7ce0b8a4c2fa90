/**
 * @module One writer at a time per event log: what checks the log for an event's id and then
 * appends the event (ingest, a server's flush) runs under `<log>/write.lock`. Two ingests of the
 * same file at once had each found the ids absent and appended them, and the batch engine, which
 * reads the log as unique by id, counted those events twice. Writers of one process queue in
 * memory; other processes wait for the lock file (polling), and take it over when its holder is
 * gone (see lock-file.ts).
 */
import { mkdirSync, realpathSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { RecsignalError } from '../../core/errors.ts';
import { holderHere, readLockHolder, removeOwnLock, staleLock, tryCreateLock } from '../../core/lock-file.ts';

/** The writers of this process per lock file, in turn. */
const queues = new Map<string, Promise<void>>();

/** How long a writer waits for another process's write before it gives up, by default. */
export const WRITE_WAIT_MS = 10 * 60_000;

export async function withLogWrite<T>(dir: string, write: () => Promise<T>, waitMs = WRITE_WAIT_MS): Promise<T> {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'write.lock');
  const before = queues.get(path) ?? Promise.resolve();
  let done = () => undefined as void;
  queues.set(path, before.then(() => new Promise<void>((resolve) => (done = resolve))));
  await before;
  try {
    await takeLock(path, realpathSync(dir), waitMs);
    try {
      return await write();
    } finally {
      removeOwnLock(path);
    }
  } finally {
    done();
  }
}

async function takeLock(path: string, dir: string, waitMs: number): Promise<void> {
  const me = holderHere(dir);
  const deadline = Date.now() + waitMs;
  for (;;) {
    let created: boolean;
    try {
      created = tryCreateLock(path, me);
    } catch (e) {
      throw new RecsignalError('IO_FAILED', `cannot take the log's write lock ${path} (${(e as Error).message}); check that the log folder can be written`, { cause: e });
    }
    if (created) return;
    const other = readLockHolder(path);
    // This process holds no write lock here outside the queue above: one naming it is a leftover.
    if (staleLock(other, me, true)) {
      rmSync(path, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new RecsignalError('IO_FAILED', `the log ${dir} is being written by pid ${other?.pid} on ${other?.host} (since ${other?.since}); waited ${Math.round(waitMs / 1000)} s for it${other?.host === me.host ? '' : `; delete ${path} if that process is gone`}`);
    }
    await sleep(50);
  }
}
