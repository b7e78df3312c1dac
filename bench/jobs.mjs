#!/usr/bin/env node
// Scale-out benchmark (printed figures, not a test). Run: node bench/jobs.mjs
//   1. sweep throughput: a model-param sweep (every point trains XGBoost) with 1 and 2 local worker
//      processes and with 2 BullMQ workers on a local redis-server; against the machine's limit (its cores).
//   2. the overhead per job: the same cheap jobs (the stage cache warm, only strategy + backtest run)
//      in this process, through the local pool and through BullMQ.
//   3. the stage cache on a strategy-param sweep: every point through every stage (no cache) against
//      the sweep, which computes features and trains once.
// Every configuration must give the same results table (checked byte for byte).
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { root, cl, require, now, fmt } from './lib.mjs';

const { startLocalRedis } = require('candlelab/testing');
const cores = os.availableParallelism?.() ?? os.cpus().length;
console.log(`candlelab ${cl.CANDLELAB_VERSION} jobs bench · node ${process.version} · ${cores} × ${os.cpus()[0].model}`);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'candlelab-bench-jobs-'));
const base = JSON.parse(fs.readFileSync(path.join(root, 'specs', 'quickstart.json'), 'utf8'));
// One libxgboost thread per model: with N processes on N cores, more threads only oversubscribe.
const spec = { ...base, name: 'bench-jobs', model: { ...base.model, params: { ...base.model.params, threads: 1 } } };
const specFile = path.join(dir, 'spec.json');
fs.writeFileSync(specFile, JSON.stringify(spec));
const workspace = (name) => ({ dataDir: path.join(dir, 'data'), runsDir: path.join(dir, 'runs'), modelsDir: path.join(dir, 'models'), cacheDir: path.join(dir, `cache-${name}`) });
const quiet = { progress: 'quiet', log: () => {} };

async function sweep(name, params, runnerOptions) {
  const t = now();
  const result = await cl.runSweep(specFile, { params, ...runnerOptions, ...quiet, workspace: workspace(name), outDir: path.join(dir, `out-${name}`) });
  const ms = now() - t;
  if (result.failed) throw new Error(`${name}: ${result.failed} points failed`);
  return { ms, csv: fs.readFileSync(result.files.csv, 'utf8'), points: result.rows.length };
}

function startWorkers(url, n) {
  return Promise.all(Array.from({ length: n }, () => new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(root, 'kernel-lib', 'bin', 'candlelab.js'), 'worker', '--queue', url], { stdio: ['ignore', 'ignore', 'pipe'] });
    let text = '';
    child.stderr.on('data', (chunk) => {
      text += chunk;
      if (text.includes('worker ready')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`worker exited (${code}): ${text}`)));
  })));
}
async function stopWorkers(children) {
  await Promise.all(children.map((child) => new Promise((resolve) => {
    child.removeAllListeners('exit');
    child.once('exit', resolve);
    child.kill('SIGTERM');
  })));
}

