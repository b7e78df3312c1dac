import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { lstmClassifier, lstmRegressor, tcnClassifier, tcnRegressor, type NeuralSequenceModel } from '../src/models/neural/neural-model';
import { buildNetwork } from '../src/models/neural/architectures';
import { loadTf, requestedBackend } from '../src/models/neural/tf';
import { lstmClassifierParams, tcnClassifierParams } from '../src/models/neural/params';
import { ConfigError, ModelError } from '../src/errors';
import { accuracy, correlation, sequenceTask, taskData } from './neural-helpers';
import { tempDir } from './helpers';

const dir = tempDir('neural-variants');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const task = sequenceTask(1300, 2);
const classification = taskData(task, 'classification', 800, 250);
const regression = taskData(task, 'regression', 800, 250);

describe('LSTM variants', () => {
  it('stacked bidirectional LSTM with attention pooling builds, trains, saves and loads', async () => {
    const params = lstmClassifier.params.parse({ seqLen: 6, units: 8, layers: 2, bidirectional: true, attention: true, denseUnits: 8, epochs: 2, batchSize: 128, learningRate: 0.01 });
    const model = (await lstmClassifier.fit(classification.data, params, { seed: 4 })) as NeuralSequenceModel;
    try {
      const names = model.network.layers.map((layer) => layer.name);
      expect(names).toEqual(expect.arrayContaining(['bidirectional_0', 'bidirectional_1', 'attention_weights', 'attention_context', 'lstm_0_bn', 'lstm_0_dropout']));
      const history = model.info.history as Array<{ train: number; valid: number }>;
      expect(history).toHaveLength(2);
      expect(history.every((h) => Number.isFinite(h.train) && Number.isFinite(h.valid))).toBe(true);
      const predictions = await model.predict(classification.test.X);
      expect(predictions.every(Number.isFinite)).toBe(true);
      await model.save(path.join(dir, 'bilstm'));
      const loaded = (await lstmClassifier.load(path.join(dir, 'bilstm'), { seed: 0 })) as NeuralSequenceModel;
      expect(Array.from(await loaded.predict(classification.test.X))).toEqual(Array.from(predictions));
      loaded.dispose();
    } finally {
      model.dispose();
    }
  });

  it('the backward LSTM of a bidirectional layer starts from its own seeded kernels', async () => {
    const { tf } = await loadTf();
    const params = lstmClassifierParams.parse({ seqLen: 5, units: 4, bidirectional: true });
    const network = buildNetwork(tf, { architecture: 'lstm', params }, { seqLen: 5, features: 3, outputs: 3, task: 'classification' }, 1);
    try {
      const weights = network.model.getLayer('bidirectional_0').getWeights();
      // forward kernel, recurrent kernel, bias, then the backward ones
      expect(weights).toHaveLength(6);
      expect(Array.from(weights[0].dataSync())).not.toEqual(Array.from(weights[3].dataSync()));
      expect(Array.from(weights[1].dataSync())).not.toEqual(Array.from(weights[4].dataSync()));
      const again = buildNetwork(tf, { architecture: 'lstm', params }, { seqLen: 5, features: 3, outputs: 3, task: 'classification' }, 1);
      expect(Array.from(again.model.getLayer('bidirectional_0').getWeights()[3].dataSync())).toEqual(Array.from(weights[3].dataSync()));
      again.model.dispose();
    } finally {
      network.model.dispose();
    }
  });

  it('the LSTM regressor learns a target made of earlier rows (standardized inside, original units out)', async () => {
    const params = lstmRegressor.params.parse({ seqLen: 6, units: 16, denseUnits: 16, dropout: 0, epochs: 10, batchSize: 64, learningRate: 0.01 });
    const model = (await lstmRegressor.fit(regression.data, params, { seed: 2 })) as NeuralSequenceModel;
    try {
      const predictions = await model.predict(regression.test.X);
      expect(predictions.length).toBe(regression.test.X.rows);
      expect(correlation(predictions, regression.test.y)).toBeGreaterThan(0.8);
      expect(model.info.historyMetric).toBe('MSE (standardized target)');
      expect(model.target!.std).toBeGreaterThan(0.5);
    } finally {
      model.dispose();
    }
  });
});

