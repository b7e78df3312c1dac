import { SteppedStream, type StreamCandle, type StreamingFeature } from './streaming-feature';
import {
  emaState, emaStep, emaUnmaskedStep, momentsState, momentsStep, ringAt, ringExtremes, ringPush, ringState, smaState, smaStep, wilderState, wilderStep, zScoreStep,
} from './primitives';

/**
 * Streaming twins of the built-in features, one factory per feature, wired in as each definition's
 * `stream`. Each mirrors its batch `compute` (kernels.ts) step for step: the same seeding, warm-up mask
 * and operation order, so the values are bit-identical to the batch columns (the parity test checks it).
 */

/** A twin from its outputs, warm-up, initial state and step; `kind` ties a snapshot to the feature and params. */
function twin<S>(id: string, params: unknown, outputs: readonly string[], requiredInputs: number, initial: S, step: (state: S, candle: StreamCandle) => number[]): StreamingFeature {
  return new SteppedStream<S>({
    kind: `${id} ${JSON.stringify(params)}`,
    outputs,
    requiredInputs,
    initial,
    step: (state, candle) => {
      const values = step(state, candle);
      const row: Record<string, number> = {};
      for (let k = 0; k < outputs.length; k++) row[outputs[k]] = values[k];
      return row;
    },
  });
}

/** True range (`trueRangeKernel`): high − low on the first bar, then the widest gap to the last close. */
function trueRange(candle: StreamCandle, previousClose: number, first: boolean): number {
  const range = candle.high - candle.low;
  return first ? range : Math.max(range, Math.abs(candle.high - previousClose), Math.abs(candle.low - previousClose));
}

export function returnsTwin(p: { periods: number[]; log: boolean }): StreamingFeature {
  const longest = Math.max(...p.periods);
  const outputs = p.periods.map((n) => `${p.log ? 'logret' : 'ret'}_${n}`);
  return twin('core/returns', p, outputs, longest, ringState(longest + 1), (ring, c) => {
    ringPush(ring, c.close);
    return p.periods.map((n) => {
      const ratio = c.close / ringAt(ring, n);
      return p.log ? Math.log(ratio) : ratio - 1;
    });
  });
}

export function rocTwin(p: { period: number }): StreamingFeature {
  return twin('core/roc', p, [`roc_${p.period}`], p.period, ringState(p.period + 1), (ring, c) => {
    ringPush(ring, c.close);
    return [c.close / ringAt(ring, p.period) - 1];
  });
}

/** Wilder's RSI, the fused loop of `rsiKernel`: seed sums over the first `period` changes, then Wilder's average. */
export function rsiTwin(p: { period: number }): StreamingFeature {
  const initial = { seen: 0, previousClose: NaN, averageGain: 0, averageLoss: 0 };
  return twin('core/rsi', p, [`rsi_${p.period}`], p.period, initial, (s, c) => {
    const i = s.seen++;
    const previousClose = s.previousClose;
    s.previousClose = c.close;
    if (i === 0) return [NaN];
    const change = c.close - previousClose;
    const gain = change > 0 ? change : 0;
    const loss = change > 0 ? 0 : -change;
    if (i < p.period) {
      s.averageGain += gain;
      s.averageLoss += loss;
      return [NaN];
    }
    if (i === p.period) {
      s.averageGain = (s.averageGain + gain) / p.period;
      s.averageLoss = (s.averageLoss + loss) / p.period;
    } else {
      s.averageGain = (gain - s.averageGain) * (1 / p.period) + s.averageGain;
      s.averageLoss = (loss - s.averageLoss) * (1 / p.period) + s.averageLoss;
    }
    return [s.averageLoss === 0 ? 100 : 100 - 100 / (s.averageGain / s.averageLoss + 1)];
  });
}

export function emaTwin(p: { period: number; output: 'distance' | 'level' }): StreamingFeature {
  const name = p.output === 'distance' ? `ema_${p.period}_dist` : `ema_${p.period}`;
  return twin('core/ema', p, [name], p.period - 1, emaState(p.period), (s, c) => {
    const ema = emaStep(s, c.close);
    return [p.output === 'level' ? ema : c.close / ema - 1];
  });
}

export function smaTwin(p: { period: number; output: 'distance' | 'level' }): StreamingFeature {
  const name = p.output === 'distance' ? `sma_${p.period}_dist` : `sma_${p.period}`;
  return twin('core/sma', p, [name], p.period - 1, smaState(p.period), (s, c) => {
    const sma = smaStep(s, c.close);
    return [p.output === 'level' ? sma : c.close / sma - 1];
  });
}

