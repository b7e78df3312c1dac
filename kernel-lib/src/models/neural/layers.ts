import type * as TfModule from '@tensorflow/tfjs';
import { withoutTfNotices, type Tf } from './tf';
import { lstmBackward, lstmForward, type GateActivation, type MatMul } from './lstm-kernel';

type Tensor = TfModule.Tensor;
type Shape = Array<number | null>;
type LayerArgs = { name?: string; trainable?: boolean };
type ConfigDict = TfModule.serialization.ConfigDict;

/** A layer constructor as tfjs's functional API uses it. */
type LayerClass<A> = new (args: A) => TfModule.layers.Layer;

/** The custom layers candlelab's networks use; registered with tfjs so saved models load again. */
export type CustomLayers = {
  /**
   * Dropout with a reproducible mask: each training call draws its mask from `seed + call count`
   * (tfjs's own Dropout reuses one fixed mask when given a seed, and Math.random() when not).
   */
  SeededDropout: LayerClass<LayerArgs & { rate: number; seed: number }>;
  /**
   * The taps of a dilated causal convolution: step t becomes [x(t − (k−1)d), …, x(t − d), x(t)]
   * (zeros before the start), so a kernel-size-1 convolution over them is a dilated causal conv1d.
   * tfjs has neither 'causal' padding nor gradients of dilated convolutions; this has both.
   */
  CausalTaps: LayerClass<LayerArgs & { kernelSize: number; dilation: number }>;
  /** The last time step of a sequence: [batch, time, channels] → [batch, channels]. */
  LastStep: LayerClass<LayerArgs>;
  /**
   * N-BEATS' fixed basis expansion (Oreshkin et al. 2020, §3.3): θ [batch, size × channels] → the
   * path Σ_i θ_i,c · basis_i(t) at `steps` time points [batch, steps × channels]. Trend: t^i for
   * i = 0 … size − 1 (a polynomial); seasonality: 1, cos 2πkt, sin 2πkt for k = 1 … (size − 1) / 2 (Fourier).
   * Time runs over the lookback window in units of its length: step j is at (offset + j) / scale.
   */
  Basis: LayerClass<LayerArgs & BasisArgs>;
  /** a − b of two same-shaped inputs (tfjs has add, not subtract): N-BEATS' residual minus backcast. */
  Subtract: LayerClass<LayerArgs>;
  /**
   * tfjs' LSTM layer (same config, weights and numbers) whose recurrence runs as one matMul per step
   * plus a plain loop over the cells, with a hand-written gradient (lstm-kernel.ts), on the wasm and cpu
   * backends. Falls back to tf.layers.lstm's own computation on the native backend and for what the fast
   * path does not cover (masks, initial or stateful states, dropout inside the cell, other activations).
   */
  FastLSTM: new (args: LstmArgs) => TfModule.RNN;
};

/** The arguments of tf.layers.lstm. */
export type LstmArgs = Parameters<Tf['layers']['lstm']>[0];

/** What a basis expansion evaluates: its kind, number of basis functions, channels and time grid. */
export type BasisArgs = { basis: 'trend' | 'seasonality'; size: number; channels: number; steps: number; offset: number; scale: number };

/** The basis matrix (steps × size, row-major) of an N-BEATS trend or seasonality block. */
export function basisMatrix(args: BasisArgs): Float32Array {
  const out = new Float32Array(args.steps * args.size);
  for (let j = 0; j < args.steps; j++) {
    const t = (args.offset + j) / args.scale;
    for (let i = 0; i < args.size; i++) {
      let value: number;
      if (args.basis === 'trend') value = t ** i;
      else if (i === 0) value = 1;
      else {
        const k = Math.ceil(i / 2);
        value = i % 2 === 1 ? Math.cos(2 * Math.PI * k * t) : Math.sin(2 * Math.PI * k * t);
      }
      out[j * args.size + i] = value;
    }
  }
  return out;
}

const registered = new WeakMap<Tf, CustomLayers>();

function single(inputs: Tensor | Tensor[]): Tensor {
  return Array.isArray(inputs) ? inputs[0] : inputs;
}

function singleShape(shape: Shape | Shape[]): Shape {
  return Array.isArray(shape[0]) ? (shape[0] as Shape) : (shape as Shape);
}

