import { describe, expect, it } from 'vitest';
import { classificationMetrics, rocAuc } from '../src/models/classification-metrics';
import { regressionMetrics } from '../src/models/regression-metrics';
import { assertFeatureNames, measureInference } from '../src/models/inference';
import type { FittedModel, Matrix } from '../src/models/model';
import { ModelError } from '../src/errors';

/** 8 labelled rows (+1 unlabelled) of 3-class probabilities; class C is never the argmax. */
const CLASSES = ['A', 'B', 'C'];
const PROBS = [
  [0.7, 0.2, 0.1], // true A, predicted A
  [0.3, 0.4, 0.3], // true A, predicted B
  [0.2, 0.5, 0.3], // true B, predicted B
  [0.5, 0.3, 0.2], // true B, predicted A
  [0.1, 0.6, 0.3], // true C, predicted B
  [0.2, 0.5, 0.3], // true C, predicted B
  [0.6, 0.3, 0.1], // true A, predicted A
  [0.2, 0.5, 0.3], // true B, predicted B
  [1, 0, 0], // unlabelled: skipped
];
const LABELS = Float64Array.from([0, 0, 1, 1, 2, 2, 0, 1, NaN]);

describe('classification metrics against hand-computed values', () => {
  const m = classificationMetrics(Float64Array.from(PROBS.flat()), LABELS, CLASSES);

  it('confusion matrix, accuracy, balanced accuracy', () => {
    expect(m.rows).toBe(8);
    expect(m.confusion).toEqual([
      [2, 1, 0],
      [1, 2, 0],
      [0, 2, 0],
    ]);
    expect(m.accuracy).toBe(0.5);
    expect(m.balancedAccuracy).toBeCloseTo((2 / 3 + 2 / 3 + 0) / 3, 12);
  });

  it('precision, recall, F1 per class and macro; TP/FP per signal', () => {
    const [a, b, c] = m.perClass;
    expect(a).toMatchObject({ name: 'A', support: 3, predicted: 3, truePositives: 2, falsePositives: 1 });
    expect(a.precision).toBeCloseTo(2 / 3, 12);
    expect(a.recall).toBeCloseTo(2 / 3, 12);
    expect(a.f1).toBeCloseTo(2 / 3, 12);
    expect(b).toMatchObject({ name: 'B', support: 3, predicted: 5, truePositives: 2, falsePositives: 3 });
    expect(b.precision).toBeCloseTo(0.4, 12);
    expect(b.recall).toBeCloseTo(2 / 3, 12);
    expect(b.f1).toBeCloseTo(0.5, 12);
    expect(c).toMatchObject({ name: 'C', support: 2, predicted: 0, precision: 0, recall: 0, f1: 0 });
    expect(m.macroPrecision).toBeCloseTo(16 / 45, 12);
    expect(m.macroRecall).toBeCloseTo(4 / 9, 12);
    expect(m.macroF1).toBeCloseTo(7 / 18, 12);
  });

  it('log-loss: mean −ln p(true class)', () => {
    const truth = [0.7, 0.3, 0.5, 0.3, 0.3, 0.3, 0.6, 0.5];
    expect(m.logLoss).toBeCloseTo(-truth.reduce((s, p) => s + Math.log(p), 0) / 8, 12);
    // clipped, not infinite, when the true class gets probability 0
    const clipped = classificationMetrics(Float64Array.from([1, 0]), Float64Array.from([1]), ['X', 'Y']);
    expect(clipped.logLoss).toBeCloseTo(-Math.log(1e-15), 6);
  });

  it('one-vs-rest ROC-AUC, ties counting one half', () => {
    // A: positives 0.7, 0.3, 0.6 against 0.2, 0.5, 0.1, 0.2, 0.2 → 5 + 4 + 5 of 15 pairs
    expect(m.perClass[0].rocAuc).toBeCloseTo(14 / 15, 12);
    // B: positives 0.5, 0.3, 0.5 against 0.2, 0.4, 0.6, 0.5, 0.3 → 3.5 + 1.5 + 3.5 of 15 (ties at 0.5 and 0.3)
    expect(m.perClass[1].rocAuc).toBeCloseTo(8.5 / 15, 12);
    // C: positives 0.3, 0.3 against 0.1, 0.3, 0.3, 0.2, 0.1, 0.3 → 4.5 + 4.5 of 12
    expect(m.perClass[2].rocAuc).toBeCloseTo(0.75, 12);
    expect(m.rocAucMacro).toBeCloseTo((14 / 15 + 8.5 / 15 + 0.75) / 3, 12);
  });

  it('flags a class the model never predicts', () => {
    expect(m.neverPredicted).toEqual(['C']);
    expect(m.flags).toEqual(['never-predicted:C']);
    const fine = classificationMetrics(Float64Array.from([0.9, 0.1, 0.2, 0.8]), Float64Array.from([0, 1]), ['X', 'Y']);
    expect(fine.flags).toEqual([]);
    expect(fine.accuracy).toBe(1);
    expect(fine.rocAucMacro).toBe(1);
  });

  it('works on float32 probabilities as models return them', () => {
    const m32 = classificationMetrics(Float32Array.from(PROBS.flat()), LABELS, CLASSES);
    expect(m32.confusion).toEqual(m.confusion);
    expect(m32.perClass.map((c) => c.rocAuc)).toEqual(m.perClass.map((c) => c.rocAuc));
    expect(m32.logLoss).toBeCloseTo(m.logLoss, 6);
  });
});

