/** @module Waiting for the end of a serving process: SIGINT / SIGTERM, or a time limit (for tests and demos). */

export type StopReason = 'SIGINT' | 'SIGTERM' | 'time limit';

export interface StopSignal {
  /** Resolves with the reason once a signal arrives or the time limit passes; the listeners go with it. */
  readonly stopped: Promise<StopReason>;
  /** Starts the time limit (none when undefined): called once serving begins, so bootstrapping does not count. */
  after(ms: number | undefined): void;
}

export function stopSignal(): StopSignal {
  let timer: NodeJS.Timeout | undefined;
  let stop: (reason: StopReason) => void = () => undefined;
  const stopped = new Promise<StopReason>((resolve) => {
    const onInt = () => stop('SIGINT');
    const onTerm = () => stop('SIGTERM');
    stop = (reason) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      if (timer !== undefined) clearTimeout(timer);
      resolve(reason);
    };
    process.once('SIGINT', onInt);
    process.once('SIGTERM', onTerm);
  });
  return {
    stopped,
    after(ms) {
      if (ms !== undefined && timer === undefined) timer = setTimeout(() => stop('time limit'), ms);
    },
  };
}
