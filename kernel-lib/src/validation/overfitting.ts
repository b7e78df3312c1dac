import { ConfigError } from '../errors';
import { combinations } from './cpcv';

/**
 * How much to trust a Sharpe ratio found by search: the probabilistic and deflated Sharpe ratios
 * (Bailey & López de Prado 2012, 2014) and the probability of backtest overfitting by combinatorially
 * symmetric cross-validation (Bailey, Borwein, López de Prado & Zhu 2017). Sharpe ratios here are per
 * period (not annualized), as the formulas require.
 */

/** Standard normal CDF: Hart's algorithm 5666 in double precision (West 2005), about 1e-15 absolute. */
export function normalCdf(x: number): number {
  const z = Math.abs(x);
  let p: number;
  if (z > 37) p = 0;
  else {
    const e = Math.exp(-z * z / 2);
    if (z < 7.07106781186547) {
      const n = ((((((0.0352624965998911 * z + 0.700383064443688) * z + 6.37396220353165) * z + 33.912866078383) * z + 112.079291497871) * z + 221.213596169931) * z + 220.206867912376);
      const d = (((((((0.0883883476483184 * z + 1.75566716318264) * z + 16.064177579207) * z + 86.7807322029461) * z + 296.564248779674) * z + 637.333633378831) * z + 793.826512519948) * z + 440.413735824752);
      p = (e * n) / d;
    } else {
      const f = z + 1 / (z + 2 / (z + 3 / (z + 4 / (z + 0.65))));
      p = e / f / 2.506628274631;
    }
  }
  return x > 0 ? 1 - p : p;
}

/** Standard normal quantile (Acklam's algorithm refined by one Halley step: about 1e-15 relative). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) {
    if (p === 0) return -Infinity;
    if (p === 1) return Infinity;
    throw new RangeError(`normalQuantile needs 0 < p < 1, got ${p}`);
  }
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  let x: number;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else if (p <= 1 - low) {
    const q = p - 0.5;
    const r = q * q;
    x = ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  } else {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  const e = normalCdf(x) - p;
  const u = e * Math.sqrt(2 * Math.PI) * Math.exp((x * x) / 2);
  return x - u / (1 + (x * u) / 2);
}

/** Mean, sample standard deviation, skewness and (non-excess) kurtosis of per-period returns. */
export function returnMoments(returns: ArrayLike<number>): { n: number; mean: number; std: number; skew: number; kurtosis: number } {
  const n = returns.length;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += returns[i];
  mean /= Math.max(1, n);
  let m2 = 0;
  let m3 = 0;
  let m4 = 0;
  for (let i = 0; i < n; i++) {
    const d = returns[i] - mean;
    m2 += d * d;
    m3 += d * d * d;
    m4 += d * d * d * d;
  }
  m2 /= Math.max(1, n);
  m3 /= Math.max(1, n);
  m4 /= Math.max(1, n);
  const std = n > 1 ? Math.sqrt((m2 * n) / (n - 1)) : 0;
  return { n, mean, std, skew: m2 > 0 ? m3 / m2 ** 1.5 : 0, kurtosis: m2 > 0 ? m4 / (m2 * m2) : 3 };
}

/**
 * Probabilistic Sharpe ratio: the probability that the true per-period Sharpe exceeds `benchmark`,
 * given an observed per-period Sharpe `sharpe` over `n` returns with skewness γ3 and kurtosis γ4:
 * Φ((SR − SR*)·√(n − 1) / √(1 − γ3·SR + (γ4 − 1)/4·SR²)).
 */
export function probabilisticSharpe(sharpe: number, benchmark: number, n: number, skew = 0, kurtosis = 3): number {
  const denominator = 1 - skew * sharpe + ((kurtosis - 1) / 4) * sharpe * sharpe;
  if (n < 2 || !(denominator > 0)) return NaN;
  return normalCdf(((sharpe - benchmark) * Math.sqrt(n - 1)) / Math.sqrt(denominator));
}