/** Define and register the custom layer classes on this tfjs namespace (once per namespace). */
export function customLayers(tf: Tf): CustomLayers {
  const known = registered.get(tf);
  if (known) return known;

  class SeededDropout extends tf.layers.Layer {
    static className = 'CandlelabSeededDropout';
    private readonly rate: number;
    private readonly seed: number;
    private calls = 0;
    constructor(args: LayerArgs & { rate: number; seed: number }) {
      super(args);
      this.rate = args.rate;
      this.seed = args.seed;
    }
    override computeOutputShape(inputShape: Shape | Shape[]): Shape {
      return singleShape(inputShape);
    }
    override call(inputs: Tensor | Tensor[], kwargs: { [key: string]: unknown }): Tensor {
      const x = single(inputs);
      if (kwargs.training !== true || this.rate === 0) return x;
      return tf.dropout(x, this.rate, undefined, this.seed + this.calls++);
    }
    override getConfig(): ConfigDict {
      return { ...super.getConfig(), rate: this.rate, seed: this.seed };
    }
  }

  class CausalTaps extends tf.layers.Layer {
    static className = 'CandlelabCausalTaps';
    private readonly kernelSize: number;
    private readonly dilation: number;
    constructor(args: LayerArgs & { kernelSize: number; dilation: number }) {
      super(args);
      this.kernelSize = args.kernelSize;
      this.dilation = args.dilation;
    }
    override computeOutputShape(inputShape: Shape | Shape[]): Shape {
      const [batch, time, channels] = singleShape(inputShape);
      return [batch, time, channels === null ? null : channels * this.kernelSize];
    }
    override call(inputs: Tensor | Tensor[]): Tensor {
      const x = single(inputs);
      const [batch, time, channels] = x.shape;
      return tf.tidy(() => {
        const padded = tf.pad(x, [[0, 0], [(this.kernelSize - 1) * this.dilation, 0], [0, 0]]);
        const taps = Array.from({ length: this.kernelSize }, (_, j) => tf.slice(padded, [0, j * this.dilation, 0], [batch, time, channels]));
        return tf.concat(taps, -1);
      });
    }
    override getConfig(): ConfigDict {
      return { ...super.getConfig(), kernelSize: this.kernelSize, dilation: this.dilation };
    }
  }

  class LastStep extends tf.layers.Layer {
    static className = 'CandlelabLastStep';
    override computeOutputShape(inputShape: Shape | Shape[]): Shape {
      const [batch, , channels] = singleShape(inputShape);
      return [batch, channels];
    }
    override call(inputs: Tensor | Tensor[]): Tensor {
      const x = single(inputs);
      const [batch, time, channels] = x.shape;
      return tf.tidy(() => tf.reshape(tf.slice(x, [0, time - 1, 0], [batch, 1, channels]), [batch, channels]));
    }
  }

  class Basis extends tf.layers.Layer {
    static className = 'CandlelabBasis';
    private readonly args: BasisArgs;
    constructor(args: LayerArgs & BasisArgs) {
      super(args);
      this.args = { basis: args.basis, size: args.size, channels: args.channels, steps: args.steps, offset: args.offset, scale: args.scale };
    }
    override computeOutputShape(inputShape: Shape | Shape[]): Shape {
      return [singleShape(inputShape)[0], this.args.steps * this.args.channels];
    }
    override call(inputs: Tensor | Tensor[]): Tensor {
      const x = single(inputs);
      const { size, channels, steps } = this.args;
      return tf.tidy(() => {
        const basisT = tf.tensor2d(basisMatrix(this.args), [steps, size]).transpose();
        // θ as [batch · channels, size] rows; each row's path over the steps is θ · basisᵀ
        const theta = tf.reshape(tf.transpose(tf.reshape(x, [-1, size, channels]), [0, 2, 1]), [-1, size]);
        const path = tf.reshape(tf.matMul(theta, basisT), [-1, channels, steps]);
        return tf.reshape(tf.transpose(path, [0, 2, 1]), [-1, steps * channels]);
      });
    }
    override getConfig(): ConfigDict {
      return { ...super.getConfig(), ...this.args };
    }
  }

  class Subtract extends tf.layers.Layer {
    static className = 'CandlelabSubtract';
    override computeOutputShape(inputShape: Shape | Shape[]): Shape {
      return singleShape(inputShape);
    }
    override call(inputs: Tensor | Tensor[]): Tensor {
      const [a, b] = inputs as Tensor[];
      return tf.sub(a, b);
    }
  }

  const FastLSTM = fastLstmClass(tf);

  for (const layer of [SeededDropout, CausalTaps, LastStep, Basis, Subtract]) tf.serialization.registerClass(layer);
  tf.serialization.registerClass(FastLSTM as unknown as TfModule.serialization.SerializableConstructor<TfModule.serialization.Serializable>);
  const layers: CustomLayers = { SeededDropout, CausalTaps, LastStep, Basis, Subtract, FastLSTM };
  registered.set(tf, layers);
  return layers;
}

