/**
 * Batch indicator kernels: one pass over Float64Arrays, NaN during warm-up.
 * Conventions (seeding, smoothing, population deviation) follow trading-signals 8, whose streaming
 * classes are the reference these kernels are tested against; the loops are ~10× faster.
 *
 * Outputs: a kernel writes every row of its output (warm-up rows as NaN), so it may be given a reused
 * array (`out`, or a `ColumnSource` for kernels with several outputs or temporaries); without one it
 * allocates. First-touch page faults of new arrays cost more than these loops on virtual machines.
 */
import { freshColumns, type ColumnSource } from './column-arena';

function nanArray(length: number): Float64Array {
  return new Float64Array(length).fill(NaN);
}

/** `out` (checked) or a new array of `length` rows; rows [0, warmup) set to NaN. */
function outputOf(out: Float64Array | undefined, length: number, warmup: number): Float64Array {
  if (!out) return nanArray(length);
  if (out.length !== length) throw new RangeError(`output array has ${out.length} rows, the input ${length}`);
  out.fill(NaN, 0, Math.min(length, Math.max(0, warmup)));
  return out;
}

/**
 * Exponential moving average with weight 2/(period+1), seeded with the first value; values before
 * index `period − 1` are warm-up (NaN), as trading-signals reports them unstable.
 */
export function emaKernel(values: Float64Array, period: number, start = 0, target?: Float64Array): Float64Array {
  const out = outputOf(target, values.length, start + period - 1);
  const weight = 2 / (period + 1);
  let previous = NaN;
  for (let i = start; i < values.length; i++) {
    const price = values[i];
    previous = i === start ? price * weight + price * (1 - weight) : price * weight + previous * (1 - weight);
    if (i - start >= period - 1) out[i] = previous;
  }
  return out;
}

/** Simple moving average over `period` values. */
export function smaKernel(values: Float64Array, period: number, target?: Float64Array): Float64Array {
  const out = outputOf(target, values.length, period - 1);
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    sum += values[i];
    if (i >= period) sum -= values[i - period];
    if (i >= period - 1) out[i] = sum / period;
  }
  return out;
}

/**
 * Wilder's smoothing (the RSI/ATR average, "WSMA"): the first value is the simple mean of the first
 * `period` inputs from `start`, then previous + (x − previous) / period.
 */
export function wilderKernel(values: Float64Array, period: number, start = 0, target?: Float64Array): Float64Array {
  // the warm-up rows from `start` are set as they are read: `target` may be `values` (in place)
  const out = outputOf(target, values.length, start);
  const factor = 1 / period;
  let previous = NaN;
  let seedSum = 0;
  for (let i = start; i < values.length; i++) {
    const count = i - start + 1;
    if (count < period) {
      seedSum += values[i];
      out[i] = NaN;
    } else if (count === period) {
      seedSum += values[i];
      previous = seedSum / period;
      out[i] = previous;
    } else {
      previous = (values[i] - previous) * factor + previous;
      out[i] = previous;
    }
  }
  return out;
}

/**
 * Relative Strength Index with Wilder smoothing (Wilder, 1978); first value at index `period`. One pass:
 * the same arithmetic as Wilder's average over gains and losses (`wilderKernel`), fused.
 */
export function rsiKernel(close: Float64Array, period: number, target?: Float64Array): Float64Array {
  const n = close.length;
  const out = outputOf(target, n, period);
  const factor = 1 / period;
  let averageGain = 0;
  let averageLoss = 0;
  for (let i = 1; i < n; i++) {
    const change = close[i] - close[i - 1];
    const gain = change > 0 ? change : 0;
    const loss = change > 0 ? 0 : -change;
    if (i < period) {
      averageGain += gain; // seed sums
      averageLoss += loss;
      continue;
    }
    if (i === period) {
      averageGain = (averageGain + gain) / period;
      averageLoss = (averageLoss + loss) / period;
    } else {
      averageGain = (gain - averageGain) * factor + averageGain;
      averageLoss = (loss - averageLoss) * factor + averageLoss;
    }
    out[i] = averageLoss === 0 ? 100 : 100 - 100 / (averageGain / averageLoss + 1);
  }
  return out;
}