const redis = await startLocalRedis();
try {
  // 1. Throughput: every point trains its own model.
  const modelGrid = [cl.parseGridArg('model.params.maxDepth=2,3,4,5'), cl.parseGridArg('model.params.learningRate=0.05,0.1')];
  await sweep('warm', [cl.parseGridArg('strategy.params.buyThreshold=0.45')], { jobs: 1 }); // sample data generated, files in the page cache
  const one = await sweep('one', modelGrid, { jobs: 1 });
  const two = await sweep('two', modelGrid, { jobs: 2 });
  const workers = await startWorkers(redis.url, 2);
  const queued = await sweep('queue', modelGrid, { queue: redis.url });
  await stopWorkers(workers);
  for (const [name, r] of [['2 local', two], ['2 BullMQ', queued]]) if (r.csv !== one.csv) throw new Error(`${name}: the results table differs from the one-process table`);
  console.log(`\n1. sweep throughput, ${one.points} points, each trains XGBoost (1 thread) on ${spec.data.bars} candles (tables byte-identical)`);
  const line = (name, r, n) => console.log(`   ${name.padEnd(26)} ${fmt(r.ms / 1000, 2).padStart(7)} s   ${fmt((1000 * r.points) / r.ms, 2).padStart(6)} points/s   ×${fmt(one.ms / r.ms, 2)} vs 1 process` + (n ? `   ${fmt((100 * one.ms) / r.ms / Math.min(n, cores), 0)}% of the ${Math.min(n, cores)}-core limit` : ''));
  line('1 local worker process', one, 0);
  line('2 local worker processes', two, 2);
  line('2 BullMQ workers (Redis)', queued, 2);

  // 2. Overhead per job: the same cheap jobs (stage cache warm: strategy and engine only) on a runner
  // that has already run one job (its worker started, its cache loaded), no result store: every job runs.
  const context = cl.createRunContext(specFile, { ...quiet, workspace: workspace('cheap') });
  const fingerprint = cl.dataFingerprint(cl.loadCandles(context));
  const jobs = Array.from({ length: 200 }, (_, point) => {
    const params = { 'strategy.params.buyThreshold': Number((0.3 + point * 0.001).toFixed(3)) };
    return { kind: 'sweep-point', point, params, spec: { ...spec, strategy: { ...spec.strategy, params: { ...spec.strategy.params, buyThreshold: params['strategy.params.buyThreshold'] } } }, baseDir: dir, workspace: { root: dir, ...workspace('cheap') }, dataFingerprint: fingerprint };
  });
  const perJob = async (runner) => {
    try {
      await cl.runJobs(runner, jobs.slice(0, 1), { progress: 'quiet' }); // warm: worker started, stage cache loaded
      const t = now();
      const run = await cl.runJobs(runner, jobs, { progress: 'quiet' });
      if (run.failed) throw new Error(`${run.failed} cheap jobs failed`);
      return { ms: (now() - t) / jobs.length, results: JSON.stringify(run.outcomes.map((o) => o.result)) };
    } finally {
      await runner.close();
    }
  };
  const inProcess = await perJob(cl.createInProcessRunner());
  const pooled = await perJob(cl.createLocalRunner(1));
  const [worker] = await startWorkers(redis.url, 1);
  const viaQueue = await perJob(await cl.createJobRunner({ queue: redis.url }));
  await stopWorkers([worker]);
  if (pooled.results !== inProcess.results || viaQueue.results !== inProcess.results) throw new Error('overhead: the results differ');
  console.log(`\n2. overhead per job: ${jobs.length} cheap jobs (stage cache warm: strategy + engine on the test segment of ${spec.data.bars} bars), one worker, warm`);
  console.log(`   this process               ${fmt(inProcess.ms, 2).padStart(7)} ms/job`);
  console.log(`   local pool (1 process)     ${fmt(pooled.ms, 2).padStart(7)} ms/job   overhead ${fmt(pooled.ms - inProcess.ms, 2)} ms/job (IPC, one job at a time)`);
  console.log(`   BullMQ (1 worker)          ${fmt(viaQueue.ms, 2).padStart(7)} ms/job   overhead ${fmt(viaQueue.ms - inProcess.ms, 2)} ms/job (Redis round trips, the worker's IPC, result collection)`);

  // 3. The stage cache on a strategy sweep: each point through every stage, against the cached sweep.
  const strategyGrid = [cl.parseGridArg('strategy.params.buyThreshold=0.35,0.4,0.45,0.5'), cl.parseGridArg('strategy.params.allowShort=false,true')];
  const points = cl.sweepPoints(strategyGrid);
  let uncachedMs = 0;
  for (const point of points) {
    const overrides = Object.entries(point).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
    const t = now();
    const context = cl.createRunContext(specFile, { ...quiet, overrides, workspace: workspace('uncached') });
    const results = await cl.runStages(context);
    results.trained.model.dispose();
    uncachedMs += now() - t;
  }
  const cached = await sweep('cached', strategyGrid, { runner: cl.createInProcessRunner() });
  console.log(`\n3. stage cache: ${points.length}-point strategy sweep in this process`);
  console.log(`   every stage per point      ${fmt(uncachedMs / 1000, 2).padStart(7)} s`);
  console.log(`   sweep with the stage cache ${fmt(cached.ms / 1000, 2).padStart(7)} s   ×${fmt(uncachedMs / cached.ms, 1)} faster (features and the model once, then strategy + engine per point)`);
} finally {
  await redis.stop();
  fs.rmSync(dir, { recursive: true, force: true });
}
