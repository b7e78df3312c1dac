import type { SeededRng } from '../../util/rng';
import type { Distribution } from '../distributions';
import { logGaussMass, normLogPdf, truncnormPpf } from './truncnorm';

export type ParzenEstimatorParameters = {
  considerPrior: boolean;
  priorWeight: number;
  considerMagicClip: boolean;
  considerEndpoints: boolean;
  /** Weights of the n observations, oldest first (Optuna's default_weights). */
  weights: (n: number) => Float64Array;
  multivariate: boolean;
  /**
   * Leave the −log σ term out of each kernel's log density, as Optuna 3.1 to 3.4 do (optuna#5109, changed
   * in 3.5): each kernel's density is then scaled by its bandwidth σ.
   */
  unscaledLogPdf?: boolean;
};

/** Scott-like bandwidth factor of multivariate TPE (as in the BOHB paper): 0.2 · n^(−1/(d+4)). */
const SIGMA0_MAGNITUDE = 0.2;

type NumericKernel = {
  kind: 'numeric';
  distribution: Exclude<Distribution, { type: 'categorical' }>;
  /** Bounds in the transformed (log for log ranges) space, widened by half a step for discrete ones. */
  low: number;
  high: number;
  /** The step for discrete ranges, null for continuous (and log-int, as in Optuna 3.1). */
  q: number | null;
  mus: Float64Array;
  sigmas: Float64Array;
  /** log of each component's mass on [low, high] (the truncation normaliser). */
  logMass: Float64Array;
  /** Continuous log density = −z²/2 + logNorm: −log √2π − logMass − log σ (without log σ under unscaledLogPdf). */
  logNorm: Float64Array;
};

type CategoricalKernel = { kind: 'categorical'; nChoices: number; /** components × choices, rows sum to 1 */ weights: Float64Array };

/**
 * Optuna 3.1's Parzen estimator (optuna/samplers/_tpe/parzen_estimator.py): a mixture with one
 * component per observation plus a prior component, weighted by `weights(n)` and the prior weight.
 * Numeric parameters get truncated normal kernels centred on the observations (in log space for log
 * ranges); univariate bandwidths are the larger gap to the neighbouring observations (endpoints
 * excluded unless `considerEndpoints`), clipped to [(high − low) / min(100, 1 + n), high − low]
 * ("magic clip"); multivariate ones are 0.2 · n^(−1/(d+4)) · (high − low). Discrete ranges integrate
 * the kernel over ±step/2. Categorical parameters use Optuna's categorical kernel: each observation's
 * row is uniform `priorWeight / (n + 1)` plus 1 on the observed choice, normalised.
 */
export class ParzenEstimator {
  private readonly names: string[];
  private readonly kernels: Array<NumericKernel | CategoricalKernel>;
  /** Normalised mixture weights, one per component (observations, then the prior). */
  readonly weights: Float64Array;
  private readonly logWeights: Float64Array;

  constructor(
    observations: Record<string, Float64Array>,
    searchSpace: Record<string, Distribution>,
    private readonly parameters: ParzenEstimatorParameters,
    predeterminedWeights?: Float64Array,
  ) {
    this.names = Object.keys(searchSpace);
    const n = observations[this.names[0]].length;
    const considerPrior = parameters.considerPrior || n === 0;
    const raw = predeterminedWeights ?? parameters.weights(n);
    const components = considerPrior ? n + 1 : n;
    const weights = new Float64Array(components);
    for (let i = 0; i < n; i++) weights[i] = raw[i];
    if (considerPrior) weights[n] = parameters.priorWeight;
    let total = 0;
    for (const w of weights) total += w;
    for (let i = 0; i < components; i++) weights[i] /= total;
    this.weights = weights;
    this.logWeights = weights.map(Math.log);

    const sigma0 = parameters.multivariate ? SIGMA0_MAGNITUDE * Math.max(n, 1) ** (-1 / (this.names.length + 4)) : undefined;
    this.kernels = this.names.map((name) => {
      const distribution = searchSpace[name];
      const values = observations[name];
      if (distribution.type === 'categorical') return categoricalKernel(values, distribution.choices.length, considerPrior, parameters.priorWeight);
      return this.numericKernel(values, distribution, considerPrior, sigma0);
    });
  }

