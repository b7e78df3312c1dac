"""Writes notebooks/06-xgboost.ipynb (outputs cleared). Edit the cells here, then run this script."""
import os, sys
sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from notebook_cells import Notebook

nb = Notebook()
md, code = nb.md, nb.code

md("""
# 06 · XGBoost: training, importance, ONNX parity, warm start

`core/xgboost` trains a multi-class booster with **libxgboost** itself (the C library, through koffi),
exports the trees to **ONNX** (`ai.onnx.ml` TreeEnsembleClassifier) and predicts through ONNX Runtime.
This notebook opens that box:

1. train on the seeded sample market and read the training curve (early stopping on the validation
   segment),
2. read the **feature importance** with xgboost's own definitions (gain, total gain, weight, cover),
3. check that ONNX Runtime, libxgboost and the trees compiled to JavaScript give the **same
   probabilities**,
4. **warm start**: continue training a saved model on newer data,
5. the classification metrics of each model on the test segment.

Everything is seeded and small (a few thousand hourly bars, shallow trees): it runs in seconds.
""")
code("""
// Parameters: `candlelab notebook -p name=value` injects new values after this cell.
const bars = 4000;     // hourly bars of the sample market
const rounds = 80;     // boosting rounds (early stopping may stop sooner)
""", tags=["parameters"])
code("""
import * as path from 'path';
import * as cl from 'candlelab';

cl.initCharts();
const spec = {
  name: 'nb-xgboost',
  seed: 7,
  data: { source: 'sample' as const, symbol: 'BTC/USDT', timeframe: '1h', seed: 42, bars: bars }, // (tslab needs `bars: bars`, not the shorthand)
  features: [
    { id: 'core/returns', params: { periods: [1, 4, 24] } },
    { id: 'core/rsi', params: { period: 14 } },
    { id: 'core/macd' },
    { id: 'core/bollinger', params: { period: 20, deviations: 2 } },
    { id: 'core/atr', params: { period: 14 } },
    { id: 'core/volume' },
  ],
  label: { id: 'core/direction', params: { bars: 5, threshold: 0.005 } },
  split: { train: 0.7, valid: 0.15, test: 0.15 },
  model: { id: 'core/xgboost', params: { rounds: rounds, maxDepth: 3, learningRate: 0.1, earlyStoppingRounds: 15, threads: 1 } },
  strategy: { id: 'core/probability-threshold', params: { buyThreshold: 0.45 } },
  backtest: { initialCash: 10000, commissionBps: 10, slippageBps: 5 },
  register: false,
};
const context = cl.createRunContext(spec, { progress: 'quiet', log: () => {} });
const candles = cl.loadCandles(context);
const features = cl.buildFeatures(context, candles);
const labels = cl.buildLabels(context, candles);
const split = cl.splitData(context, candles, features, labels);
cl.showValues({ bars: candles.length, features: features.names.length, warmUp: features.lookback, train: split.train.end - split.train.start, valid: split.valid.end - split.valid.start, test: split.test.end - split.test.start }, 'Data');
""")
md("""
## 1 · Training

Each round adds one tree per class (`multi:softprob`). Rows are weighted by `classWeight: 'balanced'`
so the rarer BUY and SELL rows count as much as HOLD. After every round the **validation log-loss** is
evaluated; training stops `earlyStoppingRounds` rounds after the best one and keeps the trees up to the
best round (Python's `best_iteration`). Read the chart: the training loss keeps falling, the validation
loss flattens and turns up where the trees start to fit noise.
""")
code("""
const trained = await cl.trainModel(context, features, labels, split);
const model = trained.model as cl.models.XgboostClassifierModel;
const info = model.info as { libxgboost: string; roundsTrained: number; bestRound: number; bestValidLogLoss: number; stoppedEarly: boolean; history: Array<{ round: number; train: number; valid: number }> };
cl.showValues({ libxgboost: info.libxgboost, roundsTrained: info.roundsTrained, bestRound: info.bestRound, bestValidLogLoss: info.bestValidLogLoss, stoppedEarly: info.stoppedEarly, trainingMs: Math.round(trained.trainingMs) }, 'Training');
cl.showChart(cl.report.trainingCurveFigure(info.history));
""")
md("""
## 2 · Feature importance

`model.importance()` reads the trees as xgboost's `get_score` does:

- **gain**: the average loss reduction of the feature's splits (`importance_type='gain'`),
- **totalGain**: their sum (`total_gain`),
- **splits**: how many splits use the feature (`weight`),
- **cover**: the average hessian sum (number of rows, weighted) reaching those splits (`cover`).

Gain says how much a feature helps when it is used, weight how often it is used: a feature with many
splits and little gain is mostly fitting noise. Features no tree uses are left out.
""")
code("""
const importance = model.importance();
cl.showRecords(importance.map((f) => ({ feature: f.feature, gain: f.gain, totalGain: f.totalGain, weight: f.splits, cover: f.cover })), 'Feature importance (by gain)');
cl.showChart({
  data: [
    { x: importance.map((f) => f.gain), y: importance.map((f) => f.feature), type: 'bar', orientation: 'h', name: 'gain' },
  ],
  layout: { title: { text: 'Gain per feature' }, yaxis: { autorange: 'reversed' }, margin: { l: 140 }, height: 360 },
});
console.log(`importance: ${importance.length} of ${features.names.length} features used; top ${importance[0].feature}`);
""")
md("""
## 3 · ONNX export and parity

The run predicts with ONNX Runtime (`model.predict`), so the model file a Python or C# service loads is
the one that was tested. Three implementations of the same trees should agree: libxgboost
(`predictNative`), ONNX Runtime (`predict`) and the trees compiled to JavaScript (`predictSync`, what the
prediction endpoint uses for one-row latency). ONNX stores thresholds as float32, like xgboost itself,
so the differences are float rounding of the sums: far below 1e-6.
""")
code("""
const testX = cl.validation.featureMatrix(features.frame, split.test.start, split.test.end);
const onnx = await model.predict(testX);
const native = model.predictNative(testX);
const compiled = model.predictSync(testX);
const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
const parity = { rows: testX.rows, onnxBytes: model.onnxBytes.length, 'max |ONNX − libxgboost|': maxDiff(onnx, native), 'max |compiled JS − ONNX|': maxDiff(compiled, onnx) };
cl.showValues(parity, 'Same probabilities three ways (test segment)');
cl.showRecords(Array.from({ length: 5 }, (_, r) => ({ row: r, ...Object.fromEntries(model.classes!.flatMap((c, k) => [[`onnx ${c}`, onnx[r * 3 + k]], [`xgb ${c}`, native[r * 3 + k]]])) })), 'First test rows');
console.log(`ONNX parity: max abs difference ${parity['max |ONNX − libxgboost|'].toExponential(2)} ${parity['max |ONNX − libxgboost|'] <= 1e-6 ? '<=' : '>'} 1e-6`);
""")
md("""
## 4 · Warm start: continue a saved model on newer data

A model saved with `model.save(folder)` (`model.json` is xgboost's own JSON, loadable in Python with
`xgboost.Booster(model_file=…)`) can be continued: the param `initModel` points at the folder, and
training adds rounds on top of its trees. Here 1,500 newer bars arrive; the continued model keeps the
old trees and adds trees fitted on the new training segment. The features and classes must be the same
(checked); early stopping never removes the saved trees.
""")
code("""
const saved = path.join(context.workspace.runsDir, 'nb-xgboost-model');
await model.save(saved);
const newer = { ...spec, data: { ...spec.data, bars: bars + 1500 }, model: { id: 'core/xgboost', params: { ...spec.model.params, rounds: 40, learningRate: 0.05, initModel: saved } } };
const context2 = cl.createRunContext(newer, { progress: 'quiet', log: () => {} });
const candles2 = cl.loadCandles(context2);
const features2 = cl.buildFeatures(context2, candles2);
const labels2 = cl.buildLabels(context2, candles2);
const split2 = cl.splitData(context2, candles2, features2, labels2);
const continued = await cl.trainModel(context2, features2, labels2, split2);
const info2 = continued.model.info as { initialRounds: number; roundsTrained: number; bestRound: number; bestValidLogLoss: number; history: Array<{ round: number; train: number; valid: number }> };
cl.showValues({ warmStartFrom: saved, initialTrees: info2.initialRounds, roundsAdded: info2.roundsTrained, bestRound: info2.bestRound, bestValidLogLoss: info2.bestValidLogLoss }, 'Warm start');
const curve2 = cl.report.trainingCurveFigure(info2.history);
cl.showChart({ ...curve2, layout: { ...curve2.layout, title: { text: `Continued training (rounds after the saved ${info2.initialRounds})` } } });
console.log(`warm start: ${info2.initialRounds} saved rounds + ${info2.roundsTrained} new rounds`);
""")
md("""
## 5 · Metrics on the newer test segment

The original model, the continued one and a model trained from scratch on the newer data, all judged
on the same (newer) test rows. Accuracy is not the headline for three imbalanced classes: look at
balanced accuracy, macro F1, log-loss (lower is better) and ROC-AUC (0.5 is chance).
""")
code("""
const scratchSpec = { ...newer, model: { id: 'core/xgboost', params: { ...spec.model.params } } };
const scratchContext = cl.createRunContext(scratchSpec, { progress: 'quiet', log: () => {} });
const scratch = await cl.trainModel(scratchContext, features2, labels2, split2);
const compare: Array<Record<string, unknown>> = [];
for (const [name, fitted] of [['original (older data)', model], ['warm-started', continued.model], ['from scratch (newer data)', scratch.model]] as const) {
  const predictions = await cl.predictRows(fitted, features2, split2, { latencySamples: 0 });
  const test = cl.evaluatePredictions(predictions, labels2, split2).test;
  compare.push({ model: name, accuracy: test.accuracy, balancedAccuracy: test.balancedAccuracy, macroF1: test.macroF1, logLoss: test.logLoss, rocAucMacro: test.rocAucMacro });
}
cl.showRecords(compare, 'Test segment of the newer data');
const best = await cl.predictRows(continued.model, features2, split2, { latencySamples: 0 });
cl.showChart(cl.report.confusionMatrixFigure(cl.evaluatePredictions(best, labels2, split2).test, 'Confusion matrix, warm-started model (test)'));
for (const m of [model, continued.model, scratch.model]) m.dispose();
""")
md("""
## From here

- `npx candlelab run specs/quickstart.json` — the same model inside the whole pipeline, with the run
  folder's `model/model.json`, `model.onnx` and `model-card.json` (importance in `info.importance`).
- `"initModel": "models/<name>/versions/<n>/model"` in a spec continues a registered model;
  `candlelab schedule` retrains that way on a timer.
- `notebooks/09-several-coins.ipynb` uses warm start for fine-tuning a universal model per coin.
""")

nb.write(sys.argv[1] if len(sys.argv) > 1 else "notebooks/06-xgboost.ipynb")
