import { ModelError } from '../../errors';

/**
 * The linear meta-learners of stacking, implemented here (no dependency): an L2-regularized multinomial
 * logistic regression solved by Newton's method with a backtracking line search, and ridge regression
 * solved in closed form. Both standardize their inputs (mean / population std of the training rows).
 */

/** Column means and scales (population std; 1 for a constant column) of a rows × cols matrix. */
export type Standardization = { mean: number[]; scale: number[] };

/** A fitted multinomial logistic regression on standardized inputs. */
export type LogisticModel = {
  kind: 'logistic';
  classes: number;
  standardization: Standardization;
  /** classes × features coefficients on the standardized inputs. */
  coef: number[][];
  /** One intercept per class, centred (they sum to 0; only differences matter). */
  intercept: number[];
  /** Inverse regularization strength, as scikit-learn's C. */
  C: number;
  iterations: number;
  /** The objective at the solution: Σ wᵢ·(−log pᵢ,yᵢ) + ‖W‖² / (2C). */
  objective: number;
};

/** A fitted ridge regression on standardized inputs. */
export type RidgeModel = {
  kind: 'ridge';
  standardization: Standardization;
  coef: number[];
  intercept: number;
  alpha: number;
};

/** Means and population standard deviations of the columns. */
export function standardization(X: ArrayLike<number>, rows: number, cols: number): Standardization {
  const mean = new Array<number>(cols).fill(0);
  const scale = new Array<number>(cols).fill(0);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) mean[c] += X[r * cols + c];
  for (let c = 0; c < cols; c++) mean[c] /= rows;
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) scale[c] += (X[r * cols + c] - mean[c]) ** 2;
  for (let c = 0; c < cols; c++) {
    const std = Math.sqrt(scale[c] / rows);
    scale[c] = std > 1e-12 ? std : 1;
  }
  return { mean, scale };
}

function standardize(X: ArrayLike<number>, rows: number, cols: number, s: Standardization): Float64Array {
  const Z = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) Z[r * cols + c] = (X[r * cols + c] - s.mean[c]) / s.scale[c];
  return Z;
}

/** Solve A x = b for a symmetric positive definite A (n × n, row-major) by Cholesky; A is not modified. */
export function choleskySolve(A: Float64Array, b: Float64Array, n: number): Float64Array {
  const L = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = A[i * n + j];
      for (let k = 0; k < j; k++) sum -= L[i * n + k] * L[j * n + k];
      if (i === j) {
        if (!(sum > 0)) throw new ModelError('the meta-learner system is not positive definite; raise the regularization (smaller C or larger alpha)');
        L[i * n + i] = Math.sqrt(sum);
      } else {
        L[i * n + j] = sum / L[j * n + j];
      }
    }
  }
  const z = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let sum = b[i];
    for (let k = 0; k < i; k++) sum -= L[i * n + k] * z[k];
    z[i] = sum / L[i * n + i];
  }
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let sum = z[i];
    for (let k = i + 1; k < n; k++) sum -= L[k * n + i] * x[k];
    x[i] = sum / L[i * n + i];
  }
  return x;
}

/** Row r's logits into `logits` (class-major theta, intercept last); returns the largest, for a stable softmax. */
function rowLogits(Z: Float64Array, r: number, d: number, K: number, theta: Float64Array, logits: Float64Array): number {
  let max = -Infinity;
  for (let k = 0; k < K; k++) {
    let z = theta[k * (d + 1) + d];
    for (let j = 0; j < d; j++) z += theta[k * (d + 1) + j] * Z[r * d + j];
    logits[k] = z;
    if (z > max) max = z;
  }
  return max;
}

/** Softmax probabilities of standardized rows Z under parameters theta (class-major, d + 1 per class, intercept last). */
function softmaxRows(Z: Float64Array, rows: number, d: number, K: number, theta: Float64Array, out: Float64Array): void {
  const logits = new Float64Array(K);
  for (let r = 0; r < rows; r++) {
    const max = rowLogits(Z, r, d, K, theta, logits);
    let sum = 0;
    for (let k = 0; k < K; k++) sum += (logits[k] = Math.exp(logits[k] - max));
    for (let k = 0; k < K; k++) out[r * K + k] = logits[k] / sum;
  }
}

