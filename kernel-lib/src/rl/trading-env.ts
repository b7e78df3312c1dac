import { ConfigError } from '../errors';
import { SeededRng } from '../util/rng';
import { commissionModel, parseBacktestSettings, slippageModel, type BacktestSettings, type BacktestSettingsInput } from '../backtest/settings';

/**
 * A trading environment in gymnasium's shape (`reset(seed)` → observation; `step(action)` → observation,
 * reward, terminated, truncated, info), vectorized: N copies of one market stepped at once over flat typed
 * arrays, with no allocation per step. Its account is the backtest engine's for one asset and one strategy
 * (backtest/kernel.ts): a target changed at a bar's close fills at the next bar's open (or at the same close
 * with `fill: 'close'`), market orders under the settings' commission and fixed slippage, entries sized as
 * `fraction` × equity (position value + its commission = the committed capital), a change of side closes
 * first, a resize on the same side trades the difference, and the last bar closes what is open. The test
 * rl.test.ts checks equity bar by bar against runEngine for the same actions.
 */

/** The accounting the environment applies, taken from the spec's backtest settings (see environmentCosts). */
export type EnvironmentCosts = {
  readonly initialCash: number;
  readonly fill: 'next-open' | 'close';
  /** Commission as a fraction of notional (bps / 10 000), or a fixed amount per fill. */
  readonly commission: { readonly kind: 'rate'; readonly rate: number } | { readonly kind: 'fixed'; readonly perFill: number };
  /** Slippage as a fraction of price, against the trader. */
  readonly slippage: number;
  /** Equity fraction committed at full exposure. */
  readonly fraction: number;
  readonly allowShort: boolean;
  /** Every target change closes the position first (the settings' `exclusive`). */
  readonly exclusive: boolean;
  /** Gross exposure ≤ leverage × equity: orders that add exposure are cut to fit, as the engine cuts them. */
  readonly leverage: number;
};

/**
 * The environment's accounting from backtest settings. The environment models what moves equity every
 * bar (fills, commission, slippage, sizing); settings it cannot reproduce exactly fail here with the
 * field to change. Stops, take-profits and risk monitors are not simulated while training (the backtest
 * still applies them to the trained policy).
 */
export function environmentCosts(input: BacktestSettingsInput | BacktestSettings = {}): EnvironmentCosts {
  const settings = parseBacktestSettings(input);
  const slippage = slippageModel(settings);
  if (slippage.kind !== 'fixed') throw new ConfigError(`the RL environment models fixed slippage only, not '${slippage.kind}'; set backtest.slippageBps (or slippage: {kind: 'fixed', bps})`);
  if (settings.sizing.kind !== 'equity-fraction') {
    throw new ConfigError(`the RL environment sizes positions as a fraction of equity, not '${settings.sizing.kind}'; set backtest.sizing to {kind: 'equity-fraction', fraction}`);
  }
  if (settings.sizing.fraction > settings.leverage) {
    throw new ConfigError(`backtest.sizing.fraction ${settings.sizing.fraction} exceeds backtest.leverage ${settings.leverage} (the engine would cut every entry); lower the fraction or raise the leverage`);
  }
  if (settings.units === 'whole') throw new ConfigError(`the RL environment trades fractional units; set backtest.units to 'fractional'`);
  if (settings.risk.maxAssetExposure !== undefined || settings.risk.maxTotalExposure !== undefined) {
    throw new ConfigError('the RL environment caps exposure by backtest.leverage only; drop backtest.risk.maxAssetExposure / maxTotalExposure (or set leverage)');
  }
  const commission = commissionModel(settings);
  return {
    initialCash: settings.initialCash,
    fill: settings.fill,
    // entries are market orders while training: the taker rate applies
    commission: commission.kind === 'bps' ? { kind: 'rate', rate: commission.takerBps / 10_000 } : { kind: 'fixed', perFill: commission.perFill },
    slippage: slippage.bps / 10_000,
    fraction: settings.sizing.fraction,
    allowShort: settings.allowShort,
    exclusive: settings.exclusive,
    leverage: settings.leverage,
  };
}

