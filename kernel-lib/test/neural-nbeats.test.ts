import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nbeatsClassifier, nbeatsRegressor, type NeuralSequenceModel } from '../src/models/neural/neural-model';
import { basisMatrix } from '../src/models/neural/layers';
import { checkModel } from '../src/testing/contracts';
import { tempDir } from './helpers';
import { seasonalSeries, sequenceTask, taskData } from './neural-helpers';

const dir = tempDir('neural-nbeats');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function mse(predictions: Float32Array, y: Float64Array, skip: number): number {
  let sum = 0;
  for (let i = skip; i < y.length; i++) sum += (predictions[i] - y[i]) ** 2;
  return sum / (y.length - skip);
}

describe('N-BEATS', () => {
  it('the trend basis is a polynomial, the seasonality basis 1, cos, sin over the window time', () => {
    const trend = basisMatrix({ basis: 'trend', size: 3, channels: 1, steps: 4, offset: 0, scale: 4 });
    expect(Array.from(trend.subarray(6, 9))).toEqual([1, 0.5, 0.25]);
    const season = basisMatrix({ basis: 'seasonality', size: 3, channels: 1, steps: 4, offset: 4, scale: 4 });
    // t = 1 at step 0 of the forecast: cos 2π = 1, sin 2π ≈ 0
    expect(season[0]).toBe(1);
    expect(season[1]).toBeCloseTo(1, 6);
    expect(season[2]).toBeCloseTo(0, 6);
  });

  it('passes the model contract as classifier and regressor (generic stacks)', async () => {
    for (const definition of [nbeatsClassifier, nbeatsRegressor]) {
      const result = await checkModel(definition);
      expect(result.checks).toContain('no look-ahead (prefix predictions)');
    }
  }, 30_000);

  it('interpretable stacks (trend, seasonality) learn a seasonal series far better than its mean; save and load', async () => {
    const { data, test } = seasonalSeries(900, 1);
    const params = nbeatsRegressor.params.parse({ seqLen: 48, epochs: 12, batchSize: 32, learningRate: 0.003, patience: 6, stackType: 'interpretable', blocks: 2, units: 32, hiddenLayers: 2, harmonics: 6, forecastLength: 4 });
    const nbeats = (await nbeatsRegressor.fit(data, params, { seed: 1 })) as NeuralSequenceModel;
    try {
      const names = nbeats.network.layers.map((l) => l.name);
      expect(names).toEqual(expect.arrayContaining(['nbeats_0_trend_0_backcast', 'nbeats_1_seasonality_1_forecast', 'nbeats_1_seasonality_0_residual']));
      let mean = 0;
      for (const v of test.y) mean += v / test.y.length;
      let variance = 0;
      for (const v of test.y) variance += (v - mean) ** 2 / test.y.length;
      const predictions = await nbeats.predict(test.X);
      // the noise alone leaves 0.01, the series' variance is about 0.64; the test rows lie past the trained level
      expect(mse(predictions, test.y, 48)).toBeLessThan(0.25 * variance);
      await nbeats.save(path.join(dir, 'nbeats'));
      const loaded = await nbeatsRegressor.load(path.join(dir, 'nbeats'), { seed: 0 });
      expect(Array.from(await loaded.predict(test.X))).toEqual(Array.from(predictions));
      loaded.dispose();
    } finally {
      nbeats.dispose();
    }
  }, 30_000);

  it('trains through the shared machinery: early stopping, LR schedule, class weights, history', async () => {
    const task = sequenceTask(600, 3);
    const { data } = taskData(task, 'classification', 350, 150);
    const model = (await nbeatsClassifier.fit(data, nbeatsClassifier.params.parse({ seqLen: 6, epochs: 40, units: 16, hiddenLayers: 2, blocks: 1, stacks: 2, learningRate: 0.02, patience: 3, lrPatience: 1 }), { seed: 5 })) as NeuralSequenceModel;
    try {
      expect(model.info).toMatchObject({ architecture: 'nbeats', stoppedEarly: true, historyMetric: 'log-loss' });
      expect(Object.keys(model.info.classWeights as object)).toEqual(['SELL', 'HOLD', 'BUY']);
      const history = model.info.history as Array<{ learningRate: number }>;
      expect(history.length).toBeLessThan(40);
      expect(history.at(-1)!.learningRate).toBeLessThan(0.02);
      expect(model.inputRows).toBe(6);
    } finally {
      model.dispose();
    }
  }, 30_000);
});
