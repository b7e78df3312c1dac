import { describe, expect, it } from 'vitest';
import { deepar, type NeuralSequenceModel } from '../src/models/neural/neural-model';
import { logGamma, studentTCdf, studentTQuantile } from '../src/models/neural/distributions';
import { normalQuantile } from '../src/validation/overfitting';
import { quantileThreshold, returnThreshold } from '../src/strategy/core-strategies';
import { checkModel, checkStrategy } from '../src/testing/contracts';
import { regressionMetrics } from '../src/models/regression-metrics';
import { noisyTask, rowsOf } from './neural-helpers';

/**
 * core/deepar: an LSTM emitting a Gaussian or Student-t per bar, trained by negative log-likelihood,
 * recovers a known distribution's quantiles; core/quantile-threshold trades on them.
 */

const QUANTILES = [0.1, 0.5, 0.9];

/** Fit on a task with known per-row μ and σ; mean |predicted − true| quantile error and empirical coverage on held-out rows. */
async function calibration(distribution: 'gaussian' | 'student-t', nu?: number) {
  const task = noisyTask(2400, 1, nu);
  const segment = (a: number, b: number) => ({ X: rowsOf(task.X, a, b), y: task.y.slice(a, b) });
  const data = { featureNames: ['f0', 'f1'], train: segment(0, 1600), valid: segment(1600, 1900) };
  const model = (await deepar.fit(data, deepar.params.parse({ seqLen: 3, units: 12, denseUnits: 12, epochs: 10, batchSize: 64, learningRate: 0.02, patience: 4, distribution, quantiles: QUANTILES }), { seed: 1 })) as NeuralSequenceModel;
  try {
    const predictions = await model.predict(segment(1900, 2400).X);
    const width = 1 + QUANTILES.length;
    let error = 0;
    let count = 0;
    let ordered = true;
    const below = QUANTILES.map(() => 0);
    for (let i = 3; i < 500; i++) {
      const r = 1900 + i;
      QUANTILES.forEach((q, k) => {
        const z = nu ? studentTQuantile(q, nu) : normalQuantile(q);
        const predicted = predictions[i * width + 1 + k];
        error += Math.abs(predicted - (task.mu[r] + task.sigma[r] * z));
        count++;
        if (task.y[r] < predicted) below[k]++;
      });
      for (let k = 1; k < width - 1; k++) if (!(predictions[i * width + k] < predictions[i * width + k + 1])) ordered = false;
    }
    return { model, error: error / count, coverage: below.map((b) => b / 497), ordered, predictions };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

describe('core/deepar', () => {
  it('Student-t and normal helpers agree with known values', () => {
    expect(logGamma(5)).toBeCloseTo(Math.log(24), 10);
    expect(logGamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 10);
    // t(1) is Cauchy: F(1) = 3/4; t(3) 90% quantile 1.637744; large ν tends to the normal
    expect(studentTCdf(1, 1)).toBeCloseTo(0.75, 10);
    expect(studentTQuantile(0.9, 3)).toBeCloseTo(1.6377443536962102, 9);
    expect(studentTQuantile(0.1, 3)).toBeCloseTo(-1.6377443536962102, 9);
    expect(studentTQuantile(0.975, 1e6)).toBeCloseTo(normalQuantile(0.975), 5);
  });

  it('Gaussian NLL training recovers the true quantiles (ordered, calibrated); column 0 is the point forecast', async () => {
    const { model, error, coverage, ordered, predictions } = await calibration('gaussian');
    try {
      expect(model.outputNames).toEqual(['value', 'q0.1', 'q0.5', 'q0.9']);
      expect(model.info.historyMetric).toMatch(/negative log-likelihood/);
      // the true σ is 0.3 … ~1.5 (mean 0.62)
      expect(error).toBeLessThan(0.2);
      expect(Math.abs(coverage[0] - 0.1)).toBeLessThan(0.05);
      expect(Math.abs(coverage[1] - 0.5)).toBeLessThan(0.07);
      expect(Math.abs(coverage[2] - 0.9)).toBeLessThan(0.05);
      expect(ordered).toBe(true);
      // a symmetric distribution: the median column equals the point forecast
      for (let i = 0; i < 50; i++) expect(predictions[i * 4 + 2]).toBeCloseTo(predictions[i * 4], 5);
      // regression metrics read column 0 of several outputs
      const y = Float64Array.from({ length: 500 }, (_, i) => predictions[i * 4] + 0.1);
      expect(regressionMetrics(predictions, y).mae).toBeCloseTo(0.1, 5);
    } finally {
      model.dispose();
    }
  }, 30_000);

  it('Student-t NLL training recovers heavy-tailed quantiles (ν = 3)', async () => {
    const { model, error, coverage, ordered } = await calibration('student-t', 3);
    try {
      expect(error).toBeLessThan(0.25);
      expect(Math.abs(coverage[0] - 0.1)).toBeLessThan(0.05);
      expect(Math.abs(coverage[2] - 0.9)).toBeLessThan(0.05);
      expect(ordered).toBe(true);
    } finally {
      model.dispose();
    }
  }, 30_000);

  it('passes the model contract (save → load, seeded, no look-ahead) with quantile outputs', async () => {
    const result = await checkModel(deepar, { params: { ...deepar.exampleParams, distribution: 'student-t', quantiles: [0.05, 0.95] } });
    expect(result.checks).toContain('save → load = same predictions');
    expect(() => deepar.params.parse({ quantiles: [0.9, 0.1] })).toThrow(/increase/);
  }, 30_000);
});

describe('core/quantile-threshold', () => {
  it('enters long only when the low quantile clears the costs, short when the high quantile is below minus the costs', () => {
    const candles = { length: 4 } as never;
    const predictions = Float32Array.of(
      0.01, 0.004, 0.01, 0.02, // low 0.4% > 0.3%: long
      0.01, 0.002, 0.01, 0.02, // low 0.2%: flat
      -0.01, -0.02, -0.01, -0.004, // high −0.4% < −0.3%: short
      -0.01, -0.02, -0.01, -0.002, // flat
    );
    const out = quantileThreshold.targets({ candles, features: candles, predictions }, quantileThreshold.params.parse({ allowShort: true }));
    expect(Array.from((out as { targets: Float64Array }).targets)).toEqual([1, 0, -1, 0]);
    expect(() => quantileThreshold.targets({ candles, features: candles, predictions: new Float32Array(4) }, quantileThreshold.params.parse({}))).toThrow(/column 1 but the model gives 1 column/);
    expect(() => quantileThreshold.params.parse({ lowColumn: 3, highColumn: 1 })).toThrow(/lowColumn must be below/);
  });

  it('passes the strategy contract (incremental = batch, no look-ahead) on four-column predictions; return-threshold reads column 0', () => {
    expect(checkStrategy(quantileThreshold, { outputs: 4, params: { roundTripCost: 0.0005, allowShort: true } }).checks.length).toBeGreaterThan(0);
    expect(checkStrategy(returnThreshold, { outputs: 4 }).checks.length).toBeGreaterThan(0);
  });
});
