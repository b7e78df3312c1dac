import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { lstmClassifier, tcnRegressor } from '../src/models/neural/neural-model';
import { coinEmbeddingWeights } from '../src/models/neural/coin-embedding';
import { buildNetwork } from '../src/models/neural/architectures';
import { loadTf } from '../src/models/neural/tf';
import type { NeuralSequenceModel } from '../src/models/neural/neural-model';
import type { Matrix, TrainingData } from '../src/models/model';
import { runCoinSpec } from '../src/runner/coin-run';
import { ModelRegistry } from '../src/registry/model-registry';
import { SEQUENCE_CLASSES, rowsOf, sequenceTask } from './neural-helpers';
import { tempDir } from './helpers';

/**
 * Neural models over several coins: a learned coin embedding (an embedding table trained with the
 * network, fed from an integer coin index column) and fine-tuning from the universal weights.
 */

const dir = tempDir('neural-coins');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const context = { seed: 7 };

/** Two coins' rows stacked: three noise features and coin_id; coin 1's classes are mirrored (SELL ↔ BUY), so the coin matters. */
function twoCoinData(rowsPerCoin: number): { data: TrainingData; test: { X: Matrix; y: Float64Array } } {
  const cols = 4;
  const parts = [0, 1].map((coin) => {
    const task = sequenceTask(rowsPerCoin, 100 + coin);
    const values = new Float32Array(rowsPerCoin * cols);
    for (let r = 0; r < rowsPerCoin; r++) {
      values.set(task.X.values.subarray(r * 3, r * 3 + 3), r * cols);
      values[r * cols + 3] = coin;
    }
    const y = coin === 1 ? task.classes.map((c) => 2 - c) : task.classes;
    return { X: { values, rows: rowsPerCoin, cols }, y };
  });
  const train = Math.floor(rowsPerCoin * 0.7);
  const valid = Math.floor(rowsPerCoin * 0.15);
  const stack = (from: number, to: number) => {
    const X = parts.map((p) => rowsOf(p.X, from, to));
    const values = new Float32Array(X.reduce((n, m) => n + m.values.length, 0));
    let at = 0;
    for (const m of X) (values.set(m.values, at), (at += m.values.length));
    return { X: { values, rows: values.length / cols, cols }, y: Float64Array.from(parts.flatMap((p) => Array.from(p.y.subarray(from, to)))) };
  };
  return {
    data: { featureNames: ['f0', 'f1', 'f2', 'coin_id'], classes: [...SEQUENCE_CLASSES], train: stack(0, train), valid: stack(train, train + valid) },
    test: stack(train + valid, rowsPerCoin),
  };
}

const small = { seqLen: 6, epochs: 3, batchSize: 64, patience: 0, lrPatience: 0, units: 8, denseUnits: 8, dropout: 0, learningRate: 0.01 };

describe('a learned coin embedding', () => {
  const { data, test } = twoCoinData(300);

  it('trains with the network, saves, loads and predicts identically', async () => {
    const params = lstmClassifier.params.parse({ ...small, coinEmbedding: { coins: 2, dim: 3 } });
    const model = (await lstmClassifier.fit(data, params, context)) as NeuralSequenceModel;
    const loaded = (await (async () => {
      await model.save(path.join(dir, 'embedded'));
      return lstmClassifier.load(path.join(dir, 'embedded'), context);
    })()) as NeuralSequenceModel;
    try {
      const table = coinEmbeddingWeights(model.network)!;
      expect(table).toHaveLength(2 * 3);
      // trained with the network: the table moved away from its seeded initial values
      const { tf } = await loadTf(params.backend);
      const initial = buildNetwork(tf, { architecture: 'lstm', params }, { seqLen: 6, features: 4, outputs: 3, task: 'classification', coinColumn: 3 }, context.seed);
      const start = coinEmbeddingWeights(initial.model)!;
      initial.model.dispose();
      expect(Math.max(...Array.from(table, (v, i) => Math.abs(v - start[i])))).toBeGreaterThan(1e-3);
      expect(coinEmbeddingWeights(loaded.network)).toEqual(table);
      const predictions = await model.predict(test.X);
      expect(await loaded.predict(test.X)).toEqual(predictions);
      // the coin index reaches the output through the embedding: the same rows as the other coin predict differently
      const swapped = Float32Array.from(test.X.values);
      for (let r = 0; r < test.X.rows; r++) swapped[r * 4 + 3] = 1 - swapped[r * 4 + 3];
      expect(await model.predict({ ...test.X, values: swapped })).not.toEqual(predictions);
    } finally {
      model.dispose();
      loaded.dispose();
    }
  });

  it('refuses a missing column and an index outside the table, naming the fix', async () => {
    const params = lstmClassifier.params.parse({ ...small, epochs: 1, coinEmbedding: { column: 'coin', coins: 2 } });
    await expect(lstmClassifier.fit(data, params, context)).rejects.toThrow(/coinEmbedding\.column 'coin' is not a feature column .*add core\/coin-index/);
    const tooFew = lstmClassifier.params.parse({ ...small, epochs: 1, coinEmbedding: { coins: 1 } });
    await expect(lstmClassifier.fit(data, tooFew, context)).rejects.toThrow(/coin_id is 1 at row \d+, not a coin index in 0\.\.0; raise coinEmbedding\.coins/);
  });
});

