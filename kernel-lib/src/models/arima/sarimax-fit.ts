import { ModelError } from '../../errors';
import {
  logLikelihood,
  parameterCount,
  parameterNames,
  type SarimaxData,
  type SarimaxOrder,
  type SarimaxParameters,
} from './state-space';

/**
 * Maximum-likelihood estimation of SARIMAX parameters over statsmodels' parameter transformation:
 * AR and seasonal AR coefficients pass through `constrain_stationary_univariate` (Monahan 1984: partial
 * autocorrelations r = u/√(1+u²) mapped by the Durbin–Levinson recursion), MA ones through its negative
 * (invertibility), σ² = u². The optimizer is BFGS with central-difference gradients and an Armijo
 * backtracking line search, on the average negative log-likelihood, with the trend, exogenous and σ
 * coordinates divided by the data's scale so every coordinate is of order one.
 */

/** statsmodels' constrain_stationary_univariate. @see Monahan, Biometrika 71(2), 1984. */
export function constrainStationary(unconstrained: readonly number[]): number[] {
  const n = unconstrained.length;
  if (n === 0) return [];
  const r = unconstrained.map((u) => u / Math.sqrt(1 + u * u));
  let previous: number[] = [];
  for (let k = 0; k < n; k++) {
    const row = new Array<number>(k + 1);
    for (let i = 0; i < k; i++) row[i] = previous[i] + r[k] * previous[k - i - 1];
    row[k] = r[k];
    previous = row;
  }
  return previous.map((v) => -v);
}

/** The inverse of `constrainStationary` (statsmodels' unconstrain_stationary_univariate). */
export function unconstrainStationary(constrained: readonly number[]): number[] {
  const n = constrained.length;
  if (n === 0) return [];
  let row = constrained.map((v) => -v);
  const r = new Array<number>(n);
  for (let k = n - 1; k >= 0; k--) {
    r[k] = row[k];
    const previous = new Array<number>(k);
    for (let i = 0; i < k; i++) previous[i] = (row[i] - r[k] * row[k - i - 1]) / (1 - r[k] * r[k]);
    row = previous;
  }
  return r.map((v) => v / Math.sqrt(1 - v * v));
}

/** Scales that make the optimizer's coordinates of order one (they do not change the optimum). */
type Scales = { y: number; exog: number[] };

function toParameters(order: SarimaxOrder, u: readonly number[], scales: Scales): SarimaxParameters {
  let at = 0;
  const take = (n: number) => u.slice(at, (at += n));
  const trend = take(order.trend === 'c' ? 1 : 0).map((v) => v * scales.y);
  const exog = take(order.exog).map((v, j) => (v * scales.y) / scales.exog[j]);
  const ar = constrainStationary(take(order.p));
  const ma = constrainStationary(take(order.q)).map((v) => -v);
  const seasonalAr = constrainStationary(take(order.P));
  const seasonalMa = constrainStationary(take(order.Q)).map((v) => -v);
  const sigma = u[at] * scales.y;
  return { trend, exog, ar, ma, seasonalAr, seasonalMa, sigma2: sigma * sigma };
}

function fromParameters(order: SarimaxOrder, params: SarimaxParameters, scales: Scales): number[] {
  return [
    ...params.trend.map((v) => v / scales.y),
    ...params.exog.map((v, j) => (v * scales.exog[j]) / scales.y),
    ...unconstrainStationary(params.ar),
    ...unconstrainStationary(params.ma.map((v) => -v)),
    ...unconstrainStationary(params.seasonalAr),
    ...unconstrainStationary(params.seasonalMa.map((v) => -v)),
    Math.sqrt(params.sigma2) / scales.y,
  ];
}

function std(values: ArrayLike<number>, stride = 1, offset = 0): number {
  let n = 0;
  let sum = 0;
  let squares = 0;
  for (let i = offset; i < values.length; i += stride) {
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    n++;
    sum += v;
    squares += v * v;
  }
  if (n < 2) return 1;
  const variance = squares / n - (sum / n) ** 2;
  return variance > 0 ? Math.sqrt(variance) : 1;
}

/** The series differenced d times and seasonally D times (its finite values scale the optimizer). */
function differenced(y: ArrayLike<number>, order: SarimaxOrder): number[] {
  let values = Array.from(y);
  for (let i = 0; i < order.d; i++) values = values.slice(1).map((v, t) => v - values[t]);
  for (let i = 0; i < order.D; i++) values = values.slice(order.s).map((v, t) => v - values[t]);
  return values;
}

