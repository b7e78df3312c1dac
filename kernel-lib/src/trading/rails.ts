import * as path from 'node:path';
import { ConfigError } from '../errors';

/** One step of the capital ramp-up: from `afterDays` days or `afterTrades` filled orders on (both when both are given). */
export type RampStep = { afterDays?: number; afterTrades?: number; fraction: number };

/** Safety limits of live (and dry-run) trading. All optional; none set means none applied. */
export type TradingRails = {
  /** Largest position in base units (e.g. 0.5 BTC). */
  maxPositionBase?: number;
  /** Largest position value in quote (e.g. 2000 USDT at the decision price). */
  maxPositionQuote?: number;
  /** Largest single order value in quote. */
  maxOrderValue?: number;
  /** Stop for the UTC day once equity is this fraction below the day's starting equity (e.g. 0.03). */
  maxDailyLossFraction?: number;
  /** Stop for the UTC day once equity is this much quote below the day's starting equity. */
  maxDailyLossQuote?: number;
  /** Orders sent in any 60 s window at most. */
  maxOrdersPerMinute?: number;
  /**
   * Fraction of capital usable over time, e.g. [{afterDays: 0, fraction: 0.1}, {afterDays: 3, fraction: 0.5},
   * {afterDays: 10, fraction: 1}]. The last step reached applies; before the first, nothing is traded.
   */
  rampUp?: RampStep[];
};

export const DAY_MS = 86_400_000;
export const KILL_FILE = 'KILL';

/** The kill-switch file of a state folder: its existence stops trading. */
export function killFilePath(stateDir: string): string {
  return path.join(stateDir, KILL_FILE);
}

/** Refuse meaningless limits with a one-line error. */
export function validateRails(rails: TradingRails): void {
  const positive = ['maxPositionBase', 'maxPositionQuote', 'maxOrderValue', 'maxDailyLossQuote', 'maxOrdersPerMinute'] as const;
  for (const name of positive) {
    const v = rails[name];
    if (v !== undefined && !(v > 0)) throw new ConfigError(`rails.${name} is ${v}; give a positive number or leave it out`);
  }
  const loss = rails.maxDailyLossFraction;
  if (loss !== undefined && !(loss > 0 && loss < 1)) throw new ConfigError(`rails.maxDailyLossFraction is ${loss}; give a fraction between 0 and 1 (0.03 = 3 %)`);
  for (const [i, step] of (rails.rampUp ?? []).entries()) {
    if (!(step.fraction >= 0 && step.fraction <= 1)) throw new ConfigError(`rails.rampUp[${i}].fraction is ${step.fraction}; give a fraction between 0 and 1`);
    if (step.afterDays === undefined && step.afterTrades === undefined) throw new ConfigError(`rails.rampUp[${i}] needs afterDays or afterTrades`);
  }
}

/** The usable fraction of capital after `days` days and `trades` filled orders. */
export function rampFraction(steps: RampStep[] | undefined, progress: { days: number; trades: number }): number {
  if (!steps || steps.length === 0) return 1;
  let fraction = 0;
  let best = -Infinity;
  for (const step of steps) {
    const reached = (step.afterDays === undefined || progress.days >= step.afterDays) && (step.afterTrades === undefined || progress.trades >= step.afterTrades);
    // The step furthest along that is reached wins, whatever the listing order.
    const rank = (step.afterDays ?? 0) * 1e6 + (step.afterTrades ?? 0);
    if (reached && rank >= best) {
      best = rank;
      fraction = step.fraction;
    }
  }
  return fraction;
}

/** The reason trading stops for the day, or undefined while the loss is within the limit. */
export function dailyLossBreach(rails: TradingRails, startEquity: number, equity: number, quote: string): string | undefined {
  const loss = startEquity - equity;
  if (rails.maxDailyLossQuote !== undefined && loss >= rails.maxDailyLossQuote) {
    return `daily loss ${fmt(loss)} ${quote} reached the limit ${rails.maxDailyLossQuote} ${quote} (day start equity ${fmt(startEquity)}); trading stops until the next UTC day`;
  }
  if (rails.maxDailyLossFraction !== undefined && startEquity > 0 && loss / startEquity >= rails.maxDailyLossFraction) {
    return `daily loss ${fmt((100 * loss) / startEquity)} % reached the limit ${fmt(100 * rails.maxDailyLossFraction)} % (day start equity ${fmt(startEquity)} ${quote}); trading stops until the next UTC day`;
  }
  return undefined;
}

/** Times within the last minute before `now`. */
export function recentOrders(times: number[], now: number, windowMs = 60_000): number[] {
  return times.filter((t) => t > now - windowMs && t <= now);
}

/** The desired position capped by the position limits, with the reason when capped. */
export function capPosition(rails: TradingRails, desired: number, price: number, base: string): { position: number; reason?: string } {
  let position = desired;
  let reason: string | undefined;
  if (rails.maxPositionBase !== undefined && position > rails.maxPositionBase) {
    position = rails.maxPositionBase;
    reason = `position capped at max ${rails.maxPositionBase} ${base}`;
  }
  if (rails.maxPositionQuote !== undefined && position * price > rails.maxPositionQuote) {
    position = rails.maxPositionQuote / price;
    reason = `position capped at max value ${rails.maxPositionQuote}`;
  }
  return { position, reason };
}

/** An order amount capped by the order value limit, with the reason when capped. */
export function capOrder(rails: TradingRails, amount: number, price: number): { amount: number; reason?: string } {
  if (rails.maxOrderValue !== undefined && amount * price > rails.maxOrderValue) {
    return { amount: rails.maxOrderValue / price, reason: `order capped at max order value ${rails.maxOrderValue}` };
  }
  return { amount };
}

function fmt(x: number): string {
  return String(Number(x.toFixed(4)));
}
