import { z } from 'zod';
import { parseConfig } from '../util/parse-config';

/**
 * Backtest settings: one schema for the spec's `backtest` section, the CLI and the library. Every field
 * has a default: next-open fills, all of the sleeve's equity per entry, fractional units, market entries,
 * a changed target trades the difference (a change of side closes first). docs/backtest.md says exactly
 * what each setting does.
 */

const commission = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('bps'),
      /** Market and stop orders (they take liquidity). */
      takerBps: z.number().min(0).max(10_000),
      /** Limit orders (they make liquidity); defaults to the taker rate. */
      makerBps: z.number().min(0).max(10_000).optional(),
    })
    .strict(),
  z.object({ kind: z.literal('fixed'), perFill: z.number().min(0) }).strict(),
]);

const slippage = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('fixed'), bps: z.number().min(0).max(10_000) }).strict(),
  /** bps = multiplier × the standard deviation of close-to-close returns over `window` bars, in bps. */
  z.object({ kind: z.literal('volatility'), multiplier: z.number().min(0).default(0.5), window: z.number().int().min(2).default(20) }).strict(),
  /** bps = impactBps × √(quantity / previous bar's volume); quantity capped at maxParticipation × that volume. */
  z.object({ kind: z.literal('volume'), impactBps: z.number().min(0).default(10), maxParticipation: z.number().positive().max(1).default(0.1) }).strict(),
]);

const sizing = z.discriminatedUnion('kind', [
  /** Commit `fraction` × sleeve equity × |target| per entry. */
  z.object({ kind: z.literal('equity-fraction'), fraction: z.number().positive().max(100).default(1) }).strict(),
  /** A fixed number of units × |target| per entry. */
  z.object({ kind: z.literal('fixed-units'), units: z.number().positive() }).strict(),
  /** Risk `riskFraction` of sleeve equity per `atrMultiple` ATRs of adverse move (volatility targeting). */
  z
    .object({
      kind: z.literal('volatility-target'),
      riskFraction: z.number().positive().max(1).default(0.01),
      atrMultiple: z.number().positive().default(2),
      atrPeriod: z.number().int().min(2).default(14),
    })
    .strict(),
  /** Kelly fraction p − (1 − p)/b from the signal's confidence p and payoff b, times `multiplier`, capped. */
  z
    .object({
      kind: z.literal('kelly'),
      cap: z.number().positive().max(1).default(0.25),
      multiplier: z.number().positive().max(1).default(0.5),
      /** Payoff ratio b; default: take-profit distance / stop-loss distance when both are set, else 1. */
      payoff: z.number().positive().optional(),
    })
    .strict(),
]);

const exits = z
  .object({
    stopLossPct: z.number().positive().max(1).optional(),
    takeProfitPct: z.number().positive().optional(),
    trailingStopPct: z.number().positive().max(1).optional(),
    /** Stop-loss / take-profit at a multiple of ATR from the entry (ATR at the decision bar). */
    stopLossAtr: z.number().positive().optional(),
    takeProfitAtr: z.number().positive().optional(),
    atrPeriod: z.number().int().min(2).default(14),
  })
  .strict();

const risk = z
  .object({
    /** Rolling historical VaR/CVaR of per-bar portfolio returns. */
    varWindow: z.number().int().min(10).default(250),
    varConfidence: z.number().gt(0.5).lt(1).default(0.95),
    /** Block new entries while the rolling VaR (a positive fraction) exceeds this. */
    maxVar: z.number().positive().optional(),
    /** Kill switch: at this drawdown (fraction) close everything and stop trading. */
    maxDrawdown: z.number().positive().max(1).optional(),
    /** Circuit breaker: a bar return beyond `multiple` rolling deviations pauses entries for `pauseBars` bars. */
    volatilityBreaker: z
      .object({ multiple: z.number().positive().default(5), window: z.number().int().min(5).default(100), pauseBars: z.number().int().min(1).default(24) })
      .strict()
      .optional(),
    /** |position value| of one asset ≤ this × equity. */
    maxAssetExposure: z.number().positive().optional(),
    /** Σ |position values| ≤ this × equity. */
    maxTotalExposure: z.number().positive().optional(),
    /** Annualized portfolio volatility from the rolling covariance of asset returns ≤ this. */
    maxPortfolioVolatility: z.number().positive().optional(),
    correlationWindow: z.number().int().min(10).default(100),
  })
  .strict();

