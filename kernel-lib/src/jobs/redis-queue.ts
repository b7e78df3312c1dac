import * as fs from 'node:fs';
import { Queue, QueueEvents, UnrecoverableError, Worker, type ConnectionOptions } from 'bullmq';
import IORedis from 'ioredis';
import { ConfigError } from '../errors';
import { describeJob, storedResultUsable, type Job, type JobOutcome } from './job';
import { LocalPool } from './local-pool';
import { jobResultsDir, openResultStore } from './result-store';
import { DEFAULT_ATTEMPTS, type JobRunner } from './run-jobs';

/**
 * Jobs through BullMQ on Redis. The submitter (`--queue redis://…`) adds each job with its content
 * hash as the BullMQ job id, so a job submitted twice is one job; `candlelab worker` processes take
 * them on any number of machines. BullMQ gives the rest: a killed worker's job is taken up again by
 * its stalled-job check, a failing job is retried with backoff and then recorded as failed with its
 * error. The submitter collects each result and removes the job from Redis, and a cancelled sweep
 * removes its waiting jobs, so nothing is left behind.
 */

export const DEFAULT_QUEUE_NAME = 'candlelab';

/** `redis://[user:password@]host:port[/db]` → BullMQ connection options; a one-line error otherwise. */
export function parseRedisUrl(text: string): ConnectionOptions & { host: string; port: number; db: number } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(`--queue ${text}: not a URL; use redis://host:port[/db], e.g. redis://127.0.0.1:6379/0`);
  }
  if (url.protocol !== 'redis:') throw new ConfigError(`--queue ${text}: use a redis:// URL (redis://host:port[/db])`);
  const port = url.port ? Number(url.port) : 6379;
  const dbText = url.pathname.replace(/^\//, '');
  const db = dbText ? Number(dbText) : 0;
  if (!url.hostname || !Number.isInteger(port) || !Number.isInteger(db) || db < 0) throw new ConfigError(`--queue ${text}: use redis://host:port[/db] with a numeric port and db`);
  return {
    host: url.hostname,
    port,
    db,
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
    // Commands wait for a reconnect instead of failing: a Redis restart mid-sweep is survived.
    maxRetriesPerRequest: null,
  };
}

