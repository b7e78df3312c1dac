import { Frame, type Candles, timeframeMs } from '../frame/frame';
import { ConfigError } from '../errors';
import { SeededRng } from '../util/rng';

/** Settings of the synthetic market; every field has a default that looks like BTC/USDT 1h. */
export type SyntheticMarketOptions = {
  seed?: number;
  symbol?: string;
  timeframe?: string;
  /** Number of bars (default: three years of the timeframe). */
  bars?: number;
  /** First bar's open time, ISO-8601 UTC (default 2021-01-01T00:00:00Z). */
  start?: string;
  startPrice?: number;
  /** Long-run annualized volatility (default 0.65, BTC-like). */
  annualVolatility?: number;
  /** Degrees of freedom of the Student-t shocks: smaller means fatter tails (default 4). */
  tailDof?: number;
  /** Price tick: opens and closes round to it, highs round up and lows round down (default 0.01). */
  tick?: number;
};

/** Bumped whenever the generator's output changes, so cached sample files are never stale. */
export const SYNTHETIC_GENERATOR_VERSION = 2;

/** Bull, bear and sideways regimes: drift in annualized terms and a volatility multiplier. */
const REGIMES = [
  { name: 'bull', annualDrift: 0.9, volatilityScale: 0.9 },
  { name: 'bear', annualDrift: -0.8, volatilityScale: 1.35 },
  { name: 'sideways', annualDrift: 0.0, volatilityScale: 0.7 },
] as const;

/** Expected regime length, in days; switches happen at random with that mean. */
const MEAN_REGIME_DAYS = 45;

/**
 * A seeded synthetic market: GARCH(1,1) volatility clustering, Student-t shocks (fat tails), Markov
 * regime changes (bull, bear, sideways), an intraday volatility cycle and volume that rises with
 * absolute returns. Output is valid OHLCV (low ≤ min(open, close), max(open, close) ≤ high,
 * volume ≥ 0), and the same options always give the same numbers, bit for bit.
 */
export function generateSyntheticCandles(options: SyntheticMarketOptions = {}): Candles {
  const seed = options.seed ?? 42;
  const timeframe = options.timeframe ?? '1h';
  const stepMs = timeframeMs(timeframe);
  const barsPerDay = 86_400_000 / stepMs;
  const bars = options.bars ?? Math.round(3 * 365 * barsPerDay);
  const startMs = Date.parse(options.start ?? '2021-01-01T00:00:00Z');
  const tick = options.tick ?? 0.01;
  const tailDof = options.tailDof ?? 4;
  const annualVolatility = options.annualVolatility ?? 0.65;
  if (!Number.isInteger(bars) || bars < 2) throw new ConfigError(`bars must be an integer ≥ 2, got ${bars}`);
  if (!Number.isFinite(startMs)) throw new ConfigError(`start '${options.start}' is not an ISO-8601 date; use e.g. 2021-01-01T00:00:00Z`);
  if (!(tick > 0)) throw new ConfigError(`tick must be positive, got ${tick}`);

  const rng = new SeededRng(seed);
  const barsPerYearCount = 365 * barsPerDay;
  const targetVariance = (annualVolatility * annualVolatility) / barsPerYearCount;
  // GARCH(1,1): persistence alpha + beta = 0.97 gives clusters lasting days; omega sets the long-run level.
  const alpha = 0.07;
  const beta = 0.9;
  const omega = targetVariance * (1 - alpha - beta);
  const switchProbability = 1 / (MEAN_REGIME_DAYS * barsPerDay);

  const time = new Float64Array(bars);
  const open = new Float64Array(bars);
  const high = new Float64Array(bars);
  const low = new Float64Array(bars);
  const close = new Float64Array(bars);
  const volume = new Float64Array(bars);

  const roundTick = (x: number): number => Math.round(x / tick) * tick;
  let regime = 2;
  let variance = targetVariance;
  let previousShock = 0;
  let price = roundTick(options.startPrice ?? 29_000);
  for (let i = 0; i < bars; i++) {
    if (rng.uniform() < switchProbability) regime = (regime + 1 + Math.floor(rng.uniform() * 2)) % 3;
    const { annualDrift, volatilityScale } = REGIMES[regime];
    variance = omega + alpha * previousShock * previousShock + beta * variance;
    const hourOfDay = ((startMs + i * stepMs) % 86_400_000) / 3_600_000;
    // Crypto trades around the clock, but the US/EU session overlap is busier.
    const intraday = 1 + 0.25 * Math.sin(((hourOfDay - 8) / 24) * 2 * Math.PI);
    const sigma = Math.sqrt(variance) * volatilityScale * intraday;
    const shock = sigma * rng.studentT(tailDof);
    previousShock = shock / (volatilityScale * intraday);
    // Drift is on log prices: the median path follows the regime drift.
    const logReturn = annualDrift / barsPerYearCount + shock;

    const barOpen = price;
    const barClose = Math.max(tick, roundTick(barOpen * Math.exp(logReturn)));
    // Wicks beyond the body, scaled by the bar's volatility.
    const upperWick = Math.abs(rng.normal()) * sigma * 0.6;
    const lowerWick = Math.abs(rng.normal()) * sigma * 0.6;
    const bodyHigh = Math.max(barOpen, barClose);
    const bodyLow = Math.min(barOpen, barClose);
    time[i] = startMs + i * stepMs;
    open[i] = barOpen;
    close[i] = barClose;
    high[i] = Math.max(bodyHigh, Math.ceil((bodyHigh * Math.exp(upperWick)) / tick) * tick);
    low[i] = Math.max(tick, Math.min(bodyLow, Math.floor((bodyLow * Math.exp(-lowerWick)) / tick) * tick));
    // Volume: lognormal noise, higher on large moves and in bear markets; rounded to 1e-4 units.
    const activity = Math.abs(logReturn) / Math.sqrt(targetVariance);
    volume[i] = Math.round(800 * Math.exp(0.35 * rng.normal() + 0.3 * activity) * volatilityScale * 1e4) / 1e4;
    price = barClose;
  }
  return Frame.fromColumns(time, { open, high, low, close, volume }, {
    exchange: 'synthetic',
    symbol: options.symbol ?? 'BTC/USDT',
    timeframe,
    source: `synthetic:seed=${seed}`,
  });
}
