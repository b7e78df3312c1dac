import { ModelError } from '../../errors';

/**
 * SARIMAX(p,d,q)(P,D,Q,s) in state-space form, laid out exactly as statsmodels' `SARIMAX` lays it out
 * (statsmodels/tsa/statespace/sarimax.py, 0.13, with its defaults: Harvey representation, differencing
 * inside the state vector, exogenous coefficients estimated by maximum likelihood, no measurement error):
 *
 *   y_t = Z α_t + x_t'β                   (exogenous regressors enter as an observation intercept)
 *   α_{t+1} = T α_t + c + R η_t,  η_t ~ N(0, σ²)
 *
 * The state holds d + s·D differencing states, then the ARMA block of order max(p + sP, q + sQ + 1) in
 * companion form. The ARMA block starts at its stationary distribution (the discrete Lyapunov solution);
 * the differencing states start approximately diffuse (variance 1e6, statsmodels' `initial_variance`),
 * and their first d + s·D log-likelihood terms are burned, as statsmodels does when
 * `use_exact_diffuse=False` (its default).
 */

/** The orders of a SARIMAX model; `trend` 'c' adds a constant intercept to the ARMA recursion. */
export type SarimaxOrder = {
  readonly p: number;
  readonly d: number;
  readonly q: number;
  readonly P: number;
  readonly D: number;
  readonly Q: number;
  /** Season length in bars; 0 without a seasonal part. */
  readonly s: number;
  readonly trend: 'n' | 'c';
  /** Exogenous regressors (columns beside the modelled series). */
  readonly exog: number;
};

/** Parameters in statsmodels' order: trend, exog, ar, ma, seasonal ar, seasonal ma, sigma2. */
export type SarimaxParameters = {
  readonly trend: readonly number[];
  readonly exog: readonly number[];
  readonly ar: readonly number[];
  readonly ma: readonly number[];
  readonly seasonalAr: readonly number[];
  readonly seasonalMa: readonly number[];
  readonly sigma2: number;
};

/** statsmodels' `initial_variance` for the approximately diffuse states. */
export const DIFFUSE_VARIANCE = 1e6;

/** Number of parameters (σ² included), as statsmodels' k_params. */
export function parameterCount(order: SarimaxOrder): number {
  return (order.trend === 'c' ? 1 : 0) + order.exog + order.p + order.q + order.P + order.Q + 1;
}

/** Parameter names as statsmodels prints them (exogenous ones as given). */
export function parameterNames(order: SarimaxOrder, exogNames: readonly string[] = []): string[] {
  const names: string[] = [];
  if (order.trend === 'c') names.push('intercept');
  for (let i = 0; i < order.exog; i++) names.push(exogNames[i] ?? `x${i + 1}`);
  for (let i = 1; i <= order.p; i++) names.push(`ar.L${i}`);
  for (let i = 1; i <= order.q; i++) names.push(`ma.L${i}`);
  for (let i = 1; i <= order.P; i++) names.push(`ar.S.L${i * order.s}`);
  for (let i = 1; i <= order.Q; i++) names.push(`ma.S.L${i * order.s}`);
  names.push('sigma2');
  return names;
}

/** Flatten parameters into statsmodels' vector order. */
export function parameterVector(params: SarimaxParameters): number[] {
  return [...params.trend, ...params.exog, ...params.ar, ...params.ma, ...params.seasonalAr, ...params.seasonalMa, params.sigma2];
}

/** Split a vector in statsmodels' order back into named groups. */
export function parametersFromVector(order: SarimaxOrder, vector: ArrayLike<number>): SarimaxParameters {
  if (vector.length !== parameterCount(order)) throw new ModelError(`a SARIMAX parameter vector needs ${parameterCount(order)} values, got ${vector.length}`);
  let at = 0;
  const take = (n: number) => Array.from({ length: n }, () => vector[at++]);
  return {
    trend: take(order.trend === 'c' ? 1 : 0),
    exog: take(order.exog),
    ar: take(order.p),
    ma: take(order.q),
    seasonalAr: take(order.P),
    seasonalMa: take(order.Q),
    sigma2: vector[at],
  };
}