/** Weighted moving average (`wmaKernel`): weights 1..period, summed oldest first. */
export function wmaTwin(p: { period: number; output: 'distance' | 'level' }): StreamingFeature {
  const name = p.output === 'distance' ? `wma_${p.period}_dist` : `wma_${p.period}`;
  const base = (p.period * (p.period + 1)) / 2;
  return twin('core/wma', p, [name], p.period - 1, ringState(p.period), (ring, c) => {
    ringPush(ring, c.close);
    if (ring.seen < p.period) return [NaN];
    let sum = 0;
    for (let k = 0; k < p.period; k++) sum += ringAt(ring, p.period - 1 - k) * (k + 1);
    const wma = sum / base;
    return [p.output === 'level' ? wma : c.close / wma - 1];
  });
}

/** MACD (`macdKernel`): unmasked fast/slow EMAs from the first candle, the signal EMA seeded at row slow − 1. */
export function macdTwin(p: { fast: number; slow: number; signal: number; normalize: boolean }): StreamingFeature {
  const tag = `${p.fast}_${p.slow}_${p.signal}`;
  const initial = { seen: 0, fast: emaState(p.fast), slow: emaState(p.slow), signal: emaState(p.signal) };
  return twin('core/macd', p, [`macd_${tag}`, `macd_signal_${tag}`, `macd_hist_${tag}`], p.slow - 1 + p.signal - 1, initial, (s, c) => {
    const i = s.seen++;
    const fast = emaUnmaskedStep(s.fast, c.close);
    const slow = emaUnmaskedStep(s.slow, c.close);
    if (i < p.slow - 1) return [NaN, NaN, NaN];
    const macd = fast - slow;
    const signal = emaStep(s.signal, macd);
    const histogram = macd - signal;
    return p.normalize ? [macd / c.close, signal / c.close, histogram / c.close] : [macd, signal, histogram];
  });
}

/** Bollinger %B and bandwidth (`bollingerKernel` over `rollingMoments`, population deviation). */
export function bollingerTwin(p: { period: number; deviations: number }): StreamingFeature {
  return twin('core/bollinger', p, [`bb_pctb_${p.period}`, `bb_width_${p.period}`], p.period - 1, momentsState(p.period), (s, c) => {
    const { mean: middle, m2 } = momentsStep(s, c.close);
    const deviation = Math.sqrt(m2 / p.period);
    const upper = middle + deviation * p.deviations;
    const lower = middle - deviation * p.deviations;
    const range = upper - lower;
    return [range === 0 ? 0.5 : (c.close - lower) / range, range / middle];
  });
}

/** Average true range, Wilder-smoothed (`atrKernel`). */
export function atrTwin(p: { period: number; normalize: boolean }): StreamingFeature {
  const initial = { seen: 0, previousClose: NaN, wilder: wilderState(p.period) };
  return twin('core/atr', p, [p.normalize ? `atr_${p.period}_pct` : `atr_${p.period}`], p.period - 1, initial, (s, c) => {
    const atr = wilderStep(s.wilder, trueRange(c, s.previousClose, s.seen++ === 0));
    s.previousClose = c.close;
    return [p.normalize ? atr / c.close : atr];
  });
}

/** Stochastic %K (smoothed) and %D (`stochasticKernel`); %K is reported only once %D exists. */
export function stochasticTwin(p: { kPeriod: number; kSlowing: number; dPeriod: number }): StreamingFeature {
  const initial = { highs: ringState(p.kPeriod), lows: ringState(p.kPeriod), k: smaState(p.kSlowing), d: smaState(p.dPeriod) };
  return twin('core/stochastic', p, [`stoch_k_${p.kPeriod}`, `stoch_d_${p.kPeriod}`], p.kPeriod - 1 + p.kSlowing - 1 + p.dPeriod - 1, initial, (s, c) => {
    ringPush(s.highs, c.high);
    ringPush(s.lows, c.low);
    const { highest, lowest } = ringExtremes(s.highs, s.lows);
    if (Number.isNaN(highest)) return [NaN, NaN];
    const range = highest - lowest;
    const k = smaStep(s.k, ((c.close - lowest) * 100) / (range === 0 ? 1 : range));
    if (Number.isNaN(k)) return [NaN, NaN];
    const d = smaStep(s.d, k);
    return [Number.isNaN(d) ? NaN : k, d];
  });
}