export const backtestSettingsSchema = z
  .object({
    initialCash: z.number().positive().default(10_000),
    /** Orders decided at a bar's close fill at the next bar's open, or at the same close. */
    fill: z.enum(['next-open', 'close']).default('next-open'),
    /** Shorthand for { kind: 'bps', takerBps: commissionBps }; `commission` wins when both are given. */
    commissionBps: z.number().min(0).max(10_000).default(10),
    commission: commission.optional(),
    /** Shorthand for { kind: 'fixed', bps: slippageBps }; `slippage` wins when both are given. */
    slippageBps: z.number().min(0).max(10_000).default(5),
    slippage: slippage.optional(),
    sizing: sizing.default({ kind: 'equity-fraction', fraction: 1 }),
    /** Per-trade risk limit: units ≤ maxRiskPerTrade × sleeve equity / stop-loss distance (needs a stop-loss). */
    maxRiskPerTrade: z.number().positive().max(1).optional(),
    /** 'whole' rounds every order down to a multiple of lotSize (default 1 unit). */
    units: z.enum(['fractional', 'whole']).default('fractional'),
    lotSize: z.number().positive().default(1),
    /** The exchange's price tick: limit and stop prices are rounded to it (buy limits down, sell limits up). */
    tickSize: z.number().positive().optional(),
    /** The exchange's minimum order value: smaller orders are skipped (closing a whole position is always allowed). */
    minNotional: z.number().min(0).optional(),
    /** Any fill is capped at this share of the previous bar's volume; the rest is cancelled (a partial fill). */
    maxParticipation: z.number().positive().max(1).optional(),
    /**
     * Time from a bar's close to the order reaching the venue. Candles carry no prices inside a bar, so an
     * order fills at the open of the bar in which it arrives: a latency shorter than a bar changes nothing.
     */
    latencyMs: z.number().min(0).default(0),
    /** A changed target first closes the open position, then opens the new one (else: trade the difference). */
    exclusive: z.boolean().default(false),
    /** Gross exposure (Σ |position value|) ≤ leverage × equity. */
    leverage: z.number().positive().max(125).default(1),
    allowShort: z.boolean().default(true),
    /** How entries are placed: market, or limit/stop orders offsetBps from the decision close, valid validBars bars. */
    entry: z
      .object({ type: z.enum(['market', 'limit', 'stop']).default('market'), offsetBps: z.number().min(0).default(0), validBars: z.number().int().min(1).default(1) })
      .strict()
      .default({}),
    exits: exits.default({}),
    risk: risk.default({}),
    /** Bars per year for annualizing; default from the timeframe on a 365-day calendar (use 252 for daily stocks). */
    periodsPerYear: z.number().positive().optional(),
    /** Regime of each bar from the trailing return over `window` bars: bull above +threshold, bear below −threshold. */
    regime: z.object({ window: z.number().int().min(2).optional(), threshold: z.number().positive().default(0.05) }).strict().default({}),
  })
  .strict();

export type BacktestSettings = z.output<typeof backtestSettingsSchema>;
export type BacktestSettingsInput = z.input<typeof backtestSettingsSchema>;
export type CommissionModel = z.output<typeof commission>;
export type SlippageModel = z.output<typeof slippage>;
export type SizingRule = z.output<typeof sizing>;
export type ExitRules = z.output<typeof exits>;
export type RiskSettings = z.output<typeof risk>;

const PARSED = Symbol('candlelab.parsedBacktestSettings');

/**
 * Validate backtest settings once, at the boundary (spec, CLI, portfolio file, notebook call). The
 * result is marked, so the engine and the stages downstream take it as it is instead of parsing again.
 */
export function parseBacktestSettings(input: BacktestSettingsInput | BacktestSettings = {}, where = 'backtest settings'): BacktestSettings {
  if (isParsedBacktestSettings(input)) return input;
  return parseConfig(markedBacktestSettingsSchema, input, where);
}

/** The settings schema whose output is marked as parsed (the spec's `backtest` section uses it). */
export const markedBacktestSettingsSchema = backtestSettingsSchema.transform((settings): BacktestSettings => {
  Object.defineProperty(settings, PARSED, { value: true, enumerable: false });
  return settings;
});

/** Whether these settings came from parseBacktestSettings (or the spec schema, which marks them too). */
export function isParsedBacktestSettings(settings: unknown): settings is BacktestSettings {
  return typeof settings === 'object' && settings !== null && PARSED in settings;
}

/** The commission model in force (the explicit one, else the commissionBps shorthand). */
export function commissionModel(settings: BacktestSettings): CommissionModel {
  return settings.commission ?? { kind: 'bps', takerBps: settings.commissionBps };
}

/** The slippage model in force (the explicit one, else the slippageBps shorthand). */
export function slippageModel(settings: BacktestSettings): SlippageModel {
  return settings.slippage ?? { kind: 'fixed', bps: settings.slippageBps };
}
