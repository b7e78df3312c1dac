import { Frame, isoTime, timeframeMs, type Candles } from '../../frame/frame';
import { candleDefect } from '../../data/candle-validation';

/** A request the endpoint refuses: HTTP status, the field at fault (dotted path) and what to do. */
export class RequestError extends Error {
  constructor(
    readonly field: string,
    message: string,
    readonly statusCode = 400,
  ) {
    super(message);
  }
}

/** One candle as a client sends it: time in epoch ms or ISO 8601 (the bar's open time). */
export type CandleInput = { time: number | string; open: number; high: number; low: number; close: number; volume: number };

/** The body of POST /api/predict. */
export type PredictRequest = {
  /** Which served model answers (default: the first one the server serves). */
  model?: string;
  /** Sticky A/B: the same key always gets the same version (also read from the x-client-key header). */
  clientKey?: string;
  /** Recent closed candles, oldest first (at least the model's warm-up + 1). */
  candles?: CandleInput[];
  /** Without candles: read the last `limit` candles of this series from the store. */
  symbol?: string;
  timeframe?: string;
  exchange?: string;
  market?: 'spot' | 'futures';
  limit?: number;
  /** Answer every candle that has a prediction, not only the last one. */
  all?: boolean;
};

const COLUMNS = ['open', 'high', 'low', 'close', 'volume'] as const;

/**
 * The request's candles as a frame, checked as every other entry point checks candles: each value a
 * finite number, prices > 0, volume ≥ 0, high/low consistent, times increasing on the timeframe's grid,
 * and enough rows for the model's warm-up. Errors name the field (candles[12].close).
 */
export function parseRequestCandles(candles: readonly CandleInput[], meta: { symbol: string; timeframe: string; minCandles: number }): Candles {
  const n = candles.length;
  if (n < meta.minCandles) {
    throw new RequestError('candles', `${n} candle(s) given but the model needs at least ${meta.minCandles} (its features' warm-up + 1); send more recent candles`);
  }
  const step = timeframeMs(meta.timeframe);
  const time = new Float64Array(n);
  const columns = Object.fromEntries(COLUMNS.map((c) => [c, new Float64Array(n)])) as Record<(typeof COLUMNS)[number], Float64Array>;
  for (let i = 0; i < n; i++) {
    const candle = candles[i];
    if (candle === null || typeof candle !== 'object') throw new RequestError(`candles[${i}]`, `candles[${i}] must be an object with time, open, high, low, close, volume`);
    const t = typeof candle.time === 'string' ? Date.parse(candle.time) : candle.time;
    if (typeof t !== 'number' || !Number.isFinite(t)) throw new RequestError(`candles[${i}].time`, `candles[${i}].time must be epoch milliseconds or an ISO 8601 time, got ${JSON.stringify(candle.time)}`);
    time[i] = t;
    for (const c of COLUMNS) {
      const value = candle[c];
      if (value === undefined) throw new RequestError(`candles[${i}].${c}`, `candles[${i}] has no ${c}; every candle needs time, open, high, low, close, volume`);
      if (typeof value !== 'number') throw new RequestError(`candles[${i}].${c}`, `candles[${i}].${c} must be a number, got ${JSON.stringify(value)}`);
      columns[c][i] = value;
    }
    const defect = candleDefect(columns.open[i], columns.high[i], columns.low[i], columns.close[i], columns.volume[i]);
    if (defect) {
      const field = defect.split(' ')[0];
      throw new RequestError(`candles[${i}].${(COLUMNS as readonly string[]).includes(field) ? field : 'close'}`, `candles[${i}] (${isoTime(t)}): ${defect}`);
    }
    if (t % step !== 0) throw new RequestError(`candles[${i}].time`, `candles[${i}].time ${isoTime(t)} is not on the ${meta.timeframe} grid; send closed ${meta.timeframe} candles by their open time`);
    if (i > 0 && t <= time[i - 1]) throw new RequestError(`candles[${i}].time`, `candles[${i}].time ${isoTime(t)} is not after candles[${i - 1}].time ${isoTime(time[i - 1])}; send candles oldest first, without duplicates`);
    // the features assume consecutive bars (a session backfills gaps): a gap would give other values
    if (i > 0 && t - time[i - 1] !== step) throw new RequestError(`candles[${i}].time`, `candles[${i}].time ${isoTime(t)} leaves ${(t - time[i - 1]) / step - 1} ${meta.timeframe} bar(s) missing after ${isoTime(time[i - 1])}; send consecutive candles`);
  }
  return Frame.fromColumns(time, columns, { symbol: meta.symbol, timeframe: meta.timeframe });
}
