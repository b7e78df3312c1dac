import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSyntheticCandles } from '../src/data/synthetic';
import { computeFeatures } from '../src/features/compute-features';
import { createRegistry } from '../src/plugins/core-plugin';
import { directionLabels, DIRECTION_CLASSES } from '../src/labels/direction';
import { featureMatrix, splitChronological, trainingSegment } from '../src/validation/split';
import { ensembleClassifier, type EnsembleModel } from '../src/models/ensemble/ensemble-model';
import type { ModelContext, TrainingData } from '../src/models/model';
import { runSpec, type SpecRun } from '../src/runner/run-spec';
import { createRunContext } from '../src/runner/stages';
import type { RunRecord } from '../src/runner/run-record';
import { listDir, ROOT, tempDir } from './helpers';

const dir = tempDir('ensemble-xgboost');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const registry = createRegistry();
const context = (seed: number): ModelContext => ({ seed, resolveModel: (ref) => registry.resolveWithParams('model', ref) });

const candles = generateSyntheticCandles({ seed: 9, bars: 2500 });
const features = computeFeatures(candles, [{ id: 'core/returns' }, { id: 'core/rsi' }, { id: 'core/macd' }], registry);
const labels = directionLabels(candles.column('close'), 5, 0.005);
const split = splitChronological(candles.length, features.lookback, 5, { train: 0.7, valid: 0.15, test: 0.15 }, candles.time);
const data: TrainingData = {
  featureNames: features.names,
  classes: [...DIRECTION_CLASSES],
  train: trainingSegment(features.frame, labels, split.train),
  valid: trainingSegment(features.frame, labels, split.valid),
  horizon: 5,
};
const testX = featureMatrix(features.frame, split.test.start, split.test.end);
const members = [
  { id: 'core/xgboost', params: { rounds: 15, maxDepth: 3, earlyStoppingRounds: 0 } },
  { id: 'core/xgboost', params: { rounds: 15, maxDepth: 5, learningRate: 0.1, earlyStoppingRounds: 0 } },
];

async function fit(params: Record<string, unknown>, seed = 7): Promise<EnsembleModel> {
  return (await ensembleClassifier.fit(data, ensembleClassifier.params.parse(params), context(seed))) as EnsembleModel;
}

