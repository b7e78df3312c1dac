import { Frame, type Candles, timeframeMs } from '../frame/frame';
import { ConfigError } from '../errors';

/**
 * Which buckets of a resampling are kept. 'drop-first' (the default, what the multi-timeframe features
 * use): the first bucket is always dropped. 'edges': the first and last buckets are dropped only when
 * the data starts after the first bucket opened or ends before the last one closed (for converting a
 * store file: every kept bar is whole at its edges). 'keep': every bucket, partial ones included.
 */
export type ResamplePartial = 'drop-first' | 'edges' | 'keep';

/**
 * Candles of a longer timeframe: UTC-aligned buckets (open = first open, high = max, low = min,
 * close = last close, volume = sum; other columns are not carried). Buckets are stamped with their
 * open time; `closeTime` says when each one closed. By default the first bucket is always dropped: the
 * data may start inside it, and a partial bar must not pretend to be whole (this keeps the declared
 * warm-up an exact bound).
 */
export function resampleCandles(candles: Candles, timeframe: string, partial: ResamplePartial = 'drop-first'): { candles: Candles; closeTime: Float64Array } {
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
  let from = 0;
  let to = out.time.length;
  if (partial === 'drop-first') from = Math.min(1, to);
  else if (partial === 'edges' && to > 0) {
    if (time[0] > out.time[0]) from = 1;
    const sourceStep = inferStep(time);
    if (time[time.length - 1] + sourceStep < out.time[to - 1] + step) to = Math.max(from, to - 1);
  }
  const column = (values: number[]) => Float64Array.from(values.slice(from, to));
  const resampled = Frame.fromColumns(
    column(out.time),
    { open: column(out.open), high: column(out.high), low: column(out.low), close: column(out.close), volume: column(out.volume) },
    { ...candles.meta, timeframe },
  );
  return { candles: resampled, closeTime: Float64Array.from(resampled.time, (t) => t + step) };
}

/** The most common spacing of a time index (its bar length), from the first 1000 rows. */
function inferStep(time: Float64Array): number {
  const counts = new Map<number, number>();
  for (let i = 1; i < Math.min(time.length, 1000); i++) counts.set(time[i] - time[i - 1], (counts.get(time[i] - time[i - 1]) ?? 0) + 1);
  let best = 0;
  let bestCount = -1;
  for (const [delta, count] of counts) if (count > bestCount) [best, bestCount] = [delta, count];
  return best;
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

/** One series to put on the base grid: its frame (with meta.timeframe), and the prefix of its column names. */
export type AlignInput = { frame: Frame; prefix: string; timeframe?: string };

/**
 * Several timeframes and symbols on one grid, causally: each base row (closing at its open time +
 * the base timeframe) gets, from every other series, the values of the latest bar that had closed by
 * then — a 4h bar reaches 1h rows only after it closed; another symbol's bar of the same timeframe
 * reaches the row that closes with it. Columns are named `<prefix><column>`; NaN before a series'
 * first closed bar. Because only closed bars are used, aligning a prefix of the data gives the prefix
 * of aligning all of it (no lookahead), even when the prefix ends inside a higher bar.
 */
export function alignFrames(base: Frame, inputs: readonly AlignInput[], baseTimeframe: string = base.meta.timeframe): Frame {
  const baseStep = timeframeMs(baseTimeframe);
  const baseClose = Float64Array.from(base.time, (t) => t + baseStep);
  const columns: Record<string, Float64Array> = {};
  for (const input of inputs) {
    const step = timeframeMs(input.timeframe ?? input.frame.meta.timeframe);
    const closeTime = Float64Array.from(input.frame.time, (t) => t + step);
    for (const name of input.frame.names) {
      const key = `${input.prefix}${name}`;
      if (base.has(key) || key in columns) throw new ConfigError(`alignFrames: column '${key}' appears twice; give each input its own prefix`);
      columns[key] = alignToBase(baseClose, closeTime, input.frame.column(name));
    }
  }
  return base.withColumns(columns);
}