export type MacdColumns = { macd: Float64Array; signal: Float64Array; histogram: Float64Array };

/**
 * MACD (Appel): fast EMA − slow EMA, both seeded with the first price; the line starts at index
 * slow − 1, the signal EMA is seeded with the line's first value and is warm-up for `signal − 1` more rows.
 */
export function macdKernel(close: Float64Array, fast: number, slow: number, signalPeriod: number, columns: ColumnSource = freshColumns): MacdColumns {
  const n = close.length;
  const macd = outputOf(columns.output(n), n, slow - 1);
  const signal = outputOf(columns.output(n), n, slow - 1 + signalPeriod - 1);
  const histogram = outputOf(columns.output(n), n, slow - 1 + signalPeriod - 1);
  // One pass: both EMAs run from the first row unmasked (the fast one is past its warm-up when the slow
  // one starts); the line from slow − 1; the signal EMA seeded with the line's first value.
  const fastWeight = 2 / (fast + 1);
  const slowWeight = 2 / (slow + 1);
  const signalWeight = 2 / (signalPeriod + 1);
  const start = slow - 1;
  let fastEma = close[0];
  let slowEma = close[0];
  let signalEma = NaN;
  for (let i = 0; i < n; i++) {
    const price = close[i];
    fastEma = price * fastWeight + (i === 0 ? price : fastEma) * (1 - fastWeight);
    slowEma = price * slowWeight + (i === 0 ? price : slowEma) * (1 - slowWeight);
    if (i < start) continue;
    const line = fastEma - slowEma;
    macd[i] = line;
    signalEma = i === start ? line * signalWeight + line * (1 - signalWeight) : line * signalWeight + signalEma * (1 - signalWeight);
    if (i - start >= signalPeriod - 1) {
      signal[i] = signalEma;
      histogram[i] = line - signalEma;
    }
  }
  return { macd, signal, histogram };
}

export type BollingerColumns = { middle: Float64Array; upper: Float64Array; lower: Float64Array };

/** Rows between exact recomputations in the sliding-window kernels: bounds their rounding drift. */
export const EXACT_EVERY = 256;

/**
 * Mean and sum of squared deviations (M2) of each trailing window of `window` values (inclusive); NaN
 * while the window is incomplete or holds a NaN. O(1) per row: a sliding Welford update, with an exact
 * two-pass recomputation every few hundred rows and whenever M2 is near zero relative to the mean (flat
 * windows give exactly what two passes give). Accurate for large levels with small spread (prices, OBV),
 * where E[x²] − E[x]² would lose every digit.
 */
export function rollingMoments(values: Float64Array, window: number, mean: Float64Array = new Float64Array(values.length), m2: Float64Array = new Float64Array(values.length)): { mean: Float64Array; m2: Float64Array } {
  const n = values.length;
  if (mean.length < n || m2.length < n) throw new RangeError(`rollingMoments: output arrays shorter than the ${n} values`);
  mean.fill(NaN, 0, Math.min(n, window - 1));
  m2.fill(NaN, 0, Math.min(n, window - 1));
  let nans = 0;
  let mu = 0;
  let s = 0;
  let since = EXACT_EVERY;
  for (let i = 0; i < n; i++) {
    const x = values[i];
    if (x !== x) nans++;
    if (i >= window && values[i - window] !== values[i - window]) nans--;
    if (i < window - 1) continue;
    if (nans > 0) {
      since = EXACT_EVERY;
      mean[i] = NaN;
      m2[i] = NaN;
      continue;
    }
    let exact = since >= EXACT_EVERY;
    if (!exact) {
      const y = values[i - window];
      const next = mu + (x - y) / window;
      s += (x - y) * (x - next + y - mu);
      mu = next;
      since++;
      exact = s <= 1e-9 * window * mu * mu;
    }
    if (exact) {
      // two passes over the window (no closure: the running state stays in registers)
      let sum = 0;
      for (let j = i - window + 1; j <= i; j++) sum += values[j];
      mu = sum / window;
      s = 0;
      for (let j = i - window + 1; j <= i; j++) s += (values[j] - mu) * (values[j] - mu);
      since = 0;
    }
    mean[i] = mu;
    m2[i] = s;
  }
  return { mean, m2 };
}