/** Weights of the shaped reward (see TradingEnvironment.step). */
export type RewardWeights = {
  /** Multiplies the equity return of the bar. */
  readonly pnl: number;
  /** Multiplies each increase of the drawdown from the running equity peak (a fraction). */
  readonly drawdown: number;
  /** Multiplies |Δ target exposure|: a penalty on trading beyond what the costs already charge. */
  readonly turnover: number;
  /** Multiplies the differential Sharpe ratio of the bar (Moody & Saffell 2001). */
  readonly sharpe: number;
  /** Rewards are (pnl·r − drawdown·Δdd − turnover·|Δa|) × scale + sharpe·DSR: per-bar returns are small. */
  readonly scale: number;
  /** Adaptation rate η of the differential Sharpe ratio's moving moments. */
  readonly sharpeDecay: number;
};

export const DEFAULT_REWARD: RewardWeights = { pnl: 1, drawdown: 0, turnover: 0, sharpe: 0, scale: 100, sharpeDecay: 0.01 };

/** Prices the environment trades and the scaled feature rows its observations show. */
export type EnvironmentMarket = {
  readonly open: Float64Array;
  readonly close: Float64Array;
  /** rows × cols feature values, row-major (already scaled). */
  readonly features: Float32Array;
  readonly cols: number;
};

export type EnvironmentOptions = {
  readonly market: EnvironmentMarket;
  readonly costs: EnvironmentCosts;
  /** Feature rows per observation (this row and the window − 1 before it; edge-padded at the start). */
  readonly window?: number;
  /** 'discrete': action 0 short, 1 flat, 2 long; 'continuous': a target exposure in [−1, 1]. */
  readonly actions?: 'discrete' | 'continuous';
  readonly reward?: Partial<RewardWeights>;
  /** Environments stepped at once (default 1). */
  readonly count?: number;
  /** Bars per episode before it is truncated (0: until the data ends). */
  readonly episodeBars?: number;
  /** Where episodes start: a random row at or after window − 1 (seeded by reset), or row 0. */
  readonly start?: 'random' | 'first';
  /** A finished environment starts a new episode within the same step (gymnasium's same-step autoreset). */
  readonly autoReset?: boolean;
  /**
   * Close what is open at the last bar's close, as the engine does (default). A policy's own rollout
   * (`predict`) turns it off, so that a row's observation never depends on where the data ends.
   */
  readonly closeAtEnd?: boolean;
};

/** One vectorized step's result. The arrays are the environment's own buffers, valid until the next step. */
export type EnvironmentStep = {
  /** count × observationSize; an environment that finished and reset shows its new episode's first observation. */
  readonly observation: Float32Array;
  readonly reward: Float32Array;
  /** 1 where the data ended (the position was closed at the last close). */
  readonly terminated: Uint8Array;
  /** 1 where the episode reached episodeBars. */
  readonly truncated: Uint8Array;
  readonly info: {
    /** Equity after the step (at the bar's close; after the closing fill on the last bar). */
    readonly equity: Float64Array;
    /** Equity change of the step. */
    readonly pnl: Float64Array;
    /** Target exposure held after the step. */
    readonly position: Float64Array;
    /** Commission paid in the step. */
    readonly fees: Float64Array;
    /** The last observation of each environment that finished in this step (count × observationSize). */
    readonly finalObservation: Float32Array;
  };
};

/** Discrete action index → target exposure. */
export const DISCRETE_TARGETS = [-1, 0, 1] as const;

const DUST = 1e-12;

/** The engine's leverage cap on an order that adds exposure: gross value after it ≤ leverage × equity. */
export function leverageCap(quantity: number, base: number, equity: number, gross: number, leverage: number): number {
  const room = Math.max(0, leverage * Math.max(0, equity) - gross);
  return quantity * base > room * (1 + 1e-12) + 1e-9 ? room / base : quantity;
}

