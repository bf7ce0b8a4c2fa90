/** @module Waiting for the end of a serving process: SIGINT / SIGTERM, or a time limit (for tests and demos). */

export type StopReason = 'SIGINT' | 'SIGTERM' | 'time limit';

export interface StopSignal {
  /** Resolves with the reason once a signal arrives or the time limit passes; the listeners go with it. */
  readonly stopped: Promise<StopReason>;
  /** Starts the time limit (none when undefined): called once serving begins, so bootstrapping does not count. */
  after(ms: number | undefined): void;
  /** Gives the signals back to their default handling (a start that failed): `stopped` then never resolves. */
  cancel(): void;
}

export function stopSignal(): StopSignal {
  let timer: NodeJS.Timeout | undefined;
  let stop: (reason: StopReason) => void = () => undefined;
  let detach = () => undefined as void;
  const stopped = new Promise<StopReason>((resolve) => {
    const onInt = () => stop('SIGINT');
    const onTerm = () => stop('SIGTERM');
    detach = () => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      if (timer !== undefined) clearTimeout(timer);
    };
    stop = (reason) => {
      detach();
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
    cancel() {
      detach();
    },
  };
}