describe('rocAuc', () => {
  /** The definition: over all positive × negative pairs, 1 when the positive scores higher, ½ on a tie. */
  function pairwiseAuc(scores: number[], positive: boolean[]): number {
    let sum = 0;
    let pairs = 0;
    for (let i = 0; i < scores.length; i++) {
      if (!positive[i]) continue;
      for (let j = 0; j < scores.length; j++) {
        if (positive[j]) continue;
        pairs++;
        sum += scores[i] > scores[j] ? 1 : scores[i] === scores[j] ? 0.5 : 0;
      }
    }
    return sum / pairs;
  }

  it('equals the pairwise definition on random data with many ties', () => {
    let state = 12345;
    const random = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let trial = 0; trial < 20; trial++) {
      const n = 50 + trial * 20;
      const scores = Array.from({ length: n }, () => Math.round(random() * 10) / 10); // 11 distinct values: ties
      const positive = scores.map((s) => random() < 0.3 + 0.4 * s);
      expect(rocAuc(scores, positive)).toBeCloseTo(pairwiseAuc(scores, positive), 12);
    }
  });

  it('is 1 for a perfect ranking, 0 for a reversed one, ½ for constant scores, null without both kinds', () => {
    expect(rocAuc([0.1, 0.2, 0.8, 0.9], [false, false, true, true])).toBe(1);
    expect(rocAuc([0.1, 0.2, 0.8, 0.9], [true, true, false, false])).toBe(0);
    expect(rocAuc([0.5, 0.5, 0.5], [true, false, false])).toBe(0.5);
    expect(rocAuc([0.1, 0.2], [true, true])).toBeNull();
    expect(rocAuc([], [])).toBeNull();
  });
});

describe('regression metrics against hand-computed values', () => {
  it('MAE, RMSE, R², direction accuracy', () => {
    const r = regressionMetrics([1, -2, 0.5, 0, 3, 7], [2, -1, -0.5, 1, 3, NaN]);
    expect(r.rows).toBe(5);
    expect(r.mae).toBeCloseTo(0.8, 12); // |−1| + |−1| + |1| + |−1| + 0
    expect(r.rmse).toBeCloseTo(Math.sqrt(0.8), 12);
    // mean target 0.9; SST = 1.21 + 3.61 + 1.96 + 0.01 + 4.41 = 11.2; R² = 1 − 4/11.2
    expect(r.r2).toBeCloseTo(9 / 14, 12);
    // signs agree on rows 1, 2, 5; row 3 is wrong, row 4 predicts 0 (wrong)
    expect(r.directionAccuracy).toBeCloseTo(3 / 5, 12);
    expect(r.directionRows).toBe(5);
  });

  it('perfect predictions; constant targets; all-zero targets', () => {
    expect(regressionMetrics([1, 2, 3], [1, 2, 3])).toEqual({ rows: 3, mae: 0, rmse: 0, r2: 1, directionAccuracy: 1, directionRows: 3 });
    expect(regressionMetrics([1, 2], [2, 2]).r2).toBeNull();
    expect(regressionMetrics([1, -1], [0, 0]).directionAccuracy).toBeNull();
    expect(() => regressionMetrics([1], [1, 2])).toThrow(/1 predictions for 2 targets/);
  });
});

describe('inference timings and the feature check', () => {
  const fake = (calls: number[]): FittedModel => ({
    modelId: 'test/fake',
    modelVersion: '1.0.0',
    task: 'regression',
    featureNames: ['a', 'b'],
    info: {},
    predict: async (X: Matrix) => {
      calls.push(X.rows);
      return new Float32Array(X.rows);
    },
    save: async () => [],
    dispose() {},
  });
  const X: Matrix = { values: new Float32Array(1000), rows: 500, cols: 2 };

  it('times single rows over the last N rows after one warm-up call, batched rows/s from the batch time', async () => {
    const calls: number[] = [];
    const t = await measureInference(fake(calls), X, { samples: 300, batch: { ms: 100 } });
    expect(calls).toEqual(new Array(301).fill(1));
    expect(t.batchRowsPerSecond).toBe(5000);
    expect(t).toMatchObject({ batchRows: 500, singleRowSamples: 300 });
    expect(t.singleRowP50Ms).toBeGreaterThanOrEqual(0);
    expect(t.singleRowP99Ms).toBeGreaterThanOrEqual(t.singleRowP50Ms);
  });

  it('runs the batch itself when not given, and caps the samples at the rows', async () => {
    const calls: number[] = [];
    const t = await measureInference(fake(calls), { ...X, rows: 10, values: new Float32Array(20) }, { samples: 300 });
    expect(calls).toEqual([10, ...new Array(11).fill(1)]);
    expect(t.singleRowSamples).toBe(10);
    expect(t.batchRowsPerSecond).toBeGreaterThan(0);
  });

  it('names the missing and extra columns of a different feature set', () => {
    const model = fake([]);
    expect(assertFeatureNames(model, ['b', 'a'])).toEqual(['a', 'b']);
    expect(() => assertFeatureNames(model, ['a', 'c', 'd'])).toThrow(ModelError);
    expect(() => assertFeatureNames(model, ['a', 'c', 'd'])).toThrow(/trained on features \[a, b\] but the frame has \[a, c, d\] \(missing b; extra c, d\)/);
  });
});
