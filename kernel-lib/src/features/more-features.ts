import { z } from 'zod';
import { defineFeature } from '../plugins/define';
import { smaTwin, wmaTwin, stochasticTwin, williamsRTwin, cciTwin, rocTwin, obvTwin, adxTwin, vwapTwin, volumeTwin, trendSlopeTwin, volatilityTwin, candleShapeTwin, timeTwin, interactionTwin } from './streaming/twins';
import { ConfigError } from '../errors';
import { timeframeMs } from '../frame/frame';
import { alignToBase, resampleCandles, timeframeRatio } from './resample';
import { tradingSignalsFeature } from './trading-signals-feature';
import {
  bollingerKernel,
  cciKernel,
  directionalKernel,
  macdKernel,
  obvKernel,
  returnsKernel,
  rocKernel,
  rsiKernel,
  smaKernel,
  stochasticKernel,
  trendSlopeKernel,
  volatilityKernel,
  vwapKernel,
  williamsRKernel,
  wmaKernel,
  zScoreKernel,
} from './kernels';
import { freshColumns } from './column-arena';
import { HigherTimeframeStream } from './streaming/higher-timeframe-twin';
import type { StreamingFeature } from './streaming/streaming-feature';

const period = (fallback: number) => z.number().int().min(2).max(10_000).default(fallback);

/** close / level − 1, in place over the level: a moving average as a distance, comparable across price levels. */
function distance(close: Float64Array, level: Float64Array): Float64Array {
  for (let i = 0; i < close.length; i++) level[i] = close[i] / level[i] - 1;
  return level;
}

const averageOutput = z.enum(['distance', 'level']).default('distance');

export const smaFeature = defineFeature({
  id: 'core/sma',
  version: '1.0.0',
  doc: "Simple moving average of the close, as 'distance' (close/SMA - 1) or the raw 'level'.",
  params: z.object({ period: period(50), output: averageOutput }),
  lookback: (p) => p.period - 1,
  outputs: (p) => [p.output === 'distance' ? `sma_${p.period}_dist` : `sma_${p.period}`],
  stream: (p) => smaTwin(p),
  compute: (candles, p, context) => {
    const close = candles.column('close');
    const sma = smaKernel(close, p.period, (context?.columns ?? freshColumns).output(close.length));
    return { [p.output === 'distance' ? `sma_${p.period}_dist` : `sma_${p.period}`]: p.output === 'distance' ? distance(close, sma) : sma };
  },
});

export const wmaFeature = defineFeature({
  id: 'core/wma',
  version: '1.0.0',
  doc: "Weighted moving average (weights 1..n) of the close, as 'distance' or 'level'.",
  params: z.object({ period: period(20), output: averageOutput }),
  lookback: (p) => p.period - 1,
  outputs: (p) => [p.output === 'distance' ? `wma_${p.period}_dist` : `wma_${p.period}`],
  stream: (p) => wmaTwin(p),
  compute: (candles, p, context) => {
    const close = candles.column('close');
    const wma = wmaKernel(close, p.period, (context?.columns ?? freshColumns).output(close.length));
    return { [p.output === 'distance' ? `wma_${p.period}_dist` : `wma_${p.period}`]: p.output === 'distance' ? distance(close, wma) : wma };
  },
});

/** @see George Lane's stochastic oscillator. */
export const stochasticFeature = defineFeature({
  id: 'core/stochastic',
  version: '1.0.0',
  doc: 'Stochastic oscillator %K (smoothed) and %D, 0..100.',
  params: z.object({ kPeriod: period(14), kSlowing: z.number().int().min(1).default(3), dPeriod: z.number().int().min(1).default(3) }),
  lookback: (p) => p.kPeriod - 1 + p.kSlowing - 1 + p.dPeriod - 1,
  outputs: (p) => [`stoch_k_${p.kPeriod}`, `stoch_d_${p.kPeriod}`],
  stream: (p) => stochasticTwin(p),
  compute: (candles, p, context) => {
    const { k, d } = stochasticKernel(candles.column('high'), candles.column('low'), candles.column('close'), p.kPeriod, p.kSlowing, p.dPeriod, context?.columns);
    return { [`stoch_k_${p.kPeriod}`]: k, [`stoch_d_${p.kPeriod}`]: d };
  },
});

