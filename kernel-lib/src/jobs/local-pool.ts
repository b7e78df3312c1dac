import { fork, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Job } from './job';

/** The worker process's script: beside this file when built; from the sources (vitest), the build's. */
function jobProcessScript(): string {
  const beside = path.join(__dirname, 'job-process.js');
  return fs.existsSync(beside) ? beside : path.resolve(__dirname, '..', '..', 'dist', 'jobs', 'job-process.js');
}

/** What one attempt of a job gave: its JSON-safe result, or its error (`permanent`: retrying cannot help). */
export type AttemptOutcome = { ok: true; result: unknown } | { ok: false; error: string; permanent: boolean };

/**
 * The local process pool: `size` worker processes (job-process.ts), one job each at a time, reused
 * across jobs. A crashed process fails its attempt and is replaced.
 *
 * Child processes rather than worker threads (piscina): the native libraries (libxgboost's OpenMP
 * threads, ONNX Runtime, tfjs) keep process-wide state, a crash or an out-of-memory kill takes down only
 * its job, and a cancelled sweep can kill its processes outright. A process costs ~0.1 s to start,
 * which is paid once per worker, not per job.
 */
export class LocalPool {
  private readonly idle: ChildProcess[] = [];
  private readonly waiting: Array<(child: ChildProcess) => void> = [];
  private readonly all = new Set<ChildProcess>();
  private readonly busy = new Set<ChildProcess>();
  private nextId = 0;
  private closed = false;

  constructor(readonly size: number) {}

  /** Jobs running now. */
  get running(): number {
    return this.busy.size;
  }

  private spawn(): ChildProcess {
    // OpenMP threads (libxgboost) spin while they wait; with several processes on few cores the
    // spinning takes the cores from the others (10× slower measured here), so they wait passively.
    // 'advanced' serialization: results cross IPC as structured clones.
    const child = fork(jobProcessScript(), [], {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      env: { OMP_WAIT_POLICY: 'PASSIVE', ...process.env },
      serialization: 'advanced',
    });
    this.all.add(child);
    child.on('exit', () => {
      this.all.delete(child);
      this.busy.delete(child);
    });
    return child;
  }

  private acquire(): Promise<ChildProcess> {
    const child = this.idle.pop();
    if (child) return Promise.resolve(child.connected ? child : this.spawn());
    if (this.all.size < this.size) return Promise.resolve(this.spawn());
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(child: ChildProcess): void {
    this.busy.delete(child);
    if (this.closed) return;
    const next = this.waiting.shift();
    if (next) next(child.connected ? child : this.spawn());
    else if (child.connected) this.idle.push(child);
  }

  /** One attempt of `job` on a free worker process. */
  async run(job: Job): Promise<AttemptOutcome> {
    const child = await this.acquire();
    this.busy.add(child);
    const id = this.nextId++;
    const outcome = await new Promise<AttemptOutcome>((resolve) => {
      const onMessage = (message: { id: number } & AttemptOutcome) => {
        if (message.id !== id) return;
        cleanup();
        resolve(message.ok ? { ok: true, result: message.result } : { ok: false, error: message.error, permanent: message.permanent });
      };
      const onExit = (code: number | null, signal: string | null) => {
        cleanup();
        resolve({ ok: false, error: `the worker process exited (${signal ?? `code ${code}`})`, permanent: false });
      };
      const cleanup = () => {
        child.off('message', onMessage);
        child.off('exit', onExit);
      };
      child.on('message', onMessage);
      child.on('exit', onExit);
      child.send({ id, job });
    });
    this.release(child);
    return outcome;
  }

  /** Let the processes exit when idle (`kill`: stop running jobs now). */
  close(kill = false): void {
    this.closed = true;
    for (const child of this.all) {
      if (kill) child.kill('SIGKILL');
      else if (child.connected) child.disconnect();
    }
  }
}