  private numericKernel(values: Float64Array, distribution: NumericKernel['distribution'], considerPrior: boolean, sigma0: number | undefined): NumericKernel {
    let low: number;
    let high: number;
    let q: number | null = null;
    if (distribution.log) {
      const widen = distribution.type === 'int' ? 0.5 : 0;
      low = Math.log(distribution.low - widen);
      high = Math.log(distribution.high + widen);
    } else if (distribution.step !== null) {
      q = distribution.step;
      low = distribution.low - 0.5 * q;
      high = distribution.high + 0.5 * q;
    } else {
      low = distribution.low;
      high = distribution.high;
    }
    const n = values.length;
    const k = considerPrior ? n + 1 : n;
    const mus = new Float64Array(k);
    for (let i = 0; i < n; i++) mus[i] = distribution.log ? Math.log(values[i]) : values[i];
    if (considerPrior) mus[n] = 0.5 * (low + high);
    const sigmas = new Float64Array(k);
    if (sigma0 !== undefined) sigmas.fill(sigma0 * (high - low));
    else {
      // Each kernel is as wide as the larger gap to its sorted neighbours (bounds as outer neighbours).
      const order = numpyArgsort(mus);
      const sorted = new Float64Array(k + 2);
      sorted[0] = low;
      for (let i = 0; i < k; i++) sorted[i + 1] = mus[order[i]];
      sorted[k + 1] = high;
      const sortedSigmas = new Float64Array(k);
      for (let i = 0; i < k; i++) sortedSigmas[i] = Math.max(sorted[i + 1] - sorted[i], sorted[i + 2] - sorted[i + 1]);
      if (!this.parameters.considerEndpoints && k + 2 >= 4) {
        sortedSigmas[0] = sorted[2] - sorted[1];
        sortedSigmas[k - 1] = sorted[k] - sorted[k - 1];
      }
      for (let i = 0; i < k; i++) sigmas[order[i]] = sortedSigmas[i];
    }
    const maxSigma = high - low;
    const minSigma = this.parameters.considerMagicClip ? (high - low) / Math.min(100, 1 + k) : 1e-12;
    for (let i = 0; i < k; i++) sigmas[i] = Math.min(Math.max(sigmas[i], minSigma), maxSigma);
    if (considerPrior) sigmas[n] = high - low;
    const logMass = new Float64Array(k);
    const logNorm = new Float64Array(k);
    for (let i = 0; i < k; i++) {
      logMass[i] = logGaussMass((low - mus[i]) / sigmas[i], (high - mus[i]) / sigmas[i]);
      logNorm[i] = normLogPdf(0) - logMass[i] - (this.parameters.unscaledLogPdf ? 0 : Math.log(sigmas[i]));
    }
    return { kind: 'numeric', distribution, low, high, q, mus, sigmas, logMass, logNorm };
  }

