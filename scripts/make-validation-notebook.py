"""Writes notebooks/01-validation-and-tuning.ipynb (outputs cleared). Edit the cells here, then run this script."""
import os, sys
sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from notebook_cells import Notebook

nb = Notebook()
md, code = nb.md, nb.code

md("""
# 01 · Validation and tuning: walk-forward, purged CV, CPCV, and a study

One chronological split gives one number, and one number cannot tell an edge from luck. This notebook
refits the pipeline **per window** (walk-forward), trades only out-of-sample predictions in one
continuous account, looks at the spread of outcomes over **combinatorial purged cross-validation**
paths, and then **tunes** the spec with an Optuna-style study, judging the winner with the probability
of backtest overfitting (PBO) and the deflated Sharpe ratio.

It uses the seeded sample market (a year of hourly bars) and small models, so it runs in about a
minute. The same stages run in `candlelab run` when a spec has a `validation` section, and in
`candlelab tune`.
""")
code("""
// Parameters: `candlelab notebook -p name=value` injects new values after this cell.
const bars = 8760;        // a year of hourly bars
const trials = 8;         // tuning trials (a real study: 50–200)
""", tags=["parameters"])
code("""
import * as cl from 'candlelab';

cl.initCharts();
// A spec as a plain object: the same fields as specs/walk-forward.json, smaller.
const base = {
  name: 'nb-validation',
  seed: 7,
  data: { source: 'sample' as const, symbol: 'BTC/USDT', timeframe: '1h', seed: 42, bars: bars }, // (tslab needs `bars: bars`, not the shorthand)
  features: [
    { id: 'core/returns', params: { periods: [1, 4, 24] } },
    { id: 'core/rsi', params: { period: 14 } },
    { id: 'core/macd' },
    { id: 'core/atr', params: { period: 14 } },
    { id: 'core/garch', params: { minFitRows: 200 } },
  ],
  label: { id: 'core/direction', params: { bars: 5, threshold: 0.005 } },
  split: { train: 0.85, valid: 0.15, test: 0.15 },
  model: { id: 'core/xgboost', params: { rounds: 60, maxDepth: 3, learningRate: 0.1, earlyStoppingRounds: 15, threads: 2 } },
  strategy: { id: 'core/probability-threshold', params: { buyThreshold: 0.45 } },
  backtest: { initialCash: 10000, commissionBps: 10, slippageBps: 5 },
  register: false,
};
const walkForward = { ...base, validation: { method: 'walk-forward', train: '120d', test: '60d', mode: 'rolling', embargo: '1%' } };
const context = cl.createRunContext(walkForward, { progress: 'quiet', log: () => {} });
const candles = cl.loadCandles(context);
const features = cl.buildFeatures(context, candles);
const labels = cl.buildLabels(context, candles);
cl.showValues({ bars: candles.length, features: features.names.join(', '), warmUp: features.lookback, labelHorizon: labels.horizon }, 'Data, features, labels');
""")
md("""
## 1 · Walk-forward windows

The splitter (`validation.method`) sees only bar times, the warm-up and the label spans. Window *k*
trains on 120 days and tests the 60 days after them; the next window moves by the test length.
Training rows whose label (5 bars ahead) reaches into the test block are **purged**: look at
`purged` and at the gap between `trainEnd` and `testStart`. Each window's last 15 % of training rows
early-stop the model.
""")
code("""
const split = cl.splitValidation(context, candles, features, labels);
const iso = (row: number) => cl.isoTime(candles.time[row]).slice(0, 16);
cl.showRecords(split.folds.map((f) => ({
  window: f.index,
  train: `${iso(f.train[0].start)} … ${iso(f.train[f.train.length - 1].end - 1)}`,
  test: `${iso(f.test[0].start)} … ${iso(f.test[0].end - 1)}`,
  trainRows: f.train.reduce((s, r) => s + r.end - r.start, 0),
  testRows: f.test[0].end - f.test[0].start,
  purged: f.purged,
})), `${split.folds.length} windows`);
""")
md("""
**Expanding** mode keeps the first training row fixed and grows the training set by one test length per
window (FreqAI's "expanding" retraining); the test blocks are the same as in rolling mode.
""")
code("""
const expandingContext = cl.createRunContext({ ...base, validation: { ...walkForward.validation, mode: 'expanding' } }, { progress: 'quiet', log: () => {} });
const expanding = cl.splitValidation(expandingContext, candles, features, labels);
cl.showRecords(expanding.folds.map((f) => ({
  window: f.index,
  train: `${iso(f.train[0].start)} … ${iso(f.train[f.train.length - 1].end - 1)}`,
  test: `${iso(f.test[0].start)} … ${iso(f.test[0].end - 1)}`,
  trainRows: f.train.reduce((s, r) => s + r.end - r.start, 0),
  purged: f.purged,
})), `${expanding.folds.length} expanding windows`);
""")
md("""
### Purged k-fold with embargo

For model selection (not for trading a history in order), **purged k-fold** tests each of k contiguous
blocks with a model trained on all the others, before and after it. Training rows whose label reaches
into the test block are purged, and the rows right after the block are **embargoed** (left out of
training), because features computed on them still overlap the test period.
""")
code("""
const kfoldContext = cl.createRunContext({ ...base, validation: { method: 'purged-kfold', folds: 5, embargo: '2%' } }, { progress: 'quiet', log: () => {} });
const kfold = cl.splitValidation(kfoldContext, candles, features, labels);
cl.showRecords(kfold.folds.map((f) => ({
  fold: f.index,
  test: `${iso(f.test[0].start)} … ${iso(f.test[0].end - 1)}`,
  trainBlocks: f.train.map((r) => `${iso(r.start)} … ${iso(r.end - 1)}`).join(' + '),
  trainRows: f.train.reduce((s, r) => s + r.end - r.start, 0),
  purged: f.purged,
  embargoed: f.embargoed,
})), `Purged ${kfold.folds.length}-fold, embargo 2%`);
""")
md("""
## 2 · Refit per window, trade the stitched predictions

`trainFolds` fits every fitted part on each window's own training rows — GARCH's parameters (a fitted
feature), the model with its scalers — and predicts that window's test rows. `backtestPath` stitches
the windows' predictions and runs the strategy and the engine over them **as one account**: positions
carry across window boundaries, so the headline numbers are those of a bot that retrains every 60 days.
""")
code("""
const training = await cl.trainFolds(context, candles, features, labels, split);
const paths = split.paths.map((p) => cl.backtestPath(context, candles, features, training, p));
const record = cl.validationRecord(candles, labels, split, training, paths);
cl.showRecords(record.windows.map((w) => ({
  window: w.index,
  'test ROC-AUC': (w.metrics.test as { rocAucMacro: number }).rocAucMacro,
  'window return': w.metrics.trading!.totalReturn,
  'window Sharpe': w.metrics.trading!.sharpe,
  trades: w.metrics.trading!.trades,
})), 'Per window (out of sample)');
const oos = record.outOfSample.backtest;
cl.showValues({ from: record.outOfSample.from, to: record.outOfSample.to, totalReturn: oos.totalReturn, sharpe: oos.sharpe, maxDrawdown: oos.maxDrawdown, trades: oos.numTrades, buyAndHold: oos.buyHoldReturn }, 'Stitched out-of-sample account');
cl.showChart(cl.report.windowMetricsFigure(record));
cl.showChart(cl.report.stitchedEquityFigure(record, paths[0]));
""")
md("""
How to read it: an edge that is real shows up in most windows, not in one. A high overall Sharpe
carried by a single window is a warning. The shaded bands in the equity chart show which window's
model was trading when.
""")
md("""
## 3 · Combinatorial purged CV: many paths instead of one

CPCV cuts the rows into N groups and tests every combination of k of them with a model fitted on the
rest (purged and embargoed around each test group). The C(N, k) splits assemble into k/N·C(N, k)
complete backtest paths, each row exactly once per path. The spread of the paths' Sharpe ratios is
the honest uncertainty of the strategy; the **deflated Sharpe** asks whether the best path is still
significant after looking at that many.
""")
code("""
const cpcv = { ...base, validation: { method: 'cpcv', groups: 6, testGroups: 2, embargo: '1%' } };
const cpcvContext = cl.createRunContext(cpcv, { progress: 'quiet', log: () => {} });
const cpcvSplit = cl.splitValidation(cpcvContext, candles, features, labels);
const cpcvTraining = await cl.trainFolds(cpcvContext, candles, features, labels, cpcvSplit);
cpcvTraining.last.model.dispose();
const cpcvPaths = cpcvSplit.paths.map((p) => cl.backtestPath(cpcvContext, candles, features, cpcvTraining, p));
const v = cl.validationRecord(candles, labels, cpcvSplit, cpcvTraining, cpcvPaths);
cl.showValues({ splits: v.windows.length, paths: v.paths.length, ...v.pathSummary, deflatedSharpe: v.pathSummary!.deflatedSharpe.probability }, 'CPCV N=6, k=2');
cl.showRecords(v.paths.map((p) => ({ path: p.index, totalReturn: p.metrics.totalReturn, sharpe: p.metrics.sharpe, maxDrawdown: p.metrics.maxDrawdown, trades: p.metrics.numTrades, 'P(Sharpe > 0)': p.probabilisticSharpe })), 'Backtest paths');
cl.showChart(cl.report.pathEquityFigure(cpcvPaths));
""")
md("""
**PBO across the CPCV paths.** Choose among several strategy settings (here the buy threshold) on
the same fitted splits. For each path, the setting with the best mean Sharpe over the *other* paths is
the in-sample winner; PBO is the share of paths where it ranks at or below the median on the left-out
path (López de Prado). `candlelab tune` on a CPCV spec reports this across its trials, next to the
CSCV figure of section 5.
""")
code("""
const thresholds = [0.35, 0.4, 0.45, 0.5, 0.55, 0.6];
const pathSharpe = thresholds.map((buyThreshold) => {
  const variant = cl.createRunContext({ ...cpcv, strategy: { id: 'core/probability-threshold', params: { buyThreshold } } }, { progress: 'quiet', log: () => {} });
  return cpcvSplit.paths.map((p) => cl.backtestPath(variant, candles, features, cpcvTraining, p).backtest.report.metrics.sharpe);
});
const sharpeByPath = cpcvSplit.paths.map((_, p) => thresholds.map((_, t) => pathSharpe[t][p])); // path × setting
const pathPbo = cl.validation.pathProbabilityOfBacktestOverfitting(sharpeByPath);
cl.showRecords(sharpeByPath.map((row, p) => ({ path: p, ...Object.fromEntries(thresholds.map((b, t) => [`buy ${b}`, row[t]])), 'in-sample winner': `buy ${thresholds[pathPbo.chosen[p]]}`, logit: pathPbo.logits[p] })), 'Sharpe per path and setting');
console.log(`PBO across ${pathPbo.paths} CPCV paths: ${(100 * pathPbo.pbo).toFixed(1)}% (${pathPbo.trials} settings)`);
""")
md("""
## 4 · Tuning: an Optuna-style study over the walk-forward spec

`cl.tuning` has Optuna's API in camelCase: `createStudy`, `study.optimize`, `trial.suggestFloat /
suggestInt / suggestCategorical`, `trial.report` and `trial.shouldPrune`. The objective below runs the
walk-forward spec with the trial's parameters and returns the stitched account's Sharpe. After each
window it reports the Sharpe so far, so the median pruner can stop a trial that is already worse than
the others at the same window. (`candlelab tune` does the same from the command line, with trials in
parallel processes and a journal that survives a crash.)
""")
code("""
const returnsByTrial = new Map<number, Float64Array>();
const study = cl.tuning.createStudy({ direction: 'maximize', sampler: new cl.tuning.TPESampler({ seed: 1, nStartupTrials: 4 }), pruner: new cl.tuning.MedianPruner({ nStartupTrials: 3 }), studyName: 'nb' });
await study.optimize(async (trial) => {
  const maxDepth = trial.suggestInt('maxDepth', 2, 5);
  const learningRate = trial.suggestFloat('learningRate', 0.03, 0.3, { log: true });
  const buyThreshold = trial.suggestFloat('buyThreshold', 0.35, 0.6, { step: 0.05 });
  const spec = { ...walkForward, model: { id: 'core/xgboost', params: { ...base.model.params, maxDepth, learningRate } }, strategy: { id: 'core/probability-threshold', params: { buyThreshold } } };
  const trialContext = cl.createRunContext(spec, { progress: 'quiet', log: () => {} });
  const run = await cl.runStages(trialContext, {
    onFold: (done, progress) => {
      const pieces = progress.split.paths[0].pieces.filter((p) => p.fold <= done[done.length - 1].fold.index);
      const sofar = cl.backtestPath(progress.context, progress.candles, progress.features, { folds: done }, { pieces });
      trial.report(sofar.backtest.report.metrics.sharpe, done.length - 1);
      if (trial.shouldPrune()) throw new cl.tuning.TrialPruned();
    },
  });
  run.trained.model.dispose();
  const equity = run.backtest.result.equity;
  returnsByTrial.set(trial.number, Float64Array.from(equity, (e, i) => (i ? e / equity[i - 1] : e / 10000) - 1));
  return run.backtest.report.metrics.sharpe;
}, { nTrials: trials });
cl.showRecords(study.trials.map((t) => ({ trial: t.number, state: t.state, sharpe: t.value ?? null, ...t.params })), 'Trials');
cl.showValues({ bestValue: study.bestValue, ...study.bestParams }, `Best trial #${study.bestTrial.number}`);
""")
md("""
The study's views (the same figures `candlelab tune` puts in its report): the optimization history,
the intermediate values the pruner judged, the parameters of every trial against its value, and
which parameters mattered (mean decrease in impurity over a seeded random forest on the trials, as Optuna's MDI evaluator; not fANOVA).
""")
code("""
const results = { trials: study.trials, directions: study.directions, studyName: study.studyName };
cl.showChart(cl.tuning.optimizationHistoryFigure(results, { targetName: 'Sharpe' }));
cl.showChart(cl.tuning.intermediateValuesFigure(results));
cl.showChart(cl.tuning.parallelCoordinateFigure(results, { targetName: 'Sharpe' }));
cl.showChart(cl.tuning.paramImportancesFigure(results));
cl.showValues(cl.tuning.paramImportances(study.trials, study.directions), 'Parameter importance (mean decrease in impurity, not fANOVA)');
""")
md("""
## 4b · Samplers, a conditional space, pruners

The walk-forward windows are already fitted (section 2), so a study over the **strategy's**
parameters costs one backtest per step. This objective has a **conditional space**: `sellThreshold`
exists only in trials that chose `allowShort = true`. It reports the Sharpe of the account after each
window (`trial.report(value, window)`) and asks `trial.shouldPrune()`.
""")
code("""
async function strategyObjective(trial: cl.tuning.Trial): Promise<number> {
  const buyThreshold = trial.suggestFloat('buyThreshold', 0.35, 0.6, { step: 0.05 });
  const allowShort = trial.suggestCategorical('allowShort', [false, true]);
  const sellThreshold = allowShort ? trial.suggestFloat('sellThreshold', 0.35, 0.6, { step: 0.05 }) : 0.5; // only when shorting
  const variant = cl.createRunContext({ ...walkForward, strategy: { id: 'core/probability-threshold', params: { buyThreshold, sellThreshold, allowShort } } }, { progress: 'quiet', log: () => {} });
  let sharpe = NaN;
  for (let k = 0; k < training.folds.length; k++) {
    const pieces = split.paths[0].pieces.filter((p) => p.fold <= k);
    sharpe = cl.backtestPath(variant, candles, features, { folds: training.folds.slice(0, k + 1) }, { pieces }).backtest.report.metrics.sharpe;
    trial.report(sharpe, k);
    if (trial.shouldPrune()) throw new cl.tuning.TrialPruned();
  }
  return sharpe;
}
const none = new cl.tuning.NopPruner();
const samplers = {
  'TPE (seed 1)': new cl.tuning.TPESampler({ seed: 1, nStartupTrials: 5 }),
  'random (seed 1)': new cl.tuning.RandomSampler({ seed: 1 }),
  grid: new cl.tuning.GridSampler({ buyThreshold: [0.4, 0.45, 0.5, 0.55, 0.6], allowShort: [false, true], sellThreshold: [0.45] }),
};
const bySampler = [];
for (const [name, sampler] of Object.entries(samplers)) {
  const s = cl.tuning.createStudy({ direction: 'maximize', sampler, pruner: none, studyName: name });
  await s.optimize(strategyObjective, { nTrials: 10 });
  bySampler.push({ sampler: name, trials: s.trials.length, withSellThreshold: s.trials.filter((t) => 'sellThreshold' in t.params).length, best: s.bestValue, bestParams: JSON.stringify(s.bestParams) });
}
cl.showRecords(bySampler, 'Samplers on the conditional space');
""")
md("""
The **pruners** judge the intermediate values: the median pruner stops a trial below the median of
the others at the same window; **successive halving** (ASHA) keeps only the top 1/η at each rung;
**Hyperband** runs several successive-halving brackets and assigns each trial to one. Each study
below runs the same 12 random trials (same seed), so the difference is the pruner's: steps reported
(the compute spent) against the best value found.
""")
code("""
const pruners = {
  none: new cl.tuning.NopPruner(),
  median: new cl.tuning.MedianPruner({ nStartupTrials: 3 }),
  'successive halving': new cl.tuning.SuccessiveHalvingPruner({ minResource: 1, reductionFactor: 2 }),
  hyperband: new cl.tuning.HyperbandPruner({ minResource: 1, maxResource: training.folds.length, reductionFactor: 2 }),
};
const byPruner = [];
let hyperbandStudy: cl.tuning.Study | undefined;
for (const [name, pruner] of Object.entries(pruners)) {
  const s = cl.tuning.createStudy({ direction: 'maximize', sampler: new cl.tuning.RandomSampler({ seed: 5 }), pruner, studyName: `pruner-${name}` });
  await s.optimize(strategyObjective, { nTrials: 12 });
  if (name === 'hyperband') hyperbandStudy = s;
  const steps = s.trials.reduce((sum, t) => sum + Object.keys(t.intermediateValues).length, 0);
  byPruner.push({ pruner: name, pruned: s.trials.filter((t) => t.state === 'PRUNED').length, stepsReported: steps, best: s.bestValue });
}
cl.showRecords(byPruner, 'Pruners: compute spent and best value');
cl.showChart(cl.tuning.intermediateValuesFigure({ trials: hyperbandStudy!.trials, directions: hyperbandStudy!.directions, studyName: 'hyperband' }));
""")
md("""
## 4c · Two objectives: NSGA-II and the Pareto front

With `directions`, a study optimizes several objectives at once; the default sampler becomes NSGA-II
and the answer is the **Pareto front**: the trials no other trial beats on both Sharpe (maximize) and
maximum drawdown (minimize).
""")
code("""
const pareto = cl.tuning.createStudy({ directions: ['maximize', 'minimize'], sampler: new cl.tuning.NSGAIISampler({ seed: 2, populationSize: 8 }), studyName: 'pareto' });
await pareto.optimize(async (trial) => {
  const buyThreshold = trial.suggestFloat('buyThreshold', 0.3, 0.65, { step: 0.025 });
  const variant = cl.createRunContext({ ...walkForward, strategy: { id: 'core/probability-threshold', params: { buyThreshold } } }, { progress: 'quiet', log: () => {} });
  const m = cl.backtestPath(variant, candles, features, training, split.paths[0]).backtest.report.metrics;
  return [m.sharpe, m.maxDrawdown];
}, { nTrials: 24 });
cl.showRecords(pareto.bestTrials.map((t) => ({ trial: t.number, sharpe: t.values![0], maxDrawdown: t.values![1], ...t.params })), `Pareto front (${pareto.bestTrials.length} of ${pareto.trials.length} trials)`);
cl.showChart(cl.tuning.paretoFrontFigure({ trials: pareto.trials, directions: pareto.directions, studyName: 'pareto' }, { targetNames: ['Sharpe', 'max drawdown'] }));
""")
md("""
## 4d · The journal storage: stop, reopen, continue

With `storage: <file>` the study is a journal: one fsynced record per event, replayed on open, safe
to share between processes. Opening the same journal again with `loadIfExists` continues the study:
its trials are kept, the sampler sees them, and `optimize` adds more. (A process killed mid-trial
leaves that trial RUNNING; the next open marks it failed and retries its params.)
""")
code("""
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
const journalDir = fs.mkdtempSync(path.join(os.tmpdir(), 'candlelab-journal-'));
const journal = path.join(journalDir, 'study.journal');
const openJournal = () => cl.tuning.createStudy({ direction: 'maximize', sampler: new cl.tuning.TPESampler({ seed: 4, nStartupTrials: 4 }), pruner: none, storage: journal, studyName: 'resume', loadIfExists: true });
const firstSession = openJournal();
await firstSession.optimize(strategyObjective, { nTrials: 5 });
const reopened = openJournal(); // as a new process would: replays the journal
const kept = reopened.trials.length;
await reopened.optimize(strategyObjective, { nTrials: 5 });
const records = fs.readFileSync(journal, 'utf8').trim().split(os.EOL).length; // one JSON record per line
console.log(`journal: ${kept} trials after reopening, ${reopened.trials.length} after continuing; best ${reopened.bestValue.toFixed(3)} (trial ${reopened.bestTrial.number}); ${records} records`);
fs.rmSync(journalDir, { recursive: true, force: true });
""")
md("""
## 5 · Did the search overfit?

Picking the best of many trials inflates its Sharpe. **PBO** (combinatorially symmetric
cross-validation) cuts the trials' out-of-sample returns into blocks and checks, over every half/half
split of the blocks, whether the in-sample winner lands below the median out of sample; above 50 %
the selection is worse than a coin flip. The **deflated Sharpe** is the probability that the best
trial's true Sharpe beats the best one would expect from that many skill-less trials.
""")
code("""
const complete = study.trials.filter((t) => t.state === 'COMPLETE' && returnsByTrial.has(t.number));
const series = complete.map((t) => returnsByTrial.get(t.number)!);
const length = Math.min(...series.map((r) => r.length));
const aligned = series.map((r) => r.subarray(r.length - length));
const pbo = cl.validation.probabilityOfBacktestOverfitting(aligned, 8);
const sharpes = aligned.map((r) => { const m = cl.validation.returnMoments(r); return m.mean / m.std; });
const mean = sharpes.reduce((a, b) => a + b, 0) / sharpes.length;
const variance = sharpes.reduce((a, b) => a + (b - mean) ** 2, 0) / (sharpes.length - 1);
const dsr = cl.validation.deflatedSharpe(returnsByTrial.get(study.bestTrial.number)!, complete.length, variance);
cl.showValues({ completeTrials: complete.length, pbo: pbo.pbo, splits: pbo.splits, deflatedSharpe: dsr.probability, benchmarkSharpePerBar: dsr.benchmark }, 'Selection overfitting');
console.log(`PBO ${(100 * pbo.pbo).toFixed(1)}% over ${pbo.splits} splits; deflated Sharpe P = ${dsr.probability.toFixed(3)}`);
""")
md("""
## 6 · Scale-out: a sweep on worker processes

Every parallel piece of work (a sweep point, a tuning trial, a walk-forward window, one coin's
training) is a **job** with a content hash; its result is stored under that hash, so running the same
sweep again computes nothing. Jobs run on a **local process pool** (`jobs`, default: the cores), or on
**BullMQ workers** over Redis (`queue: 'redis://host:port/0'`). The **stage cache** keys features,
labels and the model's predictions by the data fingerprint and the resolved definitions: the sweep
below sweeps the walk-forward spec over strategy and backtest params only, so the windows' models are
trained once, and each point runs only the strategy and the engine over the stitched out-of-sample
predictions (the metrics are the walk-forward account's). The table is the same, byte for byte,
on one process, two, or any number of BullMQ workers.
""")
code("""
const sweepParams = [cl.parseGridArg('strategy.params.buyThreshold=0.4,0.45,0.5,0.55'), cl.parseGridArg('backtest.slippageBps=0,5,10')];
const sweep = await cl.runSweep(walkForward, { params: sweepParams, jobs: 2, log: () => {} });
console.log(`${sweep.rows.length} points: ${sweep.computed} computed, ${sweep.reused} reused, ${sweep.failed} failed, ${sweep.seconds.toFixed(1)} s on ${sweep.runner}`);
cl.showRecords(sweep.rows.map((r) => ({ point: r.point, buyThreshold: r.params['strategy.params.buyThreshold'], slippageBps: r.params['backtest.slippageBps'], sharpe: r.metrics?.sharpe ?? null, totalReturn: r.metrics?.totalReturn ?? null, trades: r.metrics?.numTrades ?? null })), 'Sweep results');
for (const figure of cl.sweepFigures(sweep.rows, sweepParams, 'sharpe')) cl.showChart(figure);
""")
md("""
**Workers on several machines.** Every machine needs the project at the same path (a shared mount):
jobs name the workspace's data store and caches by path, and a worker whose candles differ from the
submitter's refuses the job. Start Redis on one machine, workers on the others, and submit from
anywhere in the project:

```bash
redis-server --bind 0.0.0.0 --requirepass s3cret --appendonly yes                 # machine A
npx candlelab worker --queue redis://:s3cret@machine-a:6379/0 --concurrency 2       # machines B, C, …
npx candlelab sweep specs/quickstart.json --grid strategy.params.buyThreshold=0.4,0.45,0.5 --queue redis://:s3cret@machine-a:6379/0
npx candlelab tune specs/walk-forward.json --space specs/spaces/xgboost.json --trials 200 --queue redis://:s3cret@machine-a:6379/0 --jobs 8
```

A killed worker's job is taken up again by BullMQ's stalled-job check; a job that keeps failing is
recorded with its error after `--attempts` tries; Ctrl-C on the submitter removes its waiting jobs.
""")
md("""
## From here

- `npx candlelab run specs/walk-forward.json` — the walk-forward run with run.json's `validation`
  record, the report's per-window section, and the last window's model in the registry.
- `npx candlelab tune specs/walk-forward.json --space specs/spaces/xgboost.json --trials 50 --jobs 2` —
  the study from the command line; `best-spec.json` is ready for `candlelab run`.
- `npx candlelab sweep specs/quickstart.json --grid strategy.params.buyThreshold=0.4,0.45,0.5` — a sweep
  from the command line: `results.csv`, `results.arrow` and `report.html` in `runs/sweep-quickstart/`.
""")


nb.write(sys.argv[1] if len(sys.argv) > 1 else "notebooks/01-validation-and-tuning.ipynb")