/** Bollinger bands: mean ± k population standard deviations over `period` closes. */
export function bollingerKernel(close: Float64Array, period: number, deviations: number, columns: ColumnSource = freshColumns): BollingerColumns {
  const n = close.length;
  const { mean: middle, m2 } = rollingMoments(close, period, columns.output(n), columns.scratch(0, n));
  const upper = outputOf(columns.output(n), n, period - 1);
  const lower = outputOf(columns.output(n), n, period - 1);
  for (let i = period - 1; i < n; i++) {
    const deviation = Math.sqrt(m2[i] / period);
    upper[i] = middle[i] + deviation * deviations;
    lower[i] = middle[i] - deviation * deviations;
  }
  return { middle, upper, lower };
}

/** True range: high − low on the first bar, then the widest of high − low and the gaps to the last close. */
export function trueRangeKernel(high: Float64Array, low: Float64Array, close: Float64Array, out: Float64Array = new Float64Array(high.length)): Float64Array {
  for (let i = 0; i < high.length; i++) {
    const range = high[i] - low[i];
    out[i] = i === 0 ? range : Math.max(range, Math.abs(high[i] - close[i - 1]), Math.abs(low[i] - close[i - 1]));
  }
  return out;
}

/** Average true range with Wilder smoothing; first value at index period − 1. */
export function atrKernel(high: Float64Array, low: Float64Array, close: Float64Array, period: number, target?: Float64Array): Float64Array {
  // Wilder's average in place over the true range
  const out = target ?? new Float64Array(high.length);
  return wilderKernel(trueRangeKernel(high, low, close, out), period, 0, out);
}

/** Simple return over `bars` bars: close[t] / close[t − bars] − 1 (or the log of the ratio). */
export function returnsKernel(close: Float64Array, bars: number, log = false, target?: Float64Array): Float64Array {
  const out = outputOf(target, close.length, bars);
  for (let i = bars; i < close.length; i++) {
    const ratio = close[i] / close[i - bars];
    out[i] = log ? Math.log(ratio) : ratio - 1;
  }
  return out;
}

/** Weighted moving average: weights 1..period, the newest value heaviest. */
export function wmaKernel(values: Float64Array, period: number, target?: Float64Array): Float64Array {
  const out = outputOf(target, values.length, period - 1);
  const base = (period * (period + 1)) / 2;
  for (let i = period - 1; i < values.length; i++) {
    let sum = 0;
    for (let k = 0; k < period; k++) sum += values[i - period + 1 + k] * (k + 1);
    out[i] = sum / base;
  }
  return out;
}

/** A source whose outputs are scratch slots 2, 3, … (temporaries of a kernel that calls another one; the caller keeps off them). */
function scratchOnly(columns: ColumnSource): ColumnSource {
  if (columns === freshColumns) return columns;
  let slot = 2;
  return { output: (length) => columns.scratch(slot++, length), scratch: (s, length) => columns.scratch(s, length), indexes: (s, length) => columns.indexes(s, length) };
}

