import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSpec, type SpecRun } from '../src/runner/run-spec';
import type { RunRecord } from '../src/runner/run-record';
import { featureMatrix } from '../src/validation/split';
import { lstmClassifier } from '../src/models/neural/neural-model';
import { cli, listDir, ROOT, tempDir, workspaceEnv } from './helpers';

const dir = tempDir('neural-runner');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const SPEC = path.join(ROOT, 'specs', 'lstm.json');
/** The shipped LSTM spec, made small: 1500 bars, a tiny network, two epochs. */
const SMALL = ['data.bars=1500', 'model.params.epochs=2', 'model.params.units=8', 'model.params.denseUnits=8', 'model.params.seqLen=12'];

describe('a spec with core/lstm through the runner', () => {
  const workspace = { dataDir: path.join(dir, 'data'), modelsDir: path.join(dir, 'models'), runsDir: path.join(dir, 'runs') };
  let first: SpecRun;
  let second: SpecRun;
  beforeAll(async () => {
    first = await runSpec(SPEC, { overrides: SMALL, workspace, progress: 'quiet', log: () => {} });
    second = await runSpec(SPEC, { overrides: SMALL, workspace, progress: 'quiet', log: () => {} });
  });

  it('trains, predicts every row after the warm-up, backtests and writes the run folder with the tfjs files', () => {
    const { record, results, runDir } = first;
    expect(record.model.id).toBe('core/lstm');
    expect(record.model.info).toMatchObject({ architecture: 'lstm', seqLen: 12, epochsTrained: 2 });
    const { predictions, candles, split } = results;
    expect(predictions.rows).toBe(candles.length - split.firstRow);
    expect(predictions.columns).toEqual(['SELL', 'HOLD', 'BUY']);
    expect(predictions.values.every(Number.isFinite)).toBe(true);
    expect(listDir(path.join(runDir, 'model'))).toEqual(['model-card.json', 'model.json', 'weights.bin']);
    const saved: RunRecord = JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8'));
    expect((saved.model.info.history as unknown[]).length).toBe(2);
    // The report plots the per-epoch training curve from the model's history.
    const report = fs.readFileSync(path.join(runDir, 'report.html'), 'utf8');
    expect(report).toContain('Training curve (log-loss)');
    expect(report).toContain('"epoch"');
  });

  it('is reproducible: the same spec gives the same fingerprint', () => {
    expect(second.record.fingerprint).toBe(first.record.fingerprint);
  });

  it('the saved model loads and gives the run predictions again', async () => {
    const { results, runDir } = first;
    const model = await lstmClassifier.load(path.join(runDir, 'model'), { seed: 0 });
    try {
      const X = featureMatrix(results.features.frame, results.split.firstRow, results.features.frame.length);
      expect(Array.from(await model.predict(X))).toEqual(Array.from(results.predictions.values));
    } finally {
      model.dispose();
    }
  });
});

describe('a regression spec with core/tcn-regressor', () => {
  it('runs end to end: one finite predicted value per row after the warm-up', async () => {
    const workspace = { dataDir: path.join(dir, 'data'), modelsDir: path.join(dir, 'models-regression'), runsDir: path.join(dir, 'runs-regression') };
    const overrides = [
      'data.bars=1500',
      'model.id=core/tcn-regressor',
      'model.params={"seqLen":12,"filters":8,"dilations":[1,2],"epochs":2}',
      'label={"id":"core/future-return"}',
      'strategy={"id":"core/return-threshold"}',
    ];
    const run = await runSpec(SPEC, { overrides, workspace, progress: 'quiet', log: () => {} });
    const { predictions, candles, split } = run.results;
    expect(run.record.model).toMatchObject({ id: 'core/tcn-regressor', info: { architecture: 'tcn', historyMetric: 'MSE (standardized target)' } });
    expect(predictions.columns).toEqual(['value']);
    expect(predictions.rows).toBe(candles.length - split.firstRow);
    expect(predictions.values.every(Number.isFinite)).toBe(true);
    expect(listDir(path.join(run.runDir, 'model'))).toEqual(['model-card.json', 'model.json', 'weights.bin']);
  });
});

describe('candlelab run specs/lstm.json (CLI)', () => {
  it('prints the backend choice and a progress bar over the epochs, then the headline metrics', async () => {
    const args = SMALL.flatMap((value) => ['--set', value]);
    const result = await cli(['run', 'specs/lstm.json', ...args, '--set', 'model.params.epochs=1', '--progress', 'lines'], workspaceEnv(path.join(dir, 'cli')));
    expect(result.status).toBe(0);
    expect(result.stderr).toMatch(/^tfjs backend: (wasm|cpu|tensorflow|tensorflow-gpu) /m);
    expect(result.stderr).toMatch(/^core\/lstm \(\w[\w-]*\) \[#+\] \d+\/\d+ best epoch 1 \(valid loss \d/m);
    expect(result.stdout).toMatch(/fingerprint:/);
  });
});
