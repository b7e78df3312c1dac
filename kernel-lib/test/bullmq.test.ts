import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalRedis, type LocalRedis } from '../src/testing/redis-server';
import { CLI_BIN, cli, listDir, tempDir, workspaceEnv } from './helpers';
import { writeSweepSpec } from './jobs-helpers';

/**
 * Sweeps through BullMQ on a real redis-server (Debian's, started here on a free 127.0.0.1 port):
 * a worker killed with SIGKILL mid-job, Redis restarted mid-sweep, a job that throws, a sweep
 * submitted twice, and Ctrl-C. Every run's table must equal the local one-process table byte for byte,
 * and nothing may be left in Redis.
 */
const dir = tempDir('bullmq');
let redis: LocalRedis;
const workers = new Set<ChildProcess>();

type Worker = { child: ChildProcess; log: () => string; waitFor: (pattern: RegExp) => Promise<RegExpMatchArray>; exited: Promise<void> };

/** `candlelab worker` as a user starts it (spawned directly: the test signals it). */
function startWorker(extra: string[] = []): Promise<Worker> {
  const child = spawn(CLI_BIN, ['worker', '--queue', redis.url, '--lock-duration', '4000', '--stalled-interval', '1000', ...extra], { stdio: ['ignore', 'ignore', 'pipe'] });
  workers.add(child);
  let text = '';
  const waiting: Array<{ pattern: RegExp; resolve: (m: RegExpMatchArray) => void }> = [];
  child.stderr!.on('data', (chunk: Buffer) => {
    text += chunk.toString();
    for (const w of [...waiting]) {
      const match = text.match(w.pattern);
      if (match) {
        waiting.splice(waiting.indexOf(w), 1);
        w.resolve(match);
      }
    }
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => {
    workers.delete(child);
    resolve();
  }));
  const worker: Worker = {
    child,
    log: () => text,
    exited,
    waitFor: (pattern) => {
      const match = text.match(pattern);
      return match ? Promise.resolve(match) : new Promise((resolve) => waiting.push({ pattern, resolve }));
    },
  };
  return worker.waitFor(/worker ready/).then(() => worker);
}

async function stopWorker(worker: Worker): Promise<void> {
  worker.child.kill('SIGTERM');
  await worker.exited;
}

/** Jobs of the queue in Redis, by state. */
async function jobCounts(): Promise<Record<string, number>> {
  const queue = new Queue('candlelab', { connection: { host: '127.0.0.1', port: redis.port } });
  try {
    return await queue.getJobCounts();
  } finally {
    await queue.close();
  }
}
const nothingLeft = { active: 0, completed: 0, delayed: 0, failed: 0, prioritized: 0, waiting: 0, 'waiting-children': 0 };

const spec = writeSweepSpec(path.join(dir, 'specs'), 'queued');
// Each point busies its worker for 1.5 s in the strategy, so a kill lands mid-job.
const grid = ['--grid', 'strategy.params.threshold=0.35,0.4,0.45,0.5', '--set', 'strategy.params.busyMs=1500'];
let reference: Buffer;
let referenceArrow: Buffer;

beforeAll(async () => {
  redis = await startLocalRedis();
  const local = await cli(['sweep', spec, ...grid, '--jobs', '1', '--out', path.join(dir, 'out-local')], workspaceEnv(path.join(dir, 'ws-local')));
  expect(local.status, local.stderr).toBe(0);
  reference = fs.readFileSync(path.join(dir, 'out-local', 'results.csv'));
  referenceArrow = fs.readFileSync(path.join(dir, 'out-local', 'results.arrow'));
});

