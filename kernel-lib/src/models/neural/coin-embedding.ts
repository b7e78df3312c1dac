import type * as TfModule from '@tensorflow/tfjs';
import { z } from 'zod';
import { ModelError } from '../../errors';
import type { Matrix } from '../model';
import type { Tf } from './tf';

/**
 * A learned coin embedding (F7): an integer coin index column (core/coin-index's `coin_id`) is read
 * at the window's last step, looked up in an embedding table of `coins` × `dim` trained with the
 * network, and concatenated to the body's output before the dense head. The column stays unscaled
 * (the scaler's output is replaced by the raw index), so the lookup sees 0, 1, …
 * The lookup is written as one-hot(index) × table (a bias-free dense layer named coin_embedding whose
 * kernel is the table): the same numbers as tfjs's Embedding layer, whose gradient (a gather's) the
 * wasm backend lacks.
 */
export const coinEmbeddingParams = z
  .object({
    /** The feature column holding the coin index (core/coin-index writes coin_id). */
    column: z.string().min(1).default('coin_id'),
    /** Rows of the embedding table: the number of coins in the universe (indexes 0 … coins − 1). */
    coins: z.number().int().min(1).max(10_000),
    /** Width of each coin's learned vector. */
    dim: z.number().int().min(1).max(256).default(4),
  })
  .strict();

export type CoinEmbeddingParams = z.output<typeof coinEmbeddingParams>;

type Tensor = TfModule.Tensor;
type SymbolicTensor = TfModule.SymbolicTensor;
type Shape = Array<number | null>;
type ConfigDict = TfModule.serialization.ConfigDict;

/** The feature index of the embedding's column; a missing column fails naming the fix. */
export function coinColumnIndex(featureNames: readonly string[], embedding: CoinEmbeddingParams): number {
  const index = featureNames.indexOf(embedding.column);
  if (index < 0) throw new ModelError(`coinEmbedding.column '${embedding.column}' is not a feature column (${featureNames.join(', ')}); add core/coin-index to the features or name its column`);
  return index;
}

/** Check the index column holds integers in 0 … coins − 1 (a fractional or out-of-range index would be a silent wrong lookup). */
export function checkCoinColumn(X: Matrix, column: number, embedding: CoinEmbeddingParams, where: string): void {
  for (let r = 0; r < X.rows; r++) {
    const value = X.values[r * X.cols + column];
    if (!Number.isInteger(value) || value < 0 || value >= embedding.coins) {
      throw new ModelError(`${where}: ${embedding.column} is ${value} at row ${r}, not a coin index in 0..${embedding.coins - 1}; raise coinEmbedding.coins or fix the column`);
    }
  }
}

/** Scaled rows with the index column put back to its raw integer values. */
export function withRawColumn(scaled: Matrix, raw: Matrix, column: number): Matrix {
  const values = Float32Array.from(scaled.values);
  for (let r = 0; r < raw.rows; r++) values[r * raw.cols + column] = raw.values[r * raw.cols + column];
  return { values, rows: scaled.rows, cols: scaled.cols };
}

type CoinOneHotClass = new (args: { column: number; coins: number; name?: string }) => TfModule.layers.Layer;
const registered = new WeakMap<Tf, CoinOneHotClass>();

/** The layer that one-hot encodes the index column at a window's last step: [batch, time, features] → [batch, coins]. */
export function coinIndexLayer(tf: Tf): CoinOneHotClass {
  const known = registered.get(tf);
  if (known) return known;
  class CoinOneHot extends tf.layers.Layer {
    static className = 'CandlelabCoinOneHot';
    private readonly column: number;
    private readonly coins: number;
    constructor(args: { column: number; coins: number; name?: string }) {
      super(args);
      this.column = args.column;
      this.coins = args.coins;
    }
    override computeOutputShape(inputShape: Shape | Shape[]): Shape {
      const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as Shape;
      return [shape[0], this.coins];
    }
    override call(inputs: Tensor | Tensor[]): Tensor {
      const x = Array.isArray(inputs) ? inputs[0] : inputs;
      const [batch, time] = x.shape;
      return tf.tidy(() => {
        const index = tf.reshape(tf.slice(x, [0, time - 1, this.column], [batch, 1, 1]), [batch, 1]);
        return tf.cast(tf.equal(index, tf.range(0, this.coins).reshape([1, this.coins])), 'float32');
      });
    }
    override getConfig(): ConfigDict {
      return { ...super.getConfig(), column: this.column, coins: this.coins };
    }
  }
  tf.serialization.registerClass(CoinOneHot);
  registered.set(tf, CoinOneHot);
  return CoinOneHot;
}

/** The embedding branch: the coin index of each window → its learned `dim`-vector ([batch, dim]). */
export function coinEmbeddingBranch(tf: Tf, input: SymbolicTensor, column: number, embedding: CoinEmbeddingParams, seed: number): SymbolicTensor {
  const CoinOneHot = coinIndexLayer(tf);
  const oneHot = new CoinOneHot({ column, coins: embedding.coins, name: 'coin_one_hot' }).apply(input) as SymbolicTensor;
  // the table: row k is coin k's vector (Keras's Embedding initializer, uniform ±0.05)
  return tf.layers
    .dense({ units: embedding.dim, useBias: false, kernelInitializer: tf.initializers.randomUniform({ minval: -0.05, maxval: 0.05, seed }), name: 'coin_embedding' })
    .apply(oneHot) as SymbolicTensor;
}

/** The learned vectors (coins × dim) of a network with a coin embedding, or undefined. */
export function coinEmbeddingWeights(network: TfModule.LayersModel): Float32Array | undefined {
  const layer = network.layers.find((l) => l.name === 'coin_embedding');
  return layer ? (layer.getWeights()[0].dataSync() as Float32Array).slice() : undefined;
}
