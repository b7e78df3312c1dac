import { describe, expect, it } from 'vitest';
import type * as TfModule from '@tensorflow/tfjs';
import { loadTf, type Tf } from '../src/models/neural/tf';
import { customLayers } from '../src/models/neural/layers';
import { tanh } from '../src/models/neural/lstm-kernel';

type Tensor = TfModule.Tensor;

function maxDiff(a: Tensor, b: Tensor): number {
  const x = a.dataSync();
  const y = b.dataSync();
  expect(x.length).toBe(y.length);
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
  return m;
}

/** tf.layers.lstm and FastLSTM with the same config and the same (non-trivial) weights. */
function pair(tf: Tf, args: Record<string, unknown>, inputShape: number[]) {
  const { FastLSTM } = customLayers(tf);
  const config = {
    units: 4,
    kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
    recurrentInitializer: tf.initializers.glorotUniform({ seed: 2 }),
    biasInitializer: tf.initializers.randomNormal({ seed: 3 }),
    ...args,
  } as Parameters<Tf['layers']['lstm']>[0];
  const reference = tf.layers.lstm(config);
  const fast = new FastLSTM(config);
  const x = tf.randomNormal(inputShape, 0, 2, 'float32', 4);
  reference.apply(x);
  fast.apply(x);
  fast.setWeights(reference.getWeights());
  return { reference, fast, x };
}

describe('FastLSTM (the LSTM layer of candlelab networks)', () => {
  const cases = [
    { returnSequences: false, goBackwards: false, recurrentActivation: 'hardSigmoid' },
    { returnSequences: true, goBackwards: false, recurrentActivation: 'hardSigmoid' },
    { returnSequences: true, goBackwards: true, recurrentActivation: 'hardSigmoid' },
    { returnSequences: false, goBackwards: true, recurrentActivation: 'sigmoid' },
  ];
  for (const args of cases) {
    it(`matches tf.layers.lstm's output and gradients on the same weights (${JSON.stringify(args)})`, async () => {
      for (const backend of ['wasm', 'cpu'] as const) {
        const { tf } = await loadTf(backend);
        const { reference, fast, x } = pair(tf, args, [5, 7, 3]);
        try {
          const outShape = args.returnSequences ? [5, 7, 4] : [5, 4];
          const weightsOfLoss = tf.randomNormal(outShape, 0, 1, 'float32', 9);
          const loss = (layer: TfModule.layers.Layer, input: Tensor) => tf.sum(tf.mul(layer.apply(input) as Tensor, weightsOfLoss)) as TfModule.Scalar;
          // forward, outside a gradient tape (inference) and inside one
          expect(maxDiff(reference.apply(x) as Tensor, fast.apply(x) as Tensor)).toBeLessThanOrEqual(1e-5);
          const gradsOf = (layer: TfModule.layers.Layer) => tf.variableGrads(() => loss(layer, x), layer.trainableWeights.map((w) => w.read() as TfModule.Variable));
          const [ref, got] = [gradsOf(reference), gradsOf(fast)];
          expect(Math.abs(ref.value.dataSync()[0] - got.value.dataSync()[0])).toBeLessThanOrEqual(1e-5);
          const refGrads = Object.values(ref.grads);
          const gotGrads = Object.values(got.grads);
          expect(gotGrads).toHaveLength(3); // kernel, recurrent kernel, bias
          refGrads.forEach((g, i) => {
            expect(g.shape).toEqual(gotGrads[i].shape);
            expect(maxDiff(g, gotGrads[i])).toBeLessThanOrEqual(1e-5);
          });
          // the gradient with respect to the input (what a stacked LSTM below receives)
          const dx = (layer: TfModule.layers.Layer) => tf.grad((input: Tensor) => loss(layer, input))(x);
          expect(maxDiff(dx(reference), dx(fast))).toBeLessThanOrEqual(1e-5);
        } finally {
          reference.dispose();
          fast.dispose();
        }
      }
    });
  }

  it('gives the same outputs for batches larger than its inference chunk (256 sequences)', async () => {
    const { tf } = await loadTf('wasm');
    const { reference, fast, x } = pair(tf, { units: 3 }, [300, 4, 2]);
    expect(maxDiff(reference.apply(x) as Tensor, fast.apply(x) as Tensor)).toBeLessThanOrEqual(1e-5);
    // each sequence's output does not depend on the others in the batch
    const first = fast.apply(tf.slice(x, [0, 0, 0], [10, 4, 2])) as Tensor;
    expect(Array.from(first.dataSync())).toEqual(Array.from((fast.apply(x) as Tensor).dataSync().subarray(0, 30)));
  });

  it('saves as CandlelabLSTM and loads back to identical outputs; a model saved with tfjs LSTM still loads', async () => {
    const { tf } = await loadTf('wasm');
    const { FastLSTM } = customLayers(tf);
    const save = async (model: TfModule.LayersModel) => {
      let artifacts: TfModule.io.ModelArtifacts | undefined;
      await model.save(tf.io.withSaveHandler(async (a) => ((artifacts = a), { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } })));
      return artifacts!;
    };
    for (const layer of [new FastLSTM({ units: 4, kernelInitializer: tf.initializers.glorotUniform({ seed: 5 }) }), tf.layers.lstm({ units: 4, kernelInitializer: tf.initializers.glorotUniform({ seed: 5 }) })]) {
      const input = tf.input({ shape: [6, 3] });
      const model = tf.model({ inputs: input, outputs: layer.apply(input) as TfModule.SymbolicTensor });
      const artifacts = await save(model);
      expect(JSON.stringify(artifacts.modelTopology)).toContain(layer instanceof FastLSTM ? '"CandlelabLSTM"' : '"LSTM"');
      const loaded = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
      const x = tf.randomNormal([8, 6, 3], 0, 1, 'float32', 6);
      expect(Array.from((loaded.predict(x) as Tensor).dataSync())).toEqual(Array.from((model.predict(x) as Tensor).dataSync()));
      expect(loaded.layers[1] instanceof FastLSTM).toBe(layer instanceof FastLSTM);
    }
  });

  it('computes tanh to float32 precision', () => {
    let worst = 0;
    for (let x = -12; x <= 12; x += 1e-3) worst = Math.max(worst, Math.abs(tanh(x) - Math.tanh(x)));
    expect(worst).toBeLessThan(5e-8);
    expect(tanh(0)).toBe(0);
    expect(tanh(-40)).toBeCloseTo(-1, 7);
  });
});
