import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSyntheticCandles } from '../src/data/synthetic';
import { computeFeatures } from '../src/features/compute-features';
import { createRegistry } from '../src/plugins/core-plugin';
import { directionLabels, DIRECTION_CLASSES } from '../src/labels/direction';
import { featureMatrix, splitChronological, trainingSegment } from '../src/validation/split';
import { xgboostClassifier, type XgboostClassifierModel } from '../src/models/xgboost/xgboost-classifier';
import { Booster, DMatrix, libxgboostVersion } from '../src/models/xgboost/libxgboost';
import { xgboostJsonToOnnx, ONNX_VALUE_OUTPUT } from '../src/models/onnx/tree-ensemble';
import { OnnxSession } from '../src/models/onnx/onnx-session';
import { classificationMetrics } from '../src/models/classification-metrics';
import type { Matrix, TrainingData } from '../src/models/model';
import { ModelError } from '../src/errors';
import { tempDir } from './helpers';

const dir = tempDir('models');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const candles = generateSyntheticCandles({ seed: 5, bars: 8000 });
const features = computeFeatures(
  candles,
  [{ id: 'core/returns' }, { id: 'core/rsi' }, { id: 'core/macd' }, { id: 'core/bollinger' }, { id: 'core/atr' }],
  createRegistry(),
);
const labels = directionLabels(candles.column('close'), 5, 0.005);
const split = splitChronological(candles.length, features.lookback, 5, { train: 0.7, valid: 0.15, test: 0.15 }, candles.time);
const data: TrainingData = {
  featureNames: features.names,
  classes: [...DIRECTION_CLASSES],
  train: trainingSegment(features.frame, labels, split.train),
  valid: trainingSegment(features.frame, labels, split.valid),
};
const testX = featureMatrix(features.frame, split.test.start, split.test.end);

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

/** The test matrix with some values missing (NaN), to exercise XGBoost's default directions. */
function withMissing(X: Matrix): Matrix {
  const values = X.values.slice();
  for (let i = 0; i < values.length; i += 7) values[i] = NaN;
  return { ...X, values };
}

