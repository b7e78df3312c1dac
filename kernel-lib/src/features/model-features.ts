import { z } from 'zod';
import { ConfigError } from '../errors';
import { defineFeature } from '../plugins/define';
import { SeededRng } from '../util/rng';
import { SteppedStream } from './streaming/streaming-feature';
import { ringAt, ringPush, ringState } from './streaming/primitives';
import { HistoryStream, historyRows, type RowHistory } from './streaming/history-stream';
import type { RowRange } from '../validation/splitter';

/**
 * Features with fitted or structural parts: coin identity, funding/open-interest microstructure,
 * GARCH(1,1) conditional volatility, causal wavelet denoising.
 */

/** The base asset of a symbol: 'BTC/USDT' → 'BTC', 'ETH/USDT:USDT' → 'ETH'. */
export function baseAsset(symbol: string): string {
  return symbol.split(/[/:-]/)[0].toUpperCase();
}

/** A fixed unit-length embedding of a name, the same in every run (seeded by the name's characters). */
export function fixedEmbedding(name: string, dims: number): number[] {
  let seed = 2166136261;
  for (const char of name) seed = Math.imul(seed ^ char.charCodeAt(0), 16777619) >>> 0;
  const rng = new SeededRng(seed);
  const vector = Array.from({ length: dims }, () => rng.normal());
  const norm = Math.sqrt(vector.reduce((sum, v) => sum + v * v, 0)) || 1;
  return vector.map((v) => v / norm);
}

/** Coin identity for universal multi-coin models: one-hot over a declared universe, and a fixed embedding. */
export const coinIdentityFeature = defineFeature({
  id: 'core/coin-identity',
  version: '1.0.0',
  doc: "One-hot columns over the coin universe `coins` and a fixed `dims`-dimensional embedding of the series' base asset.",
  params: z.object({ coins: z.array(z.string().min(1)).min(1).default(['BTC', 'ETH']), dims: z.number().int().min(0).max(64).default(4) }),
  lookback: () => 0,
  outputs: (p) => [...p.coins.map((c) => `coin_${c.toUpperCase()}`), ...Array.from({ length: p.dims }, (_, k) => `coin_emb_${k}`)],
  compute: (candles, p) => {
    const coin = baseAsset(candles.meta.symbol);
    const universe = p.coins.map((c) => c.toUpperCase());
    if (!universe.includes(coin)) throw new ConfigError(`coin-identity: ${candles.meta.symbol}'s base asset ${coin} is not in coins [${universe.join(', ')}]; add it`);
    const n = candles.length;
    const columns: Record<string, Float64Array> = {};
    for (const c of universe) columns[`coin_${c}`] = new Float64Array(n).fill(c === coin ? 1 : 0);
    fixedEmbedding(coin, p.dims).forEach((value, k) => (columns[`coin_emb_${k}`] = new Float64Array(n).fill(value)));
    return columns;
  },
});

/**
 * The coin's position in a declared universe as one integer column (`coin_id`: 0, 1, …): the input of
 * a learned coin embedding (the neural models' `coinEmbedding` param), beside core/coin-identity's
 * fixed one-hot and embedding.
 */
export const coinIndexFeature = defineFeature({
  id: 'core/coin-index',
  version: '1.0.0',
  doc: "The series' base asset as an integer index into the universe `coins` (column coin_id), for a learned coin embedding.",
  params: z.object({ coins: z.array(z.string().min(1)).min(1).default(['BTC', 'ETH']) }),
  lookback: () => 0,
  outputs: () => ['coin_id'],
  compute: (candles, p) => {
    const coin = baseAsset(candles.meta.symbol);
    const index = p.coins.map((c) => c.toUpperCase()).indexOf(coin);
    if (index < 0) throw new ConfigError(`coin-index: ${candles.meta.symbol}'s base asset ${coin} is not in coins [${p.coins.join(', ')}]; add it`);
    return { coin_id: new Float64Array(candles.length).fill(index) };
  },
});

/** Carry the last known value forward (causal), NaN before the first one. */
function forwardFill(values: Float64Array): Float64Array {
  const out = new Float64Array(values.length);
  let last = NaN;
  for (let i = 0; i < values.length; i++) {
    if (Number.isFinite(values[i])) last = values[i];
    out[i] = last;
  }
  return out;
}