/** Product of two lag polynomials stored lowest degree first. */
function polymul(a: readonly number[], b: readonly number[]): number[] {
  const out = new Array<number>(a.length + b.length - 1).fill(0);
  for (let i = 0; i < a.length; i++) for (let j = 0; j < b.length; j++) out[i + j] += a[i] * b[j];
  return out;
}

/** The system matrices of one parameter set (row-major k × k), plus the initial state and its covariance. */
export type StateSpaceSystem = {
  readonly k: number;
  /** Differencing states (d + s·D): the approximately diffuse ones, and the burned log-likelihood terms. */
  readonly kDiff: number;
  readonly T: Float64Array;
  readonly Z: Float64Array;
  /** R·R'·σ² (the state disturbance covariance), k × k. */
  readonly RQR: Float64Array;
  /** State intercept (the constant, on the first ARMA state). */
  readonly c: Float64Array;
  readonly exog: readonly number[];
  readonly a0: Float64Array;
  readonly P0: Float64Array;
};

/** Build the state-space system statsmodels' SARIMAX builds for these orders and (constrained) parameters. */
export function stateSpaceSystem(order: SarimaxOrder, params: SarimaxParameters): StateSpaceSystem {
  const { p, d, q, P, D, Q, s } = order;
  const kDiff = d + s * D;
  const kOrder = Math.max(p + s * P, q + s * Q + 1);
  const k = kDiff + kOrder;
  // lag polynomials: AR as 1 − φ₁L − …, MA as 1 + θ₁L + …, seasonal ones on powers of L^s
  const polyAr = [1, ...params.ar.map((v) => -v)];
  const polyMa = [1, ...params.ma];
  const seasonal = (coefficients: readonly number[], sign: number): number[] => {
    const poly = new Array<number>(coefficients.length * s + 1).fill(0);
    poly[0] = 1;
    coefficients.forEach((v, i) => (poly[(i + 1) * s] = sign * v));
    return poly;
  };
  const reducedAr = (P > 0 ? polymul(polyAr, seasonal(params.seasonalAr, -1)) : polyAr).map((v) => -v);
  const reducedMa = Q > 0 ? polymul(polyMa, seasonal(params.seasonalMa, 1)) : polyMa;

  const T = new Float64Array(k * k);
  const set = (r: number, c: number, v: number) => (T[r * k + c] = v);
  // ARMA block: companion form, AR coefficients down the first column
  for (let i = 0; i + 1 < kOrder; i++) set(kDiff + i, kDiff + i + 1, 1);
  for (let i = 1; i < reducedAr.length; i++) set(kDiff + i - 1, kDiff, reducedAr[i]);
  // seasonal differencing blocks
  for (let dd = 0; dd < D; dd++) {
    const start = d + dd * s;
    const end = start + s;
    for (let i = 0; i + 1 < s; i++) set(start + i + 1, start + i, 1);
    set(start, start + s - 1, 1);
    for (let i = dd + 1; i < D; i++) set(start, end + s - 1, 1);
    set(start, kDiff, 1);
  }
  // simple differencing states
  for (let i = 0; i < d; i++) {
    for (let j = i; j < d; j++) set(i, j, 1);
    for (let dd = 0; dd < D; dd++) set(i, d + dd * s + s - 1, 1);
    set(i, kDiff, 1);
  }

  const Z = new Float64Array(k);
  for (let i = 0; i < d; i++) Z[i] = 1;
  for (let dd = 0; dd < D; dd++) Z[d + dd * s + s - 1] = 1;
  Z[kDiff] = 1;

  const R = new Float64Array(k);
  R[kDiff] = 1;
  for (let i = 1; i < reducedMa.length; i++) R[kDiff + i] = reducedMa[i];
  const RQR = new Float64Array(k * k);
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) RQR[i * k + j] = R[i] * R[j] * params.sigma2;

  const c = new Float64Array(k);
  if (order.trend === 'c') c[kDiff] = params.trend[0];

  // initial state: diffuse differencing states (mean 0, variance 1e6), stationary ARMA block
  const a0 = new Float64Array(k);
  const P0 = new Float64Array(k * k);
  for (let i = 0; i < kDiff; i++) P0[i * k + i] = DIFFUSE_VARIANCE;
  const Tc = new Float64Array(kOrder * kOrder);
  const Qc = new Float64Array(kOrder * kOrder);
  for (let i = 0; i < kOrder; i++) {
    for (let j = 0; j < kOrder; j++) {
      Tc[i * kOrder + j] = T[(kDiff + i) * k + kDiff + j];
      Qc[i * kOrder + j] = RQR[(kDiff + i) * k + kDiff + j];
    }
  }
  const Pc = discreteLyapunov(Tc, Qc, kOrder);
  for (let i = 0; i < kOrder; i++) for (let j = 0; j < kOrder; j++) P0[(kDiff + i) * k + kDiff + j] = Pc[i * kOrder + j];
  if (order.trend === 'c') {
    // stationary mean of the ARMA block: (I − T_c)⁻¹ c
    const A = new Float64Array(kOrder * kOrder);
    for (let i = 0; i < kOrder; i++) for (let j = 0; j < kOrder; j++) A[i * kOrder + j] = (i === j ? 1 : 0) - Tc[i * kOrder + j];
    const b = new Float64Array(kOrder);
    b[0] = params.trend[0];
    const mean = solveLinear(A, b, kOrder);
    for (let i = 0; i < kOrder; i++) a0[kDiff + i] = mean[i];
  }
  return { k, kDiff, T, Z, RQR, c, exog: params.exog, a0, P0 };
}

