import type * as TfModule from '@tensorflow/tfjs';
import { SeededRng } from '../../util/rng';
import { customLayers } from './layers';
import { coinEmbeddingBranch } from './coin-embedding';
import type { LstmParams, NeuralSpec, TcnParams, TrainingParams } from './params';
import { withoutTfNotices, type Tf } from './tf';

type SymbolicTensor = TfModule.SymbolicTensor;

/** What the network's input and output look like. */
export type NetworkShape = {
  readonly seqLen: number;
  readonly features: number;
  /** Classes (softmax output) or 1 (linear output, regression). */
  readonly outputs: number;
  readonly task: 'classification' | 'regression';
  /** The feature index of the coin index column, when the params ask for a learned coin embedding. */
  readonly coinColumn?: number;
};

/** A built network and facts about it for the model's `info`. */
export type Network = {
  readonly model: TfModule.LayersModel;
  readonly parameters: number;
  /** Rows of history the output can depend on (TCN: 1 + 2 (k − 1) Σ dilations; LSTM: the whole window). */
  readonly receptiveField: number;
};

/**
 * Seeds for every initializer and dropout layer, drawn in build order from one seeded generator: the
 * same seed builds the same initial weights on a backend.
 */
class Seeds {
  private readonly rng: SeededRng;
  constructor(seed: number) {
    this.rng = new SeededRng(seed ^ 0x6e6e6574);
  }
  next(): number {
    return this.rng.nextUint32() % 2_147_483_647;
  }
}

function apply(layer: TfModule.layers.Layer, input: SymbolicTensor | SymbolicTensor[]): SymbolicTensor {
  return layer.apply(input) as SymbolicTensor;
}

/** Batch normalization and seeded dropout after a block, as the params say. */
function regularize(tf: Tf, x: SymbolicTensor, params: TrainingParams, seeds: Seeds, name: string): SymbolicTensor {
  const { SeededDropout } = customLayers(tf);
  let y = x;
  if (params.batchNorm) y = apply(tf.layers.batchNormalization({ name: `${name}_bn` }), y);
  if (params.dropout > 0) y = apply(new SeededDropout({ rate: params.dropout, seed: seeds.next(), name: `${name}_dropout` }), y);
  return y;
}

/** Attention pooling over time: score each step (tanh MLP), softmax over time, weighted sum of the steps. */
function attentionPool(tf: Tf, h: SymbolicTensor, seqLen: number, seeds: Seeds): SymbolicTensor {
  const width = h.shape[h.shape.length - 1] as number;
  const hidden = apply(tf.layers.dense({ units: width, activation: 'tanh', kernelInitializer: tf.initializers.glorotUniform({ seed: seeds.next() }), name: 'attention_hidden' }), h);
  const scores = apply(tf.layers.dense({ units: 1, useBias: false, kernelInitializer: tf.initializers.glorotUniform({ seed: seeds.next() }), name: 'attention_score' }), hidden);
  const flat = apply(tf.layers.reshape({ targetShape: [seqLen], name: 'attention_flat' }), scores);
  const weights = apply(tf.layers.softmax({ axis: -1, name: 'attention_weights' }), flat);
  return apply(tf.layers.dot({ axes: [1, 1], name: 'attention_context' }), [weights, h]);
}

function lstmBody(tf: Tf, input: SymbolicTensor, params: LstmParams, seqLen: number, seeds: Seeds, backward: Array<{ layer: TfModule.layers.Layer; seed: number }>): SymbolicTensor {
  let x = input;
  for (let i = 0; i < params.layers; i++) {
    const last = i === params.layers - 1;
    const lstm = tf.layers.lstm({
      units: params.units,
      returnSequences: !last || params.attention,
      kernelInitializer: tf.initializers.glorotUniform({ seed: seeds.next() }),
      recurrentInitializer: tf.initializers.orthogonal({ seed: seeds.next() }),
      name: `lstm_${i}`,
    });
    if (params.bidirectional) {
      const wrapper = tf.layers.bidirectional({ layer: lstm as unknown as TfModule.RNN, mergeMode: 'concat', name: `bidirectional_${i}` });
      backward.push({ layer: wrapper, seed: seeds.next() });
      x = apply(wrapper, x);
    } else {
      x = apply(lstm, x);
    }
    x = regularize(tf, x, params, seeds, `lstm_${i}`);
  }
  return params.attention ? attentionPool(tf, x, seqLen, seeds) : x;
}

