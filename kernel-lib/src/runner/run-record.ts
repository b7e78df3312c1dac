import * as fs from 'node:fs';
import * as path from 'node:path';
import { Frame, type Candles, isoTime } from '../frame/frame';
import { CandlelabError } from '../errors';
import { writeArrowFile } from '../data/arrow-file';
import type { QualityReport } from '../quality/check-quality';
import type { FeatureSet } from '../features/compute-features';
import type { ChronologicalSplit } from '../validation/split';
import type { EngineTrade } from '../backtest/engine';
import type { PerformanceMetrics, RegimeBreakdown } from '../backtest/metrics';
import type { StrategyBacktest } from '../backtest/strategy-backtest';
import type { Artifact } from '../models/model';
import { writeArtifact } from '../models/artifact';
import { ModelRegistry, type ModelTimings, type ModelVersion } from '../registry/model-registry';
import { canonicalJson, Sha256, sha256Hex } from '../util/hash';
import { writeDirAtomic, writeFileAtomic } from '../util/atomic';
import { specHash } from '../spec/spec';
import { CANDLELAB_VERSION } from '../version';
import { gitRevision, type GitRevision } from '../util/git';
import type { InferenceTimings } from '../models/inference';
import type { FoldTraining, PathBacktest, ValidationRecord, ValidationSplit } from './validation-run';
import { confusionMatrixFigure, trainingCurveFigure } from '../report/charts';
import { backtestSections } from '../report/backtest-sections';
import { validationSections } from '../report/validation-sections';
import { baselineSection, predictionSections, type MemberSeries, type PredictionReportInput } from '../report/prediction-sections';
import { EnsembleModel } from '../models/ensemble/ensemble-model';
import { featureMatrix } from '../validation/split';
import { BASELINE_FIT_ROWS, runBaselines, runBaselinesOver, type BaselineBlock, type RunBaselines } from './baselines';
import { strategyOutput } from '../plugins/define';
import { keyValueTable, recordsTable, renderHtmlReport, escapeHtml, formatValue, type ReportSection } from '../report/html-report';
import {
  dataFingerprint,
  debug,
  type Evaluation,
  type RegressionEvaluation,
  type RunEvaluation,
  type LabelSet,
  type Predictions,
  type RunContext,
  type StrategyRun,
  type TrainedModel,
  predictionsOf,
} from './stages';

/** Everything a finished run produced, as the stages returned it. */
export type RunResults = {
  candles: Candles;
  quality: QualityReport;
  features: FeatureSet;
  labels: LabelSet;
  split: ChronologicalSplit;
  trained: TrainedModel;
  predictions: Predictions;
  evaluation: RunEvaluation;
  strategy: StrategyRun;
  backtest: StrategyBacktest;
  /** Validated runs (spec `validation`): the folds, their models' results, the backtest paths and the record. */
  validation?: { split: ValidationSplit; training: FoldTraining; paths: PathBacktest[]; record: ValidationRecord };
};

/** The metrics a run reports; all of them are covered by the fingerprint. */
export type RunMetrics = {
  backtest: PerformanceMetrics;
  regimes: RegimeBreakdown;
  /** Classification runs (SELL/HOLD/BUY and other class labelers). */
  classification?: { valid: Evaluation['valid']; test: Evaluation['test'] };
  /** Regression runs (future return, future price). */
  regression?: { valid: RegressionEvaluation['valid']; test: RegressionEvaluation['test'] };
};

export type RunRecord = {
  runId: string;
  name: string;
  createdAt: string;
  candlelabVersion: string;
  spec: RunContext['spec'];
  specHash: string;
  data: { symbol: string; timeframe: string; source: string; rows: number; from: string; to: string; fingerprint: string };
  quality: QualityReport;
  features: FeatureSet['resolved'];
  label: LabelSet['resolved'] & { horizon: number; classes?: string[]; balance?: LabelSet['balance'] };
  split: ChronologicalSplit;
  model: { id: string; version: string; params: unknown; info: Record<string, unknown>; registered?: { name: string; version: number } };
  strategy: { id: string; version: string; params: unknown; segment: { from: string; to: string; bars: number } };
  metrics: RunMetrics;
  /**
   * Validated runs (spec `validation`): per window (fold) its train/test times and row counts and its
   * metrics, the backtest paths, and the stitched out-of-sample numbers. `metrics` then holds the
   * stitched account (first path) as the run's headline.
   */
  validation?: ValidationRecord;
  /**
   * The test rows predicted by a naive last-label model and by a small ARIMA, beside the model's own
   * numbers (runner/baselines.ts); not part of the fingerprint. Absent when the test rows were not
   * predicted in one block (validated runs) or the baselines could not be fitted (the log says why).
   */
  baselines?: RunBaselines;
  /** Why risk monitors acted (exposure caps, circuit breaker, kill switch, …). */
  riskEvents: StrategyBacktest['result']['riskEvents'];
  /** The git commit of the code (when run in a git checkout) and whether tracked files differed from it. */
  git?: GitRevision;
  /** Wall times, for information; not part of the fingerprint. */
  timings: { trainingMs: number; predictionMicrosecondsPerRow: number; inference?: InferenceTimings };
  artifacts: Artifact[];
  /** sha256 over the predictions, the trades and the metrics: equal runs have equal fingerprints. */
  fingerprint: string;
};

