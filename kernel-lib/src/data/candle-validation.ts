import { isoTime } from '../frame/frame';
import { DataError } from '../errors';
import { rowLabel, type RawCandles } from './raw-candles';

/**
 * Candles that cannot be real are refused wherever candles enter candlelab: the importers, downloads,
 * streams and a spec's data file all pass through `validateCandleRows`, and the store checks again
 * before every write. A candle is impossible when a value is not finite (NaN, ±Infinity, or a number
 * too long to be one), a price is ≤ 0, the volume is < 0, high < max(open, close) or
 * low > min(open, close). The error names the file and line (or the row) and the bar's time.
 */

/** 'drop': leave impossible rows out and keep the others (recorded where the rows are stored). */
export const CANDLE_REPAIRS = ['drop'] as const;
export type CandleRepair = (typeof CANDLE_REPAIRS)[number];

export type CandleValidationOptions = {
  /** Without it, the first impossible row is an error; with 'drop', such rows are left out. */
  repair?: CandleRepair;
  /**
   * Rows holding a NaN/Infinity are let through (not counted, not dropped) for a missing-data policy
   * to treat as missing bars; their finite values are not checked either.
   */
  allowNonFinite?: boolean;
  /** How to name the remedy in the error (default: the CLI's `--repair drop`). */
  repairHint?: string;
};

export type CandleValidation = {
  /** The rows kept (the input itself when nothing was dropped). */
  raw: RawCandles;
  /** Rows left out by `repair: 'drop'`. */
  dropped: number;
  /** Bar times (ISO) of the first rows left out. */
  firstDropped: string[];
};

/** What is impossible about row i, or undefined when it could be a real candle. */
export function candleDefect(open: number, high: number, low: number, close: number, volume: number, allowNonFinite = false): string | undefined {
  // the common case, with no allocation: a real candle (NaN fails every comparison, Infinity the bound)
  if (open > 0 && high > 0 && low > 0 && close > 0 && volume >= 0 && high < Infinity && volume < Infinity && high >= open && high >= close && low <= open && low <= close) return undefined;
  const values = { open, high, low, close, volume };
  for (const [name, value] of Object.entries(values)) {
    if (!Number.isFinite(value)) return allowNonFinite ? undefined : `${name} is ${value} (not a finite number)`;
  }
  for (const name of ['open', 'high', 'low', 'close'] as const) {
    if (values[name] <= 0) return `${name} ${values[name]} is not a positive price`;
  }
  if (volume < 0) return `volume ${volume} is negative`;
  if (high < Math.max(open, close)) return `high ${high} is below max(open, close) = ${Math.max(open, close)}`;
  if (low > Math.min(open, close)) return `low ${low} is above min(open, close) = ${Math.min(open, close)}`;
  return undefined;
}

/**
 * Check every row; refuse the first impossible one (an error naming the row, its time and the fix), or
 * with `repair: 'drop'` return the rows without the impossible ones.
 */
export function validateCandleRows(raw: RawCandles, options: CandleValidationOptions = {}): CandleValidation {
  const { open, high, low, close, volume } = raw.columns;
  const n = raw.time.length;
  let keep: Uint8Array | undefined;
  let dropped = 0;
  const firstDropped: string[] = [];
  for (let i = 0; i < n; i++) {
    // candleDefect's common case inline (a real candle): the call only for a row that fails it
    const o = open[i];
    const h = high[i];
    const l = low[i];
    const c = close[i];
    const v = volume[i];
    if (l > 0 && v >= 0 && h < Infinity && v < Infinity && h >= o && h >= c && l <= o && l <= c) continue;
    const defect = candleDefect(o, h, l, c, v, options.allowNonFinite);
    if (defect === undefined) continue;
    if (options.repair !== 'drop') {
      const hint = options.repairHint ?? '--repair drop';
      throw new DataError(`${rowLabel(raw, i)} (${isoTime(raw.time[i])}): ${defect}, which no real candle has; fix or remove the row, or use ${hint} to keep the other rows`);
    }
    keep ??= new Uint8Array(n).fill(1);
    keep[i] = 0;
    dropped++;
    if (firstDropped.length < 5) firstDropped.push(isoTime(raw.time[i]));
  }
  if (!keep) return { raw, dropped: 0, firstDropped };
  const rows = Int32Array.from({ length: n }, (_, i) => i).filter((i) => keep![i] === 1);
  const pick = (values: Float64Array): Float64Array => Float64Array.from(rows, (i) => values[i]);
  const columns = Object.fromEntries(Object.entries(raw.columns).map(([name, values]) => [name, pick(values)])) as RawCandles['columns'];
  return {
    raw: { ...raw, time: pick(raw.time), columns, line: raw.line ? Int32Array.from(rows, (i) => raw.line![i]) : undefined },
    dropped,
    firstDropped,
  };
}
