import { type Candles, barsPerYear } from '../frame/frame';
import { ConfigError } from '../errors';

/**
 * Backtest settings. The semantics, precisely (README "Backtest semantics"):
 * - targets[i] is decided at bar i's close; the change is filled at bar i+1's open (next-open fills).
 * - A changed target first closes the open position, then opens the new one with all equity × |target|.
 * - Slippage moves every fill price against the trader by slippageBps; commission is commissionBps of
 *   each fill's traded value, paid from cash. Units are fractional (no rounding).
 * - A position still open after the last bar is closed at the last close (with costs), exitReason 'end'.
 */
export type BacktestSettings = {
  initialCash: number;
  commissionBps: number;
  slippageBps: number;
};

export type Trade = {
  side: 'long' | 'short';
  entryTime: number;
  entryPrice: number;
  exitTime: number;
  exitPrice: number;
  units: number;
  /** Profit after both fills' commissions (slippage is in the prices). */
  pnl: number;
  /** pnl / capital committed at entry. */
  returnPct: number;
  bars: number;
  fees: number;
  exitReason: 'signal' | 'end';
};

export type BacktestMetrics = {
  initialCash: number;
  finalEquity: number;
  totalReturn: number;
  buyHoldReturn: number;
  /** Annualized, from per-bar equity returns, risk-free rate 0. */
  sharpe: number;
  /** Largest peak-to-trough fall of equity, as a positive fraction. */
  maxDrawdown: number;
  numTrades: number;
  /** null when there are no trades. */
  winRate: number | null;
  /** Gross profit / gross loss; null when there are no losing trades. */
  profitFactor: number | null;
  averageTradeBars: number | null;
  /** Fraction of bars with an open position. */
  exposure: number;
  totalFees: number;
};

export type BacktestResult = {
  time: Float64Array;
  equity: Float64Array;
  /** Buy-and-hold equity on the same bars, with no costs: initialCash × close / first close. */
  buyHoldEquity: Float64Array;
  /** Fall from the running peak, as a positive fraction. */
  drawdown: Float64Array;
  /** Units held at each bar's close (negative when short). */
  position: Float64Array;
  trades: Trade[];
  metrics: BacktestMetrics;
};

export function validateBacktestSettings(settings: BacktestSettings): void {
  if (!(settings.initialCash > 0)) throw new ConfigError(`initialCash must be positive, got ${settings.initialCash}`);
  for (const key of ['commissionBps', 'slippageBps'] as const) {
    if (!(settings[key] >= 0) || settings[key] > 10_000) throw new ConfigError(`${key} must be between 0 and 10000, got ${settings[key]}`);
  }
}

