import type { Candles } from '../frame/frame';
import { classificationMetrics } from '../models/classification-metrics';
import { regressionMetrics } from '../models/regression-metrics';
import { fitSarimax } from '../models/arima/sarimax-fit';
import { KalmanFilter, stateSpaceSystem, type SarimaxOrder } from '../models/arima/state-space';
import type { ChronologicalSplit } from '../validation/split';
import type { LabelSet, Predictions } from './stages';

/**
 * Baselines beside the model's test metrics, so a report shows at once whether the model beats them:
 * - naive: the last label known at the row (the label of the row `horizon` bars earlier, whose window has
 *   closed), repeated as the prediction;
 * - ARIMA(1,0,1) with a constant, fitted on the last (at most 2000) training rows and filtered causally
 *   over the test rows. Regression targets: ARIMA models the known labels themselves and forecasts
 *   `horizon` steps ahead (the label of the row). Class targets: ARIMA models the close's 1-bar log
 *   return; its forecast summed over the horizon is cut into the classes (taken as ordered down → up,
 *   as the direction labelers order them) at the quantiles that reproduce the training rows' class shares.
 * Metrics use the same definitions for the model and both baselines over the same test rows.
 */

/** One line of the baseline table: regression (MAE, RMSE, R²) or classification (accuracy, …) numbers, and direction accuracy. */
export type BaselineMetrics = {
  rows: number;
  mae?: number;
  rmse?: number;
  r2?: number | null;
  accuracy?: number;
  balancedAccuracy?: number;
  macroF1?: number;
  /**
   * Regression: share of rows with a non-zero target whose prediction has its sign. Classes: share of the
   * rows whose true class is the first (down) or last (up) one that were predicted as that class.
   */
  directionAccuracy: number | null;
};

export type RunBaselines = {
  task: 'classification' | 'regression';
  /** The run's model on the same rows, with the same definitions. */
  model: BaselineMetrics;
  naive: BaselineMetrics;
  arima: BaselineMetrics & { order: [number, number, number]; trend: 'c'; series: string; fitRows: number; parameters: number[]; /** Validated runs: one ARIMA per window (parameters: the last one's). */ windows?: number };
  /** Wall time of computing the baselines (not part of any fingerprint). */
  ms: number;
};

/** At most this many training rows fit the baseline ARIMA, so runs stay fast. */
export const BASELINE_FIT_ROWS = 2000;
const ORDER: SarimaxOrder = { p: 1, d: 0, q: 1, P: 0, D: 0, Q: 0, s: 0, trend: 'c', exog: 0 };

function classDirectionAccuracy(predicted: Int32Array, actual: ArrayLike<number>, k: number): number | null {
  let rows = 0;
  let hits = 0;
  for (let i = 0; i < predicted.length; i++) {
    const y = actual[i];
    if (y !== 0 && y !== k - 1) continue;
    rows++;
    if (predicted[i] === y) hits++;
  }
  return rows ? hits / rows : null;
}

function classLine(probabilities: Float32Array, actual: Float64Array, classes: readonly string[]): BaselineMetrics {
  const k = classes.length;
  const m = classificationMetrics(probabilities, actual, classes);
  const predicted = new Int32Array(actual.length);
  for (let r = 0; r < actual.length; r++) {
    let best = 0;
    for (let c = 1; c < k; c++) if (probabilities[r * k + c] > probabilities[r * k + best]) best = c;
    predicted[r] = Number.isFinite(actual[r]) ? best : -1;
  }
  return { rows: m.rows, accuracy: m.accuracy, balancedAccuracy: m.balancedAccuracy, macroF1: m.macroF1, directionAccuracy: classDirectionAccuracy(predicted, actual, k) };
}

function regressionLine(predicted: ArrayLike<number>, actual: ArrayLike<number>): BaselineMetrics {
  const m = regressionMetrics(predicted, actual);
  return { rows: m.rows, mae: m.mae, rmse: m.rmse, r2: m.r2, directionAccuracy: m.directionAccuracy };
}

/**
 * Rows a baseline predicts, and the training rows its ARIMA is fitted on (at most BASELINE_FIT_ROWS of
 * them, the latest). The filter runs from `fitStart` to `end` (rows between fit and test are filtered
 * too: they are known by then); a block whose fit rows lie after its test rows (a k-fold's first group)
 * starts filtering at `start` with the fitted parameters.
 */
export type BaselineBlock = { fitStart: number; fitEnd: number; start: number; end: number };

/** Compute the baseline table of a run's test rows (one chronological split). */
export function runBaselines(candles: Candles, labels: LabelSet, split: ChronologicalSplit, predictions: Predictions): RunBaselines {
  const fitEnd = split.train.end;
  const block = { fitStart: Math.max(split.train.start, fitEnd - BASELINE_FIT_ROWS), fitEnd, start: split.test.start, end: split.test.end };
  return runBaselinesOver(candles, labels, [block], predictions);
}

/**
 * The baseline table over several test blocks, each with its own fit rows (a validated run: one block per
 * piece of the traded path, ARIMA fitted on that window's training rows); metrics over all blocks' rows.
 */
