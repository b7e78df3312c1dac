import { type Candles, type FrameMeta, Frame, isoTime } from '../frame/frame';
import { ConfigError, DataError } from '../errors';
import type { CandleRow } from '../data/exchange/aggregate-trades';
import {
  parseBacktestSettings,
  commissionModel,
  slippageModel,
  type BacktestSettings,
  type BacktestSettingsInput,
  type ExitRules,
} from './settings';
import { RollingTail, portfolioVolatility, type RollingTailState } from './risk';
import { newLargeFloat64Array, newLargeFloat64Arrays } from '../util/huge-pages';
import { SeriesLedger } from './ledger';
import {
  barLength,
  type EngineAsset,
  type EngineResult,
  type EngineTrade,
  type ExitReason,
  type Fill,
  type FundingSeries,
  type Order,
  type OrderSide,
  type OrderType,
  type RiskEvent,
  type SignalRecord,
  type Sleeve,
  type BarContext,
} from './engine';

/**
 * The engine kernel: the broker/portfolio that backtests, paper sessions and live bots all step.
 *
 * State: one portfolio with explicit state: cash; a book per strategy (sleeve) and asset (units, the
 * held target, the open trade with its stop-loss / take-profit / trailing stop); the live orders; the
 * risk monitors' state (drawdown kill switch, VaR block, volatility pause, their rolling windows).
 * `snapshot()` returns all of it as plain JSON (`KernelState`; the bars are not in it) and `restore()`
 * continues from it exactly.
 *
 * Ports:
 *   - execution venue: orders fill on the simulated venue inside the kernel (the bar's open, range and
 *     close under the settings' cost models, latency, volume participation, lot / tick / min-notional
 *     rules). An exchange is not plugged in here: a live session (trading/paper-session.ts) reads the
 *     kernel's book after each step (`plannedPosition`: sizing, exits and monitors applied) and
 *     LiveTrader (trading/live-trader.ts) moves the exchange's position to it through ccxt;
 *   - clock: the bars' close times. The kernel never reads the wall clock (latency is counted on them).
 *
 * Driving it:
 *   - replay (`runEngine`): every bar and every target is known up front; `step()` until it says false;
 *   - stepping (paper and live trading, `{ stepping: true }`): `onBar(asset, bar, decisions)` appends one
 *     closed candle, records the strategies' decisions for it, and processes it (`appendBar` + `decide`
 *     + `step`); `finish()` ends the data.
 * Orders come from decisions (a target exposure, sized by the settings' sizing rule into market, limit
 * or stop entries and close orders) or from a strategy's onBar hook (`BarContext.submit`, an explicit
 * order). docs/backtest.md is the contract for what happens inside a step.
 */

export type KernelOptions = {
  /** Bars and decisions arrive one at a time (appendBar / decide / onBar) instead of up front. */
  stepping?: boolean;
  /**
   * Replay only: take the per-bar arrays (close times, the result's series) from these buffers instead of
   * fresh memory. The result's series are then views into the buffers, valid until the next run with them.
   */
  buffers?: EngineBuffers;
  /** false: every bar through the general step (the quiet-bar fast path off), for parity tests. */
  fastPath?: boolean;
};

/**
 * Reusable memory for replay runs. Writing into freshly allocated memory costs a page fault per 4 KB the
 * first time it is touched, which on a virtual machine costs far more than the engine's arithmetic (see
 * bench/backtest.mjs); a tuner or a sweep that runs the engine many times over the same bars can hand the
 * same buffers to every run. Contents are stale between runs: the kernel writes every value it reads.
 */
export class EngineBuffers {
  private readonly pool = new Map<string, Float64Array>();
  /** `length` values for `key`, reused across runs (grown when a run needs more). */
  take(key: string, length: number): Float64Array {
    let values = this.pool.get(key);
    if (!values || values.length < length) this.pool.set(key, (values = newLargeFloat64Array(length)));
    return values.length === length ? values : values.subarray(0, length);
  }
}

/** A strategy's decision at a bar's close (stepping engines). */
export type Decision = {
  /** Target exposure −1..1 of the strategy's capital. */
  target: number;
  /** Confidence (e.g. P(BUY)), for Kelly sizing and the signal record. */
  confidence?: number;
  /** Why, for the signal record. */
  reasoning?: string;
};

/**
 * The kernel's whole portfolio state as plain JSON. The bars are not in it, nor the output records
 * (fills, trades, signals, risk events): a session persists those as they come.
 */
export type KernelState = {
  version: 1;
  symbols: string[];
  sleeves: string[];
  /** Bars processed per asset. */
  cursor: number[];
  fundingCursor: number[];
  cash: number;
  lastPrice: number[];
  lastRow: number[];
  books: Book[][];
  orders: LiveOrder[];
  entriesPausedUntil: number;
  killed: boolean;
  varBlocked: boolean;
  previousEquity: number;
  peakEquity: number;
  tail: RollingTailState;
  events: number;
};

export type OpenTrade = { side: 'long' | 'short'; units: number; entryTime: number; entryPrice: number; stopLoss: number | null; takeProfit: number | null };
export type PendingOrder = { asset: string; sleeve: string; side: OrderSide; type: OrderType; price?: number; targetExposure?: number; closeAll: boolean };

export interface EngineKernel {
  readonly symbols: readonly string[];
  readonly settings: BacktestSettings;
  /** Process the next event (the bars closing next); false when no asset has an unprocessed bar. */
  step(): boolean;
  /**
   * Process every pending event: the same as `while (step())`; a one-asset, one-strategy replay runs its
   * stretches of quiet bars in one tight loop (runEngine uses it).
   */
  runAll(): void;
  /** Stepping: append one closed candle of an asset; returns its row. */
  appendBar(asset: string | number, bar: CandleRow): number;
  /** Stepping: a strategy's decision at the asset's newest bar (before it is stepped). */
  decide(sleeve: string, asset: string | number, decision: Decision): void;
  /** Stepping: append a bar, record decisions for it, process it. */
  onBar(asset: string | number, bar: CandleRow, decisions?: Array<Decision & { sleeve: string }>): void;
  /** End of data: open positions close at each asset's last close ('end'), live orders are dropped. */
  finish(): void;
  snapshot(): KernelState;
  /** Continue from a snapshot; the engine must hold at least the bars the snapshot had processed. */
  restore(state: KernelState): void;
  result(): EngineResult;
  /** The growing output records (a session persists the ones it has not yet written). */
  records(): { fills: readonly Fill[]; trades: readonly EngineTrade[]; signals: readonly SignalRecord[]; riskEvents: readonly RiskEvent[] };
  equity(): number;
  cash(): number;
  position(sleeve: string, asset: string | number): number;
  openTrade(sleeve: string, asset: string | number): OpenTrade | undefined;
  pendingOrders(): PendingOrder[];
  /**
   * The units the sleeve will hold in the asset once its pending orders fill, sized at the asset's latest
   * close: its position after this step's stop-loss / take-profit exits and risk monitors, moved by the
   * orders its decision left (sizing rule applied; a close-all order, e.g. the drawdown kill switch's,
   * means flat). Resting limit/stop orders a strategy submitted itself are not counted. What a live
   * session makes the exchange hold (the kernel's book, not the strategy's raw target).
   */
  plannedPosition(sleeve: string, asset: string | number): number;
  barsProcessed(asset: string | number): number;
  /** The asset's bars so far (a view, no copy; a stepping engine's grows with each appendBar). */
  candles(asset: string | number): Candles;
  /** Entry, stop-loss, take-profit and risk/reward of a target at the asset's latest processed close (the S6 fields). */
  quote(asset: string | number, target: number): { entry: number; stop_loss: number | null; take_profit: number | null; risk_reward: number | null };
}

/** One asset's bars and per-bar arrays (growable when stepping). */
type AssetSeries = {
  symbol: string;
  step: number;
  /** Bars held (arrays may be longer: capacity). */
  length: number;
  /** No bar will follow the last one (replay: always; stepping: after finish). */
  final: boolean;
  meta: FrameMeta;
  /** Bar open times; a bar closes at time + step (computed where read: no per-bar array to write). */
  time: Float64Array;
  open: Float64Array;
  high: Float64Array;
  low: Float64Array;
  close: Float64Array;
  volume: Float64Array;
  /** Bar returns (replay: computed on first use, for the monitors that read them). */
  returns: Float64Array | undefined;
  atr: Map<number, ExtendingAtr>;
  deviation: Map<number, ExtendingDeviation>;
  funding: FundingSeries | undefined;
  fundingCursor: number;
};

export type LiveOrder = Order & {
  sleeve: string;
  /** Row (of this order's asset) after which an unfilled order expires. */
  expiresAfterRow: number;
  /** Row of the bar whose close decided the order (for ATR, volatility and confidence lookups). */
  decisionRow: number;
  /** Size at fill time from the sizing rule: exposure −1..1 of the sleeve's capital. */
  targetExposure?: number;
  /** Close whatever the sleeve holds in the asset at fill time. */
  closeAll?: boolean;
  /** Non-exclusive target change: trade the difference between the new target and the holding. */
  adjust?: boolean;
  /** With latency: when the order reaches the venue (it fills in the bar containing this time, or later). */
  notBefore?: number;
};

export type Book = {
  units: number;
  heldTarget: number;
  // the open trade
  long: boolean;
  entryTime: number;
  entryRow: number;
  entryCost: number; // Σ entry value + entry commissions: the capital committed
  entryUnits: number;
  entryValue: number; // Σ units × entry price
  exitUnits: number;
  exitValue: number;
  maxUnits: number;
  fees: number;
  funding: number;
  slippageCost: number;
  realized: number; // price P&L of the closed parts, before fees
  stopLoss: number | null;
  takeProfit: number | null;
  trailingPct: number | null;
  extreme: number; // high-water mark (long) or low-water mark (short) since entry
};

/** A flat book: no position, no open trade (the held target is the sleeve's, kept across trades). */
const FLAT_BOOK: Readonly<Book> = {
  units: 0, heldTarget: 0, long: true, entryTime: 0, entryRow: 0, entryCost: 0, entryUnits: 0, entryValue: 0, exitUnits: 0, exitValue: 0,
  maxUnits: 0, fees: 0, funding: 0, slippageCost: 0, realized: 0, stopLoss: null, takeProfit: null, trailingPct: null, extreme: 0,
};

const newBook = (heldTarget = 0): Book => ({ ...FLAT_BOOK, heldTarget });

