import { Frame, type Candles, timeframeMs } from '../frame/frame';
import { ConfigError } from '../errors';

/** How the data stage treats missing bars (gaps in the time grid) and rows with NaN/Infinity. */
export const MISSING_DATA_POLICIES = ['drop', 'ffill', 'interpolate', 'regression'] as const;
export type MissingDataPolicy = (typeof MISSING_DATA_POLICIES)[number];

/** What a policy did, for the log and the run record. */
export type MissingDataReport = {
  policy: MissingDataPolicy;
  /** Rows with a NaN/Infinity OHLCV value, treated as missing bars. */
  invalidRows: number;
  /** Missing bars (grid slots and invalid rows) that were filled in. */
  filled: number;
  /** Rows removed: invalid rows under 'drop', and leading missing rows no policy can fill causally. */
  dropped: number;
  /** Gaps (runs of missing bars) seen. */
  gaps: number;
};

/** Bars before a gap that the regression fill fits its line to. */
export const REGRESSION_FILL_BARS = 5;

/**
 * Apply a missing-data policy. A bar is missing when its grid slot (previous time + k × timeframe)
 * has no row, or when its row has a NaN/Infinity open, high, low, close or volume. Filled rows get
 * volume 0 and a `filled` column of 1 (0 elsewhere); their open is the previous bar's close and
 * high/low are max/min of open and close. The close of a filled bar is:
 *
 * - `drop`: no fill — invalid rows are removed, gaps stay gaps (no `filled` column).
 * - `ffill`: the last valid close (a flat bar). Causal.
 * - `interpolate`: linear in time between the last valid close before the gap and the first valid
 *   close after it (uses the bar after the gap: not causal, for research data only); a gap at the end
 *   is forward-filled.
 * - `regression`: ordinary least squares of close on time over the last 5 valid bars before the gap,
 *   extrapolated to the missing bar's time. Causal. With fewer than 2 valid bars before the gap, or a
 *   non-positive extrapolated price, the bar is forward-filled instead.
 *
 * Missing rows before the first valid row cannot be filled from the past and are dropped. Rows off the
 * grid (a spacing that is not a whole number of bars) are kept as they are.
 */
