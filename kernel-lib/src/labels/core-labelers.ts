import { z } from 'zod';
import { defineLabeler } from '../plugins/define';
import { BUY, DIRECTION_CLASSES, HOLD, SELL, directionLabels } from './direction';
import { rollingDeviation } from '../features/kernels';

/**
 * Labelers beyond the fixed-threshold direction: each one looks ahead by a declared horizon, writes NaN
 * where that future is not in the data (never a filled value), and never joins the feature columns.
 */

const bars = (fallback: number) => z.number().int().min(1).max(100_000).default(fallback);

/** Sample standard deviation of one-bar returns over the trailing `window` bars (inclusive); NaN before. */
export function trailingVolatility(close: Float64Array, window: number): Float64Array {
  const returns = new Float64Array(Math.max(0, close.length - 1));
  for (let i = 1; i < close.length; i++) returns[i - 1] = close[i] / close[i - 1] - 1;
  // row i's window holds the returns ending at row i, i.e. returns[i − window .. i − 1]
  const out = new Float64Array(close.length).fill(NaN);
  out.set(rollingDeviation(returns, window), 1);
  return out;
}

/** SELL/HOLD/BUY with a threshold of k × the trailing volatility scaled to the horizon (k·σ·√bars). */
export function adaptiveDirectionLabels(close: Float64Array, horizon: number, k: number, window: number): Float64Array {
  const volatility = trailingVolatility(close, window);
  const out = new Float64Array(close.length).fill(NaN);
  for (let i = 0; i + horizon < close.length; i++) {
    if (!Number.isFinite(volatility[i])) continue;
    const threshold = k * volatility[i] * Math.sqrt(horizon);
    const forward = close[i + horizon] / close[i] - 1;
    out[i] = forward > threshold ? BUY : forward < -threshold ? SELL : HOLD;
  }
  return out;
}

export const adaptiveDirectionLabeler = defineLabeler({
  id: 'core/adaptive-direction',
  version: '1.0.0',
  doc: 'SELL/HOLD/BUY over `bars` bars against k × trailing volatility × √bars (the threshold adapts to the regime).',
  task: 'classification',
  params: z.object({ bars: bars(5), k: z.number().positive().default(0.5), window: z.number().int().min(2).default(100) }),
  horizon: (p) => p.bars,
  lookback: (p) => p.window,
  label: (candles, p) => ({ target: adaptiveDirectionLabels(candles.column('close'), p.bars, p.k, p.window), classes: [...DIRECTION_CLASSES] }),
});

/** Majority vote of several direction labels; ties and missing votes give HOLD; NaN if any horizon is unknown. */
export function consensusLabels(labels: readonly Float64Array[]): Float64Array {
  const n = labels[0].length;
  const out = new Float64Array(n).fill(NaN);
  for (let i = 0; i < n; i++) {
    let buy = 0;
    let sell = 0;
    let known = true;
    for (const series of labels) {
      const v = series[i];
      if (!Number.isFinite(v)) {
        known = false;
        break;
      }
      if (v === BUY) buy++;
      else if (v === SELL) sell++;
    }
    if (!known) continue;
    const half = labels.length / 2;
    out[i] = buy > half ? BUY : sell > half ? SELL : HOLD;
  }
  return out;
}

const horizonSpec = z.object({ bars: z.number().int().min(1), threshold: z.number().positive() }).strict();

export const multiHorizonLabeler = defineLabeler({
  id: 'core/multi-horizon',
  version: '1.0.0',
  doc: 'Direction labels at several horizons (own thresholds) and their majority consensus (or one chosen horizon).',
  task: 'classification',
  params: z.object({
    horizons: z.array(horizonSpec).min(1).default([{ bars: 1, threshold: 0.002 }, { bars: 4, threshold: 0.005 }, { bars: 24, threshold: 0.015 }]),
    /** 'consensus' (majority vote) or the index of one horizon. */
    output: z.union([z.literal('consensus'), z.number().int().min(0)]).default('consensus'),
  }),
  horizon: (p) => Math.max(...p.horizons.map((h) => h.bars)),
  label: (candles, p) => {
    const close = candles.column('close');
    const labels = p.horizons.map((h) => directionLabels(close, h.bars, h.threshold));
    if (p.output !== 'consensus' && p.output >= labels.length) throw new RangeError(`output ${p.output} but only ${labels.length} horizons`);
    return { target: p.output === 'consensus' ? consensusLabels(labels) : labels[p.output], classes: [...DIRECTION_CLASSES] };
  },
});