/** Funding rate of a perpetual future: level (carried forward), moving average, change; from the data's funding_rate column. */
export const fundingFeature = defineFeature({
  id: 'core/funding',
  version: '1.0.0',
  doc: "Funding rate level, its moving average over `window` bars and its change, from the data's 'funding_rate' column.",
  params: z.object({ window: z.number().int().min(2).default(72) }),
  inputs: () => ['funding_rate'],
  lookback: (p) => p.window - 1,
  outputs: (p) => ['funding_level', `funding_ma_${p.window}`, 'funding_change'],
  compute: (frame, p) => {
    const level = forwardFill(frame.column('funding_rate' as 'close'));
    const n = level.length;
    const average = new Float64Array(n).fill(NaN);
    const change = new Float64Array(n).fill(NaN);
    for (let i = 0; i < n; i++) {
      if (i > 0) change[i] = level[i] - level[i - 1];
      if (i >= p.window - 1) {
        let sum = 0;
        for (let j = i - p.window + 1; j <= i; j++) sum += level[j];
        average[i] = sum / p.window;
      }
    }
    return { funding_level: level, [`funding_ma_${p.window}`]: average, funding_change: change };
  },
});

export const openInterestFeature = defineFeature({
  id: 'core/open-interest',
  version: '1.0.0',
  doc: "Open-interest change over `bars` bars (a fraction), from the data's 'open_interest' column.",
  params: z.object({ bars: z.number().int().min(1).default(24) }),
  inputs: () => ['open_interest'],
  lookback: (p) => p.bars,
  outputs: (p) => [`oi_change_${p.bars}`],
  compute: (frame, p) => {
    const oi = forwardFill(frame.column('open_interest' as 'close'));
    const out = new Float64Array(oi.length).fill(NaN);
    for (let i = p.bars; i < oi.length; i++) out[i] = oi[i] / oi[i - p.bars] - 1;
    return { [`oi_change_${p.bars}`]: out };
  },
});

export type GarchParameters = { omega: number; alpha: number; beta: number; mean: number; logLikelihood: number };