/** Solve A x = b (n × n, row-major) by Gaussian elimination with partial pivoting. */
export function solveLinear(A: Float64Array, b: Float64Array, n: number): Float64Array {
  const M = Float64Array.from(A);
  const x = Float64Array.from(b);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) if (Math.abs(M[r * n + col]) > Math.abs(M[pivot * n + col])) pivot = r;
    if (M[pivot * n + col] === 0) throw new ModelError('a singular system in the SARIMAX initialization; the AR polynomial has a unit root (use differencing, d ≥ 1)');
    if (pivot !== col) {
      for (let c = 0; c < n; c++) [M[col * n + c], M[pivot * n + c]] = [M[pivot * n + c], M[col * n + c]];
      [x[col], x[pivot]] = [x[pivot], x[col]];
    }
    for (let r = col + 1; r < n; r++) {
      const f = M[r * n + col] / M[col * n + col];
      if (f === 0) continue;
      for (let c = col; c < n; c++) M[r * n + c] -= f * M[col * n + c];
      x[r] -= f * x[col];
    }
  }
  for (let r = n - 1; r >= 0; r--) {
    let sum = x[r];
    for (let c = r + 1; c < n; c++) sum -= M[r * n + c] * x[c];
    x[r] = sum / M[r * n + r];
  }
  return x;
}

/**
 * X solving X = A X A' + Q. Small blocks (n ≤ 8) are solved exactly through the vectorized n² × n²
 * system (I − A⊗A) vec X = vec Q; larger ones by the doubling algorithm, run to machine precision.
 */
