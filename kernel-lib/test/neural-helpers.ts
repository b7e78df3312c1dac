import type { Matrix, Segment, TrainingData } from '../src/models/model';
import { SeededRng } from '../src/util/rng';

export const SEQUENCE_CLASSES = ['SELL', 'HOLD', 'BUY'] as const;

/** Rows of a learnable sequence task, in time order. */
export type SequenceTask = { X: Matrix; classes: Float64Array; values: Float64Array };

/**
 * A task only a sequence model can solve: three noise features per row; the class of row t is the
 * sign band of f0[t−1] + f0[t−2] + f0[t−3] (SELL below −0.8, BUY above 0.8, else HOLD), so the current
 * row alone says nothing. The regression target is 0.5 f0[t−1] − 0.8 f0[t−2] + 0.3 f1[t−1] plus noise.
 */
export function sequenceTask(rows: number, seed: number, cols = 3): SequenceTask {
  const rng = new SeededRng(seed);
  const values = new Float32Array(rows * cols);
  for (let i = 0; i < values.length; i++) values[i] = rng.normal();
  const f = (r: number, c: number) => (r >= 0 ? values[r * cols + c] : 0);
  const classes = new Float64Array(rows);
  const targets = new Float64Array(rows);
  for (let t = 0; t < rows; t++) {
    const s = f(t - 1, 0) + f(t - 2, 0) + f(t - 3, 0);
    classes[t] = s < -0.8 ? 0 : s > 0.8 ? 2 : 1;
    targets[t] = 0.5 * f(t - 1, 0) - 0.8 * f(t - 2, 0) + 0.3 * f(t - 1, 1) + 0.1 * rng.normal();
  }
  return { X: { values, rows, cols }, classes, values: targets };
}

/** Rows [from, to) of a matrix (a view). */
export function rowsOf(X: Matrix, from: number, to: number): Matrix {
  return { values: X.values.subarray(from * X.cols, to * X.cols), rows: to - from, cols: X.cols };
}

/** Train / valid / test segments of a task, chronological. */
export function taskData(task: SequenceTask, kind: 'classification' | 'regression', train: number, valid: number): { data: TrainingData; test: Segment } {
  const y = kind === 'classification' ? task.classes : task.values;
  const segment = (from: number, to: number): Segment => ({ X: rowsOf(task.X, from, to), y: y.slice(from, to) });
  const names = Array.from({ length: task.X.cols }, (_, c) => `f${c}`);
  return {
    data: {
      featureNames: names,
      ...(kind === 'classification' ? { classes: [...SEQUENCE_CLASSES] } : {}),
      train: segment(0, train),
      valid: segment(train, train + valid),
    },
    test: segment(train + valid, task.X.rows),
  };
}

/** Share of rows whose most probable class is the label. */
export function accuracy(probabilities: Float32Array, labels: Float64Array, classes: number): number {
  let hits = 0;
  for (let r = 0; r < labels.length; r++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (probabilities[r * classes + c] > probabilities[r * classes + best]) best = c;
    if (best === labels[r]) hits++;
  }
  return hits / labels.length;
}

/** Pearson correlation. */
export function correlation(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let ma = 0, mb = 0;
  for (let i = 0; i < n; i++) { ma += a[i]; mb += b[i]; }
  ma /= n; mb /= n;
  let sab = 0, saa = 0, sbb = 0;
  for (let i = 0; i < n; i++) { sab += (a[i] - ma) * (b[i] - mb); saa += (a[i] - ma) ** 2; sbb += (b[i] - mb) ** 2; }
  return sab / Math.sqrt(saa * sbb);
}

/**
 * A seasonal series (periods 24 and 7, a slow trend, noise): the feature is the value, the target the
 * next value. Train / valid / test in time order.
 */
export function seasonalSeries(rows: number, seed: number, noise = 0.1): { data: TrainingData; test: Segment } {
  const rng = new SeededRng(seed);
  const x = new Float64Array(rows + 1);
  for (let t = 0; t <= rows; t++) x[t] = Math.sin((2 * Math.PI * t) / 24) + 0.5 * Math.sin((2 * Math.PI * t) / 7) + 0.001 * t + noise * rng.normal();
  const segment = (from: number, to: number): Segment => ({ X: { values: Float32Array.from(x.subarray(from, to)), rows: to - from, cols: 1 }, y: x.slice(from + 1, to + 1) });
  const train = Math.floor(rows * 0.6);
  const valid = Math.floor(rows * 0.8);
  return { data: { featureNames: ['x'], train: segment(0, train), valid: segment(train, valid) }, test: segment(valid, rows) };
}


/**
 * A target with a known distribution per row: y_t = 0.8 f0[t−1] + σ_t ε_t, σ_t = 0.3 + 0.4 |f1[t]|,
 * ε Gaussian or Student-t (unit scale, ν degrees of freedom). Gives the true μ_t and σ_t too.
 */
export function noisyTask(rows: number, seed: number, nu?: number): { X: Matrix; y: Float64Array; mu: Float64Array; sigma: Float64Array } {
  const rng = new SeededRng(seed);
  const cols = 2;
  const values = new Float32Array(rows * cols);
  for (let i = 0; i < values.length; i++) values[i] = rng.normal();
  const y = new Float64Array(rows);
  const mu = new Float64Array(rows);
  const sigma = new Float64Array(rows);
  for (let t = 0; t < rows; t++) {
    mu[t] = t > 0 ? 0.8 * values[(t - 1) * cols] : 0;
    sigma[t] = 0.3 + 0.4 * Math.abs(values[t * cols + 1]);
    let e = rng.normal();
    if (nu !== undefined) {
      let chi = 0;
      for (let k = 0; k < nu; k++) chi += rng.normal() ** 2;
      e /= Math.sqrt(chi / nu);
    }
    y[t] = mu[t] + sigma[t] * e;
  }
  return { X: { values, rows, cols }, y, mu, sigma };
}
