import type * as TfModule from '@tensorflow/tfjs';
import { normalQuantile } from '../../validation/overfitting';
import type { Tf } from './tf';

type Tensor = TfModule.Tensor;
type Scalar = TfModule.Scalar;

/** The distributions a probabilistic forecaster (core/deepar) can emit. */
export type DistributionName = 'gaussian' | 'student-t';

/** Smallest scale the network can emit (in standardized target units), so the likelihood stays finite. */
const MIN_SCALE = 1e-3;
/** Student-t degrees of freedom are 2 + softplus(raw): above 2, so the variance exists. */
const MIN_DEGREES = 2;
const LOG_2PI = Math.log(2 * Math.PI);

/** log Γ(x) for x > 0: shifted to x + 6, then Stirling's series to x⁻⁷ (about 1e-11 absolute). */
export function logGamma(x: number): number {
  let shift = 0;
  let z = x;
  for (let i = 0; i < 6; i++) shift += Math.log(z++);
  const inv = 1 / z;
  const inv2 = inv * inv;
  const series = inv * (1 / 12 + inv2 * (-1 / 360 + inv2 * (1 / 1260 - inv2 / 1680)));
  return (z - 0.5) * Math.log(z) - z + 0.5 * LOG_2PI + series - shift;
}

/** The continued fraction of the incomplete beta function (modified Lentz), as in Numerical Recipes §6.4. */
function betaFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a - 1 + m2) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + 1 + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const step = d * c;
    h *= step;
    if (Math.abs(step - 1) < 1e-15) break;
  }
  return h;
}

/** The regularized incomplete beta function I_x(a, b). */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  return x < (a + 1) / (a + b + 2) ? (front * betaFraction(a, b, x)) / a : 1 - (front * betaFraction(b, a, 1 - x)) / b;
}

/** CDF of Student's t with ν degrees of freedom. */
export function studentTCdf(t: number, nu: number): number {
  const tail = 0.5 * incompleteBeta(nu / (nu + t * t), nu / 2, 0.5);
  return t > 0 ? 1 - tail : tail;
}

/** Density of Student's t with ν degrees of freedom, as a logarithm. */
function studentTLogPdf(t: number, nu: number): number {
  return logGamma((nu + 1) / 2) - logGamma(nu / 2) - 0.5 * Math.log(nu * Math.PI) - ((nu + 1) / 2) * Math.log1p((t * t) / nu);
}

/** Quantile of Student's t with ν degrees of freedom: Newton's method from the normal quantile, bisection-guarded. */
export function studentTQuantile(p: number, nu: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`studentTQuantile needs 0 < p < 1, got ${p}`);
  if (p === 0.5) return 0;
  let lo = -1e6;
  let hi = 1e6;
  let t = normalQuantile(p);
  for (let i = 0; i < 100; i++) {
    const f = studentTCdf(t, nu) - p;
    if (Math.abs(f) < 1e-14) break;
    if (f > 0) hi = t;
    else lo = t;
    let next = t - f / Math.exp(studentTLogPdf(t, nu));
    if (!(next > lo && next < hi)) next = (lo + hi) / 2;
    if (Math.abs(next - t) < 1e-13 * Math.max(1, Math.abs(t))) return next;
    t = next;
  }
  return t;
}

/** log Γ(x) in tfjs for x ≥ 1 (with gradients): shifted by 6, then Stirling's series to x⁻⁵ (error < 1e-9). */
function tfLogGamma(tf: Tf, x: Tensor): Tensor {
  return tf.tidy(() => {
    let shift = tf.zerosLike(x);
    let z = x;
    for (let i = 0; i < 6; i++) {
      shift = tf.add(shift, tf.log(z));
      z = tf.add(z, 1);
    }
    const inv = tf.reciprocal(z);
    const inv2 = tf.square(inv);
    const series = tf.mul(inv, tf.add(1 / 12, tf.mul(inv2, tf.add(-1 / 360, tf.mul(inv2, 1 / 1260)))));
    const stirling = tf.add(tf.sub(tf.mul(tf.sub(z, 0.5), tf.log(z)), z), tf.add(0.5 * LOG_2PI, series));
    return tf.sub(stirling, shift);
  });
}

