import { ConfigError } from '../errors';
import type { Matrix } from '../models/model';

/**
 * Column scalers with a learn path and an infer path kept apart: `fitScaler` sees the training rows
 * only and returns the fitted parameters (plain JSON, saved with a model); `transform` applies them to
 * any rows, never refitting.
 */
export type ScalerKind = 'standard' | 'minmax' | 'robust';

export type FittedScaler = {
  kind: ScalerKind;
  /** Per column: what is subtracted. */
  center: number[];
  /** Per column: what the difference is divided by (1 for constant columns). */
  scale: number[];
};

function quantile(sorted: Float64Array, q: number): number {
  const position = (sorted.length - 1) * q;
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  return sorted[lower] + (sorted[upper] - sorted[lower]) * (position - lower);
}

/**
 * Fit on training rows: standard (mean, population standard deviation), minmax (min, max − min), robust
 * (median, interquartile range — as scikit-learn's RobustScaler). Constant columns get scale 1.
 */
export function fitScaler(train: Matrix, kind: ScalerKind = 'standard'): FittedScaler {
  if (train.rows < 1) throw new ConfigError('cannot fit a scaler on zero rows');
  const center: number[] = [];
  const scale: number[] = [];
  const column = new Float64Array(train.rows);
  for (let c = 0; c < train.cols; c++) {
    for (let r = 0; r < train.rows; r++) {
      const value = train.values[r * train.cols + c];
      if (!Number.isFinite(value)) throw new ConfigError(`column ${c} has ${value} at training row ${r}; clean the features before scaling`);
      column[r] = value;
    }
    let mid: number;
    let spread: number;
    if (kind === 'standard') {
      let sum = 0;
      for (const v of column) sum += v;
      mid = sum / train.rows;
      let squares = 0;
      for (const v of column) squares += (v - mid) ** 2;
      spread = Math.sqrt(squares / train.rows);
    } else {
      const sorted = Float64Array.from(column).sort();
      if (kind === 'minmax') {
        mid = sorted[0];
        spread = sorted[sorted.length - 1] - sorted[0];
      } else {
        mid = quantile(sorted, 0.5);
        spread = quantile(sorted, 0.75) - quantile(sorted, 0.25);
      }
    }
    center.push(mid);
    scale.push(spread > 0 ? spread : 1);
  }
  return { kind, center, scale };
}

/** Apply fitted parameters to any rows (a new matrix; the input is not changed). */
export function transform(scaler: FittedScaler, X: Matrix): Matrix {
  if (X.cols !== scaler.center.length) throw new ConfigError(`the scaler was fitted on ${scaler.center.length} columns, got ${X.cols}`);
  const values = new Float32Array(X.values.length);
  for (let r = 0; r < X.rows; r++) {
    for (let c = 0; c < X.cols; c++) values[r * X.cols + c] = (X.values[r * X.cols + c] - scaler.center[c]) / scaler.scale[c];
  }
  return { values, rows: X.rows, cols: X.cols };
}