/** Highest high and lowest low over the trailing `period` bars (inclusive); NaN before. O(n): monotonic deques. */
export function rollingExtremes(high: Float64Array, low: Float64Array, period: number, columns: ColumnSource = freshColumns): { highest: Float64Array; lowest: Float64Array } {
  const n = high.length;
  const highest = outputOf(columns.output(n), n, period - 1);
  const lowest = outputOf(columns.output(n), n, period - 1);
  // queues of row indexes (each row enters once, so plain arrays need no wrap-around); values along
  // each queue are decreasing (highs) / increasing (lows), the front is the window's extreme
  const maxQ = columns.indexes(0, n);
  const minQ = columns.indexes(1, n);
  let maxHead = 0, maxTail = 0, minHead = 0, minTail = 0;
  for (let i = 0; i < n; i++) {
    const h = high[i];
    const l = low[i];
    while (maxTail > maxHead && high[maxQ[maxTail - 1]] <= h) maxTail--;
    maxQ[maxTail++] = i;
    if (maxQ[maxHead] <= i - period) maxHead++;
    while (minTail > minHead && low[minQ[minTail - 1]] >= l) minTail--;
    minQ[minTail++] = i;
    if (minQ[minHead] <= i - period) minHead++;
    if (i >= period - 1) {
      highest[i] = high[maxQ[maxHead]];
      lowest[i] = low[minQ[minHead]];
    }
  }
  return { highest, lowest };
}

/** SMA of the finite values from index `start` on (an SMA over a series that has a NaN warm-up). */
function smaFrom(values: Float64Array, period: number, start: number, target?: Float64Array): Float64Array {
  const out = outputOf(target, values.length, start + period - 1);
  let sum = 0;
  for (let i = start; i < values.length; i++) {
    sum += values[i];
    if (i - start >= period) sum -= values[i - period];
    if (i - start >= period - 1) out[i] = sum / period;
  }
  return out;
}

export type StochasticColumns = { k: Float64Array; d: Float64Array };

/**
 * Stochastic oscillator (Lane): fast %K = 100 × (close − lowest low) / (highest high − lowest low) over
 * `kPeriod` (a flat range counts as 1), %K = SMA(kSlowing) of fast %K, %D = SMA(dPeriod) of %K.
 */
export function stochasticKernel(high: Float64Array, low: Float64Array, close: Float64Array, kPeriod: number, kSlowing: number, dPeriod: number, columns: ColumnSource = freshColumns): StochasticColumns {
  const n = close.length;
  const { highest, lowest } = rollingExtremes(high, low, kPeriod, scratchOnly(columns));
  // fast %K over highest (each row read before it is written)
  const fast = highest;
  for (let i = kPeriod - 1; i < n; i++) {
    const range = highest[i] - lowest[i];
    fast[i] = ((close[i] - lowest[i]) * 100) / (range === 0 ? 1 : range);
  }
  const k = smaFrom(fast, kSlowing, kPeriod - 1, columns.output(n));
  const d = smaFrom(k, dPeriod, kPeriod - 1 + kSlowing - 1, columns.output(n));
  // %K is only reported once %D exists (as trading-signals does)
  for (let i = 0; i < k.length; i++) if (Number.isNaN(d[i])) k[i] = NaN;
  return { k, d };
}

/** Williams %R: −100 × (highest high − close) / (highest high − lowest low) over `period`; −100 on a flat range. */
export function williamsRKernel(high: Float64Array, low: Float64Array, close: Float64Array, period: number, columns: ColumnSource = freshColumns): Float64Array {
  const { highest, lowest } = rollingExtremes(high, low, period, scratchOnly(columns));
  const out = outputOf(columns.output(close.length), close.length, period - 1);
  for (let i = period - 1; i < close.length; i++) {
    const range = highest[i] - lowest[i];
    out[i] = range === 0 ? -100 : ((highest[i] - close[i]) / range) * -100;
  }
  return out;
}

/** Commodity Channel Index (Lambert): (TP − SMA(TP)) / (0.015 × mean absolute deviation of TP), TP = (h + l + c)/3. */
export function cciKernel(high: Float64Array, low: Float64Array, close: Float64Array, period: number, columns: ColumnSource = freshColumns): Float64Array {
  const n = close.length;
  const typical = columns.scratch(0, n);
  for (let i = 0; i < n; i++) typical[i] = (high[i] + low[i] + close[i]) / 3;
  const out = outputOf(columns.output(n), n, period - 1);
  for (let i = period - 1; i < n; i++) {
    let sum = 0;
    for (let j = i - period + 1; j <= i; j++) sum += typical[j];
    const mean = sum / period;
    let deviation = 0;
    for (let j = i - period + 1; j <= i; j++) deviation += Math.abs(typical[j] - mean);
    deviation /= period;
    out[i] = deviation === 0 ? 0 : (typical[i] - mean) / (0.015 * deviation);
  }
  return out;
}