describe('ensembles of XGBoost members', () => {
  let stack: EnsembleModel;
  beforeAll(async () => {
    stack = await fit({ method: 'stacking', members, folds: 3 });
  });
  afterAll(() => stack?.dispose());

  it('is deterministic: the same seed gives the same predictions, bit for bit', async () => {
    const again = await fit({ method: 'stacking', members, folds: 3 });
    try {
      expect(Array.from(await again.predict(testX))).toEqual(Array.from(await stack.predict(testX)));
      expect(again.info).toEqual(stack.info);
    } finally {
      again.dispose();
    }
  });

  it('members get seeds seed + i; their probabilities and the stacked ones sum to 1', async () => {
    expect((stack.info.members as Array<{ seed: number }>).map((m) => m.seed)).toEqual([7, 8]);
    const p = await stack.predict(testX);
    for (let r = 0; r < testX.rows; r += 41) expect(p[3 * r] + p[3 * r + 1] + p[3 * r + 2]).toBeCloseTo(1, 5);
  });

  it('saves each member by XGBoost\'s own save in member-i/ and loads with identical predictions', async () => {
    const target = path.join(dir, 'stack');
    await stack.save(target);
    expect(listDir(target)).toEqual(['ensemble.json', 'member-0', 'member-1']);
    expect(listDir(path.join(target, 'member-0'))).toEqual(['model-card.json', 'model.json', 'model.onnx']);
    const loaded = await ensembleClassifier.load(target, context(0));
    try {
      expect(Array.from(await loaded.predict(testX))).toEqual(Array.from(await stack.predict(testX)));
    } finally {
      loaded.dispose();
    }
  });

  it('an XGBoost meta-learner (a model reference) trains on the out-of-fold predictions and saves in meta/', async () => {
    const model = await fit({ method: 'stacking', members, folds: 3, metaLearner: { id: 'core/xgboost', params: { rounds: 10, maxDepth: 2 } } });
    try {
      expect(model.info).toMatchObject({ meta: { kind: 'model', id: 'core/xgboost' } });
      const target = path.join(dir, 'xgb-meta');
      await model.save(target);
      expect(listDir(target)).toEqual(['ensemble.json', 'member-0', 'member-1', 'meta']);
      const loaded = await ensembleClassifier.load(target, context(0));
      try {
        expect(Array.from(await loaded.predict(testX))).toEqual(Array.from(await model.predict(testX)));
      } finally {
        loaded.dispose();
      }
    } finally {
      model.dispose();
    }
  });

  it('the resolver defaults to the built-in models when the context has none', async () => {
    const model = (await ensembleClassifier.fit(data, ensembleClassifier.params.parse({ members }), { seed: 7 })) as EnsembleModel;
    try {
      expect(model.weights!.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    } finally {
      model.dispose();
    }
  });
});

describe('a neural member (core/lstm) beside an XGBoost one', () => {
  it('stacks (walk-forward folds), saves the tfjs files in member-0/ and loads with identical predictions', async () => {
    const lstm = { id: 'core/lstm', params: { seqLen: 8, units: 4, denseUnits: 4, epochs: 1, batchSize: 256, batchNorm: false, dropout: 0 } };
    const model = await fit({ method: 'stacking', members: [lstm, members[0]], folds: 2, cv: 'walk-forward' });
    try {
      const p = await model.predict(testX);
      expect(p.every(Number.isFinite)).toBe(true);
      expect(model.stacking!.rows[0]).toBe(Math.floor(data.train.y.length / 2));
      const target = path.join(dir, 'neural');
      await model.save(target);
      expect(listDir(path.join(target, 'member-0'))).toEqual(['model-card.json', 'model.json', 'weights.bin']);
      const loaded = await ensembleClassifier.load(target, context(0));
      try {
        expect(Array.from(await loaded.predict(testX))).toEqual(Array.from(p));
      } finally {
        loaded.dispose();
      }
    } finally {
      model.dispose();
    }
  });
});

describe('specs/ensemble.json through the runner (two XGBoost members, stacking)', () => {
  const workspace = { dataDir: path.join(dir, 'data'), modelsDir: path.join(dir, 'models'), runsDir: path.join(dir, 'runs') };
  const small = ['data.bars=2500', 'model.params.members.0.params.rounds=15', 'model.params.members.1.params.rounds=15', 'model.params.folds=3'];
  let run: SpecRun;
  beforeAll(async () => {
    run = await runSpec(path.join(ROOT, 'specs', 'ensemble.json'), { overrides: small, workspace, progress: 'quiet', log: () => {} });
  });

  it('trains (purging the label horizon), predicts, backtests and writes the ensemble folder', () => {
    const { record, results, runDir } = run;
    expect(record.model.id).toBe('core/ensemble');
    expect(record.model.info).toMatchObject({ method: 'stacking', purge: 5, cv: 'purged-kfold' });
    expect(results.predictions.columns).toEqual(['SELL', 'HOLD', 'BUY']);
    expect(results.predictions.values.every(Number.isFinite)).toBe(true);
    expect(listDir(path.join(runDir, 'model'))).toEqual(['ensemble.json', 'member-0', 'member-1']);
    const saved: RunRecord = JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8'));
    expect(saved.model.id).toBe('core/ensemble');
    expect(typeof saved.fingerprint).toBe('string');
  });

  it('the saved run model loads and gives the run predictions again', async () => {
    const { results, runDir } = run;
    const model = await ensembleClassifier.load(path.join(runDir, 'model'), context(0));
    try {
      const X = featureMatrix(results.features.frame, results.split.firstRow, results.features.frame.length);
      expect(Array.from(await model.predict(X))).toEqual(Array.from(results.predictions.values));
    } finally {
      model.dispose();
    }
  });

  it('an unknown member id, or a member of the other task, fails when the spec is validated, before any data is read', () => {
    const options = { workspace, progress: 'quiet' as const, log: () => {} };
    const spec = path.join(ROOT, 'specs', 'ensemble.json');
    expect(() => createRunContext(spec, { ...options, overrides: [...small, 'model.params.members.1.id=core/xgbost'] })).toThrow(
      /^core\/ensemble member 1: unknown model 'core\/xgbost' \(did you mean 'core\/xgboost'\?\)[^\n]*$/,
    );
    expect(() => createRunContext(spec, { ...options, overrides: [...small, 'model.params.members.0.id=core/xgboost-regressor'] })).toThrow(
      /^core\/ensemble member 0 'core\/xgboost-regressor' does regression but the ensemble does classification/,
    );
  });
});