export function runMetrics(results: Pick<RunResults, 'backtest' | 'evaluation'>): RunMetrics {
  return {
    backtest: results.backtest.report.metrics,
    regimes: results.backtest.report.regimes,
    ...(results.evaluation.task === 'regression'
      ? { regression: { valid: results.evaluation.valid, test: results.evaluation.test } }
      : { classification: { valid: results.evaluation.valid, test: results.evaluation.test } }),
  };
}

/**
 * The run's fingerprint: sha256 over the predictions' float32 bytes, the trades and the metrics in
 * canonical JSON. Two runs with one fingerprint made the same predictions, trades and numbers.
 */
export function runFingerprint(predictions: Predictions, trades: readonly EngineTrade[], metrics: RunMetrics, validation?: ValidationRecord): string {
  const hash = new Sha256()
    .update('candlelab-run-fingerprint-v1\npredictions\n')
    .update(predictions.values)
    .update('\ntrades\n')
    .update(canonicalJson(trades))
    .update('\nmetrics\n')
    .update(canonicalJson(metrics));
  // a validated run: every window's rows and metrics and every path (the other paths' trades are in their metrics)
  if (validation) hash.update('\nvalidation\n').update(canonicalJson(validation));
  return hash.hex();
}

/**
 * The run's baselines over its test rows: one split's test segment, or a validated run's traded path,
 * piece by piece, each piece's ARIMA fitted on the training rows of the window that predicted it. A
 * baseline that cannot be fitted is logged and left out.
 */
function baselinesOf(context: RunContext, results: RunResults): RunBaselines | undefined {
  const { candles, labels, split, predictions } = results;
  if (predictions.start > split.test.start || predictions.start + predictions.rows < split.test.end) return undefined;
  try {
    const baselines = results.validation
      ? runBaselinesOver(candles, labels, validatedBaselineBlocks(results.validation), predictions)
      : runBaselines(candles, labels, split, predictions);
    debug(context, `baselines (test rows): ${baselineLine(baselines)} (${baselines.ms.toFixed(0)} ms)`);
    return baselines;
  } catch (error) {
    if (!(error instanceof CandlelabError)) throw error;
    context.log(`baselines skipped: ${error.message}`);
    return undefined;
  }
}

/** A validated run's baseline blocks: each piece of the traded path, fitted on its window's latest training rows before it. */
function validatedBaselineBlocks(validation: NonNullable<RunResults['validation']>): BaselineBlock[] {
  const folds = new Map(validation.training.folds.map((f) => [f.fold.index, f]));
  return validation.split.paths[0].pieces.map((piece) => {
    const fit = folds.get(piece.fold)!.fitRows;
    // the last fitting range before the piece (walk-forward: the window's), else the first one (a k-fold's first group)
    const before = fit.filter((r) => r.end <= piece.start);
    const range = before.length ? before[before.length - 1] : fit[0];
    return { fitStart: Math.max(range.start, range.end - BASELINE_FIT_ROWS), fitEnd: range.end, start: piece.start, end: piece.end };
  });
}

/** One line comparing the model with the baselines: direction accuracy and RMSE or accuracy. */
export function baselineLine(b: RunBaselines): string {
  const pct = (v: number | null | undefined) => (v === null || v === undefined ? 'n/a' : `${(100 * v).toFixed(1)}%`);
  const line = (name: string, m: RunBaselines['model']) =>
    b.task === 'regression' ? `${name} RMSE ${m.rmse!.toPrecision(4)}, direction ${pct(m.directionAccuracy)}` : `${name} accuracy ${pct(m.accuracy)}, direction ${pct(m.directionAccuracy)}`;
  return [line('model', b.model), line('naive', b.naive), line('ARIMA(1,0,1)', b.arima)].join(' | ');
}