/**
 * The Sharpe ratio the best of `trials` independent zero-skill trials is expected to reach, given the
 * variance of the trials' Sharpe ratios: √V·((1 − γ)·Φ⁻¹(1 − 1/N) + γ·Φ⁻¹(1 − 1/(N·e))), γ the
 * Euler–Mascheroni constant.
 */
export function expectedMaxSharpe(trials: number, sharpeVariance: number): number {
  if (trials < 2) return 0;
  const euler = 0.5772156649015329;
  return Math.sqrt(sharpeVariance) * ((1 - euler) * normalQuantile(1 - 1 / trials) + euler * normalQuantile(1 - 1 / (trials * Math.E)));
}

export type DeflatedSharpe = {
  /** The per-period Sharpe being judged. */
  sharpe: number;
  /** The expected maximum per-period Sharpe of `trials` skill-less trials (the deflated benchmark). */
  benchmark: number;
  /** P(true Sharpe > benchmark): above 0.95 the Sharpe survives the search that found it. */
  probability: number;
  trials: number;
};

/**
 * Deflated Sharpe ratio: the probabilistic Sharpe against the expected maximum of `trials` trials
 * whose Sharpe ratios vary as `sharpeVariance` (all per period), for returns `returns` of the
 * candidate judged.
 */
export function deflatedSharpe(returns: ArrayLike<number>, trials: number, sharpeVariance: number): DeflatedSharpe {
  const m = returnMoments(returns);
  const sharpe = m.std > 0 ? m.mean / m.std : 0;
  const benchmark = expectedMaxSharpe(trials, sharpeVariance);
  return { sharpe, benchmark, probability: probabilisticSharpe(sharpe, benchmark, m.n, m.skew, m.kurtosis), trials };
}

export type BacktestOverfitting = {
  /** Probability of backtest overfitting: the share of splits where the in-sample best is below the out-of-sample median. */
  pbo: number;
  /** Per split, logit(ω̄) of the in-sample best's out-of-sample relative rank ω̄. */
  logits: number[];
  /** Splits evaluated: C(S, S/2). */
  splits: number;
  /** Blocks the rows were cut into. */
  blocks: number;
};

/**
 * Probability of backtest overfitting by CSCV: the T×N matrix of per-period returns of N candidates
 * (columns, e.g. tuning trials) is cut into S contiguous blocks; for each of the C(S, S/2) ways to pick
 * half the blocks as in-sample, the candidate with the best in-sample Sharpe is ranked out of sample;
 * PBO is the share of splits where it ranks at or below the median (logit ≤ 0).
 */
export function probabilityOfBacktestOverfitting(returns: ReadonlyArray<ArrayLike<number>>, blocks = 16): BacktestOverfitting {
  const candidates = returns.length;
  if (candidates < 2) throw new ConfigError(`PBO needs at least 2 candidates (got ${candidates})`);
  if (blocks % 2 !== 0 || blocks < 2) throw new ConfigError(`PBO needs an even number of blocks, got ${blocks}`);
  const rows = returns[0].length;
  if (returns.some((r) => r.length !== rows)) throw new ConfigError('PBO needs every candidate to have returns over the same periods');
  if (rows < blocks * 2) throw new ConfigError(`PBO with ${blocks} blocks needs at least ${blocks * 2} periods, got ${rows}`);
  const edges = Array.from({ length: blocks + 1 }, (_, b) => Math.floor((b * rows) / blocks));
  // per block and candidate: count, sum, sum of squares (Sharpe of any union of blocks from these)
  const stats = Array.from({ length: blocks }, (_, b) =>
    returns.map((series) => {
      let sum = 0;
      let squares = 0;
      for (let t = edges[b]; t < edges[b + 1]; t++) {
        sum += series[t];
        squares += series[t] * series[t];
      }
      return { n: edges[b + 1] - edges[b], sum, squares };
    }),
  );
  const sharpeOf = (chosen: readonly number[], candidate: number): number => {
    let n = 0;
    let sum = 0;
    let squares = 0;
    for (const b of chosen) {
      const s = stats[b][candidate];
      n += s.n;
      sum += s.sum;
      squares += s.squares;
    }
    const mean = sum / n;
    const variance = (squares - n * mean * mean) / (n - 1);
    return variance > 0 ? mean / Math.sqrt(variance) : 0;
  };
  const logits: number[] = [];
  for (const inSample of combinations(blocks, blocks / 2)) {
    const outOfSample = Array.from({ length: blocks }, (_, b) => b).filter((b) => !inSample.includes(b));
    let best = 0;
    let bestSharpe = -Infinity;
    for (let c = 0; c < candidates; c++) {
      const s = sharpeOf(inSample, c);
      if (s > bestSharpe) {
        bestSharpe = s;
        best = c;
      }
    }
    const oos = Array.from({ length: candidates }, (_, c) => sharpeOf(outOfSample, c));
    // relative rank in (0, 1): ties share the average rank
    let below = 0;
    let equal = 0;
    for (const value of oos) {
      if (value < oos[best]) below++;
      else if (value === oos[best]) equal++;
    }
    const omega = (below + (equal + 1) / 2) / (candidates + 1);
    logits.push(Math.log(omega / (1 - omega)));
  }
  return { pbo: logits.filter((l) => l <= 0).length / logits.length, logits, splits: logits.length, blocks };
}