describe('TCN (dilated causal conv1d)', () => {
  it('the classifier learns the sequence task above chance', async () => {
    const params = tcnClassifier.params.parse({ seqLen: 8, filters: 16, kernelSize: 2, dilations: [1, 2], denseUnits: 16, dropout: 0.1, epochs: 12, batchSize: 64, learningRate: 0.01 });
    const model = (await tcnClassifier.fit(classification.data, params, { seed: 1 })) as NeuralSequenceModel;
    try {
      expect(model.info.receptiveField).toBe(7);
      expect(accuracy(await model.predict(classification.test.X), classification.test.y, 3)).toBeGreaterThan(0.6);
    } finally {
      model.dispose();
    }
  });

  it('its convolutions are causal: an output never depends on later steps of its window', async () => {
    const { tf } = await loadTf();
    const params = tcnClassifierParams.parse({ seqLen: 12, filters: 4, kernelSize: 3, dilations: [1, 2], batchNorm: false, dropout: 0, denseUnits: 0 });
    const network = buildNetwork(tf, { architecture: 'tcn', params }, { seqLen: 12, features: 2, outputs: 3, task: 'classification' }, 3);
    try {
      // Output of the last conv block at step t, before the last-step pick: compare two inputs that differ from step 6 on.
      const block = tf.model({ inputs: network.model.inputs, outputs: network.model.getLayer('tcn_1_out').output });
      const a = tf.randomNormal([1, 12, 2], 0, 1, 'float32', 1);
      const b = tf.concat([tf.slice(a, [0, 0, 0], [1, 6, 2]), tf.fill([1, 6, 2], 3)], 1);
      const [ya, yb] = [block.predict(a), block.predict(b)].map((y) => (y as import('@tensorflow/tfjs').Tensor).arraySync() as number[][][]);
      expect(ya[0].slice(0, 6)).toEqual(yb[0].slice(0, 6));
      expect(ya[0][6]).not.toEqual(yb[0][6]);
      tf.dispose([a, b]);
    } finally {
      network.model.dispose();
    }
  });

  it('the TCN regressor learns, saves and loads', async () => {
    const params = tcnRegressor.params.parse({ seqLen: 6, filters: 16, kernelSize: 2, dilations: [1, 2], dropout: 0, epochs: 8, batchSize: 64, learningRate: 0.01 });
    const model = (await tcnRegressor.fit(regression.data, params, { seed: 2 })) as NeuralSequenceModel;
    try {
      const predictions = await model.predict(regression.test.X);
      expect(correlation(predictions, regression.test.y)).toBeGreaterThan(0.8);
      await model.save(path.join(dir, 'tcn'));
      const loaded = await tcnRegressor.load(path.join(dir, 'tcn'), { seed: 0 });
      expect(Array.from(await loaded.predict(regression.test.X))).toEqual(Array.from(predictions));
      loaded.dispose();
      await expect(lstmRegressor.load(path.join(dir, 'tcn'), { seed: 0 })).rejects.toThrow(/holds a core\/tcn-regressor model, not core\/lstm-regressor/);
    } finally {
      model.dispose();
    }
  });
});

describe('tfjs backend choice', () => {
  it('auto picks the fastest backend that works and says why faster ones were skipped', async () => {
    const lines: string[] = [];
    const runtime = await loadTf('cpu', (line) => lines.push(line));
    expect(runtime.backend).toBe('cpu');
    expect(runtime.tf.getBackend()).toBe('cpu');
    const auto = await loadTf('auto', (line) => lines.push(line));
    // Without the real tfjs-node, auto lands on wasm and names the native packages it skipped. The
    // workspace installs danfojs-node's tfjs-node as an alias of plain @tensorflow/tfjs: that is no native backend.
    let installed: string | undefined;
    try {
      installed = (require('@tensorflow/tfjs-node/package.json') as { name: string }).name;
    } catch {
      installed = undefined;
    }
    if (installed !== '@tensorflow/tfjs-node') {
      const why = installed ? `@tensorflow/tfjs-node is an alias of ${installed} (no native addon)` : '@tensorflow/tfjs-node is not installed';
      expect(auto.backend).toBe('wasm');
      expect(auto.skipped).toContain(`tensorflow: ${why}`);
      expect(lines.at(-1)).toMatch(/^tfjs backend: wasm \(@tensorflow\/tfjs-backend-wasm\) — skipped tensorflow-gpu: /);
      await expect(loadTf('tensorflow')).rejects.toThrow(
        `tfjs backend 'tensorflow' is not available (tensorflow: ${why}); install @tensorflow/tfjs-node or use backend 'auto' (CANDLELAB_TF_BACKEND=auto)`,
      );
      await expect(loadTf('tensorflow')).rejects.toThrow(ModelError);
    }
    expect(auto.tf.getBackend()).toBe(auto.backend === 'tensorflow-gpu' ? 'tensorflow' : auto.backend);
  });

  it('CANDLELAB_TF_BACKEND forces a backend when the model param says auto; the param wins otherwise', () => {
    expect(requestedBackend('auto', { CANDLELAB_TF_BACKEND: 'cpu' })).toBe('cpu');
    expect(requestedBackend('wasm', { CANDLELAB_TF_BACKEND: 'cpu' })).toBe('wasm');
    expect(requestedBackend('auto', {})).toBe('auto');
    expect(() => requestedBackend('auto', { CANDLELAB_TF_BACKEND: 'gpu' })).toThrow(ConfigError);
    expect(() => requestedBackend('auto', { CANDLELAB_TF_BACKEND: 'gpu' })).toThrow(/CANDLELAB_TF_BACKEND=gpu is not a tfjs backend; use one of auto, tensorflow-gpu/);
  });

  it('trains on the pure cpu backend too, and leaves no tensors behind after dispose', async () => {
    const { tf } = await loadTf('cpu');
    const before = tf.memory().numTensors;
    const params = lstmClassifier.params.parse({ seqLen: 4, units: 4, denseUnits: 0, epochs: 1, batchSize: 256, backend: 'cpu' });
    const model = await lstmClassifier.fit(classification.data, params, { seed: 1 });
    expect(model.info.backend).toBe('cpu');
    expect((await model.predict(classification.test.X)).every(Number.isFinite)).toBe(true);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
    await loadTf('auto');
  });
});
