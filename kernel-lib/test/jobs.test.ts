import * as fs from 'node:fs';
import * as path from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeValue, encodeValue, jobHash, type Job } from '../src/jobs/job';
import { openResultStore } from '../src/jobs/result-store';
import { createStageCache } from '../src/jobs/stage-cache';
import { parseGridArg, parseRandomArg, sweepPoints } from '../src/runner/sweep';
import { cli, listDir, tempDir, workspaceEnv } from './helpers';
import { writeSweepSpec } from './jobs-helpers';

/**
 * The job model and the local process pool: sweeps in 1 and N worker processes give byte-identical
 * tables, the stage cache trains one model for a strategy sweep, a second submission computes
 * nothing, a failing point is recorded with its error while the others complete, and walk-forward
 * windows fitted as jobs give the run's fingerprint. (BullMQ: bullmq.test.ts.)
 */
const dir = tempDir('jobs');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('the job model', () => {
  it('hashes a job by its content, whatever the key order', () => {
    const job = (spec: unknown): Job => ({ kind: 'sweep-point', point: 0, params: { a: 1 }, spec, baseDir: '/x', workspace: { root: '/x', dataDir: '/x/d', modelsDir: '/x/m', runsDir: '/x/r', cacheDir: '/x/c' }, dataFingerprint: 'f' });
    expect(jobHash(job({ a: 1, b: { c: 2, d: 3 } }))).toBe(jobHash(job({ b: { d: 3, c: 2 }, a: 1 })));
    expect(jobHash(job({ a: 1 }))).not.toBe(jobHash(job({ a: 2 })));
  });

  it('carries typed arrays exactly through JSON', () => {
    const value = { f32: Float32Array.from([0.1, -3.5, 1e-30]), f64: Float64Array.from([Math.PI, -0, 1e300]), nested: [{ x: Float64Array.from([1 / 3]) }], n: null };
    const back = decodeValue<typeof value>(JSON.parse(JSON.stringify(encodeValue(value))));
    expect(back.f32).toEqual(value.f32);
    expect(Object.is(back.f64[1], -0)).toBe(true);
    expect(back.f64).toEqual(value.f64);
    expect(back.nested[0].x[0]).toBe(1 / 3);
    expect(back.n).toBeNull();
  });

  it('stores one result per hash; a second put of the same job changes nothing', () => {
    const store = openResultStore(path.join(dir, 'store'));
    store.put('ab'.repeat(32), { v: 1 });
    const file = path.join(dir, 'store', 'ab', `${'ab'.repeat(32)}.json`);
    const before = fs.statSync(file).mtimeMs;
    store.put('ab'.repeat(32), { v: 1 });
    expect(fs.statSync(file).mtimeMs).toBe(before);
    expect(store.get('ab'.repeat(32))).toEqual({ v: 1 });
    expect(store.get('cd'.repeat(32))).toBeUndefined();
  });

  it('the stage cache computes once, then answers from memory and, in a new process, from disk', async () => {
    const cacheDir = path.join(dir, 'stage-cache');
    let computed = 0;
    const compute = () => ({ n: ++computed, column: Float64Array.from([1, 2, 3]) });
    const first = createStageCache(cacheDir);
    const a = await first.memo('features', 'k1', compute);
    const b = await first.memo('features', 'k1', compute);
    expect(b).toBe(a);
    const other = createStageCache(cacheDir); // another process's view
    const c = await other.memo('features', 'k1', compute);
    expect(computed).toBe(1);
    expect(c.column).toEqual(a.column);
    expect(first.stats.features).toEqual({ memory: 1, disk: 0, computed: 1 });
    expect(other.stats.features).toEqual({ memory: 0, disk: 1, computed: 0 });
  });

  it('reads sweep arguments and makes points in a fixed order (grid: first param slowest; random: seeded)', () => {
    expect(sweepPoints([parseGridArg('a=1,2'), parseGridArg('b=x,true')])).toEqual([
      { a: 1, b: 'x' },
      { a: 1, b: true },
      { a: 2, b: 'x' },
      { a: 2, b: true },
    ]);
    const random = [parseRandomArg('p=0.1:0.9'), parseRandomArg('q=2:8:int')];
    const one = sweepPoints(random, { samples: 5, seed: 7 });
    expect(sweepPoints(random, { samples: 5, seed: 7 })).toEqual(one);
    expect(sweepPoints(random, { samples: 5, seed: 8 })).not.toEqual(one);
    for (const point of one) {
      expect(point.p).toBeGreaterThanOrEqual(0.1);
      expect(point.p).toBeLessThan(0.9);
      expect(Number.isInteger(point.q)).toBe(true);
    }
    expect(() => parseGridArg('a')).toThrow(/--grid a: use path=v1,v2/);
    expect(() => parseRandomArg('a=1:x')).toThrow(/--random a=1:x: use path=low:high/);
    expect(() => sweepPoints([parseGridArg('a=1'), parseRandomArg('b=0:1')])).toThrow(/either --grid or --random/);
  });
});

type SweepSummary = { outDir: string; files: { csv: string; arrow: string; report: string }; points: number; computed: number; reused: number; failed: number; runner: string };