/** A TCN (Bai, Kolter & Koltun 2018): residual blocks of two dilated causal convolutions each. */
function tcnBody(tf: Tf, input: SymbolicTensor, params: TcnParams, seeds: Seeds): SymbolicTensor {
  const { CausalTaps, LastStep, SeededDropout } = customLayers(tf);
  let x = input;
  params.dilations.forEach((dilation, block) => {
    let h = x;
    for (let j = 0; j < 2; j++) {
      const name = `tcn_${block}_${j}`;
      // A dilated causal conv1d: the k taps of each step, then one weight matrix applied at every step
      // (a dense layer on the last axis = a kernel-size-1 convolution; the wasm backend has no conv gradients).
      h = apply(new CausalTaps({ kernelSize: params.kernelSize, dilation, name: `${name}_taps` }), h);
      h = apply(tf.layers.dense({ units: params.filters, kernelInitializer: tf.initializers.heNormal({ seed: seeds.next() }), name: `${name}_conv` }), h);
      if (params.batchNorm) h = apply(tf.layers.batchNormalization({ name: `${name}_bn` }), h);
      h = apply(tf.layers.reLU({ name: `${name}_relu` }), h);
      if (params.dropout > 0) h = apply(new SeededDropout({ rate: params.dropout, seed: seeds.next(), name: `${name}_dropout` }), h);
    }
    const channels = x.shape[x.shape.length - 1];
    const residual =
      channels === params.filters
        ? x
        : apply(tf.layers.dense({ units: params.filters, kernelInitializer: tf.initializers.glorotUniform({ seed: seeds.next() }), name: `tcn_${block}_match` }), x);
    x = apply(tf.layers.reLU({ name: `tcn_${block}_out` }), apply(tf.layers.add({ name: `tcn_${block}_add` }), [h, residual]));
  });
  return apply(new LastStep({ name: 'last_step' }), x);
}

/** Give each bidirectional layer's backward LSTM its own seeded initial kernels (tfjs clones the forward config, seeds included). */
function reseedBackward(tf: Tf, wrappers: Array<{ layer: TfModule.layers.Layer; seed: number }>): void {
  for (const { layer, seed } of wrappers) {
    const backwardLayer = (layer as unknown as { backwardLayer: TfModule.layers.Layer }).backwardLayer;
    backwardLayer.weights.forEach((weight, index) => {
      const name = weight.originalName ?? weight.name;
      const initializer = /recurrent_kernel/.test(name)
        ? tf.initializers.orthogonal({ seed: seed + index })
        : /kernel/.test(name)
          ? tf.initializers.glorotUniform({ seed: seed + index })
          : undefined;
      if (initializer) weight.write(tf.tidy(() => initializer.apply(weight.shape)));
    });
  }
}

/**
 * Build the network of a neural model: the architecture's body, a ReLU dense head (optional), then a
 * softmax (classification) or linear (regression) output. Every initializer and dropout layer is seeded.
 */
export function buildNetwork(tf: Tf, spec: NeuralSpec, shape: NetworkShape, seed: number): Network {
  return withoutTfNotices(() => {
    const seeds = new Seeds(seed);
    const { params } = spec;
    const input = tf.input({ shape: [shape.seqLen, shape.features], name: 'window' });
    const backward: Array<{ layer: TfModule.layers.Layer; seed: number }> = [];
    let x = spec.architecture === 'lstm' ? lstmBody(tf, input, spec.params, shape.seqLen, seeds, backward) : tcnBody(tf, input, spec.params, seeds);
    // the learned coin embedding joins the body's summary of the window
    if (params.coinEmbedding && shape.coinColumn !== undefined) x = apply(tf.layers.concatenate({ name: 'with_coin' }), [x, coinEmbeddingBranch(tf, input, shape.coinColumn, params.coinEmbedding, seeds.next())]);
    if (params.denseUnits > 0) {
      x = apply(tf.layers.dense({ units: params.denseUnits, activation: 'relu', kernelInitializer: tf.initializers.heNormal({ seed: seeds.next() }), name: 'head' }), x);
      x = regularize(tf, x, params, seeds, 'head');
    }
    const output = apply(
      tf.layers.dense({
        units: shape.outputs,
        activation: shape.task === 'classification' ? 'softmax' : 'linear',
        kernelInitializer: tf.initializers.glorotUniform({ seed: seeds.next() }),
        name: 'output',
      }),
      x,
    );
    const model = tf.model({ inputs: input, outputs: output, name: spec.architecture });
    reseedBackward(tf, backward);
    const receptiveField =
      spec.architecture === 'tcn' ? Math.min(shape.seqLen, 1 + 2 * (spec.params.kernelSize - 1) * spec.params.dilations.reduce((a, b) => a + b, 0)) : shape.seqLen;
    return { model, parameters: model.countParams(), receptiveField };
  });
}
