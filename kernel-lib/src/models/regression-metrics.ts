/** Regression quality of predicted values against targets (rows where either is not finite are skipped). */
export type RegressionMetrics = {
  rows: number;
  /** Mean absolute error. */
  mae: number;
  /** Root mean squared error. */
  rmse: number;
  /** 1 − SSE/SST (SST about the targets' mean); null when the targets are constant. */
  r2: number | null;
  /** Share of rows with a non-zero target whose prediction has the same sign (a zero prediction is wrong); null when every target is 0. */
  directionAccuracy: number | null;
  /** Rows counted for direction accuracy. */
  directionRows: number;
};

/**
 * MAE, RMSE, R² and direction accuracy of `predicted` against `actual`, row by row. Predictions of a
 * model with several output columns (rows × k, the point forecast first: FittedModel.outputNames) are
 * scored by column 0.
 */
export function regressionMetrics(predicted: ArrayLike<number>, actual: ArrayLike<number>): RegressionMetrics {
  if (actual.length > 0 && predicted.length !== actual.length && predicted.length % actual.length === 0) {
    const k = predicted.length / actual.length;
    predicted = Array.from({ length: actual.length }, (_, i) => predicted[i * k]);
  }
  if (predicted.length !== actual.length) throw new RangeError(`regressionMetrics: ${predicted.length} predictions for ${actual.length} targets`);
  let rows = 0;
  let sumAbs = 0;
  let sumSq = 0;
  let sumY = 0;
  for (let i = 0; i < actual.length; i++) {
    const p = predicted[i];
    const y = actual[i];
    if (!Number.isFinite(p) || !Number.isFinite(y)) continue;
    rows++;
    sumAbs += Math.abs(p - y);
    sumSq += (p - y) * (p - y);
    sumY += y;
  }
  const meanY = rows ? sumY / rows : 0;
  let total = 0;
  let directionRows = 0;
  let directionHits = 0;
  for (let i = 0; i < actual.length; i++) {
    const p = predicted[i];
    const y = actual[i];
    if (!Number.isFinite(p) || !Number.isFinite(y)) continue;
    total += (y - meanY) * (y - meanY);
    if (y !== 0) {
      directionRows++;
      if (Math.sign(p) === Math.sign(y)) directionHits++;
    }
  }
  return {
    rows,
    mae: rows ? sumAbs / rows : 0,
    rmse: rows ? Math.sqrt(sumSq / rows) : 0,
    r2: rows && total > 0 ? 1 - sumSq / total : null,
    directionAccuracy: directionRows ? directionHits / directionRows : null,
    directionRows,
  };
}