/**
 * Risk/reward from the future high and low: over the next `bars` bars, upside = max(high)/close − 1 and
 * downside = 1 − min(low)/close. BUY when upside ≥ ratio × downside and upside ≥ minMove; SELL mirrored.
 */
export function riskRewardLabels(high: Float64Array, low: Float64Array, close: Float64Array, horizon: number, ratio: number, minMove: number): Float64Array {
  const out = new Float64Array(close.length).fill(NaN);
  for (let i = 0; i + horizon < close.length; i++) {
    let top = -Infinity;
    let bottom = Infinity;
    for (let j = i + 1; j <= i + horizon; j++) {
      if (high[j] > top) top = high[j];
      if (low[j] < bottom) bottom = low[j];
    }
    const upside = top / close[i] - 1;
    const downside = 1 - bottom / close[i];
    out[i] = upside >= minMove && upside >= ratio * downside ? BUY : downside >= minMove && downside >= ratio * upside ? SELL : HOLD;
  }
  return out;
}

export const riskRewardLabeler = defineLabeler({
  id: 'core/risk-reward',
  version: '1.0.0',
  doc: 'BUY when the next bars offer ≥ ratio × more upside (future high) than downside (future low), SELL mirrored, else HOLD.',
  task: 'classification',
  params: z.object({ bars: bars(24), ratio: z.number().positive().default(2), minMove: z.number().min(0).default(0.01) }),
  horizon: (p) => p.bars,
  label: (candles, p) => ({
    target: riskRewardLabels(candles.column('high'), candles.column('low'), candles.column('close'), p.bars, p.ratio, p.minMove),
    classes: [...DIRECTION_CLASSES],
  }),
});

export type TripleBarrierResult = { target: Float64Array; eventEnd: Float64Array };

/**
 * Triple barrier (López de Prado, Advances in Financial Machine Learning, ch. 3): from each close, a
 * take-profit barrier at +upper × σ, a stop barrier at −lower × σ (σ the trailing volatility scaled to
 * the horizon, or 1 for fixed fractions) and a time barrier `bars` later. The label is which barrier is
 * touched first (BUY: upper, SELL: lower, HOLD: time); both touched in one bar counts as the stop
 * (conservative). `eventEnd` is the bar open time at which the event ended, for purged validation.
 */
export function tripleBarrierLabels(
  time: Float64Array,
  high: Float64Array,
  low: Float64Array,
  close: Float64Array,
  options: { bars: number; upper: number; lower: number; volatility?: Float64Array },
): TripleBarrierResult {
  const n = close.length;
  const target = new Float64Array(n).fill(NaN);
  const eventEnd = new Float64Array(n).fill(NaN);
  for (let i = 0; i < n - 1; i++) {
    const scale = options.volatility ? options.volatility[i] * Math.sqrt(options.bars) : 1;
    if (!Number.isFinite(scale)) continue;
    const up = close[i] * (1 + options.upper * scale);
    const down = close[i] * (1 - options.lower * scale);
    const last = Math.min(n - 1, i + options.bars);
    for (let j = i + 1; j <= last; j++) {
      if (low[j] <= down) {
        target[i] = SELL;
        eventEnd[i] = time[j];
        break;
      }
      if (high[j] >= up) {
        target[i] = BUY;
        eventEnd[i] = time[j];
        break;
      }
      // the time barrier counts only when the whole window is in the data
      if (j === i + options.bars) {
        target[i] = HOLD;
        eventEnd[i] = time[j];
      }
    }
  }
  return { target, eventEnd };
}

export const tripleBarrierLabeler = defineLabeler({
  id: 'core/triple-barrier',
  version: '1.0.0',
  doc: 'First barrier touched within `bars` bars: take-profit (BUY), stop (SELL) or time (HOLD); widths in units of trailing volatility or fixed fractions.',
  task: 'classification',
  params: z.object({
    bars: bars(24),
    upper: z.number().positive().default(1),
    lower: z.number().positive().default(1),
    /** 'volatility': widths × trailing volatility × √bars; 'fixed': widths are fractions of price. */
    scale: z.enum(['volatility', 'fixed']).default('volatility'),
    window: z.number().int().min(2).default(100),
  }),
  horizon: (p) => p.bars,
  lookback: (p) => (p.scale === 'volatility' ? p.window : 0),
  label: (candles, p) => {
    const close = candles.column('close');
    const { target, eventEnd } = tripleBarrierLabels(candles.time, candles.column('high'), candles.column('low'), close, {
      bars: p.bars,
      upper: p.upper,
      lower: p.lower,
      volatility: p.scale === 'volatility' ? trailingVolatility(close, p.window) : undefined,
    });
    return { target, classes: [...DIRECTION_CLASSES], eventEnd };
  },
});

