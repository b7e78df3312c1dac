import { z } from 'zod';
import { defineFeature } from '../plugins/define';
import { returnsTwin, rsiTwin, emaTwin, macdTwin, bollingerTwin, atrTwin } from './streaming/twins';
import { atrKernel, emaKernel, macdKernel, returnsKernel, rollingMoments, rsiKernel } from './kernels';
import { freshColumns } from './column-arena';

const period = (fallback: number) => z.number().int().min(2).max(10_000).default(fallback);

/** Divide each value by the close of its row, in place: makes price-unit indicators comparable across price levels. */
function perClose(values: Float64Array, close: Float64Array): Float64Array {
  for (let i = 0; i < values.length; i++) values[i] = values[i] / close[i];
  return values;
}

/** Simple (or log) returns of the close over several horizons. */
export const returnsFeature = defineFeature({
  id: 'core/returns',
  version: '1.0.0',
  doc: 'Returns of the close over several horizons: close[t]/close[t-n] - 1 (or log).',
  params: z.object({
    periods: z.array(z.number().int().min(1)).min(1).default([1, 4, 24]),
    log: z.boolean().default(false),
  }),
  lookback: (p) => Math.max(...p.periods),
  outputs: (p) => p.periods.map((n) => `${p.log ? 'logret' : 'ret'}_${n}`),
  stream: (p) => returnsTwin(p),
  compute: (candles, p, context) => {
    const columns = context?.columns ?? freshColumns;
    return Object.fromEntries(p.periods.map((n) => [`${p.log ? 'logret' : 'ret'}_${n}`, returnsKernel(candles.column('close'), n, p.log, columns.output(candles.length))]));
  },
});

/** @see J. Welles Wilder, New Concepts in Technical Trading Systems (1978). */
export const rsiFeature = defineFeature({
  id: 'core/rsi',
  version: '1.0.0',
  doc: 'Relative Strength Index with Wilder smoothing, 0..100.',
  params: z.object({ period: period(14) }),
  lookback: (p) => p.period,
  outputs: (p) => [`rsi_${p.period}`],
  stream: (p) => rsiTwin(p),
  compute: (candles, p, context) => ({ [`rsi_${p.period}`]: rsiKernel(candles.column('close'), p.period, (context?.columns ?? freshColumns).output(candles.length)) }),
});

export const emaFeature = defineFeature({
  id: 'core/ema',
  version: '1.0.0',
  doc: "Exponential moving average of the close; as 'distance' (close/EMA - 1, default) or the raw 'level'.",
  params: z.object({ period: period(20), output: z.enum(['distance', 'level']).default('distance') }),
  lookback: (p) => p.period - 1,
  outputs: (p) => [p.output === 'distance' ? `ema_${p.period}_dist` : `ema_${p.period}`],
  stream: (p) => emaTwin(p),
  compute: (candles, p, context) => {
    const close = candles.column('close');
    const ema = emaKernel(close, p.period, 0, (context?.columns ?? freshColumns).output(close.length));
    if (p.output === 'level') return { [`ema_${p.period}`]: ema };
    // the distance in place over the level
    const distance = ema;
    for (let i = 0; i < ema.length; i++) distance[i] = close[i] / ema[i] - 1;
    return { [`ema_${p.period}_dist`]: distance };
  },
});

/** @see Gerald Appel, The Moving Average Convergence-Divergence Trading Method (1979). */
export const macdFeature = defineFeature({
  id: 'core/macd',
  version: '1.0.0',
  doc: 'MACD line, signal and histogram; divided by the close unless normalize is false.',
  params: z
    .object({ fast: period(12), slow: period(26), signal: period(9), normalize: z.boolean().default(true) })
    .refine((p) => p.fast < p.slow, { message: 'must have fast < slow', path: ['fast'] }),
  lookback: (p) => p.slow - 1 + p.signal - 1,
  outputs: (p) => {
    const tag = `${p.fast}_${p.slow}_${p.signal}`;
    return [`macd_${tag}`, `macd_signal_${tag}`, `macd_hist_${tag}`];
  },
  stream: (p) => macdTwin(p),
  compute: (candles, p, context) => {
    const close = candles.column('close');
    const { macd, signal, histogram } = macdKernel(close, p.fast, p.slow, p.signal, context?.columns);
    const tag = `${p.fast}_${p.slow}_${p.signal}`;
    const scale = (values: Float64Array) => (p.normalize ? perClose(values, close) : values);
    return { [`macd_${tag}`]: scale(macd), [`macd_signal_${tag}`]: scale(signal), [`macd_hist_${tag}`]: scale(histogram) };
  },
});

/** @see John Bollinger, Bollinger on Bollinger Bands (2001): %B and bandwidth. */
export const bollingerFeature = defineFeature({
  id: 'core/bollinger',
  version: '1.0.0',
  doc: 'Bollinger %B (position of the close within the bands) and bandwidth ((upper - lower) / middle).',
  params: z.object({ period: period(20), deviations: z.number().positive().default(2) }),
  lookback: (p) => p.period - 1,
  outputs: (p) => [`bb_pctb_${p.period}`, `bb_width_${p.period}`],
  stream: (p) => bollingerTwin(p),
  compute: (candles, p, context) => {
    const close = candles.column('close');
    const columns = context?.columns ?? freshColumns;
    // fused: the bands of bollingerKernel (same arithmetic) from the moments in scratch, row by row
    const n = close.length;
    const { mean: middle, m2 } = rollingMoments(close, p.period, columns.scratch(0, n), columns.scratch(1, n));
    const percentB = columns.output(n);
    const width = columns.output(n);
    for (let i = 0; i < n; i++) {
      const deviation = Math.sqrt(m2[i] / p.period);
      const upper = middle[i] + deviation * p.deviations;
      const lower = middle[i] - deviation * p.deviations;
      const range = upper - lower;
      // A flat window has no band: the close sits in the middle.
      percentB[i] = range === 0 ? 0.5 : (close[i] - lower) / range;
      width[i] = range / middle[i];
    }
    return { [`bb_pctb_${p.period}`]: percentB, [`bb_width_${p.period}`]: width };
  },
});

export const atrFeature = defineFeature({
  id: 'core/atr',
  version: '1.0.0',
  doc: 'Average true range with Wilder smoothing; as a fraction of the close unless normalize is false.',
  params: z.object({ period: period(14), normalize: z.boolean().default(true) }),
  lookback: (p) => p.period - 1,
  outputs: (p) => [p.normalize ? `atr_${p.period}_pct` : `atr_${p.period}`],
  stream: (p) => atrTwin(p),
  compute: (candles, p, context) => {
    const close = candles.column('close');
    const atr = atrKernel(candles.column('high'), candles.column('low'), close, p.period, (context?.columns ?? freshColumns).output(close.length));
    return { [p.normalize ? `atr_${p.period}_pct` : `atr_${p.period}`]: p.normalize ? perClose(atr, close) : atr };
  },
});

export const coreFeatures = [returnsFeature, rsiFeature, emaFeature, macdFeature, bollingerFeature, atrFeature];