export const williamsRFeature = defineFeature({
  id: 'core/williams-r',
  version: '1.0.0',
  doc: 'Williams %R: where the close sits in the high-low range of the last `period` bars, -100..0.',
  params: z.object({ period: period(14) }),
  lookback: (p) => p.period - 1,
  outputs: (p) => [`willr_${p.period}`],
  stream: (p) => williamsRTwin(p),
  compute: (candles, p, context) => ({ [`willr_${p.period}`]: williamsRKernel(candles.column('high'), candles.column('low'), candles.column('close'), p.period, context?.columns) }),
});

export const cciFeature = defineFeature({
  id: 'core/cci',
  version: '1.0.0',
  doc: 'Commodity Channel Index of the typical price.',
  params: z.object({ period: period(20) }),
  lookback: (p) => p.period - 1,
  outputs: (p) => [`cci_${p.period}`],
  stream: (p) => cciTwin(p),
  compute: (candles, p, context) => ({ [`cci_${p.period}`]: cciKernel(candles.column('high'), candles.column('low'), candles.column('close'), p.period, context?.columns) }),
});

export const rocFeature = defineFeature({
  id: 'core/roc',
  version: '1.0.0',
  doc: 'Rate of change of the close over `period` bars (a fraction).',
  params: z.object({ period: z.number().int().min(1).default(10) }),
  lookback: (p) => p.period,
  outputs: (p) => [`roc_${p.period}`],
  stream: (p) => rocTwin(p),
  compute: (candles, p, context) => ({ [`roc_${p.period}`]: rocKernel(candles.column('close'), p.period, (context?.columns ?? freshColumns).output(candles.length)) }),
});

export const obvFeature = defineFeature({
  id: 'core/obv',
  version: '1.0.0',
  doc: "On-balance volume: the raw cumulative line, or its z-score over `window` bars ('zscore', comparable across history).",
  params: z.object({ output: z.enum(['zscore', 'raw']).default('zscore'), window: period(100) }),
  lookback: (p) => (p.output === 'raw' ? 1 : p.window),
  outputs: (p) => [p.output === 'raw' ? 'obv' : `obv_z_${p.window}`],
  stream: (p) => obvTwin(p),
  compute: (candles, p, context) => {
    const columns = context?.columns ?? freshColumns;
    const n = candles.length;
    // the raw line is an output, or scratch (slot 2: the z-score's moments take 0 and 1)
    const obv = obvKernel(candles.column('close'), candles.column('volume'), p.output === 'raw' ? columns.output(n) : columns.scratch(2, n));
    if (p.output === 'raw') return { obv };
    const out = columns.output(n);
    if (n > 0) out[0] = NaN;
    zScoreKernel(obv.subarray(1), p.window, out.subarray(1), columns);
    return { [`obv_z_${p.window}`]: out };
  },
});

/** @see J. Welles Wilder, New Concepts in Technical Trading Systems (1978): DMI and ADX. */
export const adxFeature = defineFeature({
  id: 'core/adx',
  version: '1.0.0',
  doc: 'Average directional index (trend strength, 0..100) with +DI and -DI.',
  params: z.object({ period: period(14) }),
  lookback: (p) => 2 * p.period - 2,
  outputs: (p) => [`adx_${p.period}`, `plus_di_${p.period}`, `minus_di_${p.period}`],
  stream: (p) => adxTwin(p),
  compute: (candles, p, context) => {
    const { adx, plusDi, minusDi } = directionalKernel(candles.column('high'), candles.column('low'), candles.column('close'), p.period, context?.columns);
    return { [`adx_${p.period}`]: adx, [`plus_di_${p.period}`]: plusDi, [`minus_di_${p.period}`]: minusDi };
  },
});

export const vwapFeature = defineFeature({
  id: 'core/vwap',
  version: '1.0.0',
  doc: "Rolling volume-weighted average price over `period` bars, as 'distance' (close/VWAP - 1) or 'level'.",
  params: z.object({ period: period(24), output: averageOutput }),
  lookback: (p) => p.period - 1,
  outputs: (p) => [p.output === 'distance' ? `vwap_${p.period}_dist` : `vwap_${p.period}`],
  stream: (p) => vwapTwin(p),
  compute: (candles, p, context) => {
    const close = candles.column('close');
    const vwap = vwapKernel(candles.column('high'), candles.column('low'), close, candles.column('volume'), p.period, (context?.columns ?? freshColumns).output(close.length));
    return { [p.output === 'distance' ? `vwap_${p.period}_dist` : `vwap_${p.period}`]: p.output === 'distance' ? distance(close, vwap) : vwap };
  },
});

