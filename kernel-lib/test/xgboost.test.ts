import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateSyntheticCandles } from '../src/data/synthetic';
import { computeFeatures } from '../src/features/compute-features';
import { createRegistry } from '../src/plugins/core-plugin';
import { directionLabels, DIRECTION_CLASSES } from '../src/labels/direction';
import { futureValues } from '../src/labels/core-labelers';
import { featureMatrix, splitChronological, trainingSegment } from '../src/validation/split';
import { featureImportance, xgboostClassifier, xgboostRegressor, type XgboostClassifierModel, type XgboostRegressorModel } from '../src/models/xgboost/xgboost-model';
import type { Matrix, TrainingData } from '../src/models/model';
import { runSpec } from '../src/runner/run-spec';
import { tempDir } from './helpers';

const dir = tempDir('xgboost');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const candles = generateSyntheticCandles({ seed: 15, bars: 6000 });
const features = computeFeatures(candles, [{ id: 'core/returns' }, { id: 'core/rsi' }, { id: 'core/macd' }, { id: 'core/bollinger' }, { id: 'core/volatility' }], createRegistry());
const split = splitChronological(candles.length, features.lookback, 5, { train: 0.7, valid: 0.15, test: 0.15 }, candles.time);
const close = candles.column('close');
const testX = featureMatrix(features.frame, split.test.start, split.test.end);

/** A regression target with signal: the next bars' return plus a share of today's RSI and volatility (so trees can learn it). */
const rsi = features.frame.column('rsi_14');
const vol = features.frame.column('volatility_24');
const target = Float64Array.from(futureValues(close, 5, 'return'), (r, i) => r + 0.001 * (rsi[i] - 50) + 2 * vol[i]);
const regressionData: TrainingData = {
  featureNames: features.names,
  train: trainingSegment(features.frame, target, split.train),
  valid: trainingSegment(features.frame, target, split.valid),
};
const classificationData: TrainingData = {
  featureNames: features.names,
  classes: [...DIRECTION_CLASSES],
  train: trainingSegment(features.frame, directionLabels(close, 5, 0.005), split.train),
  valid: trainingSegment(features.frame, directionLabels(close, 5, 0.005), split.valid),
};

const maxAbsDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
const rows = (X: Matrix, from: number, to: number): Matrix => ({ values: X.values.subarray(from * X.cols, to * X.cols), rows: to - from, cols: X.cols });

/** Run Python's xgboost (Debian's python3-xgboost) on a script; returns its JSON answer. */
function python(script: string, ...args: string[]): any {
  const result = spawnSync('/usr/bin/python3', ['-c', script, ...args], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`python3 failed: ${result.stderr}`);
  return JSON.parse(result.stdout);
}

describe('XGBoost regressor', () => {
  it('learns the target, early-stops on validation RMSE, and ONNX Runtime equals libxgboost (≤ 1e-5), also after save/load', async () => {
    const params = xgboostRegressor.params.parse({ rounds: 400, learningRate: 0.1, earlyStoppingRounds: 20 });
    const model = (await xgboostRegressor.fit(regressionData, params, { seed: 1 })) as XgboostRegressorModel;
    try {
      expect(model.task).toBe('regression');
      expect(model.info.metric).toBe('rmse');
      const predicted = await model.predict(testX);
      expect(predicted.length).toBe(testX.rows);
      expect(maxAbsDiff(predicted, model.predictNative(testX))).toBeLessThanOrEqual(1e-5);
      // better than the training mean on the test rows
      const y = target.subarray(split.test.start, split.test.end);
      const mean = regressionData.train.y.reduce((a, b) => a + b, 0) / regressionData.train.y.length;
      let sse = 0;
      let sseMean = 0;
      for (let i = 0; i < y.length; i++) {
        if (!Number.isFinite(y[i])) continue;
        sse += (predicted[i] - y[i]) ** 2;
        sseMean += (mean - y[i]) ** 2;
      }
      expect(sse).toBeLessThan(0.8 * sseMean);
      const history = model.info.history as Array<{ valid: number }>;
      expect(model.info.bestValidLoss).toBe(Math.min(...history.map((h) => h.valid)));
      const folder = path.join(dir, 'regressor');
      fs.mkdirSync(folder);
      await model.save(folder);
      const loaded = (await xgboostRegressor.load(folder, { seed: 0 })) as XgboostRegressorModel;
      try {
        expect(Array.from(await loaded.predict(testX))).toEqual(Array.from(predicted));
      } finally {
        loaded.dispose();
      }
      await expect(xgboostClassifier.load(folder, { seed: 0 })).rejects.toThrow(/regression model, not a classification one/);
    } finally {
      model.dispose();
    }
  });

  it('pseudo-Huber and absolute-error objectives train and export', async () => {
    for (const objective of ['pseudohubererror', 'absoluteerror'] as const) {
      const model = (await xgboostRegressor.fit(regressionData, xgboostRegressor.params.parse({ rounds: 30, objective }), { seed: 2 })) as XgboostRegressorModel;
      try {
        expect(model.info.metric).toBe(objective === 'absoluteerror' ? 'mae' : 'rmse');
        expect(maxAbsDiff(await model.predict(testX), model.predictNative(testX))).toBeLessThanOrEqual(1e-5);
      } finally {
        model.dispose();
      }
    }
  });

  it('refuses non-finite targets before native code', async () => {
    const y = regressionData.train.y.slice();
    y[3] = NaN;
    await expect(xgboostRegressor.fit({ ...regressionData, train: { X: regressionData.train.X, y } }, xgboostRegressor.params.parse({ rounds: 3 }), { seed: 1 })).rejects.toThrow(/targets contain NaN/);
  });
});