/** Minimize `f` over R² with Nelder–Mead (the simplex method), from `start`. */
function nelderMead(f: (x: number[]) => number, start: number[], iterations = 400): number[] {
  let simplex = [start, [start[0] + 0.5, start[1]], [start[0], start[1] + 0.5]].map((x) => ({ x, v: f(x) }));
  for (let it = 0; it < iterations; it++) {
    simplex.sort((a, b) => a.v - b.v);
    const [best, good, worst] = simplex;
    if (Math.abs(worst.v - best.v) < 1e-10 * (1 + Math.abs(best.v))) break;
    const centroid = best.x.map((_, k) => (best.x[k] + good.x[k]) / 2);
    const at = (t: number) => centroid.map((c, k) => c + t * (worst.x[k] - c));
    const reflected = { x: at(-1), v: 0 };
    reflected.v = f(reflected.x);
    if (reflected.v < best.v) {
      const expanded = { x: at(-2), v: 0 };
      expanded.v = f(expanded.x);
      simplex = [best, good, expanded.v < reflected.v ? expanded : reflected];
    } else if (reflected.v < good.v) simplex = [best, good, reflected];
    else {
      const contracted = { x: at(0.5), v: 0 };
      contracted.v = f(contracted.x);
      if (contracted.v < worst.v) simplex = [best, good, contracted];
      else simplex = simplex.map((p, k) => (k === 0 ? p : { x: p.x.map((v, j) => best.x[j] + 0.5 * (v - best.x[j])), v: 0 })).map((p, k) => (k === 0 ? p : { x: p.x, v: f(p.x) }));
    }
  }
  simplex.sort((a, b) => a.v - b.v);
  return simplex[0].x;
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/**
 * Fit GARCH(1,1) by Gaussian maximum likelihood on `returns` (demeaned), with variance targeting
 * (ω = σ̄²(1 − α − β)) and α, β kept in the stationary region through a logistic reparametrization.
 * @see Bollerslev (1986), Generalized autoregressive conditional heteroskedasticity.
 */
export function fitGarch(returns: Float64Array | readonly Float64Array[]): GarchParameters {
  // Several segments (training rows with gaps): one likelihood, the recursion restarting in each.
  const segments = returns instanceof Float64Array ? [returns] : returns;
  const n = segments.reduce((sum, s) => sum + s.length, 0);
  if (n < 50) throw new ConfigError(`GARCH needs at least 50 returns to fit, got ${n}`);
  let mean = 0;
  for (const segment of segments) for (const r of segment) mean += r;
  mean /= n;
  let variance = 0;
  for (const segment of segments) for (const r of segment) variance += (r - mean) ** 2;
  variance /= n;
  const negativeLogLikelihood = ([u, v]: number[]): number => {
    const persistence = 0.9999 * sigmoid(u);
    const alpha = persistence * sigmoid(v);
    const beta = persistence - alpha;
    const omega = variance * (1 - persistence);
    let nll = 0;
    for (const segment of segments) {
      let sigma2 = variance;
      for (let t = 0; t < segment.length; t++) {
        const e = segment[t] - mean;
        nll += 0.5 * (Math.log(sigma2) + (e * e) / sigma2);
        sigma2 = omega + alpha * e * e + beta * sigma2;
      }
    }
    return nll;
  };
  const [u, v] = nelderMead(negativeLogLikelihood, [2, -2]);
  const persistence = 0.9999 * sigmoid(u);
  const alpha = persistence * sigmoid(v);
  const beta = persistence - alpha;
  return { omega: variance * (1 - persistence), alpha, beta, mean, logLikelihood: -negativeLogLikelihood([u, v]) - 0.5 * n * Math.log(2 * Math.PI) };
}

/**
 * GARCH(1,1) volatility forecast for the next bar, known at each bar's close. Where its parameters come from:
 * - in a run, the runner's training rows (`context.fitRows`; each walk-forward window's own), then the
 *   variance recursion is filtered forward over all rows;
 * - with `fitRows`, the leading `fitRows` rows (a fixed, explicit fit);
 * - otherwise (e.g. `candlelab features`), causally: refitted every `refitEvery` bars on all rows up to
 *   then (an expanding window), so no value uses a later bar.
 * Values start after `minFitRows` rows (or row 1 with an explicit `fitRows`).
 */
export const garchFeature = defineFeature({
  id: 'core/garch',
  version: '2.0.0',
  doc: 'GARCH(1,1) next-bar volatility forecast (per bar, a fraction): MLE on the run\'s training rows (expanding causal refits outside a run), filtered forward.',
  params: z.object({
    /** Fit on exactly this many leading rows instead. */
    fitRows: z.number().int().min(51).optional(),
    /** Warm-up: rows before the first value, and the fewest rows a fit may use. */
    minFitRows: z.number().int().min(51).default(250),
    /** Outside a run: bars between the expanding-window refits. */
    refitEvery: z.number().int().min(1).default(500),
  }),
  fittedOnLeadingRows: true,
  lookback: (p) => (p.fitRows !== undefined ? 1 : p.minFitRows),
  outputs: () => ['garch_vol'],
  compute: (candles, p, context) => {
    const close = candles.column('close');
    const n = close.length;
    // percent log returns: better conditioned for the likelihood; returns[r − 1] is row r's
    const returns = new Float64Array(Math.max(0, n - 1));
    for (let i = 1; i < n; i++) returns[i - 1] = 100 * Math.log(close[i] / close[i - 1]);
    const out = new Float64Array(n).fill(NaN);
    const filter = (fit: GarchParameters, from: number, to: number, sigma2: number): number => {
      for (let t = from; t < to; t++) {
        const e = returns[t] - fit.mean;
        sigma2 = fit.omega + fit.alpha * e * e + fit.beta * sigma2; // the forecast for the bar after t + 1
        out[t + 1] = Math.sqrt(sigma2) / 100;
      }
      return sigma2;
    };
    const unconditional = (fit: GarchParameters) => fit.omega / Math.max(1e-12, 1 - fit.alpha - fit.beta);
    if (p.fitRows !== undefined || context?.fitRows) {
      const segments = p.fitRows !== undefined ? [{ start: 0, end: Math.min(n, p.fitRows) }] : context!.fitRows!;
      const fit = fitGarch(segments.map((r) => returns.subarray(Math.max(0, r.start - 1), Math.max(0, r.end - 1))).filter((r) => r.length > 0));
      filter(fit, 0, returns.length, unconditional(fit));
      if (p.fitRows === undefined) out.fill(NaN, 0, Math.min(n, p.minFitRows));
      return { garch_vol: out };
    }
    // Expanding causal refits: the parameters used from row t on were fitted on rows ≤ t.
    let sigma2 = NaN;
    for (let at = p.minFitRows; at < n; at += p.refitEvery) {
      const fit = fitGarch(returns.subarray(0, at));
      if (Number.isNaN(sigma2)) sigma2 = filter(fit, 0, at - 1, unconditional(fit));
      sigma2 = filter(fit, at - 1, Math.min(returns.length, at - 1 + p.refitEvery), sigma2);
    }
    out.fill(NaN, 0, Math.min(n, p.minFitRows));
    return { garch_vol: out };
  },
  stream: (p, context) => garchTwin(p, context?.fitRows),
});

/**
 * The streaming twin of core/garch: the variance recursion σ²_t = ω + α ε²_{t−1} + β σ²_{t−1}, O(1) per
 * candle with the fitted parameters, equal to the batch:
 * - outside a run (a paper or live session; no `fitRows`): the same expanding refits, on the candles
 *   streamed so far, every `refitEvery` rows from `minFitRows` (the stream keeps the returns for them);
 * - with a fixed fit (`fitRows`, or the context's `fitRows`): the fit is made when the stream reaches the
 *   fit's last row, then filtered from the first return. The batch gives the rows before that values
 *   from parameters fitted on later rows; the stream cannot know them then, so they are NaN (its
 *   `requiredInputs` says so) and every row from the fit's last one on equals the batch.
 */
function garchTwin(p: { fitRows?: number; minFitRows: number; refitEvery: number }, contextFit: readonly RowRange[] | undefined) {
  const segments = p.fitRows !== undefined ? [{ start: 0, end: p.fitRows }] : contextFit;
  const fitEnd = segments ? Math.max(...segments.map((r) => r.end)) : NaN;
  const masked = p.fitRows === undefined; // rows before minFitRows are NaN unless the fit is explicit
  type State = { seen: number; previousClose: number; fit?: GarchParameters; sigma2: number; nextAt: number };
  const unconditional = (fit: GarchParameters) => fit.omega / Math.max(1e-12, 1 - fit.alpha - fit.beta);
  /** Filter rows `from`..`to` − 1 of the history (percent returns by row) from σ². */
  const filter = (fit: GarchParameters, history: RowHistory, from: number, to: number, sigma2: number) => {
    for (let row = from; row < to; row++) {
      const e = history.values[row - history.offset] - fit.mean;
      sigma2 = fit.omega + fit.alpha * e * e + fit.beta * sigma2;
    }
    return sigma2;
  };
  return new HistoryStream<State>({
    kind: `core/garch ${JSON.stringify(p)}${segments ? ` fit ${JSON.stringify(segments)}` : ''}`,
    outputs: ['garch_vol'],
    requiredInputs: segments ? Math.max(fitEnd - 1, masked ? p.minFitRows : 1) : p.minFitRows,
    initial: { seen: 0, previousClose: NaN, sigma2: NaN, nextAt: p.minFitRows },
    // the refits read every return so far; a fixed fit, every return until it is made
    keep: (s) => (segments && s.fit ? 0 : Infinity),
    step: (s, history, c) => {
      const row = s.seen++;
      // percent log return, as the batch computes it; row 0 has none
      history.values.push(row === 0 ? NaN : 100 * Math.log(c.close / s.previousClose));
      s.previousClose = c.close;
      if (row === 0) return [NaN];
      if (segments) {
        if (row === fitEnd - 1) {
          s.fit = fitGarch(segments.map((r) => historyRows(history, Math.max(1, r.start), r.end)).filter((r) => r.length > 0));
          s.sigma2 = filter(s.fit, history, 1, row, unconditional(s.fit));
        }
      } else if (row === s.nextAt) {
        // the parameters used from this row on are fitted on the returns of rows 1..row (as the batch's)
        const fit = fitGarch(historyRows(history, 1, row + 1));
        if (!s.fit) s.sigma2 = filter(fit, history, 1, row, unconditional(fit));
        s.fit = fit;
        s.nextAt += p.refitEvery;
      }
      if (!s.fit) return [NaN];
      s.sigma2 = filter(s.fit, history, row, row + 1, s.sigma2);
      return [masked && row < p.minFitRows ? NaN : Math.sqrt(s.sigma2) / 100];
    },
  });
}

/** Haar wavelet soft-threshold denoising of one window (length a power of two): the last reconstructed value. */
export function haarDenoiseLast(window: Float64Array, levels: number): number {
  const n = window.length;
  const data = Float64Array.from(window);
  const details: Float64Array[] = [];
  let length = n;
  for (let level = 0; level < levels && length >= 2; level++) {
    const half = length / 2;
    const approx = new Float64Array(half);
    const detail = new Float64Array(half);
    for (let i = 0; i < half; i++) {
      approx[i] = (data[2 * i] + data[2 * i + 1]) / Math.SQRT2;
      detail[i] = (data[2 * i] - data[2 * i + 1]) / Math.SQRT2;
    }
    details.push(detail);
    data.set(approx);
    length = half;
  }
  // universal threshold (Donoho & Johnstone 1994) with σ from the finest details' median absolute deviation
  const finest = Float64Array.from(details[0], Math.abs).sort();
  const sigma = finest[Math.floor(finest.length / 2)] / 0.6745;
  const threshold = sigma * Math.sqrt(2 * Math.log(n));
  for (const detail of details) for (let i = 0; i < detail.length; i++) detail[i] = Math.sign(detail[i]) * Math.max(0, Math.abs(detail[i]) - threshold);
  for (let level = details.length - 1; level >= 0; level--) {
    const detail = details[level];
    const half = detail.length;
    const approx = data.slice(0, half);
    for (let i = 0; i < half; i++) {
      data[2 * i] = (approx[i] + detail[i]) / Math.SQRT2;
      data[2 * i + 1] = (approx[i] - detail[i]) / Math.SQRT2;
    }
  }
  return data[n - 1];
}

/** Causal wavelet denoising: each row's value is denoised from the trailing window only (no future data). */
export const waveletFeature = defineFeature({
  id: 'core/wavelet',
  version: '1.0.0',
  doc: "Causal Haar-wavelet denoised close (soft threshold over a trailing window), as 'distance' (close/denoised - 1) or 'level'.",
  params: z.object({
    window: z.number().int().refine((w) => w >= 8 && (w & (w - 1)) === 0, 'must be a power of two ≥ 8').default(64),
    levels: z.number().int().min(1).max(10).default(3),
    output: z.enum(['distance', 'level']).default('distance'),
  }),
  lookback: (p) => p.window - 1,
  outputs: (p) => [p.output === 'distance' ? `wavelet_${p.window}_dist` : `wavelet_${p.window}`],
  compute: (candles, p) => {
    const close = candles.column('close');
    const out = new Float64Array(close.length).fill(NaN);
    const logs = Float64Array.from(close, Math.log);
    for (let i = p.window - 1; i < close.length; i++) {
      const denoised = Math.exp(haarDenoiseLast(logs.subarray(i - p.window + 1, i + 1), p.levels));
      out[i] = p.output === 'distance' ? close[i] / denoised - 1 : denoised;
    }
    return { [p.output === 'distance' ? `wavelet_${p.window}_dist` : `wavelet_${p.window}`]: out };
  },
  // the twin: the same denoising of the trailing window of log closes, kept in a ring
  stream: (p) => {
    const name = p.output === 'distance' ? `wavelet_${p.window}_dist` : `wavelet_${p.window}`;
    const window = new Float64Array(p.window);
    return new SteppedStream({
      kind: `core/wavelet ${JSON.stringify(p)}`,
      outputs: [name],
      requiredInputs: p.window - 1,
      initial: ringState(p.window),
      step: (ring, c) => {
        ringPush(ring, Math.log(c.close));
        if (ring.seen < p.window) return { [name]: NaN };
        for (let k = 0; k < p.window; k++) window[k] = ringAt(ring, p.window - 1 - k);
        const denoised = Math.exp(haarDenoiseLast(window, p.levels));
        return { [name]: p.output === 'distance' ? c.close / denoised - 1 : denoised };
      },
    });
  },
});

export const modelFeatures = [coinIdentityFeature, coinIndexFeature, fundingFeature, openInterestFeature, garchFeature, waveletFeature];
