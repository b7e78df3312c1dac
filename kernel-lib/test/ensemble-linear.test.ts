import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { fitLogistic, fitRidge, predictLogistic, predictRidge, standardization } from '../src/models/ensemble/linear';
import { purgedFolds } from '../src/validation/purged-kfold';
import { ensembleWeights } from '../src/models/ensemble/ensemble-model';
import { normal } from './ensemble-helpers';

/** Rows of [x..., y] → X and y. */
function problem(rows: number[][]): { X: Float64Array; y: Float64Array; rows: number; cols: number } {
  const cols = rows[0].length - 1;
  return { X: Float64Array.from(rows.flatMap((r) => r.slice(0, cols))), y: Float64Array.from(rows.map((r) => r[cols])), rows: rows.length, cols };
}

describe('multinomial logistic regression (the stacking meta-learner)', () => {
  it('hand-checked: with one binary feature and almost no penalty, probabilities are the empirical class frequencies of each group', () => {
    // x = 0: classes 0,0,1,2 → (1/2, 1/4, 1/4); x = 1: classes 0,1,2,2 → (1/4, 1/4, 1/2).
    const { X, y, rows, cols } = problem([
      [0, 0], [0, 0], [0, 1], [0, 2],
      [1, 0], [1, 1], [1, 2], [1, 2],
    ]);
    const model = fitLogistic(X, rows, cols, y, 3, { C: 1e9 });
    const p = predictLogistic(model, Float64Array.of(0, 1), 2);
    [0.5, 0.25, 0.25, 0.25, 0.25, 0.5].forEach((expected, i) => expect(p[i]).toBeCloseTo(expected, 6));
    // Centred intercepts; coefficients of a 3-class multinomial sum to 0 across classes at the optimum.
    expect(model.intercept.reduce((a, b) => a + b, 0)).toBeCloseTo(0, 12);
    // By hand: log(p_BUY / p_SELL) goes from log(1/2) at x=0 to log(2) at x=1.
    const slope = (model.coef[2][0] - model.coef[0][0]) / model.standardization.scale[0];
    expect(slope).toBeCloseTo(Math.log(4), 5);
  });

  it('hand-checked: a constant input leaves only the (unpenalized) intercepts, so probabilities are the (weighted) class frequencies', () => {
    const { X, y, rows, cols } = problem([[3, 0], [3, 1], [3, 1], [3, 2], [3, 2], [3, 2]]);
    const p = predictLogistic(fitLogistic(X, rows, cols, y, 3, { C: 0.01 }), Float64Array.of(3), 1);
    [1 / 6, 2 / 6, 3 / 6].forEach((expected, i) => expect(p[i]).toBeCloseTo(expected, 9));
    // Balanced weights n/(K·count) make every class weigh the same: uniform probabilities.
    const weights = Array.from(y, (label) => 6 / (3 * [1, 2, 3][label]));
    const balanced = predictLogistic(fitLogistic(X, rows, cols, y, 3, { C: 0.01, sampleWeight: weights }), Float64Array.of(3), 1);
    for (let k = 0; k < 3; k++) expect(balanced[k]).toBeCloseTo(1 / 3, 9);
  });

  const draw = normal(11);
  const n = 300;
  const d = 3;
  const X = Float64Array.from({ length: n * d }, () => draw());
  const y = Float64Array.from({ length: n }, (_, r) => {
    const s = X[r * d] - 0.5 * X[r * d + 1] + 0.7 * draw();
    return s < -0.5 ? 0 : s > 0.5 ? 2 : 1;
  });
  const C = 0.05;
  const model = fitLogistic(X, n, d, y, 3, { C });

  it('the solution is a stationary point of Σ −log p + ‖W‖²/(2C) (gradient computed independently here)', () => {
    const s = standardization(X, n, d);
    const p = predictLogistic(model, X, n);
    for (let k = 0; k < 3; k++) {
      let interceptGradient = 0;
      for (let r = 0; r < n; r++) interceptGradient += p[r * 3 + k] - (y[r] === k ? 1 : 0);
      expect(Math.abs(interceptGradient)).toBeLessThan(1e-8);
      for (let j = 0; j < d; j++) {
        let gradient = model.coef[k][j] / C;
        for (let r = 0; r < n; r++) gradient += (p[r * 3 + k] - (y[r] === k ? 1 : 0)) * ((X[r * d + j] - s.mean[j]) / s.scale[j]);
        expect(Math.abs(gradient)).toBeLessThan(1e-8);
      }
    }
    expect(model.iterations).toBeLessThan(30);
    // The penalty pins the softmax's free shift: coefficients sum to 0 across classes.
    for (let j = 0; j < d; j++) expect(Math.abs(model.coef[0][j] + model.coef[1][j] + model.coef[2][j])).toBeLessThan(1e-9);
  });

  it('is deterministic: the same data gives the same coefficients bit for bit', () => {
    expect(fitLogistic(X, n, d, y, 3, { C })).toEqual(model);
  });

  // scikit-learn is not installed here; SciPy's L-BFGS on the same objective is the independent reference.
  const scipy = spawnSync('/usr/bin/python3', ['-c', 'import scipy, numpy'], { encoding: 'utf8' }).status === 0;
  it.skipIf(!scipy)('matches SciPy L-BFGS on the same standardized multinomial objective (coefficients to 1e-5)', () => {
    const script = `
import json, sys, numpy as np
from scipy.optimize import minimize
d = json.load(sys.stdin)
X = np.array(d['X']).reshape(-1, d['d']); y = np.array(d['y'], dtype=int); C = d['C']; K = 3
Z = (X - X.mean(0)) / X.std(0)
Y = np.eye(K)[y]
def f(theta):
    W = theta[:K*Z.shape[1]].reshape(K, -1); b = theta[K*Z.shape[1]:]
    L = Z @ W.T + b
    m = L.max(1, keepdims=True); lse = m[:, 0] + np.log(np.exp(L - m).sum(1))
    P = np.exp(L - lse[:, None])
    loss = (lse - (L * Y).sum(1)).sum() + (W ** 2).sum() / (2 * C)
    G = P - Y
    return loss, np.concatenate([(G.T @ Z + W / C).ravel(), G.sum(0)])
r = minimize(f, np.zeros(K * (Z.shape[1] + 1)), jac=True, method='L-BFGS-B', options={'maxiter': 10000, 'gtol': 1e-12, 'ftol': 1e-15})
W = r.x[:K*Z.shape[1]].reshape(K, -1); b = r.x[K*Z.shape[1]:]
print(json.dumps({'coef': W.tolist(), 'intercept': (b - b.mean()).tolist(), 'fun': r.fun}))
`;
    const result = spawnSync('/usr/bin/python3', ['-c', script], { input: JSON.stringify({ X: Array.from(X), y: Array.from(y), d, C }), encoding: 'utf8' });
    expect(result.status, result.stderr).toBe(0);
    const reference = JSON.parse(result.stdout) as { coef: number[][]; intercept: number[]; fun: number };
    for (let k = 0; k < 3; k++) {
      for (let j = 0; j < d; j++) expect(Math.abs(model.coef[k][j] - reference.coef[k][j])).toBeLessThan(1e-5);
      expect(Math.abs(model.intercept[k] - reference.intercept[k])).toBeLessThan(1e-5);
    }
    expect(model.objective).toBeLessThanOrEqual(reference.fun + 1e-9);
  });

  it('bad input is a one-line error', () => {
    expect(() => fitLogistic(Float64Array.of(NaN), 1, 1, Float64Array.of(0), 2, { C: 1 })).toThrow(/meta-learner input contains NaN at row 0/);
    expect(() => fitLogistic(Float64Array.of(1), 1, 1, Float64Array.of(5), 2, { C: 1 })).toThrow(/label 5 is not a class id in 0\.\.1/);
  });
});

