import type * as TfModule from '@tensorflow/tfjs';
import type { Tf } from './tf';

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
};

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

  for (const layer of [SeededDropout, CausalTaps, LastStep, Basis, Subtract]) tf.serialization.registerClass(layer);
  const layers: CustomLayers = { SeededDropout, CausalTaps, LastStep, Basis, Subtract };
  registered.set(tf, layers);
  return layers;
}