export const volumeFeature = defineFeature({
  id: 'core/volume',
  version: '1.0.0',
  doc: 'Volume z-score over `period` bars and a spike flag (1 when the z-score exceeds `spike`).',
  params: z.object({ period: period(24), spike: z.number().positive().default(2) }),
  lookback: (p) => p.period - 1,
  outputs: (p) => [`volume_z_${p.period}`, `volume_spike_${p.period}`],
  stream: (p) => volumeTwin(p),
  compute: (candles, p, context) => {
    const columns = context?.columns ?? freshColumns;
    const z = zScoreKernel(candles.column('volume'), p.period, columns.output(candles.length), columns);
    const spike = columns.output(z.length);
    for (let i = 0; i < z.length; i++) spike[i] = Number.isNaN(z[i]) ? NaN : z[i] > p.spike ? 1 : 0;
    return { [`volume_z_${p.period}`]: z, [`volume_spike_${p.period}`]: spike };
  },
});

export const trendSlopeFeature = defineFeature({
  id: 'core/trend-slope',
  version: '1.0.0',
  doc: 'Normalized trend slope: least-squares log-price change over the last `period` bars.',
  params: z.object({ period: period(24) }),
  lookback: (p) => p.period - 1,
  outputs: (p) => [`trend_slope_${p.period}`],
  stream: (p) => trendSlopeTwin(p),
  compute: (candles, p, context) => {
    const columns = context?.columns ?? freshColumns;
    return { [`trend_slope_${p.period}`]: trendSlopeKernel(candles.column('close'), p.period, columns.output(candles.length), columns) };
  },
});

export const volatilityFeature = defineFeature({
  id: 'core/volatility',
  version: '1.0.0',
  doc: 'Rolling volatility: sample standard deviation of log returns over `period` bars (per bar, not annualized).',
  params: z.object({ period: period(24) }),
  lookback: (p) => p.period,
  outputs: (p) => [`volatility_${p.period}`],
  stream: (p) => volatilityTwin(p),
  compute: (candles, p, context) => {
    const columns = context?.columns ?? freshColumns;
    return { [`volatility_${p.period}`]: volatilityKernel(candles.column('close'), p.period, columns.output(candles.length), columns) };
  },
});

export const candleShapeFeature = defineFeature({
  id: 'core/candle-shape',
  version: '1.0.0',
  doc: 'The bar itself: high-low range, body and wicks, as fractions of the close.',
  params: z.object({}),
  lookback: () => 0,
  outputs: () => ['hl_range', 'body', 'upper_wick', 'lower_wick'],
  stream: (p) => candleShapeTwin(p),
  compute: (candles, _p, context) => {
    const [open, high, low, close] = (['open', 'high', 'low', 'close'] as const).map((c) => candles.column(c));
    const n = close.length;
    const columns = context?.columns ?? freshColumns;
    const range = columns.output(n), body = columns.output(n), upper = columns.output(n), lower = columns.output(n);
    for (let i = 0; i < n; i++) {
      range[i] = (high[i] - low[i]) / close[i];
      body[i] = (close[i] - open[i]) / close[i];
      upper[i] = (high[i] - Math.max(open[i], close[i])) / close[i];
      lower[i] = (Math.min(open[i], close[i]) - low[i]) / close[i];
    }
    return { hl_range: range, body, upper_wick: upper, lower_wick: lower };
  },
});