export function runBaselinesOver(candles: Candles, labels: LabelSet, blocks: readonly BaselineBlock[], predictions: Predictions): RunBaselines {
  const started = performance.now();
  const h = Math.max(1, labels.horizon);
  const target = labels.target;
  const rows = blocks.reduce((n, b) => n + b.end - b.start, 0);
  const width = predictions.columns.length;
  const actual = new Float64Array(rows);
  const modelValues = new Float32Array(rows * width);
  let at = 0;
  for (const b of blocks) {
    actual.set(target.subarray(b.start, b.end), at);
    modelValues.set(predictions.values.subarray((b.start - predictions.start) * width, (b.end - predictions.start) * width), at * width);
    at += b.end - b.start;
  }

  // the last label whose window has closed by row t: row t − h's (carried back over missing ones)
  const lastKnown = (t: number): number => {
    for (let i = t - h; i >= 0; i--) if (Number.isFinite(target[i])) return target[i];
    return NaN;
  };
  const fits: Array<{ fitRows: number; parameters: number[] }> = [];
  const describeFits = () => ({
    fitRows: Math.max(...fits.map((f) => f.fitRows)),
    // one block: its parameters; several: the last window's (the registered model's)
    parameters: fits[fits.length - 1].parameters,
    ...(blocks.length > 1 ? { windows: blocks.length } : {}),
  });
  const paramsOf = (fit: ReturnType<typeof fitSarimax>) => [...fit.params.trend, ...fit.params.ar, ...fit.params.ma, fit.params.sigma2];

  if (labels.classes) {
    const classes = labels.classes;
    const k = classes.length;
    const oneHot = (out: Float32Array, r: number, c: number) => {
      if (Number.isFinite(c)) out[r * k + c] = 1;
      else out.fill(1 / k, r * k, (r + 1) * k);
    };
    const naive = new Float32Array(rows * k);
    const arima = new Float32Array(rows * k);
    // ARIMA on the 1-bar log return of the close; the forecast summed over the horizon
    const close = candles.column('close');
    const returns = new Float64Array(candles.length).fill(NaN);
    for (let t = 1; t < candles.length; t++) returns[t] = Math.log(close[t] / close[t - 1]);
    let row = 0;
    for (const b of blocks) {
      const fitStart = Math.max(1, b.fitStart);
      const fit = fitSarimax(ORDER, { y: returns.subarray(fitStart, b.fitEnd) }, { maxIterations: 100 });
      fits.push({ fitRows: b.fitEnd - fitStart, parameters: paramsOf(fit) });
      const summed = (filter: KalmanFilter) => {
        const { means } = filter.forecast(h, undefined, false);
        let sum = 0;
        for (const v of means) sum += v;
        return sum;
      };
      // the training rows' forecasts, for the cut points
      const trainFilter = new KalmanFilter(stateSpaceSystem(ORDER, fit.params));
      const train: number[] = [];
      const counts = new Array<number>(k).fill(0);
      for (let t = fitStart; t < b.fitEnd; t++) {
        trainFilter.step(returns[t]);
        const f = summed(trainFilter);
        if (!Number.isFinite(f) || !Number.isFinite(target[t])) continue;
        train.push(f);
        counts[target[t]]++;
      }
      // cut points reproducing the training rows' class shares
      train.sort((x, y) => x - y);
      const cuts: number[] = [];
      let cumulative = 0;
      for (let c = 0; c + 1 < k; c++) {
        cumulative += counts[c];
        cuts.push(train.length ? train[Math.min(train.length - 1, Math.max(0, Math.round(cumulative) - 1))] : 0);
      }
      const filter = b.fitEnd <= b.start ? trainFilter : new KalmanFilter(stateSpaceSystem(ORDER, fit.params));
      for (let t = b.fitEnd <= b.start ? b.fitEnd : Math.max(1, b.start); t < b.end; t++) {
        filter.step(returns[t]);
        if (t < b.start) continue;
        const f = summed(filter);
        let c = 0;
        while (c < cuts.length && f > cuts[c]) c++;
        oneHot(arima, row + t - b.start, c);
      }
      for (let t = b.start; t < b.end; t++) oneHot(naive, row + t - b.start, lastKnown(t));
      row += b.end - b.start;
    }
    return {
      task: 'classification',
      model: classLine(modelValues, actual, classes),
      naive: classLine(naive, actual, classes),
      arima: { ...classLine(arima, actual, classes), order: [1, 0, 1], trend: 'c', series: 'log return of the close', ...describeFits() },
      ms: performance.now() - started,
    };
  }

  // regression: the naive last label, and ARIMA on the known labels forecasting `h` steps ahead
  const naive = new Float64Array(rows);
  const arima = new Float64Array(rows).fill(NaN);
  const known = (t: number) => (t - h >= 0 ? target[t - h] : NaN);
  let row = 0;
  for (const b of blocks) {
    const series = new Float64Array(b.fitEnd - b.fitStart);
    for (let t = b.fitStart; t < b.fitEnd; t++) series[t - b.fitStart] = known(t);
    const fit = fitSarimax(ORDER, { y: series }, { maxIterations: 100 });
    fits.push({ fitRows: b.fitEnd - b.fitStart, parameters: paramsOf(fit) });
    const filter = new KalmanFilter(stateSpaceSystem(ORDER, fit.params));
    for (let t = b.fitEnd <= b.start ? b.fitStart : b.start; t < b.end; t++) {
      filter.step(known(t));
      if (t >= b.start) arima[row + t - b.start] = filter.forecast(h, undefined, false).means[h - 1];
    }
    for (let t = b.start; t < b.end; t++) naive[row + t - b.start] = lastKnown(t);
    row += b.end - b.start;
  }
  return {
    task: 'regression',
    model: regressionLine(modelValues, actual),
    naive: regressionLine(naive, actual),
    arima: { ...regressionLine(arima, actual), order: [1, 0, 1], trend: 'c', series: 'the target (labels known at the row)', ...describeFits() },
    ms: performance.now() - started,
  };
}