describe('trees compiled to JavaScript (predictSync)', () => {
  it('equal ONNX Runtime within 1e-6 for classifiers and regressors (every objective), with missing values, one row or a batch, also after save/load', async () => {
    // missing values in some rows, so default directions are exercised
    const X: Matrix = { ...testX, values: Float32Array.from(testX.values, (v, i) => (i % 17 === 0 ? NaN : v)) };
    const models = [
      (await xgboostClassifier.fit(classificationData, xgboostClassifier.params.parse({ rounds: 60, maxDepth: 6 }), { seed: 8 })) as XgboostClassifierModel,
      ...(await Promise.all((['squarederror', 'pseudohubererror', 'absoluteerror'] as const).map(async (objective) => (await xgboostRegressor.fit(regressionData, xgboostRegressor.params.parse({ rounds: 40, objective }), { seed: 9 })) as XgboostRegressorModel))),
    ];
    for (const model of models) {
      const objective = String((model.params as { objective?: string }).objective ?? 'softprob');
      const onnx = await model.predict(X);
      const compiled = model.predictSync(X);
      expect(compiled.length).toBe(onnx.length);
      expect(maxAbsDiff(compiled, onnx), objective).toBeLessThanOrEqual(1e-6);
      // one row at a time gives the batch's values
      for (const r of [0, 1, 16, 17, X.rows - 1]) expect(Array.from(model.predictSync(rows(X, r, r + 1)))).toEqual(Array.from(compiled.subarray(r * (compiled.length / X.rows), (r + 1) * (compiled.length / X.rows))));
      const folder = path.join(dir, `compiled-${model.modelId.replace('/', '-')}-${objective}`);
      await model.save(folder);
      const loaded = (await (model.task === 'classification' ? xgboostClassifier : xgboostRegressor).load(folder, { seed: 0 })) as XgboostClassifierModel;
      expect(Array.from(loaded.predictSync(X))).toEqual(Array.from(compiled));
      loaded.dispose();
      model.dispose();
    }
    const small = (await xgboostClassifier.fit(classificationData, xgboostClassifier.params.parse({ rounds: 3 }), { seed: 8 })) as XgboostClassifierModel;
    expect(() => small.predictSync({ values: new Float32Array(3), rows: 1, cols: 3 })).toThrow(/expects \d+ features, got 3/);
    small.dispose();
  });
});

