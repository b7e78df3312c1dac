import type * as TfModule from '@tensorflow/tfjs';
import { SeededRng } from '../../util/rng';
import { customLayers } from './layers';
import { coinEmbeddingBranch } from './coin-embedding';
import type { LstmParams, NbeatsParams, NeuralSpec, TcnParams, TrainingParams } from './params';
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
  const { FastLSTM } = customLayers(tf);
  let x = input;
  for (let i = 0; i < params.layers; i++) {
    const last = i === params.layers - 1;
    // tfjs' LSTM (same config, weights and outputs) with a faster recurrence on the wasm and cpu backends
    const lstm = new FastLSTM({
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

/**
 * N-BEATS (Oreshkin et al. 2020): blocks of fully connected ReLU layers over the flattened window; each
 * block's backcast is subtracted from what the next block sees (doubly residual stacking) and the blocks'
 * forecast paths are summed. Generic blocks expand θ with learned linear maps; interpretable ones with a
 * fixed polynomial (trend stack) or Fourier (seasonality stack) basis over the window's time axis, per
 * feature for the backcast, extended past the window's end for the forecast.
 * @see https://arxiv.org/abs/1905.10437
 */
function nbeatsBody(tf: Tf, input: SymbolicTensor, params: NbeatsParams, shape: { seqLen: number; features: number }, seeds: Seeds): SymbolicTensor {
  const { Basis, Subtract } = customLayers(tf);
  const length = shape.seqLen * shape.features;
  const dense = (units: number, name: string, activation: 'relu' | 'linear' = 'linear', useBias = true, scale = 1) =>
    tf.layers.dense({
      units,
      activation,
      useBias,
      kernelInitializer:
        activation === 'relu'
          ? tf.initializers.heNormal({ seed: seeds.next() })
          : tf.initializers.varianceScaling({ scale, mode: 'fanAvg', distribution: 'uniform', seed: seeds.next() }),
      name,
    });
  let residual = apply(tf.layers.flatten({ name: 'nbeats_flatten' }), input);
  const forecasts: SymbolicTensor[] = [];
  const stacks: Array<'generic' | 'trend' | 'seasonality'> = params.stackType === 'interpretable' ? ['trend', 'seasonality'] : Array.from({ length: params.stacks }, () => 'generic');
  stacks.forEach((kind, stack) => {
    for (let block = 0; block < params.blocks; block++) {
      const name = `nbeats_${stack}_${kind}_${block}`;
      let h = residual;
      for (let j = 0; j < params.hiddenLayers; j++) h = apply(dense(params.units, `${name}_fc${j}`, 'relu'), h);
      let backcast: SymbolicTensor;
      let forecast: SymbolicTensor;
      if (kind === 'generic') {
        backcast = apply(dense(length, `${name}_backcast`), apply(dense(params.thetaUnits, `${name}_theta_b`, 'linear', false), h));
        forecast = apply(dense(params.forecastLength, `${name}_forecast`), apply(dense(params.thetaUnits, `${name}_theta_f`, 'linear', false), h));
      } else {
        const size = kind === 'trend' ? params.trendDegree + 1 : 2 * params.harmonics + 1;
        const grid = { basis: kind, size, scale: shape.seqLen };
        // θ starts small (variance / size): a sum of `size` basis functions of unit scale starts near unit scale
        const thetaB = apply(dense(size * shape.features, `${name}_theta_b`, 'linear', false, 1 / size), h);
        const thetaF = apply(dense(size, `${name}_theta_f`, 'linear', false, 1 / size), h);
        backcast = apply(new Basis({ ...grid, channels: shape.features, steps: shape.seqLen, offset: 0, name: `${name}_backcast` }), thetaB);
        forecast = apply(new Basis({ ...grid, channels: 1, steps: params.forecastLength, offset: shape.seqLen, name: `${name}_forecast` }), thetaF);
      }
      residual = apply(new Subtract({ name: `${name}_residual` }), [residual, backcast]);
      forecasts.push(forecast);
    }
  });
  return forecasts.length === 1 ? forecasts[0] : apply(tf.layers.add({ name: 'nbeats_forecast' }), forecasts);
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
    let x =
      spec.architecture === 'lstm' || spec.architecture === 'deepar'
        ? lstmBody(tf, input, spec.params, shape.seqLen, seeds, backward)
        : spec.architecture === 'tcn'
          ? tcnBody(tf, input, spec.params, seeds)
          : nbeatsBody(tf, input, spec.params, shape, seeds);
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
