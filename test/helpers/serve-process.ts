/** @module `recsignal serve` as a child process for tests: started, waited for until ready, and stopped. */
import { spawn, type ChildProcess } from 'node:child_process';

export interface ServeProcess {
  readonly child: ChildProcess;
  /** What it printed so far. */
  out(): string;
  err(): string;
  /** The base URL it printed (empty if it never got ready). */
  readonly base: string;
  /** Its exit code once it has exited. */
  readonly exited: Promise<number | null>;
}

/** Spawns `node bin/recsignal.js serve <args>` in `cwd` and waits up to `timeoutMs` for its `ready:` line. */
export async function startServe(cwd: string, args: readonly string[], timeoutMs: number): Promise<ServeProcess> {
  const child = spawn(process.execPath, ['bin/recsignal.js', 'serve', ...args], { cwd });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
  const deadline = Date.now() + timeoutMs;
  while (!/^ready: /m.test(out) && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
  const base = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(out)?.[1] ?? '';
  return { child, out: () => out, err: () => err, base, exited };
}