export function williamsRTwin(p: { period: number }): StreamingFeature {
  const initial = { highs: ringState(p.period), lows: ringState(p.period) };
  return twin('core/williams-r', p, [`willr_${p.period}`], p.period - 1, initial, (s, c) => {
    ringPush(s.highs, c.high);
    ringPush(s.lows, c.low);
    const { highest, lowest } = ringExtremes(s.highs, s.lows);
    if (Number.isNaN(highest)) return [NaN];
    const range = highest - lowest;
    return [range === 0 ? -100 : ((highest - c.close) / range) * -100];
  });
}

/** CCI (`cciKernel`): mean and mean absolute deviation of the typical price, recomputed over the window. */
export function cciTwin(p: { period: number }): StreamingFeature {
  return twin('core/cci', p, [`cci_${p.period}`], p.period - 1, ringState(p.period), (ring, c) => {
    const typical = (c.high + c.low + c.close) / 3;
    ringPush(ring, typical);
    if (ring.seen < p.period) return [NaN];
    let sum = 0;
    for (let back = p.period - 1; back >= 0; back--) sum += ringAt(ring, back);
    const mean = sum / p.period;
    let deviation = 0;
    for (let back = p.period - 1; back >= 0; back--) deviation += Math.abs(ringAt(ring, back) - mean);
    deviation /= p.period;
    return [deviation === 0 ? 0 : (typical - mean) / (0.015 * deviation)];
  });
}

/** On-balance volume (`obvKernel`) and its z-score over the line from the second candle on. */
export function obvTwin(p: { output: 'zscore' | 'raw'; window: number }): StreamingFeature {
  const initial = { seen: 0, previousClose: NaN, total: 0, z: momentsState(p.window) };
  return twin('core/obv', p, [p.output === 'raw' ? 'obv' : `obv_z_${p.window}`], p.output === 'raw' ? 1 : p.window, initial, (s, c) => {
    const first = s.seen++ === 0;
    const previousClose = s.previousClose;
    s.previousClose = c.close;
    if (first) return [NaN];
    s.total += c.close > previousClose ? c.volume : c.close < previousClose ? -c.volume : 0;
    return [p.output === 'raw' ? s.total : zScoreStep(s.z, s.total)];
  });
}

/** Wilder's directional movement (`directionalKernel`): ADX, +DI, −DI. */
export function adxTwin(p: { period: number }): StreamingFeature {
  const initial = { seen: 0, previous: { high: NaN, low: NaN, close: NaN }, plus: wilderState(p.period), minus: wilderState(p.period), atr: wilderState(p.period), adx: wilderState(p.period) };
  return twin('core/adx', p, [`adx_${p.period}`, `plus_di_${p.period}`, `minus_di_${p.period}`], 2 * p.period - 2, initial, (s, c) => {
    const first = s.seen++ === 0;
    let plusMove = 0;
    let minusMove = 0;
    if (!first) {
      const up = c.high - s.previous.high;
      const down = s.previous.low - c.low;
      plusMove = up < 0 || up < down ? 0 : up;
      minusMove = down < 0 || down < up ? 0 : down;
    }
    const plus = wilderStep(s.plus, plusMove);
    const minus = wilderStep(s.minus, minusMove);
    const atr = wilderStep(s.atr, trueRange(c, s.previous.close, first));
    s.previous = { high: c.high, low: c.low, close: c.close };
    if (Number.isNaN(atr)) return [NaN, NaN, NaN];
    const plusDi = plus / atr;
    const minusDi = minus / atr;
    const sum = plusDi + minusDi;
    const adx = wilderStep(s.adx, sum === 0 ? 0 : (Math.abs(plusDi - minusDi) / sum) * 100);
    return [adx, plusDi, minusDi];
  });
}

/** Rolling VWAP with the typical price (`vwapKernel`): running sums, the oldest bar's terms subtracted. */
export function vwapTwin(p: { period: number; output: 'distance' | 'level' }): StreamingFeature {
  const initial = { priceVolume: 0, totalVolume: 0, products: ringState(p.period), volumes: ringState(p.period) };
  return twin('core/vwap', p, [p.output === 'distance' ? `vwap_${p.period}_dist` : `vwap_${p.period}`], p.period - 1, initial, (s, c) => {
    const product = ((c.high + c.low + c.close) / 3) * c.volume;
    s.priceVolume += product;
    s.totalVolume += c.volume;
    const oldProduct = ringPush(s.products, product);
    const oldVolume = ringPush(s.volumes, c.volume);
    if (s.products.seen > p.period) {
      s.priceVolume -= oldProduct;
      s.totalVolume -= oldVolume;
    }
    if (s.products.seen < p.period) return [NaN];
    const vwap = s.totalVolume > 0 ? s.priceVolume / s.totalVolume : c.close;
    return [p.output === 'level' ? vwap : c.close / vwap - 1];
  });
}