/** The default registry name of a run's model: the spec name, symbol and timeframe (quickstart-BTC-USDT-1h). */
export function defaultModelName(context: RunContext, candles: Candles): string {
  return context.spec.model.name ?? `${context.spec.name}-${candles.meta.symbol}-${candles.meta.timeframe}`.replace(/[^\w.-]+/g, '-');
}

function compactTimestamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

/** The trade log as CSV (numbers in JavaScript's shortest round-trip form, times ISO). */
export function tradesCsv(trades: readonly EngineTrade[]): string {
  const header = 'sleeve,asset,side,entry_time,entry_price,exit_time,exit_price,units,pnl,return_pct,bars,fees,funding,slippage_cost,exit_reason\n';
  const rows = trades.map((t) =>
    [t.sleeve, t.asset, t.side, isoTime(t.entryTime), t.entryPrice, isoTime(t.exitTime), t.exitPrice, t.units, t.pnl, t.returnPct, t.bars, t.fees, t.funding, t.slippageCost, t.exitReason].join(','),
  );
  return header + rows.map((row) => row + '\n').join('');
}

/**
 * Stage 11 — write runs/<run-id>/ (run.json, model files, predictions, backtest series, trades,
 * report.html) and register the model in models/. The folder appears whole or not at all; if the run
 * cannot be written the registration is rolled back.
 */
export async function writeRun(context: RunContext, results: RunResults): Promise<RunRecord> {
  const { candles, trained, predictions, backtest, split, labels, evaluation, features, strategy } = results;
  const createdAt = context.clock();
  const hash = specHash(context.spec);
  const metrics = runMetrics(results);
  const fingerprint = runFingerprint(predictions, backtest.result.trades, metrics, results.validation?.record);
  const baselines = baselinesOf(context, results);
  const baseRunId = `${context.spec.name}-${compactTimestamp(createdAt)}-${fingerprint.slice(0, 8)}`;
  let runId = baseRunId;
  for (let n = 2; fs.existsSync(path.join(context.workspace.runsDir, runId)); n++) runId = `${baseRunId}-${n}`;
  const runDir = path.join(context.workspace.runsDir, runId);
  const data = {
    symbol: candles.meta.symbol,
    timeframe: candles.meta.timeframe,
    source: candles.meta.source ?? '',
    rows: candles.length,
    from: isoTime(candles.time[0]),
    to: isoTime(candles.time[candles.length - 1]),
    fingerprint: dataFingerprint(candles),
  };

  let registered: ModelVersion | undefined;
  const registry = new ModelRegistry(context.workspace.modelsDir);
  const record: RunRecord = {
    runId,
    name: context.spec.name,
    createdAt: createdAt.toISOString(),
    candlelabVersion: CANDLELAB_VERSION,
    spec: context.spec,
    specHash: hash,
    data,
    quality: results.quality,
    features: features.resolved,
    label: { ...labels.resolved, horizon: labels.horizon, classes: labels.classes, balance: labels.balance },
    split,
    model: { id: trained.definition.id, version: trained.definition.version, params: trained.params, info: trained.model.info },
    strategy: {
      id: strategy.definition.id,
      version: strategy.definition.version,
      params: strategy.params,
      segment: { from: split.test.from, to: split.test.to, bars: strategy.end - strategy.start },
    },
    metrics,
    ...(results.validation ? { validation: results.validation.record } : {}),
    ...(baselines ? { baselines } : {}),
    riskEvents: backtest.result.riskEvents,
    git: gitRevision(context.workspace.root),
    timings: { trainingMs: trained.trainingMs, predictionMicrosecondsPerRow: predictions.microsecondsPerRow, inference: predictions.inference },
    artifacts: [],
    fingerprint,
  };

  try {
    if (context.spec.register) {
      registered = await registry.register({
        name: defaultModelName(context, candles),
        createdAt: record.createdAt,
        params: trained.params,
        label: record.label,
        metrics: {
          test: pick(evaluation, 'test'),
          valid: pick(evaluation, 'valid'),
          backtest: backtest.report.metrics,
          // a validated run: the registered model is the last window's; these are the windows' out-of-sample numbers
          ...(results.validation ? { validation: validationSummary(results.validation.record) } : {}),
        },
        dataFingerprint: data.fingerprint,
        specHash: hash,
        runId,
        codeVersion: CANDLELAB_VERSION,
        gitCommit: record.git?.commit,
        gitDirty: record.git?.dirty,
        timings: modelTimings(trained.trainingMs, predictions.inference),
        model: trained.model,
      });
      record.model.registered = { name: registered.name, version: registered.version };
    }
    await writeDirAtomic(runDir, async (dir) => {
      const artifacts: Artifact[] = [];
      const add = (file: string, kind: string, content: string | Uint8Array): void => {
        artifacts.push(writeArtifact(dir, file, kind, content));
      };
      for (const artifact of await trained.model.save(path.join(dir, 'model'))) {
        artifacts.push({ ...artifact, path: `model/${artifact.path}` });
      }
      const predictionFrame = predictionsFrame(candles, predictions, labels, split, results.validation);
      writeArrowFile(path.join(dir, 'predictions.arrow'), predictionFrame);
      artifacts.push(fileArtifact(dir, 'predictions.arrow', 'predictions'));
      writeArrowFile(path.join(dir, 'backtest.arrow'), backtestSeriesFrame(backtest, strategy.targets));
      artifacts.push(fileArtifact(dir, 'backtest.arrow', 'backtest-series'));
      add('trades.csv', 'trades', tradesCsv(backtest.result.trades));
      add('signals.json', 'signals', JSON.stringify(backtest.result.signals, null, 1) + '\n');
      add('report.html', 'report', buildRunReport(record, results, await memberSeries(results)));
      if (context.runLog) {
        context.runLog.write('info', `run ${runId} written to ${runDir}`);
        add('run.log', 'log', context.runLog.text());
      }
      record.artifacts = artifacts;
      writeFileAtomic(path.join(dir, 'run.json'), JSON.stringify(record, null, 2) + '\n');
    });
  } catch (error) {
    if (registered) registry.remove(registered.name, registered.version);
    if (error instanceof CandlelabError) throw error;
    throw new CandlelabError('IO', `could not write run ${runId} into ${context.workspace.runsDir}: ${(error as Error).message}; check the folder's permissions and free space`, { cause: error });
  }
  return record;
}