  /**
   * `size` draws (internal representation: values, rounded to the grid, categorical indices). One
   * component is drawn per sample and shared by all parameters (the multivariate kernel).
   */
  sample(rng: SeededRng, size: number): Record<string, Float64Array> {
    const k = this.weights.length;
    const cdf = new Float64Array(k);
    let acc = 0;
    for (let i = 0; i < k; i++) cdf[i] = acc += this.weights[i];
    for (let i = 0; i < k; i++) cdf[i] /= acc;
    const active = new Int32Array(size);
    for (let j = 0; j < size; j++) {
      const u = rng.uniform();
      let index = 0;
      while (index < k - 1 && cdf[index] <= u) index++;
      active[j] = index;
    }
    const out: Record<string, Float64Array> = {};
    this.names.forEach((name, p) => {
      const kernel = this.kernels[p];
      const samples = new Float64Array(size);
      if (kernel.kind === 'categorical') {
        const c = kernel.nChoices;
        for (let j = 0; j < size; j++) {
          const u = rng.uniform();
          const row = active[j] * c;
          let cumulative = 0;
          let index = 0;
          for (let choice = 0; choice < c; choice++) {
            cumulative += kernel.weights[row + choice];
            if (cumulative < u) index++;
          }
          samples[j] = Math.min(index, c - 1);
        }
      } else {
        for (let j = 0; j < size; j++) {
          const u = rng.uniform();
          const mu = kernel.mus[active[j]];
          const sigma = kernel.sigmas[active[j]];
          const x = truncnormPpf(u, (kernel.low - mu) / sigma, (kernel.high - mu) / sigma) * sigma + mu;
          samples[j] = fromTransformed(kernel, x);
        }
      }
      out[name] = samples;
    });
    return out;
  }

  /** log density (log mass for discrete ranges) of each sample under the mixture. */
  logPdf(samples: Record<string, Float64Array>): Float64Array {
    const k = this.weights.length;
    const size = samples[this.names[0]].length;
    const componentLogPdf = new Float64Array(size * k);
    this.names.forEach((name, p) => {
      const kernel = this.kernels[p];
      const values = samples[name];
      if (kernel.kind === 'categorical') {
        const c = kernel.nChoices;
        for (let j = 0; j < size; j++) {
          const choice = values[j];
          for (let i = 0; i < k; i++) componentLogPdf[j * k + i] += Math.log(kernel.weights[i * c + choice]);
        }
        return;
      }
      const { mus, sigmas, logMass, logNorm, low, high, q } = kernel;
      for (let j = 0; j < size; j++) {
        const x = kernel.distribution.log ? Math.log(values[j]) : values[j];
        const row = j * k;
        if (q === null) {
          if (x < low || x > high) for (let i = 0; i < k; i++) componentLogPdf[row + i] = -Infinity;
          else {
            for (let i = 0; i < k; i++) {
              const z = (x - mus[i]) / sigmas[i];
              componentLogPdf[row + i] += logNorm[i] - 0.5 * z * z;
            }
          }
        } else {
          const upper = Math.min(x + q / 2, high);
          const lower = Math.max(x - q / 2, low);
          for (let i = 0; i < k; i++) componentLogPdf[row + i] += logGaussMass((lower - mus[i]) / sigmas[i], (upper - mus[i]) / sigmas[i]) - logMass[i];
        }
      }
    });
    const out = new Float64Array(size);
    for (let j = 0; j < size; j++) {
      let max = -Infinity;
      for (let i = 0; i < k; i++) max = Math.max(max, componentLogPdf[j * k + i] + this.logWeights[i]);
      if (max === -Infinity) {
        out[j] = -Infinity;
        continue;
      }
      let sum = 0;
      for (let i = 0; i < k; i++) sum += Math.exp(componentLogPdf[j * k + i] + this.logWeights[i] - max);
      out[j] = Math.log(sum) + max;
    }
    return out;
  }
}

/**
 * numpy's default argsort (introsort: median-of-3 quicksort, insertion sort up to 16 elements, heapsort
 * past the depth limit — numpy/core/src/npysort/quicksort.cpp), so tied observations get their
 * bandwidths in the same order as in Optuna, which matters once old observations weigh less.
 */