/** Rate of change: (close − close n bars ago) / close n bars ago. */
export function rocKernel(close: Float64Array, period: number, target?: Float64Array): Float64Array {
  return returnsKernel(close, period, false, target);
}

/** On-balance volume (Granville), accumulated from the first bar: ± volume by the sign of the close change. */
export function obvKernel(close: Float64Array, volume: Float64Array, target?: Float64Array): Float64Array {
  const out = outputOf(target, close.length, 1);
  let total = 0;
  for (let i = 1; i < close.length; i++) {
    total += close[i] > close[i - 1] ? volume[i] : close[i] < close[i - 1] ? -volume[i] : 0;
    out[i] = total;
  }
  return out;
}

export type DirectionalColumns = { plusDi: Float64Array; minusDi: Float64Array; dx: Float64Array; adx: Float64Array };

/**
 * Wilder's directional movement: +DM/−DM and true range smoothed with Wilder's average (the first bar
 * contributes zero moves), +DI/−DI = smoothed DM / ATR, DX = 100 × |+DI − −DI| / (+DI + −DI), ADX =
 * Wilder's average of DX. DX starts at period − 1, ADX at 2·period − 2.
 */
export function directionalKernel(high: Float64Array, low: Float64Array, close: Float64Array, period: number, columns: ColumnSource = freshColumns): DirectionalColumns {
  const n = close.length;
  const plusMove = columns.scratch(0, n);
  const minusMove = columns.scratch(1, n);
  if (n > 0) plusMove[0] = minusMove[0] = 0;
  for (let i = 1; i < n; i++) {
    const up = high[i] - high[i - 1];
    const down = low[i - 1] - low[i];
    plusMove[i] = up < 0 || up < down ? 0 : up;
    minusMove[i] = down < 0 || down < up ? 0 : down;
  }
  // Wilder's averages in place
  const plus = wilderKernel(plusMove, period, 0, plusMove);
  const minus = wilderKernel(minusMove, period, 0, minusMove);
  const atr = atrKernel(high, low, close, period, columns.scratch(2, n));
  const plusDi = outputOf(columns.output(n), n, period - 1);
  const minusDi = outputOf(columns.output(n), n, period - 1);
  const dx = outputOf(columns.scratch(3, n), n, period - 1);
  for (let i = period - 1; i < n; i++) {
    plusDi[i] = plus[i] / atr[i];
    minusDi[i] = minus[i] / atr[i];
    const sum = plusDi[i] + minusDi[i];
    dx[i] = sum === 0 ? 0 : (Math.abs(plusDi[i] - minusDi[i]) / sum) * 100;
  }
  const adx = wilderKernel(dx, period, period - 1, columns.output(n));
  return { plusDi, minusDi, dx, adx };
}

/** Rolling volume-weighted average price over `period` bars, with the typical price (h + l + c)/3. */
export function vwapKernel(high: Float64Array, low: Float64Array, close: Float64Array, volume: Float64Array, period: number, target?: Float64Array): Float64Array {
  const out = outputOf(target, close.length, period - 1);
  let priceVolume = 0;
  let totalVolume = 0;
  for (let i = 0; i < close.length; i++) {
    priceVolume += ((high[i] + low[i] + close[i]) / 3) * volume[i];
    totalVolume += volume[i];
    if (i >= period) {
      priceVolume -= ((high[i - period] + low[i - period] + close[i - period]) / 3) * volume[i - period];
      totalVolume -= volume[i - period];
    }
    if (i >= period - 1) out[i] = totalVolume > 0 ? priceVolume / totalVolume : close[i];
  }
  return out;
}