/** The future return (simple or log) or future close `bars` bars ahead: regression targets. */
export function futureValues(close: Float64Array, horizon: number, output: 'return' | 'log-return' | 'price'): Float64Array {
  const out = new Float64Array(close.length).fill(NaN);
  for (let i = 0; i + horizon < close.length; i++) {
    const future = close[i + horizon];
    out[i] = output === 'price' ? future : output === 'log-return' ? Math.log(future / close[i]) : future / close[i] - 1;
  }
  return out;
}

export const futureReturnLabeler = defineLabeler({
  id: 'core/future-return',
  version: '1.0.0',
  doc: 'Regression target: the return (or log-return, or the price) `bars` bars ahead.',
  task: 'regression',
  params: z.object({ bars: bars(5), output: z.enum(['return', 'log-return', 'price']).default('return') }),
  horizon: (p) => p.bars,
  label: (candles, p) => ({ target: futureValues(candles.column('close'), p.bars, p.output) }),
});

export const TREND_CLASSES = ['DOWN', 'SIDEWAYS', 'UP'] as const;

/**
 * Trend over the next `bars` bars: the least-squares slope of log close over the window ending `bars`
 * ahead, times the window length (the fitted log-change). UP above +threshold, DOWN below −threshold.
 */
export function trendLabels(close: Float64Array, horizon: number, threshold: number): Float64Array {
  const out = new Float64Array(close.length).fill(NaN);
  const m = horizon + 1;
  const meanX = horizon / 2;
  let varianceX = 0;
  for (let x = 0; x < m; x++) varianceX += (x - meanX) ** 2;
  for (let i = 0; i + horizon < close.length; i++) {
    let meanY = 0;
    for (let x = 0; x < m; x++) meanY += Math.log(close[i + x]);
    meanY /= m;
    let covariance = 0;
    for (let x = 0; x < m; x++) covariance += (x - meanX) * (Math.log(close[i + x]) - meanY);
    const change = (covariance / varianceX) * horizon;
    out[i] = change > threshold ? 2 : change < -threshold ? 0 : 1;
  }
  return out;
}

export const trendLabeler = defineLabeler({
  id: 'core/trend',
  version: '1.0.0',
  doc: 'UP/SIDEWAYS/DOWN by the least-squares log-price change over the next `bars` bars against a threshold.',
  task: 'classification',
  params: z.object({ bars: bars(24), threshold: z.number().positive().default(0.02) }),
  horizon: (p) => p.bars,
  label: (candles, p) => ({ target: trendLabels(candles.column('close'), p.bars, p.threshold), classes: [...TREND_CLASSES] }),
});

export type ClassBalance = {
  rows: number;
  classes: Array<{ name: string; count: number; fraction: number }>;
  /** 'one-class', 'dominant:<CLASS>' (> maxShare of rows), 'rare:<CLASS>' (< minShare). */
  flags: string[];
};

/** Class counts of a label (NaN skipped), flagging one-class, swamped and rare classes before training. */
export function classBalance(target: Float64Array, classes: readonly string[], options: { maxShare?: number; minShare?: number } = {}): ClassBalance {
  const counts = new Array<number>(classes.length).fill(0);
  let rows = 0;
  for (const v of target) {
    if (!Number.isFinite(v)) continue;
    counts[v]++;
    rows++;
  }
  const maxShare = options.maxShare ?? 0.8;
  const minShare = options.minShare ?? 0.05;
  const entries = classes.map((name, c) => ({ name, count: counts[c], fraction: rows ? counts[c] / rows : 0 }));
  const flags: string[] = [];
  if (entries.filter((e) => e.count > 0).length < 2) flags.push('one-class');
  for (const e of entries) {
    if (e.fraction > maxShare) flags.push(`dominant:${e.name}`);
    else if (e.fraction < minShare) flags.push(`rare:${e.name}`);
  }
  return { rows, classes: entries, flags };
}

export const extraLabelers = [adaptiveDirectionLabeler, multiHorizonLabeler, riskRewardLabeler, tripleBarrierLabeler, futureReturnLabeler, trendLabeler];