/** The vectorized trading environment (see the file comment for its accounting). */
export class TradingEnvironment {
  readonly count: number;
  readonly window: number;
  readonly actionType: 'discrete' | 'continuous';
  /** window × feature columns + position + unrealized P&L. */
  readonly observationSize: number;
  readonly reward: RewardWeights;
  private readonly market: EnvironmentMarket;
  private readonly costs: EnvironmentCosts;
  private readonly episodeBars: number;
  private readonly start: 'random' | 'first';
  private readonly autoReset: boolean;
  private readonly closeAtEnd: boolean;
  private readonly rows: number;
  private rng = new SeededRng(0);
  // per-environment account state
  private readonly row: Int32Array;
  private readonly steps: Int32Array;
  private readonly cash: Float64Array;
  private readonly units: Float64Array;
  private readonly held: Float64Array;
  private readonly entryPrice: Float64Array;
  private readonly peak: Float64Array;
  private readonly drawdown: Float64Array;
  private readonly momentA: Float64Array;
  private readonly momentB: Float64Array;
  private readonly stepFees: Float64Array;
  private readonly result: EnvironmentStep;

  constructor(options: EnvironmentOptions) {
    const { market } = options;
    this.rows = market.close.length;
    if (market.open.length !== this.rows || market.features.length !== this.rows * market.cols) {
      throw new ConfigError(`the environment's market has ${market.open.length} opens, ${this.rows} closes and ${market.features.length} feature values for ${market.cols} columns; they must align row by row`);
    }
    if (this.rows < 2) throw new ConfigError(`the environment needs at least 2 bars, got ${this.rows}`);
    for (let i = 0; i < this.rows; i++) {
      if (!(market.open[i] > 0) || !(market.close[i] > 0)) throw new ConfigError(`the environment's prices must be positive; row ${i} has open ${market.open[i]}, close ${market.close[i]}`);
    }
    this.market = market;
    this.costs = options.costs;
    this.count = options.count ?? 1;
    this.window = options.window ?? 1;
    this.actionType = options.actions ?? 'discrete';
    this.reward = { ...DEFAULT_REWARD, ...options.reward };
    this.episodeBars = options.episodeBars ?? 0;
    this.start = options.start ?? 'random';
    this.autoReset = options.autoReset ?? true;
    this.closeAtEnd = options.closeAtEnd ?? true;
    if (!Number.isInteger(this.count) || this.count < 1) throw new ConfigError(`count must be a positive integer, got ${this.count}`);
    if (!Number.isInteger(this.window) || this.window < 1) throw new ConfigError(`window must be a positive integer, got ${this.window}`);
    this.observationSize = this.window * market.cols + 2;
    const n = this.count;
    this.row = new Int32Array(n);
    this.steps = new Int32Array(n);
    this.cash = new Float64Array(n);
    this.units = new Float64Array(n);
    this.held = new Float64Array(n);
    this.entryPrice = new Float64Array(n);
    this.peak = new Float64Array(n);
    this.drawdown = new Float64Array(n);
    this.momentA = new Float64Array(n);
    this.momentB = new Float64Array(n);
    this.stepFees = new Float64Array(n);
    this.result = {
      observation: new Float32Array(n * this.observationSize),
      reward: new Float32Array(n),
      terminated: new Uint8Array(n),
      truncated: new Uint8Array(n),
      info: { equity: new Float64Array(n), pnl: new Float64Array(n), position: new Float64Array(n), fees: new Float64Array(n), finalObservation: new Float32Array(n * this.observationSize) },
    };
  }

  /** Actions per step: 3 (discrete) or 1 (continuous). */
  get actionCount(): number {
    return this.actionType === 'discrete' ? 3 : 1;
  }

  /** Bars in the market. */
  get length(): number {
    return this.rows;
  }

  /** Start every environment's episode (random rows from `seed`, or row 0); returns count × observationSize. */
  reset(seed = 0): Float32Array {
    this.rng = new SeededRng(seed);
    for (let i = 0; i < this.count; i++) this.resetOne(i);
    for (let i = 0; i < this.count; i++) this.observe(i, this.result.observation, i * this.observationSize);
    return this.result.observation;
  }

