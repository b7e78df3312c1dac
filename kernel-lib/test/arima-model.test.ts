import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { arimaClassifier, arimaRegressor } from '../src/models/arima/arima-model';
import type { Matrix } from '../src/models/model';
import { runSpec } from '../src/runner/run-spec';
import { runBaselinesOver } from '../src/runner/baselines';
import { checkFeature, checkModel, contractTrainingData } from '../src/testing/contracts';
import { arimaForecastFeature } from '../src/features/arima-forecast';
import { computeFeatures } from '../src/features/compute-features';
import { generateSyntheticCandles } from '../src/data/synthetic';
import { createRegistry } from '../src/plugins/core-plugin';
import { fitSarimax } from '../src/models/arima/sarimax-fit';
import { KalmanFilter, stateSpaceSystem } from '../src/models/arima/state-space';
import { ROOT, tempDir } from './helpers';

const dir = tempDir('candlelab-arima-model-');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const context = { seed: 7 };

describe('core/arima and core/arima-classifier: the model contract', () => {
  it('pass checkModel (shape, save → load, seeded, no look-ahead)', async () => {
    for (const definition of [arimaRegressor, arimaClassifier]) {
      const result = await checkModel(definition);
      expect(result.checks).toContain('no look-ahead (prefix predictions)');
    }
  });

  it('stream() row by row equals predict over the rows fed so far, and resumes from a snapshot', async () => {
    const data = contractTrainingData('classification');
    const model = await arimaClassifier.fit(data, arimaClassifier.params.parse({ column: 'f0', exog: ['f1'], p: 2, q: 1, threshold: 0.3 }), context);
    const X = data.valid.X;
    const batch = await model.predict(X);
    const stream = model.stream!();
    const width = 3;
    let snapshot: unknown;
    for (let r = 0; r < X.rows; r++) {
      const out = stream.next(X.values.slice(r * X.cols, (r + 1) * X.cols));
      for (let k = 0; k < width; k++) expect(out[k]).toBe(batch[r * width + k]);
      if (r === 99) snapshot = JSON.parse(JSON.stringify(stream.snapshot()));
    }
    const resumed = model.stream!();
    resumed.restore(snapshot);
    const out = resumed.next(X.values.slice(100 * X.cols, 101 * X.cols));
    for (let k = 0; k < width; k++) expect(out[k]).toBe(batch[100 * width + k]);
    expect(() => resumed.restore({ a: [1], P: [] })).toThrow(/snapshot does not fit/);
  });

  it('the regressor predicts the forecast summed over the labeler horizon, from the fitted parameters', async () => {
    const data = { ...contractTrainingData('regression'), horizon: 3 };
    const model = await arimaRegressor.fit(data, arimaRegressor.params.parse({ column: 'f0', p: 1, q: 0 }), context);
    const info = model.info as { parameters: Record<string, number>; horizon: number };
    expect(info.horizon).toBe(3);
    // the contract data's columns follow x_t = 0.7 x_{t−1} + u_t: the estimate lands near 0.7
    expect(info.parameters['ar.L1']).toBeGreaterThan(0.6);
    expect(info.parameters['ar.L1']).toBeLessThan(0.8);
    // AR(1) with constant c: after the last observation x, the next values are c + φ x, c + φ(c + φ x), …
    const X: Matrix = data.valid.X;
    const predictions = await model.predict(X);
    const { intercept: c, 'ar.L1': phi } = info.parameters;
    const last = X.values[(X.rows - 1) * X.cols];
    let value = last;
    let sum = 0;
    for (let j = 0; j < 3; j++) sum += value = c + phi * value;
    expect(predictions[X.rows - 1]).toBeCloseTo(sum, 5);
  });

  it('AutoARIMA picks the lowest AIC of its grid and records the candidates', async () => {
    const data = contractTrainingData('regression');
    const model = await arimaRegressor.fit(data, arimaRegressor.params.parse({ column: 'f0', auto: { p: [0, 1], q: [0, 1] } }), context);
    const info = model.info as { candidates: Array<{ p: number; q: number; aic: number }>; order: number[]; criterion: string };
    expect(info.candidates).toHaveLength(4);
    const best = info.candidates.reduce((a, b) => (b.aic < a.aic ? b : a));
    expect(info.order).toEqual([best.p, 0, best.q]);
    expect(info.criterion).toBe('aic');
    // an AR(1) series: the pure MA(0) fit is clearly worse than any fit with an AR term
    expect(info.candidates.find((c) => c.p === 0 && c.q === 0)!.aic).toBeGreaterThan(best.aic + 10);
  });

  it('a missing column fails with a message naming the column and the fix', async () => {
    const data = contractTrainingData('regression');
    await expect(arimaRegressor.fit(data, arimaRegressor.params.parse({}), context)).rejects.toThrow(/column "ret_1" is not a feature column .*core\/returns/);
    await expect(arimaRegressor.fit(data, arimaRegressor.params.parse({ column: 'f0', P: 1 }), context)).rejects.toThrow(/season length s ≥ 2/);
  });
});

