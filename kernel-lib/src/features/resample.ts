import { Frame, type Candles, timeframeMs } from '../frame/frame';
import { ConfigError } from '../errors';

/**
 * Candles of a longer timeframe: UTC-aligned buckets (open = first open, high = max, low = min,
 * close = last close, volume = sum). Buckets are stamped with their open time; `closeTime` says when
 * each one closed. The first bucket is always dropped: the data may start inside it, and a partial bar
 * must not pretend to be whole (this keeps the declared warm-up an exact bound).
 */
export function resampleCandles(candles: Candles, timeframe: string): { candles: Candles; closeTime: Float64Array } {
  const step = timeframeMs(timeframe);
  const time = candles.time;
  const [open, high, low, close, volume] = (['open', 'high', 'low', 'close', 'volume'] as const).map((c) => candles.column(c));
  const out = { time: [] as number[], open: [] as number[], high: [] as number[], low: [] as number[], close: [] as number[], volume: [] as number[] };
  let bucket = NaN;
  for (let i = 0; i < time.length; i++) {
    const start = Math.floor(time[i] / step) * step;
    if (start !== bucket) {
      bucket = start;
      out.time.push(start);
      out.open.push(open[i]);
      out.high.push(high[i]);
      out.low.push(low[i]);
      out.close.push(close[i]);
      out.volume.push(volume[i]);
    } else {
      const k = out.time.length - 1;
      if (high[i] > out.high[k]) out.high[k] = high[i];
      if (low[i] < out.low[k]) out.low[k] = low[i];
      out.close[k] = close[i];
      out.volume[k] += volume[i];
    }
  }
  const drop = out.time.length > 0 ? 1 : 0;
  const column = (values: number[]) => Float64Array.from(values.slice(drop));
  const resampled = Frame.fromColumns(
    column(out.time),
    { open: column(out.open), high: column(out.high), low: column(out.low), close: column(out.close), volume: column(out.volume) },
    { ...candles.meta, timeframe },
  );
  return { candles: resampled, closeTime: Float64Array.from(resampled.time, (t) => t + step) };
}

/**
 * Values of a higher-timeframe series onto base rows, causally: base row r (closing at baseClose[r])
 * gets the value of the latest higher bar whose close time ≤ baseClose[r]; NaN before the first one.
 */
export function alignToBase(baseClose: Float64Array, higherClose: Float64Array, values: Float64Array): Float64Array {
  const out = new Float64Array(baseClose.length).fill(NaN);
  let j = -1;
  for (let r = 0; r < baseClose.length; r++) {
    while (j + 1 < higherClose.length && higherClose[j + 1] <= baseClose[r]) j++;
    if (j >= 0) out[r] = values[j];
  }
  return out;
}

/** How many base bars fit in one bar of `timeframe`; throws unless it is a whole multiple > 1. */
export function timeframeRatio(base: string, higher: string): number {
  const ratio = timeframeMs(higher) / timeframeMs(base);
  if (!Number.isInteger(ratio) || ratio < 2) throw new ConfigError(`timeframe ${higher} must be a whole multiple (≥ 2×) of the data's ${base}`);
  return ratio;
}