describe('XGBoost warm start (continued training)', () => {
  it('20 rounds, saved, then 20 more equals 40 rounds in one go (deterministic settings)', async () => {
    const exact = { subsample: 1, colsampleByTree: 1, earlyStoppingRounds: 0, learningRate: 0.1 };
    const first = (await xgboostClassifier.fit(classificationData, xgboostClassifier.params.parse({ ...exact, rounds: 20 }), { seed: 4 })) as XgboostClassifierModel;
    const folder = path.join(dir, 'first');
    fs.mkdirSync(folder);
    await first.save(folder);
    first.dispose();
    const continued = (await xgboostClassifier.fit(classificationData, xgboostClassifier.params.parse({ ...exact, rounds: 20, initModel: folder }), { seed: 4 })) as XgboostClassifierModel;
    const straight = (await xgboostClassifier.fit(classificationData, xgboostClassifier.params.parse({ ...exact, rounds: 40 }), { seed: 4 })) as XgboostClassifierModel;
    try {
      expect(continued.info.initialRounds).toBe(20);
      const trees = (m: XgboostClassifierModel) => JSON.parse(Buffer.from(m.nativeJson).toString()).learner.gradient_booster.model.trees.map((t: any) => JSON.stringify(t.split_conditions));
      expect(trees(continued)).toHaveLength(3 * 40);
      expect(trees(continued)).toEqual(trees(straight));
      expect(maxAbsDiff(await continued.predict(testX), await straight.predict(testX))).toBeLessThanOrEqual(1e-6);
    } finally {
      continued.dispose();
      straight.dispose();
    }
  });

  it('continues on new data from the saved trees, keeps them when new rounds do not help, and refuses other features or tasks', async () => {
    const half = Math.floor(classificationData.train.y.length / 2);
    const older: TrainingData = { ...classificationData, train: { X: rows(classificationData.train.X, 0, half), y: classificationData.train.y.subarray(0, half) } };
    const newer: TrainingData = { ...classificationData, train: { X: rows(classificationData.train.X, half, classificationData.train.y.length), y: classificationData.train.y.subarray(half) } };
    const base = (await xgboostClassifier.fit(older, xgboostClassifier.params.parse({ rounds: 25, earlyStoppingRounds: 0 }), { seed: 5 })) as XgboostClassifierModel;
    const folder = path.join(dir, 'base');
    fs.mkdirSync(folder);
    await base.save(folder);
    const baseTrees = JSON.parse(Buffer.from(base.nativeJson).toString()).learner.gradient_booster.model.trees;
    base.dispose();
    const tuned = (await xgboostClassifier.fit(newer, xgboostClassifier.params.parse({ rounds: 15, earlyStoppingRounds: 0, initModel: folder }), { seed: 5 })) as XgboostClassifierModel;
    try {
      const trees = JSON.parse(Buffer.from(tuned.nativeJson).toString()).learner.gradient_booster.model.trees;
      expect(trees.length).toBeGreaterThanOrEqual(baseTrees.length);
      expect(trees.slice(0, baseTrees.length).map((t: any) => t.split_conditions)).toEqual(baseTrees.map((t: any) => t.split_conditions));
      expect(tuned.info.warmStartFrom).toBe(folder);
    } finally {
      tuned.dispose();
    }
    // early stopping never cuts into the saved trees
    const stopped = (await xgboostClassifier.fit(newer, xgboostClassifier.params.parse({ rounds: 5, learningRate: 1, earlyStoppingRounds: 1, initModel: folder }), { seed: 5 })) as XgboostClassifierModel;
    try {
      expect(JSON.parse(Buffer.from(stopped.nativeJson).toString()).learner.gradient_booster.model.trees.length).toBeGreaterThanOrEqual(baseTrees.length);
    } finally {
      stopped.dispose();
    }
    const fewer: TrainingData = { ...newer, featureNames: newer.featureNames.slice(1), train: { X: { values: new Float32Array(0), rows: 0, cols: newer.featureNames.length - 1 }, y: new Float64Array(0) }, valid: { X: { values: new Float32Array(0), rows: 0, cols: newer.featureNames.length - 1 }, y: new Float64Array(0) } };
    await expect(xgboostClassifier.fit({ ...fewer, train: newer.train, valid: newer.valid, featureNames: [...newer.featureNames.slice(1), 'funding_rate'] }, xgboostClassifier.params.parse({ initModel: folder }), { seed: 5 })).rejects.toThrow(
      `trained on other features (missing ${newer.featureNames[0]}; extra funding_rate)`,
    );
    await expect(xgboostRegressor.fit(regressionData, xgboostRegressor.params.parse({ initModel: folder }), { seed: 5 })).rejects.toThrow(/is a classification model; warm-start a regression model/);
    await expect(xgboostClassifier.fit(newer, xgboostClassifier.params.parse({ initModel: path.join(dir, 'nowhere') }), { seed: 5 })).rejects.toThrow(/model-card.json is missing/);
  });
});