/**
 * The backtest's series at each bar close: the strategy's target, equity, cash, position value, gross
 * exposure, buy-and-hold equity, drawdown and rolling VaR/CVaR (single asset: one row per bar).
 */
export function backtestSeriesFrame(backtest: StrategyBacktest, targets?: Float64Array): Frame {
  const { result, report } = backtest;
  const columns: Record<string, Float64Array> = {
    equity: result.equity,
    cash: result.cash,
    position_value: result.positionValue,
    gross_exposure: result.grossExposure,
    buy_hold_equity: report.buyHoldEquity,
    drawdown: report.drawdown,
    value_at_risk: result.valueAtRisk,
    conditional_value_at_risk: result.conditionalValueAtRisk,
  };
  if (targets && targets.length === result.time.length) columns.target = targets;
  return Frame.fromColumns(result.time, columns, backtest.assets[0].candles.meta);
}

export function fileArtifact(dir: string, file: string, kind: string): Artifact {
  const bytes = fs.readFileSync(path.join(dir, file));
  return { path: file, kind, sha256: sha256Hex(bytes), bytes: bytes.length };
}

/** The numbers a registry version records: classification (headline, per class, flags) or regression. */
export function pick(evaluation: RunEvaluation, segment: 'valid' | 'test'): Record<string, unknown> {
  if (evaluation.task === 'regression') return { ...evaluation[segment] };
  const metrics = evaluation[segment];
  return {
    accuracy: metrics.accuracy,
    balancedAccuracy: metrics.balancedAccuracy,
    macroPrecision: metrics.macroPrecision,
    macroRecall: metrics.macroRecall,
    macroF1: metrics.macroF1,
    logLoss: metrics.logLoss,
    rocAucMacro: metrics.rocAucMacro,
    perClass: metrics.perClass.map(({ name, precision, recall, f1, rocAuc, support, predicted }) => ({ name, precision, recall, f1, rocAuc, support, predicted })),
    flags: metrics.flags,
  };
}

/** Training time and inference latency as a registry version records them. */
function modelTimings(trainingMs: number, inference: InferenceTimings | undefined): ModelTimings {
  return {
    trainingMs,
    ...(inference
      ? {
          batchRowsPerSecond: inference.batchRowsPerSecond,
          singleRowP50Ms: inference.singleRowP50Ms,
          singleRowP99Ms: inference.singleRowP99Ms,
          singleRowSamples: inference.singleRowSamples,
        }
      : {}),
  };
}

