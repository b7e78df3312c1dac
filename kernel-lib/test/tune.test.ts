import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSyntheticCandles } from '../src/data/synthetic';
import { writeCandlesCsv } from '../src/data/csv-file';
import { parseSpec } from '../src/spec/spec';
import { parseObjectives, parseSearchSpace } from '../src/runner/tune-space';
import { spawn } from 'node:child_process';
import { loadStudy } from '../src/tuning/study';
import { CLI_BIN, cli, tempDir, workspaceEnv } from './helpers';

const dir = tempDir('tune');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

writeCandlesCsv(path.join(dir, 'btc.csv'), generateSyntheticCandles({ seed: 9, bars: 2400 }));

function writeSpec(name: string, validation?: Record<string, unknown>): string {
  const file = path.join(dir, `${name}.json`);
  fs.writeFileSync(
    file,
    JSON.stringify({
      name,
      seed: 3,
      data: { source: 'file', path: 'btc.csv', symbol: 'BTC/USDT', timeframe: '1h' },
      features: [{ id: 'core/returns', params: { periods: [1, 4, 24] } }, { id: 'core/rsi', params: { period: 14 } }],
      label: { id: 'core/direction', params: { bars: 5, threshold: 0.004 } },
      split: { train: 0.7, valid: 0.15, test: 0.15 },
      ...(validation ? { validation } : {}),
      model: { id: 'core/xgboost', params: { rounds: 30, maxDepth: 3, learningRate: 0.1, earlyStoppingRounds: 10, threads: 1 } },
      strategy: { id: 'core/probability-threshold', params: { buyThreshold: 0.4 } },
    }),
  );
  return file;
}

const space = path.join(dir, 'space.json');
fs.writeFileSync(
  space,
  JSON.stringify({
    'model.params.maxDepth': { type: 'int', low: 2, high: 5 },
    'model.params.learningRate': { type: 'float', low: 0.03, high: 0.3, log: true },
    'strategy.params.buyThreshold': { type: 'float', low: 0.35, high: 0.55, step: 0.05 },
  }),
);

type Summary = {
  outDir: string;
  bestSpec: string;
  trials: { total: number; complete: number; pruned: number; failed: number };
  best: Array<{ number: number; values: number[]; params: Record<string, unknown> }>;
  probabilityOfBacktestOverfitting: number | null;
  deflatedSharpe: { probability: number; trials: number } | null;
};