/** Σ wᵢ·(−log pᵢ,yᵢ) + ‖W‖²/(2C), computed stably through log-sum-exp. */
function objective(Z: Float64Array, rows: number, d: number, K: number, theta: Float64Array, y: ArrayLike<number>, w: ArrayLike<number>, C: number): number {
  let loss = 0;
  const logits = new Float64Array(K);
  for (let r = 0; r < rows; r++) {
    const max = rowLogits(Z, r, d, K, theta, logits);
    let sum = 0;
    for (let k = 0; k < K; k++) sum += Math.exp(logits[k] - max);
    loss += w[r] * (max + Math.log(sum) - logits[y[r]]);
  }
  let penalty = 0;
  for (let k = 0; k < K; k++) for (let j = 0; j < d; j++) penalty += theta[k * (d + 1) + j] ** 2;
  return loss + penalty / (2 * C);
}

export type LogisticOptions = {
  /** Inverse regularization strength (scikit-learn's C); the intercepts are not penalized. */
  C: number;
  /** Per-row weights (e.g. balanced class weights); 1 when absent. */
  sampleWeight?: ArrayLike<number>;
  maxIterations?: number;
};

/**
 * Fit an L2-regularized multinomial logistic regression, minimizing Σ wᵢ·(−log pᵢ,yᵢ) + ‖W‖²/(2C)
 * (scikit-learn's LogisticRegression(C, multinomial) objective divided by C) on standardized inputs.
 * Newton's method with the exact Hessian and an Armijo backtracking line search: deterministic and
 * converged to machine precision in a handful of iterations for the few inputs a meta-learner has.
 */
export function fitLogistic(X: ArrayLike<number>, rows: number, cols: number, y: ArrayLike<number>, classes: number, options: LogisticOptions): LogisticModel {
  if (rows === 0) throw new ModelError('the logistic meta-learner got no rows; use more training data or fewer folds');
  if (classes < 2) throw new ModelError(`the logistic meta-learner needs at least 2 classes, got ${classes}`);
  for (let r = 0; r < rows; r++) {
    if (!Number.isInteger(y[r]) || y[r] < 0 || y[r] >= classes) throw new ModelError(`meta-learner label ${y[r]} is not a class id in 0..${classes - 1}`);
  }
  for (let i = 0; i < rows * cols; i++) {
    if (!Number.isFinite(X[i])) throw new ModelError(`meta-learner input contains ${X[i]} at row ${Math.floor(i / cols)}; a member predicted a non-finite value`);
  }
  const C = options.C;
  const w = options.sampleWeight ?? new Float64Array(rows).fill(1);
  const s = standardization(X, rows, cols);
  const Z = standardize(X, rows, cols, s);
  const d = cols;
  const K = classes;
  const P = K * (d + 1);
  let theta = new Float64Array(P);
  let f = objective(Z, rows, d, K, theta, y, w, C);
  const p = new Float64Array(rows * K);
  const xi = new Float64Array(d + 1);
  let totalWeight = 0;
  for (let r = 0; r < rows; r++) totalWeight += w[r];
  const maxIterations = options.maxIterations ?? 100;
  let iterations = 0;
  for (; iterations < maxIterations; iterations++) {
    softmaxRows(Z, rows, d, K, theta, p);
    const g = new Float64Array(P);
    const H = new Float64Array(P * P);
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < d; j++) xi[j] = Z[r * d + j];
      xi[d] = 1;
      const wr = w[r];
      for (let k = 0; k < K; k++) {
        const pk = p[r * K + k];
        const residual = wr * (pk - (y[r] === k ? 1 : 0));
        for (let j = 0; j <= d; j++) g[k * (d + 1) + j] += residual * xi[j];
        for (let l = k; l < K; l++) {
          const h = wr * pk * ((k === l ? 1 : 0) - p[r * K + l]);
          if (h === 0) continue;
          for (let j = 0; j <= d; j++) {
            const hj = h * xi[j];
            const row = (k * (d + 1) + j) * P + l * (d + 1);
            for (let m = 0; m <= d; m++) H[row + m] += hj * xi[m];
          }
        }
      }
    }
    // Mirror the upper class blocks, add the penalty, and a tiny ridge on the (unpenalized) intercepts,
    // whose common shift leaves the loss unchanged (the gradient has no component along it).
    for (let a = 0; a < P; a++) for (let b = 0; b < a; b++) H[a * P + b] = H[b * P + a];
    let maxDiagonal = 0;
    for (let a = 0; a < P; a++) maxDiagonal = Math.max(maxDiagonal, H[a * P + a]);
    for (let k = 0; k < K; k++) {
      for (let j = 0; j < d; j++) {
        g[k * (d + 1) + j] += theta[k * (d + 1) + j] / C;
        H[(k * (d + 1) + j) * P + k * (d + 1) + j] += 1 / C;
      }
      H[(k * (d + 1) + d) * P + k * (d + 1) + d] += 1e-10 * (1 + maxDiagonal);
    }
    let gradientMax = 0;
    for (const value of g) gradientMax = Math.max(gradientMax, Math.abs(value));
    if (gradientMax <= 1e-11 * Math.max(1, totalWeight)) break;
    const step = choleskySolve(H, g, P);
    let slope = 0;
    for (let a = 0; a < P; a++) slope -= g[a] * step[a];
    let t = 1;
    let next = theta;
    let fNext = f;
    for (let halvings = 0; halvings < 60; halvings++, t /= 2) {
      next = new Float64Array(P);
      for (let a = 0; a < P; a++) next[a] = theta[a] - t * step[a];
      fNext = objective(Z, rows, d, K, next, y, w, C);
      if (fNext <= f + 1e-4 * t * slope) break;
    }
    if (!(fNext <= f)) break;
    const improvement = f - fNext;
    theta = next;
    f = fNext;
    if (improvement <= 1e-15 * Math.max(1, Math.abs(f))) {
      iterations++;
      break;
    }
  }
  const coef = Array.from({ length: K }, (_, k) => Array.from(theta.subarray(k * (d + 1), k * (d + 1) + d)));
  const rawIntercept = Array.from({ length: K }, (_, k) => theta[k * (d + 1) + d]);
  const centre = rawIntercept.reduce((a, b) => a + b, 0) / K;
  return { kind: 'logistic', classes: K, standardization: s, coef, intercept: rawIntercept.map((b) => b - centre), C, iterations, objective: f };
}

