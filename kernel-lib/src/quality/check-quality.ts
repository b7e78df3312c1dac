import { Frame, type Candles, isoTime, timeframeMs } from '../frame/frame';
import { DataError } from '../errors';
import { candlesToRaw, type RawCandles } from '../data/raw-candles';

export type QualityIssueKind =
  | 'non-finite'
  | 'ohlc-inconsistent'
  | 'non-positive-price'
  | 'negative-volume'
  | 'duplicate'
  | 'non-monotonic'
  | 'gap'
  | 'outlier-return'
  | 'outlier-range'
  | 'filled';

export type QualityIssue = {
  kind: QualityIssueKind;
  count: number;
  /** Bar open times (ISO) of the first offending rows. */
  first: string[];
  /** Errors make the data unusable; warnings are reported and recorded in the run. */
  severity: 'error' | 'warning';
  /** A short explanation where a count alone says too little (e.g. bars missing in gaps). */
  detail?: string;
};

export type QualityReport = {
  rows: number;
  start: string;
  end: string;
  ok: boolean;
  issues: QualityIssue[];
};

export type QualityOptions = {
  /** Bar length for the gap check (default: the candles' meta timeframe; unknown → no gap check). */
  timeframe?: string;
  /** Robust z-score above which a return or a range is an outlier (default 40). */
  outlierZ?: number;
  /** Rows per block in which median and MAD are taken (default 250): local, so volatility regimes do not flag. */
  outlierWindow?: number;
};

const SHOW_FIRST = 5;
/** 0.6745 = Φ⁻¹(0.75): scales the MAD to a standard deviation for normal data (Iglewicz & Hoaglin). */
const MAD_SCALE = 0.6745;
/** When MAD is 0, the mean absolute deviation × √(π/2) stands in for σ (Iglewicz & Hoaglin). */
const MEAN_AD_SCALE = 1.2533;

/**
 * Check candles for what makes research results wrong. Errors: NaN/Infinity, OHLC inconsistency (high
 * below open/close, low above them), non-positive prices, negative volume, repeated times and times
 * going backwards. Warnings: gaps in the time grid (real exchanges have outages), outlier candles
 * (robust z-score of the log return and of the log high/low range against the median and MAD of their
 * block of rows; the defaults flag bad ticks, not fat tails) and rows filled by a missing-data policy.
 * Takes candles or the raw rows of a file (which may be unsorted or repeat times).
 */
export function checkQuality(candles: Candles | RawCandles, options: QualityOptions = {}): QualityReport {
  const raw = candles instanceof Frame ? candlesToRaw(candles) : candles;
  const { time } = raw;
  const { open, high, low, close, volume } = raw.columns;
  const n = time.length;
  const found = new Map<QualityIssueKind, QualityIssue>();
  const note = (kind: QualityIssueKind, severity: 'error' | 'warning', row: number): void => {
    let issue = found.get(kind);
    if (!issue) found.set(kind, (issue = { kind, count: 0, first: [], severity }));
    issue.count++;
    if (issue.first.length < SHOW_FIRST) issue.first.push(isoTime(time[row]));
  };
  let step: number | undefined;
  try {
    step = timeframeMs(options.timeframe ?? raw.meta.timeframe);
  } catch {
    step = undefined; // unknown timeframe: no gap check
  }
  let missingBars = 0;
  let longestGap = 0;
  const valid = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    if (i > 0) {
      const delta = time[i] - time[i - 1];
      if (delta === 0) note('duplicate', 'error', i);
      else if (delta < 0) note('non-monotonic', 'error', i);
      else if (step !== undefined && delta > step) {
        note('gap', 'warning', i);
        const bars = Math.round(delta / step) - 1;
        missingBars += bars;
        longestGap = Math.max(longestGap, bars);
      }
    }
    const o = open[i], h = high[i], l = low[i], c = close[i], v = volume[i];
    if (!Number.isFinite(o) || !Number.isFinite(h) || !Number.isFinite(l) || !Number.isFinite(c) || !Number.isFinite(v)) {
      note('non-finite', 'error', i);
      continue;
    }
    let ok = true;
    if (o <= 0 || h <= 0 || l <= 0 || c <= 0) {
      note('non-positive-price', 'error', i);
      ok = false;
    }
    if (h < Math.max(o, c) || l > Math.min(o, c) || l > h) {
      note('ohlc-inconsistent', 'error', i);
      ok = false;
    }
    if (v < 0) note('negative-volume', 'error', i);
    valid[i] = ok ? 1 : 0;
  }
  const gap = found.get('gap');
  if (gap) gap.detail = `${missingBars} bar(s) missing, longest gap ${longestGap} bar(s)`;
  findOutliers(raw, valid, options, note);
  const filled = raw.columns.filled;
  if (filled) {
    for (let i = 0; i < n; i++) if (filled[i] === 1) note('filled', 'warning', i);
    const issue = found.get('filled');
    if (issue) issue.detail = 'rows made by the missing-data policy (volume 0)';
  }
  const order: QualityIssueKind[] = ['non-finite', 'ohlc-inconsistent', 'non-positive-price', 'negative-volume', 'duplicate', 'non-monotonic', 'gap', 'outlier-return', 'outlier-range', 'filled'];
  const issues = order.filter((kind) => found.has(kind)).map((kind) => found.get(kind)!);
  return {
    rows: n,
    start: n ? isoTime(time[0]) : '',
    end: n ? isoTime(time[n - 1]) : '',
    ok: issues.every((issue) => issue.severity !== 'error'),
    issues,
  };
}