export function applyMissingDataPolicy(candles: Candles, policy: MissingDataPolicy, timeframe: string = candles.meta.timeframe): { candles: Candles; report: MissingDataReport } {
  if (!MISSING_DATA_POLICIES.includes(policy)) throw new ConfigError(`missing-data policy '${policy}' is unknown; use ${MISSING_DATA_POLICIES.join(', ')}`);
  const step = timeframeMs(timeframe);
  const { time } = candles;
  const source = (['open', 'high', 'low', 'close', 'volume'] as const).map((name) => candles.column(name));
  const [open, high, low, close, volume] = source;
  const n = time.length;
  const isValid = (i: number): boolean =>
    Number.isFinite(open[i]) && Number.isFinite(high[i]) && Number.isFinite(low[i]) && Number.isFinite(close[i]) && Number.isFinite(volume[i]);
  let invalidRows = 0;
  for (let i = 0; i < n; i++) if (!isValid(i)) invalidRows++;

  const out = { time: [] as number[], open: [] as number[], high: [] as number[], low: [] as number[], close: [] as number[], volume: [] as number[], filled: [] as number[], row: [] as number[] };
  const push = (t: number, o: number, h: number, l: number, c: number, v: number, filled: number, row = -1): void => {
    out.row.push(row);
    out.time.push(t);
    out.open.push(o);
    out.high.push(h);
    out.low.push(l);
    out.close.push(c);
    out.volume.push(v);
    out.filled.push(filled);
  };
  let filled = 0;
  let dropped = 0;
  let gaps = 0;

  if (policy === 'drop') {
    for (let i = 0; i < n; i++) {
      if (isValid(i)) push(time[i], open[i], high[i], low[i], close[i], volume[i], 0, i);
      else dropped++;
    }
    for (let k = 1; k < out.time.length; k++) if (out.time[k] - out.time[k - 1] > step) gaps++;
    const columns = { open: Float64Array.from(out.open), high: Float64Array.from(out.high), low: Float64Array.from(out.low), close: Float64Array.from(out.close), volume: Float64Array.from(out.volume) };
    return { candles: rebuild(candles, Float64Array.from(out.time), columns, out.row), report: { policy, invalidRows, filled: 0, dropped, gaps } };
  }

  // Valid rows seen so far (time, close), for the regression fill's trailing window.
  const history: Array<[number, number]> = [];
  let pending: number[] = []; // times of missing bars waiting for the next valid row (interpolate)
  const fillBar = (t: number, closeValue: number): void => {
    const previousClose = out.close[out.close.length - 1];
    push(t, previousClose, Math.max(previousClose, closeValue), Math.min(previousClose, closeValue), closeValue, 0, 1);
    filled++;
  };
  const regressionClose = (t: number): number => {
    const last = history.length - 1;
    if (history.length < 2) return history[last][1];
    const window = history.slice(-REGRESSION_FILL_BARS);
    const meanT = window.reduce((s, [x]) => s + x, 0) / window.length;
    const meanC = window.reduce((s, [, y]) => s + y, 0) / window.length;
    let sxy = 0;
    let sxx = 0;
    for (const [x, y] of window) {
      sxy += (x - meanT) * (y - meanC);
      sxx += (x - meanT) * (x - meanT);
    }
    const value = meanC + (sxx > 0 ? sxy / sxx : 0) * (t - meanT);
    return value > 0 ? value : history[last][1];
  };
  const flushPending = (nextTime: number | undefined, nextClose: number | undefined): void => {
    if (pending.length === 0) return;
    gaps++;
    const baseTime = out.time[out.time.length - 1];
    const baseClose = out.close[out.close.length - 1];
    for (const t of pending) {
      const value =
        policy === 'interpolate' && nextTime !== undefined && nextClose !== undefined
          ? baseClose + ((nextClose - baseClose) * (t - baseTime)) / (nextTime - baseTime)
          : policy === 'regression'
            ? regressionClose(t)
            : baseClose;
      fillBar(t, value);
    }
    pending = [];
  };

  for (let i = 0; i < n; i++) {
    const started = out.time.length > 0;
    if (!isValid(i)) {
      if (!started) dropped++;
      else pending.push(time[i]);
      continue;
    }
    if (started) {
      // Grid slots between the last kept or pending bar and this row.
      const lastTime = pending.length ? pending[pending.length - 1] : out.time[out.time.length - 1];
      const delta = time[i] - lastTime;
      if (delta > step && delta % step === 0) for (let t = lastTime + step; t < time[i]; t += step) pending.push(t);
      pending.sort((a, b) => a - b);
      flushPending(time[i], close[i]);
    }
    push(time[i], open[i], high[i], low[i], close[i], volume[i], 0, i);
    history.push([time[i], close[i]]);
    if (history.length > REGRESSION_FILL_BARS) history.shift();
  }
  flushPending(undefined, undefined);
  const columns = { open: Float64Array.from(out.open), high: Float64Array.from(out.high), low: Float64Array.from(out.low), close: Float64Array.from(out.close), volume: Float64Array.from(out.volume) };
  return {
    candles: rebuild(candles, Float64Array.from(out.time), { ...columns, filled: Float64Array.from(out.filled) }, out.row),
    report: { policy, invalidRows, filled, dropped, gaps },
  };
}

/**
 * A new candles frame on `time`. Other columns of the input (funding_rate, open_interest, …) follow
 * their rows; filled rows get NaN there (features carry such series forward themselves).
 */
function rebuild(candles: Candles, time: Float64Array, columns: Record<string, Float64Array>, rows: number[]): Candles {
  const all: Record<string, Float64Array> = { ...columns };
  for (const name of candles.names) {
    if (name in all || (name as string) === 'filled') continue;
    const values = candles.column(name);
    all[name] = Float64Array.from(rows, (row) => (row >= 0 ? values[row] : NaN));
  }
  return Frame.fromColumns(time, all, candles.meta) as unknown as Candles;
}