/** Calendar features of the bar's open time, in UTC. */
export const timeFeature = defineFeature({
  id: 'core/time',
  version: '1.0.0',
  doc: 'Hour, day of week (0 = Sunday), day of month, month (1-12), cyclical sin/cos of hour and weekday, weekend flag; UTC.',
  params: z.object({}),
  lookback: () => 0,
  outputs: () => ['hour', 'day_of_week', 'day_of_month', 'month', 'hour_sin', 'hour_cos', 'dow_sin', 'dow_cos', 'weekend'],
  stream: (p) => timeTwin(p),
  compute: (candles) => {
    const n = candles.length;
    const columns = ['hour', 'day_of_week', 'day_of_month', 'month', 'hour_sin', 'hour_cos', 'dow_sin', 'dow_cos', 'weekend'].map(() => new Float64Array(n));
    const [hour, dow, dom, month, hourSin, hourCos, dowSin, dowCos, weekend] = columns;
    for (let i = 0; i < n; i++) {
      const date = new Date(candles.time[i]);
      hour[i] = date.getUTCHours() + date.getUTCMinutes() / 60;
      dow[i] = date.getUTCDay();
      dom[i] = date.getUTCDate();
      month[i] = date.getUTCMonth() + 1;
      hourSin[i] = Math.sin((2 * Math.PI * hour[i]) / 24);
      hourCos[i] = Math.cos((2 * Math.PI * hour[i]) / 24);
      dowSin[i] = Math.sin((2 * Math.PI * dow[i]) / 7);
      dowCos[i] = Math.cos((2 * Math.PI * dow[i]) / 7);
      weekend[i] = dow[i] === 0 || dow[i] === 6 ? 1 : 0;
    }
    return { hour, day_of_week: dow, day_of_month: dom, month, hour_sin: hourSin, hour_cos: hourCos, dow_sin: dowSin, dow_cos: dowCos, weekend };
  },
});

/** A product, ratio or difference of two columns computed earlier in the feature list. */
export const interactionFeature = defineFeature({
  id: 'core/interaction',
  version: '1.0.0',
  doc: 'a×b, a/b or a-b of two columns made by features listed before it (by column name).',
  params: z.object({ a: z.string().min(1), b: z.string().min(1), op: z.enum(['product', 'ratio', 'difference']).default('product') }),
  exampleParams: { a: 'rsi_14', b: 'volume', op: 'ratio' },
  lookback: () => 0,
  inputs: (p) => [p.a, p.b],
  outputs: (p) => [`${p.a}_${{ product: 'x', ratio: 'over', difference: 'minus' }[p.op]}_${p.b}`],
  stream: (p) => interactionTwin(p, `${p.a}_${{ product: 'x', ratio: 'over', difference: 'minus' }[p.op]}_${p.b}`),
  compute: (frame, p) => {
    const a = frame.column(p.a as 'close');
    const b = frame.column(p.b as 'close');
    const out = new Float64Array(a.length);
    for (let i = 0; i < a.length; i++) out[i] = p.op === 'product' ? a[i] * b[i] : p.op === 'ratio' ? a[i] / b[i] : a[i] - b[i];
    return { [`${p.a}_${{ product: 'x', ratio: 'over', difference: 'minus' }[p.op]}_${p.b}`]: out };
  },
});

/**
 * The seeds' four interactions, computed from their own kernels: momentum × volume z-score, RSI × Bollinger
 * %B, MACD histogram × trend slope, VWAP distance × volume spike.
 */
export const seedInteractionsFeature = defineFeature({
  id: 'core/seed-interactions',
  version: '1.0.0',
  doc: "The seeds' interactions: momentum×volume z, RSI×%B, MACD histogram×trend slope, VWAP distance×volume spike.",
  params: z.object({ momentum: z.number().int().min(1).default(10), window: period(24), rsi: period(14), bollinger: period(20), spike: z.number().positive().default(2) }),
  lookback: (p) => Math.max(p.momentum, p.window - 1, p.rsi, p.bollinger - 1, 26 - 1 + 9 - 1),
  outputs: () => ['momentum_x_volume_z', 'rsi_x_bb_pctb', 'macd_hist_x_trend_slope', 'vwap_dist_x_volume_spike'],
  compute: (candles, p) => {
    const [high, low, close, volume] = (['high', 'low', 'close', 'volume'] as const).map((c) => candles.column(c));
    const momentum = returnsKernel(close, p.momentum);
    const volumeZ = zScoreKernel(volume, p.window);
    const rsi = rsiKernel(close, p.rsi);
    const { upper, lower } = bollingerKernel(close, p.bollinger, 2);
    const { histogram } = macdKernel(close, 12, 26, 9);
    const slope = trendSlopeKernel(close, p.window);
    const vwap = vwapKernel(high, low, close, volume, p.window);
    const n = close.length;
    const out = ['momentum_x_volume_z', 'rsi_x_bb_pctb', 'macd_hist_x_trend_slope', 'vwap_dist_x_volume_spike'].map(() => new Float64Array(n));
    for (let i = 0; i < n; i++) {
      const range = upper[i] - lower[i];
      const percentB = range === 0 ? 0.5 : (close[i] - lower[i]) / range;
      out[0][i] = momentum[i] * volumeZ[i];
      out[1][i] = (rsi[i] / 100) * percentB;
      out[2][i] = (histogram[i] / close[i]) * slope[i];
      out[3][i] = Number.isNaN(volumeZ[i]) ? NaN : (close[i] / vwap[i] - 1) * (volumeZ[i] > p.spike ? 1 : 0);
    }
    return { momentum_x_volume_z: out[0], rsi_x_bb_pctb: out[1], macd_hist_x_trend_slope: out[2], vwap_dist_x_volume_spike: out[3] };
  },
});