/**
 * Outlier candles: the log return (close over the previous valid close) and the log range
 * ln(high/low), each scored as z = 0.6745·(x − median)/MAD within blocks of `outlierWindow` rows
 * (the last block reaches back to a full window). |z| above `outlierZ` flags the return; z above it
 * flags the range (only wide bars are suspicious).
 */
function findOutliers(
  raw: RawCandles,
  valid: Uint8Array,
  options: QualityOptions,
  note: (kind: QualityIssueKind, severity: 'error' | 'warning', row: number) => void,
): void {
  const threshold = options.outlierZ ?? 40;
  const window = options.outlierWindow ?? 250;
  const { close, high, low } = raw.columns;
  const rows: number[] = [];
  for (let i = 0; i < valid.length; i++) if (valid[i]) rows.push(i);
  if (rows.length < 20) return;
  const returns = new Float64Array(rows.length).fill(NaN);
  const ranges = new Float64Array(rows.length);
  for (let k = 0; k < rows.length; k++) {
    if (k > 0) returns[k] = Math.log(close[rows[k]] / close[rows[k - 1]]);
    ranges[k] = Math.log(high[rows[k]] / low[rows[k]]);
  }
  const score = (values: Float64Array, kind: 'outlier-return' | 'outlier-range', twoSided: boolean): void => {
    for (let start = 0; start < values.length; start += window) {
      const end = Math.min(values.length, start + window);
      const from = Math.max(0, Math.min(start, values.length - window));
      const block = values.subarray(from, Math.max(end, from + window)).filter((x) => !Number.isNaN(x));
      if (block.length < 20) continue;
      const center = median(block);
      let spread = median(block.map((x) => Math.abs(x - center))) / MAD_SCALE;
      if (spread === 0) spread = (block.reduce((sum, x) => sum + Math.abs(x - center), 0) / block.length) * MEAN_AD_SCALE;
      if (!(spread > 0)) continue;
      for (let k = start; k < end; k++) {
        const z = (values[k] - center) / spread;
        if (twoSided ? Math.abs(z) > threshold : z > threshold) note(kind, 'warning', rows[k]);
      }
    }
  };
  score(returns, 'outlier-return', true);
  score(ranges, 'outlier-range', false);
}

function median(values: Float64Array): number {
  const sorted = Float64Array.from(values).sort();
  const m = sorted.length >> 1;
  return sorted.length % 2 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
}

/** Throw a DataError naming the first error-level issue; return the report otherwise. */
export function assertQuality(candles: Candles, label = candles.meta.source ?? candles.meta.symbol): QualityReport {
  const report = checkQuality(candles);
  const error = report.issues.find((issue) => issue.severity === 'error');
  if (error) {
    throw new DataError(
      `${label}: ${error.count} row(s) with ${error.kind} data, first at ${error.first[0]}; clean or re-download the data (candlelab data check shows all)`,
    );
  }
  return report;
}