/** Least-squares coefficients of y on the exogenous columns (no intercept), as a start. */
function exogStart(y: ArrayLike<number>, exog: ArrayLike<number>, m: number): number[] {
  const A = new Float64Array(m * m);
  const b = new Float64Array(m);
  for (let t = 0; t < y.length; t++) {
    if (!Number.isFinite(y[t])) continue;
    let finite = true;
    for (let j = 0; j < m; j++) if (!Number.isFinite(exog[t * m + j])) finite = false;
    if (!finite) continue;
    for (let i = 0; i < m; i++) {
      b[i] += exog[t * m + i] * y[t];
      for (let j = 0; j < m; j++) A[i * m + j] += exog[t * m + i] * exog[t * m + j];
    }
  }
  for (let i = 0; i < m; i++) A[i * m + i] += 1e-10 * (1 + A[i * m + i]);
  // collinear exogenous columns: start from zero (the likelihood is then flat along them anyway)
  try {
    return Array.from(solveSmall(A, b, m));
  } catch (error) {
    if (error instanceof ModelError) return new Array<number>(m).fill(0);
    throw error;
  }
}

function solveSmall(A: Float64Array, b: Float64Array, n: number): Float64Array {
  // Gaussian elimination (a handful of exogenous columns)
  const M = Float64Array.from(A);
  const x = Float64Array.from(b);
  for (let c = 0; c < n; c++) {
    let pivot = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r * n + c]) > Math.abs(M[pivot * n + c])) pivot = r;
    if (M[pivot * n + c] === 0) throw new ModelError('singular exogenous columns');
    for (let j = 0; j < n; j++) [M[c * n + j], M[pivot * n + j]] = [M[pivot * n + j], M[c * n + j]];
    [x[c], x[pivot]] = [x[pivot], x[c]];
    for (let r = c + 1; r < n; r++) {
      const f = M[r * n + c] / M[c * n + c];
      for (let j = c; j < n; j++) M[r * n + j] -= f * M[c * n + j];
      x[r] -= f * x[c];
    }
  }
  for (let r = n - 1; r >= 0; r--) {
    let s = x[r];
    for (let j = r + 1; j < n; j++) s -= M[r * n + j] * x[j];
    x[r] = s / M[r * n + r];
  }
  return x;
}

export type SarimaxFitOptions = {
  /** Most BFGS iterations (default 200). */
  maxIterations?: number;
  /** Stop when the largest gradient component of the average log-likelihood falls below this (default 1e-8). */
  gradientTolerance?: number;
};

/** A fitted SARIMAX: parameters, log-likelihood and information criteria as statsmodels defines them. */
export type SarimaxFit = {
  order: SarimaxOrder;
  params: SarimaxParameters;
  names: string[];
  llf: number;
  /** −2 llf + 2k (k counts σ²). */
  aic: number;
  /** −2 llf + k log(n − burned terms). */
  bic: number;
  nobs: number;
  iterations: number;
  converged: boolean;
};

/**
 * Fit a SARIMAX model by maximum likelihood (see the module comment for the optimizer). Start values:
 * zero ARMA coefficients, least-squares exogenous coefficients, the differenced series' mean as the
 * constant and its variance as σ².
 */
export function fitSarimax(order: SarimaxOrder, data: SarimaxData, options: SarimaxFitOptions = {}, exogNames: readonly string[] = []): SarimaxFit {
  const n = data.y.length;
  const k = parameterCount(order);
  const burn = order.d + order.s * order.D;
  if (n - burn < k + 2) throw new ModelError(`SARIMAX with ${k} parameters needs more than ${k + 2 + burn} observations, got ${n}; use more training rows or smaller orders`);
  const diffs = differenced(data.y, order);
  const scales: Scales = { y: std(diffs), exog: Array.from({ length: order.exog }, (_, j) => std(data.exog!, order.exog, j)) };
  const finiteDiffs = diffs.filter(Number.isFinite);
  const mean = finiteDiffs.reduce((a, b) => a + b, 0) / Math.max(1, finiteDiffs.length);
  const start: SarimaxParameters = {
    trend: order.trend === 'c' ? [mean] : [],
    exog: order.exog > 0 ? exogStart(data.y, data.exog!, order.exog) : [],
    ar: new Array(order.p).fill(0),
    ma: new Array(order.q).fill(0),
    seasonalAr: new Array(order.P).fill(0),
    seasonalMa: new Array(order.Q).fill(0),
    sigma2: scales.y * scales.y,
  };
  const objective = (u: readonly number[]): number => {
    try {
      const { llf, nobsEffective } = logLikelihood(order, toParameters(order, u, scales), data);
      const value = -llf / nobsEffective;
      return Number.isFinite(value) ? value : Infinity;
    } catch (error) {
      if (error instanceof ModelError) return Infinity;
      throw error;
    }
  };
  const result = bfgs(objective, fromParameters(order, start, scales), options);
  const params = toParameters(order, result.x, scales);
  const { llf, nobsEffective } = logLikelihood(order, params, data);
  return {
    order,
    params,
    names: parameterNames(order, exogNames),
    llf,
    aic: -2 * llf + 2 * k,
    bic: -2 * llf + k * Math.log(nobsEffective),
    nobs: n,
    iterations: result.iterations,
    converged: result.converged,
  };
}