/** z-score of each value against the trailing `period` values (inclusive; sample deviation); 0 when flat. Scratch slots 0, 1. */
export function zScoreKernel(values: Float64Array, period: number, target?: Float64Array, columns: ColumnSource = freshColumns): Float64Array {
  const n = values.length;
  const out = outputOf(target, n, period - 1);
  // the moments in scratch slots 0 and 1
  const { mean, m2 } = rollingMoments(values, period, columns.scratch(0, n), columns.scratch(1, n));
  for (let i = period - 1; i < values.length; i++) {
    const deviation = Math.sqrt(m2[i] / (period - 1));
    out[i] = deviation > 0 ? (values[i] - mean[i]) / deviation : 0;
  }
  return out;
}

/** Sample standard deviation of log returns over the trailing `period` returns; NaN before. */
export function volatilityKernel(close: Float64Array, period: number, target?: Float64Array, columns: ColumnSource = freshColumns): Float64Array {
  const n = close.length;
  const out = outputOf(target, n, period);
  if (n < 2) return out;
  const returns = columns.scratch(0, n).subarray(0, n - 1);
  for (let i = 1; i < n; i++) returns[i - 1] = Math.log(close[i] / close[i - 1]);
  const { m2 } = rollingMoments(returns, period, columns.scratch(1, n), columns.scratch(2, n));
  for (let i = period; i < n; i++) out[i] = Math.sqrt(m2[i - 1] / (period - 1));
  return out;
}

/**
 * Least-squares slope of log close over the trailing `period` bars, times (period − 1): the fitted log
 * change. O(1) per row: sliding sums Σy and Σk·y over the window, on logs shifted by a recent level
 * (the slope does not change with a shift; small numbers keep the sums exact), recomputed every few
 * hundred rows.
 */
export function trendSlopeKernel(close: Float64Array, period: number, target?: Float64Array, columns: ColumnSource = freshColumns): Float64Array {
  const n = close.length;
  const out = outputOf(target, n, period - 1);
  const y = columns.scratch(0, n);
  for (let i = 0; i < n; i++) y[i] = Math.log(close[i]);
  const meanX = (period - 1) / 2;
  let varianceX = 0;
  for (let x = 0; x < period; x++) varianceX += (x - meanX) ** 2;
  let anchor = 0;
  let sum = 0; // Σ (y − anchor) over the window
  let weighted = 0; // Σ k·(y − anchor), k = 0 … period − 1 from the oldest
  let since = EXACT_EVERY;
  for (let i = period - 1; i < n; i++) {
    if (since >= EXACT_EVERY) {
      anchor = y[i];
      sum = 0;
      weighted = 0;
      for (let k = 0; k < period; k++) {
        const v = y[i - period + 1 + k] - anchor;
        sum += v;
        weighted += k * v;
      }
      since = 0;
    } else {
      // slide by one: every weight drops by one, the oldest leaves, the newest enters with weight period − 1
      const oldest = y[i - period] - anchor;
      const newest = y[i] - anchor;
      weighted += -(sum - oldest) + (period - 1) * newest;
      sum += newest - oldest;
      since++;
    }
    out[i] = ((weighted - meanX * sum) / varianceX) * (period - 1);
  }
  return out;
}

/** Sample standard deviation of `values` over the trailing `window` rows (inclusive); NaN before. */
export function rollingDeviation(values: Float64Array, window: number): Float64Array {
  const out = new Float64Array(values.length).fill(NaN);
  let sum = 0;
  let squares = 0;
  for (let i = 0; i < values.length; i++) {
    sum += values[i];
    squares += values[i] * values[i];
    if (i >= window) {
      sum -= values[i - window];
      squares -= values[i - window] * values[i - window];
    }
    if (i >= window - 1) {
      const mean = sum / window;
      out[i] = Math.sqrt(Math.max(0, (squares - window * mean * mean) / (window - 1)));
    }
  }
  return out;
}