/** What a model version records of a validated run: the method, the window count and the out-of-sample headline. */
function validationSummary(record: ValidationRecord): Record<string, unknown> {
  const oos = record.outOfSample;
  return {
    method: record.method,
    windows: record.windows.length,
    paths: record.paths.length,
    outOfSample: { from: oos.from, to: oos.to, totalReturn: oos.backtest.totalReturn, sharpe: oos.backtest.sharpe, maxDrawdown: oos.backtest.maxDrawdown, numTrades: oos.backtest.numTrades },
    ...(record.pathSummary ? { pathSharpeMean: record.pathSummary.sharpeMean, deflatedSharpeProbability: record.pathSummary.deflatedSharpe.probability } : {}),
  };
}

/**
 * Predictions per predicted row with the true label and the segment (0 train, 1 valid, 2 test, −1
 * purged); a validated run's rows are the stitched out-of-sample ones, with the fold (window) that
 * predicted each row.
 */
function predictionsFrame(candles: Candles, predictions: Predictions, labels: LabelSet, split: ChronologicalSplit, validation?: RunResults['validation']): Frame {
  const { start, rows, columns, values } = predictions;
  const out: Record<string, Float64Array> = {};
  columns.forEach((name, c) => {
    const column = new Float64Array(rows);
    for (let r = 0; r < rows; r++) column[r] = values[r * columns.length + c];
    out[`p_${name}`] = column;
  });
  out.label = labels.target.slice(start, start + rows);
  const segment = new Float64Array(rows).fill(-1);
  [split.train, split.valid, split.test].forEach((range, id) => {
    for (let row = range.start; row < range.end; row++) segment[row - start] = id;
  });
  out.segment = segment;
  if (validation) {
    const window = new Float64Array(rows).fill(-1);
    for (const piece of validation.split.paths[0].pieces) window.fill(piece.fold, piece.start - start, piece.end - start);
    out.window = window;
  }
  return Frame.fromColumns(candles.time.slice(start, start + rows), out, candles.meta);
}

/**
 * An ensemble's members over the traded rows: each one's outputs and the run's strategy applied to
 * them (for the report's "which model wins when"). Not for validated runs: each window has its own
 * members, and only the last window's model is kept.
 */
export async function memberSeries(results: RunResults): Promise<MemberSeries[] | undefined> {
  const { trained, features, candles, strategy, predictions } = results;
  if (results.validation || !(trained.model instanceof EnsembleModel)) return undefined;
  const { start, end } = strategy;
  const names = trained.model.featureNames;
  const frame = names.every((name, i) => features.frame.names[i] === name) ? features.frame : features.frame.select([...names]);
  const outputs = await trained.model.memberPredictions(featureMatrix(frame, start, end));
  return outputs.map((values, i) => ({
    name: `member ${i} (${trained.model instanceof EnsembleModel ? trained.model.memberModels[i].modelId : ''})`,
    values,
    targets: strategyOutput(
      strategy.definition.targets(
        { candles: candles.slice(start, end), features: features.frame.slice(start, end), predictions: values, classes: predictions.columns },
        strategy.params,
      ),
    ).targets,
  }));
}

/** What the report's model sections need from a run's results (the traded rows). */
export function predictionReportInput(results: RunResults, members?: MemberSeries[]): PredictionReportInput {
  const { candles, predictions, labels, strategy, evaluation } = results;
  return {
    candles,
    start: strategy.start,
    end: strategy.end,
    columns: predictions.columns,
    values: predictionsOf(predictions, strategy.start, strategy.end),
    target: labels.target,
    task: evaluation.task,
    horizon: labels.horizon,
    ...(evaluation.task === 'regression' ? { band: evaluation.valid.rmse } : {}),
    targets: strategy.targets,
    ...(members ? { members } : {}),
    ...(results.validation && results.trained.model instanceof EnsembleModel ? { membersNote: 'a validated run refits the ensemble in every window; per-member series are not kept' } : {}),
  };
}

