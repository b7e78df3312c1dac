import type { EngineAsset, EngineResult } from './engine';
import { barLength } from './engine';

/** Performance of a backtest. Ratios are fractions (0.1 = 10%); null where undefined (no trades, no losses). */
export type PerformanceMetrics = {
  initialCash: number;
  finalEquity: number;
  totalReturn: number;
  /** Compound annual growth over the backtest's calendar span. */
  cagr: number;
  /** Standard deviation of per-bar returns × √periodsPerYear. */
  annualVolatility: number;
  /** Mean / standard deviation of per-bar returns × √periodsPerYear (risk-free rate 0). */
  sharpe: number;
  /** Mean / downside deviation (√ mean of min(r, 0)²) × √periodsPerYear. */
  sortino: number | null;
  /** CAGR / max drawdown. */
  calmar: number | null;
  /** Largest fall from a running peak of equity. */
  maxDrawdown: number;
  /** Longest time spent below a previous equity peak, in bars and in days. */
  maxDrawdownBars: number;
  maxDrawdownDays: number;
  numTrades: number;
  winRate: number | null;
  /** Gross profit / gross loss. */
  profitFactor: number | null;
  /** Mean profit per trade, in cash. */
  expectancy: number | null;
  averageTradeBars: number | null;
  averageTradeHours: number | null;
  /** Fraction of bars with an open position. */
  exposure: number;
  /** Buy-and-hold of the assets (equal weight), no costs: last close / first close − 1. */
  buyHoldReturn: number;
  totalFees: number;
  totalSlippage: number;
  totalFunding: number;
  periodsPerYear: number;
};

export type RegimeName = 'bull' | 'bear' | 'sideways';

/** Performance in each market regime (bars classified by the trailing trend of the first asset). */
export type RegimeBreakdown = Array<{
  regime: RegimeName;
  bars: number;
  /** Compound strategy return over the bars in this regime. */
  strategyReturn: number;
  /** Compound buy-and-hold return over the same bars. */
  buyHoldReturn: number;
  sharpe: number;
}>;

export type BacktestReport = {
  metrics: PerformanceMetrics;
  regimes: RegimeBreakdown;
  /** Buy-and-hold equity at the engine's event times (equal weight, no costs), for charts. */
  buyHoldEquity: Float64Array;
  /** Fall from the running peak at each event time. */
  drawdown: Float64Array;
};

const YEAR_MS = 365.25 * 86_400_000;

function meanAndDeviation(values: ArrayLike<number>): { mean: number; deviation: number } {
  const n = values.length;
  if (n < 2) return { mean: n ? values[0] : 0, deviation: 0 };
  let sum = 0;
  for (let i = 0; i < n; i++) sum += values[i];
  const mean = sum / n;
  let squares = 0;
  for (let i = 0; i < n; i++) squares += (values[i] - mean) ** 2;
  return { mean, deviation: Math.sqrt(squares / (n - 1)) };
}

/** Annualized Sharpe of per-period returns (sample deviation, risk-free 0); 0 when returns are flat. */
export function sharpeOfReturns(returns: ArrayLike<number>, periodsPerYear: number): number {
  const { mean, deviation } = meanAndDeviation(returns);
  return deviation > 0 ? (mean / deviation) * Math.sqrt(periodsPerYear) : 0;
}

/** Fall from the running peak at each point, as a positive fraction. */
export function drawdownSeries(equity: Float64Array): Float64Array {
  const out = new Float64Array(equity.length);
  let peak = -Infinity;
  for (let i = 0; i < equity.length; i++) {
    peak = Math.max(peak, equity[i]);
    out[i] = peak > 0 ? 1 - equity[i] / peak : 0;
  }
  return out;
}

/** For each event time, the row of `times` (bar close times) at or before it; −1 before the first. */
function alignRows(eventTimes: Float64Array, closeTimes: Float64Array): Int32Array {
  const out = new Int32Array(eventTimes.length);
  let row = -1;
  for (let i = 0; i < eventTimes.length; i++) {
    while (row + 1 < closeTimes.length && closeTimes[row + 1] <= eventTimes[i]) row++;
    out[i] = row;
  }
  return out;
}