describe('candlelab sweep on local worker processes', () => {
  const one = workspaceEnv(path.join(dir, 'ws-one'));
  const two = workspaceEnv(path.join(dir, 'ws-two'));
  const spec = writeSweepSpec(path.join(dir, 'specs'), 'sweep');
  const grid = ['--grid', 'strategy.params.threshold=0.35,0.4,0.45', '--grid', 'backtest.slippageBps=0,10'];
  let byOne: SweepSummary;
  let byTwo: SweepSummary;
  let again: SweepSummary;
  let twoStderr = '';
  beforeAll(async () => {
    const a = await cli(['sweep', spec, ...grid, '--jobs', '1', '--out', path.join(dir, 'out-one'), '--json'], one);
    expect(a.status, a.stderr).toBe(0);
    byOne = JSON.parse(a.stdout);
    const b = await cli(['sweep', spec, ...grid, '--jobs', '2', '--out', path.join(dir, 'out-two'), '--json'], two);
    expect(b.status, b.stderr).toBe(0);
    byTwo = JSON.parse(b.stdout);
    twoStderr = b.stderr;
    const c = await cli(['sweep', spec, ...grid, '--jobs', '2', '--out', path.join(dir, 'out-again'), '--json'], two);
    expect(c.status, c.stderr).toBe(0);
    again = JSON.parse(c.stdout);
  });

  it('writes a byte-identical results table (CSV and Arrow) with 1 and 2 worker processes', () => {
    expect(byOne.points).toBe(6);
    expect(byOne.runner).toBe('1 local worker process');
    expect(byTwo.runner).toBe('2 local worker processes');
    expect(fs.readFileSync(byTwo.files.csv)).toEqual(fs.readFileSync(byOne.files.csv));
    expect(fs.readFileSync(byTwo.files.arrow)).toEqual(fs.readFileSync(byOne.files.arrow));
    const lines = fs.readFileSync(byOne.files.csv, 'utf8').trim().split('\n');
    expect(lines[0]).toMatch(/^point,strategy\.params\.threshold,backtest\.slippageBps,totalReturn,sharpe,.*,model\.accuracy,.*,error$/);
    expect(lines.slice(1).map((l) => l.split(',').slice(0, 3).join(','))).toEqual(['0,0.35,0', '1,0.35,10', '2,0.4,0', '3,0.4,10', '4,0.45,0', '5,0.45,10']);
    const table = tableFromIPC(fs.readFileSync(byOne.files.arrow));
    expect(table.numRows).toBe(6);
    expect(table.getChild('sharpe')!.get(0)).toBe(Number(lines[1].split(',')[4]));
    // slippage costs money: with the same trades, 10 bps ends below 0 bps
    const totalReturn = (row: number) => Number(lines[row].split(',')[3]);
    expect(totalReturn(2)).toBeLessThan(totalReturn(1));
  });

  it('shows live progress: done, running, failed and the ETA', () => {
    expect(twoStderr).toMatch(/sweep \(2 local worker processes\) .* 6\/6 · running \d · failed 0 · ETA \d+ s/);
  });

  it('the stage cache computes features and labels once and trains one model for a sweep over strategy and backtest params', () => {
    const stages = path.join(dir, 'ws-two', 'cache', 'stages');
    expect(listDir(path.join(stages, 'features')).filter((f) => f.endsWith('.v8'))).toHaveLength(1);
    expect(listDir(path.join(stages, 'labels')).filter((f) => f.endsWith('.v8'))).toHaveLength(1);
    expect(listDir(path.join(stages, 'model')).filter((f) => f.endsWith('.v8'))).toHaveLength(1);
  });

  it('submitting the same sweep again computes nothing and gives the same table', () => {
    expect(again.computed).toBe(0);
    expect(again.reused).toBe(6);
    expect(fs.readFileSync(again.files.csv)).toEqual(fs.readFileSync(byOne.files.csv));
  });

  it('writes a report with a heatmap for two params, a line for one and parallel coordinates beyond', async () => {
    expect(fs.readFileSync(byOne.files.report, 'utf8')).toContain('"type":"heatmap"');
    const env = workspaceEnv(path.join(dir, 'ws-views'));
    const three = await cli(['sweep', spec, '--random', 'strategy.params.threshold=0.3:0.5', '--random', 'backtest.slippageBps=0:20', '--random', 'backtest.commissionBps=0:20:int', '--samples', '4', '--out', path.join(dir, 'out-three'), '--json'], env);
    expect(three.status, three.stderr).toBe(0);
    expect(fs.readFileSync(path.join(dir, 'out-three', 'report.html'), 'utf8')).toContain('"type":"parcoords"');
  });

  it('a sweep over a model param trains one model per value and shares the features', async () => {
    const env = workspaceEnv(path.join(dir, 'ws-model'));
    const run = await cli(['sweep', spec, '--grid', 'model.params.maxDepth=2,3', '--grid', 'strategy.params.threshold=0.35,0.4', '--jobs', '2', '--out', path.join(dir, 'out-model'), '--json'], env);
    expect(run.status, run.stderr).toBe(0);
    const stages = path.join(dir, 'ws-model', 'cache', 'stages');
    expect(listDir(path.join(stages, 'model')).filter((f) => f.endsWith('.v8'))).toHaveLength(2);
    expect(listDir(path.join(stages, 'features')).filter((f) => f.endsWith('.v8'))).toHaveLength(1);
    const lines = fs.readFileSync(path.join(dir, 'out-model', 'results.csv'), 'utf8').trim().split('\n');
    const accuracy = lines[0].split(',').indexOf('model.accuracy');
    // the model metrics follow the model, not the strategy
    expect(lines[1].split(',')[accuracy]).toBe(lines[2].split(',')[accuracy]);
    expect(lines[1].split(',')[accuracy]).not.toBe(lines[3].split(',')[accuracy]);
  });

  it('a point that throws is recorded as failed with its error after its attempts; the others complete', async () => {
    const env = workspaceEnv(path.join(dir, 'ws-poison'));
    const run = await cli(['sweep', spec, '--grid', 'strategy.params.threshold=0.35,0.66,0.45', '--jobs', '2', '--attempts', '3', '--out', path.join(dir, 'out-poison')], env);
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(/3 points \(2 computed, 0 reused, 1 failed\)/);
    expect(run.stdout).toMatch(/point 1 failed: poisoned point: threshold 0.66/);
    const lines = fs.readFileSync(path.join(dir, 'out-poison', 'results.csv'), 'utf8').trim().split('\n');
    expect(lines[2]).toMatch(/^1,0.66,,.*,poisoned point: threshold 0.66$/);
    expect(lines[1]).toMatch(/^0,0.35,-?\d/);
    expect(lines[3]).toMatch(/^2,0.45,-?\d/);
    const summary = JSON.parse(fs.readFileSync(path.join(dir, 'out-poison', 'summary.json'), 'utf8'));
    expect(summary.failures).toEqual([{ point: 1, params: { 'strategy.params.threshold': 0.66 }, error: 'poisoned point: threshold 0.66', attempts: 3 }]);
  });

  it('bad sweep input fails at once with one line naming the point and the fix', async () => {
    const env = workspaceEnv(path.join(dir, 'ws-bad'));
    const bad = await cli(['sweep', spec, '--grid', 'model.params.maxDeep=2,3'], env);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/sweep point 0 \(model.params.maxDeep=2\): .*unknown param 'maxDeep'/);
    const both = await cli(['sweep', spec, '--grid', 'strategy.params.threshold=0.4', '--jobs', '2', '--queue', 'redis://127.0.0.1:1'], env);
    expect(both.stderr).toMatch(/--jobs and --queue exclude each other/);
    const url = await cli(['sweep', spec, '--grid', 'strategy.params.threshold=0.4', '--queue', 'http://x'], env);
    expect(url.stderr).toMatch(/--queue http:\/\/x: use a redis:\/\/ URL/);
    const down = await cli(['sweep', spec, '--grid', 'strategy.params.threshold=0.4', '--queue', 'redis://127.0.0.1:1'], env);
    expect(down.status).not.toBe(0);
    expect(down.stderr).toMatch(/--queue redis:\/\/127.0.0.1:1: Redis does not answer \(connect ECONNREFUSED 127.0.0.1:1\); start redis-server there/);
  });
});