/**
 * A finished trade's book back to flat, in place (keeping its held target): a new object per trade would
 * allocate a box for each of its number fields (V8 keeps double fields boxed), and a high-turnover run
 * makes hundreds of thousands.
 */
function resetBook(book: Book): void {
  const heldTarget = book.heldTarget;
  Object.assign(book, FLAT_BOOK);
  book.heldTarget = heldTarget;
}

/** Positions below this many units are treated as closed (float dust from partial fills). */
const DUST = 1e-12;

/**
 * Run the engine. Settings from `parseBacktestSettings` (a spec's plan, the CLI) are used as they are;
 * raw settings from a direct call are validated here, once.
 */

export function createEngineKernel(
  assets: EngineAsset[],
  sleeves: Sleeve[],
  settingsInput: BacktestSettingsInput | BacktestSettings = {},
  options: KernelOptions = {},
): EngineKernel {
  const settings = parseBacktestSettings(settingsInput);
  const stepping = options.stepping ?? false;
  const buffers = stepping ? undefined : options.buffers;
  const fastPath = (options.fastPath ?? true) && assets.length === 1;
  /**
   * Per-bar arrays: fresh (zeroed) memory, faulted in on a spare core while the run goes on (prefault),
   * or reused buffers when the caller gave some.
   */
  const perBar = (keys: string[], length: number): Float64Array[] => (buffers ? keys.map((key) => buffers.take(key, length)) : newLargeFloat64Arrays(keys.length, length));
  if (assets.length === 0) throw new ConfigError('the backtest needs at least one asset');
  if (sleeves.length === 0) throw new ConfigError('the backtest needs at least one strategy');
  const symbols = assets.map((a) => a.symbol);
  if (new Set(symbols).size !== symbols.length) throw new ConfigError(`asset symbols must be unique, got ${symbols.join(', ')}`);
  if (new Set(sleeves.map((s) => s.name)).size !== sleeves.length) throw new ConfigError('strategy names in one portfolio must be unique');
  const assetIndex = new Map(symbols.map((s, i) => [s, i]));
  const sleeveIndex = new Map(sleeves.map((s, i) => [s.name, i]));
  for (const sleeve of sleeves) {
    const weight = sleeve.weight ?? 1;
    if (!(weight > 0 && weight <= 1)) throw new ConfigError(`strategy '${sleeve.name}' weight must be in (0, 1], got ${weight}`);
    for (const [symbol, targets] of Object.entries(sleeve.targets ?? {})) {
      const index = assetIndex.get(symbol);
      if (index === undefined) throw new ConfigError(`strategy '${sleeve.name}' has targets for '${symbol}', which is not among the assets: ${symbols.join(', ')}`);
      const n = assets[index].candles.length;
      if (stepping) throw new ConfigError(`strategy '${sleeve.name}': a stepping engine takes decisions bar by bar (decide), not target arrays`);
      if (targets.length !== n) throw new ConfigError(`strategy '${sleeve.name}' returned ${targets.length} targets for ${n} bars of ${symbol}`);
      for (let i = 0; i < n; i++) {
        if (!(targets[i] >= -1 && targets[i] <= 1)) throw new ConfigError(`strategy '${sleeve.name}': target ${targets[i]} at bar ${i} of ${symbol} is outside −1..1`);
      }
    }
  }
  const weights = sleeves.map((s) => s.weight ?? 1);
  // targets[s][a]: the sleeve's target array for the asset (or undefined), looked up once. A stepping
  // engine owns growable arrays instead, written by `decide` (a bar without a decision keeps the target).
  const targetArrays: Array<Array<Float64Array | undefined>> = sleeves.map((sleeve) =>
    symbols.map((symbol, a) => (stepping ? new Float64Array(Math.max(16, assets[a].candles.length)) : sleeve.targets?.[symbol])),
  );
  const confidenceArrays: Array<Array<Float64Array | undefined>> = sleeves.map((sleeve) =>
    symbols.map((symbol, a) => (stepping ? new Float64Array(Math.max(16, assets[a].candles.length)).fill(NaN) : sleeve.confidence?.[symbol])),
  );
  const steppedReasons: Array<Array<Map<number, string>>> = sleeves.map(() => symbols.map(() => new Map<number, string>()));
  const reasoningOf = (s: number, a: number, row: number): string | undefined =>
    stepping ? steppedReasons[s][a].get(row) : sleeves[s].reasoning?.[symbols[a]]?.(row);
  const hasPositions = (a: number): boolean => {
    for (let s = 0; s < sleeves.length; s++) if (books[s][a].units !== 0) return true;
    return false;
  };
  const commission = commissionModel(settings);
  const slippage = slippageModel(settings);
  // the tighter of the volume-slippage cap and the venue's participation cap
  const participation =
    slippage.kind === 'volume' ? Math.min(slippage.maxParticipation, settings.maxParticipation ?? Infinity) : settings.maxParticipation;
  /** An order's arrival at the venue: with latency, not before its decision close + latency (and it lives that much longer). */
  const arrival = (a: number, row: number): { notBefore?: number; extraBars: number } =>
    settings.latencyMs > 0 ? { notBefore: data[a].time[row] + data[a].step + settings.latencyMs, extraBars: Math.ceil(settings.latencyMs / data[a].step) } : { extraBars: 0 };
  const lotDecimals = decimalsOf(settings.lotSize);
  /** A limit or stop price on the venue's tick: never better for the trader than asked. */
  const onTick = (price: number, up: boolean): number => {
    const tick = settings.tickSize;
    if (tick === undefined) return price;
    const steps = price / tick;
    return Number(((up ? Math.ceil(steps - 1e-9) : Math.floor(steps + 1e-9)) * tick).toFixed(tickDecimals));
  };
  const tickDecimals = settings.tickSize === undefined ? 0 : decimalsOf(settings.tickSize);

  // Per-asset arrays, computed once: close times; returns, ATRs and deviations on demand.
  const data = assets.map((asset, a) => {
    const c = asset.candles;
    for (const name of ['open', 'high', 'low', 'close', 'volume'] as const) {
      if (!c.has(name)) throw new DataError(`asset ${asset.symbol} has no '${name}' column`);
    }
    if (!stepping && c.length < 2) throw new DataError(`asset ${asset.symbol} has ${c.length} bar(s); a backtest needs at least 2`);
    const step = barLength(c);
    const close = c.column('close');
    const returns = stepping ? barReturns(close, c.length) : undefined;
    const series: AssetSeries = {
      symbol: asset.symbol, step, length: c.length, final: !stepping, meta: c.meta, time: c.time, open: c.column('open'), high: c.column('high'),
      low: c.column('low'), close, volume: c.column('volume'), returns, atr: new Map(), deviation: new Map(), funding: asset.funding, fundingCursor: 0,
    };
    return series;
  });
  /** An asset's bar returns (replay computes them on first use: only some risk monitors read them). */
  const returnsOf = (a: number): Float64Array => {
    const d = data[a];
    return d.returns ?? (d.returns = barReturns(d.close, d.length));
  };
  const periodsPerYear = settings.periodsPerYear ?? (365 * 86_400_000) / Math.min(...data.map((d) => d.step));
  // Both indicators are causal: values over the bars seen so far never change as bars are appended, so
  // a stepping engine extends them bar by bar (replay computes them in one pass on first use).
  const atrOf = (a: number, period: number): Float64Array => {
    const d = data[a];
    let indicator = d.atr.get(period);
    if (!indicator) d.atr.set(period, (indicator = new ExtendingAtr(period)));
    return indicator.upTo(d);
  };
  const deviationOf = (a: number, window: number): Float64Array => {
    const d = data[a];
    let indicator = d.deviation.get(window);
    if (!indicator) d.deviation.set(window, (indicator = new ExtendingDeviation(window)));
    return indicator.upTo(d, returnsOf(a));
  };

  // ——— state ———
  let cash = settings.initialCash;
  const lastPrice = data.map((d) => (d.length > 0 ? d.open[0] : NaN));
  const lastRow = data.map(() => -1);
  const books = sleeves.map(() => data.map(() => newBook()));
  let orders: LiveOrder[] = [];
  const fills: Fill[] = [];
  const trades: EngineTrade[] = [];
  const signals: SignalRecord[] = [];
  // A replay keeps its decisions as numbers until its signal records are read (flushSignals): a record
  // object and its time string per decision, kept alive through the run, cost more than the decision itself
  // (the bench's 10M bars make 80,586). Every input of a record is fixed in a replay, so it is the same
  // record later. A stepping engine's sessions persist records as they come: it writes them at once.
  const pendingSignals = stepping ? undefined : { sleeve: [] as number[], asset: [] as number[], row: [] as number[], time: [] as number[], target: [] as number[] };
  const riskEvents: RiskEvent[] = [];
  let entriesPausedUntil = -Infinity; // volatility breaker
  let killed = false; // drawdown kill switch
  let varBlocked = false;

  const equityNow = (): number => {
    let value = cash;
    for (let s = 0; s < books.length; s++) for (let a = 0, sleeveBooks = books[s]; a < data.length; a++) value += sleeveBooks[a].units * lastPrice[a];
    return value;
  };
  // equity and gross exposure in one pass, for the per-bar bookkeeping
  // Doubles the per-bar path writes live in one object's fields (updated in place): a double in a closure
  // variable or passed to a call that is not inlined is boxed, one heap allocation per write.
  const marks = { equity: 0.5, gross: 0.5, previousEquity: 0.5, peakEquity: 0.5, time: 0.5 };
  const markToMarket = (): number => {
    markAll();
    return marks.equity;
  };
  /** Equity and gross exposure into `marks` (no boxed return value on the per-bar path). */
  const markAll = (): void => {
    let value = cash;
    let gross = 0;
    for (let s = 0; s < books.length; s++) {
      const sleeveBooks = books[s];
      for (let a = 0; a < data.length; a++) {
        const positionValue = sleeveBooks[a].units * lastPrice[a];
        value += positionValue;
        gross += Math.abs(positionValue);
      }
    }
    marks.gross = gross;
    marks.equity = value;
  };
  const grossNow = (): number => {
    let gross = 0;
    for (let s = 0; s < books.length; s++) for (let a = 0, sleeveBooks = books[s]; a < data.length; a++) gross += Math.abs(sleeveBooks[a].units * lastPrice[a]);
    return gross;
  };
  const assetNet = (a: number): number => books.reduce((sum, b) => sum + b[a].units, 0);
  const logRisk = (time: number, monitor: RiskEvent['monitor'], action: string, detail: string): void => {
    riskEvents.push({ time: isoTime(time), monitor, action, detail });
  };
  const entriesBlocked = (time: number): boolean => killed || varBlocked || time < entriesPausedUntil;
  const commissionRate = (type: OrderType): number =>
    commission.kind === 'bps' ? (type === 'limit' ? commission.makerBps ?? commission.takerBps : commission.takerBps) / 10_000 : 0;
  const commissionOf = (type: OrderType, notional: number): number =>
    commission.kind === 'bps' ? notional * commissionRate(type) : notional > 0 ? commission.perFill : 0;
  const stopDistances = (a: number, row: number, price: number, rules: ExitRules): { stop?: number; take?: number } => {
    const usesAtr = (rules.stopLossPct === undefined && rules.stopLossAtr !== undefined) || (rules.takeProfitPct === undefined && rules.takeProfitAtr !== undefined);
    const atr = usesAtr ? atrOf(a, rules.atrPeriod)[Math.max(0, row)] : NaN;
    const fromAtr = (multiple: number | undefined): number | undefined => (multiple !== undefined && Number.isFinite(atr) ? multiple * atr : undefined);
    return {
      stop: rules.stopLossPct !== undefined ? price * rules.stopLossPct : fromAtr(rules.stopLossAtr),
      take: rules.takeProfitPct !== undefined ? price * rules.takeProfitPct : fromAtr(rules.takeProfitAtr),
    };
  };

  /** Slippage as a fraction of price for a fill of `quantity` in asset `a` at `row`, decided at `decisionRow`. */
  const slippageFraction = (a: number, row: number, decisionRow: number, quantity: number): number => {
    switch (slippage.kind) {
      case 'fixed':
        return slippage.bps / 10_000;
      case 'volatility': {
        const deviation = deviationOf(a, slippage.window)[Math.max(0, decisionRow)];
        return Number.isFinite(deviation) ? slippage.multiplier * deviation : 0;
      }
      case 'volume': {
        const volume = data[a].volume[Math.max(0, row - 1)];
        return volume > 0 ? (slippage.impactBps / 10_000) * Math.sqrt(quantity / volume) : slippage.impactBps / 10_000;
      }
    }
  };

  /** Record a finished trade and reset the book in place (keeping the sleeve's held target). */
  const closeTrade = (s: number, a: number, time: number, row: number, reason: ExitReason): void => {
    const book = books[s][a];
    const pnl = book.realized - book.fees + book.funding;
    trades.push({
      sleeve: sleeves[s].name, asset: data[a].symbol, side: book.long ? 'long' : 'short',
      entryTime: book.entryTime, entryPrice: book.entryValue / book.entryUnits,
      exitTime: time, exitPrice: book.exitValue / book.exitUnits,
      units: book.maxUnits, pnl, returnPct: book.entryCost > 0 ? pnl / book.entryCost : 0, bars: row - book.entryRow,
      fees: book.fees, funding: book.funding, slippageCost: book.slippageCost, exitReason: reason,
    });
    resetBook(book);
  };

  /** Apply one fill to a sleeve's book and the cash account: opens, adds to, reduces, closes or flips a trade. */
  const applyFill = (
    s: number, a: number, row: number, time: number, side: OrderSide, type: Fill['type'], orderType: OrderType,
    quantity: number, basePrice: number, decisionRow: number, exits: Partial<ExitRules> | undefined, reason: ExitReason,
  ): void => {
    if (!(quantity > DUST)) return;
    const direction = side === 'buy' ? 1 : -1;
    const price = basePrice * (1 + direction * slippageFraction(a, row, decisionRow, quantity));
    const notional = quantity * price;
    const fee = commissionOf(orderType, notional);
    const slippageCost = quantity * Math.abs(price - basePrice);
    cash -= direction * notional + fee;
    fills.push({ time, asset: data[a].symbol, sleeve: sleeves[s].name, side, type, quantity, basePrice, price, slippageCost, commission: fee });

    let remaining = quantity;
    let book = books[s][a];
    if (book.units !== 0 && Math.sign(book.units) !== direction) {
      // reduce or close (a flip closes first, then opens with the rest)
      const closing = Math.min(remaining, Math.abs(book.units));
      const share = closing / quantity;
      book.realized += Math.sign(book.units) * closing * (price - book.entryValue / book.entryUnits);
      book.exitUnits += closing;
      book.exitValue += closing * price;
      book.fees += fee * share;
      book.slippageCost += slippageCost * share;
      book.units += direction * closing;
      remaining -= closing;
      if (Math.abs(book.units) <= DUST) {
        book.units = 0;
        closeTrade(s, a, time, row, reason);
        book = books[s][a];
      }
    }
    if (remaining > DUST) {
      const share = remaining / quantity;
      if (book.units === 0) {
        const rules = { ...settings.exits, ...exits };
        const { stop, take } = stopDistances(a, decisionRow, price, rules);
        book.long = direction > 0;
        book.entryTime = time;
        book.entryRow = row;
        book.stopLoss = stop !== undefined ? price - direction * stop : null;
        book.takeProfit = take !== undefined ? price + direction * take : null;
        book.trailingPct = rules.trailingStopPct ?? null;
        book.extreme = price;
      }
      book.units += direction * remaining;
      book.entryUnits += remaining;
      book.entryValue += remaining * price;
      book.entryCost += remaining * price + fee * share;
      book.fees += fee * share;
      book.slippageCost += slippageCost * share;
      book.maxUnits = Math.max(book.maxUnits, Math.abs(book.units));
    }
  };

  /** Close a sleeve's whole position in asset `a` at `basePrice` now (stops, end of data). */
  const exitNow = (s: number, a: number, row: number, time: number, basePrice: number, type: Fill['type'], reason: ExitReason): void => {
    const units = books[s][a].units;
    if (units !== 0) applyFill(s, a, row, time, units > 0 ? 'sell' : 'buy', type, 'market', Math.abs(units), basePrice, row, undefined, reason);
  };

  /** Stops and targets of positions held before this bar (or, with takeProfit false, just entered inside it). */
  const checkExits = (a: number, row: number, time: number, takeProfit = true, onlySleeve?: number): void => {
    const d = data[a];
    for (let s = 0; s < sleeves.length; s++) {
      if (onlySleeve !== undefined && s !== onlySleeve) continue;
      const book = books[s][a];
      if (book.units === 0 || (book.stopLoss === null && book.takeProfit === null && book.trailingPct === null)) continue;
      const long = book.units > 0;
      const trailing = book.trailingPct !== null ? book.extreme * (long ? 1 - book.trailingPct : 1 + book.trailingPct) : null;
      // the binding stop: the tighter of the fixed stop and the trailing stop
      let stop = book.stopLoss;
      let stopType: 'stop-loss' | 'trailing-stop' = 'stop-loss';
      if (trailing !== null && (stop === null || (long ? trailing > stop : trailing < stop))) {
        stop = trailing;
        stopType = 'trailing-stop';
      }
      const take = takeProfit ? book.takeProfit : null;
      const open = d.open[row];
      if (stop !== null && (long ? open <= stop : open >= stop)) exitNow(s, a, row, time, open, stopType, stopType);
      else if (take !== null && (long ? open >= take : open <= take)) exitNow(s, a, row, time, open, 'take-profit', 'take-profit');
      // both touched in one bar: the path inside the bar is unknown, so the loss is assumed to come first
      else if (stop !== null && (long ? d.low[row] <= stop : d.high[row] >= stop)) exitNow(s, a, row, time, stop, stopType, stopType);
      else if (take !== null && (long ? d.high[row] >= take : d.low[row] <= take)) exitNow(s, a, row, time, take, 'take-profit', 'take-profit');
    }
  };

  const updateExtremes = (a: number, row: number): void => {
    for (let s = 0; s < sleeves.length; s++) {
      const book = books[s][a];
      if (book.units > 0) book.extreme = Math.max(book.extreme, data[a].high[row]);
      else if (book.units < 0) book.extreme = Math.min(book.extreme, data[a].low[row]);
    }
  };

  const addsExposure = (s: number, a: number, side: OrderSide): boolean => {
    const units = books[s][a].units;
    return units === 0 || units > 0 === (side === 'buy');
  };

  /**
   * Units for a target-sized order from the sizing rule and the per-trade risk limit, at the price the
   * fill will actually pay: the base price moved by slippage (for volume slippage, the slippage of a
   * first estimate of the size).
   */
  const sizedUnits = (s: number, a: number, order: LiveOrder, basePrice: number): number => {
    lastPrice[a] = basePrice;
    const direction = order.targetExposure! > 0 ? 1 : -1;
    const estimate = unitsAt(s, a, order, basePrice);
    return unitsAt(s, a, order, basePrice * (1 + direction * slippageFraction(a, lastRow[a], order.decisionRow, estimate)));
  };

  const unitsAt = (s: number, a: number, order: LiveOrder, price: number): number => {
    const capital = weights[s] * Math.max(0, equityNow());
    const exposure = Math.abs(order.targetExposure!);
    const sizing = settings.sizing;
    let units: number;
    switch (sizing.kind) {
      case 'equity-fraction':
        // sized so that position value + its commission = the committed capital
        units = (capital * sizing.fraction * exposure) / (price * (1 + commissionRate(order.type)));
        break;
      case 'fixed-units':
        units = sizing.units * exposure;
        break;
      case 'volatility-target': {
        const atr = atrOf(a, sizing.atrPeriod)[order.decisionRow];
        units = Number.isFinite(atr) && atr > 0 ? (capital * sizing.riskFraction * exposure) / (sizing.atrMultiple * atr) : 0;
        break;
      }
      case 'kelly': {
        const p = confidenceArrays[s][a]?.[order.decisionRow];
        const rules = { ...settings.exits, ...order.exits };
        const payoff = sizing.payoff ?? (rules.takeProfitPct && rules.stopLossPct ? rules.takeProfitPct / rules.stopLossPct : 1);
        const kelly = p === undefined || !Number.isFinite(p) ? 0 : p - (1 - p) / payoff;
        units = (capital * Math.min(sizing.cap, Math.max(0, kelly * sizing.multiplier)) * exposure) / price;
        break;
      }
    }
    if (settings.maxRiskPerTrade !== undefined) {
      const { stop } = stopDistances(a, order.decisionRow, price, { ...settings.exits, ...order.exits });
      if (stop === undefined) throw new ConfigError('maxRiskPerTrade needs a stop-loss: set exits.stopLossPct or exits.stopLossAtr');
      units = Math.min(units, (capital * settings.maxRiskPerTrade) / stop);
    }
    return units;
  };

  /** Leverage, exposure and portfolio-volatility caps on an order that adds exposure. */
  const applyCaps = (a: number, side: OrderSide, quantity: number, price: number, time: number): number => {
    const equity = Math.max(0, equityNow());
    const gross = grossNow();
    const symbol = data[a].symbol;
    const cap = (limit: number, current: number, monitor: RiskEvent['monitor'], label: string): void => {
      const room = Math.max(0, limit - current);
      if (quantity * price > room * (1 + 1e-12) + 1e-9) {
        logRisk(time, monitor, 'reduce order', `${symbol}: ${label} limit ${limit.toFixed(2)}; order cut from ${quantity.toPrecision(6)} to ${(room / price).toPrecision(6)} units`);
        quantity = room / price;
      }
    };
    cap(settings.leverage * equity, gross, 'leverage-cap', `gross exposure (leverage ${settings.leverage})`);
    if (settings.risk.maxTotalExposure !== undefined) cap(settings.risk.maxTotalExposure * equity, gross, 'exposure-limit', 'total exposure');
    if (settings.risk.maxAssetExposure !== undefined) cap(settings.risk.maxAssetExposure * equity, Math.abs(assetNet(a) * price), 'exposure-limit', 'asset exposure');
    if (settings.risk.maxPortfolioVolatility !== undefined && data.length > 1 && quantity > 0 && equity > 0) {
      const limit = settings.risk.maxPortfolioVolatility;
      const window = settings.risk.correlationWindow;
      const returns = data.map((_, i) => returnsOf(i).subarray(Math.max(1, lastRow[i] - window + 1), Math.max(1, lastRow[i] + 1)));
      const weightsWith = (scale: number): number[] =>
        data.map((_, i) => (assetNet(i) * lastPrice[i] + (i === a ? (side === 'buy' ? 1 : -1) * quantity * scale * price : 0)) / equity);
      const full = portfolioVolatility(weightsWith(1), returns, periodsPerYear);
      if (full > limit) {
        let low = 0;
        let high = 1;
        for (let k = 0; k < 40; k++) {
          const mid = (low + high) / 2;
          if (portfolioVolatility(weightsWith(mid), returns, periodsPerYear) > limit) high = mid;
          else low = mid;
        }
        logRisk(time, 'portfolio-risk', 'reduce order', `${symbol}: portfolio volatility would be ${(100 * full).toFixed(1)}% > cap ${(100 * limit).toFixed(1)}%; order scaled by ${low.toFixed(3)}`);
        quantity *= low;
      }
    }
    return quantity;
  };

  /** An order's quantity at fill time. */
  const resolveQuantity = (s: number, a: number, order: LiveOrder, price: number, time: number): number => {
    const held = books[s][a].units;
    if (order.closeAll) return Math.abs(held);
    let quantity = order.quantity;
    if (order.targetExposure !== undefined) {
      const desired = sizedUnits(s, a, order, price);
      if (order.adjust) {
        const delta = Math.sign(order.targetExposure) * desired - held;
        order.side = delta >= 0 ? 'buy' : 'sell';
        quantity = Math.abs(delta);
      } else quantity = desired;
    }
    if (addsExposure(s, a, order.side)) quantity = applyCaps(a, order.side, quantity, price, time);
    if (participation !== undefined) {
      const limit = participation * data[a].volume[Math.max(0, lastRow[a] - 1)];
      if (quantity > limit) {
        logRisk(time, 'participation', 'reduce order', `${data[a].symbol}: ${quantity.toPrecision(6)} units > ${participation} × the previous bar's volume; filled ${limit.toPrecision(6)}`);
        quantity = limit;
      }
    }
    // whole lots, printed as the exchange would (0.00001 × 355007 is 3.5500700000000003 in binary)
    if (settings.units === 'whole') quantity = Number((Math.floor(quantity / settings.lotSize + 1e-9) * settings.lotSize).toFixed(lotDecimals));
    if (settings.minNotional !== undefined && quantity > DUST && quantity * price < settings.minNotional) {
      logRisk(time, 'exchange-filter', 'skip order', `${data[a].symbol}: ${order.side} ${quantity.toPrecision(6)} units × ${price} = ${(quantity * price).toPrecision(6)} is below the minimum order value ${settings.minNotional}`);
      return 0;
    }
    return quantity;
  };

  /** Fill live orders of asset `a` against bar `row`: at its open/range, or (atClose) market orders at its close. */
  const fillOrders = (a: number, row: number, time: number, atClose: boolean): void => {
    if (orders.length === 0) return;
    const d = data[a];
    const live = orders;
    orders = [];
    const keep: LiveOrder[] = [];
    for (const order of live) {
      // with latency an order cannot fill before it arrives (nor at the close that decided it)
      if (order.asset !== d.symbol || (atClose && order.type !== 'market') || (order.notBefore !== undefined && (atClose || d.time[row] + d.step <= order.notBefore))) {
        keep.push(order);
        continue;
      }
      let base: number | undefined;
      if (order.type === 'market') base = atClose ? d.close[row] : d.open[row];
      else {
        const level = order.price!;
        const buy = order.side === 'buy';
        // a limit fills at its price or better, a stop at its trigger or worse (at the open after a gap)
        if (order.type === 'limit') base = buy ? (d.open[row] <= level ? d.open[row] : d.low[row] <= level ? level : undefined) : d.open[row] >= level ? d.open[row] : d.high[row] >= level ? level : undefined;
        else base = buy ? (d.open[row] >= level ? d.open[row] : d.high[row] >= level ? level : undefined) : d.open[row] <= level ? d.open[row] : d.low[row] <= level ? level : undefined;
      }
      if (base === undefined) {
        if (row < order.expiresAfterRow) keep.push(order);
        continue;
      }
      const s = sleeveIndex.get(order.sleeve)!;
      if (order.targetExposure !== undefined && entriesBlocked(time) && addsExposure(s, a, order.side)) continue;
      const before = books[s][a].units;
      const quantity = resolveQuantity(s, a, order, base, time);
      const reason: ExitReason = order.reason === 'kill-switch' ? 'kill-switch' : order.targetExposure === undefined && !order.closeAll ? 'order' : 'signal';
      applyFill(s, a, row, time, order.side, order.reason === 'kill-switch' ? 'kill-switch' : order.type, order.type, quantity, base, order.decisionRow, order.exits, reason);
      // A position opened at the open lives through the whole bar: check its stops on this bar too. One
      // opened inside the bar by a limit/stop order: only its stop-loss (the path after the fill is unknown).
      if (!atClose && before === 0 && books[s][a].units !== 0) checkExits(a, row, time, order.type === 'market', s);
    }
    // orders placed while filling (none today) go after the ones kept
    if (orders.length) keep.push(...orders);
    orders = keep;
  };

  /** A sleeve's new target becomes orders (a close order first when exclusive or flipping). */
  const submitTarget = (s: number, a: number, row: number, target: number): void => {
    const book = books[s][a];
    const symbol = data[a].symbol;
    const sleeve = sleeves[s].name;
    // the sleeve's earlier target orders for the asset are replaced (in place: one of these per decision)
    if (orders.length > 0) {
      let kept = 0;
      for (const o of orders) if (!(o.sleeve === sleeve && o.asset === symbol && (o.targetExposure !== undefined || o.closeAll))) orders[kept++] = o;
      orders.length = kept;
    }
    const flip = book.heldTarget !== 0 && (target === 0 || Math.sign(target) !== Math.sign(book.heldTarget));
    if (settings.exclusive || flip) {
      if (book.units !== 0 || book.heldTarget !== 0) {
        const side: OrderSide = book.units > 0 || book.heldTarget > 0 ? 'sell' : 'buy';
        const { notBefore, extraBars } = arrival(a, row);
        orders.push({ asset: symbol, sleeve, decisionRow: row, quantity: 0, side, type: 'market', expiresAfterRow: row + 1 + extraBars, closeAll: true, notBefore });
      }
      if (target !== 0) orders.push(entryOrder(symbol, sleeve, a, row, target, false));
    } else if (target !== 0) {
      // from flat: a normal entry (market, limit or stop per settings.entry); resizing: a market order for the difference
      orders.push(entryOrder(symbol, sleeve, a, row, target, book.heldTarget !== 0));
    }
    book.heldTarget = target;
  };

  const entryOrder = (asset: string, sleeve: string, a: number, row: number, target: number, adjust: boolean): LiveOrder => {
    const reference = data[a].close[row];
    const side: OrderSide = target > 0 ? 'buy' : 'sell';
    const offset = settings.entry.offsetBps / 10_000;
    const type = adjust ? 'market' : settings.entry.type;
    // limits round away from the market (buy down, sell up), stops toward it: the order is never more aggressive than asked
    const price =
      type === 'market' ? undefined : type === 'limit' ? onTick(reference * (side === 'buy' ? 1 - offset : 1 + offset), side === 'sell') : onTick(reference * (side === 'buy' ? 1 + offset : 1 - offset), side === 'buy');
    const { notBefore, extraBars } = arrival(a, row);
    const expiresAfterRow = row + extraBars + (type === 'market' ? 1 : settings.entry.validBars);
    return { asset, sleeve, decisionRow: row, quantity: 0, side, type, price, expiresAfterRow, targetExposure: target, adjust, notBefore };
  };

  // the default reasoning text, one string per sleeve and target value (records of a long run share them)
  const reasoningTexts = sleeves.map(() => new Map<number, string>());
  const defaultReasoning = (s: number, target: number): string => {
    let text = reasoningTexts[s].get(target);
    if (text === undefined) reasoningTexts[s].set(target, (text = `target ${target} from ${sleeves[s].name}`));
    return text;
  };

  const recordSignal = (s: number, a: number, row: number, time: number, target: number): void => {
    if (pendingSignals) {
      pendingSignals.sleeve.push(s);
      pendingSignals.asset.push(a);
      pendingSignals.row.push(row);
      pendingSignals.time.push(time);
      pendingSignals.target.push(target);
    } else writeSignal(s, a, row, time, target);
  };
  /** A replay's pending decisions into signal records, in order. */
  const flushSignals = (): void => {
    if (!pendingSignals || pendingSignals.row.length === 0) return;
    const { sleeve, asset, row, time, target } = pendingSignals;
    for (let i = 0; i < row.length; i++) writeSignal(sleeve[i], asset[i], row[i], time[i], target[i]);
    for (const values of [sleeve, asset, row, time, target]) values.length = 0;
  };
  const writeSignal = (s: number, a: number, row: number, time: number, target: number): void => {
    const d = data[a];
    const entry = d.close[row];
    const direction = Math.sign(target);
    const { stop, take } = stopDistances(a, row, entry, settings.exits);
    const confidence = confidenceArrays[s][a]?.[row];
    signals.push({
      time: isoTime(time),
      asset: d.symbol,
      sleeve: sleeves[s].name,
      signal: direction > 0 ? 'LONG' : direction < 0 ? 'SHORT' : 'FLAT',
      confidence: confidence !== undefined && Number.isFinite(confidence) ? confidence : null,
      entry,
      stop_loss: direction !== 0 && stop !== undefined ? entry - direction * stop : null,
      take_profit: direction !== 0 && take !== undefined ? entry + direction * take : null,
      risk_reward: direction !== 0 && stop !== undefined && take !== undefined ? take / stop : null,
      reasoning: reasoningOf(s, a, row) ?? defaultReasoning(s, target),
    });
  };

  /** At a bar's close: the sleeve's target (and its onBar hook) for this asset. */
  const decide = (s: number, a: number, row: number, time: number): void => {
    const sleeve = sleeves[s];
    const symbol = data[a].symbol;
    const book = books[s][a];
    const targets = targetArrays[s][a];
    if (targets && !killed) {
      let target = targets[row];
      if (target < 0 && !settings.allowShort) {
        if (target !== book.heldTarget && book.heldTarget >= 0) logRisk(time, 'short-disabled', 'treat as flat', `${symbol}: target ${target} ignored because allowShort is false`);
        target = 0;
      }
      if (target !== book.heldTarget) {
        const adds = Math.abs(target) > 0 && (Math.sign(target) !== Math.sign(book.heldTarget) || Math.abs(target) > Math.abs(book.heldTarget));
        if (adds && entriesBlocked(time)) {
          // entries are paused: getting out is still allowed
          if (book.heldTarget !== 0 && Math.sign(target) !== Math.sign(book.heldTarget)) {
            recordSignal(s, a, row, time, 0);
            submitTarget(s, a, row, 0);
          }
        } else {
          recordSignal(s, a, row, time, target);
          submitTarget(s, a, row, target);
        }
      }
    }
    if (sleeve.onBar && !killed) sleeve.onBar(barContext(s, a, row, time));
  };

  const barContext = (s: number, a: number, row: number, time: number): BarContext => ({
    time,
    asset: data[a].symbol,
    row,
    get candles() {
      return candlesOf(a);
    },
    position: (symbol = data[a].symbol) => books[s][assetIndex.get(symbol) ?? a].units,
    equity: equityNow,
    sleeveEquity: () => weights[s] * equityNow(),
    submit: (order: Order) => {
      const target = assetIndex.get(order.asset);
      if (target === undefined) throw new ConfigError(`order for unknown asset '${order.asset}'; assets: ${symbols.join(', ')}`);
      if (!(order.quantity > 0)) throw new ConfigError(`order quantity must be positive, got ${order.quantity}`);
      if (order.type !== 'market' && !(order.price! > 0)) throw new ConfigError(`a ${order.type} order needs a positive price`);
      const validBars = order.validBars ?? (order.type === 'market' ? 1 : Number.MAX_SAFE_INTEGER);
      const { notBefore, extraBars } = arrival(target, Math.max(0, lastRow[target]));
      const price = order.type === 'market' ? order.price : onTick(order.price!, (order.type === 'limit') === (order.side === 'sell'));
      orders.push({ ...order, price, sleeve: sleeves[s].name, decisionRow: row, expiresAfterRow: Math.min(Number.MAX_SAFE_INTEGER, lastRow[target] + validBars + extraBars), notBefore });
    },
    cancelOrders: (symbol = data[a].symbol) => {
      orders = orders.filter((o) => !(o.sleeve === sleeves[s].name && o.asset === symbol));
    },
  });

  const applyFunding = (a: number, row: number): void => {
    const d = data[a];
    const funding = d.funding!;
    while (d.fundingCursor < funding.time.length && funding.time[d.fundingCursor] <= d.time[row]) d.fundingCursor++;
    while (d.fundingCursor < funding.time.length && funding.time[d.fundingCursor] <= d.time[row] + d.step) {
      const rate = funding.rate[d.fundingCursor++];
      for (let s = 0; s < sleeves.length; s++) {
        const book = books[s][a];
        if (book.units === 0) continue;
        // longs pay positive funding and shorts receive it, on the position's value at this bar's close
        const payment = -book.units * d.close[row] * rate;
        cash += payment;
        book.funding += payment;
      }
    }
  };

  // ——— the event loop over bar closes ———
  const cursor = data.map(() => 0);
  // Series are preallocated for the largest possible number of event times (every bar distinct); a
  // stepping engine grows them.
  const series: Record<'time' | 'equity' | 'cash' | 'position' | 'gross' | 'var' | 'cvar', Float64Array> & { capacity: number; length: number } = {
    capacity: 0, time: new Float64Array(0), equity: new Float64Array(0), cash: new Float64Array(0), position: new Float64Array(0),
    gross: new Float64Array(0), var: new Float64Array(0), cvar: new Float64Array(0), length: 0,
  };
  const reserveSeries = (capacity: number): void => {
    // A one-asset replay has an event per bar, at its close: its time series is the close times, derived
    // when read (bookkeep's writes would store the same values). A ledger replay writes no series at all.
    const names: Array<'time' | 'equity' | 'cash' | 'position' | 'gross' | 'var' | 'cvar'> = ledger ? [] : ['equity', 'cash', 'gross'];
    if (!tailAfterwards) names.push('position', 'var', 'cvar');
    if (!timesAreCloseTimes) names.push('time');
    // replay reserves once (series.length is 0), from the caller's buffers when it gave some; a stepping
    // engine grows its series, keeping the values so far
    const next =
      series.length === 0 ? perBar(names.map((name) => `series:${name}`), capacity) : names.map(() => new Float64Array(capacity));
    names.forEach((name, k) => {
      next[k].set(series[name].subarray(0, series.length));
      series[name] = next[k];
    });
    series.capacity = capacity;
  };
  const timesAreCloseTimes = !stepping && data.length === 1;
  // A replay without a VaR limit needs the rolling VaR only for its result. Its loops skip the VaR and write
  // no VaR, CVaR or position-value series; the result derives them from the equity and cash series when
  // they are first read (the same returns pushed in the same order: the same bits), see deriveTail.
  const tailAfterwards = !stepping && settings.risk.maxVar === undefined;
  // Ledger mode, a one-asset replay without a VaR limit: every series it stores follows from the state its
  // marks come from (cash and each sleeve's units) and the bar's close. So its loops write no per-bar
  // series: they log that state when it changes (and check each event the general path stores), and the
  // result derives the series on first read with the same expressions, the same bits (SeriesLedger,
  // ledger.ts). A run writes no per-bar memory; a reader pays for the series it reads.
  const ledger = tailAfterwards && timesAreCloseTimes;
  const seriesLedger = ledger ? new SeriesLedger(sleeves.length) : undefined;
  const heldUnits = ledger ? new Float64Array(sleeves.length) : new Float64Array(0);
  /** tailAfterwards: the event whose stored equity differs from the one its VaR return used (the kill switch's), and that one. */
  let tailSawAt = -1;
  let tailSaw = NaN;
  /** Ledger mode: the current state (cash, each sleeve's units) holds from event k on. */
  const logState = (k: number): void => {
    for (let s = 0; s < sleeves.length; s++) heldUnits[s] = books[s][0].units;
    seriesLedger!.log(k, cash, heldUnits);
  };
  reserveSeries(Math.max(stepping ? 256 : 0, data.reduce((sum, d) => sum + d.length, 0)));
  const tail = new RollingTail(settings.risk.varWindow, settings.risk.varConfidence);
  marks.gross = 0;
  marks.previousEquity = settings.initialCash;
  marks.peakEquity = settings.initialCash;
  const breaker = settings.risk.volatilityBreaker;
  const group = new Int32Array(data.length);
  let groupSize = 0;
  /** Events processed (the series of a restored engine holds only the ones after the restore). */
  let events = 0;

  /**
   * One event: the bars closing next across assets with a bar not yet processed (ties: asset order).
   * They are handled in phases, so no asset's close is seen before another asset's fill at the open of a
   * bar that closes at the same time (sizing reads the whole portfolio's prices). False when no asset has
   * a pending bar.
   */
  const step = (): boolean => {
    if (fastPath && quietStep()) return true;
    let time = Infinity;
    groupSize = 0;
    if (data.length === 1) {
      if (cursor[0] < data[0].length) {
        time = data[0].time[cursor[0]] + data[0].step;
        groupSize = 1;
      }
    } else {
      for (let i = 0; i < data.length; i++) {
        if (cursor[i] >= data[i].length) continue;
        const t = data[i].time[cursor[i]] + data[i].step;
        if (t < time) {
          time = t;
          groupSize = 0;
        }
        if (t === time) group[groupSize++] = i;
      }
    }
    if (groupSize === 0) return false;

    // 1–3, every asset of the group: held positions' exits, then live orders, against the bar's open
    // and range; funding
    for (let g = 0; g < groupSize; g++) {
      const a = group[g];
      const row = cursor[a];
      const d = data[a];
      lastRow[a] = row;
      lastPrice[a] = d.open[row];
      const holding = hasPositions(a);
      if (holding) checkExits(a, row, time);
      fillOrders(a, row, time, false);
      if (holding || orders.length === 0) updateExtremes(a, row);
      if (d.funding) applyFunding(a, row);
    }
    // 4: the closes, all of them before any decision
    for (let g = 0; g < groupSize; g++) lastPrice[group[g]] = data[group[g]].close[cursor[group[g]]];
    for (let g = 0; g < groupSize; g++) {
      const a = group[g];
      const row = cursor[a]++;
      const d = data[a];
      if (breaker && row > 0) {
        const deviation = deviationOf(a, breaker.window)[row - 1];
        const move = returnsOf(a)[row];
        if (Number.isFinite(deviation) && deviation > 0 && Math.abs(move) > breaker.multiple * deviation) breakerTrips(deviation, move, time, a);
      }
      if (!d.final || row < d.length - 1) {
        for (let s = 0; s < sleeves.length; s++) {
          // most bars change nothing: skip the call unless the target moved or the sleeve has a hook
          const targets = targetArrays[s][a];
          if (sleeves[s].onBar || (targets && targets[row] !== books[s][a].heldTarget)) decide(s, a, row, time);
        }
        if (settings.fill === 'close') fillOrders(a, row, time, true);
      } else endAsset(a, row, time);
    }

    marks.time = time;
    bookkeep();
    return true;
  };

  /** The volatility breaker trips (a bar's move beyond `multiple` × the rolling deviation): entries pause. */
  const breakerTrips = (deviation: number, move: number, time: number, a: number): void => {
    const d = data[a];
    entriesPausedUntil = Math.max(entriesPausedUntil, time + breaker!.pauseBars * d.step);
    logRisk(time, 'volatility-breaker', `pause entries until ${isoTime(entriesPausedUntil)}`, `${d.symbol} moved ${(100 * move).toFixed(2)}% in one bar, ${(Math.abs(move) / deviation).toFixed(1)} × its rolling deviation`);
  };

  /**
   * The common bar of a one-asset engine (replay or stepping): no live order, no funding, no volatility
   * breaker, no onBar hook, no target change, not the asset's last bar. It does exactly what the general
   * step does for such a bar (exits of held positions, water marks, the close, the bookkeeping) without
   * its per-asset phases and calls that find nothing to do; false (nothing done) for any other bar. A
   * parity test holds the two paths to identical results under randomized settings.
   */
  const quietStep = (): boolean => {
    const d = data[0];
    const row = cursor[0];
    if (row >= d.length || orders.length !== 0 || d.funding !== undefined || breaker || (d.final && row === d.length - 1)) return false;
    for (let s = 0; s < sleeves.length; s++) {
      const targets = targetArrays[s][0];
      if (sleeves[s].onBar || (targets !== undefined && targets[row] !== books[s][0].heldTarget)) return false;
    }
    marks.time = d.time[row] + d.step;
    lastRow[0] = row;
    lastPrice[0] = d.open[row];
    // exits fill at once and place no order, so the order phases have nothing to do
    for (let s = 0; s < sleeves.length; s++) {
      const book = books[s][0];
      if (book.units !== 0 && (book.stopLoss !== null || book.takeProfit !== null || book.trailingPct !== null)) {
        checkExits(0, row, marks.time);
        break;
      }
    }
    updateExtremes(0, row);
    lastPrice[0] = d.close[row];
    cursor[0] = row + 1;
    bookkeep();
    return true;
  };

  /**
   * A stretch of quiet bars of a one-asset, one-strategy replay in one loop, for `runAll`: what the step
   * does for them (quietStep's exits check and water mark, the volatility breaker, bookkeep), with the
   * state in locals instead of per-bar calls and object fields. The loop ends before the first bar that is
   * not quiet (a target change, the last bar, a bar that reaches the position's stop, take-profit or
   * trailing stop: step fills those) and after the kill switch acts (it places orders). The count of bars
   * done (0: nothing). The parity test holds it to the bar-by-bar paths under randomized settings.
   */
  const quietRun = (): number => {
    if (sleeves.length !== 1 || sleeves[0].onBar || orders.length !== 0) return 0;
    const d = data[0];
    const book = books[0][0];
    // after the kill switch, targets no longer decide anything
    const targets = killed ? undefined : targetArrays[0][0];
    const units = book.units;
    if (d.funding !== undefined) return 0;
    // the position's exits as levels a bar must not reach (±Infinity: none); the trailing stop moves with the water mark
    const long = units > 0;
    const stopLoss = book.stopLoss ?? (long ? -Infinity : Infinity);
    const takeProfit = book.takeProfit ?? (long ? Infinity : -Infinity);
    const trailingPct = book.trailingPct;
    const first = cursor[0];
    const end = Math.min(d.final ? d.length - 1 : d.length, first + (series.capacity - series.length));
    const heldTarget = book.heldTarget;
    const { time: openTime, step: barStep, open, close, high, low } = d;
    // the volatility breaker's inputs (replay computes them whole on first use, as step would)
    const deviation = breaker ? deviationOf(0, breaker.window) : undefined;
    const returns = breaker ? returnsOf(0) : undefined;
    const { equity: equityOut, cash: cashOut, position: positionOut, gross: grossOut, var: varOut, cvar: cvarOut } = series;
    const withTail = !tailAfterwards;
    // replay only: its time series is the close times (see reserveSeries), so the loop writes none
    if (!timesAreCloseTimes) return 0;
    // ledger mode: the state holds for the whole stretch (the kill switch, which changes it, ends it)
    if (ledger) logState(series.length);
    const cashNow = cash;
    let k = series.length;
    let extreme = book.extreme;
    let previousEquity = marks.previousEquity;
    let peakEquity = marks.peakEquity;
    let lastGross = marks.gross;
    let killedHere = false;
    let row = first;
    for (; row < end; row++) {
      if (targets !== undefined && targets[row] !== heldTarget) break;
      // exits (checkExits' levels: the binding stop is the tighter of the fixed and the trailing stop), the water mark
      if (long) {
        const stop = trailingPct === null ? stopLoss : Math.max(stopLoss, extreme * (1 - trailingPct));
        if (open[row] <= stop || low[row] <= stop || open[row] >= takeProfit || high[row] >= takeProfit) break;
        extreme = Math.max(extreme, high[row]);
      } else if (units < 0) {
        const stop = trailingPct === null ? stopLoss : Math.min(stopLoss, extreme * (1 + trailingPct));
        if (open[row] >= stop || high[row] >= stop || open[row] <= takeProfit || low[row] <= takeProfit) break;
        extreme = Math.min(extreme, low[row]);
      }
      // the close, the marks (one position: markAll's sums of one term)
      const positionValue = units * close[row];
      let equity = cashNow + positionValue;
      const gross = Math.abs(positionValue);
      if (events++ > 0 && withTail) {
        tail.value = previousEquity > 0 ? equity / previousEquity - 1 : 0;
        tail.pushValue();
      }
      const time = openTime[row] + barStep;
      if (breaker && row > 0) {
        const rolling = deviation![row - 1];
        const move = returns![row];
        if (Number.isFinite(rolling) && rolling > 0 && Math.abs(move) > breaker.multiple * rolling) breakerTrips(rolling, move, time, 0);
      }
      const full = withTail && tail.full;
      if (full) tail.read();
      const valueAtRisk = full ? tail.valueAtRisk : NaN;
      peakEquity = Math.max(peakEquity, equity);
      const varSwitch = maxVar !== undefined && Number.isFinite(valueAtRisk) && valueAtRisk > maxVar !== varBlocked;
      const kill = !killed && maxDrawdown !== undefined && 1 - equity / peakEquity >= maxDrawdown;
      if (varSwitch || kill) {
        // a monitor acts: the engine's state as bookkeep would see it, then the monitor's action
        book.extreme = extreme;
        lastRow[0] = row;
        lastPrice[0] = close[row];
        cursor[0] = row + 1;
        marks.time = time;
        marks.equity = equity;
        marks.gross = gross;
        marks.peakEquity = peakEquity;
        if (varSwitch) switchVarBlock();
        if (kill) {
          killedHere = true;
          if (!withTail) [tailSawAt, tailSaw] = [k, equity];
          killSwitch();
          equity = marks.equity;
          if (ledger) {
            logState(k);
            seriesLedger!.check(k, close[row], equity, equity > 0 ? marks.gross / equity : NaN);
          }
        }
      }
      previousEquity = equity;
      lastGross = kill ? marks.gross : gross;
      if (!ledger) {
        equityOut[k] = equity;
        cashOut[k] = cash;
        grossOut[k] = equity > 0 ? lastGross / equity : NaN;
      }
      if (withTail) {
        positionOut[k] = equity - cash;
        varOut[k] = valueAtRisk;
        cvarOut[k] = full ? tail.conditionalValueAtRisk : NaN;
      }
      k++;
      if (kill) {
        row++;
        break;
      }
    }
    const done = row - first;
    if (done === 0) return 0;
    series.length = k;
    // (after the kill switch the book may be a flat one already: its water mark was written before)
    if (!killedHere) book.extreme = extreme;
    lastRow[0] = row - 1;
    lastPrice[0] = close[row - 1];
    cursor[0] = row;
    marks.time = openTime[row - 1] + barStep;
    marks.equity = previousEquity;
    marks.gross = lastGross;
    marks.previousEquity = previousEquity;
    marks.peakEquity = peakEquity;
    return done;
  };

  /** Portfolio bookkeeping once per event time: marks, VaR, the monitors, the series. */
  const maxVar = settings.risk.maxVar;
  const maxDrawdown = settings.risk.maxDrawdown;
  const bookkeep = (): void => {
    markAll();
    let equity = marks.equity;
    if (events++ > 0 && !tailAfterwards) {
      const previousEquity = marks.previousEquity;
      tail.value = previousEquity > 0 ? equity / previousEquity - 1 : 0;
      tail.pushValue();
    }
    const full = !tailAfterwards && tail.full;
    if (full) tail.read();
    const valueAtRisk = full ? tail.valueAtRisk : NaN;
    if (maxVar !== undefined && Number.isFinite(valueAtRisk) && valueAtRisk > maxVar !== varBlocked) switchVarBlock();
    const peakEquity = (marks.peakEquity = Math.max(marks.peakEquity, equity));
    if (!killed && maxDrawdown !== undefined && 1 - equity / peakEquity >= maxDrawdown) {
      if (tailAfterwards) [tailSawAt, tailSaw] = [series.length, equity];
      killSwitch();
      equity = marks.equity;
    }
    marks.previousEquity = equity;
    if (series.length === series.capacity) reserveSeries(2 * series.capacity);
    const k = series.length++;
    if (ledger) {
      logState(k);
      seriesLedger!.check(k, data[0].close[k], equity, equity > 0 ? marks.gross / equity : NaN);
      return;
    }
    if (!timesAreCloseTimes) series.time[k] = marks.time;
    series.equity[k] = equity;
    series.cash[k] = cash;
    series.gross[k] = equity > 0 ? marks.gross / equity : NaN;
    if (!tailAfterwards) {
      series.position[k] = equity - cash;
      series.var[k] = valueAtRisk;
      series.cvar[k] = full ? tail.conditionalValueAtRisk : NaN;
    }
  };
  // the monitors' rare actions, out of line (they read the marks: no boxed arguments on the per-bar path)
  const switchVarBlock = (): void => {
    varBlocked = !varBlocked;
    logRisk(marks.time, 'var', varBlocked ? 'block entries' : 'resume entries', `${(100 * settings.risk.varConfidence).toFixed(0)}% VaR ${(100 * tail.valueAtRisk).toFixed(3)}% ${varBlocked ? '>' : '≤'} limit ${(100 * maxVar!).toFixed(3)}%`);
  };
  /** The drawdown kill switch: stop trading, close everything; re-marks the equity. */
  const killSwitch = (): void => {
    const time = marks.time;
    killed = true;
    orders = [];
    logRisk(time, 'drawdown-kill', 'close all and stop trading', `drawdown ${(100 * (1 - marks.equity / marks.peakEquity)).toFixed(2)}% reached the limit ${(100 * maxDrawdown!).toFixed(2)}%`);
    // positions close at each asset's next fill opportunity (this close when filling at the close)
    for (let i = 0; i < data.length; i++) {
      for (let s = 0; s < sleeves.length; s++) {
        if (books[s][i].units === 0) continue;
        if (settings.fill === 'close' && lastRow[i] >= 0) exitNow(s, i, lastRow[i], time, lastPrice[i], 'kill-switch', 'kill-switch');
        else orders.push({ asset: data[i].symbol, sleeve: sleeves[s].name, side: books[s][i].units > 0 ? 'sell' : 'buy', type: 'market', quantity: 0, decisionRow: Math.max(0, lastRow[i]), expiresAfterRow: Number.MAX_SAFE_INTEGER, closeAll: true, reason: 'kill-switch' });
      }
    }
    markAll();
  };


  /** An asset's last bar: its positions close at the close, its orders are dropped. */
  const endAsset = (a: number, row: number, time: number): void => {
    for (let s = 0; s < sleeves.length; s++) exitNow(s, a, row, time, data[a].close[row], 'end', 'end');
    orders = orders.filter((o) => o.asset !== data[a].symbol);
  };

  // ——— stepping: bars and decisions arrive one at a time ———
  const assetAt = (asset: string | number): number => {
    const a = typeof asset === 'number' ? asset : assetIndex.get(asset);
    if (a === undefined || a < 0 || a >= data.length) throw new ConfigError(`unknown asset '${asset}'; assets: ${symbols.join(', ')}`);
    return a;
  };
  const sleeveAt = (name: string): number => {
    const s = sleeveIndex.get(name);
    if (s === undefined) throw new ConfigError(`unknown strategy '${name}'; strategies: ${sleeves.map((x) => x.name).join(', ')}`);
    return s;
  };
  const grown = (values: Float64Array, length: number, fill?: number): Float64Array => {
    if (values.length > length) return values;
    const next = new Float64Array(Math.max(16, 2 * values.length));
    if (fill !== undefined) next.fill(fill);
    next.set(values.subarray(0, length));
    return next;
  };
  const appendBar = (asset: string | number, bar: CandleRow): number => {
    if (!stepping) throw new ConfigError('appendBar needs a stepping engine: createEngineKernel(..., { stepping: true })');
    const a = assetAt(asset);
    const d = data[a];
    if (d.final) throw new ConfigError(`${d.symbol} has ended (finish was called); create a new engine to go on`);
    const row = d.length;
    if (row > 0 && !(bar.time > d.time[row - 1])) throw new DataError(`${d.symbol}: bar at ${isoTime(bar.time)} is not after the last one (${isoTime(d.time[row - 1])})`);
    for (const name of ['open', 'high', 'low', 'close', 'volume'] as const) {
      if (!Number.isFinite(bar[name])) throw new DataError(`${d.symbol}: bar at ${isoTime(bar.time)} has a non-finite ${name}`);
    }
    d.time = grown(d.time, row);
    d.open = grown(d.open, row);
    d.high = grown(d.high, row);
    d.low = grown(d.low, row);
    d.close = grown(d.close, row);
    d.volume = grown(d.volume, row);
    d.returns = grown(d.returns!, row);
    d.time[row] = bar.time;
    d.open[row] = bar.open;
    d.high[row] = bar.high;
    d.low[row] = bar.low;
    d.close[row] = bar.close;
    d.volume[row] = bar.volume;
    d.returns[row] = row > 0 ? bar.close / d.close[row - 1] - 1 : 0;
    d.length = row + 1;
    if (row === 0) lastPrice[a] = bar.open;
    for (let s = 0; s < sleeves.length; s++) {
      const targets = grown(targetArrays[s][a]!, row);
      // a bar without a decision keeps the previous target
      targets[row] = row > 0 ? targets[row - 1] : 0;
      targetArrays[s][a] = targets;
      const confidence = grown(confidenceArrays[s][a]!, row, NaN);
      confidence[row] = NaN;
      confidenceArrays[s][a] = confidence;
    }
    return row;
  };
  const decideAt = (sleeve: string, asset: string | number, decision: Decision): void => {
    const s = sleeveAt(sleeve);
    const a = assetAt(asset);
    const row = data[a].length - 1;
    if (row < cursor[a]) throw new ConfigError(`${data[a].symbol}: decide before step (the bar at row ${row} is already processed)`);
    if (!(decision.target >= -1 && decision.target <= 1)) throw new ConfigError(`strategy '${sleeve}': target ${decision.target} is outside −1..1`);
    targetArrays[s][a]![row] = decision.target;
    confidenceArrays[s][a]![row] = decision.confidence ?? NaN;
    if (decision.reasoning !== undefined) {
      const reasons = steppedReasons[s][a];
      reasons.set(row, decision.reasoning);
      // only the recent reasons can still be asked for (signal records are written at the bar)
      if (reasons.size > 64) reasons.delete(reasons.keys().next().value!);
    }
  };

  const candleCache = new Map<number, Candles>();
  const candlesOf = (a: number): Candles => {
    const d = data[a];
    if (!stepping) return assets[a].candles;
    const cached = candleCache.get(a);
    if (cached && cached.length === d.length) return cached;
    const n = d.length;
    const view = Frame.fromColumns(
      d.time.subarray(0, n),
      { open: d.open.subarray(0, n), high: d.high.subarray(0, n), low: d.low.subarray(0, n), close: d.close.subarray(0, n), volume: d.volume.subarray(0, n) },
      d.meta,
    );
    candleCache.set(a, view);
    return view;
  };

  const finish = (): void => {
    let time = -Infinity;
    for (let a = 0; a < data.length; a++) {
      const d = data[a];
      if (d.final) continue;
      d.final = true;
      if (cursor[a] === 0) continue;
      const row = cursor[a] - 1;
      time = Math.max(time, d.time[row] + d.step);
      endAsset(a, row, d.time[row] + d.step);
    }
    // only a stepping engine's series are rewritten here: a replay's assets are final from the start
    if (series.length > 0 && time > -Infinity) {
      // the last event's marks include the closing fills' costs
      const k = series.length - 1;
      const equity = markToMarket();
      series.equity[k] = equity;
      series.cash[k] = cash;
      series.position[k] = equity - cash;
      series.gross[k] = equity > 0 ? marks.gross / equity : NaN;
    }
  };

  const snapshot = (): KernelState => ({
    version: 1,
    symbols: [...symbols],
    sleeves: sleeves.map((s) => s.name),
    cursor: [...cursor],
    fundingCursor: data.map((d) => d.fundingCursor),
    cash,
    lastPrice: [...lastPrice],
    lastRow: [...lastRow],
    books: books.map((sleeveBooks) => sleeveBooks.map((book) => ({ ...book }))),
    orders: orders.map((order) => structuredClone(order)),
    entriesPausedUntil,
    killed,
    varBlocked,
    previousEquity: marks.previousEquity,
    peakEquity: marks.peakEquity,
    tail: (tailAfterwards ? deriveTail(...storedEquityAndCash(), tailSawAt, tailSaw, false).tail : tail).snapshot(),
    events,
  });

  const restore = (state: KernelState): void => {
    if (state.version !== 1) throw new ConfigError(`engine state version ${state.version} is not supported (expected 1)`);
    if (state.symbols.join('\u0000') !== symbols.join('\u0000') || state.sleeves.join('\u0000') !== sleeves.map((s) => s.name).join('\u0000')) {
      throw new ConfigError(`engine state is for assets ${state.symbols.join(', ')} and strategies ${state.sleeves.join(', ')}; this engine has ${symbols.join(', ')} and ${sleeves.map((s) => s.name).join(', ')}`);
    }
    for (let a = 0; a < data.length; a++) {
      if (data[a].length < state.cursor[a]) throw new ConfigError(`engine state has processed ${state.cursor[a]} bars of ${symbols[a]}, but only ${data[a].length} are loaded; append them before restoring`);
      cursor[a] = state.cursor[a];
      data[a].fundingCursor = state.fundingCursor[a];
      // JSON turns NaN and −Infinity into null
      lastPrice[a] = state.lastPrice[a] ?? NaN;
      lastRow[a] = state.lastRow[a];
    }
    cash = state.cash;
    for (let s = 0; s < sleeves.length; s++) for (let a = 0; a < data.length; a++) books[s][a] = { ...state.books[s][a] };
    orders = state.orders.map((order) => structuredClone(order));
    if (stepping) {
      // the book's held target is what the next decision compares with (a bar without one carries it)
      for (let s = 0; s < sleeves.length; s++) {
        for (let a = 0; a < data.length; a++) if (cursor[a] > 0) targetArrays[s][a]![cursor[a] - 1] = books[s][a].heldTarget;
      }
    }
    entriesPausedUntil = state.entriesPausedUntil ?? -Infinity;
    killed = state.killed;
    varBlocked = state.varBlocked;
    marks.previousEquity = state.previousEquity;
    marks.peakEquity = state.peakEquity;
    tail.restore(state.tail);
    events = state.events;
  };

  /**
   * tailAfterwards: the rolling VaR and CVaR series replayed from an equity series (each event's return on
   * the one before, as bookkeep pushes it; at `sawAt`, the equity the tail saw before the kill switch), the
   * position values (equity − cash, as written), and the tail's state after the last event. Into the
   * caller's buffers when it gave some.
   */
  const deriveTail = (equity: Float64Array, cashSeries: Float64Array, sawAt: number, saw: number, intoBuffers = true) => {
    const n = equity.length;
    const [valueAtRisk, conditionalValueAtRisk, positionValue] =
      buffers && intoBuffers ? ['series:var', 'series:cvar', 'series:position'].map((key) => buffers.take(key, n)) : newLargeFloat64Arrays(3, n);
    const replayed = new RollingTail(settings.risk.varWindow, settings.risk.varConfidence);
    for (let k = 0; k < n; k++) {
      if (k > 0) {
        const previous = equity[k - 1];
        replayed.value = previous > 0 ? (k === sawAt ? saw : equity[k]) / previous - 1 : 0;
        replayed.pushValue();
      }
      const full = replayed.full;
      if (full) replayed.read();
      valueAtRisk[k] = full ? replayed.valueAtRisk : NaN;
      conditionalValueAtRisk[k] = full ? replayed.conditionalValueAtRisk : NaN;
      positionValue[k] = equity[k] - cashSeries[k];
    }
    return { valueAtRisk, conditionalValueAtRisk, positionValue, tail: replayed };
  };

  /** The equity and cash series as stored so far (ledger mode: derived into new memory). */
  const storedEquityAndCash = (): [Float64Array, Float64Array] =>
    ledger
      ? [seriesLedger!.derive('equity', series.length, data[0].close), seriesLedger!.derive('cash', series.length, data[0].close)]
      : [series.equity.subarray(0, series.length), series.cash.subarray(0, series.length)];

  const result = (): EngineResult => {
    const n = series.length;
    // with the caller's buffers, views (no fresh memory); else compact copies
    const used = (values: Float64Array): Float64Array => (n === values.length ? values : buffers ? values.subarray(0, n) : values.slice(0, n));
    const derivedLater = new Float64Array(0);
    const out: EngineResult = {
      time: timesAreCloseTimes ? derivedLater : used(series.time),
      equity: ledger ? derivedLater : used(series.equity),
      cash: ledger ? derivedLater : used(series.cash),
      positionValue: tailAfterwards ? derivedLater : used(series.position),
      grossExposure: ledger ? derivedLater : used(series.gross),
      valueAtRisk: tailAfterwards ? derivedLater : used(series.var),
      conditionalValueAtRisk: tailAfterwards ? derivedLater : used(series.cvar),
      fills,
      trades,
      signals,
      riskEvents,
      settings,
    };
    /** `key` computed on its first read, then a plain value. */
    const onFirstRead = <K extends keyof EngineResult>(key: K, compute: () => EngineResult[K]): void => {
      Object.defineProperty(out, key, {
        enumerable: true,
        configurable: true,
        get: () => {
          const value = compute();
          Object.defineProperty(out, key, { value, enumerable: true, configurable: true, writable: true });
          return value;
        },
        set: (value: EngineResult[K]) => Object.defineProperty(out, key, { value, enumerable: true, configurable: true, writable: true }),
      });
    };
    const target = (bufferKey: string): Float64Array | undefined => buffers?.take(bufferKey, n);
    // (a replay's records so far; the array is the engine's own, so a later flush appends to it, as before)
    if (pendingSignals) {
      onFirstRead('signals', () => {
        flushSignals();
        return signals;
      });
    }
    if (timesAreCloseTimes) {
      // a one-asset replay's events are its bars' closes
      const { time: openTime, step: barStep } = data[0];
      onFirstRead('time', () => {
        const times = target('series:time') ?? newLargeFloat64Arrays(1, n)[0];
        for (let k = 0; k < n; k++) times[k] = openTime[k] + barStep;
        return times;
      });
    }
    if (ledger) {
      const close = data[0].close;
      onFirstRead('equity', () => seriesLedger!.derive('equity', n, close, target('series:equity')));
      onFirstRead('cash', () => seriesLedger!.derive('cash', n, close, target('series:cash')));
      onFirstRead('grossExposure', () => seriesLedger!.derive('gross', n, close, target('series:gross')));
    }
    if (tailAfterwards) {
      // derived on first read of any of the three, from this result's equity and cash (read then)
      const [sawAt, saw] = [tailSawAt, tailSaw];
      let derived: ReturnType<typeof deriveTail> | undefined;
      const derive = (): ReturnType<typeof deriveTail> => (derived ??= deriveTail(out.equity, out.cash, sawAt, saw));
      for (const key of ['valueAtRisk', 'conditionalValueAtRisk', 'positionValue'] as const) onFirstRead(key, () => derive()[key]);
    }
    return out;
  };

  return {
    symbols,
    settings,
    step,
    runAll: () => {
      while (fastPath ? quietRun() > 0 || step() : step());
    },
    appendBar,
    decide: decideAt,
    onBar: (asset, bar, decisions = []) => {
      appendBar(asset, bar);
      for (const { sleeve, ...decision } of decisions) decideAt(sleeve, asset, decision);
      while (step());
    },
    finish,
    snapshot,
    restore,
    result,
    records: () => {
      flushSignals();
      return { fills, trades, signals, riskEvents };
    },
    equity: equityNow,
    cash: () => cash,
    position: (sleeve, asset) => books[sleeveAt(sleeve)][assetAt(asset)].units,
    openTrade: (sleeve, asset) => {
      const book = books[sleeveAt(sleeve)][assetAt(asset)];
      return book.units === 0 ? undefined : { side: book.long ? 'long' : 'short', units: book.units, entryTime: book.entryTime, entryPrice: book.entryValue / book.entryUnits, stopLoss: book.stopLoss, takeProfit: book.takeProfit };
    },
    pendingOrders: () => orders.map((order) => ({ asset: order.asset, sleeve: order.sleeve, side: order.side, type: order.type, price: order.price, targetExposure: order.targetExposure, closeAll: order.closeAll ?? false })),
    plannedPosition: (sleeve, asset) => {
      const s = sleeveAt(sleeve);
      const a = assetAt(asset);
      let units = books[s][a].units;
      const row = cursor[a] - 1;
      if (row < 0) return units;
      const price = data[a].close[row];
      for (const order of orders) {
        if (order.sleeve !== sleeves[s].name || order.asset !== data[a].symbol) continue;
        if (order.closeAll) units = 0;
        else if (order.targetExposure !== undefined) {
          // sized as the fill will size it (read-only: no slippage estimate, caps or lot rounding)
          const desired = Math.sign(order.targetExposure) * unitsAt(s, a, order, price);
          units = order.adjust ? desired : units + desired;
        } else if (order.type === 'market') units += (order.side === 'buy' ? 1 : -1) * order.quantity;
      }
      return units;
    },
    barsProcessed: (asset) => cursor[assetAt(asset)],
    candles: (asset) => candlesOf(assetAt(asset)),
    quote: (asset, target) => {
      const a = assetAt(asset);
      const row = cursor[a] - 1;
      if (row < 0) throw new ConfigError(`${symbols[a]}: no bar processed yet`);
      const entry = data[a].close[row];
      const direction = Math.sign(target);
      const { stop, take } = stopDistances(a, row, entry, settings.exits);
      return {
        entry,
        stop_loss: direction !== 0 && stop !== undefined ? entry - direction * stop : null,
        take_profit: direction !== 0 && take !== undefined ? entry + direction * take : null,
        risk_reward: direction !== 0 && stop !== undefined && take !== undefined ? take / stop : null,
      };
    },
  };
}

