import { describe, expect, it } from 'vitest';
import { lstmRegressor, tcnClassifier, type NeuralSequenceModel } from '../src/models/neural/neural-model';
import { augmentBatch, augments } from '../src/models/neural/training';
import { SequenceWindows } from '../src/preprocessing/sequences';
import { SeededRng } from '../src/util/rng';
import { sequenceTask, taskData } from './neural-helpers';

/**
 * F9: jitter, amplitude scaling and window slicing are training params of every neural model. They
 * change training batches only: with the weights held (a learning rate too small to move them, no
 * batch norm), validation losses and test predictions are the same with and without augmentation
 * while the training loss is not; the same seed augments the same way.
 */

const task = sequenceTask(700, 5);
const regression = taskData(task, 'regression', 400, 150);
const classification = taskData(task, 'classification', 400, 150);
const AUGMENT = { jitter: 0.3, amplitude: 0.2, slice: 0.8 };

describe('augmentation of training windows', () => {
  it('augments a batch copy, seeded; the source rows are untouched; all-zero options are off', () => {
    const windows = new SequenceWindows(task.X, 6);
    const source = Float32Array.from(task.X.values);
    const batch = (seed: number) => {
      const buffer = windows.batch([0, 5, 9]);
      augmentBatch(buffer, 3, 6, 3, AUGMENT, new SeededRng(seed));
      return buffer;
    };
    const plain = windows.batch([0, 5, 9]);
    expect(Array.from(batch(1))).toEqual(Array.from(batch(1)));
    expect(Array.from(batch(1))).not.toEqual(Array.from(batch(2)));
    expect(Array.from(batch(1))).not.toEqual(Array.from(plain));
    expect(Array.from(task.X.values)).toEqual(Array.from(source));
    expect(augments({ jitter: 0, amplitude: 0, slice: 1 })).toBe(false);
    expect(augments({ slice: 0.9 })).toBe(true);
    expect(() => lstmRegressor.params.parse({ augment: { jitter: -1 } })).toThrow();
    expect(() => lstmRegressor.params.parse({ augment: { warp: 1 } })).toThrow();
  });

  it('never touches validation or test rows: same weights give the same validation losses and predictions; training batches differ', async () => {
    const base = { seqLen: 6, units: 8, denseUnits: 8, dropout: 0, batchNorm: false, epochs: 2, batchSize: 64, learningRate: 1e-12, patience: 0, lrPatience: 0 };
    const plain = (await lstmRegressor.fit(regression.data, lstmRegressor.params.parse(base), { seed: 3 })) as NeuralSequenceModel;
    const augmented = (await lstmRegressor.fit(regression.data, lstmRegressor.params.parse({ ...base, augment: AUGMENT }), { seed: 3 })) as NeuralSequenceModel;
    try {
      const h0 = plain.info.history as Array<{ train: number; valid: number }>;
      const h1 = augmented.info.history as Array<{ train: number; valid: number }>;
      for (let e = 0; e < 2; e++) {
        expect(Math.abs(h1[e].valid - h0[e].valid)).toBeLessThan(1e-6);
        expect(Math.abs(h1[e].train - h0[e].train)).toBeGreaterThan(1e-3);
      }
      const p0 = await plain.predict(regression.test.X);
      const p1 = await augmented.predict(regression.test.X);
      for (let i = 0; i < p0.length; i++) expect(Math.abs(p0[i] - p1[i])).toBeLessThan(1e-5);
      expect(Math.abs((await augmented.validationLoss(regression.data.valid)) - (await plain.validationLoss(regression.data.valid)))).toBeLessThan(1e-6);
    } finally {
      plain.dispose();
      augmented.dispose();
    }
  });

  it('is seeded: the same seed trains the same network; augmentation changes what it learns', async () => {
    const params = tcnClassifier.params.parse({ seqLen: 6, filters: 8, dilations: [1, 2], denseUnits: 8, epochs: 2, batchSize: 64, learningRate: 0.01, augment: AUGMENT });
    const fits = await Promise.all([1, 2].map(async () => (await tcnClassifier.fit(classification.data, params, { seed: 9 })) as NeuralSequenceModel));
    const without = (await tcnClassifier.fit(classification.data, { ...params, augment: { jitter: 0, amplitude: 0, slice: 1 } }, { seed: 9 })) as NeuralSequenceModel;
    try {
      const [a, b, c] = await Promise.all([...fits, without].map((m) => m.predict(classification.test.X)));
      expect(Array.from(a)).toEqual(Array.from(b));
      expect(Array.from(a)).not.toEqual(Array.from(c));
    } finally {
      [...fits, without].forEach((m) => m.dispose());
    }
  });
});