describe('core/arima-forecast: a fitted feature', () => {
  const candles = generateSyntheticCandles({ seed: 4, bars: 1600 });
  const registry = createRegistry();

  it('passes checkFeature', () => {
    expect(checkFeature(arimaForecastFeature, { params: { minFitRows: 300, refitEvery: 400 } }).checks.length).toBeGreaterThan(1);
  });

  it('in a run, fits on the given rows and filters forward: row t is the forecast after the filter saw rows ≤ t', () => {
    const fitRows = [{ start: 0, end: 800 }];
    const column = computeFeatures(candles, [{ id: 'core/arima-forecast', params: { horizon: 3, minFitRows: 100 } }], registry, { fitRows }).frame.column('arima_fc_3');
    const close = candles.column('close');
    const returns = Array.from({ length: candles.length }, (_, t) => (t === 0 ? NaN : Math.log(close[t] / close[t - 1])));
    const order = { p: 1, d: 0, q: 1, P: 0, D: 0, Q: 0, s: 0, trend: 'c' as const, exog: 0 };
    const fit = fitSarimax(order, { y: returns.slice(1, 800) }, { maxIterations: 100 });
    const filter = new KalmanFilter(stateSpaceSystem(order, fit.params));
    for (let t = 1; t <= 1000; t++) filter.step(returns[t]);
    const expected = filter.forecast(3, undefined, false).means.reduce((a, b) => a + b, 0);
    expect(column[1000]).toBeCloseTo(expected, 14);
    expect(Number.isNaN(column[99])).toBe(true);
  });

  it('outside a run, refits on an expanding window: every prefix gives the same values', () => {
    const params = { minFitRows: 300, refitEvery: 400 };
    const full = computeFeatures(candles, [{ id: 'core/arima-forecast', params }], registry).frame.column('arima_fc_1');
    for (const length of [650, 1201]) {
      const prefix = computeFeatures(candles.slice(0, length), [{ id: 'core/arima-forecast', params }], registry).frame.column('arima_fc_1');
      expect(Array.from(prefix)).toEqual(Array.from(full.subarray(0, length)));
    }
    expect(Number.isFinite(full[300])).toBe(true);
  });
});