/** Central-difference gradient. */
function gradient(f: (x: readonly number[]) => number, x: number[], fx: number): number[] {
  return x.map((xi, i) => {
    const h = 1e-6 * Math.max(1, Math.abs(xi));
    const plus = x.slice();
    const minus = x.slice();
    plus[i] = xi + h;
    minus[i] = xi - h;
    const fp = f(plus);
    const fm = f(minus);
    if (Number.isFinite(fp) && Number.isFinite(fm)) return (fp - fm) / (2 * h);
    // at the edge of the feasible region: a one-sided difference
    return Number.isFinite(fp) ? (fp - fx) / h : Number.isFinite(fm) ? (fx - fm) / h : 0;
  });
}

/** BFGS with an inverse-Hessian update and Armijo backtracking. */
export function bfgs(f: (x: readonly number[]) => number, x0: readonly number[], options: SarimaxFitOptions = {}): { x: number[]; fx: number; iterations: number; converged: boolean } {
  const n = x0.length;
  const maxIterations = options.maxIterations ?? 200;
  const tolerance = options.gradientTolerance ?? 1e-8;
  let x = x0.slice();
  let fx = f(x);
  if (!Number.isFinite(fx)) throw new ModelError('the SARIMAX likelihood is not finite at the start values; check the series for constant or non-finite values');
  let g = gradient(f, x, fx);
  let H = identity(n);
  let iterations = 0;
  let converged = false;
  for (; iterations < maxIterations; iterations++) {
    if (Math.max(...g.map(Math.abs)) < tolerance) {
      converged = true;
      break;
    }
    let direction = H.map((row) => -row.reduce((sum, h, j) => sum + h * g[j], 0));
    let slope = direction.reduce((sum, d, i) => sum + d * g[i], 0);
    if (!(slope < 0)) {
      H = identity(n);
      direction = g.map((v) => -v);
      slope = -g.reduce((sum, v) => sum + v * v, 0);
    }
    let step = 1;
    let next: number[] = x;
    let fNext = Infinity;
    for (let tries = 0; tries < 60; tries++) {
      next = x.map((xi, i) => xi + step * direction[i]);
      fNext = f(next);
      if (Number.isFinite(fNext) && fNext <= fx + 1e-4 * step * slope) break;
      step *= 0.5;
    }
    if (!(fNext <= fx)) {
      converged = Math.max(...g.map(Math.abs)) < 1e-5;
      break;
    }
    const gNext = gradient(f, next, fNext);
    const s = next.map((v, i) => v - x[i]);
    const yv = gNext.map((v, i) => v - g[i]);
    const sy = s.reduce((sum, v, i) => sum + v * yv[i], 0);
    const improvement = fx - fNext;
    x = next;
    fx = fNext;
    g = gNext;
    if (sy > 1e-16) {
      const Hy = H.map((row) => row.reduce((sum, h, j) => sum + h * yv[j], 0));
      const yHy = yv.reduce((sum, v, i) => sum + v * Hy[i], 0);
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          H[i][j] += ((sy + yHy) * s[i] * s[j]) / (sy * sy) - (Hy[i] * s[j] + s[i] * Hy[j]) / sy;
        }
      }
    }
    if (improvement >= 0 && improvement < 1e-15 * Math.max(1, Math.abs(fx)) && Math.max(...g.map(Math.abs)) < 1e-6) {
      converged = true;
      iterations++;
      break;
    }
  }
  return { x, fx, iterations, converged };
}

function identity(n: number): number[][] {
  return Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
}

/** One candidate of an order search. */
export type OrderCandidate = { p: number; d: number; q: number; P: number; D: number; Q: number; aic: number; bic: number; llf: number; converged: boolean };

/**
 * AutoARIMA by information criterion: fit every (p, q) (and seasonal (P, Q)) of the grid at fixed
 * d, D, s, trend and exogenous columns; the lowest AIC (or BIC) wins. Returns the winner and the table.
 */
export function searchOrders(
  base: SarimaxOrder,
  grid: { p: readonly number[]; q: readonly number[]; P?: readonly number[]; Q?: readonly number[] },
  criterion: 'aic' | 'bic',
  data: SarimaxData,
  options: SarimaxFitOptions = {},
  exogNames: readonly string[] = [],
): { best: SarimaxFit; candidates: OrderCandidate[] } {
  const candidates: OrderCandidate[] = [];
  let best: SarimaxFit | undefined;
  for (const p of grid.p) {
    for (const q of grid.q) {
      for (const P of grid.P ?? [base.P]) {
        for (const Q of grid.Q ?? [base.Q]) {
          const order = { ...base, p, q, P, Q };
          const fit = fitSarimax(order, data, options, exogNames);
          candidates.push({ p, d: base.d, q, P, D: base.D, Q, aic: fit.aic, bic: fit.bic, llf: fit.llf, converged: fit.converged });
          if (!best || fit[criterion] < best[criterion]) best = fit;
        }
      }
    }
  }
  if (!best) throw new ModelError('the AutoARIMA grid is empty; list at least one p and one q');
  return { best, candidates };
}