export function discreteLyapunov(A: Float64Array, Q: Float64Array, n: number): Float64Array {
  if (n <= 8) {
    const m = n * n;
    const M = new Float64Array(m * m);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        const row = i * n + j;
        M[row * m + row] += 1;
        for (let k = 0; k < n; k++) for (let l = 0; l < n; l++) M[row * m + k * n + l] -= A[i * n + k] * A[j * n + l];
      }
    }
    const X = solveLinear(M, Q, m);
    for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) X[i * n + j] = X[j * n + i] = 0.5 * (X[i * n + j] + X[j * n + i]);
    return X;
  }
  const X = Float64Array.from(Q);
  let Ak: Float64Array = Float64Array.from(A);
  for (let iteration = 0; iteration < 200; iteration++) {
    const increment = multiply(multiply(Ak, X, n), transpose(Ak, n), n);
    let size = 0;
    let change = 0;
    for (let i = 0; i < n * n; i++) {
      X[i] += increment[i];
      size = Math.max(size, Math.abs(X[i]));
      change = Math.max(change, Math.abs(increment[i]));
    }
    if (change <= 1e-17 * size) break;
    Ak = multiply(Ak, Ak, n);
    if (iteration === 199) throw new ModelError('the SARIMAX stationary covariance did not converge; the AR part is (nearly) non-stationary');
  }
  return X;
}

function multiply(A: Float64Array, B: Float64Array, n: number): Float64Array {
  const C = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < n; k++) {
      const a = A[i * n + k];
      if (a === 0) continue;
      for (let j = 0; j < n; j++) C[i * n + j] += a * B[k * n + j];
    }
  }
  return C;
}

function transpose(A: Float64Array, n: number): Float64Array {
  const B = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) B[j * n + i] = A[i * n + j];
  return B;
}

const LOG_2PI = Math.log(2 * Math.PI);

/**
 * The Kalman filter's predicted state a_{t+1|t} and covariance P_{t+1|t}, advanced one observation at a
 * time (the conventional filter, with P kept symmetric as statsmodels does). A missing value (NaN in the
 * series or an exogenous column) skips the update and adds nothing to the log-likelihood.
 */
export class KalmanFilter {
  readonly a: Float64Array;
  readonly P: Float64Array;
  /** Observations filtered so far. */
  t = 0;
  private readonly work: Float64Array;
  private readonly work2: Float64Array;
  private readonly work3: Float64Array;

  /**
   * Steady state, as statsmodels detects it (tolerance 1e-19 on the summed squared change of P, for a
   * time-invariant system with no missing value): from then on F and P·Z' stay fixed and P is not updated.
   */
  converged?: { F: number; PZ: Float64Array };
  private readonly timeInvariant: boolean;
  private readonly previous: Float64Array;

  constructor(readonly system: StateSpaceSystem, state?: KalmanState) {
    this.a = Float64Array.from(state?.a ?? system.a0);
    this.P = Float64Array.from(state?.P ?? system.P0);
    this.t = state?.t ?? 0;
    if (state?.converged) this.converged = { F: state.converged.F, PZ: Float64Array.from(state.converged.PZ) };
    this.timeInvariant = system.exog.length === 0 && system.c.every((v) => v === 0);
    this.previous = new Float64Array(system.k * system.k);
    this.work = new Float64Array(system.k * system.k);
    this.work2 = new Float64Array(system.k);
    this.work3 = new Float64Array(system.k * system.k);
    // T is sparse (companion and differencing blocks): its non-zeros row by row make a step O(k²)
    const k = system.k;
    const columns: number[] = [];
    const values: number[] = [];
    const starts = [0];
    for (let i = 0; i < k; i++) {
      for (let j = 0; j < k; j++) {
        if (system.T[i * k + j] !== 0) {
          columns.push(j);
          values.push(system.T[i * k + j]);
        }
      }
      starts.push(columns.length);
    }
    this.sparse = { starts: Int32Array.from(starts), columns: Int32Array.from(columns), values: Float64Array.from(values) };
    this.next = new Float64Array(k);
  }

  private readonly sparse: { starts: Int32Array; columns: Int32Array; values: Float64Array };
  private readonly next: Float64Array;

  /** The observation intercept x'β of one row of exogenous values. */
  intercept(exog: ArrayLike<number> | undefined): number {
    let d = 0;
    const beta = this.system.exog;
    for (let j = 0; j < beta.length; j++) d += beta[j] * exog![j];
    return d;
  }