describe('walk-forward windows as jobs', () => {
  it('gives the same run fingerprint fitted in this process, in 2 processes, and reuses fitted windows', async () => {
    const spec = writeSweepSpec(path.join(dir, 'wf-specs'), 'wf', { validation: { method: 'walk-forward', train: '30d', test: '20d' } });
    const run = async (ws: string, jobs: string) => {
      const result = await cli(['run', spec, '--jobs', jobs, '--json', '--progress', 'quiet'], workspaceEnv(path.join(dir, ws)));
      expect(result.status, result.stderr).toBe(0);
      return JSON.parse(result.stdout) as { fingerprint: string; validation: { windows: number } };
    };
    const sequential = await run('ws-wf1', '1');
    const parallel = await run('ws-wf2', '2');
    expect(sequential.validation.windows).toBeGreaterThanOrEqual(3);
    expect(parallel.fingerprint).toBe(sequential.fingerprint);
    // every window but the last (fitted by the run itself) left a job result
    const results = listDir(path.join(dir, 'ws-wf2', 'cache', 'jobs')).flatMap((sub) => listDir(path.join(dir, 'ws-wf2', 'cache', 'jobs', sub)));
    expect(results).toHaveLength(sequential.validation.windows - 1);
    // the run put its own features and labels in the stage cache, which the window workers read
    expect(listDir(path.join(dir, 'ws-wf2', 'cache', 'stages', 'features')).filter((f) => f.endsWith('.v8'))).toHaveLength(1);
    expect(listDir(path.join(dir, 'ws-wf2', 'cache', 'stages', 'labels')).filter((f) => f.endsWith('.v8'))).toHaveLength(1);
    const rerun = await run('ws-wf2', '2');
    expect(rerun.fingerprint).toBe(sequential.fingerprint);
  });
});