/** Sequences per forward-only chunk (inference): bounds the x·W buffer to chunk × steps × 4U values. */
const INFERENCE_CHUNK = 256;

/** What the LSTM cell of tfjs-layers exposes (not in its public types). */
type LstmCell = {
  kernel: { read(): Tensor };
  recurrentKernel: { read(): Tensor };
  bias: { read(): Tensor } | null;
  units: number;
  activation: { getClassName(): string };
  recurrentActivation: { getClassName(): string };
  dropout: number;
  recurrentDropout: number;
};

/** tfjs' LSTM class, subclassed so the recurrence runs in a few large ops (see CustomLayers.FastLSTM). */
function fastLstmClass(tf: Tf): new (args: LstmArgs) => TfModule.RNN {
  const Base = withoutTfNotices(() => tf.layers.lstm({ units: 1 })).constructor as new (args: LstmArgs) => TfModule.RNN;

  /** rows × a fixed matrix, through tfjs (XNNPACK on wasm); the tensors live for the call only. */
  const product =
    (matrix: Tensor, k: number): MatMul =>
    (rows, count) => {
      const a = tf.tensor2d(rows, [count, k]);
      const p = tf.matMul(a, matrix as TfModule.Tensor2D);
      const out = p.dataSync() as Float32Array;
      a.dispose();
      p.dispose();
      return out;
    };

  class FastLSTM extends Base {
    static className = 'CandlelabLSTM';

    override call(inputs: Tensor | Tensor[], kwargs: { [key: string]: unknown }): Tensor | Tensor[] {
      const self = this as unknown as { cell: LstmCell; goBackwards: boolean; returnSequences: boolean; returnState: boolean; stateful: boolean };
      const cell = self.cell;
      const x = single(inputs);
      const recurrent = cell.recurrentActivation.getClassName();
      const fast =
        tf.getBackend() !== 'tensorflow' &&
        (!Array.isArray(inputs) || inputs.length === 1) &&
        x.rank === 3 &&
        kwargs?.mask == null &&
        kwargs?.initialState == null &&
        !self.stateful &&
        !self.returnState &&
        cell.bias !== null &&
        !(cell.dropout > 0) &&
        !(cell.recurrentDropout > 0) &&
        cell.activation.getClassName() === 'tanh' &&
        (recurrent === 'hardSigmoid' || recurrent === 'sigmoid');
      if (!fast) return super.call(inputs, kwargs);
      return lstmOp(tf, x, cell.kernel.read(), cell.recurrentKernel.read(), cell.bias!.read(), {
        units: cell.units,
        activation: recurrent as GateActivation,
        backwards: self.goBackwards,
        sequences: self.returnSequences,
        product,
      });
    }
  }
  return FastLSTM;
}

type LstmOptions = { units: number; activation: GateActivation; backwards: boolean; sequences: boolean; product: (matrix: Tensor, k: number) => MatMul };

/** x [B, T, F] batch-major → [T·B, F] time-major, step s reading time s (or T − 1 − s going backwards). */
function timeMajor(x: Float32Array, batch: number, steps: number, features: number, backwards: boolean, from = 0): Float32Array {
  const out = new Float32Array(steps * batch * features);
  for (let s = 0; s < steps; s++) {
    const t = backwards ? steps - 1 - s : s;
    for (let b = 0; b < batch; b++) out.set(x.subarray(((from + b) * steps + t) * features, ((from + b) * steps + t + 1) * features), (s * batch + b) * features);
  }
  return out;
}

/** The layer's output from the hidden states h (steps + 1 blocks of B × U): [B, T, U] or the last step's [B, U]. */
function outputOf(h: Float32Array, batch: number, steps: number, units: number, sequences: boolean, into: Float32Array, from: number): void {
  const cells = batch * units;
  if (!sequences) {
    into.set(h.subarray(steps * cells, (steps + 1) * cells), from * units);
    return;
  }
  for (let b = 0; b < batch; b++) {
    for (let s = 0; s < steps; s++) into.set(h.subarray((s + 1) * cells + b * units, (s + 1) * cells + (b + 1) * units), ((from + b) * steps + s) * units);
  }
}

/** x·W + b for every step of `xt` (time-major rows). */
function projection(tf: Tf, xt: Float32Array, rows: number, features: number, kernel: Tensor, bias: Tensor): Float32Array {
  // (not through tf.tidy: it would walk the returned array element by element looking for tensors)
  const x = tf.tensor2d(xt, [rows, features]);
  const product = tf.matMul(x, kernel as TfModule.Tensor2D);
  const sum = tf.add(product, bias);
  const out = sum.dataSync() as Float32Array;
  tf.dispose([x, product, sum]);
  return out;
}

