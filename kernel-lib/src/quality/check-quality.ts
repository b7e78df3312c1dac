import { type Candles, isoTime, timeframeMs } from '../frame/frame';
import { DataError } from '../errors';

export type QualityIssueKind = 'non-finite' | 'ohlc-inconsistent' | 'non-positive-price' | 'negative-volume' | 'gap';

export type QualityIssue = {
  kind: QualityIssueKind;
  count: number;
  /** Bar open times (ISO) of the first offending rows. */
  first: string[];
  /** Errors make the data unusable; warnings are reported and recorded in the run. */
  severity: 'error' | 'warning';
};

export type QualityReport = {
  rows: number;
  start: string;
  end: string;
  ok: boolean;
  issues: QualityIssue[];
};

const SHOW_FIRST = 5;

/**
 * Check candles for what makes research results wrong: NaN/Infinity, OHLC inconsistency (high below
 * open/close, low above them), non-positive prices, negative volume (errors) and gaps in the time grid
 * (a warning: real exchanges have outages).
 */
export function checkQuality(candles: Candles): QualityReport {
  const { time } = candles;
  const open = candles.column('open');
  const high = candles.column('high');
  const low = candles.column('low');
  const close = candles.column('close');
  const volume = candles.column('volume');
  const found = new Map<QualityIssueKind, QualityIssue>();
  const note = (kind: QualityIssueKind, severity: 'error' | 'warning', row: number): void => {
    let issue = found.get(kind);
    if (!issue) found.set(kind, (issue = { kind, count: 0, first: [], severity }));
    issue.count++;
    if (issue.first.length < SHOW_FIRST) issue.first.push(isoTime(time[row]));
  };
  let step: number | undefined;
  try {
    step = timeframeMs(candles.meta.timeframe);
  } catch {
    step = undefined; // unknown timeframe: no gap check
  }
  for (let i = 0; i < candles.length; i++) {
    const o = open[i], h = high[i], l = low[i], c = close[i], v = volume[i];
    if (!Number.isFinite(o) || !Number.isFinite(h) || !Number.isFinite(l) || !Number.isFinite(c) || !Number.isFinite(v)) {
      note('non-finite', 'error', i);
      continue;
    }
    if (o <= 0 || h <= 0 || l <= 0 || c <= 0) note('non-positive-price', 'error', i);
    if (h < Math.max(o, c) || l > Math.min(o, c) || l > h) note('ohlc-inconsistent', 'error', i);
    if (v < 0) note('negative-volume', 'error', i);
    if (step !== undefined && i > 0 && time[i] - time[i - 1] > step) note('gap', 'warning', i);
  }
  const issues = [...found.values()];
  return {
    rows: candles.length,
    start: candles.length ? isoTime(time[0]) : '',
    end: candles.length ? isoTime(time[candles.length - 1]) : '',
    ok: issues.every((issue) => issue.severity !== 'error'),
    issues,
  };
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
