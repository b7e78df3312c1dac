import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lstmClassifier, NeuralSequenceModel } from '../src/models/neural/neural-model';
import { classificationLoss, crossEntropy, type EpochRecord } from '../src/models/neural/training';
import { loadTf } from '../src/models/neural/tf';
import type { TrainingData } from '../src/models/model';
import { ModelError } from '../src/errors';
import { accuracy, rowsOf, sequenceTask, taskData } from './neural-helpers';
import { tempDir } from './helpers';

const dir = tempDir('neural-lstm');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

// 1600 rows: 1000 train, 300 valid, 300 test. Chance accuracy is ~0.36 (the HOLD share).
const task = sequenceTask(1600, 1);
const { data, test } = taskData(task, 'classification', 1000, 300);
const small = { seqLen: 8, units: 16, denseUnits: 16, dropout: 0.1, batchSize: 64, learningRate: 0.01 };
const fit = (params: Record<string, unknown>, seed = 1, training: TrainingData = data) =>
  lstmClassifier.fit(training, lstmClassifier.params.parse({ ...small, ...params }), { seed }) as Promise<NeuralSequenceModel>;

describe('core/lstm (tfjs)', () => {
  let model: NeuralSequenceModel;
  beforeAll(async () => {
    model = await fit({ epochs: 12 });
  });
  afterAll(() => model?.dispose());

  it('learns a task that needs the previous rows, well above chance', async () => {
    const probabilities = await model.predict(test.X);
    expect(probabilities.length).toBe(test.X.rows * 3);
    expect(accuracy(probabilities, test.y, 3)).toBeGreaterThan(0.6);
    for (let r = 0; r < test.X.rows; r++) {
      expect(probabilities[3 * r] + probabilities[3 * r + 1] + probabilities[3 * r + 2]).toBeCloseTo(1, 5);
    }
    expect(model.info.backend).toMatch(/^(wasm|cpu|tensorflow|tensorflow-gpu)$/);
    expect(model.info.trainWindows).toBe(1000 - 8 + 1);
  });

  it('returns one NaN-free output per input row, first rows included, and never looks ahead', async () => {
    const all = await model.predict(test.X);
    expect(all.every(Number.isFinite)).toBe(true);
    // A prefix of the rows gets the same outputs as those rows inside the whole input: no later row is used.
    const prefix = await model.predict(rowsOf(test.X, 0, 50));
    expect(Array.from(prefix)).toEqual(Array.from(all.subarray(0, 150)));
    // Changing later rows leaves earlier outputs alone.
    const changed = test.X.values.slice();
    changed.fill(5, 100 * test.X.cols);
    const withChange = await model.predict({ ...test.X, values: changed });
    expect(Array.from(withChange.subarray(0, 300))).toEqual(Array.from(all.subarray(0, 300)));
    // A single row is a full answer too (its window is edge-padded).
    expect((await model.predict(rowsOf(test.X, 0, 1))).length).toBe(3);
  });

  it('saves tfjs model.json + weights.bin + a model card and loads back to identical predictions', async () => {
    const target = path.join(dir, 'saved');
    const artifacts = await model.save(target);
    expect(artifacts.map((a) => a.path).sort()).toEqual(['model-card.json', 'model.json', 'weights.bin']);
    const topology = JSON.parse(fs.readFileSync(path.join(target, 'model.json'), 'utf8'));
    expect(topology.format).toBe('layers-model');
    expect(topology.weightsManifest[0].paths).toEqual(['weights.bin']);
    const card = JSON.parse(fs.readFileSync(path.join(target, 'model-card.json'), 'utf8'));
    expect(card.scaler.kind).toBe('standard');
    expect(card.scaler.center).toHaveLength(3);
    const loaded = (await lstmClassifier.load(target, { seed: 0 })) as NeuralSequenceModel;
    try {
      expect(Array.from(await loaded.predict(test.X))).toEqual(Array.from(await model.predict(test.X)));
      expect(loaded.featureNames).toEqual(data.featureNames);
      expect(loaded.classes).toEqual(data.classes);
    } finally {
      loaded.dispose();
    }
    fs.rmSync(path.join(target, 'weights.bin'));
    await expect(lstmClassifier.load(target, { seed: 0 })).rejects.toThrow(/weights\.bin is missing/);
  });

  it('trains deterministically: same seed, identical predictions; another seed, different ones', async () => {
    const params = { epochs: 2, dropout: 0.3 };
    const [a, b, c] = [await fit(params, 7), await fit(params, 7), await fit(params, 8)];
    try {
      const [pa, pb, pc] = await Promise.all([a.predict(test.X), b.predict(test.X), c.predict(test.X)]);
      expect(Array.from(pa)).toEqual(Array.from(pb));
      expect(a.info.history).toEqual(b.info.history);
      expect(Array.from(pa)).not.toEqual(Array.from(pc));
    } finally {
      [a, b, c].forEach((m) => m.dispose());
    }
  });

  it('stops early, reduces the learning rate on plateau and restores the best epoch (its validation loss)', async () => {
    // A large learning rate and a short patience make the validation loss wander, so training stops early.
    const early = await fit({ epochs: 40, units: 8, batchSize: 128, learningRate: 0.05, patience: 3, lrPatience: 1, lrFactor: 0.5, dropout: 0 }, 3);
    try {
      const history = early.info.history as EpochRecord[];
      const best = Math.min(...history.map((h) => h.valid));
      expect(early.info.stoppedEarly).toBe(true);
      expect(history.length).toBe((early.info.bestRound as number) + 3);
      expect(early.info.bestValidLoss).toBe(best);
      expect(history[(early.info.bestRound as number) - 1].valid).toBe(best);
      // The restored weights are the best epoch's, not the last epoch's.
      expect(await early.validationLoss(data.valid)).toBeCloseTo(best, 6);
      expect(history[history.length - 1].valid).toBeGreaterThan(best);
      // The learning rate was halved after the first epoch without improvement.
      const rates = history.map((h) => h.learningRate);
      expect(rates[0]).toBe(0.05);
      expect(Math.min(...rates)).toBeLessThan(0.05);
      for (let i = 1; i < rates.length; i++) expect(rates[i]).toBeLessThanOrEqual(rates[i - 1]);
    } finally {
      early.dispose();
    }
  });

  it('weights the loss by balanced class weights', async () => {
    const { tf } = await loadTf();
    const probabilities = Float32Array.from([0.7, 0.2, 0.1, 0.1, 0.8, 0.1, 0.3, 0.3, 0.4]);
    const labels = [0, 1, 2];
    const weights = [2, 0.5, 1];
    const hand = -(2 * Math.log(0.7) + 0.5 * Math.log(0.8) + 1 * Math.log(0.4)) / 3;
    expect(crossEntropy(probabilities, labels, 3, weights)).toBeCloseTo(hand, 7); // float32 probabilities
    expect(crossEntropy(probabilities, labels, 3)).toBeCloseTo(-(Math.log(0.7) + Math.log(0.8) + Math.log(0.4)) / 3, 7);
    const tfLoss = tf.tidy(() =>
      classificationLoss(tf, tf.tensor2d(probabilities, [3, 3]), tf.oneHot(tf.tensor1d(labels, 'int32'), 3), tf.tensor1d(weights)).dataSync()[0],
    );
    expect(tfLoss).toBeCloseTo(hand, 5);

    // Balanced weights from the training windows: n / (classes × count), recorded; the objective changes.
    const balanced = await fit({ epochs: 1 }, 5);
    const none = await fit({ epochs: 1, classWeight: 'none' }, 5);
    try {
      const windows = data.train.y.subarray(small.seqLen - 1);
      const counts = [0, 1, 2].map((c) => windows.filter((y) => y === c).length);
      const expected = Object.fromEntries(data.classes!.map((name, c) => [name, windows.length / (3 * counts[c])]));
      const recorded = balanced.info.classWeights as Record<string, number>;
      for (const name of data.classes!) expect(recorded[name]).toBeCloseTo(expected[name], 5);
      expect(none.info.classWeights).toBeUndefined();
      const trainLoss = (m: NeuralSequenceModel) => (m.info.history as EpochRecord[])[0].train;
      expect(trainLoss(balanced)).not.toBeCloseTo(trainLoss(none), 3);
    } finally {
      balanced.dispose();
      none.dispose();
    }
  });

  it('refuses bad input with one-line errors naming the fix', async () => {
    const nan = data.train.X.values.slice();
    nan[3 * 10 + 1] = NaN;
    const withNaN: TrainingData = { ...data, train: { X: { ...data.train.X, values: nan }, y: data.train.y } };
    await expect(fit({ epochs: 1 }, 1, withNaN)).rejects.toThrow(ModelError);
    await expect(fit({ epochs: 1 }, 1, withNaN)).rejects.toThrow('train features contain NaN (column f1, row 10); drop warm-up rows or fix the feature');
    await expect(fit({ epochs: 1, seqLen: 500 })).rejects.toThrow('core/lstm: seqLen 500 is longer than the 300 valid rows; lower seqLen or use more data');
    const shortTrain: TrainingData = { ...data, train: { X: rowsOf(data.train.X, 0, 400), y: data.train.y.slice(0, 400) } };
    await expect(fit({ epochs: 1, seqLen: 500 }, 1, shortTrain)).rejects.toThrow(/seqLen 500 is longer than the 400 train rows/);
    await expect(fit({ epochs: 1 }, 1, { ...data, train: { X: data.train.X, y: new Float64Array(1000).fill(1) } })).rejects.toThrow(/one class only/);
    await expect(model.predict({ values: new Float32Array(10), rows: 2, cols: 5 })).rejects.toThrow(/has 5 feature columns but the model uses 3/);
    const bad = test.X.values.slice();
    bad[0] = Infinity;
    await expect(model.predict({ ...test.X, values: bad })).rejects.toThrow(/contain Infinity \(column f0, row 0\)/);
    expect(() => lstmClassifier.params.parse({ ...small, seqLen: 1 })).toThrow();
  });
});

describe('core/lstm reports its validation loss for pruning', () => {
  it('calls reportValidation after every epoch with the loss it records, and stops when the hook throws', async () => {
    const reported: Array<[number, number]> = [];
    const model = (await lstmClassifier.fit(data, lstmClassifier.params.parse({ ...small, epochs: 3, patience: 0 }), {
      seed: 2,
      reportValidation: (epoch, loss) => reported.push([epoch, loss]),
    })) as NeuralSequenceModel;
    const history = model.info.history as EpochRecord[];
    model.dispose();
    expect(reported).toEqual(history.map((h) => [h.round, h.valid]));
    class Stop extends Error {}
    let epochs = 0;
    await expect(
      lstmClassifier.fit(data, lstmClassifier.params.parse({ ...small, epochs: 5 }), {
        seed: 2,
        reportValidation: () => {
          epochs++;
          if (epochs === 2) throw new Stop('pruned');
        },
      }),
    ).rejects.toBeInstanceOf(Stop);
    expect(epochs).toBe(2);
  });
});