describe('candlelab tune on a walk-forward spec', () => {
  const env = workspaceEnv(path.join(dir, 'ws'));
  const spec = writeSpec('wf', { method: 'walk-forward', train: '30d', test: '20d' });
  let first: Summary;
  let resumed: Summary;
  let stderr: string;
  beforeAll(async () => {
    const run = await cli(['tune', spec, '--space', space, '--trials', '3', '--jobs', '2', '--json'], env);
    expect(run.status, run.stderr).toBe(0);
    stderr = run.stderr;
    first = JSON.parse(run.stdout);
    const again = await cli(['tune', spec, '--space', space, '--trials', '5', '--json'], env);
    expect(again.status, again.stderr).toBe(0);
    resumed = JSON.parse(again.stdout);
  });

  it('runs the trials in parallel processes and reports progress: trial n/N, best so far, pruned count', () => {
    expect(first.trials.total).toBe(3);
    expect(stderr).toMatch(/trial 3\/3 #\d .*best .* \(trial \d\) · \d pruned, \d failed/);
    expect(stderr).toMatch(/objective sharpe \(maximize\)/);
  });

  it('refuses to continue a study with another spec, space or objective', async () => {
    const other = await cli(['tune', spec, '--space', space, '--trials', '6', '--objective', 'sortino'], env);
    expect(other.status).not.toBe(0);
    expect(other.stderr).toMatch(/study 'wf' in .* was made for another spec, space or objective; pass --study <new name>/);
  });

  it('a second call continues the study from its journal up to the new trial count', () => {
    expect(resumed.trials.total).toBe(5);
    const csv = fs.readFileSync(path.join(resumed.outDir, 'trials.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe('number,state,sharpe,model.params.maxDepth,model.params.learningRate,strategy.params.buyThreshold,duration_s');
    expect(csv.slice(1).map((line) => Number(line.split(',')[0]))).toEqual([0, 1, 2, 3, 4]);
  });

  it('writes the best params as a ready spec, the report with the views, PBO and the deflated Sharpe', () => {
    const best = JSON.parse(fs.readFileSync(resumed.bestSpec, 'utf8'));
    const parsed = parseSpec(best);
    expect(parsed.model.params.maxDepth).toBe(resumed.best[0].params['model.params.maxDepth']);
    expect(parsed.strategy.params.buyThreshold).toBe(resumed.best[0].params['strategy.params.buyThreshold']);
    // the data path still points at the same file from the tune folder
    expect(path.resolve(path.dirname(resumed.bestSpec), best.data.path)).toBe(path.join(dir, 'btc.csv'));
    const report = fs.readFileSync(path.join(resumed.outDir, 'report.html'), 'utf8');
    for (const title of ['Optimization history', 'Parallel coordinate', 'probability of backtest overfitting']) expect(report.toLowerCase()).toContain(title.toLowerCase());
    if (resumed.trials.complete >= 2) {
      expect(resumed.probabilityOfBacktestOverfitting).toBeGreaterThanOrEqual(0);
      expect(resumed.probabilityOfBacktestOverfitting).toBeLessThanOrEqual(1);
      expect(resumed.deflatedSharpe!.trials).toBe(resumed.trials.complete);
    }
    // intermediate values: the stitched account's Sharpe after each window, in the journal
    const journal = fs.readFileSync(path.join(resumed.outDir, 'study.journal'), 'utf8');
    expect(journal).toMatch(/"op":"report".*"step":0/);
  });
});

describe('candlelab tune on a CPCV spec', () => {
  it('summary.json and report.html carry PBO across the CPCV paths next to the CSCV figure, each naming its method', async () => {
    const spec = writeSpec('cpcv', { method: 'cpcv', groups: 4, testGroups: 2 });
    const out = path.join(dir, 'cpcv-out');
    const run = await cli(['tune', spec, '--space', space, '--trials', '3', '--pruner', 'none', '--out', out, '--json'], workspaceEnv(path.join(dir, 'ws-cpcv')));
    expect(run.status, run.stderr).toBe(0);
    const summary = JSON.parse(fs.readFileSync(path.join(out, 'summary.json'), 'utf8'));
    expect(summary.trials.complete).toBe(3);
    const paths = summary.pathProbabilityOfBacktestOverfitting;
    // 4 groups, 2 tested: C(4, 2) = 6 splits, 2/4·6 = 3 backtest paths
    expect(paths).toMatchObject({ paths: 3, trials: 3 });
    expect(paths.method).toMatch(/CPCV backtest paths/);
    expect(paths.logits).toHaveLength(3);
    expect(paths.pbo).toBe(paths.logits.filter((l: number) => l <= 0).length / 3);
    // recompute it from the trials' per-path Sharpe ratios: the in-sample winner of each path, ranked on it
    const matrix = [0, 1, 2].map((p) => [0, 1, 2].map((t) => JSON.parse(fs.readFileSync(path.join(out, 'returns', `${t}.paths.json`), 'utf8'))[p]));
    for (let p = 0; p < 3; p++) {
      const inSample = [0, 1, 2].map((t) => [0, 1, 2].filter((q) => q !== p).reduce((sum, q) => sum + matrix[q][t], 0) / 2);
      expect(paths.chosenTrials[p]).toBe(inSample.indexOf(Math.max(...inSample)));
    }
    expect(summary.probabilityOfBacktestOverfitting.method).toMatch(/^CSCV/);
    expect(JSON.parse(run.stdout).pathProbabilityOfBacktestOverfitting).toBe(paths.pbo);
    const report = fs.readFileSync(path.join(out, 'report.html'), 'utf8');
    expect(report).toContain('probability of backtest overfitting across the CPCV paths');
    expect(report).toMatch(/CSCV over 3 trials/);
  });
});

describe('candlelab tune without validation', () => {
  it('optimizes the validation log-loss, with the boosting rounds reported for pruning', async () => {
    const spec = writeSpec('plain');
    const out = path.join(dir, 'plain-out');
    const run = await cli(['tune', spec, '--space', space, '--trials', '3', '--out', out, '--json'], workspaceEnv(path.join(dir, 'ws2')));
    expect(run.status, run.stderr).toBe(0);
    const summary: Summary = JSON.parse(run.stdout);
    expect(summary.trials.total).toBe(3);
    expect(run.stderr).toMatch(/objective logLoss \(minimize\)/);
    const reports = fs.readFileSync(path.join(out, 'study.journal'), 'utf8').split('\n').filter((l) => l.includes('"op":"report"'));
    expect(reports.length).toBeGreaterThanOrEqual(3 * 10);
  });

  it('bad input fails at once with one line naming the fix', async () => {
    const spec = writeSpec('bad');
    const badSpace = path.join(dir, 'bad-space.json');
    fs.writeFileSync(badSpace, JSON.stringify({ 'model.params.maxDeep': { type: 'int', low: 2, high: 5 } }));
    const run = await cli(['tune', spec, '--space', badSpace, '--trials', '2'], workspaceEnv(path.join(dir, 'ws3')));
    expect(run.status).not.toBe(0);
    expect(run.stderr).toMatch(/space entry 'model.params.maxDeep' = 2: model core\/xgboost: unknown param 'maxDeep'; its params are: rounds, maxDepth/);
    const objective = await cli(['tune', spec, '--space', space, '--trials', '2', '--objective', 'sharp'], workspaceEnv(path.join(dir, 'ws3')));
    expect(objective.stderr).toMatch(/'sharp' is not a run metric \(did you mean 'sharpe'\?\)/);
  });
});

describe('candlelab tune with two objectives', () => {
  it('runs NSGA-II and reports the Pareto front', async () => {
    const spec = writeSpec('pareto', { method: 'walk-forward', train: '30d', test: '20d' });
    const out = path.join(dir, 'pareto-out');
    const run = await cli(['tune', spec, '--space', space, '--trials', '4', '--objective', 'sharpe,maxDrawdown', '--out', out, '--json'], workspaceEnv(path.join(dir, 'ws-pareto')));
    expect(run.status, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout);
    expect(run.stderr).toMatch(/nsga2 sampler, none pruner/);
    expect(summary.objectives.map((o: { direction: string }) => o.direction)).toEqual(['maximize', 'minimize']);
    expect(summary.best.length).toBeGreaterThanOrEqual(1);
    // no trial on the front is dominated by another complete trial
    const trials = loadStudy({ storage: path.join(out, 'study.journal'), studyName: 'pareto' }).trials.filter((t) => t.state === 'COMPLETE');
    for (const best of summary.best) {
      const dominated = trials.some((t) => t.values![0] >= best.values[0] && t.values![1] <= best.values[1] && (t.values![0] > best.values[0] || t.values![1] < best.values[1]));
      expect(dominated).toBe(false);
    }
    expect(fs.readFileSync(path.join(out, 'report.html'), 'utf8')).toMatch(/Pareto front/);
  });
});

describe('search spaces and objectives', () => {
  it('conditional entries must follow what they depend on', () => {
    expect(() => parseSearchSpace({ a: { type: 'int', low: 1, high: 2, when: { b: 1 } }, b: { type: 'int', low: 1, high: 2 } })).toThrow(/list 'b' first/);
    expect(() => parseSearchSpace({ a: { type: 'float', low: 2, high: 1 } })).toThrow(/'a'/);
  });

  it('objective names map to run metrics with a direction', () => {
    expect(parseObjectives(undefined, { validated: true, task: 'classification' })).toEqual([{ name: 'sharpe', path: 'validation.outOfSample.backtest.sharpe', direction: 'maximize' }]);
    expect(parseObjectives(undefined, { validated: false, task: 'regression' })).toEqual([{ name: 'rmse', path: 'regression.valid.rmse', direction: 'minimize' }]);
    expect(parseObjectives('sharpe,maxDrawdown', { validated: true, task: 'classification' }).map((o) => o.direction)).toEqual(['maximize', 'minimize']);
    expect(parseObjectives('validation.outOfSample.backtest.sortino:min', { validated: true, task: 'classification' })[0].direction).toBe('minimize');
  });
});

describe('candlelab tune survives SIGKILL', () => {
  it('killed while a trial runs, the same command resumes: finished trials kept, the running one failed and re-run with its params', async () => {
    const spec = writeSpec('crash', { method: 'walk-forward', train: '30d', test: '20d' });
    const out = path.join(dir, 'crash-out');
    const journal = path.join(out, 'study.journal');
    const env = { ...process.env, ...workspaceEnv(path.join(dir, 'ws-crash')) };
    const child = spawn(CLI_BIN, ['tune', spec, '--space', space, '--trials', '4', '--jobs', '2', '--out', out], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    // The trial worker processes inherit the CLI's stderr: the pipe closes only when the CLI and every
    // worker are gone (a worker exits when its parent's IPC channel goes, but may first finish a step).
    const allGone = new Promise<void>((resolve) => child.stderr!.on('close', () => resolve()));
    // Wait, on every append to the journal, for a moment with a finished trial, a running one and trials
    // still to start (so a trial finishing between this check and the kill is followed by a new one);
    // then kill.
    const states = (): string[] => {
      try {
        return loadStudy({ storage: journal, studyName: 'crash' }).trials.map((t) => t.state);
      } catch {
        return []; // the journal is not there yet
      }
    };
    await new Promise<void>((resolve, reject) => {
      const check = () => {
        const now = states();
        const finished = now.filter((state) => state === 'COMPLETE' || state === 'PRUNED').length;
        if (finished >= 1 && finished <= 2 && now.includes('RUNNING')) {
          watcher.close();
          resolve();
        }
      };
      fs.mkdirSync(out, { recursive: true });
      const watcher = fs.watch(out, check);
      child.on('exit', () => reject(new Error(`tune exited before a trial finished: ${stderr}`)));
      check();
    });
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    // Read the journal and resume only when no process of the killed run can still write to it.
    await allGone;
    const killed = loadStudy({ storage: journal, studyName: 'crash' }).trials;
    const running = killed.filter((t) => t.state === 'RUNNING');
    const finished = killed.filter((t) => t.state === 'COMPLETE' || t.state === 'PRUNED');
    expect(running.length).toBeGreaterThanOrEqual(1);

    const resumed = await cli(['tune', spec, '--space', space, '--trials', '4', '--jobs', '2', '--out', out, '--json'], workspaceEnv(path.join(dir, 'ws-crash')));
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stderr).toMatch(/continuing study 'crash'/);
    const trials = loadStudy({ storage: journal, studyName: 'crash' }).trials;
    // the finished trials are kept as they were
    for (const t of finished) expect(trials[t.number]).toMatchObject({ state: t.state, values: t.values, params: t.params });
    // the trial the kill interrupted is failed and re-run with the same params
    // on failure, say what each trial was at the kill and after the resume
    const listed = (list: typeof trials) => list.map((t) => `#${t.number} ${t.state}${t.systemAttrs.failed_trial !== undefined ? ` (retry of #${t.systemAttrs.failed_trial})` : ''}`).join(', ');
    const story = `at the kill: ${listed(killed)}; after the resume: ${listed(trials)}; resume stderr: ${resumed.stderr.slice(-2000)}`;
    for (const t of running) {
      expect(trials[t.number]?.state, story).toBe('FAIL');
      expect(trials.some((retry) => retry.number > t.number && JSON.stringify(retry.params) === JSON.stringify(t.params))).toBe(true);
    }
    expect(trials.filter((t) => t.state === 'COMPLETE' || t.state === 'PRUNED').length).toBe(4);
    expect(trials.some((t) => t.state === 'RUNNING')).toBe(false);
  });
});
