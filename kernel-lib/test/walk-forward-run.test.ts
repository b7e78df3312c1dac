import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readArrowFile } from '../src/data/arrow-file';
import { generateSyntheticCandles } from '../src/data/synthetic';
import { writeCandlesCsv } from '../src/data/csv-file';
import { Frame, type Candles } from '../src/frame/frame';
import { buildFeatures, buildLabels, createRunContext, loadCandles } from '../src/runner/stages';
import { splitValidation, trainFolds } from '../src/runner/validation-run';
import { runFingerprint, type RunRecord } from '../src/runner/run-record';
import type { SpecInput } from '../src/spec/spec';
import { ModelRegistry } from '../src/registry/model-registry';
import { cli, listDir, tempDir, workspaceEnv } from './helpers';

const dir = tempDir('walk-forward');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A small walk-forward spec: 3,000 hourly bars, GARCH among the features (a fitted feature), XGBoost. */
function spec(dataFile: string, validation: Record<string, unknown>): SpecInput {
  return {
    name: 'wf-test',
    seed: 7,
    data: { source: 'file', path: dataFile, symbol: 'BTC/USDT', timeframe: '1h' },
    features: [
      { id: 'core/returns', params: { periods: [1, 4, 24] } },
      { id: 'core/rsi', params: { period: 14 } },
      { id: 'core/garch', params: { minFitRows: 120 } },
    ],
    label: { id: 'core/direction', params: { bars: 5, threshold: 0.004 } },
    split: { train: 0.8, valid: 0.2, test: 0.2 },
    validation: validation as SpecInput['validation'],
    model: { id: 'core/xgboost', params: { rounds: 40, maxDepth: 3, learningRate: 0.1, earlyStoppingRounds: 10, threads: 1 } },
    strategy: { id: 'core/probability-threshold', params: { buyThreshold: 0.4, allowShort: true } },
    backtest: { initialCash: 10_000, commissionBps: 10 },
  } as SpecInput;
}

const candles = generateSyntheticCandles({ seed: 5, bars: 3000 });
const dataFile = path.join(dir, 'btc.csv');
writeCandlesCsv(dataFile, candles);

