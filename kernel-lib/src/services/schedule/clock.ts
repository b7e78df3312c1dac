/**
 * The scheduler's only source of time. The system clock sleeps with setTimeout; tests and notebooks
 * use a manual clock whose time moves only when told, so every schedule is replayed deterministically.
 */
export interface SchedulerClock {
  /** Epoch ms. */
  now(): number;
  /** Resolve once `now() >= time`, or as soon as `signal` aborts (never rejects). */
  sleepUntil(time: number, signal: AbortSignal): Promise<void>;
}

/** setTimeout takes a signed 32-bit delay; longer waits are slept in chunks. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** The wall clock. Long waits are chunked, and the time is re-read after each chunk (suspend/resume). */
export const systemClock: SchedulerClock = {
  now: () => Date.now(),
  sleepUntil: async (time, signal) => {
    while (!signal.aborted && Date.now() < time) {
      const delay = Math.min(time - Date.now(), MAX_TIMEOUT_MS);
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, delay);
        signal.addEventListener('abort', done, { once: true });
      });
    }
  },
};

/** A clock that moves only through `advanceTo` / `advanceBy`. */
export interface ManualClock extends SchedulerClock {
  /** Move time forward and wake every sleeper whose time has come. */
  advanceTo(time: number): void;
  advanceBy(ms: number): void;
  /** Resolves when someone sleeps until a time (the scheduler is idle, waiting for its next run); gives that time. */
  nextSleep(): Promise<number>;
}

/** A manual clock starting at `start` (epoch ms or a date). */
export function createManualClock(start: number | string | Date): ManualClock {
  let now = typeof start === 'number' ? start : new Date(start).getTime();
  const sleepers = new Set<{ time: number; wake: () => void }>();
  let waiters: Array<(time: number) => void> = [];
  const wakeDue = (): void => {
    for (const sleeper of [...sleepers].sort((a, b) => a.time - b.time)) if (sleeper.time <= now) sleeper.wake();
  };
  return {
    now: () => now,
    sleepUntil: (time, signal) =>
      new Promise<void>((resolve) => {
        if (signal.aborted || time <= now) return resolve();
        const sleeper = {
          time,
          wake: () => {
            sleepers.delete(sleeper);
            signal.removeEventListener('abort', sleeper.wake);
            resolve();
          },
        };
        sleepers.add(sleeper);
        signal.addEventListener('abort', sleeper.wake, { once: true });
        const notify = waiters;
        waiters = [];
        for (const waiter of notify) waiter(time);
      }),
    advanceTo: (time) => {
      if (time < now) throw new RangeError(`a manual clock only moves forward (now ${new Date(now).toISOString()}, asked ${new Date(time).toISOString()})`);
      now = time;
      wakeDue();
    },
    advanceBy(ms) {
      this.advanceTo(now + ms);
    },
    nextSleep: () => new Promise<number>((resolve) => waiters.push(resolve)),
  };
}