describe('fine-tuning a neural model from the universal weights', () => {
  const { data } = twoCoinData(300);
  const coinRows = (segment: TrainingData['train'], coin: number) => {
    const rows = segment.X.rows / 2;
    return { X: rowsOf(segment.X, coin * rows, (coin + 1) * rows), y: segment.y.slice(coin * rows, (coin + 1) * rows) };
  };

  it('starts from the saved universal network and scaler: its first validation loss is the universal model’s', async () => {
    const params = lstmClassifier.params.parse({ ...small, coinEmbedding: { coins: 2, dim: 2 } });
    const universal = (await lstmClassifier.fit(data, params, context)) as NeuralSequenceModel;
    await universal.save(path.join(dir, 'universal'));
    const own: TrainingData = { ...data, train: coinRows(data.train, 1), valid: coinRows(data.valid, 1) };
    const tuned = (await lstmClassifier.fit(own, lstmClassifier.params.parse({ ...small, coinEmbedding: { coins: 2, dim: 2 }, epochs: 2, learningRate: 0.002, initModel: path.join(dir, 'universal') }), context)) as NeuralSequenceModel;
    try {
      const warm = tuned.info.warmStart as { from: string; initialValidLoss: number };
      expect(warm.from).toBe(path.join(dir, 'universal'));
      expect(warm.initialValidLoss).toBeCloseTo(await universal.validationLoss(own.valid), 6);
      // the scaler is the universal one's (the weights were trained on inputs scaled by it)
      expect(tuned.scaler).toEqual(universal.scaler);
      // and training went on from there
      expect(coinEmbeddingWeights(tuned.network)).not.toEqual(coinEmbeddingWeights(universal.network));
    } finally {
      universal.dispose();
      tuned.dispose();
    }
  });

  it('refuses a network whose layers differ from the saved one, naming the params to keep', async () => {
    const params = lstmClassifier.params.parse({ ...small, units: 4, epochs: 1, initModel: path.join(dir, 'universal') });
    await expect(lstmClassifier.fit(data, params, context)).rejects.toThrow(/initModel .*universal has \d+ weight tensors .* but the network to fine-tune has \d+ .*fine-tune with the saved model's architecture params/);
    const other = tcnRegressor.params.parse({ seqLen: 6, epochs: 1, filters: 4, dilations: [1], initModel: path.join(dir, 'universal') });
    await expect(tcnRegressor.fit({ ...data, classes: undefined, train: { ...data.train, y: data.train.y.map((v) => v - 1) }, valid: { ...data.valid, y: data.valid.y.map((v) => v - 1) } }, other, context)).rejects.toThrow(/holds a core\/lstm model, not core\/tcn-regressor/);
  });
});

describe('a multi-coin spec with a neural model', () => {
  it('fine-tune mode with core/lstm and a learned embedding runs end to end and registers the universal and per-coin models', async () => {
    const run = await runCoinSpec(
      {
        name: 'neural-duo',
        data: [
          { source: 'sample', symbol: 'BTC/USDT', seed: 21, bars: 700 },
          { source: 'sample', symbol: 'ETH/USDT', seed: 22, bars: 700 },
        ],
        features: [{ id: 'core/returns' }, { id: 'core/rsi' }, { id: 'core/coin-index', params: { coins: ['BTC', 'ETH'] } }],
        label: { id: 'core/direction', params: { bars: 5, threshold: 0.005 } },
        model: { id: 'core/lstm', params: { ...small, epochs: 2, coinEmbedding: { coins: 2, dim: 2 } } },
        models: { mode: 'fine-tune', fineTune: { params: { epochs: 1, learningRate: 0.001 } } },
        strategy: { id: 'core/probability-threshold' },
      },
      { workspace: { runsDir: path.join(dir, 'runs'), modelsDir: path.join(dir, 'models'), dataDir: path.join(dir, 'data') }, progress: 'quiet', log: () => {} },
    );
    const registry = new ModelRegistry(path.join(dir, 'models'));
    expect(registry.names().sort()).toEqual(['neural-duo-BTC-USDT-ft', 'neural-duo-ETH-USDT-ft', 'neural-duo-universal']);
    for (const coin of run.record.coins) expect(coin.model!.name).toMatch(/-ft$/);
    expect(run.record.portfolio.metrics.initialCash).toBe(10_000);
  });
});