describe('candlelab run with "validation": walk-forward', () => {
  const workspace = path.join(dir, 'ws');
  const env = workspaceEnv(workspace);
  const specFile = path.join(dir, 'wf.json');
  fs.writeFileSync(specFile, JSON.stringify(spec(dataFile, { method: 'walk-forward', train: '40d', test: '20d', mode: 'rolling', embargo: '1%' })));
  let runs: Array<{ fingerprint: string; runDir: string }>;
  beforeAll(async () => {
    runs = [];
    for (let i = 0; i < 2; i++) {
      const result = await cli(['run', specFile, '--json', '--progress', 'quiet'], env);
      expect(result.stderr).not.toMatch(/error/i);
      expect(result.status).toBe(0);
      runs.push(JSON.parse(result.stdout));
    }
  });

  it('run twice, gives one fingerprint, and the fingerprint covers every window', () => {
    expect(runs[0].fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(runs[0].fingerprint).toBe(runs[1].fingerprint);
    expect(runs[0].runDir).not.toBe(runs[1].runDir);
    const records: RunRecord[] = runs.map((r) => JSON.parse(fs.readFileSync(path.join(r.runDir, 'run.json'), 'utf8')));
    expect(records[0].fingerprint).toBe(runs[0].fingerprint);
    expect(records[1].validation).toEqual(records[0].validation);
    expect(fs.readFileSync(path.join(runs[1].runDir, 'predictions.arrow'))).toEqual(fs.readFileSync(path.join(runs[0].runDir, 'predictions.arrow')));
    // the validation record is hashed: a change in any one window's rows or metrics changes the fingerprint
    const predictions = { start: 0, rows: 1, columns: ['p'], values: Float32Array.of(0.5), microsecondsPerRow: 0 };
    const validation = records[0].validation!;
    const base = runFingerprint(predictions, [], records[0].metrics, validation);
    expect(runFingerprint(predictions, [], records[0].metrics, structuredClone(validation))).toBe(base);
    expect(runFingerprint(predictions, [], records[0].metrics)).not.toBe(base);
    for (let k = 0; k < validation.windows.length; k++) {
      const purged = structuredClone(validation);
      purged.windows[k].rows.purged += 1;
      expect(runFingerprint(predictions, [], records[0].metrics, purged), `window ${k} rows`).not.toBe(base);
      const traded = structuredClone(validation);
      traded.windows[k].metrics.trading!.totalReturn += 1e-12;
      expect(runFingerprint(predictions, [], records[0].metrics, traded), `window ${k} metrics`).not.toBe(base);
    }
  });

  it('records every window: ISO times, row counts, purge, metrics; and the stitched out-of-sample numbers', () => {
    const record: RunRecord = JSON.parse(fs.readFileSync(path.join(runs[0].runDir, 'run.json'), 'utf8'));
    const v = record.validation!;
    expect(v.method).toBe('core/walk-forward');
    // 3,000 bars = 125 days; the first usable bar is row 120 (GARCH's warm-up): 40d train + four 20d tests fill the 120 days left → 4 windows
    expect(v.windows.length).toBe(4);
    const day = 86_400_000;
    const first = Date.parse(v.windows[0].trainStart);
    expect(first).toBe(candles.time[120]);
    v.windows.forEach((w, k) => {
      expect(Date.parse(w.testStart)).toBe(first + (40 + 20 * k) * day);
      expect(Date.parse(w.trainStart)).toBe(first + 20 * k * day);
      // purged rows end the training block before the test block starts
      expect(Date.parse(w.trainEnd)).toBeLessThanOrEqual(Date.parse(w.testStart) - 5 * 3_600_000);
      expect(w.rows.purged).toBeGreaterThanOrEqual(5);
      expect(w.rows.train + w.rows.valid + w.rows.purged).toBe(40 * 24);
      expect(w.metrics.test).toHaveProperty('rocAucMacro');
      expect(w.metrics.trading!.bars).toBe(w.rows.test);
    });
    // the test blocks tile the out-of-sample range to the last bar
    expect(v.windows[3].testEnd).toBe(new Date(candles.time[2999] + 3_600_000).toISOString());
    expect(v.outOfSample.from).toBe(v.windows[0].testStart);
    expect(v.outOfSample.rows).toBe(v.windows.reduce((sum, w) => sum + w.rows.test, 0));
    // the headline metrics are the stitched account's, traded over the whole out-of-sample range
    expect(record.metrics.backtest).toEqual(v.outOfSample.backtest);
    expect(record.strategy.segment.bars).toBe(v.outOfSample.rows);
    // window returns compound to the account's return (one continuous account, positions carried)
    const compounded = v.windows.reduce((acc, w) => acc * (1 + w.metrics.trading!.totalReturn), 1) - 1;
    expect(compounded).toBeCloseTo(record.metrics.backtest.totalReturn, 9);
  });

  it('registers the last window\'s model and writes which window predicted each row', () => {
    const record: RunRecord = JSON.parse(fs.readFileSync(path.join(runs[0].runDir, 'run.json'), 'utf8'));
    const registry = new ModelRegistry(path.join(workspace, 'models'));
    const version = registry.get(record.model.registered!.name, record.model.registered!.version);
    expect((version.metrics as { validation: { windows: number } }).validation.windows).toBe(4);
    expect(record.split.train.from >= record.validation!.windows[3].trainStart).toBe(true);
    const predictions = readArrowFile(path.join(runs[0].runDir, 'predictions.arrow'));
    const window = predictions.column('window');
    expect(window[0]).toBe(0);
    expect(window[window.length - 1]).toBe(3);
    expect(listDir(runs[0].runDir)).toContain('report.html');
    const report = fs.readFileSync(path.join(runs[0].runDir, 'report.html'), 'utf8');
    expect(report).toContain('Metrics per window');
    expect(report).toContain('model 3');
  });
});

describe('every fitted part sees its window\'s training rows only', () => {
  it('rewriting prices after window 0\'s test block changes nothing window 0 predicted (GARCH and the model refitted per window)', async () => {
    const predictionsOf = async (data: Candles) => {
      const file = path.join(dir, `leak-${data === candles ? 'base' : 'rewritten'}.csv`);
      writeCandlesCsv(file, data);
      const context = createRunContext(spec(file, { method: 'walk-forward', train: 800, test: 400 }), { progress: 'quiet', log: () => {}, workspace: { root: path.join(dir, 'ws2') } });
      const loaded = loadCandles(context);
      const features = buildFeatures(context, loaded);
      const labels = buildLabels(context, loaded);
      const split = splitValidation(context, loaded, features, labels);
      const training = await trainFolds(context, loaded, features, labels, split);
      training.last.model.dispose();
      return { split, fold0: training.folds[0] };
    };
    const base = await predictionsOf(candles);
    const testEnd = base.split.folds[0].test[0].end;
    const close = candles.column('close').slice();
    const high = candles.column('high').slice();
    const low = candles.column('low').slice();
    const open = candles.column('open').slice();
    for (let i = testEnd; i < candles.length; i++) {
      const factor = 1 + 0.2 * Math.sin(i / 7);
      close[i] *= factor;
      open[i] *= factor;
      high[i] = Math.max(high[i] * factor, open[i], close[i]);
      low[i] = Math.min(low[i] * factor, open[i], close[i]);
    }
    const rewritten = Frame.fromColumns(candles.time, { open, high, low, close, volume: candles.column('volume') }, candles.meta) as Candles;
    const changed = await predictionsOf(rewritten);
    expect(changed.split.folds[0]).toEqual(base.split.folds[0]);
    expect(Array.from(changed.fold0.predictions[0].values)).toEqual(Array.from(base.fold0.predictions[0].values));
    expect(Array.from(changed.fold0.fittedColumns!.garch_vol.subarray(0, testEnd))).toEqual(Array.from(base.fold0.fittedColumns!.garch_vol.subarray(0, testEnd)));
  });
});

describe('an ensemble in walk-forward', () => {
  it('refits the members and the stacking meta-learner inside each window\'s training rows', async () => {
    const ensemble = {
      ...spec(dataFile, { method: 'walk-forward', train: 900, test: 600 }),
      model: {
        id: 'core/ensemble',
        params: {
          method: 'stacking',
          members: [
            { id: 'core/xgboost', params: { rounds: 20, maxDepth: 2, threads: 1 } },
            { id: 'core/xgboost', params: { rounds: 20, maxDepth: 4, threads: 1 } },
          ],
          metaLearner: 'logistic',
          folds: 3,
        },
      },
    } as SpecInput;
    const context = createRunContext(ensemble, { progress: 'quiet', log: () => {}, workspace: { root: path.join(dir, 'ws5') } });
    const candlesLoaded = loadCandles(context);
    const features = buildFeatures(context, candlesLoaded);
    const labels = buildLabels(context, candlesLoaded);
    const split = splitValidation(context, candlesLoaded, features, labels);
    const training = await trainFolds(context, candlesLoaded, features, labels, split);
    try {
      expect(training.folds.length).toBe(split.folds.length);
      expect(split.folds.length).toBeGreaterThanOrEqual(3);
      // the stacking folds live inside each window's fitting rows: their count is that window's, not the data's
      const info = training.last.model.info as { members: unknown[]; stacking?: { rows: number } };
      expect(info.members.length).toBe(2);
      const last = training.folds[training.folds.length - 1];
      const fitRows = last.fitRows.reduce((sum, r) => sum + r.end - r.start, 0);
      expect(fitRows).toBeLessThan(900);
      expect(last.predictions[0].values.length).toBe((last.fold.test[0].end - last.fold.test[0].start) * 3);
    } finally {
      training.last.model.dispose();
    }
  });
});

describe('CPCV and purged k-fold runs', () => {
  it('CPCV: C(N,k) folds, k/N·C(N,k) backtest paths with their Sharpe spread and deflated Sharpe', async () => {
    const specFile = path.join(dir, 'cpcv.json');
    fs.writeFileSync(specFile, JSON.stringify(spec(dataFile, { method: 'cpcv', groups: 5, testGroups: 2, embargo: 10 })));
    const result = await cli(['run', specFile, '--json', '--progress', 'quiet'], workspaceEnv(path.join(dir, 'ws3')));
    expect(result.status).toBe(0);
    const summary = JSON.parse(result.stdout);
    const record: RunRecord = JSON.parse(fs.readFileSync(path.join(summary.runDir, 'run.json'), 'utf8'));
    const v = record.validation!;
    expect(v.windows.length).toBe(10);
    expect(v.paths.length).toBe(4);
    expect(v.windows.every((w) => w.testGroups!.length === 2 && w.rows.embargoed <= 20)).toBe(true);
    expect(v.pathSummary!.count).toBe(4);
    expect(v.pathSummary!.deflatedSharpe.trials).toBe(4);
    expect(v.pathSummary!.deflatedSharpe.probability).toBeGreaterThanOrEqual(0);
    expect(v.paths.every((p) => p.pieces[0].from === v.outOfSample.from)).toBe(true);
  });

  it('an unknown method or param fails at once, naming the fix', async () => {
    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify(spec(dataFile, { method: 'walkforward', train: 100, test: 50 })));
    const result = await cli(['run', bad, '--progress', 'quiet'], workspaceEnv(path.join(dir, 'ws4')));
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/validation.method 'walkforward'.*did you mean 'core\/walk-forward'/);
  });
});