describe('specs/arima.json through the runner', () => {
  it('fits AutoARIMA on ret_1, predicts the 5-bar return, backtests and records baselines', async () => {
    const workspace = { dataDir: path.join(dir, 'data'), modelsDir: path.join(dir, 'models'), runsDir: path.join(dir, 'runs') };
    const { record, runDir } = await runSpec(path.join(ROOT, 'specs', 'arima.json'), { overrides: ['data.bars=3000', 'register=false'], workspace, progress: 'quiet', log: () => {} });
    expect(record.model.id).toBe('core/arima');
    expect((record.model.info as { candidates: unknown[] }).candidates).toHaveLength(6);
    expect((record.model.info as { horizon: number }).horizon).toBe(5);
    expect(record.metrics.regression!.test.rows).toBeGreaterThan(300);
    expect(fs.existsSync(path.join(runDir, 'model', 'arima.json'))).toBe(true);
    // the baseline table: the model and both baselines on the same test rows
    const baselines = record.baselines!;
    expect(baselines.task).toBe('regression');
    expect(baselines.model.rmse).toBeCloseTo(record.metrics.regression!.test.rmse, 12);
    for (const line of [baselines.model, baselines.naive, baselines.arima]) {
      expect(line.rows).toBe(record.metrics.regression!.test.rows);
      expect(line.rmse).toBeGreaterThan(0);
      expect(line.directionAccuracy).toBeGreaterThan(0.3);
    }
    // the naive repeat of a 5-bar return is a worse forecast than a near-zero ARIMA mean
    expect(baselines.naive.rmse!).toBeGreaterThan(baselines.arima.rmse!);
    const json = JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8'));
    expect(json.baselines.arima.order).toEqual([1, 0, 1]);
    expect(fs.readFileSync(path.join(runDir, 'report.html'), 'utf8')).toContain('Baselines (test segment)');
  });

  it('a classification run gets accuracy and direction-accuracy baselines', async () => {
    const workspace = { dataDir: path.join(dir, 'data'), modelsDir: path.join(dir, 'models'), runsDir: path.join(dir, 'runs') };
    const { record } = await runSpec(path.join(ROOT, 'specs', 'arima.json'), {
      overrides: ['data.bars=3000', 'register=false', 'label={"id":"core/direction","params":{"bars":5,"threshold":0.005}}', 'model={"id":"core/arima-classifier","params":{"p":1,"q":1}}', 'strategy={"id":"core/probability-threshold","params":{}}'],
      workspace,
      progress: 'quiet',
      log: () => {},
    });
    const baselines = record.baselines!;
    expect(baselines.task).toBe('classification');
    expect(baselines.model.accuracy).toBeCloseTo(record.metrics.classification!.test.accuracy, 12);
    for (const line of [baselines.naive, baselines.arima]) {
      expect(line.accuracy).toBeGreaterThan(0.2);
      expect(line.accuracy).toBeLessThan(0.8);
      expect(line.balancedAccuracy).toBeGreaterThan(0.2);
    }
  });

  it('a walk-forward run gets baselines over its stitched out-of-sample rows, ARIMA refitted per window', async () => {
    const workspace = { dataDir: path.join(dir, 'data'), modelsDir: path.join(dir, 'models'), runsDir: path.join(dir, 'runs') };
    const { record, results } = await runSpec(path.join(ROOT, 'specs', 'arima.json'), {
      overrides: ['data.bars=3000', 'register=false', 'model={"id":"core/xgboost-regressor","params":{"rounds":20,"maxDepth":3}}', 'validation={"method":"walk-forward","train":1200,"test":400,"step":400}'],
      workspace,
      progress: 'quiet',
      log: () => {},
    });
    const windows = record.validation!.windows.length;
    expect(windows).toBeGreaterThanOrEqual(3);
    const baselines = record.baselines!;
    expect(baselines.arima.windows).toBe(windows);
    expect(baselines.model.rmse).toBeCloseTo(record.metrics.regression!.test.rmse, 12);
    for (const line of [baselines.model, baselines.naive, baselines.arima]) expect(line.rows).toBe(record.metrics.regression!.test.rows);

    // one block cut in two with the same fit rows gives exactly the one-block numbers
    const { candles, labels, split, predictions } = results;
    const whole = runBaselinesOver(candles, labels, [{ fitStart: split.test.start - 800, fitEnd: split.test.start, start: split.test.start, end: split.test.end }], predictions);
    const middle = split.test.start + 137;
    const cut = runBaselinesOver(
      candles,
      labels,
      [
        { fitStart: split.test.start - 800, fitEnd: split.test.start, start: split.test.start, end: middle },
        { fitStart: split.test.start - 800, fitEnd: split.test.start, start: middle, end: split.test.end },
      ],
      predictions,
    );
    for (const key of ['model', 'naive', 'arima'] as const) {
      expect(cut[key].rmse).toBeCloseTo(whole[key].rmse!, 12);
      expect(cut[key].directionAccuracy).toBe(whole[key].directionAccuracy);
    }
  });
});
