import { Frame, type Candles, timeframeMs } from '../frame/frame';
import { ConfigError } from '../errors';
import { SeededRng } from '../util/rng';

/** 'learnable': the documented weak order-flow edge (see generateSyntheticCandles); 'random-walk': nothing to learn. */
export const SYNTHETIC_STRUCTURES = ['learnable', 'random-walk'] as const;
export type SyntheticStructure = (typeof SYNTHETIC_STRUCTURES)[number];

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
  /** Long-run annualized volatility of one-bar returns (default 0.65, BTC-like). */
  annualVolatility?: number;
  /** Degrees of freedom of the Student-t shocks: smaller means fatter tails (default 4). */
  tailDof?: number;
  /** Price tick: opens and closes round to it, highs round up and lows round down (default 0.01). */
  tick?: number;
  /**
   * 'learnable' (default): regimes, GARCH volatility clustering and an order-flow component that makes
   * the next bars' direction weakly predictable from past prices. 'random-walk': i.i.d. fat-tailed
   * returns with constant volatility, nothing predictable (a null market for look-ahead checks).
   * Both are described in full on {@link generateSyntheticCandles}.
   */
  structure?: SyntheticStructure;
  /** Learnable structure only: share w of one-bar return variance from the order-flow component, in [0, 1) (default 0.15; 0 turns the edge off). */
  flowShare?: number;
  /** Learnable structure only: persistence ρ of the order-flow impact, in [0, 1) (default 0.93: builds for ~13 bars, gone after ~100). */
  flowPersistence?: number;
};

/** Bumped whenever the generator's output changes, so cached sample files are never stale. */
export const SYNTHETIC_GENERATOR_VERSION = 3;

/** Bull, bear and sideways regimes: drift in annualized terms and a volatility multiplier. */
const REGIMES = [
  { name: 'bull', annualDrift: 0.9, volatilityScale: 0.9 },
  { name: 'bear', annualDrift: -0.8, volatilityScale: 1.35 },
  { name: 'sideways', annualDrift: 0.0, volatilityScale: 0.7 },
] as const;

/** Expected regime length, in days; switches happen at random with that mean. */
const MEAN_REGIME_DAYS = 45;

/** GARCH(1,1) reaction and persistence: alpha + beta = 0.97 gives clusters lasting days. */
const GARCH_ALPHA = 0.07;
const GARCH_BETA = 0.9;

/** Default share of one-bar variance from the order-flow component, and its persistence. */
const DEFAULT_FLOW_SHARE = 0.15;
const DEFAULT_FLOW_PERSISTENCE = 0.93;

