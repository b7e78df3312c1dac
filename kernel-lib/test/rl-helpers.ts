import type { Matrix, TrainingData } from '../src/models/model';
import type { EnvironmentCosts } from '../src/rl/trading-env';
import { marketFromReturns } from '../src/rl/rl-model';
import { oraclePolicy } from '../src/rl/oracle';

/** Bars per cycle of the synthetic market. */
export const PERIOD = 16;

/**
 * A noiseless periodic market: close[t] = 100·exp(A·sin(2πt/P)). Features: the bar's return (`ret_1`,
 * the column the environment trades on) and the phase as sin/cos. The optimal policy is known exactly
 * (oraclePolicy) and is a function of the phase and the position held.
 */
export function periodicMarket(rows: number, amplitude = 0.004): { X: Matrix; featureNames: string[] } {
  const close = Float64Array.from({ length: rows }, (_, t) => 100 * Math.exp(amplitude * Math.sin((2 * Math.PI * t) / PERIOD)));
  const cols = 3;
  const values = new Float32Array(rows * cols);
  for (let t = 0; t < rows; t++) {
    values[t * cols] = t > 0 ? close[t] / close[t - 1] - 1 : 0;
    values[t * cols + 1] = Math.sin((2 * Math.PI * t) / PERIOD);
    values[t * cols + 2] = Math.cos((2 * Math.PI * t) / PERIOD);
  }
  return { X: { values, rows, cols }, featureNames: ['ret_1', 'phase_sin', 'phase_cos'] };
}

export function rowsOf(X: Matrix, from: number, to: number): Matrix {
  return { values: X.values.slice(from * X.cols, to * X.cols), rows: to - from, cols: X.cols };
}

/** Train on the first `train` rows, validate on the next `valid`; the rest is unseen (test). */
export function periodicData(rows: number, train: number, valid: number): { data: TrainingData; test: Matrix } {
  const { X, featureNames } = periodicMarket(rows);
  const segment = (from: number, to: number) => ({ X: rowsOf(X, from, to), y: new Float64Array(to - from) });
  return { data: { featureNames, train: segment(0, train), valid: segment(train, train + valid), horizon: 1 }, test: rowsOf(X, train + valid, rows) };
}

/** The oracle's total return on a block of rows (the prices its return column implies). */
export function oracleReturn(X: Matrix, costs: EnvironmentCosts): number {
  const market = marketFromReturns(X, 0, X);
  return oraclePolicy(market.open, market.close, costs).totalReturn;
}