describe('feature importance and Python interoperability (python3-xgboost)', () => {
  it("gain, total gain, splits and cover equal Python xgboost's get_score; Python loads model.json and predicts the same", async () => {
    const model = (await xgboostClassifier.fit(classificationData, xgboostClassifier.params.parse({ rounds: 40, earlyStoppingRounds: 0 }), { seed: 6 })) as XgboostClassifierModel;
    try {
      const folder = path.join(dir, 'interop');
      fs.mkdirSync(folder);
      await model.save(folder);
      const xFile = path.join(dir, 'x.f32');
      fs.writeFileSync(xFile, Buffer.from(testX.values.buffer, testX.values.byteOffset, testX.values.byteLength));
      const answer = python(
        `import json, sys, numpy as np, xgboost as xgb
b = xgb.Booster(model_file=sys.argv[1])
X = np.fromfile(sys.argv[2], dtype='<f4').reshape(-1, int(sys.argv[3]))
p = b.predict(xgb.DMatrix(X, missing=np.nan), strict_shape=True)
scores = {t: b.get_score(importance_type=t) for t in ('gain', 'total_gain', 'weight', 'cover')}
print(json.dumps({'version': xgb.__version__, 'pred': p.ravel().tolist(), 'scores': scores}))`,
        path.join(folder, 'model.json'),
        xFile,
        String(testX.cols),
      );
      expect(answer.version).toMatch(/^1\.7/);
      expect(maxAbsDiff(Float32Array.from(answer.pred), model.predictNative(testX))).toBeLessThanOrEqual(1e-6);
      const ours = featureImportance(model.nativeJson, features.names);
      expect(ours.length).toBeGreaterThan(3);
      expect(ours).toEqual(model.importance());
      // Python names features f0, f1, … for a model without feature names
      for (const entry of ours) {
        const key = `f${features.names.indexOf(entry.feature)}`;
        expect(entry.gain).toBeCloseTo(answer.scores.gain[key], 3);
        expect(entry.totalGain).toBeCloseTo(answer.scores.total_gain[key], 2);
        expect(entry.splits).toBe(answer.scores.weight[key]);
        expect(entry.cover).toBeCloseTo(answer.scores.cover[key], 3);
      }
      expect(Object.keys(answer.scores.weight).length).toBe(ours.length);
      expect(ours.map((e) => e.gain)).toEqual([...ours.map((e) => e.gain)].sort((a, b) => b - a));
    } finally {
      model.dispose();
    }
  });
});

describe('a regression spec, end to end', () => {
  it('future-return labels → xgboost regressor → return-threshold strategy: regression metrics in run.json, the registry and the report', async () => {
    const workspace = { dataDir: path.join(dir, 'spec', 'data'), modelsDir: path.join(dir, 'spec', 'models'), runsDir: path.join(dir, 'spec', 'runs') };
    const spec = {
      name: 'regression',
      seed: 3,
      data: { source: 'sample' as const, symbol: 'BTC/USDT', timeframe: '1h', seed: 42, bars: 3000 },
      features: [{ id: 'core/returns' }, { id: 'core/rsi' }, { id: 'core/volatility' }],
      label: { id: 'core/future-return', params: { bars: 5 } },
      model: { id: 'core/xgboost-regressor', params: { rounds: 30 } },
      strategy: { id: 'core/return-threshold', params: { threshold: 0.0005 } },
    };
    const { record, runDir } = await runSpec(spec, { progress: 'quiet', log: () => {}, workspace });
    const test = record.metrics.regression!.test;
    expect(record.metrics.classification).toBeUndefined();
    expect(test.rows).toBeGreaterThan(300);
    expect(test.rmse).toBeGreaterThanOrEqual(test.mae);
    expect(test.directionAccuracy).not.toBeNull();
    const report = fs.readFileSync(path.join(runDir, 'report.html'), 'utf8');
    expect(report).toContain('Regression (validation and test segments)');
    expect(report).toContain('test MAE / RMSE');
    const version = JSON.parse(fs.readFileSync(path.join(workspace.modelsDir, record.model.registered!.name, 'versions', '1', 'version.json'), 'utf8'));
    expect(version.metrics.test.rmse).toBe(test.rmse);
    // same spec, same fingerprint
    const again = await runSpec(spec, { progress: 'quiet', log: () => {}, workspace });
    expect(again.record.fingerprint).toBe(record.fingerprint);
  });
});