/** The LSTM layer's output for x; differentiable (a hand-written gradient) when a gradient tape is recording. */
function lstmOp(tf: Tf, x: Tensor, kernel: Tensor, recurrentKernel: Tensor, bias: Tensor, options: LstmOptions): Tensor {
  const [batch, steps, features] = x.shape;
  const { units, activation, backwards, sequences, product } = options;
  const outShape = sequences ? [batch, steps, units] : [batch, units];
  const taping = (tf.engine() as unknown as { state: { gradientDepth: number } }).state.gradientDepth > 0;
  if (!taping) {
    // inference: no tape to keep; chunks of sequences bound the memory of x·W
    const data = x.dataSync() as Float32Array;
    const out = new Float32Array(batch * (sequences ? steps : 1) * units);
    for (let from = 0; from < batch; from += INFERENCE_CHUNK) {
      const n = Math.min(INFERENCE_CHUNK, batch - from);
      const xw = projection(tf, timeMajor(data, n, steps, features, backwards, from), steps * n, features, kernel, bias);
      const { h } = lstmForward(xw, n, steps, units, product(recurrentKernel, units), activation, false);
      outputOf(h, n, steps, units, sequences, out, from);
    }
    return tf.tensor(out, outShape);
  }
  const op = tf.customGrad(((xIn: Tensor, kernelIn: Tensor, recurrentIn: Tensor, biasIn: Tensor) => {
    const xt = timeMajor(xIn.dataSync() as Float32Array, batch, steps, features, backwards);
    const xw = projection(tf, xt, steps * batch, features, kernelIn, biasIn);
    const { h, tape } = lstmForward(xw, batch, steps, units, product(recurrentIn, units), activation, true);
    const out = new Float32Array(batch * (sequences ? steps : 1) * units);
    outputOf(h, batch, steps, units, sequences, out, 0);
    const gradFunc = (dy: Tensor): Tensor[] => {
      const cells = batch * units;
      const width = 4 * units;
      const rows = steps * batch;
      // the loss gradient of each step's output, time-major
      const dyData = dy.dataSync() as Float32Array;
      const dh = new Float32Array(steps * cells);
      if (sequences) {
        for (let b = 0; b < batch; b++) {
          for (let s = 0; s < steps; s++) dh.set(dyData.subarray((b * steps + s) * units, (b * steps + s + 1) * units), s * cells + b * units);
        }
      } else dh.set(dyData, (steps - 1) * cells);
      const recurrentT = tf.transpose(recurrentIn);
      const dz = lstmBackward(tape!, dh, batch, steps, units, product(recurrentT, width), activation);
      recurrentT.dispose();
      // [xᵀ; h_prevᵀ] · dz gives the kernel and recurrent kernel gradients in one matMul
      const stacked = new Float32Array((features + units) * rows);
      for (let n = 0; n < rows; n++) {
        for (let f = 0; f < features; f++) stacked[f * rows + n] = xt[n * features + f];
        for (let u = 0; u < units; u++) stacked[(features + u) * rows + n] = h[n * units + u];
      }
      const dbias = new Float64Array(width);
      for (let n = 0; n < rows; n++) for (let j = 0; j < width; j++) dbias[j] += dz[n * width + j];
      return tf.tidy(() => {
        const dzT = tf.tensor2d(dz, [rows, width]);
        const weights = tf.matMul(tf.tensor2d(stacked, [features + units, rows]), dzT).dataSync() as Float32Array;
        const dxt = tf.matMul(dzT, tf.transpose(kernelIn)).dataSync() as Float32Array;
        // back to [B, T, F], each step's gradient at the time it read
        const dx = new Float32Array(batch * steps * features);
        for (let s = 0; s < steps; s++) {
          const t = backwards ? steps - 1 - s : s;
          for (let b = 0; b < batch; b++) dx.set(dxt.subarray((s * batch + b) * features, (s * batch + b + 1) * features), (b * steps + t) * features);
        }
        return [
          tf.tensor3d(dx, [batch, steps, features]),
          tf.tensor2d(weights.subarray(0, features * width), [features, width]),
          tf.tensor2d(weights.subarray(features * width), [units, width]),
          tf.tensor1d(Float32Array.from(dbias)),
        ];
      });
    };
    return { value: tf.tensor(out, outShape), gradFunc };
  }) as unknown as Parameters<Tf['customGrad']>[0]);
  return op(x, kernel, recurrentKernel, bias);
}