/**
 * A seeded synthetic market. Output is valid OHLCV (0 < low ≤ min(open, close), max(open, close) ≤
 * high, volume ≥ 0), and the same options always give the same numbers, bit for bit.
 *
 * Notation: bar t, N = bars per year (8760 for 1h), σ̄² = annualVolatility² / N, ε_t and ξ_t
 * independent Student-t(ν = tailDof) draws scaled to unit variance (fat tails), r_t the log return of
 * bar t (close over previous close; the first open is startPrice).
 *
 * **structure: 'learnable'** (the default, and the `sample` data source of specs):
 *
 * - Regime R_t ∈ {bull, bear, sideways}, hidden, Markov: each bar it switches with probability
 *   1 / (45 days of bars) to one of the other two (equally likely); start sideways. Drift μ_R (annual)
 *   and volatility scale v_R: bull 0.9 and 0.9, bear −0.8 and 1.35, sideways 0 and 0.7.
 * - GARCH(1,1) variance: h_t = ω + α·h_{t−1}·ε²_{t−1} + β·h_{t−1}, α = 0.07, β = 0.9,
 *   ω = σ̄²·(1 − α − β) (so E h = σ̄²). Bar volatility σ_t = √h_t · v_R · (1 + 0.25·sin(2π(H − 8)/24)),
 *   H the UTC hour of the bar's open (busier US/EU overlap).
 * - Order flow, the learnable part: a transient price component u with
 *   u_t = 2ρ·u_{t−1} − ρ²·u_{t−2} + s·σ_t·ξ_t,  s = √(w·(1 − ρ)·(1 + ρ)³ / 2),
 *   w = flowShare (0.15), ρ = flowPersistence (0.93). A flow shock moves the log price by
 *   (j + 1)·ρ^j times itself j bars later: the move keeps going for about 1/(−ln ρ) − 1 ≈ 13 bars (to
 *   5.4× the shock), then unwinds completely (1.5× after 48 bars, 0.4× after 72, < 0.1× after 96).
 *   s is chosen so that Δu carries the share w of one-bar return variance.
 * - Return: r_t = μ_R / N + √(1 − w)·σ_t·ε_t + (u_t − u_{t−1}); close_t = open_t·e^{r_t}, rounded to the tick.
 *
 * What a model can learn (w = 0.15, ρ = 0.93; exact without GARCH and regimes): the lag-k
 * autocorrelation of one-bar returns is w·Σ_j d_j·d_{j+k} / Σ_j d_j², d_j = (j + 1)ρ^j − jρ^{j−1}
 * the impulse response of Δu: +0.13 at lag 1 (0.09–0.14 measured over seeds), +0.09 at lag 3, +0.02
 * at lag 10, negative from lag 14 (about −0.02 from lag 20 to 40, fading by lag 100). So the next few
 * bars tend to continue the last hours' move, and the next day tends to give back the move of one to
 * three days ago. Variance ratios (k-bar return variance over k one-bar variances): 1.45 at 5 bars, 2.1
 * at 24, 1.2 at 168, 1 − w after a few weeks. Volatility clustering adds a second, direction-free edge:
 * calm stretches predict small moves (the HOLD class of a fixed-threshold label). XGBoost on the
 * quickstart features reaches a test ROC-AUC of 0.60–0.65 on 3 years of 1h bars (BUY and SELL each
 * 0.60–0.67): a real but modest edge, far larger than real markets give. The time scales are in bars,
 * whatever the timeframe.
 *
 * **structure: 'random-walk'**: r_t = σ̄·ε_t, i.i.d. Student-t. No drift, no regimes, no volatility
 * clustering, no intraday cycle, no order flow: neither the direction nor the size of future moves
 * depends on the past, so any model's out-of-sample ROC-AUC should be 0.5 within noise. (Volatility
 * clustering alone would already make a SELL/HOLD/BUY label with a fixed threshold partly predictable.)
 * A spec asks for it with `"data": {"source": "sample", "structure": "random-walk"}`.
 *
 * Both: wicks reach |N(0,1)|·0.6·σ_t beyond the body on each side (σ̄ for the random walk); volume is
 * 800·exp(0.35·N(0,1) + 0.3·|r_t|/σ̄)·v_R (v_R = 1 for the random walk), rounded to 1e-4: it
 * rises with the same bar's move and never leaks the future.
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
  const structure = options.structure ?? 'learnable';
  const flowShare = options.flowShare ?? DEFAULT_FLOW_SHARE;
  const rho = options.flowPersistence ?? DEFAULT_FLOW_PERSISTENCE;
  if (!Number.isInteger(bars) || bars < 2) throw new ConfigError(`bars must be an integer ≥ 2, got ${bars}`);
  if (!Number.isFinite(startMs)) throw new ConfigError(`start '${options.start}' is not an ISO-8601 date; use e.g. 2021-01-01T00:00:00Z`);
  if (!(tick > 0)) throw new ConfigError(`tick must be positive, got ${tick}`);
  if (!SYNTHETIC_STRUCTURES.includes(structure)) throw new ConfigError(`structure must be ${SYNTHETIC_STRUCTURES.map((x) => `'${x}'`).join(' or ')}, got '${structure}'`);
  if (!(flowShare >= 0 && flowShare < 1)) throw new ConfigError(`flowShare must be in [0, 1), got ${flowShare}`);
  if (!(rho >= 0 && rho < 1)) throw new ConfigError(`flowPersistence must be in [0, 1), got ${rho}`);

  const rng = new SeededRng(seed);
  const barsPerYearCount = 365 * barsPerDay;
  const targetVariance = (annualVolatility * annualVolatility) / barsPerYearCount;
  const targetSigma = Math.sqrt(targetVariance);
  const omega = targetVariance * (1 - GARCH_ALPHA - GARCH_BETA);
  const switchProbability = 1 / (MEAN_REGIME_DAYS * barsPerDay);
  // Σ_j d_j² = 2 / ((1 − ρ)(1 + ρ)³) for the impulse response d_j of Δu, so s² Σ d_j² = w.
  const flowScale = Math.sqrt((flowShare * (1 - rho) * (1 + rho) ** 3) / 2);
  const permanentScale = Math.sqrt(1 - flowShare);

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
  let flow = 0;
  let previousFlow = 0;
  let price = roundTick(options.startPrice ?? 29_000);
  for (let i = 0; i < bars; i++) {
    let logReturn: number;
    let sigma: number;
    let volatilityScale = 1;
    if (structure === 'random-walk') {
      sigma = targetSigma;
      logReturn = sigma * rng.studentT(tailDof);
    } else {
      if (rng.uniform() < switchProbability) regime = (regime + 1 + Math.floor(rng.uniform() * 2)) % 3;
      const current = REGIMES[regime];
      volatilityScale = current.volatilityScale;
      variance = omega + GARCH_ALPHA * previousShock * previousShock + GARCH_BETA * variance;
      const hourOfDay = ((startMs + i * stepMs) % 86_400_000) / 3_600_000;
      // Crypto trades around the clock, but the US/EU session overlap is busier.
      const intraday = 1 + 0.25 * Math.sin(((hourOfDay - 8) / 24) * 2 * Math.PI);
      sigma = Math.sqrt(variance) * volatilityScale * intraday;
      const epsilon = rng.studentT(tailDof);
      const xi = rng.studentT(tailDof);
      // GARCH reacts to the permanent news shock, at the regime- and hour-free scale √h_t.
      previousShock = Math.sqrt(variance) * epsilon;
      const nextFlow = 2 * rho * flow - rho * rho * previousFlow + flowScale * sigma * xi;
      previousFlow = flow;
      flow = nextFlow;
      // Drift is on log prices: the median path follows the regime drift.
      logReturn = current.annualDrift / barsPerYearCount + permanentScale * sigma * epsilon + (flow - previousFlow);
    }

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
    const activity = Math.abs(logReturn) / targetSigma;
    volume[i] = Math.round(800 * Math.exp(0.35 * rng.normal() + 0.3 * activity) * volatilityScale * 1e4) / 1e4;
    price = barClose;
  }
  return Frame.fromColumns(time, { open, high, low, close, volume }, {
    exchange: 'synthetic',
    symbol: options.symbol ?? 'BTC/USDT',
    timeframe,
    source: structure === 'random-walk' ? `synthetic:random-walk:seed=${seed}` : `synthetic:seed=${seed}`,
  });
}
