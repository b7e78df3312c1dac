import { z } from 'zod';
import { defineFeature } from '../plugins/define';
import { fitSarimax } from '../models/arima/sarimax-fit';
import { KalmanFilter, stateSpaceSystem, type KalmanState, type SarimaxOrder, type SarimaxParameters, type StateSpaceSystem } from '../models/arima/state-space';
import type { RowRange } from '../validation/splitter';
import { HistoryStream, historyRows } from './streaming/history-stream';

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
  stream: (p, context) => arimaForecastTwin(p, context?.fitRows),
});

type ArimaForecastParams = { p: number; d: number; q: number; trend: 'n' | 'c'; horizon: number; fitRows?: number; minFitRows: number; maxFitRows: number; refitEvery: number };

/** The Kalman filter's state as plain JSON (a stream state). */
type FilterState = { a: number[]; P: number[]; t: number; converged?: { F: number; PZ: number[] } };

function filterState(filter: KalmanFilter): FilterState {
  return {
    a: Array.from(filter.a),
    P: Array.from(filter.P),
    t: filter.t,
    ...(filter.converged ? { converged: { F: filter.converged.F, PZ: Array.from(filter.converged.PZ) } } : {}),
  };
}

/**
 * The streaming twin of core/arima-forecast: the fitted model's Kalman filter (the state-space form of
 * the ARIMA) takes one log return per candle, O(k² + horizon·k²) whatever the history, and the forecast
 * sums the next `horizon` means; equal to the batch:
 * - outside a run (a paper or live session; no `fitRows`): the same expanding refits every `refitEvery`
 *   rows from `minFitRows`, each on the last `maxFitRows` returns (the stream keeps that many), the
 *   filter's state carried across refits as the batch carries it;
 * - with a fixed fit (`fitRows`, or the context's `fitRows`): fitted when the stream reaches the fit's last
 *   row, then filtered from the first return; the rows before are NaN in the stream (the batch's use
 *   parameters fitted on later rows), every row from there on equals the batch.
 */
function arimaForecastTwin(p: ArimaForecastParams, contextFit: readonly RowRange[] | undefined) {
  const name = `arima_fc_${p.horizon}`;
  const order: SarimaxOrder = { p: p.p, d: p.d, q: p.q, P: 0, D: 0, Q: 0, s: 0, trend: p.trend, exog: 0 };
  const segments = p.fitRows !== undefined ? [{ start: 0, end: p.fitRows }] : contextFit;
  const fitEnd = segments ? Math.max(...segments.map((r) => r.end)) : NaN;
  const fitStart = segments ? Math.min(...segments.map((r) => r.start)) : NaN;
  const masked = p.fitRows === undefined;
  type State = { seen: number; previousClose: number; params?: SarimaxParameters; filter?: FilterState; nextAt: number };
  // the system of the current parameters, rebuilt only when they change (a refit, a revision, a restore)
  let cached: { key: string; system: StateSpaceSystem } | undefined;
  const systemOf = (s: State) => {
    const key = JSON.stringify(s.params);
    if (cached?.key !== key) cached = { key, system: stateSpaceSystem(order, s.params!) };
    return cached.system;
  };
  const fit = (y: Float64Array) => fitSarimax(order, { y }, { maxIterations: 100 }).params;
  const forecast = (filter: KalmanFilter) => {
    let sum = 0;
    for (const v of filter.forecast(p.horizon, undefined, false).means) sum += v;
    return sum;
  };
  return new HistoryStream<State>({
    kind: `core/arima-forecast ${JSON.stringify(p)}${segments ? ` fit ${JSON.stringify(segments)}` : ''}`,
    outputs: [name],
    requiredInputs: segments ? Math.max(fitEnd - 1, masked ? p.minFitRows : 1) : p.minFitRows,
    initial: { seen: 0, previousClose: NaN, nextAt: p.minFitRows },
    // a refit reads the last maxFitRows returns (the first one every row since row 1); a fixed fit, every row until it is made
    keep: (s) => (segments ? (s.filter ? 0 : Infinity) : s.filter ? p.maxFitRows + 1 : Infinity),
    step: (s, history, c) => {
      const row = s.seen++;
      const value = row === 0 ? NaN : Math.log(c.close / s.previousClose);
      history.values.push(value);
      s.previousClose = c.close;
      let filter: KalmanFilter | undefined;
      /** A new filter of the just-fitted system, run over rows 1..to − 1 (the batch filters every row from 1). */
      const startFilter = (to: number) => {
        const fresh = new KalmanFilter(systemOf(s));
        for (let t = 1; t < to; t++) fresh.step(history.values[t - history.offset]);
        return fresh;
      };
      if (segments) {
        if (row === fitEnd - 1) {
          const start = Math.max(1, fitStart, fitEnd - p.maxFitRows);
          const y = historyRows(history, start, fitEnd);
          if (p.fitRows === undefined) for (let t = start; t < fitEnd; t++) if (!segments.some((r) => t >= r.start && t < r.end)) y[t - start] = NaN;
          s.params = fit(y);
          filter = startFilter(row);
        }
      } else if (row === s.nextAt) {
        // the parameters used from this row on are fitted on rows before it, at most the last maxFitRows
        s.params = fit(historyRows(history, Math.max(1, row - p.maxFitRows), row));
        // the first fit filters every earlier row; a refit carries the state (a new system: its own steady state)
        filter = s.filter ? new KalmanFilter(systemOf(s), { a: s.filter.a, P: s.filter.P, t: s.filter.t }) : startFilter(row);
        s.nextAt += p.refitEvery;
      }
      if (!filter && !s.filter) return [NaN];
      filter ??= new KalmanFilter(systemOf(s), s.filter as KalmanState);
      filter.step(value);
      s.filter = filterState(filter);
      return [masked && row < p.minFitRows ? NaN : forecast(filter)];
    },
  });
}
