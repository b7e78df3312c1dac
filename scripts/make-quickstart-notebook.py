"""Writes notebooks/00-quickstart.ipynb (outputs cleared). Edit the cells here, then run this script (a test fails when the committed notebook is stale)."""
import os, sys
sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from notebook_cells import Notebook

nb = Notebook()
md, code = nb.md, nb.code

md("""
# 00 · Quickstart: candles → features → labels → XGBoost → strategy → backtest

This notebook runs the skeleton pipeline **one stage at a time**, with the same stage functions that
`candlelab run specs/quickstart.json` calls. Run it top to bottom: the last cell writes a run folder
(`runs/<run-id>/`) and prints the run's **fingerprint** (a sha256 over predictions, trades and metrics).
The fingerprint equals the one `candlelab run` prints for the same spec.

Headless: `npx candlelab notebook notebooks/00-quickstart.ipynb -p 'set=["strategy.params.buyThreshold=0.5"]'`
""")
code("""
// Parameters: `candlelab notebook -p name=value` injects new values after this cell.
const specPath = '../specs/quickstart.json';
// Spec overrides, exactly as `candlelab run --set path=value`.
const set: string[] = [];
""", tags=["parameters"])
code("""
import * as cl from 'candlelab';

cl.initCharts(); // puts plotly.js on the page (offline) for the charts below
const context = cl.createRunContext(specPath, { overrides: set });
cl.showValues({
  spec: specPath,
  symbol: context.plan.symbol,
  timeframe: context.plan.timeframe,
  model: context.spec.model.id,
  strategy: context.spec.strategy.id,
  runs: context.workspace.runsDir,
  models: context.workspace.modelsDir,
}, 'Run context');
""")
md("## 1 · Data\nThe embedded sample is a seeded synthetic market (GARCH volatility clustering, fat tails, regime changes), stored as Arrow IPC in `data/sample/`.")
code("""
const candles = cl.loadCandles(context);
cl.showFrame(candles, 5);
""")
md("## 2 · Quality\nNaN, broken OHLC and negative volume stop the run; gaps are reported.")
code("""
const quality = cl.checkCandles(candles);
cl.showValues({ rows: quality.rows, from: quality.start, to: quality.end, usable: quality.ok, issues: quality.issues.map((i) => `${i.kind}×${i.count}`).join(', ') || 'none' }, 'Quality');
""")
md("## 3 · Features\nCausal indicator columns (typed-array kernels, checked against trading-signals). The first `lookback` rows are warm-up.")
code("""
const features = cl.buildFeatures(context, candles);
cl.showFrame(features.frame.slice(features.lookback), 5);
console.log(`${features.names.length} features, warm-up ${features.lookback} rows`);
""")
md("## 4 · Labels\nSELL / HOLD / BUY by the return over the next N bars against a threshold: the only look-ahead, never joined to the features.")
code("""
const labels = cl.buildLabels(context, candles);
const counts = labels.classes!.map((name, c) => ({ class: name, rows: labels.target.filter((y) => y === c).length }));
cl.showRecords(counts, `Class balance (horizon ${labels.horizon} bars)`);
""")
md("## 5 · Split\nChronological 70/15/15, no shuffle; `horizon` rows are purged between segments so no label sees the next segment.")
code("""
const split = cl.splitData(context, candles, features, labels);
cl.showRecords([split.train, split.valid, split.test].map((s) => ({ segment: s.name, rows: s.end - s.start, from: s.from, to: s.to })), 'Segments');
""")
md("## 6 · Train\nXGBoost through libxgboost (early stopping on the validation segment), exported to ONNX; predictions come from ONNX Runtime.")
code("""
const trained = await cl.trainModel(context, features, labels, split);
const history = trained.model.info.history as Array<{ round: number; train: number; valid: number }>;
cl.showValues({ bestRound: trained.model.info.bestRound, bestValidLogLoss: trained.model.info.bestValidLogLoss, libxgboost: trained.model.info.libxgboost }, 'Training');
cl.showChart(cl.report.trainingCurveFigure(history));
""")
md("## 7 · Predict and evaluate")
code("""
const predictions = await cl.predictRows(trained.model, features, split);
const evaluation = cl.evaluatePredictions(predictions, labels, split);
cl.showRecords(evaluation.test.perClass.map(({ name, precision, recall, f1, support, predicted }) => ({ class: name, precision, recall, f1, support, predicted })), 'Test segment, per class');
cl.showChart(cl.report.confusionMatrixFigure(evaluation.test, 'Confusion matrix (test)'));
""")
md("## 8 · Strategy and backtest\nThe event-driven engine (docs/backtest.md): targets are decided at each bar's close and filled at the next bar's open, with commission and slippage; each decision leaves a signal record.")
code("""
const strategy = cl.runStrategy(context, candles, features, predictions, split);
const backtest = cl.backtestStrategy(context, candles, strategy);
cl.showValues(backtest.report.metrics, 'Backtest (test segment)');
cl.showRecords(backtest.report.regimes, 'By market regime');
cl.showChart(cl.report.priceWithSignalsFigure(candles.slice(strategy.start, strategy.end), backtest.result.trades));
cl.showChart(cl.report.equityFigure(backtest));
cl.showChart(cl.report.drawdownFigure(backtest));
cl.showRecords(backtest.result.signals.slice(-5), 'Latest signals');
""")
md("## 9 · Record the run\nWrites `runs/<run-id>/` (run.json, model files, report.html) and registers the model in `models/`.")
code("""
// Explicit `name: value` pairs: tslab's cell rewriting does not see shorthand properties ({ candles }).
const record = await cl.writeRun(context, {
  candles: candles, quality: quality, features: features, labels: labels, split: split,
  trained: trained, predictions: predictions, evaluation: evaluation, strategy: strategy, backtest: backtest,
});
trained.model.dispose();
console.log(`run folder: ${context.workspace.runsDir}/${record.runId}`);
console.log(`fingerprint: ${record.fingerprint}`);
""")


nb.write(sys.argv[1] if len(sys.argv) > 1 else "notebooks/00-quickstart.ipynb")
