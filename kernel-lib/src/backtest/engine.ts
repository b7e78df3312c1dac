import { type Candles, smallestSpacing, timeframeMs } from '../frame/frame';
import type { BacktestSettings, BacktestSettingsInput, ExitRules } from './settings';
import { createEngineKernel, type EngineBuffers } from './kernel';

/**
 * The event-driven backtest engine: bar by bar, one or many assets, one or many strategies ("sleeves")
 * sharing one cash account. docs/backtest.md is the precise contract; in short, for each bar (in order of
 * bar close time, ties by asset order):
 *   1. exits of positions held before the bar: stop-loss / take-profit / trailing stop, at the open if
 *      the open gapped through them, else intrabar from high/low (stop first when both are touched);
 *   2. pending orders: market orders fill at the open; limit and stop orders when the bar reaches them;
 *   3. funding payments of perpetual futures whose funding time falls inside the bar;
 *   4. the close: equity is marked, risk monitors update, strategies decide (targets / orders);
 *      with fill 'close' their market orders fill at this close.
 * Fills record the base price (inside the bar's [low, high]) and slippage separately.
 */

export type FundingSeries = { time: Float64Array; rate: Float64Array };

export type EngineAsset = {
  symbol: string;
  candles: Candles;
  /** Funding rates of a perpetual future (fraction per funding period); longs pay positive rates. */
  funding?: FundingSeries;
};

export type OrderSide = 'buy' | 'sell';
export type OrderType = 'market' | 'limit' | 'stop';

/** An order a strategy submits; it is filled by the engine under the settings' cost models. */
export type Order = {
  asset: string;
  side: OrderSide;
  type: OrderType;
  /** Units to trade (> 0). */
  quantity: number;
  /** Limit price (limit) or trigger price (stop). */
  price?: number;
  /** Bars the order stays live after it is placed (default: 1 for market, until cancelled otherwise). */
  validBars?: number;
  /** Exits for the position this order opens (default: the settings' exits). */
  exits?: Partial<ExitRules>;
  reason?: string;
};

export type Fill = {
  time: number;
  asset: string;
  sleeve: string;
  side: OrderSide;
  type: OrderType | 'stop-loss' | 'take-profit' | 'trailing-stop' | 'end' | 'kill-switch';
  quantity: number;
  /** The price before slippage; always inside the bar's [low, high]. */
  basePrice: number;
  /** The price paid or received (base price moved against the trader by slippage). */
  price: number;
  slippageCost: number;
  commission: number;
};

export type ExitReason = 'signal' | 'stop-loss' | 'take-profit' | 'trailing-stop' | 'end' | 'kill-switch' | 'order';

export type EngineTrade = {
  sleeve: string;
  asset: string;
  side: 'long' | 'short';
  entryTime: number;
  /** Average fill price of the entries (after slippage). */
  entryPrice: number;
  exitTime: number;
  /** Average fill price of the exits (after slippage). */
  exitPrice: number;
  /** Largest absolute position during the trade. */
  units: number;
  /** Realized profit after commissions and funding (slippage is in the prices). */
  pnl: number;
  /** pnl / capital committed at entry (entry value + entry commission). */
  returnPct: number;
  bars: number;
  fees: number;
  funding: number;
  slippageCost: number;
  exitReason: ExitReason;
};

/** The answer to "what does the strategy say now", one per decision that changes a target. */
export type SignalRecord = {
  time: string;
  asset: string;
  sleeve: string;
  signal: 'LONG' | 'SHORT' | 'FLAT';
  confidence: number | null;
  entry: number;
  stop_loss: number | null;
  take_profit: number | null;
  risk_reward: number | null;
  reasoning: string;
};

export type RiskEvent = {
  time: string;
  monitor: 'var' | 'drawdown-kill' | 'volatility-breaker' | 'exposure-limit' | 'portfolio-risk' | 'leverage-cap' | 'participation' | 'short-disabled' | 'exchange-filter';
  action: string;
  detail: string;
};

/** Context handed to a sleeve's `onBar` hook at a bar's close (the low-level order API). */
export type BarContext = {
  readonly time: number;
  readonly asset: string;
  /** Row of this bar in the asset's candles. */
  readonly row: number;
  readonly candles: Candles;
  /** Units this sleeve holds in the asset (negative when short). */
  position(asset?: string): number;
  /** Portfolio equity marked at the latest prices. */
  equity(): number;
  /** This sleeve's share of equity (weight × equity). */
  sleeveEquity(): number;
  submit(order: Order): void;
  /** Cancel this sleeve's live orders in the asset. */
  cancelOrders(asset?: string): void;
};

/** One strategy in the portfolio: its weight, its assets and what it wants at each bar. */
export type Sleeve = {
  name: string;
  /** Share of portfolio equity this sleeve trades with (weights need not sum to 1; ≤ 1 each). */
  weight?: number;
  /** Target exposure (−1..1 of the sleeve's capital) per bar of each asset, decided at the bar's close. */
  targets?: Record<string, Float64Array>;
  /** Confidence of each decision (e.g. P(BUY)), for Kelly sizing and signal records. */
  confidence?: Record<string, Float64Array>;
  /** Which inputs drove the decision at a row, for signal records. */
  reasoning?: Record<string, (row: number) => string>;
  /** Low-level hook: submit market/limit/stop orders directly. */
  onBar?: (context: BarContext) => void;
};

export type EngineResult = {
  /** Event times (bar close times, epoch ms) and portfolio series at each. */
  time: Float64Array;
  equity: Float64Array;
  cash: Float64Array;
  /**
   * Σ units × price over all positions at each event time (equity − cash). A replay without a VaR limit
   * (`risk.maxVar`) computes this and the two VaR series on their first read, from the equity and cash
   * series, with the same bits as in the loop: a run nobody asks them of writes three per-bar arrays less.
   */
  positionValue: Float64Array;
  /** Gross exposure / equity. */
  grossExposure: Float64Array;
  /** Rolling historical VaR and CVaR (positive fractions), NaN until the window fills. */
  valueAtRisk: Float64Array;
  conditionalValueAtRisk: Float64Array;
  fills: Fill[];
  trades: EngineTrade[];
  signals: SignalRecord[];
  riskEvents: RiskEvent[];
  settings: BacktestSettings;
};

/**
 * Run the engine over known bars and targets: a replay loop over the engine kernel (backtest/kernel.ts),
 * the same kernel paper and live sessions step bar by bar. Settings from `parseBacktestSettings` (a
 * spec's plan, the CLI) are used as they are; raw settings from a direct call are validated here, once.
 * With `buffers` (an `EngineBuffers` reused across runs), the result's series are views into them, valid
 * until the next run with the same buffers.
 */
export function runEngine(
  assets: EngineAsset[],
  sleeves: Sleeve[],
  settingsInput: BacktestSettingsInput | BacktestSettings = {},
  options: { buffers?: EngineBuffers } = {},
): EngineResult {
  const kernel = createEngineKernel(assets, sleeves, settingsInput, { buffers: options.buffers });
  kernel.runAll();
  return kernel.result();
}

/** Bar length in ms: from the timeframe when known, else the smallest step between bars. */
export function barLength(candles: Candles): number {
  try {
    return timeframeMs(candles.meta.timeframe);
  } catch {
    return smallestSpacing(candles.time) ?? 86_400_000;
  }
}