  /** The row environment `i` is at (its observation shows this bar's close). */
  rowOf(i = 0): number {
    return this.row[i];
  }

  /** The target exposure environment `i` holds. */
  positionOf(i = 0): number {
    return this.held[i];
  }

  /** Environment `i`'s equity marked at its current row's close. */
  equityOf(i = 0): number {
    return this.cash[i] + this.units[i] * this.market.close[this.row[i]];
  }

  /** The target exposure an action means (short actions mean flat when shorting is not allowed). */
  targetOf(action: number): number {
    let target: number;
    if (this.actionType === 'discrete') {
      target = DISCRETE_TARGETS[action];
      if (target === undefined) throw new ConfigError(`discrete actions are 0 (short), 1 (flat) or 2 (long); got ${action}`);
    } else {
      if (!Number.isFinite(action)) throw new ConfigError(`a continuous action is a target exposure in [-1, 1]; got ${action}`);
      target = Math.max(-1, Math.min(1, action));
    }
    return target < 0 && !this.costs.allowShort ? 0 : target;
  }

  /**
   * Apply one action per environment at its current bar's close and move to the next bar. The reward is
   * (pnl·r − drawdown·Δdd⁺ − turnover·|Δtarget|) × scale + sharpe·DSR, with r the bar's equity return.
   */
  step(actions: number | ArrayLike<number>): EnvironmentStep {
    const result = this.result;
    const size = this.observationSize;
    const w = this.reward;
    for (let i = 0; i < this.count; i++) {
      const action = typeof actions === 'number' ? actions : actions[i];
      const t = this.row[i];
      if (t >= this.rows - 1) throw new ConfigError(`environment ${i} is at the last bar; reset it before stepping`);
      const before = this.equityOf(i);
      const previousTarget = this.held[i];
      const target = this.targetOf(action);
      this.stepFees[i] = 0;
      const fillRow = this.costs.fill === 'next-open' ? t + 1 : t;
      this.applyTarget(i, target, this.costs.fill === 'next-open' ? this.market.open[fillRow] : this.market.close[fillRow]);
      const next = t + 1;
      this.row[i] = next;
      this.steps[i]++;
      const terminated = next === this.rows - 1;
      // the engine closes what is open at the last bar's close
      if (terminated && this.closeAtEnd && this.units[i] !== 0) this.fill(i, this.units[i] > 0 ? -1 : 1, Math.abs(this.units[i]), this.market.close[next]);
      const equity = this.equityOf(i);
      const r = before > 0 ? equity / before - 1 : 0;
      this.peak[i] = Math.max(this.peak[i], equity);
      const drawdown = this.peak[i] > 0 ? 1 - equity / this.peak[i] : 0;
      const drawdownIncrease = Math.max(0, drawdown - this.drawdown[i]);
      this.drawdown[i] = drawdown;
      // differential Sharpe ratio: the first-order change of an exponentially weighted Sharpe ratio
      const a = this.momentA[i];
      const b = this.momentB[i];
      const variance = b - a * a;
      const dA = r - a;
      const dB = r * r - b;
      const dsr = variance > 1e-12 ? Math.max(-10, Math.min(10, (b * dA - 0.5 * a * dB) / variance ** 1.5)) : 0;
      this.momentA[i] = a + w.sharpeDecay * dA;
      this.momentB[i] = b + w.sharpeDecay * dB;
      result.reward[i] = (w.pnl * r - w.drawdown * drawdownIncrease - w.turnover * Math.abs(target - previousTarget)) * w.scale + w.sharpe * dsr;
      result.info.equity[i] = equity;
      result.info.pnl[i] = equity - before;
      result.info.position[i] = this.held[i];
      result.info.fees[i] = this.stepFees[i];
      const truncated = !terminated && this.episodeBars > 0 && this.steps[i] >= this.episodeBars;
      result.terminated[i] = terminated ? 1 : 0;
      result.truncated[i] = truncated ? 1 : 0;
      if (terminated || truncated) {
        this.observe(i, result.info.finalObservation, i * size);
        if (this.autoReset) this.resetOne(i);
      }
      this.observe(i, result.observation, i * size);
    }
    return result;
  }

