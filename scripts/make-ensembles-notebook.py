"""Writes notebooks/08-ensembles.ipynb (outputs cleared). Edit the cells here, then run this script."""
import os, sys
sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from notebook_cells import Notebook

nb = Notebook()
md, code = nb.md, nb.code

md("""
# 08 · Ensembles: weighted voting, stacking, and whether it beats its members

`core/ensemble` (`kernel-lib/src/models/ensemble/`) combines **members** given as model references
(`{ id, params }`: any registered model, trees, networks, plugins, other ensembles) in two ways:

- **weighted** (soft voting): the members fit on the train rows; the output is the weighted average of
  their class probabilities, weights from each member's **validation log-loss** (`inverse`, `softmax`
  or `equal`);
- **stacking**: a **meta-learner** (L2 multinomial logistic regression by default, or any model) learns
  how to combine the members, trained **only on out-of-fold predictions**: time-ordered folds of the
  train rows, each predicted by members fitted without it and without `purge` rows on each side.

An ensemble is worth its cost only when it beats its best member out of sample. The last section puts
that in one table. Three small XGBoost members of different shapes keep it fast.
""")
code("""
// Parameters: `candlelab notebook -p name=value` injects new values after this cell.
const bars = 4000;     // hourly bars of the sample market
const folds = 3;       // out-of-fold folds for stacking
""", tags=["parameters"])
code("""
import * as cl from 'candlelab';

cl.initCharts();
// Members differ in shape, so their errors differ: that is what an ensemble feeds on.
// (threads: 1: stacking makes many small fits, and small fits are faster on one thread each)
const members = [
  { id: 'core/xgboost', params: { rounds: 40, maxDepth: 2, learningRate: 0.1, earlyStoppingRounds: 10, threads: 1 } },
  { id: 'core/xgboost', params: { rounds: 40, maxDepth: 5, learningRate: 0.1, colsampleByTree: 0.5, earlyStoppingRounds: 10, threads: 1 } },
  { id: 'core/xgboost', params: { rounds: 40, maxDepth: 3, learningRate: 0.1, subsample: 0.6, earlyStoppingRounds: 10, threads: 1 } },
];
const memberNames = ['depth 2', 'depth 5, half the columns', 'depth 3, 60% of rows'];
const spec = {
  name: 'nb-ensembles',
  seed: 7,
  data: { source: 'sample' as const, symbol: 'BTC/USDT', timeframe: '1h', seed: 42, bars: bars }, // (tslab needs `bars: bars`, not the shorthand)
  features: [
    { id: 'core/returns', params: { periods: [1, 4, 24] } },
    { id: 'core/rsi', params: { period: 14 } },
    { id: 'core/macd' },
    { id: 'core/bollinger', params: { period: 20, deviations: 2 } },
    { id: 'core/atr', params: { period: 14 } },
  ],
  label: { id: 'core/direction', params: { bars: 5, threshold: 0.005 } },
  split: { train: 0.7, valid: 0.15, test: 0.15 },
  model: { id: 'core/ensemble', params: { method: 'weighted', weighting: 'inverse', members: members } },
  strategy: { id: 'core/probability-threshold', params: { buyThreshold: 0.45 } },
  backtest: { initialCash: 10000, commissionBps: 10, slippageBps: 5 },
  register: false,
};
const context = cl.createRunContext(spec, { progress: 'quiet', log: () => {} });
const candles = cl.loadCandles(context);
const features = cl.buildFeatures(context, candles);
const labels = cl.buildLabels(context, candles);
const split = cl.splitData(context, candles, features, labels);
const testX = cl.validation.featureMatrix(features.frame, split.test.start, split.test.end);
const testY = labels.target.subarray(split.test.start, split.test.end);
cl.showValues({ bars: candles.length, features: features.names.length, train: split.train.end - split.train.start, valid: split.valid.end - split.valid.start, test: testX.rows, labelHorizon: labels.horizon }, 'Data');
""")
md("""
## 1 · Weighted voting

Each member gets the seed `seed + i` and early-stops on the valid segment. Its weight is 1 / its
validation log-loss, normalized (`weighting: 'inverse'`). Log-losses of three-class models sit close
together (≈ 1.0–1.1), so inverse weights stay near equal; `softmax` with a small `temperature` sharpens
them toward the best member.
""")
code("""
const weightedRun = await cl.trainModel(context, features, labels, split);
const weighted = weightedRun.model as cl.models.EnsembleModel;
type MemberInfo = { id: string; seed: number; validLoss: number; weight?: number; info: { bestRound?: number } };
const weightedInfo = weighted.info as { validLoss: number; members: MemberInfo[] };
cl.showRecords(weightedInfo.members.map((m, i) => ({ member: i, shape: memberNames[i], id: m.id, seed: m.seed, bestRound: m.info.bestRound, validLogLoss: m.validLoss, weight: m.weight })), 'Members and their weights');
cl.showValues({ ensembleValidLogLoss: weightedInfo.validLoss, bestMemberValidLogLoss: Math.min(...weightedInfo.members.map((m) => m.validLoss)) }, 'Weighted ensemble (valid segment)');
""")
md("""
## 2 · Stacking with a logistic meta-learner

The train rows are cut into contiguous folds. For each fold the members are fitted on the other folds
(minus `purge` rows on each side: the label horizon, so no training label overlaps the held-out rows)
and predict the fold. Those out-of-fold log-probabilities are the meta-learner's training rows: it
never sees a member's prediction on rows that member trained on. Then the members are refitted on all
train rows for prediction.

The coefficients tell how the meta-learner reads its members: one row per output class, one column
per (member, class) input, on standardized inputs.
""")
code("""
const stackingSpec = { ...spec, model: { id: 'core/ensemble', params: { method: 'stacking', members: members, metaLearner: 'logistic', C: 1, folds: folds, cv: 'purged-kfold' } } };
const stackingContext = cl.createRunContext(stackingSpec, { progress: 'quiet', log: () => {} });
const stackingRun = await cl.trainModel(stackingContext, features, labels, split);
const stacking = stackingRun.model as cl.models.EnsembleModel;
const stackingInfo = stacking.info as { validLoss: number; purge: number; oofRows: number; folds: Array<{ valid: [number, number]; train: Array<[number, number]>; purgedBefore: number; purgedAfter: number }>; meta: { featureNames: string[] } };
cl.showRecords(stackingInfo.folds.map((f, i) => ({ fold: i, heldOut: `${f.valid[0]} … ${f.valid[1] - 1}`, trainedOn: f.train.map(([a, b]) => `${a} … ${b - 1}`).join(' + '), purgedBefore: f.purgedBefore, purgedAfter: f.purgedAfter })), `Out-of-fold scheme (purge ${stackingInfo.purge} rows, ${stackingInfo.oofRows} meta rows)`);
const meta = stacking.metaLearner as cl.models.ensemble.LogisticModel;
cl.showChart({
  data: [{ type: 'heatmap', z: meta.coef, x: stackingInfo.meta.featureNames, y: stacking.classes!.map((c) => `→ ${c}`), colorscale: 'RdBu', zmid: 0 }],
  layout: { title: { text: 'Meta-learner coefficients (standardized member log-probabilities)' }, margin: { b: 120 }, height: 340 },
});
cl.showValues({ metaIterations: meta.iterations, C: meta.C, ensembleValidLogLoss: stackingInfo.validLoss }, 'Stacking');
""")
md("""
## 3 · Members against the ensembles, out of sample

Every member (the refitted ones inside the stacking ensemble) and both ensembles on the **test**
segment, which neither the members, the weights nor the meta-learner saw. Log-loss is the number the
ensembles optimize (lower is better); balanced accuracy and ROC-AUC say whether the ranking of the
classes improved. The last column compares each ensemble with its best member on test log-loss.
""")
code("""
const metrics = (p: Float32Array) => cl.models.classificationMetrics(p, testY, labels.classes!);
const memberOutputs = await stacking.memberPredictions(testX);
const table: Array<Record<string, unknown>> = memberOutputs.map((p, i) => {
  const m = metrics(p);
  // (every row has every column: a table takes its columns from the first row)
  return { model: `member ${i} (${memberNames[i]})`, testLogLoss: m.logLoss, balancedAccuracy: m.balancedAccuracy, macroF1: m.macroF1, rocAucMacro: m.rocAucMacro, 'vs best member': null };
});
const bestMember = Math.min(...table.map((r) => r.testLogLoss as number));
for (const [name, model] of [['weighted ensemble', weighted], ['stacking ensemble', stacking]] as const) {
  const m = metrics(await model.predict(testX));
  const verdict = m.logLoss < bestMember ? 'beats' : 'loses to';
  table.push({ model: name, testLogLoss: m.logLoss, balancedAccuracy: m.balancedAccuracy, macroF1: m.macroF1, rocAucMacro: m.rocAucMacro, 'vs best member': `${verdict} (${(m.logLoss - bestMember).toFixed(4)})` });
  console.log(`${name}: test log-loss ${m.logLoss.toFixed(4)} ${verdict} the best member (${bestMember.toFixed(4)})`);
}
cl.showRecords(table, 'Members vs ensembles (test segment)');
cl.showChart({
  data: [{ type: 'bar', x: table.map((r) => r.model as string), y: table.map((r) => r.testLogLoss as number), marker: { color: table.map((r) => ((r.model as string).includes('ensemble') ? '#d62728' : '#1f77b4')) } }],
  layout: { title: { text: 'Test log-loss (lower is better)' }, yaxis: { range: [Math.min(...table.map((r) => r.testLogLoss as number)) - 0.02, Math.max(...table.map((r) => r.testLogLoss as number)) + 0.02] } },
});
""")
md("""
How to read it: on a market with a weak edge the members' errors are strongly correlated (they see the
same features), so an ensemble gains little, and a small loss against the best member is the normal
result, not a bug. The stacking meta-learner weights its rows by class (`classWeight: 'balanced'`, the
default): that buys balanced accuracy and macro F1 on the rare BUY/SELL classes at the price of
calibration, which log-loss punishes; `classWeight: 'none'` optimizes log-loss alone. Ensembles pay off when the members differ in kind (trees and sequence networks,
different feature sets): `members` can hold `{ "id": "core/lstm" }` or another `core/ensemble`.

## 4 · Trading the stacked ensemble

The ensemble is a model like any other: the same strategy and engine run on its predictions.
""")
code("""
const predictions = await cl.predictRows(stacking, features, split, { latencySamples: 0 });
const strategy = cl.runStrategy(stackingContext, candles, features, predictions, split);
const backtest = cl.backtestStrategy(stackingContext, candles, strategy);
const m = backtest.report.metrics;
cl.showValues({ totalReturn: m.totalReturn, sharpe: m.sharpe, maxDrawdown: m.maxDrawdown, trades: m.numTrades, buyAndHold: m.buyHoldReturn }, 'Stacking ensemble, test segment backtest');
cl.showChart(cl.report.equityFigure(backtest, 'Equity, stacking ensemble'));
weighted.dispose();
stacking.dispose();
""")
md("""
## From here

- `npx candlelab run specs/ensemble.json` — a stacking ensemble in the whole pipeline; its folder holds
  `member-0/`, `member-1/`, … and `ensemble.json` (weights or meta-learner coefficients).
- `core/ensemble-regressor` does the same for regression labels with a ridge meta-learner.
""")

nb.write(sys.argv[1] if len(sys.argv) > 1 else "notebooks/08-ensembles.ipynb")
