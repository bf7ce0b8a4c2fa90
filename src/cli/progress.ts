/** @module Progress of long steps: a bar on a terminal, a plain line every few seconds otherwise. */
import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number, note?: string): void;
  stop(): void;
}

export function progress(label: string, total: number | null, stream: NodeJS.WriteStream = process.stderr, quiet = false): Progress {
  if (quiet) return { update() {}, stop() {} };
  if (stream.isTTY && total !== null) {
    const bar = new cliProgress.SingleBar({ format: `${label} [{bar}] {percentage}% {value}/{total} {note}`, hideCursor: true, stream }, cliProgress.Presets.shades_classic);
    bar.start(total, 0, { note: '' });
    return { update: (done, note = '') => bar.update(Math.min(done, total), { note }), stop: () => bar.stop() };
  }
  let last = Date.now();
  return {
    update(done, note) {
      if (Date.now() - last < 2_000) return;
      last = Date.now();
      stream.write(`${label}: ${done.toLocaleString('en-US')}${total !== null ? ` / ${total.toLocaleString('en-US')}` : ''}${note ? ` ${note}` : ''}\n`);
    },
    stop() {},
  };
}