  /** The state prediction a ← T a_filtered + c, over T's non-zeros (into this.a). */
  private predictState(filtered: Float64Array): void {
    const { starts, columns, values } = this.sparse;
    const { c } = this.system;
    const next = this.next;
    for (let i = 0; i < next.length; i++) {
      let sum = c[i];
      for (let e = starts[i]; e < starts[i + 1]; e++) sum += values[e] * filtered[columns[e]];
      next[i] = sum;
    }
    this.a.set(next);
  }

  /** Filter one observation; returns its log-likelihood term (0 when missing). */
  step(y: number, exog?: ArrayLike<number>): number {
    const { k, T, Z, RQR, c } = this.system;
    const a = this.a;
    const P = this.P;
    const d = this.intercept(exog);
    const PZ = this.work2;
    let ll = 0;
    const filtered = a; // updated in place
    const observed = Number.isFinite(y) && Number.isFinite(d);
    if (this.converged && !observed) this.converged = undefined;
    if (this.converged) {
      const { F, PZ: gain } = this.converged;
      let forecast = d;
      for (let i = 0; i < k; i++) forecast += Z[i] * a[i];
      const v = y - forecast;
      ll = -0.5 * (LOG_2PI + Math.log(F) + (v * v) / F);
      for (let i = 0; i < k; i++) filtered[i] = a[i] + (gain[i] * v) / F;
      this.predictState(filtered);
      this.t++;
      return ll;
    }
    if (this.timeInvariant) this.previous.set(P);
    let stepF = NaN;
    if (observed) {
      let forecast = d;
      for (let i = 0; i < k; i++) forecast += Z[i] * a[i];
      let F = 0;
      for (let i = 0; i < k; i++) {
        let sum = 0;
        for (let j = 0; j < k; j++) sum += P[i * k + j] * Z[j];
        PZ[i] = sum;
        F += Z[i] * sum;
      }
      if (!(F > 0)) throw new ModelError(`the Kalman filter's forecast variance is ${F} at observation ${this.t}; the series may be constant`);
      const v = y - forecast;
      stepF = F;
      ll = -0.5 * (LOG_2PI + Math.log(F) + (v * v) / F);
      for (let i = 0; i < k; i++) filtered[i] = a[i] + (PZ[i] * v) / F;
      const inverseF = 1 / F;
      for (let i = 0; i < k; i++) {
        const gain = PZ[i] * inverseF;
        for (let j = 0; j < k; j++) P[i * k + j] -= gain * PZ[j];
      }
    }
    // predict: a ← T a + c, P ← T P T' + RQR'
    this.predictState(filtered);
    const { starts, columns, values } = this.sparse;
    // T P by rows of T's non-zeros, transposed (= P T', P being symmetric), then T (P T') + RQR'
    const TP = this.work;
    TP.fill(0);
    for (let i = 0; i < k; i++) {
      for (let e = starts[i]; e < starts[i + 1]; e++) {
        const value = values[e];
        const row = columns[e] * k;
        for (let j = 0; j < k; j++) TP[i * k + j] += value * P[row + j];
      }
    }
    const PT = this.work3;
    for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) PT[j * k + i] = TP[i * k + j];
    P.set(RQR);
    for (let i = 0; i < k; i++) {
      for (let e = starts[i]; e < starts[i + 1]; e++) {
        const value = values[e];
        const row = columns[e] * k;
        for (let j = 0; j < k; j++) P[i * k + j] += value * PT[row + j];
      }
    }
    // keep P exactly symmetric, as statsmodels does
    for (let i = 0; i < k; i++) for (let j = 0; j < i; j++) P[i * k + j] = P[j * k + i] = 0.5 * (P[i * k + j] + P[j * k + i]);
    if (this.timeInvariant && observed) {
      let change = 0;
      for (let i = 0; i < k * k; i++) change += (P[i] - this.previous[i]) ** 2;
      if (change < 1e-19) this.converged = { F: stepF, PZ: Float64Array.from(PZ) };
    }
    this.t++;
    return ll;
  }

  /**
   * Forecasts of the next `h` observations from the current predicted state (future exogenous rows
   * given, or held at `exog`): the means, and the variance of their sum (the h-bar cumulative value).
   */
  forecast(h: number, exog?: ArrayLike<number> | ((j: number) => ArrayLike<number>), withVariance = true): { means: Float64Array; sumVariance: number } {
    const { k, T, Z, RQR, c } = this.system;
    const means = new Float64Array(h);
    let a: Float64Array = Float64Array.from(this.a);
    let P: Float64Array = Float64Array.from(this.P);
    const ZP: Float64Array[] = []; // P_j Z' for each step, to build covariances of the sum
    for (let j = 0; j < h; j++) {
      const row = typeof exog === 'function' ? exog(j) : exog;
      let mean = this.intercept(row);
      for (let i = 0; i < k; i++) mean += Z[i] * a[i];
      means[j] = mean;
      if (!withVariance) {
        if (j + 1 === h) break;
        const nextA = new Float64Array(k);
        for (let i = 0; i < k; i++) {
          let sum = c[i];
          for (let m = 0; m < k; m++) sum += T[i * k + m] * a[m];
          nextA[i] = sum;
        }
        a = nextA;
        continue;
      }
      const pz = new Float64Array(k);
      for (let i = 0; i < k; i++) for (let m = 0; m < k; m++) pz[i] += P[i * k + m] * Z[m];
      ZP.push(pz);
      if (j + 1 === h) break;
      const nextA = new Float64Array(k);
      for (let i = 0; i < k; i++) {
        let sum = c[i];
        for (let m = 0; m < k; m++) sum += T[i * k + m] * a[m];
        nextA[i] = sum;
      }
      a = nextA;
      const TP = multiply(T, P, k);
      const nextP = multiply(TP, transpose(T, k), k);
      for (let i = 0; i < k * k; i++) nextP[i] += RQR[i];
      P = nextP;
    }
    if (!withVariance) return { means, sumVariance: NaN };
    // Var(Σ y) = Σ_j Z P_j Z' + 2 Σ_{i<j} Z T^{j−i} P_i Z'
    let sumVariance = 0;
    for (let i = 0; i < h; i++) {
      let w = ZP[i];
      let dot = 0;
      for (let m = 0; m < k; m++) dot += Z[m] * w[m];
      sumVariance += dot;
      for (let j = i + 1; j < h; j++) {
        const next = new Float64Array(k);
        for (let r = 0; r < k; r++) for (let m = 0; m < k; m++) next[r] += T[r * k + m] * w[m];
        w = next;
        let cov = 0;
        for (let m = 0; m < k; m++) cov += Z[m] * w[m];
        sumVariance += 2 * cov;
      }
    }
    return { means, sumVariance };
  }
}

