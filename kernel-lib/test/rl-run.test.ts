import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runSpec } from '../src/runner/run-spec';
import { featureMatrix } from '../src/validation/split';
import { ppoModel } from '../src/rl/rl-model';
import { rlPolicy } from '../src/strategy/core-strategies';
import { stepStrategy } from '../src/strategy/incremental';
import { strategyOutput, type StrategyDefinition } from '../src/plugins/define';
import { Frame } from '../src/frame/frame';
import { cli, listDir, ROOT, tempDir, workspaceEnv } from './helpers';

const dir = tempDir('rl-run');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const SPEC = path.join(ROOT, 'specs', 'ppo.json');
/** The shipped PPO spec, made small: 1500 bars, a tiny network, a few updates. */
const SMALL = ['data.bars=1500', 'model.params.updates=4', 'model.params.hidden=[8]', 'model.params.envs=4', 'model.params.rolloutSteps=32', 'model.params.evalEvery=2'];

describe('a spec with core/ppo and core/rl-policy through the runner', () => {
  it('trains inside the run, predicts the policy’s targets, backtests them and plots the learning curve', async () => {
    const workspace = { dataDir: path.join(dir, 'data'), modelsDir: path.join(dir, 'models'), runsDir: path.join(dir, 'runs') };
    const run = await runSpec(SPEC, { overrides: SMALL, workspace, progress: 'quiet', log: () => {} });
    const { record, results, runDir } = run;
    expect(record.model.id).toBe('core/ppo');
    expect(record.model.info).toMatchObject({ algorithm: 'ppo', returnColumn: 'ret_1', historyMetric: 'mean reward per bar', historyStep: 'update' });
    expect((record.model.info.history as unknown[]).length).toBe(2);
    const { predictions, strategy, backtest } = results;
    expect(predictions.columns).toEqual(['value']);
    expect(predictions.values.every((v) => v === -1 || v === 0 || v === 1)).toBe(true);
    // core/rl-policy holds exactly what the policy decided
    const traded = predictions.values.subarray(strategy.start - predictions.start, strategy.end - predictions.start);
    expect(Array.from(strategy.targets)).toEqual(Array.from(traded));
    expect(backtest.result.equity.length).toBe(strategy.end - strategy.start);
    expect(listDir(path.join(runDir, 'model'))).toEqual(['model-card.json', 'policy.bin']);
    const report = fs.readFileSync(path.join(runDir, 'report.html'), 'utf8');
    expect(report).toContain('Training curve (mean reward per bar)');
    expect(report).toContain('yaxis2');
    // the saved policy gives the run's predictions again
    const model = await ppoModel.load(path.join(runDir, 'model'), { seed: 0 });
    const X = featureMatrix(results.features.frame, results.split.firstRow, results.features.frame.length);
    expect(Array.from(await model.predict(X))).toEqual(Array.from(predictions.values));
  }, 30_000);

  it('fails at once, naming the remedy, when the features lack the return column', async () => {
    const workspace = { dataDir: path.join(dir, 'data'), modelsDir: path.join(dir, 'models'), runsDir: path.join(dir, 'runs-bad') };
    await expect(runSpec(SPEC, { overrides: [...SMALL, 'model.params.returnColumn=ret_2'], workspace, progress: 'quiet', log: () => {} })).rejects.toThrow(
      /'ret_2'.*core\/returns/,
    );
  });
});

describe('core/rl-policy', () => {
  it('decides bar by bar what its batch form decides', () => {
    const rows = 50;
    const predictions = Float32Array.from({ length: rows }, (_, i) => [-1, 0, 1, 0.5, Number.NaN][i % 5]);
    const time = Float64Array.from({ length: rows }, (_, i) => i * 3_600_000);
    const price = new Float64Array(rows).fill(100);
    const candles = Frame.fromColumns(time, { open: price, high: price, low: price, close: price, volume: price }, { symbol: 'X', timeframe: '1h' });
    const params = rlPolicy.params.parse({ maxExposure: 0.5 });
    const batch = strategyOutput(rlPolicy.targets({ candles, features: Frame.fromColumns(time, {}, candles.meta), predictions }, params)).targets;
    const stepper = stepStrategy(rlPolicy as unknown as StrategyDefinition, params);
    for (let i = 0; i < rows; i++) {
      const decision = stepper.next({ bar: { time: time[i], open: 100, high: 100, low: 100, close: 100, volume: 100 }, prediction: [predictions[i]] });
      expect(decision.target).toBe(batch[i]);
    }
    expect(Array.from(batch.subarray(0, 5))).toEqual([-0.5, 0, 0.5, 0.25, 0]);
  });
});

describe('candlelab run specs/ppo.json (CLI)', () => {
  it('shows the training progress (episodes, reward, loss) and writes the run', async () => {
    const result = await cli(['run', SPEC, ...SMALL.flatMap((o) => ['--set', o]), '--progress', 'lines'], workspaceEnv(path.join(dir, 'cli')));
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/core\/ppo \(\w+\).*episodes \d+ reward -?\d+\.\d+ loss \d+\.\d+/);
  }, 60_000);
});