export type PathOverfitting = {
  /** Probability of backtest overfitting across the backtest paths: the share of paths where the in-sample best trial ranks at or below the median. */
  pbo: number;
  /** Per path, logit(ω) of the in-sample best trial's relative rank ω on that path. */
  logits: number[];
  /** Per path, the trial (column) chosen in sample, i.e. best by its mean over the other paths. */
  chosen: number[];
  paths: number;
  trials: number;
};

/**
 * Probability of backtest overfitting across CPCV backtest paths (López de Prado, AFML ch. 11–12):
 * `performance[path][trial]` is a trial's performance (e.g. Sharpe; higher is better) on each path.
 * For each path, the trial with the best mean performance over the other paths (in sample) is ranked
 * among the trials on that path (out of sample), ω = rank/(trials + 1) with ties sharing the average
 * rank; PBO is the share of paths where logit(ω) ≤ 0, i.e. the in-sample winner is at or below the
 * median out of sample. Trials with a non-finite value on any path are left out.
 */
export function pathProbabilityOfBacktestOverfitting(performance: ReadonlyArray<ArrayLike<number>>): PathOverfitting {
  const paths = performance.length;
  if (paths < 2) throw new ConfigError(`PBO across paths needs at least 2 backtest paths (got ${paths})`);
  const width = performance[0].length;
  if (performance.some((row) => row.length !== width)) throw new ConfigError('PBO across paths needs every path to score the same trials');
  const columns = Array.from({ length: width }, (_, t) => t).filter((t) => performance.every((row) => Number.isFinite(row[t])));
  if (columns.length < 2) throw new ConfigError(`PBO across paths needs at least 2 trials with a finite value on every path (got ${columns.length})`);
  const logits: number[] = [];
  const chosen: number[] = [];
  for (let p = 0; p < paths; p++) {
    let best = columns[0];
    let bestMean = -Infinity;
    for (const t of columns) {
      let sum = 0;
      for (let q = 0; q < paths; q++) if (q !== p) sum += performance[q][t];
      const mean = sum / (paths - 1);
      if (mean > bestMean) {
        bestMean = mean;
        best = t;
      }
    }
    const value = performance[p][best];
    let below = 0;
    let equal = 0;
    for (const t of columns) {
      if (performance[p][t] < value) below++;
      else if (performance[p][t] === value) equal++;
    }
    const omega = (below + (equal + 1) / 2) / (columns.length + 1);
    logits.push(Math.log(omega / (1 - omega)));
    chosen.push(best);
  }
  return { pbo: logits.filter((l) => l <= 0).length / paths, logits, chosen, paths, trials: columns.length };
}