/** A filter's state: predicted state and covariance, observations seen, and the steady state once reached. */
export type KalmanState = { a: ArrayLike<number>; P: ArrayLike<number>; t: number; converged?: { F: number; PZ: ArrayLike<number> } };

/** Rows of a series and its exogenous columns: y[t], and exog row t as a view. */
export type SarimaxData = {
  readonly y: ArrayLike<number>;
  /** rows × exog values, row-major (absent without exogenous regressors). */
  readonly exog?: ArrayLike<number>;
};

/** The exact Gaussian log-likelihood statsmodels reports as `llf` (the first d + s·D terms burned). */
export function logLikelihood(order: SarimaxOrder, params: SarimaxParameters, data: SarimaxData): { llf: number; nobsEffective: number } {
  const system = stateSpaceSystem(order, params);
  const filter = new KalmanFilter(system);
  const n = data.y.length;
  const m = order.exog;
  const row = new Float64Array(m);
  let llf = 0;
  let nobsEffective = 0;
  for (let t = 0; t < n; t++) {
    for (let j = 0; j < m; j++) row[j] = data.exog![t * m + j];
    const ll = filter.step(data.y[t], row);
    if (t >= system.kDiff) {
      llf += ll;
      nobsEffective++;
    }
  }
  return { llf, nobsEffective };
}