/** report.html: classification results, the model's predictions and signals, the backtest sections (metrics, regimes, charts, logs), the spec. */
export function buildRunReport(record: RunRecord, results: RunResults, members?: MemberSeries[]): string {
  const { backtest, evaluation, split } = results;
  const history = (record.model.info.history as Array<{ round: number; train: number; valid: number }> | undefined) ?? [];
  const curve = history.length ? [trainingCurveFigure(history, (record.model.info.historyMetric as string | undefined) ?? (record.model.info.metric as string | undefined) ?? 'log-loss', (record.model.info.historyStep as string | undefined) ?? 'round')] : [];
  const pct = (x: number) => `${(100 * x).toFixed(2)}%`;
  let warnings = '';
  let modelRows: Array<[string, unknown]>;
  let modelSection: ReportSection;
  if (evaluation.task === 'regression') {
    const test = evaluation.test;
    modelRows = [
      ['test MAE / RMSE', `${formatValue(test.mae)} / ${formatValue(test.rmse)}`],
      ['test R²', test.r2],
      ['test direction accuracy', test.directionAccuracy === null ? 'n/a' : pct(test.directionAccuracy)],
    ];
    modelSection = {
      title: 'Regression (validation and test segments)',
      html: recordsTable((['valid', 'test'] as const).map((name) => ({ segment: name, rows: evaluation[name].rows, MAE: evaluation[name].mae, RMSE: evaluation[name].rmse, 'R²': evaluation[name].r2, 'direction accuracy': evaluation[name].directionAccuracy }))),
      figures: curve,
    };
  } else {
    const test = evaluation.test;
    // Shown first, in a banner: a model that never predicts a class is the seeds' classic failure.
    warnings = test.neverPredicted.length
      ? `<div class="alert" data-flags="${escapeHtml(test.flags.join(' '))}"><strong>Warning: the model never predicted ${test.neverPredicted.map(escapeHtml).join(', ')} on the test segment</strong> (${test.rows} rows; argmax never chose ${test.neverPredicted.length === 1 ? 'it' : 'them'}). Its signals for ${test.neverPredicted.length === 1 ? 'that class' : 'those classes'} are missing; check the label balance and class weights.</div>`
      : '';
    modelRows = [
      ['test accuracy', pct(test.accuracy)],
      ['test balanced accuracy', pct(test.balancedAccuracy)],
      ['test macro F1', test.macroF1],
      ['test macro precision / recall', `${formatValue(test.macroPrecision)} / ${formatValue(test.macroRecall)}`],
      ['test log-loss', test.logLoss],
      ['test ROC-AUC (one-vs-rest, macro)', test.rocAucMacro],
    ];
    modelSection = {
      title: 'Classification (test segment)',
      html: recordsTable(
        test.perClass.map((c) => ({ class: c.name, precision: c.precision, recall: c.recall, f1: c.f1, 'ROC-AUC': c.rocAuc, support: c.support, predicted: c.predicted, 'false positives': c.falsePositives })),
      ),
      figures: [confusionMatrixFigure(test), ...curve],
    };
  }
  const inference = record.timings.inference;
  return renderHtmlReport(`candlelab run ${record.runId}`, [
    {
      title: 'Run',
      html: `${warnings}${keyValueTable([
        ['symbol', record.data.symbol],
        ['timeframe', record.data.timeframe],
        [results.validation ? 'out-of-sample (traded, stitched windows)' : 'test segment (traded)', `${split.test.from} … ${split.test.to}`],
        ['model', `${record.model.id}@${record.model.version}`],
        ['registered as', record.model.registered ? `${record.model.registered.name} v${record.model.registered.version}` : 'not registered'],
        ['strategy', `${record.strategy.id}@${record.strategy.version}`],
        ...modelRows,
        ['training time', `${(record.timings.trainingMs / 1000).toFixed(2)} s`],
        ...(inference
          ? ([
              ['inference, batched', `${Math.round(inference.batchRowsPerSecond).toLocaleString('en-US')} rows/s (${inference.batchRows} rows)`],
              ['inference, one row', `p50 ${inference.singleRowP50Ms.toFixed(3)} ms, p99 ${inference.singleRowP99Ms.toFixed(3)} ms (${inference.singleRowSamples} calls)`],
            ] as Array<[string, unknown]>)
          : []),
        ['code', record.git ? `${record.candlelabVersion} (git ${record.git.commit.slice(0, 12)}${record.git.dirty ? ', modified' : ''})` : record.candlelabVersion],
        ['fingerprint', record.fingerprint.slice(0, 16) + '…'],
      ])}`,
    },
    ...(results.validation ? validationSections(results.validation.record, results.validation.paths) : []),
    ...backtestSections(backtest),
    modelSection,
    ...baselineSection(record.baselines),
    ...predictionSections(predictionReportInput(results, members)),
    { title: 'Spec', html: `<pre>${escapeHtml(JSON.stringify(record.spec, null, 2))}</pre>` },
  ]);
}