describe('ridge regression (the stacked regressor meta-learner)', () => {
  it('hand-checked: y = 2x + 1 is recovered exactly without a penalty; a penalty shrinks the slope by n·var/(n·var + α)', () => {
    const X = Float64Array.of(0, 1, 2, 3, 4);
    const y = X.map((x) => 2 * x + 1);
    const exact = fitRidge(X, 5, 1, y, 0);
    expect(Array.from(predictRidge(exact, Float64Array.of(10), 1))[0]).toBeCloseTo(21, 8);
    // Standardized x has Σz² = n = 5; β_z = Σ z·y / (5 + α) = 2·std·5 / (5 + α).
    const shrunk = fitRidge(X, 5, 1, y, 5);
    expect(shrunk.coef[0]).toBeCloseTo((2 * Math.SQRT2 * 5) / 10, 9);
    expect(shrunk.intercept).toBeCloseTo(5, 12);
  });
});

describe('purged, time-ordered folds', () => {
  it('purged K-fold: every row is held out once; `purge` rows on each side of a fold are in neither set', () => {
    const folds = purgedFolds(100, 4, 5, 'purged-kfold');
    expect(folds.map((f) => [f.valid.start, f.valid.end])).toEqual([[0, 25], [25, 50], [50, 75], [75, 100]]);
    expect(folds[1].train).toEqual([{ start: 0, end: 20 }, { start: 55, end: 100 }]);
    expect(folds.map((f) => [f.purgedBefore, f.purgedAfter])).toEqual([[0, 5], [5, 5], [5, 5], [5, 0]]);
    for (const fold of folds) {
      for (const range of fold.train) {
        for (let row = range.start; row < range.end; row++) {
          expect(row < fold.valid.start - 5 || row >= fold.valid.end + 5).toBe(true);
        }
      }
    }
  });

  it('walk-forward: folds after the first, fitted on earlier rows only, minus the purge', () => {
    const folds = purgedFolds(200, 4, 3, 'walk-forward');
    expect(folds.map((f) => f.index)).toEqual([1, 2, 3]);
    expect(folds.map((f) => f.train)).toEqual([[{ start: 0, end: 47 }], [{ start: 0, end: 97 }], [{ start: 0, end: 147 }]]);
    expect(folds.map((f) => [f.purgedBefore, f.purgedAfter])).toEqual([[3, 0], [3, 0], [3, 0]]);
  });

  it('too few rows per fold is a one-line error naming the fix', () => {
    expect(() => purgedFolds(60, 2, 10, 'walk-forward')).toThrow(/fold 1 of 2 leaves 20 training rows after a 10-row purge \(need 30\); use fewer folds or more data/);
  });
});

describe('validation-score weights', () => {
  it('inverse loss, softmax of relative loss and equal weights sum to 1 and favour the lower loss', () => {
    const inverse = ensembleWeights([0.5, 1.0], 'inverse');
    expect(inverse[0]).toBeCloseTo(2 / 3, 12);
    const softmax = ensembleWeights([0.5, 0.525], 'softmax', 0.05);
    expect(softmax[1] / softmax[0]).toBeCloseTo(Math.exp(-1), 12);
    expect(ensembleWeights([0.3, 0.9, 0.6], 'equal')).toEqual([1 / 3, 1 / 3, 1 / 3]);
    expect(() => ensembleWeights([0.5, NaN], 'inverse')).toThrow(/member 1 has validation loss NaN/);
  });
});