describe('XGBoost classifier (libxgboost) served through ONNX Runtime', () => {
  let model: XgboostClassifierModel;
  beforeAll(async () => {
    model = (await xgboostClassifier.fit(data, xgboostClassifier.params.parse({ rounds: 120, maxDepth: 5, earlyStoppingRounds: 20 }), {
      seed: 3,
    })) as XgboostClassifierModel;
  });
  afterAll(() => model?.dispose());

  it('uses libxgboost 1.7', () => {
    expect(libxgboostVersion()).toMatch(/^1\.7\./);
  });

  it('ONNX Runtime and libxgboost agree on every probability (max abs diff ≤ 1e-5)', async () => {
    const onnx = await model.predict(testX);
    const native = model.predictNative(testX);
    expect(onnx.length).toBe(testX.rows * 3);
    expect(maxAbsDiff(onnx, native)).toBeLessThanOrEqual(1e-5);
    // Probabilities of a row sum to 1.
    for (let r = 0; r < testX.rows; r += 97) expect(onnx[3 * r] + onnx[3 * r + 1] + onnx[3 * r + 2]).toBeCloseTo(1, 5);
  });

  it('they agree on rows with missing values too (default split directions)', async () => {
    const X = withMissing(testX);
    expect(maxAbsDiff(await model.predict(X), model.predictNative(X))).toBeLessThanOrEqual(1e-5);
  });

  it('they agree on a single row', async () => {
    const one: Matrix = { values: testX.values.subarray(0, testX.cols), rows: 1, cols: testX.cols };
    expect(maxAbsDiff(await model.predict(one), model.predictNative(one))).toBeLessThanOrEqual(1e-5);
  });

  it('learns the volatility structure: validation log-loss below a uniform guess (ln 3)', async () => {
    const valid = classificationMetrics(await model.predict(data.valid.X), data.valid.y, DIRECTION_CLASSES);
    expect(valid.rows).toBe(data.valid.y.length);
    expect(valid.logLoss).toBeLessThan(Math.log(3));
    expect(valid.confusion.flat().reduce((a, b) => a + b, 0)).toBe(valid.rows);
  });

  it('saves XGBoost JSON + ONNX + a model card, and loads back to identical predictions', async () => {
    const target = path.join(dir, 'saved');
    const artifacts = await model.save(target);
    expect(artifacts.map((a) => a.path).sort()).toEqual(['model-card.json', 'model.json', 'model.onnx']);
    const json = JSON.parse(fs.readFileSync(path.join(target, 'model.json'), 'utf8'));
    expect(json.learner.objective.name).toBe('multi:softprob');
    expect(json.learner.learner_model_param.num_class).toBe('3');
    const loaded = (await xgboostClassifier.load(target, { seed: 0 })) as XgboostClassifierModel;
    try {
      expect(Array.from(await loaded.predict(testX))).toEqual(Array.from(await model.predict(testX)));
      expect(Array.from(loaded.predictNative(testX))).toEqual(Array.from(model.predictNative(testX)));
      expect(loaded.featureNames).toEqual(features.names);
    } finally {
      loaded.dispose();
    }
  });

  it('trains deterministically: same seed and threads, same model bytes', async () => {
    const params = xgboostClassifier.params.parse({ rounds: 30, subsample: 0.7, colsampleByTree: 0.7 });
    const a = (await xgboostClassifier.fit(data, params, { seed: 9 })) as XgboostClassifierModel;
    const b = (await xgboostClassifier.fit(data, params, { seed: 9 })) as XgboostClassifierModel;
    const c = (await xgboostClassifier.fit(data, params, { seed: 10 })) as XgboostClassifierModel;
    try {
      expect(Buffer.from(a.nativeJson).equals(Buffer.from(b.nativeJson))).toBe(true);
      expect(Buffer.from(a.nativeJson).equals(Buffer.from(c.nativeJson))).toBe(false);
    } finally {
      [a, b, c].forEach((m) => m.dispose());
    }
  });

  it('stops early on the validation split and keeps the best round', async () => {
    const early = (await xgboostClassifier.fit(data, xgboostClassifier.params.parse({ rounds: 2000, learningRate: 0.3, earlyStoppingRounds: 10 }), {
      seed: 1,
    })) as XgboostClassifierModel;
    try {
      expect(early.info.stoppedEarly).toBe(true);
      expect(early.info.roundsTrained).toBe((early.info.bestRound as number) + 11);
      const json = JSON.parse(Buffer.from(early.nativeJson).toString());
      expect(json.learner.gradient_booster.model.trees.length).toBe(3 * ((early.info.bestRound as number) + 1));
    } finally {
      early.dispose();
    }
  });

  it('refuses bad training data with clear errors, before native code', async () => {
    const params = xgboostClassifier.params.parse({ rounds: 5 });
    const fit = (override: Partial<TrainingData>) => xgboostClassifier.fit({ ...data, ...override }, params, { seed: 1 });
    await expect(fit({ train: { X: data.train.X, y: data.train.y.subarray(1) } })).rejects.toThrow(/feature rows but .* labels/);
    const nan = data.train.X.values.slice();
    nan[10] = NaN;
    await expect(fit({ train: { X: { ...data.train.X, values: nan }, y: data.train.y } })).rejects.toThrow(/contain NaN/);
    await expect(fit({ train: { X: data.train.X, y: new Float64Array(data.train.y.length).fill(1) } })).rejects.toThrow(/one class only \(HOLD\)/);
    await expect(model.predict({ values: new Float32Array(10), rows: 2, cols: 5 })).rejects.toThrow(ModelError);
    await expect(model.predict({ values: new Float32Array(10), rows: 2, cols: 5 })).rejects.toThrow(`expects ${features.names.length} features per row, got 5`);
  });
});

describe('XGBoost regressor export (TreeEnsembleRegressor)', () => {
  it('ONNX Runtime matches libxgboost on a reg:squarederror model (≤ 1e-5)', async () => {
    const target = new Float64Array(data.train.y.length);
    const close = candles.column('close');
    for (let i = 0; i < target.length; i++) {
      const row = split.train.start + i;
      target[i] = close[row + 5] / close[row] - 1;
    }
    const train = new DMatrix(data.train.X, target);
    const booster = Booster.create([train], { objective: 'reg:squarederror', max_depth: 4, eta: 0.1, nthread: 2, seed: 1, verbosity: 0 });
    try {
      for (let round = 0; round < 50; round++) booster.update(round, train);
      const session = await OnnxSession.create(xgboostJsonToOnnx(booster.toJson()), testX.cols);
      const X = withMissing(testX);
      const matrix = new DMatrix(X);
      const native = booster.predict(matrix);
      matrix.free();
      const onnx = await session.run(X, ONNX_VALUE_OUTPUT);
      expect(maxAbsDiff(onnx, native)).toBeLessThanOrEqual(1e-5);
      await session.dispose();
    } finally {
      booster.free();
      train.free();
    }
  });
});