/** Class probabilities (rows × classes, row-major) of a fitted logistic model. */
export function predictLogistic(model: LogisticModel, X: ArrayLike<number>, rows: number): Float64Array {
  const d = model.coef[0].length;
  const K = model.classes;
  const out = new Float64Array(rows * K);
  const logits = new Float64Array(K);
  const z = new Float64Array(d);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < d; j++) z[j] = (X[r * d + j] - model.standardization.mean[j]) / model.standardization.scale[j];
    let max = -Infinity;
    for (let k = 0; k < K; k++) {
      let v = model.intercept[k];
      for (let j = 0; j < d; j++) v += model.coef[k][j] * z[j];
      logits[k] = v;
      if (v > max) max = v;
    }
    let sum = 0;
    for (let k = 0; k < K; k++) sum += (logits[k] = Math.exp(logits[k] - max));
    for (let k = 0; k < K; k++) out[r * K + k] = logits[k] / sum;
  }
  return out;
}

/**
 * Fit ridge regression on standardized inputs: minimizes ‖y − b − Zβ‖² + α‖β‖² (scikit-learn's
 * Ridge(alpha) on standardized columns; the intercept is not penalized), solved in closed form.
 */
export function fitRidge(X: ArrayLike<number>, rows: number, cols: number, y: ArrayLike<number>, alpha: number): RidgeModel {
  if (rows === 0) throw new ModelError('the ridge meta-learner got no rows; use more training data or fewer folds');
  for (let i = 0; i < rows * cols; i++) {
    if (!Number.isFinite(X[i])) throw new ModelError(`meta-learner input contains ${X[i]} at row ${Math.floor(i / cols)}; a member predicted a non-finite value`);
  }
  const s = standardization(X, rows, cols);
  const Z = standardize(X, rows, cols, s);
  let yMean = 0;
  for (let r = 0; r < rows; r++) yMean += y[r];
  yMean /= rows;
  const A = new Float64Array(cols * cols);
  const b = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const yc = y[r] - yMean;
    for (let i = 0; i < cols; i++) {
      const zi = Z[r * cols + i];
      b[i] += zi * yc;
      for (let j = 0; j < cols; j++) A[i * cols + j] += zi * Z[r * cols + j];
    }
  }
  for (let i = 0; i < cols; i++) A[i * cols + i] += alpha > 0 ? alpha : 1e-12 * (1 + A[i * cols + i]);
  const coef = Array.from(choleskySolve(A, b, cols));
  return { kind: 'ridge', standardization: s, coef, intercept: yMean, alpha };
}

/** Values (one per row) of a fitted ridge model. */
export function predictRidge(model: RidgeModel, X: ArrayLike<number>, rows: number): Float64Array {
  const d = model.coef.length;
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let v = model.intercept;
    for (let j = 0; j < d; j++) v += (model.coef[j] * (X[r * d + j] - model.standardization.mean[j])) / model.standardization.scale[j];
    out[r] = v;
  }
  return out;
}