/** Decimal places of a step size (0.001 → 3, 1e-8 → 8, 5 → 0), capped at 15. */
function decimalsOf(step: number): number {
  for (let d = 0; d <= 15; d++) if (Math.abs(Math.round(step * 10 ** d) - step * 10 ** d) < 1e-9) return d;
  return 15;
}

/** Bar-to-bar returns of a close series (0 at the first bar). */
function barReturns(close: Float64Array, length: number): Float64Array {
  const returns = new Float64Array(length);
  for (let i = 1; i < length; i++) returns[i] = close[i] / close[i - 1] - 1;
  return returns;
}

/** Room for `length` values: the array itself, or a larger copy (NaN beyond what was there). */
function withRoom(values: Float64Array, length: number): Float64Array {
  if (values.length >= length) return values;
  const next = new Float64Array(Math.max(length, 2 * values.length)).fill(NaN);
  next.set(values);
  return next;
}

/**
 * Wilder's ATR over an asset's bars, extended to the bars it has not seen yet with exactly the arithmetic
 * of `atrKernel` (`trueRangeKernel` then `wilderKernel`), so every value is bit-identical to the batch one.
 */
class ExtendingAtr {
  private values: Float64Array = new Float64Array(0);
  private computed = 0;
  private previous = NaN;
  private seedSum = 0;
  private readonly factor: number;
  constructor(private readonly period: number) {
    this.factor = 1 / period;
  }
  upTo(d: AssetSeries): Float64Array {
    if (this.computed >= d.length) return this.values;
    const out = (this.values = withRoom(this.values, d.length));
    const { high, low, close } = d;
    for (let i = this.computed; i < d.length; i++) {
      const range = high[i] - low[i];
      const trueRange = i === 0 ? range : Math.max(range, Math.abs(high[i] - close[i - 1]), Math.abs(low[i] - close[i - 1]));
      const count = i + 1;
      if (count < this.period) {
        this.seedSum += trueRange;
        out[i] = NaN;
      } else if (count === this.period) {
        this.seedSum += trueRange;
        this.previous = this.seedSum / this.period;
        out[i] = this.previous;
      } else {
        this.previous = (trueRange - this.previous) * this.factor + this.previous;
        out[i] = this.previous;
      }
    }
    this.computed = d.length;
    return out;
  }
}

/** The rolling deviation of an asset's bar returns, extended bar by bar with `rollingDeviation`'s arithmetic. */
class ExtendingDeviation {
  private values: Float64Array = new Float64Array(0);
  private computed = 0;
  private sum = 0;
  private squares = 0;
  constructor(private readonly window: number) {}
  upTo(d: AssetSeries, values: Float64Array): Float64Array {
    if (this.computed >= d.length) return this.values;
    const out = (this.values = withRoom(this.values, d.length));
    const window = this.window;
    for (let i = this.computed; i < d.length; i++) {
      this.sum += values[i];
      this.squares += values[i] * values[i];
      if (i >= window) {
        this.sum -= values[i - window];
        this.squares -= values[i - window] * values[i - window];
      }
      if (i >= window - 1) {
        const mean = this.sum / window;
        out[i] = Math.sqrt(Math.max(0, (this.squares - window * mean * mean) / (window - 1)));
      } else out[i] = NaN;
    }
    this.computed = d.length;
    return out;
  }
}