  /** Write environment `i`'s observation at its current row into `out` at `offset`. */
  observe(i: number, out: Float32Array, offset: number): void {
    const { features, cols, close } = this.market;
    const t = this.row[i];
    let k = offset;
    for (let j = t - this.window + 1; j <= t; j++) {
      const source = Math.max(0, j) * cols;
      for (let c = 0; c < cols; c++) out[k++] = features[source + c];
    }
    out[k++] = this.held[i];
    out[k] = this.units[i] !== 0 ? Math.sign(this.units[i]) * (close[t] / this.entryPrice[i] - 1) : 0;
  }

  private resetOne(i: number): void {
    const last = this.rows - 2;
    const first = Math.min(this.window - 1, last);
    // 'first' starts at row 0 (its window edge-padded), as a backtest does
    let start = 0;
    if (this.start === 'random') {
      const latest = this.episodeBars > 0 ? Math.max(first, this.rows - 1 - this.episodeBars) : first;
      start = first + Math.floor(this.rng.uniform() * (latest - first + 1));
    }
    this.row[i] = start;
    this.steps[i] = 0;
    this.cash[i] = this.costs.initialCash;
    this.units[i] = 0;
    this.held[i] = 0;
    this.entryPrice[i] = 0;
    this.peak[i] = this.costs.initialCash;
    this.drawdown[i] = 0;
    this.momentA[i] = 0;
    this.momentB[i] = 0;
  }

  /** A new target at `base` price: the engine's submitTarget + resolveQuantity for market orders. */
  private applyTarget(i: number, target: number, base: number): void {
    const held = this.held[i];
    if (target === held) return;
    const flip = held !== 0 && (target === 0 || Math.sign(target) !== Math.sign(held));
    if (this.costs.exclusive || flip) {
      if (this.units[i] !== 0) this.fill(i, this.units[i] > 0 ? -1 : 1, Math.abs(this.units[i]), base);
      if (target !== 0) this.enter(i, target, base, false);
    } else if (target !== 0) {
      this.enter(i, target, base, held !== 0);
    }
    this.held[i] = target;
  }

  private enter(i: number, target: number, base: number, adjust: boolean): void {
    const direction = target > 0 ? 1 : -1;
    const capital = Math.max(0, this.cash[i] + this.units[i] * base);
    const rate = this.costs.commission.kind === 'rate' ? this.costs.commission.rate : 0;
    // sized so that position value + its commission = the committed capital, at the slipped price
    const desired = (capital * this.costs.fraction * Math.abs(target)) / (base * (1 + direction * this.costs.slippage) * (1 + rate));
    let side = direction;
    let quantity = desired;
    if (adjust) {
      const delta = direction * desired - this.units[i];
      side = delta >= 0 ? 1 : -1;
      quantity = Math.abs(delta);
    }
    const units = this.units[i];
    if (units === 0 || Math.sign(units) === side) quantity = leverageCap(quantity, base, this.cash[i] + units * base, Math.abs(units * base), this.costs.leverage);
    this.fill(i, side, quantity, base);
  }

  /** One fill (direction +1 buy, −1 sell) of `quantity` units at `base` moved by slippage, commission charged. */
  private fill(i: number, direction: number, quantity: number, base: number): void {
    if (!(quantity > DUST)) return;
    const price = base * (1 + direction * this.costs.slippage);
    const notional = quantity * price;
    const commission = this.costs.commission;
    const fee = commission.kind === 'rate' ? notional * commission.rate : notional > 0 ? commission.perFill : 0;
    this.cash[i] -= direction * notional + fee;
    this.stepFees[i] += fee;
    const units = this.units[i];
    if (units === 0 || Math.sign(units) === direction) {
      const held = Math.abs(units);
      this.entryPrice[i] = (held * this.entryPrice[i] + quantity * price) / (held + quantity);
    }
    let next = units + direction * quantity;
    if (Math.abs(next) <= DUST) next = 0;
    this.units[i] = next;
  }
}