/**
 * The output head of a probabilistic forecaster in DeepAR's manner (Salinas et al. 2020): the network
 * emits a distribution's raw parameters per window — μ, a scale through softplus, and for Student's t
 * the degrees of freedom through softplus — and trains on their negative log-likelihood.
 */
export class DistributionHead {
  constructor(
    readonly name: DistributionName,
    /** Quantile levels the model outputs, increasing, in (0, 1). */
    readonly quantiles: readonly number[],
  ) {}

  /** Raw network outputs per window. */
  get parameters(): number {
    return this.name === 'gaussian' ? 2 : 3;
  }

  /** Mean negative log-likelihood of the targets under the emitted distributions (the training objective). */
  loss(tf: Tf, output: Tensor, targets: Tensor): Scalar {
    return tf.tidy(() => {
      const mu = tf.slice(output, [0, 0], [-1, 1]).reshape([-1]);
      const scale = tf.add(tf.softplus(tf.slice(output, [0, 1], [-1, 1]).reshape([-1])), MIN_SCALE);
      const z = tf.div(tf.sub(targets, mu), scale);
      if (this.name === 'gaussian') return tf.mean(tf.add(tf.log(scale), tf.add(tf.mul(tf.square(z), 0.5), 0.5 * LOG_2PI))) as Scalar;
      const nu = tf.add(tf.softplus(tf.slice(output, [0, 2], [-1, 1]).reshape([-1])), MIN_DEGREES);
      const half = tf.div(tf.add(nu, 1), 2);
      const nll = tf.addN([
        tf.neg(tfLogGamma(tf, half)),
        tfLogGamma(tf, tf.div(nu, 2)),
        tf.mul(tf.log(tf.mul(nu, Math.PI)), 0.5),
        tf.log(scale),
        tf.mul(half, tf.log1p(tf.div(tf.square(z), nu))),
      ]);
      return tf.mean(nll) as Scalar;
    });
  }

  /** The distribution of one window from its raw outputs: location, scale and (Student-t) degrees of freedom. */
  parametersOf(raw: ArrayLike<number>, row: number): { mu: number; scale: number; nu: number } {
    const k = this.parameters;
    const softplus = (v: number) => (v > 30 ? v : Math.log1p(Math.exp(v)));
    return { mu: raw[row * k], scale: softplus(raw[row * k + 1]) + MIN_SCALE, nu: this.name === 'gaussian' ? Infinity : softplus(raw[row * k + 2]) + MIN_DEGREES };
  }

  /** Mean negative log-likelihood in float64 (the validation loss). */
  negativeLogLikelihood(raw: Float32Array, targets: ArrayLike<number>): number {
    let sum = 0;
    for (let i = 0; i < targets.length; i++) {
      const { mu, scale, nu } = this.parametersOf(raw, i);
      const z = (targets[i] - mu) / scale;
      sum += this.name === 'gaussian' ? Math.log(scale) + 0.5 * z * z + 0.5 * LOG_2PI : Math.log(scale) - studentTLogPdf(z, nu);
    }
    return sum / targets.length;
  }

  /** Output columns: the point forecast μ (median and mean), then one column per quantile level. */
  get outputNames(): string[] {
    return ['value', ...this.quantiles.map((q) => `q${q}`)];
  }

  /** rows × (1 + quantiles) values in target units: μ, then μ + scale · z_q per level, mapped by `unscale`. */
  decode(raw: Float32Array, rows: number, unscale: (v: number) => number): Float32Array {
    const width = 1 + this.quantiles.length;
    const out = new Float32Array(rows * width);
    const gaussian = this.quantiles.map((q) => normalQuantile(q));
    for (let r = 0; r < rows; r++) {
      const { mu, scale, nu } = this.parametersOf(raw, r);
      out[r * width] = unscale(mu);
      this.quantiles.forEach((q, k) => {
        const z = this.name === 'gaussian' ? gaussian[k] : studentTQuantile(q, nu);
        out[r * width + 1 + k] = unscale(mu + scale * z);
      });
    }
    return out;
  }
}