afterAll(async () => {
  for (const child of workers) child.kill('SIGKILL');
  await redis?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('candlelab sweep --queue on BullMQ workers', () => {
  it('two workers, one killed with SIGKILL mid-job: every result exactly once, equal to the one-process table', async () => {
    const a = await startWorker();
    const b = await startWorker();
    const out = path.join(dir, 'out-kill');
    const sweep = cli(['sweep', spec, ...grid, '--queue', redis.url, '--out', out], workspaceEnv(path.join(dir, 'ws-kill')));
    const [, killed] = await a.waitFor(/job (\w+) started/);
    a.child.kill('SIGKILL');
    const result = await sweep;
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/4 points \(4 computed, 0 reused, 0 failed\)/);
    expect(fs.readFileSync(path.join(out, 'results.csv'))).toEqual(reference);
    expect(fs.readFileSync(path.join(out, 'results.arrow'))).toEqual(referenceArrow);
    // the killed worker's job was taken up again by the other through BullMQ's stalled-job check
    expect(b.log()).toContain(`job ${killed} started`);
    expect(a.log()).not.toContain(`job ${killed} done`);
    // one stored result per point, and nothing left in Redis
    const stored = listDir(path.join(dir, 'ws-kill', 'cache', 'jobs')).flatMap((sub) => listDir(path.join(dir, 'ws-kill', 'cache', 'jobs', sub)));
    expect(stored).toHaveLength(4);
    expect(await jobCounts()).toEqual(nothingLeft);
    await stopWorker(b);
  });

  it('submitting the same sweep twice computes nothing the second time', async () => {
    const worker = await startWorker();
    const again = await cli(['sweep', spec, ...grid, '--queue', redis.url, '--out', path.join(dir, 'out-again')], workspaceEnv(path.join(dir, 'ws-kill')));
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/4 points \(0 computed, 4 reused, 0 failed\)/);
    expect(fs.readFileSync(path.join(dir, 'out-again', 'results.csv'))).toEqual(reference);
    expect(worker.log()).not.toMatch(/job \w+ started/);
    await stopWorker(worker);
  });

  it('Redis restarted mid-sweep (its jobs lost): the sweep completes with the same table', async () => {
    const worker = await startWorker();
    const out = path.join(dir, 'out-restart');
    const sweep = cli(['sweep', spec, ...grid, '--queue', redis.url, '--out', out], workspaceEnv(path.join(dir, 'ws-restart')));
    await worker.waitFor(/job \w+ done/);
    await redis.restart();
    const result = await sweep;
    expect(result.status, result.stderr).toBe(0);
    expect(fs.readFileSync(path.join(out, 'results.csv'))).toEqual(reference);
    expect(await jobCounts()).toEqual(nothingLeft);
    await stopWorker(worker);
  });

  it('a job that throws fails after its attempts with its error recorded; the others complete', async () => {
    const worker = await startWorker();
    const out = path.join(dir, 'out-poison');
    const result = await cli(['sweep', spec, '--grid', 'strategy.params.threshold=0.35,0.66,0.45', '--queue', redis.url, '--attempts', '2', '--out', out], workspaceEnv(path.join(dir, 'ws-poison')));
    expect(result.status).toBe(1);
    expect(result.stdout).toMatch(/3 points \(2 computed, 0 reused, 1 failed\)/);
    expect(result.stdout).toMatch(/point 1 failed: poisoned point: threshold 0.66/);
    expect(worker.log()).toMatch(/job \w+ started: point 1 threshold=0.66 \(attempt 2\)/);
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
    expect(summary.failures).toEqual([{ point: 1, params: { 'strategy.params.threshold': 0.66 }, error: 'poisoned point: threshold 0.66', attempts: 2 }]);
    expect(await jobCounts()).toEqual(nothingLeft);
    await stopWorker(worker);
  });

  it('a tuning study through the queue (random sampler) gives the same trials as in one process', async () => {
    const worker = await startWorker(['--concurrency', '2']);
    const space = path.join(dir, 'space.json');
    fs.writeFileSync(space, JSON.stringify({ 'strategy.params.threshold': { type: 'float', low: 0.3, high: 0.5 }, 'model.params.maxDepth': { type: 'int', low: 2, high: 4 } }));
    const tune = async (ws: string, extra: string[]) => {
      const out = path.join(dir, ws);
      const run = await cli(['tune', spec, '--space', space, '--trials', '4', '--sampler', 'random', '--objective', 'sortino', '--out', out, '--json', ...extra], workspaceEnv(path.join(dir, ws)));
      expect(run.status, run.stderr).toBe(0);
      // every column but the trial's duration
      return fs.readFileSync(path.join(out, 'trials.csv'), 'utf8').trim().split('\n').map((line) => line.split(',').slice(0, -1).join(','));
    };
    const local = await tune('tune-local', []);
    const queued = await tune('tune-queue', ['--queue', redis.url, '--jobs', '2']);
    expect(queued).toEqual(local);
    expect(local).toHaveLength(5);
    expect(worker.log().match(/job \w+ started: trial \d/g)).toHaveLength(4);
    expect(await jobCounts()).toEqual(nothingLeft);
    await stopWorker(worker);
  });

  it('Ctrl-C cancels the sweep: waiting jobs are removed, the running one finishes, nothing is left in Redis', async () => {
    const worker = await startWorker();
    const child = spawn(CLI_BIN, ['sweep', spec, ...grid, '--queue', redis.url, '--out', path.join(dir, 'out-cancel')], { env: { ...process.env, ...workspaceEnv(path.join(dir, 'ws-cancel')) }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await worker.waitFor(/job \w+ started/);
    child.kill('SIGINT');
    const code = await exited;
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/sweep cancelled: \d of 4 points finished and are kept; run the same command again to continue/);
    expect(await jobCounts()).toEqual(nothingLeft);
    expect(fs.existsSync(path.join(dir, 'out-cancel', 'results.csv'))).toBe(false);
    await stopWorker(worker);
    expect(worker.log().match(/job \w+ started/g)!.length).toBeLessThan(4);
  });
});