/** Check once that Redis answers, so a wrong URL or a stopped server is a one-line error, not a wait. */
export async function assertRedisAnswers(url: string): Promise<void> {
  const { host, port, db, username, password } = parseRedisUrl(url) as { host: string; port: number; db: number; username?: string; password?: string };
  const client = new IORedis({ host, port, db, username, password, lazyConnect: true, connectTimeout: 5000, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  let cause = '';
  client.on('error', (error: Error) => (cause ||= error.message)); // the socket's error, reported below
  try {
    await client.connect();
    await client.ping();
  } catch (error) {
    throw new ConfigError(`--queue ${url}: Redis does not answer (${cause || (error as Error).message}); start redis-server there (apt-get install redis-server) or fix the URL`);
  } finally {
    client.disconnect();
  }
}

export type RedisRunnerOptions = { url: string; name?: string; attempts?: number; log?: (line: string) => void };

type Pending = { job: Job; resolve: (outcome: JobOutcome) => void; active: boolean; checking: boolean };

/** A JobRunner that sends jobs to BullMQ and collects their results (see the module comment). */
export async function createRedisRunner(options: RedisRunnerOptions): Promise<JobRunner> {
  const connection = parseRedisUrl(options.url);
  const name = options.name ?? DEFAULT_QUEUE_NAME;
  const attempts = options.attempts ?? DEFAULT_ATTEMPTS;
  const log = options.log ?? (() => {});
  await assertRedisAnswers(options.url);
  const queue = new Queue(name, { connection });
  const events = new QueueEvents(name, { connection });
  // A Redis restart shows up as connection errors until it is back; ioredis reconnects by itself.
  let lastError = '';
  const onError = (error: Error) => {
    if (error.message !== lastError) log(`queue: ${error.message} (reconnecting)`);
    lastError = error.message;
  };
  queue.on('error', onError);
  events.on('error', onError);
  await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);

  const pending = new Map<string, Pending>();
  let cancelling = false;
  const jobOptions = {
    attempts,
    backoff: { type: 'exponential', delay: 1000 },
    // A safety net only: the submitter removes every job it collects.
    removeOnComplete: { age: 86_400 },
    removeOnFail: { age: 86_400 },
  };

  const finish = (hash: string, outcome: JobOutcome) => {
    const entry = pending.get(hash);
    if (!entry) return;
    pending.delete(hash);
    entry.resolve(outcome);
  };

  /** Look at one job in Redis and act: collect a result or a failure, or add it again if Redis lost it. */
  const check = async (hash: string): Promise<void> => {
    const entry = pending.get(hash);
    if (!entry || entry.checking) return;
    entry.checking = true;
    try {
      const state = await queue.getJobState(hash);
      if (state === 'completed' || state === 'failed') {
        const job = await queue.getJob(hash);
        if (!job) return;
        const outcome: JobOutcome = state === 'completed' ? { ok: true, result: job.returnvalue } : { ok: false, error: job.failedReason || 'failed', attempts: job.attemptsMade };
        await job.remove().catch(() => {});
        finish(hash, outcome);
      } else if (state === 'unknown') {
        // Redis restarted without the job (no persistence): add it again; a worker that already
        // finished it answers from the result store.
        if (cancelling) finish(hash, { ok: false, error: 'cancelled' });
        else await queue.add('job', entry.job, { ...jobOptions, jobId: hash });
      } else {
        entry.active = state === 'active';
        if (cancelling && !entry.active && (await queue.remove(hash)) === 1) finish(hash, { ok: false, error: 'cancelled' });
      }
    } catch (error) {
      onError(error as Error);
    } finally {
      const still = pending.get(hash);
      if (still) still.checking = false;
    }
  };
  const checkAll = () => {
    for (const hash of pending.keys()) void check(hash);
  };
  for (const event of ['completed', 'failed', 'active', 'stalled', 'removed'] as const) {
    events.on(event, ({ jobId }: { jobId: string }) => {
      if (pending.has(jobId)) void check(jobId);
    });
  }
  // Events are the fast path; this sweep catches what a reconnect made them miss.
  const timer = setInterval(checkAll, 1000);

  return {
    description: `BullMQ queue '${name}' on redis://${connection.host}:${connection.port}/${connection.db}`,
    parallel: Number.MAX_SAFE_INTEGER,
    running: () => [...pending.values()].filter((p) => p.active).length,
    run(job, hash) {
      if (cancelling) return Promise.resolve({ ok: false, error: 'cancelled' });
      return new Promise<JobOutcome>((resolve) => {
        pending.set(hash, { job, resolve, active: false, checking: true });
        void (async () => {
          try {
            // A job left failed by an earlier submission is tried again, not reported again.
            if ((await queue.getJobState(hash)) === 'failed') await queue.remove(hash);
            await queue.add('job', job, { ...jobOptions, jobId: hash });
          } catch (error) {
            onError(error as Error); // the timer adds it once Redis is back
          } finally {
            const entry = pending.get(hash);
            if (entry) entry.checking = false;
          }
          void check(hash);
        })();
      });
    },
    async cancel() {
      cancelling = true;
      const active = [...pending.values()].filter((p) => p.active).length;
      log(`cancelling: removing the waiting jobs from Redis${active ? `, waiting for ${active} running job(s) to finish` : ''}`);
      checkAll();
    },
    async close() {
      clearInterval(timer);
      await Promise.allSettled([events.close(), queue.close()]);
    },
  };
}

export type WorkerOptions = {
  url: string;
  name?: string;
  /** Jobs at once, each in its own process (default 1). */
  concurrency?: number;
  /** How long a job's lock lasts without renewal; a killed worker's job is taken up again after it (default 30 s). */
  lockDurationMs?: number;
  /** How often this worker looks for stalled jobs (default: BullMQ's, 30 s). */
  stalledIntervalMs?: number;
  signal?: AbortSignal;
  log?: (line: string) => void;
};

/**
 * `candlelab worker`: take jobs from the queue until stopped. Each job runs in a worker process of a
 * local pool, so this process's event loop stays free to renew the jobs' locks however long a job
 * computes. A result already in the (shared) result store is returned without computing.
 */
export async function runRedisWorker(options: WorkerOptions): Promise<{ processed: number; failed: number }> {
  const connection = parseRedisUrl(options.url);
  const name = options.name ?? DEFAULT_QUEUE_NAME;
  const concurrency = options.concurrency ?? 1;
  const log = options.log ?? ((line: string) => process.stderr.write(line + '\n'));
  await assertRedisAnswers(options.url);
  const pool = new LocalPool(concurrency);
  let processed = 0;
  let failed = 0;
  const worker = new Worker(
    name,
    async (bullJob) => {
      const job = bullJob.data as Job;
      const hash = bullJob.id!;
      const short = hash.slice(0, 12);
      log(`job ${short} started: ${describeJob(job)} (attempt ${bullJob.attemptsMade + 1})`);
      const root = job.workspace.root;
      const store = fs.existsSync(root) ? openResultStore(jobResultsDir(job.workspace.cacheDir)) : undefined;
      const found = store?.get(hash);
      if (found !== undefined && storedResultUsable(job, found)) {
        log(`job ${short} done (result already stored)`);
        return found;
      }
      const outcome = await pool.run(job);
      if (!outcome.ok) {
        log(`job ${short} failed: ${outcome.error}`);
        throw outcome.permanent ? new UnrecoverableError(outcome.error) : new Error(outcome.error);
      }
      store?.put(hash, outcome.result, { replace: true });
      log(`job ${short} done`);
      return outcome.result;
    },
    {
      connection,
      concurrency,
      autorun: false,
      ...(options.lockDurationMs ? { lockDuration: options.lockDurationMs } : {}),
      ...(options.stalledIntervalMs ? { stalledInterval: options.stalledIntervalMs } : {}),
    },
  );
  worker.on('completed', () => processed++);
  worker.on('failed', () => failed++);
  let lastError = '';
  worker.on('error', (error) => {
    if (error.message !== lastError) log(`worker: ${error.message} (reconnecting)`);
    lastError = error.message;
  });
  const running = worker.run();
  await worker.waitUntilReady();
  log(`worker ready: queue '${name}' on redis://${connection.host}:${connection.port}/${connection.db}, ${concurrency} process${concurrency === 1 ? '' : 'es'} (pid ${process.pid})`);
  await new Promise<void>((resolve) => {
    if (options.signal?.aborted) resolve();
    options.signal?.addEventListener('abort', () => resolve(), { once: true });
  });
  log('worker: finishing the running jobs, then stopping');
  await worker.close();
  await running.catch(() => {});
  pool.close();
  return { processed, failed };
}