export function volumeTwin(p: { period: number; spike: number }): StreamingFeature {
  return twin('core/volume', p, [`volume_z_${p.period}`, `volume_spike_${p.period}`], p.period - 1, momentsState(p.period), (s, c) => {
    const z = zScoreStep(s, c.volume);
    return [z, Number.isNaN(z) ? NaN : z > p.spike ? 1 : 0];
  });
}

/** Sample deviation of log returns over `period` returns (`volatilityKernel`). */
export function volatilityTwin(p: { period: number }): StreamingFeature {
  const initial = { previousClose: NaN, moments: momentsState(p.period) };
  return twin('core/volatility', p, [`volatility_${p.period}`], p.period, initial, (s, c) => {
    const previousClose = s.previousClose;
    s.previousClose = c.close;
    if (Number.isNaN(previousClose)) return [NaN];
    const { m2 } = momentsStep(s.moments, Math.log(c.close / previousClose));
    return [Math.sqrt(m2 / (p.period - 1))];
  });
}

/** Least-squares slope of log close (`trendSlopeKernel`), with its periodic re-anchoring at the same rows. */
export function trendSlopeTwin(p: { period: number }): StreamingFeature {
  const period = p.period;
  const meanX = (period - 1) / 2;
  let varianceX = 0;
  for (let x = 0; x < period; x++) varianceX += (x - meanX) ** 2;
  const initial = { logs: ringState(period + 1), anchor: 0, sum: 0, weighted: 0, since: 256 };
  return twin('core/trend-slope', p, [`trend_slope_${period}`], period - 1, initial, (s, c) => {
    ringPush(s.logs, Math.log(c.close));
    if (s.logs.seen < period) return [NaN];
    if (s.since >= 256) {
      s.anchor = ringAt(s.logs, 0);
      s.sum = 0;
      s.weighted = 0;
      for (let k = 0; k < period; k++) {
        const v = ringAt(s.logs, period - 1 - k) - s.anchor;
        s.sum += v;
        s.weighted += k * v;
      }
      s.since = 0;
    } else {
      const oldest = ringAt(s.logs, period) - s.anchor;
      const newest = ringAt(s.logs, 0) - s.anchor;
      s.weighted += -(s.sum - oldest) + (period - 1) * newest;
      s.sum += newest - oldest;
      s.since++;
    }
    return [((s.weighted - meanX * s.sum) / varianceX) * (period - 1)];
  });
}

/** The bar itself (`core/candle-shape`): no state. */
export function candleShapeTwin(p: Record<string, never>): StreamingFeature {
  return twin('core/candle-shape', p, ['hl_range', 'body', 'upper_wick', 'lower_wick'], 0, {}, (_, c) => [
    (c.high - c.low) / c.close,
    (c.close - c.open) / c.close,
    (c.high - Math.max(c.open, c.close)) / c.close,
    (Math.min(c.open, c.close) - c.low) / c.close,
  ]);
}

/** A product, ratio or difference of two earlier columns (`core/interaction`): no state. */
export function interactionTwin(p: { a: string; b: string; op: 'product' | 'ratio' | 'difference' }, output: string): StreamingFeature {
  return twin('core/interaction', p, [output], 0, {}, (_, c) => {
    const a = c[p.a];
    const b = c[p.b];
    return [p.op === 'product' ? a * b : p.op === 'ratio' ? a / b : a - b];
  });
}

/** Calendar features of the bar's open time in UTC (`core/time`): no state. */
export function timeTwin(p: Record<string, never>): StreamingFeature {
  const outputs = ['hour', 'day_of_week', 'day_of_month', 'month', 'hour_sin', 'hour_cos', 'dow_sin', 'dow_cos', 'weekend'];
  return twin('core/time', p, outputs, 0, {}, (_, c) => {
    const date = new Date(c.time);
    const hour = date.getUTCHours() + date.getUTCMinutes() / 60;
    const dow = date.getUTCDay();
    return [
      hour, dow, date.getUTCDate(), date.getUTCMonth() + 1,
      Math.sin((2 * Math.PI * hour) / 24), Math.cos((2 * Math.PI * hour) / 24),
      Math.sin((2 * Math.PI * dow) / 7), Math.cos((2 * Math.PI * dow) / 7),
      dow === 0 || dow === 6 ? 1 : 0,
    ];
  });
}
