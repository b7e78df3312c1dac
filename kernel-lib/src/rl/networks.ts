import type * as TfModule from '@tensorflow/tfjs';
import { SeededRng } from '../util/rng';
import type { Tf } from '../models/neural/tf';

/**
 * Small multilayer perceptrons for the RL agents, held twice: as plain Float32Arrays (acting, rollouts,
 * `predict` and `stream` run them in JavaScript, exactly and without tfjs's per-call overhead on
 * batches of a few rows) and as tfjs variables (gradient steps). `TfMlp.sync()` copies the trained
 * variables back after each update.
 */

/** Layer sizes (input, hidden…, output) and weights W0, b0, W1, b1, … (W row-major: in × out). */
export type MlpWeights = {
  readonly sizes: readonly number[];
  readonly weights: Float32Array[];
};

/**
 * Glorot-uniform weights and zero biases drawn from one seeded generator (as architectures.ts seeds
 * tfjs's initializers): the same seed gives the same network on every backend. The output layer is
 * scaled by `outputGain` (a small policy head starts near the uniform policy).
 */
export function initMlp(sizes: readonly number[], seed: number, outputGain = 1): MlpWeights {
  const rng = new SeededRng(seed ^ 0x726c6e6e);
  const weights: Float32Array[] = [];
  for (let l = 0; l + 1 < sizes.length; l++) {
    const fanIn = sizes[l];
    const fanOut = sizes[l + 1];
    const limit = Math.sqrt(6 / (fanIn + fanOut)) * (l + 2 === sizes.length ? outputGain : 1);
    const w = new Float32Array(fanIn * fanOut);
    for (let i = 0; i < w.length; i++) w[i] = (2 * rng.uniform() - 1) * limit;
    weights.push(w, new Float32Array(fanOut));
  }
  return { sizes: [...sizes], weights };
}

/** A copy of the weights (a target network, a best-so-far snapshot). */
export function copyMlp(mlp: MlpWeights): MlpWeights {
  return { sizes: [...mlp.sizes], weights: mlp.weights.map((w) => Float32Array.from(w)) };
}

/** Reusable buffers for forwardMlp (no allocation per call once sized). */
export class MlpScratch {
  private a = new Float32Array(0);
  private b = new Float32Array(0);
  buffers(size: number): [Float32Array, Float32Array] {
    if (this.a.length < size) {
      this.a = new Float32Array(size);
      this.b = new Float32Array(size);
    }
    return [this.a, this.b];
  }
}

/** rows × output values of the network (tanh hidden layers, linear output) into `out`. */
export function forwardMlp(mlp: MlpWeights, input: Float32Array, rows: number, out: Float32Array, scratch: MlpScratch): Float32Array {
  const { sizes, weights } = mlp;
  const widest = Math.max(...sizes);
  const [first, second] = scratch.buffers(rows * widest);
  let source = input;
  let target = first;
  const layers = sizes.length - 1;
  for (let l = 0; l < layers; l++) {
    const n = sizes[l];
    const m = sizes[l + 1];
    const w = weights[2 * l];
    const bias = weights[2 * l + 1];
    const last = l === layers - 1;
    const destination = last ? out : target;
    for (let r = 0; r < rows; r++) {
      const inOffset = r * n;
      const outOffset = r * m;
      for (let j = 0; j < m; j++) destination[outOffset + j] = bias[j];
      for (let i = 0; i < n; i++) {
        const x = source[inOffset + i];
        if (x === 0) continue;
        const row = i * m;
        for (let j = 0; j < m; j++) destination[outOffset + j] += x * w[row + j];
      }
      if (!last) for (let j = 0; j < m; j++) destination[outOffset + j] = Math.tanh(destination[outOffset + j]);
    }
    source = destination;
    target = target === first ? second : first;
  }
  return out;
}

/** The same network as tfjs variables, for gradient steps. */
export class TfMlp {
  readonly variables: TfModule.Variable[];
  constructor(
    private readonly tf: Tf,
    readonly mlp: MlpWeights,
  ) {
    this.variables = mlp.weights.map((w, k) => {
      const l = Math.floor(k / 2);
      const shape = k % 2 === 0 ? [mlp.sizes[l], mlp.sizes[l + 1]] : [mlp.sizes[l + 1]];
      return tf.variable(tf.tensor(w, shape, 'float32'), true);
    });
  }

  /** The network's output for a batch (inside the caller's tidy). */
  apply(x: TfModule.Tensor2D): TfModule.Tensor2D {
    const layers = this.mlp.sizes.length - 1;
    let h: TfModule.Tensor2D = x;
    for (let l = 0; l < layers; l++) {
      h = this.tf.add(this.tf.matMul(h, this.variables[2 * l] as TfModule.Tensor2D), this.variables[2 * l + 1]) as TfModule.Tensor2D;
      if (l < layers - 1) h = this.tf.tanh(h);
    }
    return h;
  }

  /** Copy the variables into the plain weights (after a gradient step). */
  sync(): void {
    this.variables.forEach((v, k) => this.mlp.weights[k].set(v.dataSync() as Float32Array));
  }

  dispose(): void {
    for (const v of this.variables) v.dispose();
  }
}

/** All weights as one little-endian float32 buffer (weights.bin), in layer order. */
export function packWeights(networks: readonly MlpWeights[]): Uint8Array {
  const total = networks.reduce((sum, n) => sum + n.weights.reduce((s, w) => s + w.length, 0), 0);
  const values = new Float32Array(total);
  let k = 0;
  for (const n of networks) for (const w of n.weights) {
    values.set(w, k);
    k += w.length;
  }
  return new Uint8Array(values.buffer);
}

/** Networks of the given layer sizes from a buffer written by packWeights; throws when the sizes disagree. */
export function unpackWeights(bytes: Uint8Array, sizes: ReadonlyArray<readonly number[]>): MlpWeights[] | string {
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  const values = new Float32Array(copy.buffer, 0, Math.floor(bytes.length / 4));
  let k = 0;
  const networks: MlpWeights[] = [];
  for (const layerSizes of sizes) {
    const weights: Float32Array[] = [];
    for (let l = 0; l + 1 < layerSizes.length; l++) {
      for (const length of [layerSizes[l] * layerSizes[l + 1], layerSizes[l + 1]]) {
        if (k + length > values.length) return `weights.bin holds ${values.length} values, fewer than the layer sizes need`;
        weights.push(values.slice(k, k + length));
        k += length;
      }
    }
    networks.push({ sizes: [...layerSizes], weights });
  }
  if (k !== values.length) return `weights.bin holds ${values.length} values, the layer sizes need ${k}`;
  return networks;
}