/** Run target exposures (−1..1, one per bar) over candles with next-open fills. */
export function runBacktest(candles: Candles, targets: Float64Array, settings: BacktestSettings): BacktestResult {
  validateBacktestSettings(settings);
  const n = candles.length;
  if (targets.length !== n) throw new ConfigError(`strategy returned ${targets.length} targets for ${n} bars`);
  for (let i = 0; i < n; i++) {
    if (!(targets[i] >= -1 && targets[i] <= 1)) throw new ConfigError(`target ${targets[i]} at bar ${i} is outside −1..1`);
  }
  const { time } = candles;
  const open = candles.column('open');
  const close = candles.column('close');
  const commission = settings.commissionBps / 10_000;
  const slippage = settings.slippageBps / 10_000;

  const equity = new Float64Array(n);
  const position = new Float64Array(n);
  const trades: Trade[] = [];
  let cash = settings.initialCash;
  let units = 0; // signed
  let heldTarget = 0;
  let entry: { time: number; price: number; bar: number; fee: number; capital: number } | undefined;
  let totalFees = 0;

  const closePosition = (bar: number, basePrice: number, reason: Trade['exitReason']): void => {
    if (units === 0 || !entry) return;
    const long = units > 0;
    const price = basePrice * (long ? 1 - slippage : 1 + slippage);
    const fee = Math.abs(units) * price * commission;
    cash += units * price - fee;
    totalFees += fee;
    const pnl = units * (price - entry.price) - entry.fee - fee;
    trades.push({
      side: long ? 'long' : 'short',
      entryTime: entry.time,
      entryPrice: entry.price,
      exitTime: time[bar],
      exitPrice: price,
      units: Math.abs(units),
      pnl,
      returnPct: pnl / entry.capital,
      bars: bar - entry.bar,
      fees: entry.fee + fee,
      exitReason: reason,
    });
    units = 0;
    entry = undefined;
  };

  const openPosition = (bar: number, target: number): void => {
    const long = target > 0;
    const price = open[bar] * (long ? 1 + slippage : 1 - slippage);
    const capital = cash * Math.abs(target);
    // Size so that the position's value plus its commission equals the committed capital.
    const size = capital / (price * (1 + commission));
    const fee = size * price * commission;
    units = long ? size : -size;
    cash -= units * price + fee;
    totalFees += fee;
    entry = { time: time[bar], price, bar, fee, capital };
  };

  for (let i = 0; i < n; i++) {
    if (i > 0 && targets[i - 1] !== heldTarget) {
      closePosition(i, open[i], 'signal');
      heldTarget = targets[i - 1];
      if (heldTarget !== 0) openPosition(i, heldTarget);
    }
    if (i === n - 1) closePosition(i, close[i], 'end');
    equity[i] = cash + units * close[i];
    position[i] = units;
  }

  const buyHoldEquity = new Float64Array(n);
  for (let i = 0; i < n; i++) buyHoldEquity[i] = (settings.initialCash * close[i]) / close[0];
  const drawdown = drawdownSeries(equity);
  let exposed = 0;
  for (let i = 0; i < n; i++) if (position[i] !== 0) exposed++;
  const wins = trades.filter((t) => t.pnl > 0);
  const grossProfit = wins.reduce((sum, t) => sum + t.pnl, 0);
  const grossLoss = -trades.filter((t) => t.pnl < 0).reduce((sum, t) => sum + t.pnl, 0);
  const metrics: BacktestMetrics = {
    initialCash: settings.initialCash,
    finalEquity: equity[n - 1],
    totalReturn: equity[n - 1] / settings.initialCash - 1,
    buyHoldReturn: close[n - 1] / close[0] - 1,
    sharpe: sharpeRatio(equity, barsPerYearOf(candles)),
    maxDrawdown: drawdown.reduce((max, d) => Math.max(max, d), 0),
    numTrades: trades.length,
    winRate: trades.length ? wins.length / trades.length : null,
    profitFactor: grossLoss > 0 ? grossProfit / grossLoss : null,
    averageTradeBars: trades.length ? trades.reduce((sum, t) => sum + t.bars, 0) / trades.length : null,
    exposure: n ? exposed / n : 0,
    totalFees,
  };
  return { time, equity, buyHoldEquity, drawdown, position, trades, metrics };
}

function barsPerYearOf(candles: Candles): number {
  try {
    return barsPerYear(candles.meta.timeframe);
  } catch {
    return 365; // unknown timeframe: treat bars as days
  }
}

/** Fall from the running peak at each bar, as a positive fraction. */
export function drawdownSeries(equity: Float64Array): Float64Array {
  const out = new Float64Array(equity.length);
  let peak = -Infinity;
  for (let i = 0; i < equity.length; i++) {
    peak = Math.max(peak, equity[i]);
    out[i] = peak > 0 ? 1 - equity[i] / peak : 0;
  }
  return out;
}

/** Annualized Sharpe ratio of per-bar returns (sample deviation, risk-free 0); 0 when flat. */
export function sharpeRatio(equity: Float64Array, periodsPerYear: number): number {
  const n = equity.length - 1;
  if (n < 2) return 0;
  let mean = 0;
  for (let i = 1; i <= n; i++) mean += equity[i] / equity[i - 1] - 1;
  mean /= n;
  let variance = 0;
  for (let i = 1; i <= n; i++) {
    const deviation = equity[i] / equity[i - 1] - 1 - mean;
    variance += deviation * deviation;
  }
  const deviation = Math.sqrt(variance / (n - 1));
  return deviation > 0 ? (mean / deviation) * Math.sqrt(periodsPerYear) : 0;
}
