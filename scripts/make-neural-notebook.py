"""Writes notebooks/07-neural-models.ipynb (outputs cleared). Edit the cells here, then run this script."""
import os, sys
sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from notebook_cells import Notebook

nb = Notebook()
md, code = nb.md, nb.code

md("""
# 07 · Neural sequence models: LSTM and TCN on TensorFlow.js

`core/lstm`, `core/tcn` and their regressor twins (`kernel-lib/src/models/neural/`) read a **window** of
the last `seqLen` feature rows and predict the label of the window's last row. They train on
TensorFlow.js with Adam, balanced class weights, reduce-on-plateau and early stopping, all seeded.

This notebook shows

1. which tfjs **backend** runs the networks and why the faster ones were passed over,
2. an LSTM's **training curve** (loss per epoch on the training and validation windows),
3. the family side by side (LSTM, bidirectional LSTM with attention pooling, TCN), each with its curve,
4. that a saved and reloaded network predicts the same numbers.

The networks are tiny (8–16 units, four epochs on about 1,300 windows), so it trains in
seconds even on the pure-JavaScript backends; real runs use `specs/lstm.json`-sized models.
""")
code("""
// Parameters: `candlelab notebook -p name=value` injects new values after this cell.
const bars = 2000;     // hourly bars of the sample market
const epochs = 4;      // epochs per network (early stopping may stop sooner)
const seqLen = 12;     // rows per window
""", tags=["parameters"])
code("""
import * as path from 'path';
import * as cl from 'candlelab';

cl.initCharts();
const spec = {
  name: 'nb-neural',
  seed: 7,
  data: { source: 'sample' as const, symbol: 'BTC/USDT', timeframe: '1h', seed: 42, bars: bars }, // (tslab needs `bars: bars`, not the shorthand)
  features: [
    { id: 'core/returns', params: { periods: [1, 4, 24] } },
    { id: 'core/rsi', params: { period: 14 } },
    { id: 'core/macd' },
    { id: 'core/atr', params: { period: 14 } },
  ],
  label: { id: 'core/direction', params: { bars: 5, threshold: 0.005 } },
  split: { train: 0.7, valid: 0.15, test: 0.15 },
  model: { id: 'core/lstm', params: { seqLen: seqLen, units: 16, denseUnits: 8, dropout: 0.1, epochs: epochs, batchSize: 256, learningRate: 0.01, patience: 2 } },
  strategy: { id: 'core/probability-threshold', params: { buyThreshold: 0.45 } },
  backtest: { initialCash: 10000, commissionBps: 10, slippageBps: 5 },
  register: false,
};
const context = cl.createRunContext(spec, { progress: 'quiet', log: () => {} });
const candles = cl.loadCandles(context);
const features = cl.buildFeatures(context, candles);
const labels = cl.buildLabels(context, candles);
const split = cl.splitData(context, candles, features, labels);
cl.showValues({ bars: candles.length, features: features.names.join(', '), trainRows: split.train.end - split.train.start, validRows: split.valid.end - split.valid.start, testRows: split.test.end - split.test.start }, 'Data');
""")
md("""
## 1 · Which backend runs the networks

With `backend: 'auto'` (the default) candlelab tries, fastest first: `@tensorflow/tfjs-node-gpu`
(CUDA), `@tensorflow/tfjs-node` (libtensorflow on the CPU), the **wasm** backend (SIMD, installed with
candlelab) and the pure-JavaScript **cpu** backend, and takes the first that loads. The native ones
are not dependencies (their install downloads libtensorflow), so offline installs land on wasm. The
model param `backend` or `CANDLELAB_TF_BACKEND` forces one. The choice is per process: tfjs has one
engine.
""")
code("""
// (inside a function: the tfjs namespace in the runtime is too large a type for a notebook const)
async function chooseBackend(): Promise<{ backend: string; package: string; skipped: string[]; requested: string; line: string }> {
  let line = '';
  const runtime = await cl.models.loadTf('auto', (text) => { line = text; });
  return { backend: runtime.backend, package: runtime.package, skipped: [...runtime.skipped], requested: cl.models.neural.requestedBackend('auto'), line: line };
}
const backend = await chooseBackend();
cl.showValues({ requested: backend.requested, chosen: backend.backend, package: backend.package }, 'tfjs backend');
cl.showRecords(backend.skipped.map((s) => ({ backend: s.split(': ')[0], 'why it was passed over': s.slice(s.indexOf(': ') + 2) })), backend.skipped.length ? 'Faster backends passed over' : 'Nothing passed over: the fastest backend loaded');
console.log(`chosen backend: ${backend.backend} (${backend.package})`);
""")
md("""
## 2 · An LSTM and its training curve

`trainModel` fits the spec's model exactly as `candlelab run` does. The training windows are the full
windows inside the train segment; the validation loss is computed on the full windows of the valid
segment, unweighted. Each epoch's record holds the training objective (class-weighted, dropout on),
the validation log-loss and the learning rate after the epoch. How to read the chart: the epoch with
the lowest validation loss is the one kept (its weights are restored); training stops `patience`
epochs after it.
""")
code("""
const lstm = await cl.trainModel(context, features, labels, split);
type History = Array<{ round: number; train: number; valid: number; learningRate: number }>;
const lstmInfo = lstm.model.info as { backend: string; parameters: number; trainWindows: number; validWindows: number; epochsTrained: number; bestRound: number; bestValidLoss: number; stoppedEarly: boolean; history: History };
cl.showValues({ backend: lstmInfo.backend, parameters: lstmInfo.parameters, trainWindows: lstmInfo.trainWindows, validWindows: lstmInfo.validWindows, epochsTrained: lstmInfo.epochsTrained, bestEpoch: lstmInfo.bestRound, bestValidLogLoss: lstmInfo.bestValidLoss, seconds: (lstm.trainingMs / 1000).toFixed(1) }, 'LSTM(16)');
cl.showRecords(lstmInfo.history.map((h) => ({ epoch: h.round, train: h.train, valid: h.valid, learningRate: h.learningRate })), 'Per epoch');
const curve = (history: History, title: string) => {
  const figure = cl.report.trainingCurveFigure(history, 'log-loss', 'epoch');
  return { ...figure, layout: { ...figure.layout, title: { text: title } } };
};
cl.showChart(curve(lstmInfo.history, 'LSTM(16): loss per epoch'));
""")
md("""
## 3 · The family side by side

The same data through three networks:

- **LSTM(16)** above;
- **bidirectional LSTM with attention**: the window read both ways, the last state replaced by an
  attention-weighted sum over the steps (reading both ways is still causal: the window ends at the
  row it predicts, so nothing later is read);
- **TCN**: residual blocks of dilated causal convolutions (receptive field 1 + 2 (k − 1) Σ dilations,
  at most the window: `receptiveField` in the table).

Each trains with the same seed and budget; the table compares them on the test segment.
""")
code("""
const variants = [
  { name: 'bi-LSTM + attention', model: { id: 'core/lstm', params: { ...spec.model.params, units: 8, bidirectional: true, attention: true } } },
  { name: 'TCN', model: { id: 'core/tcn', params: { seqLen: seqLen, filters: 8, kernelSize: 3, dilations: [1, 2], denseUnits: 8, dropout: 0.1, epochs: epochs, batchSize: 256, learningRate: 0.01, patience: 2 } } },
];
const family = [{ name: 'LSTM(16)', trained: lstm }];
for (const variant of variants) {
  const variantContext = cl.createRunContext({ ...spec, model: variant.model }, { progress: 'quiet', log: () => {} });
  family.push({ name: variant.name, trained: await cl.trainModel(variantContext, features, labels, split) });
}
const rows: Array<Record<string, unknown>> = [];
for (const member of family) {
  const info = member.trained.model.info as { parameters: number; receptiveField: number; epochsTrained: number; bestValidLoss: number; history: History };
  const test = cl.evaluatePredictions(await cl.predictRows(member.trained.model, features, split, { latencySamples: 0 }), labels, split).test;
  rows.push({ model: member.name, parameters: info.parameters, receptiveField: info.receptiveField, epochs: info.epochsTrained, bestValidLogLoss: info.bestValidLoss, testLogLoss: test.logLoss, testBalancedAccuracy: test.balancedAccuracy, testRocAuc: test.rocAucMacro, seconds: (member.trained.trainingMs / 1000).toFixed(1) });
  if (member.name !== 'LSTM(16)') cl.showChart(curve(info.history, `${member.name}: loss per epoch`));
}
cl.showRecords(rows, 'Test segment');
console.log(`trained ${family.length} networks on ${backend.backend}`);
""")
md("""
How to read it: a validation loss that never drops below its first epoch means the network found
nothing the class weights did not already give it; on this small sample that is common, and the
XGBoost baseline of notebook 06 is the number to beat. ROC-AUC above 0.5 on the test rows is the
sign of an edge.

## 4 · Save and reload

`save` writes the tfjs layers format (`model.json`, `weights.bin`) and `model-card.json` (params, the
scaler fitted on the train rows, the training info); `load` restores it through `tf.io.fromMemory`.
The reloaded network predicts the same numbers, bit for bit.
""")
code("""
const folder = path.join(context.workspace.runsDir, 'nb-lstm');
const artifacts = await lstm.model.save(folder);
cl.showRecords(artifacts.map((a) => ({ file: a.path, kind: a.kind, bytes: a.bytes })), 'Saved files');
const loaded = await cl.models.lstmClassifier.load(folder, { seed: 0 });
const X = cl.validation.featureMatrix(features.frame, split.test.start, split.test.end);
const before = await lstm.model.predict(X);
const after = await loaded.predict(X);
const largest = before.reduce((m, v, i) => Math.max(m, Math.abs(v - after[i])), 0);
console.log(`reloaded: max abs difference ${largest} over ${X.rows} test rows`);
loaded.dispose();
for (const member of family) member.trained.model.dispose();
""")
md("""
## From here

- `npx candlelab run specs/lstm.json` — an LSTM(32) over 6,000 bars inside the whole pipeline (about a
  minute on wasm); the report plots the same training curve.
- `CANDLELAB_TF_BACKEND=cpu` forces a backend; `npm install @tensorflow/tfjs-node` (online) makes `auto`
  pick the native one, several times faster.
- `notebooks/08-ensembles.ipynb` combines networks and trees.
""")

nb.write(sys.argv[1] if len(sys.argv) > 1 else "notebooks/07-neural-models.ipynb")