export type AnalyzeOptions = {
  /**
   * Closes of the first asset before its first traded bar (e.g. the train and valid segments before a
   * test segment): the regime of each traded bar is classified from the full history before it, not
   * from the traded slice alone (whose first window would all be "sideways").
   */
  regimeHistory?: Float64Array;
};

/** Metrics, regimes, buy-and-hold and drawdown of an engine run over these assets. */
export function analyzeBacktest(result: EngineResult, assets: EngineAsset[], options: AnalyzeOptions = {}): BacktestReport {
  const { settings, equity, time, trades } = result;
  const n = equity.length;
  const step = Math.min(...assets.map((a) => barLength(a.candles)));
  const periodsPerYear = settings.periodsPerYear ?? (365 * 86_400_000) / step;
  const returns = new Float64Array(Math.max(0, n - 1));
  for (let i = 1; i < n; i++) returns[i - 1] = equity[i - 1] > 0 ? equity[i] / equity[i - 1] - 1 : 0;
  const { mean, deviation } = meanAndDeviation(returns);
  let downside = 0;
  for (const r of returns) downside += Math.min(r, 0) ** 2;
  downside = returns.length ? Math.sqrt(downside / returns.length) : 0;

  const drawdown = drawdownSeries(equity);
  let maxDrawdown = 0;
  let longest = 0;
  let start = -1;
  let longestMs = 0;
  for (let i = 0; i < n; i++) {
    maxDrawdown = Math.max(maxDrawdown, drawdown[i]);
    if (drawdown[i] > 0) {
      if (start < 0) start = i;
      // the stretch counts from the peak (the bar before it went under) to this bar
      const bars = i - start + 1;
      if (bars > longest) {
        longest = bars;
        longestMs = time[i] - time[Math.max(0, start - 1)];
      }
    } else start = -1;
  }

  const finalEquity = n ? equity[n - 1] : settings.initialCash;
  const totalReturn = finalEquity / settings.initialCash - 1;
  // Span from the first bar's open (the account exists from then) to the last close.
  const spanMs = n ? time[n - 1] - (time[0] - step) : 0;
  const years = spanMs / YEAR_MS;
  const cagr = years > 0 && finalEquity > 0 ? (finalEquity / settings.initialCash) ** (1 / years) - 1 : totalReturn;

  // Exposure: share of event times at which any position was open.
  let exposed = 0;
  for (let i = 0; i < n; i++) if (result.grossExposure[i] > 1e-12) exposed++;

  const wins = trades.filter((t) => t.pnl > 0);
  const grossProfit = wins.reduce((sum, t) => sum + t.pnl, 0);
  const grossLoss = -trades.filter((t) => t.pnl < 0).reduce((sum, t) => sum + t.pnl, 0);

  // Buy-and-hold: equal weight across assets, bought at each asset's first close, marked at event times.
  const buyHoldEquity = new Float64Array(n);
  const aligned = assets.map((asset) => {
    const candleStep = barLength(asset.candles);
    const closeTimes = Float64Array.from(asset.candles.time, (t) => t + candleStep);
    return { rows: alignRows(time, closeTimes), close: asset.candles.column('close') };
  });
  for (let i = 0; i < n; i++) {
    let value = 0;
    for (const { rows, close } of aligned) value += close[Math.max(0, rows[i])] / close[0];
    buyHoldEquity[i] = (settings.initialCash * value) / aligned.length;
  }
  const buyHoldReturn = aligned.reduce((sum, { close }) => sum + close[close.length - 1] / close[0] - 1, 0) / aligned.length;

  const metrics: PerformanceMetrics = {
    initialCash: settings.initialCash,
    finalEquity,
    totalReturn,
    cagr,
    annualVolatility: deviation * Math.sqrt(periodsPerYear),
    sharpe: deviation > 0 ? (mean / deviation) * Math.sqrt(periodsPerYear) : 0,
    sortino: downside > 0 ? (mean / downside) * Math.sqrt(periodsPerYear) : null,
    calmar: maxDrawdown > 0 ? cagr / maxDrawdown : null,
    maxDrawdown,
    maxDrawdownBars: longest,
    maxDrawdownDays: longestMs / 86_400_000,
    numTrades: trades.length,
    winRate: trades.length ? wins.length / trades.length : null,
    profitFactor: grossLoss > 0 ? grossProfit / grossLoss : null,
    expectancy: trades.length ? trades.reduce((sum, t) => sum + t.pnl, 0) / trades.length : null,
    averageTradeBars: trades.length ? trades.reduce((sum, t) => sum + t.bars, 0) / trades.length : null,
    averageTradeHours: trades.length ? trades.reduce((sum, t) => sum + (t.exitTime - t.entryTime), 0) / trades.length / 3_600_000 : null,
    exposure: n ? exposed / n : 0,
    buyHoldReturn,
    totalFees: result.fills.reduce((sum, f) => sum + f.commission, 0),
    totalSlippage: result.fills.reduce((sum, f) => sum + f.slippageCost, 0),
    totalFunding: trades.reduce((sum, t) => sum + t.funding, 0),
    periodsPerYear,
  };
  return { metrics, regimes: regimeBreakdown(result, assets[0], aligned[0].rows, buyHoldEquity, periodsPerYear, options.regimeHistory), buyHoldEquity, drawdown };
}

