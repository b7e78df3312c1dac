import { availableCores } from '../util/threads';
import { ConfigError } from '../errors';
import { createProgress, type ProgressMode } from '../util/progress';
import { executeJob } from './execute-job';
import { describeJob, jobHash, storedResultUsable, type Job, type JobOutcome } from './job';
import { LocalPool } from './local-pool';
import type { ResultStore } from './result-store';

/**
 * Where jobs run: this process, the local process pool (`--jobs N`, the default) or a BullMQ queue
 * (`--queue redis://…`, see redis-queue.ts). Every runner gives the same results for the same jobs.
 */
export interface JobRunner {
  /** For progress lines: "2 local worker processes", "BullMQ queue 'candlelab' on redis://…". */
  readonly description: string;
  /** How many jobs to hand it at once. */
  readonly parallel: number;
  /** Run a job to its end (its attempts included): its result or its last error. */
  run(job: Job, hash: string): Promise<JobOutcome>;
  /** Jobs running now. */
  running(): number;
  /** Cancel: jobs not yet started are dropped (their promises answer 'cancelled'); running ones finish. */
  cancel(): Promise<void>;
  close(): Promise<void>;
}

export type JobRunnerOptions = {
  /** Local worker processes (default: the machine's cores). */
  jobs?: number;
  /** `redis://host:port[/db]`: send the jobs to BullMQ workers instead (`candlelab worker`). */
  queue?: string;
  /** The BullMQ queue name (default 'candlelab'); workers must use the same. */
  queueName?: string;
  /** Attempts per job before it is recorded as failed (default 2); errors in the spec or data fail at once. */
  attempts?: number;
  log?: (line: string) => void;
};

export const DEFAULT_ATTEMPTS = 2;

export function defaultJobs(): number {
  return availableCores();
}

/** The runner the options ask for: BullMQ when `queue` is given, else `jobs` local processes. */
export async function createJobRunner(options: JobRunnerOptions = {}): Promise<JobRunner> {
  if (options.queue) {
    if (options.jobs !== undefined) throw new ConfigError('--jobs and --queue exclude each other: with --queue the workers (candlelab worker --concurrency N) decide the parallelism');
    const { createRedisRunner } = await import('./redis-queue');
    return createRedisRunner({ url: options.queue, name: options.queueName, attempts: options.attempts, log: options.log });
  }
  return createLocalRunner(options.jobs ?? defaultJobs(), options.attempts);
}

/** `size` local worker processes; a failed attempt is retried (up to `attempts`) unless the error is permanent. */
export function createLocalRunner(size: number, attempts = DEFAULT_ATTEMPTS): JobRunner {
  const pool = new LocalPool(size);
  let cancelled = false;
  return {
    description: `${size} local worker process${size === 1 ? '' : 'es'}`,
    parallel: size,
    running: () => pool.running,
    async run(job) {
      let last = '';
      for (let attempt = 1; attempt <= attempts; attempt++) {
        if (cancelled) return { ok: false, error: 'cancelled' };
        const outcome = await pool.run(job);
        if (outcome.ok) return { ok: true, result: outcome.result };
        last = outcome.error;
        if (outcome.permanent) return { ok: false, error: last, attempts: attempt };
      }
      return { ok: false, error: last, attempts };
    },
    async cancel() {
      cancelled = true;
    },
    async close() {
      pool.close(cancelled);
    },
  };
}

/** This process, one job at a time (a notebook's default, and `tune` with one job). */
export function createInProcessRunner(): JobRunner {
  let running = 0;
  let cancelled = false;
  return {
    description: 'this process',
    parallel: 1,
    running: () => running,
    async run(job) {
      if (cancelled) return { ok: false, error: 'cancelled' };
      running++;
      try {
        return { ok: true, result: await executeJob(job) };
      } catch (error) {
        return { ok: false, error: error instanceof Error ? error.message : String(error), attempts: 1 };
      } finally {
        running--;
      }
    },
    async cancel() {
      cancelled = true;
    },
    async close() {},
  };
}

export type RunJobsOptions = {
  /** Finished results by content hash: found ones are reused, new ones stored. */
  store?: ResultStore;
  /** The progress label, e.g. "sweep". */
  label?: string;
  progress?: ProgressMode;
  signal?: AbortSignal;
};

export type RunJobsResult = {
  /** One per job, in the jobs' order. */
  outcomes: JobOutcome[];
  hashes: string[];
  reused: number;
  computed: number;
  failed: number;
  cancelled: number;
  seconds: number;
};

/**
 * Run jobs on a runner: results already in the store are reused (nothing is recomputed), the others
 * run with the runner's parallelism, and each result is stored under its job's hash as it arrives.
 * Progress shows done, running, failed and the ETA. Aborting `signal` cancels what has not started
 * (for BullMQ: removes those jobs from Redis) and waits for the running ones.
 */
export async function runJobs(runner: JobRunner, jobs: readonly Job[], options: RunJobsOptions = {}): Promise<RunJobsResult> {
  const started = performance.now();
  const hashes = jobs.map(jobHash);
  const outcomes: JobOutcome[] = new Array(jobs.length);
  let reused = 0;
  const todo: number[] = [];
  jobs.forEach((_, i) => {
    const found = options.store?.get(hashes[i]);
    if (found !== undefined && storedResultUsable(jobs[i], found)) {
      outcomes[i] = { ok: true, result: found, reused: true };
      reused++;
    } else todo.push(i);
  });
  const progress = createProgress(`${options.label ?? 'jobs'} (${runner.description})`, jobs.length, options.progress ?? 'auto');
  if (reused) progress.tick(reused, `${reused} reused`);
  let done = 0;
  let failed = 0;
  let cancelled = 0;
  const detail = () => {
    const elapsed = (performance.now() - started) / 1000;
    const remaining = todo.length - done;
    const eta = done > 0 ? `ETA ${Math.ceil((elapsed / done) * remaining)} s` : 'ETA ?';
    return `· running ${runner.running()} · failed ${failed} · ${eta}`;
  };
  const onAbort = () => void runner.cancel();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < todo.length) {
        const index = todo[next++];
        if (options.signal?.aborted) {
          outcomes[index] = { ok: false, error: 'cancelled' };
          cancelled++;
          continue;
        }
        const outcome = await runner.run(jobs[index], hashes[index]);
        outcomes[index] = outcome;
        if (outcome.ok) options.store?.put(hashes[index], outcome.result, { replace: true });
        else if (outcome.error === 'cancelled') cancelled++;
        else failed++;
        done++;
        progress.tick(1, outcome.ok || outcome.error === 'cancelled' ? detail() : `${detail()} · ${describeJob(jobs[index])} failed: ${outcome.error}`);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(runner.parallel, todo.length)) }, lane));
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
  progress.done(detail());
  return { outcomes, hashes, reused, computed: todo.length - failed - cancelled, failed, cancelled, seconds: (performance.now() - started) / 1000 };
}
