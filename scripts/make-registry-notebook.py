"""Writes notebooks/11-registry.ipynb (outputs cleared). Edit the cells here, then run this script."""
import os, sys
sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from notebook_cells import Notebook

nb = Notebook()
md, code = nb.md, nb.code

md("""
# 11 · The model registry: versions, stages, comparison, loading

Every run with `register: true` (the default of `candlelab run`) adds a **version** of its model to
`models/<name>/versions/<n>/`: the model's files with their sha256, params, metrics, feature list,
label spec, data fingerprint, spec hash, code version and timings. Versions move through **stages**:
a new one starts in `staging`; `promote` moves it to `production` (archiving the previous production
version) or `archived`; `rollback` returns production to the version before. A live bot, a paper
session or the prediction endpoint asks for `name@production` and gets whatever is production now.

This notebook registers three versions, promotes and rolls back, compares two versions, and loads the
production model to predict. Its registry lives in the workspace's `models/` folder
(`CANDLELAB_MODELS_DIR`); the command line twin is `candlelab registry …`.
""")
code("""
// Parameters: `candlelab notebook -p name=value` injects new values after this cell.
const bars = 3000;     // hourly bars of the sample market
""", tags=["parameters"])
code("""
import * as cl from 'candlelab';

cl.initCharts();
const spec = {
  name: 'nb-registry',
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
  model: { id: 'core/xgboost', params: { rounds: 40, maxDepth: 2, learningRate: 0.1, earlyStoppingRounds: 10, threads: 1 } },
  strategy: { id: 'core/probability-threshold', params: { buyThreshold: 0.45 } },
  backtest: { initialCash: 10000, commissionBps: 10, slippageBps: 5 },
  register: true,
};
const workspace = cl.openWorkspace();
const registry = new cl.registry.ModelRegistry(workspace.modelsDir);
cl.showValues({ models: workspace.modelsDir, runs: workspace.runsDir, namesBefore: registry.names().join(', ') || 'none' }, 'Workspace');
""")
md("""
## 1 · Register three versions

Three runs of the same spec with deeper trees each time. Each `runSpec` trains, evaluates, backtests,
writes its run folder and registers the model under the spec's model name
(`<spec name>-<symbol>-<timeframe>` unless `model.name` says otherwise).
""")
code("""
const runs = [];
for (const maxDepth of [2, 3, 4]) {
  const variant = { ...spec, model: { id: 'core/xgboost', params: { ...spec.model.params, maxDepth: maxDepth } } };
  runs.push(await cl.runSpec(variant, { progress: 'quiet', log: () => {} }));
}
const name = runs[0].record.model.registered!.name;
type Test = { accuracy: number; balancedAccuracy: number; logLoss: number; rocAucMacro: number };
const versionRows = () => registry.list(name).map((v) => ({
  version: v.version, stage: v.stage, model: `${v.modelId}@${v.modelVersion}`, maxDepth: (v.params as { maxDepth: number }).maxDepth,
  testLogLoss: (v.metrics.test as Test).logLoss, testRocAuc: (v.metrics.test as Test).rocAucMacro, backtestSharpe: (v.metrics.backtest as { sharpe: number }).sharpe,
  data: v.dataFingerprint.slice(0, 12), run: v.runId, files: v.artifacts.map((a) => a.path).join(', '),
}));
cl.showRecords(versionRows(), `${name}: versions`);
console.log(`registered ${name} versions ${registry.list(name).map((v) => v.version).join(', ')}`);
""")
md("""
## 2 · Stages: promote, promote again, roll back

Promoting version 1 to production, then version 2, archives version 1 (only one version is production).
`rollback` returns production to the previous production version. Every change is in the stage
history (`candlelab registry history <name>`), stamped with the time. Stage changes take a lock file and
replace `stages.json` by an atomic rename, so two processes promoting at once serialize.
""")
code("""
registry.promote(name, 1, 'production');
registry.promote(name, 2, 'production');
cl.showRecords(versionRows().map(({ version, stage, maxDepth }) => ({ version: version, stage: stage, maxDepth: maxDepth })), 'After promoting v1, then v2');
registry.rollback(name);
cl.showRecords(versionRows().map(({ version, stage, maxDepth }) => ({ version: version, stage: stage, maxDepth: maxDepth })), 'After rollback');
cl.showRecords(registry.history(name).map((e) => ({ at: e.at, action: e.action, version: e.version, from: e.from, to: e.to, archived: e.archived ?? '' })), 'Stage history');
console.log(`production after rollback: v${registry.resolve(name, { stage: 'production' }).version}`);
""")
md("""
## 3 · Compare two versions

`compare(name, a, b)` (`candlelab registry compare`) lists every metric both versions recorded with the
difference b − a and the percent change, the params and label settings that differ, feature changes,
and whether the data and the code were the same. Here only `maxDepth` differs, on the same data.
""")
code("""
const comparison = registry.compare(name, 1, 3);
cl.showValues({ a: `v${comparison.a.version} (${comparison.a.stage})`, b: `v${comparison.b.version} (${comparison.b.stage})`, sameData: comparison.dataFingerprint.same, sameCode: comparison.codeVersion.same, featuresAdded: comparison.features.added.join(', ') || 'none', featuresRemoved: comparison.features.removed.join(', ') || 'none' }, 'v1 against v3');
cl.showRecords(comparison.params.map((p) => ({ param: p.path, v1: p.a, v3: p.b })), 'Params that differ');
const shown = ['test.logLoss', 'test.rocAucMacro', 'test.balancedAccuracy', 'valid.logLoss', 'backtest.sharpe', 'backtest.totalReturn', 'backtest.maxDrawdown', 'backtest.numTrades'];
cl.showRecords(comparison.metrics.filter((m) => shown.includes(m.metric)).map((m) => ({ metric: m.metric, v1: m.a, v3: m.b, difference: m.difference, percentChange: m.percentChange })), 'Metrics (b − a)');
cl.showChart({
  data: [{ type: 'bar', x: registry.list(name).map((v) => `v${v.version} (${v.stage})`), y: registry.list(name).map((v) => (v.metrics.test as Test).logLoss) }],
  layout: { title: { text: 'Test log-loss per version (lower is better)' } },
});
""")
md("""
## 4 · Load the production model and predict

`loadModel(name, { stage: 'production' })` (or `{ version: n }`) checks every file against its sha256,
loads the model and returns a `FittedModel`: the same object a run trains. Fed the same features, it
predicts exactly what the run that registered it predicted. The model's feature names are checked
against the frame (a model trained on other features fails with the missing and extra columns).
""")
code("""
const production = registry.resolve(name, { stage: 'production' });
const loaded = await registry.loadModel(name, { stage: 'production' });
const context = cl.createRunContext({ ...spec, model: { id: 'core/xgboost', params: { ...spec.model.params, maxDepth: (production.params as { maxDepth: number }).maxDepth } } }, { progress: 'quiet', log: () => {} });
const candles = cl.loadCandles(context);
const features = cl.buildFeatures(context, candles);
const labels = cl.buildLabels(context, candles);
const split = cl.splitData(context, candles, features, labels);
const predictions = await cl.predictRows(loaded, features, split, { latencySamples: 0 });
const original = runs[production.version - 1].results.predictions.values;
const difference = predictions.values.reduce((m, v, i) => Math.max(m, Math.abs(v - original[i])), 0);
const test = cl.evaluatePredictions(predictions, labels, split).test;
cl.showValues({ loaded: `${name} v${production.version} (${production.stage})`, model: loaded.modelId, features: loaded.featureNames.length, rows: predictions.rows, 'max |loaded − run|': difference, testLogLoss: test.logLoss, registeredTestLogLoss: (production.metrics.test as Test).logLoss }, 'Production model, reloaded');
const last = predictions.values.subarray((predictions.rows - 1) * 3);
cl.showValues(Object.fromEntries(loaded.classes!.map((c, k) => [c, last[k]])), `Latest bar ${cl.isoTime(candles.time[candles.length - 1])}: probabilities`);
console.log(`loaded v${production.version}: max abs difference to the run's predictions ${difference}`);
loaded.dispose();
""")
md("""
## 5 · A/B traffic split and cleanup

`candlelab serve` answers with the production version, or splits traffic between versions by weight
(`setSplit`; an arm `'production'` follows promotions). `remove` deletes a version that is not
production.
""")
code("""
const arms = registry.setSplit(name, [{ version: 'production', weight: 0.9 }, { version: 3, weight: 0.1 }]);
cl.showRecords(arms.map((a) => ({ version: a.version, weight: a.weight })), 'Traffic split');
registry.setSplit(name, []);
registry.remove(name, 2);
cl.showRecords(versionRows().map(({ version, stage, maxDepth }) => ({ version: version, stage: stage, maxDepth: maxDepth })), 'After removing v2 and clearing the split');
""")
md("""
## From here

- `npx candlelab registry list <name>`, `registry promote <name> <version> production`,
  `registry rollback <name>`, `registry compare <name> 1 3`, `registry history <name>`.
- `npx candlelab paper --model <name>@production` and `candlelab serve --model <name>` use the stage
  (notebook 02).
- `models/README.md` describes the folder layout.
""")

nb.write(sys.argv[1] if len(sys.argv) > 1 else "notebooks/11-registry.ipynb")