/**
 * Classify each bar of `asset` by its trailing trend: the return over the last `window` bars (default:
 * 30 days of bars) above +threshold is bull, below −threshold bear, else sideways. Causal: a bar's
 * regime uses only closes up to it. Rows before a full window are sideways.
 */
export function classifyRegimes(close: Float64Array, window: number, threshold: number): Uint8Array {
  const out = new Uint8Array(close.length).fill(2);
  for (let i = window; i < close.length; i++) {
    const trailing = close[i] / close[i - window] - 1;
    out[i] = trailing > threshold ? 0 : trailing < -threshold ? 1 : 2;
  }
  return out;
}

const REGIME_NAMES: RegimeName[] = ['bull', 'bear', 'sideways'];

function concatCloses(a: Float64Array, b: Float64Array): Float64Array {
  const out = new Float64Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function regimeBreakdown(result: EngineResult, asset: EngineAsset, rows: Int32Array, buyHold: Float64Array, periodsPerYear: number, history?: Float64Array): RegimeBreakdown {
  const step = barLength(asset.candles);
  const window = result.settings.regime.window ?? Math.max(2, Math.round((30 * 86_400_000) / step));
  // Classified over the history and the traded bars together, then read from the traded bars' offset.
  const traded = asset.candles.column('close');
  const closes = history?.length ? concatCloses(history, traded) : traded;
  const regimes = classifyRegimes(closes, window, result.settings.regime.threshold).subarray(closes.length - traded.length);
  const buckets = REGIME_NAMES.map(() => ({ returns: [] as number[], strategy: 1, buyHold: 1 }));
  const { equity } = result;
  for (let i = 1; i < equity.length; i++) {
    // the regime known at the previous bar's close governs this bar's return
    const regime = regimes[Math.max(0, rows[i - 1])];
    const r = equity[i - 1] > 0 ? equity[i] / equity[i - 1] - 1 : 0;
    buckets[regime].returns.push(r);
    buckets[regime].strategy *= 1 + r;
    buckets[regime].buyHold *= buyHold[i] / buyHold[i - 1];
  }
  return buckets.map((bucket, k) => ({
    regime: REGIME_NAMES[k],
    bars: bucket.returns.length,
    strategyReturn: bucket.strategy - 1,
    buyHoldReturn: bucket.buyHold - 1,
    sharpe: sharpeOfReturns(bucket.returns, periodsPerYear),
  }));
}
