import { z } from 'zod';
import { defineFeature } from '../plugins/define';
import { fitSarimax } from '../models/arima/sarimax-fit';
import { KalmanFilter, stateSpaceSystem, type SarimaxOrder } from '../models/arima/state-space';

/**
 * ARIMA forecast of the close's log return summed over the next `horizon` bars, known at each bar's
 * close: a feature for other models. Where its parameters come from (as core/garch):
 * - in a run, the runner's training rows (`context.fitRows`, each walk-forward window's own; rows outside
 *   them are missing values to the likelihood, at most the last `maxFitRows`), then the Kalman filter
 *   runs forward over every row;
 * - with `fitRows`, the leading `fitRows` rows;
 * - otherwise (e.g. `candlelab features`), causally: refitted every `refitEvery` bars on the rows up to
 *   then (an expanding window, at most the last `maxFitRows`), the filter's state carried across refits.
 * Values start after `minFitRows` rows (row 1 with an explicit `fitRows`).
 */
export const arimaForecastFeature = defineFeature({
  id: 'core/arima-forecast',
  version: '1.0.0',
  doc: "ARIMA(p,d,q) forecast of the log return summed over the next `horizon` bars (statsmodels' SARIMAX likelihood, MLE on the run's training rows; expanding causal refits outside a run).",
  params: z.object({
    p: z.number().int().min(0).max(5).default(1),
    d: z.number().int().min(0).max(1).default(0),
    q: z.number().int().min(0).max(5).default(1),
    trend: z.enum(['n', 'c']).default('c'),
    horizon: z.number().int().min(1).max(500).default(1),
    fitRows: z.number().int().min(51).optional(),
    minFitRows: z.number().int().min(51).default(500),
    maxFitRows: z.number().int().min(51).default(5000),
    refitEvery: z.number().int().min(1).default(1000),
  }),
  fittedOnLeadingRows: true,
  lookback: (p) => (p.fitRows !== undefined ? 1 : p.minFitRows),
  outputs: (p) => [`arima_fc_${p.horizon}`],
  compute: (candles, p, context) => {
    const close = candles.column('close');
    const n = close.length;
    const returns = new Float64Array(n).fill(NaN);
    for (let t = 1; t < n; t++) returns[t] = Math.log(close[t] / close[t - 1]);
    const order: SarimaxOrder = { p: p.p, d: p.d, q: p.q, P: 0, D: 0, Q: 0, s: 0, trend: p.trend, exog: 0 };
    const out = new Float64Array(n).fill(NaN);
    const fit = (from: number, to: number, rows?: (t: number) => boolean) => {
      const start = Math.max(1, from, to - p.maxFitRows);
      const y = returns.slice(start, to);
      if (rows) for (let t = start; t < to; t++) if (!rows(t)) y[t - start] = NaN;
      return stateSpaceSystem(order, fitSarimax(order, { y }, { maxIterations: 100 }).params);
    };
    const filterRows = (filter: KalmanFilter, from: number, to: number) => {
      for (let t = from; t < to; t++) {
        filter.step(returns[t]);
        let sum = 0;
        for (const v of filter.forecast(p.horizon, undefined, false).means) sum += v;
        out[t] = sum;
      }
    };
    const fitRows = context?.fitRows;
    if (p.fitRows !== undefined || fitRows) {
      const system =
        p.fitRows !== undefined
          ? fit(0, Math.min(n, p.fitRows))
          : fit(Math.min(...fitRows!.map((r) => r.start)), Math.max(...fitRows!.map((r) => r.end)), (t) => fitRows!.some((r) => t >= r.start && t < r.end));
      filterRows(new KalmanFilter(system), 1, n);
      if (p.fitRows === undefined) out.fill(NaN, 0, Math.min(n, p.minFitRows));
      return { [`arima_fc_${p.horizon}`]: out };
    }
    // expanding causal refits: the parameters used from row t on were fitted on rows < t
    let filter: KalmanFilter | undefined;
    for (let at = p.minFitRows; at < n; at += p.refitEvery) {
      const system = fit(0, at);
      if (!filter) {
        filter = new KalmanFilter(system);
        filterRows(filter, 1, at);
      } else {
        filter = new KalmanFilter(system, { a: filter.a, P: filter.P, t: filter.t }); // a new system: its own steady state
      }
      filterRows(filter, at, Math.min(n, at + p.refitEvery));
    }
    out.fill(NaN, 0, Math.min(n, p.minFitRows));
    return { [`arima_fc_${p.horizon}`]: out };
  },
});