const featureRef = z.object({ id: z.string().min(1), version: z.string().optional(), params: z.record(z.unknown()).default({}) }).strict();

/**
 * Any registered feature computed on a longer timeframe (resampled from the candles) and aligned onto
 * the base rows causally: a 4h bar reaches 1h rows only after it has closed.
 */
export const higherTimeframeFeature = defineFeature({
  id: 'core/higher-timeframe',
  version: '1.0.0',
  doc: 'A feature computed on a longer timeframe (e.g. RSI on 4h) and aligned onto the base bars once each higher bar has closed.',
  params: z.object({ timeframe: z.string().regex(/^\d+[mhdw]$/).default('4h'), feature: featureRef.default({ id: 'core/rsi', params: {} }) }),
  lookback: (p, context) => {
    if (!context) throw new ConfigError('core/higher-timeframe needs the feature context (compute it through computeFeatures)');
    const ratio = timeframeRatio(context.timeframe, p.timeframe);
    // the first (possibly partial) higher bar is dropped, then the inner warm-up, then the bar must close
    return (context.lookbackOf(p.feature) + 2) * ratio - 1;
  },
  outputs: (p, context) => {
    if (!context) throw new ConfigError('core/higher-timeframe needs the feature context (compute it through computeFeatures)');
    return context.outputsOf(p.feature).map((name) => `${name}_${p.timeframe}`);
  },
  compute: (candles, p, context) => {
    if (!context) throw new ConfigError('core/higher-timeframe needs the feature context (compute it through computeFeatures)');
    timeframeRatio(candles.meta.timeframe, p.timeframe);
    const { candles: higher, closeTime } = resampleCandles(candles, p.timeframe);
    const { columns } = context.computeFeature(p.feature, higher);
    const step = timeframeMs(candles.meta.timeframe);
    const baseClose = Float64Array.from(candles.time, (t) => t + step);
    return Object.fromEntries(Object.entries(columns).map(([name, values]) => [`${name}_${p.timeframe}`, alignToBase(baseClose, closeTime, values)]));
  },
  // the twin: higher bars built as they close, fed to the inner feature's own stream (exact at any ratio)
  stream: (p, context): StreamingFeature => {
    if (!context?.streamFeature) throw new ConfigError('core/higher-timeframe streams through the feature context (make it with featureContext)');
    timeframeRatio(context.timeframe, p.timeframe);
    const inner = context.streamFeature(p.feature, p.timeframe);
    const outputs = inner.outputs.map((name) => `${name}_${p.timeframe}`);
    return new HigherTimeframeStream(`core/higher-timeframe ${JSON.stringify(p)}`, outputs, higherTimeframeFeature.lookback(p, context), inner, timeframeMs(context.timeframe), timeframeMs(p.timeframe));
  },
});

export const moreFeatures = [
  smaFeature, wmaFeature, stochasticFeature, williamsRFeature, cciFeature, rocFeature, obvFeature, adxFeature, vwapFeature,
  volumeFeature, trendSlopeFeature, volatilityFeature, candleShapeFeature, timeFeature, interactionFeature, seedInteractionsFeature, higherTimeframeFeature, tradingSignalsFeature,
];