export function numpyArgsort(values: Float64Array): Int32Array {
  const v = values;
  const a = Int32Array.from({ length: v.length }, (_, i) => i);
  const less = (x: number, y: number): boolean => x < y || (y !== y && x === x);
  const swap = (i: number, j: number): void => {
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  };
  const stack: number[] = [];
  const depths: number[] = [];
  let pl = 0;
  let pr = v.length - 1;
  let depth = 2 * Math.floor(Math.log2(Math.max(v.length, 1)));
  for (;;) {
    if (depth < 0) heapsortRange(v, a, pl, pr - pl + 1, less);
    else {
      while (pr - pl > 15) {
        const pm = pl + ((pr - pl) >> 1);
        if (less(v[a[pm]], v[a[pl]])) swap(pm, pl);
        if (less(v[a[pr]], v[a[pm]])) swap(pr, pm);
        if (less(v[a[pm]], v[a[pl]])) swap(pm, pl);
        const pivot = v[a[pm]];
        let pi = pl;
        let pj = pr - 1;
        swap(pm, pj);
        for (;;) {
          do ++pi; while (less(v[a[pi]], pivot));
          do --pj; while (less(pivot, v[a[pj]]));
          if (pi >= pj) break;
          swap(pi, pj);
        }
        swap(pi, pr - 1);
        // Continue with the smaller partition, keep the larger one for later.
        if (pi - pl < pr - pi) {
          stack.push(pi + 1, pr);
          pr = pi - 1;
        } else {
          stack.push(pl, pi - 1);
          pl = pi + 1;
        }
        depths.push(--depth);
      }
      for (let pi = pl + 1; pi <= pr; pi++) {
        const vi = a[pi];
        const vp = v[vi];
        let pj = pi;
        while (pj > pl && less(vp, v[a[pj - 1]])) {
          a[pj] = a[pj - 1];
          pj--;
        }
        a[pj] = vi;
      }
    }
    if (stack.length === 0) break;
    pr = stack.pop()!;
    pl = stack.pop()!;
    depth = depths.pop()!;
  }
  return a;
}

/** numpy's aheapsort on a[start … start+n−1] (only reached on adversarial inputs). */
function heapsortRange(v: Float64Array, a: Int32Array, start: number, n: number, less: (x: number, y: number) => boolean): void {
  const at = (k: number): number => start + k - 1; // 1-based heap positions
  // move `tmp` down from heap position i within a heap of `size` entries
  const siftDown = (tmp: number, i: number, size: number): void => {
    for (let j = i << 1; j <= size;) {
      if (j < size && less(v[a[at(j)]], v[a[at(j + 1)]])) j += 1;
      if (less(v[tmp], v[a[at(j)]])) {
        a[at(i)] = a[at(j)];
        i = j;
        j += j;
      } else break;
    }
    a[at(i)] = tmp;
  };
  for (let l = n >> 1; l > 0; --l) siftDown(a[at(l)], l, n);
  for (let m = n; m > 1;) {
    const tmp = a[at(m)];
    a[at(m)] = a[at(1)];
    m -= 1;
    siftDown(tmp, 1, m);
  }
}

function categoricalKernel(values: Float64Array, nChoices: number, considerPrior: boolean, priorWeight: number): CategoricalKernel {
  const n = values.length;
  const k = considerPrior ? n + 1 : n;
  const fill = considerPrior ? priorWeight / (n + 1) : priorWeight / n;
  const weights = new Float64Array(k * nChoices).fill(fill);
  for (let i = 0; i < n; i++) weights[i * nChoices + values[i]] += 1;
  for (let i = 0; i < k; i++) {
    let total = 0;
    for (let c = 0; c < nChoices; c++) total += weights[i * nChoices + c];
    for (let c = 0; c < nChoices; c++) weights[i * nChoices + c] /= total;
  }
  return { kind: 'categorical', nChoices, weights };
}

/** Back from the kernel space: exp for log ranges, rounding onto the grid for int and stepped ranges. */
function fromTransformed(kernel: NumericKernel, x: number): number {
  const d = kernel.distribution;
  const clip = (v: number): number => Math.min(Math.max(v, d.low), d.high);
  if (d.type === 'float') {
    if (d.log) return Math.exp(x);
    if (d.step !== null) return clip(Math.round((x - d.low) / d.step) * d.step + d.low);
    return x;
  }
  if (d.log) return clip(Math.round(Math.exp(x)));
  return clip(Math.round((x - d.low) / d.step) * d.step + d.low);
}
