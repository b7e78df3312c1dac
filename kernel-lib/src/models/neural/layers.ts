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
};

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

  for (const layer of [SeededDropout, CausalTaps, LastStep]) tf.serialization.registerClass(layer);
  const layers: CustomLayers = { SeededDropout, CausalTaps, LastStep };
  registered.set(tf, layers);
  return layers;
}
