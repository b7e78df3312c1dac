import { Frame, isoTime, timeframeMs, type Candles } from '../frame/frame';
import { ConfigError } from '../errors';
import { computePlannedFeatures, type FeatureSet } from '../features/compute-features';
import { featureMatrix, type ChronologicalSplit, type SegmentRange } from '../validation/split';
import { describeFold, purgeAndEmbargo, rowCount, type BacktestPath, type RowRange, type Split, type SplitIndex, type ValidationFold } from '../validation/splitter';
import { deflatedSharpe, type DeflatedSharpe } from '../validation/overfitting';
import { classificationMetrics, type ClassificationMetrics } from '../models/classification-metrics';
import { regressionMetrics, type RegressionMetrics } from '../models/regression-metrics';
import { outputColumns, type FittedModel, type Matrix, type Segment } from '../models/model';
import { assertFeatureNames, measureInference } from '../models/inference';
import { drawdownSeries, sharpeOfReturns, type PerformanceMetrics } from '../backtest/metrics';
import { backtestStrategyOutput, type StrategyBacktest } from '../backtest/strategy-backtest';
import type { LabelSet, Predictions, RunContext, RunEvaluation, StrategyRun, TrainedModel } from './stages';
import { runStrategy, stageProgress } from './stages';

/**
 * Validation with refitting (walk-forward, purged k-fold, CPCV): the spec's splitter cuts the usable
 * rows into folds; in each fold every fitted part (fitted features such as GARCH, the model with its
 * scalers, an ensemble's members and meta-learner) is fitted on that fold's training rows only and
 * predicts the fold's test rows. The folds' test predictions are stitched along each backtest path,
 * and the strategy and the engine run over a path as one continuous account (positions carry across
 * fold boundaries). Notebooks call these stages one by one; runSpec calls them in the same order.
 */

/** The splitter's folds over this run's rows, with what it saw. */
export type ValidationSplit = Split & { index: SplitIndex; method: string; params: unknown; foldName: string };

/** Stage 5 (validated runs) — the spec's splitter over the rows after the warm-up. */
export function splitValidation(context: RunContext, candles: Candles, features: FeatureSet, labels: LabelSet): ValidationSplit {
  const validation = context.plan.validation;
  if (!validation) throw new ConfigError('the spec has no validation section; add e.g. "validation": {"method": "walk-forward", "train": "180d", "test": "30d"}');
  const index: SplitIndex = {
    time: candles.time,
    start: Math.max(features.lookback, labels.lookback),
    end: candles.length,
    horizon: labels.horizon,
    eventEnd: labels.eventEnd,
    barMs: timeframeMs(candles.meta.timeframe),
  };
  const split = validation.definition.split(index, validation.params);
  return { ...split, index, method: validation.definition.id, params: validation.params, foldName: validation.definition.foldName };
}

/** One fold's fitted model and what it predicted. */
export type FoldResult = {
  fold: ValidationFold;
  /** The rows the model was fitted on and the rows it early-stopped on (the last share of the fold's training rows, purged). */
  fitRows: RowRange[];
  validRows: RowRange[];
  /** Training rows dropped by the inner purge before the validation rows, or for an unknown label. */
  innerPurged: number;
  /** Predictions of each test block (rows × columns, row-major). */
  predictions: Array<{ start: number; end: number; values: Float32Array }>;
  columns: string[];
  /** The model's metrics on the fold's labelled test rows, and on its validation rows. */
  test: ClassificationMetrics | RegressionMetrics;
  valid: ClassificationMetrics | RegressionMetrics;
  /** Fitted feature columns as this fold computed them (fitted on its training rows), when the spec has any. */
  fittedColumns?: Record<string, Float64Array>;
  trainingMs: number;
};

export type FoldTraining = {
  folds: FoldResult[];
  /** The last fold's model (the newest data in walk-forward): registered and kept; the others are disposed. */
  last: TrainedModel;
  /** Summed fitting time over the folds. */
  trainingMs: number;
};

/** Rows × cols of several row ranges, stacked in order. */
function stackedMatrix(frame: Frame, ranges: readonly RowRange[]): Matrix {
  const parts = ranges.map((r) => featureMatrix(frame, r.start, r.end));
  const rows = parts.reduce((sum, p) => sum + p.rows, 0);
  return { values: concat(parts.map((p) => p.values), (n) => new Float32Array(n)), rows, cols: frame.names.length };
}

function segmentOf(frame: Frame, target: Float64Array, ranges: readonly RowRange[], eventEnd?: Float64Array): Segment {
  const rows = (column: Float64Array) => concat(ranges.map((r) => column.subarray(r.start, r.end)), (n) => new Float64Array(n));
  const segment = { X: stackedMatrix(frame, ranges), y: rows(target) };
  return eventEnd ? { ...segment, time: rows(frame.time), eventEnd: rows(eventEnd) } : segment;
}

/** Keep only rows with a known label (rows near the end of the data have none). */
function labelledRows(ranges: readonly RowRange[], target: Float64Array): { ranges: RowRange[]; dropped: number } {
  const out: RowRange[] = [];
  let dropped = 0;
  for (const r of ranges) {
    let start = -1;
    for (let row = r.start; row <= r.end; row++) {
      const ok = row < r.end && Number.isFinite(target[row]);
      if (row < r.end && !ok) dropped++;
      if (ok && start < 0) start = row;
      if (!ok && start >= 0) {
        out.push({ start, end: row });
        start = -1;
      }
    }
  }
  return { ranges: out, dropped };
}

/**
 * The fold's training rows cut into fitting rows and early-stopping rows: the last `validShare` of the
 * rows (in time order) validate, and fitting rows whose label reaches into them are purged.
 */
export function innerValidation(train: readonly RowRange[], validShare: number, index: SplitIndex): { fit: RowRange[]; valid: RowRange[]; purged: number } {
  let remaining = Math.max(1, Math.floor(rowCount(train) * validShare));
  const valid: RowRange[] = [];
  const fit: RowRange[] = [];
  for (let i = train.length - 1; i >= 0; i--) {
    const r = train[i];
    const take = Math.min(remaining, r.end - r.start);
    if (take > 0) valid.unshift({ start: r.end - take, end: r.end });
    if (r.end - take > r.start) fit.unshift({ start: r.start, end: r.end - take });
    remaining -= take;
  }
  const cleaned = purgeAndEmbargo(fit, valid, index, 0);
  return { fit: cleaned.train, valid, purged: cleaned.purged };
}

/** Recompute the fitted features (and every feature after the first fitted one) with a fold's training rows. */
function fittedColumnsFor(context: RunContext, candles: Candles, base: FeatureSet, fitRows: readonly RowRange[]): Record<string, Float64Array> | undefined {
  const planned = context.plan.features;
  const first = planned.findIndex((f) => f.definition.fittedOnLeadingRows);
  if (first < 0) return undefined;
  const earlier = Object.fromEntries(planned.slice(0, first).flatMap((f) => f.outputs.map((name) => [name, base.frame.column(name)])));
  const recomputed = computePlannedFeatures(candles.withColumns(earlier) as Candles, planned.slice(first), { ...context.plan.featureContext, fitRows });
  return Object.fromEntries(recomputed.names.map((name) => [name, recomputed.frame.column(name)]));
}

function withColumns(base: FeatureSet, columns: Record<string, Float64Array> | undefined): Frame {
  if (!columns) return base.frame;
  return Frame.fromColumns(base.frame.time, Object.fromEntries(base.names.map((name) => [name, columns[name] ?? base.frame.column(name)])), base.frame.meta);
}

function metricsOf(labels: LabelSet, predictions: Float32Array, target: Float64Array): ClassificationMetrics | RegressionMetrics {
  return labels.classes ? classificationMetrics(predictions, target, labels.classes) : regressionMetrics(predictions, target);
}

/** A fold fitted in this process: its result and its model (the caller disposes it). */
export type FittedFold = { result: FoldResult; model: FittedModel };

/**
 * One fold of stage 6: fitted features on the fold's training rows, the model fitted on them
 * (early-stopping on their last share, purged), predictions of the fold's test blocks. A window job
 * (jobs/) calls it for one fold on a worker.
 */
export async function fitFold(context: RunContext, candles: Candles, features: FeatureSet, labels: LabelSet, split: ValidationSplit, fold: ValidationFold): Promise<FittedFold> {
  const { definition, params } = context.plan.model;
  const { train: trainShare, valid: validShare } = context.spec.split;
  const share = validShare / (trainShare + validShare);
  const total = split.folds.length;
  const noun = split.foldName;
  const labelled = labelledRows(fold.train, labels.target);
  const inner = innerValidation(labelled.ranges, share, split.index);
  const fittedColumns = fittedColumnsFor(context, candles, features, fold.train);
  const frame = withColumns(features, fittedColumns);
  const data = {
    featureNames: features.names,
    classes: labels.classes,
    train: segmentOf(frame, labels.target, inner.fit, labels.eventEnd),
    valid: segmentOf(frame, labels.target, inner.valid),
    horizon: labels.horizon,
  };
  context.log(`${describeFold(fold, candles.time, split.index.barMs).replace(/^fold/, noun)} [${fold.index + 1}/${total}]`);
  const started = performance.now();
  const model = await definition.fit(data, params, {
    seed: context.spec.seed,
    progress: (label, steps) => stageProgress(context, `${label} (${noun} ${fold.index}, ${fold.index + 1}/${total})`, steps),
    resolveModel: (ref) => context.registry.resolveWithParams('model', ref),
    reportValidation: context.reportValidation && ((step, loss) => context.reportValidation!(step, loss, fold.index)),
    backtest: context.plan.backtest,
  });
  try {
    const fitMs = performance.now() - started;
    const names = assertFeatureNames(model, frame.names);
    const predictFrame = names.every((name, i) => frame.names[i] === name) ? frame : frame.select(names);
    const predictions: FoldResult['predictions'] = [];
    for (const block of fold.test) {
      predictions.push({ start: block.start, end: block.end, values: await model.predict(featureMatrix(predictFrame, block.start, block.end)) });
    }
    const columns = outputColumns(model);
    const testValues = concat(predictions.map((p) => p.values), (n) => new Float32Array(n));
    const testTarget = concat(fold.test.map((r) => labels.target.subarray(r.start, r.end)), (n) => new Float64Array(n));
    const validValues = await model.predict(data.valid.X);
    const result: FoldResult = {
      fold,
      fitRows: inner.fit,
      validRows: inner.valid,
      innerPurged: inner.purged + labelled.dropped,
      predictions,
      columns,
      test: metricsOf(labels, testValues, testTarget),
      valid: metricsOf(labels, validValues, data.valid.y),
      fittedColumns,
      trainingMs: fitMs,
    };
    return { result, model };
  } catch (error) {
    model.dispose();
    throw error;
  }
}

/**
 * Fits folds elsewhere (worker processes or BullMQ workers, see jobs/): given a fold, its result as
 * fitFold computes it. The run keeps fitting the last fold itself, since it keeps that fold's model.
 */
export type RemoteFolds = (fold: ValidationFold, run: { candles: Candles; features: FeatureSet; labels: LabelSet }) => Promise<FoldResult>;

/**
 * Stage 6 (validated runs) — every fold through fitFold, in order. With `remote`, the folds before
 * the last run there, in parallel, while this process fits the last one; the results are the same.
 */
export async function trainFolds(
  context: RunContext,
  candles: Candles,
  features: FeatureSet,
  labels: LabelSet,
  split: ValidationSplit,
  /** Called after each fold with the folds done so far; may throw to stop (a tuner's pruning). */
  onFold?: (done: FoldResult[]) => void,
  remote?: RemoteFolds,
): Promise<FoldTraining> {
  const { definition, params } = context.plan.model;
  if (remote && split.folds.length > 1) {
    const folds = split.folds;
    const elsewhere = Promise.all(folds.slice(0, -1).map((fold) => remote(fold, { candles, features, labels })));
    elsewhere.catch(() => {}); // awaited below; a local failure must not leave it unhandled
    const last = await fitFold(context, candles, features, labels, split, folds[folds.length - 1]);
    let results: FoldResult[];
    try {
      results = [...(await elsewhere), last.result];
    } catch (error) {
      last.model.dispose();
      throw error;
    }
    for (let i = 1; i <= results.length; i++) onFold?.(results.slice(0, i));
    const trainingMs = results.reduce((sum, r) => sum + r.trainingMs, 0);
    return { folds: results, last: { model: last.model, definition, params, trainingMs }, trainingMs };
  }
  const results: FoldResult[] = [];
  let model: FittedModel | undefined;
  let trainingMs = 0;
  try {
    for (const fold of split.folds) {
      model?.dispose();
      model = undefined;
      const fitted = await fitFold(context, candles, features, labels, split, fold);
      model = fitted.model;
      trainingMs += fitted.result.trainingMs;
      results.push(fitted.result);
      onFold?.(results);
    }
  } catch (error) {
    model?.dispose();
    throw error;
  }
  return { folds: results, last: { model: model!, definition, params, trainingMs }, trainingMs };
}

/** Typed arrays joined end to end, in a new array of the same type. */
function concat<T extends Float32Array | Float64Array>(parts: readonly T[], make: (length: number) => T): T {
  const out = make(parts.reduce((sum, p) => sum + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** A path's out-of-sample predictions stitched from its folds, as one Predictions block over its rows. */
export function stitchPath(training: Pick<FoldTraining, 'folds'>, path: BacktestPath): Predictions {
  const byFold = new Map(training.folds.map((f) => [f.fold.index, f]));
  const columns = training.folds[0].columns;
  const k = columns.length;
  const start = path.pieces[0].start;
  const end = path.pieces[path.pieces.length - 1].end;
  const values = new Float32Array((end - start) * k);
  for (const piece of path.pieces) {
    const fold = byFold.get(piece.fold)!;
    const block = fold.predictions.find((p) => p.start <= piece.start && piece.end <= p.end)!;
    values.set(block.values.subarray((piece.start - block.start) * k, (piece.end - block.start) * k), (piece.start - start) * k);
  }
  return { start, rows: end - start, columns, values, microsecondsPerRow: 0 };
}

/** The features a path's strategy sees: fitted columns taken, piece by piece, from the fold that predicted it. */
export function stitchFeatures(features: FeatureSet, training: Pick<FoldTraining, 'folds'>, path: BacktestPath): FeatureSet {
  const fitted = training.folds[0].fittedColumns;
  if (!fitted) return features;
  const byFold = new Map(training.folds.map((f) => [f.fold.index, f]));
  const columns = Object.fromEntries(features.names.map((name) => [name, features.frame.column(name)]));
  for (const name of Object.keys(fitted)) {
    const column = Float64Array.from(features.frame.column(name));
    for (const piece of path.pieces) column.set(byFold.get(piece.fold)!.fittedColumns![name].subarray(piece.start, piece.end), piece.start);
    columns[name] = column;
  }
  return { ...features, frame: Frame.fromColumns(features.frame.time, columns, features.frame.meta) };
}

/** A path traded: the strategy over its stitched predictions and the engine over its rows, one account. */
export type PathBacktest = { predictions: Predictions; strategy: StrategyRun; backtest: StrategyBacktest };

/** Stages 9–10 over a path: the strategy decides from the stitched predictions, the engine trades them in one account. */
export function backtestPath(context: RunContext, candles: Candles, features: FeatureSet, training: Pick<FoldTraining, 'folds'>, path: BacktestPath): PathBacktest {
  const predictions = stitchPath(training, path);
  const strategy = runStrategy(context, candles, stitchFeatures(features, training, path), predictions, { start: predictions.start, end: predictions.start + predictions.rows });
  const backtest = backtestStrategyOutput(candles.slice(strategy.start, strategy.end), strategy.definition.id, strategy.output, context.plan.backtest, undefined, candles.slice(0, strategy.start));
  return { predictions, strategy, backtest };
}

/** The traded part of one fold inside a path's account: its return, Sharpe, drawdown and trades. */
export type WindowTrading = { from: string; to: string; bars: number; totalReturn: number; sharpe: number; maxDrawdown: number; trades: number };

function windowTrading(path: PathBacktest, start: number, end: number, time: Float64Array, barMs: number): WindowTrading {
  const { result, report } = path.backtest;
  const offset = path.strategy.start;
  const equity = result.equity;
  const first = start - offset;
  const last = end - offset; // exclusive
  const before = first > 0 ? equity[first - 1] : result.settings.initialCash;
  const returns = new Float64Array(last - first);
  for (let i = first; i < last; i++) returns[i - first] = (i > 0 ? equity[i] / equity[i - 1] : equity[i] / result.settings.initialCash) - 1;
  const from = time[start];
  const to = time[end - 1] + barMs;
  return {
    from: isoTime(from),
    to: isoTime(to),
    bars: end - start,
    totalReturn: equity[last - 1] / before - 1,
    sharpe: sharpeOfReturns(returns, report.metrics.periodsPerYear),
    maxDrawdown: Math.max(0, ...drawdownSeries(Float64Array.of(before, ...equity.subarray(first, last)))),
    trades: result.trades.filter((t) => t.entryTime >= from && t.entryTime < to).length,
  };
}

/** One fold as run.json records it (times ISO UTC: a start is a bar's open, an end the last bar's close). */
export type WindowRecord = {
  index: number;
  trainStart: string;
  trainEnd: string;
  testStart: string;
  testEnd: string;
  /** The fold's training rows as ranges when they are not one block (k-fold, CPCV). */
  trainRanges?: Array<{ start: string; end: string }>;
  testGroups?: number[];
  rows: { train: number; valid: number; test: number; purged: number; embargoed: number };
  /** The model on the fold's test rows (classification or regression metrics) and on its early-stopping rows. */
  metrics: { test: ClassificationMetrics | RegressionMetrics; valid: ClassificationMetrics | RegressionMetrics; trading?: WindowTrading };
};

/** A backtest path's headline numbers (CPCV has several paths). */
export type PathRecord = {
  index: number;
  pieces: Array<{ fold: number; from: string; to: string }>;
  metrics: Pick<PerformanceMetrics, 'totalReturn' | 'sharpe' | 'sortino' | 'maxDrawdown' | 'numTrades' | 'exposure' | 'buyHoldReturn'>;
  /** P(true Sharpe > 0) from this path's per-bar returns (probabilistic Sharpe ratio). */
  probabilisticSharpe: number;
};

export type ValidationRecord = {
  method: string;
  /** What one fold is called: 'window' (walk-forward), 'fold', 'split' (CPCV). */
  foldName: string;
  params: unknown;
  windows: WindowRecord[];
  paths: PathRecord[];
  /** The stitched out-of-sample numbers: the model over every tested row of the first path, and its account. */
  outOfSample: { from: string; to: string; rows: number; model: ClassificationMetrics | RegressionMetrics; backtest: PerformanceMetrics };
  /** Across the paths (CPCV): Sharpe spread and the deflated Sharpe of the best path given how many there are. */
  pathSummary?: { count: number; sharpeMean: number; sharpeStd: number; sharpeMin: number; sharpeMax: number; positiveShare: number; deflatedSharpe: DeflatedSharpe };
};

/** Per-bar returns of an account's equity. */
export function equityReturns(backtest: StrategyBacktest): Float64Array {
  const equity = backtest.result.equity;
  const out = new Float64Array(equity.length);
  for (let i = 0; i < equity.length; i++) out[i] = (i > 0 ? equity[i] / equity[i - 1] : equity[i] / backtest.result.settings.initialCash) - 1;
  return out;
}

/** Stage 8 (validated runs) — per-fold and per-path metrics and the stitched out-of-sample numbers, for run.json. */
export function validationRecord(candles: Candles, labels: LabelSet, split: ValidationSplit, training: Pick<FoldTraining, 'folds'>, paths: readonly PathBacktest[]): ValidationRecord {
  const { time } = candles;
  const barMs = split.index.barMs;
  const iso = (row: number) => isoTime(time[row]);
  const isoEnd = (row: number) => isoTime(time[row - 1] + barMs);
  const first = paths[0];
  // Which rows of path 0 each fold traded (walk-forward: each window's traded block).
  const traded = new Map<number, RowRange>();
  for (const piece of split.paths[0].pieces) {
    const known = traded.get(piece.fold);
    traded.set(piece.fold, known ? { start: Math.min(known.start, piece.start), end: Math.max(known.end, piece.end) } : { start: piece.start, end: piece.end });
  }
  const windows: WindowRecord[] = training.folds.map((f) => {
    const { fold } = f;
    const trainRanges = fold.train;
    const tradedRows = split.paths.length === 1 ? traded.get(fold.index) : undefined;
    return {
      index: fold.index,
      trainStart: iso(trainRanges[0].start),
      trainEnd: isoEnd(trainRanges[trainRanges.length - 1].end),
      testStart: iso(fold.test[0].start),
      testEnd: isoEnd(fold.test[fold.test.length - 1].end),
      ...(trainRanges.length > 1 ? { trainRanges: trainRanges.map((r) => ({ start: iso(r.start), end: isoEnd(r.end) })) } : {}),
      ...(fold.testGroups ? { testGroups: fold.testGroups } : {}),
      rows: { train: rowCount(f.fitRows), valid: rowCount(f.validRows), test: rowCount(fold.test), purged: fold.purged + f.innerPurged, embargoed: fold.embargoed },
      metrics: { test: f.test, valid: f.valid, ...(tradedRows ? { trading: windowTrading(first, tradedRows.start, tradedRows.end, time, barMs) } : {}) },
    };
  });
  const pathRecords: PathRecord[] = paths.map((p, i) => {
    const m = p.backtest.report.metrics;
    const d = deflatedSharpe(equityReturns(p.backtest), 1, 0);
    return {
      index: i,
      pieces: split.paths[i].pieces.map((piece) => ({ fold: piece.fold, from: iso(piece.start), to: isoEnd(piece.end) })),
      metrics: { totalReturn: m.totalReturn, sharpe: m.sharpe, sortino: m.sortino, maxDrawdown: m.maxDrawdown, numTrades: m.numTrades, exposure: m.exposure, buyHoldReturn: m.buyHoldReturn },
      probabilisticSharpe: d.probability,
    };
  });
  const start = first.predictions.start;
  const end = start + first.predictions.rows;
  const record: ValidationRecord = {
    method: split.method,
    foldName: split.foldName,
    params: split.params,
    windows,
    paths: pathRecords,
    outOfSample: { from: iso(start), to: isoEnd(end), rows: end - start, model: metricsOf(labels, first.predictions.values, labels.target.subarray(start, end)), backtest: first.backtest.report.metrics },
  };
  if (paths.length > 1) {
    const perPeriod = paths.map((p) => {
      const r = equityReturns(p.backtest);
      const { mean, std } = moments(r);
      return { returns: r, sharpe: std > 0 ? mean / std : 0 };
    });
    const sharpes = pathRecords.map((p) => p.metrics.sharpe);
    const { mean, std } = moments(Float64Array.from(sharpes));
    const best = perPeriod.reduce((a, b) => (b.sharpe > a.sharpe ? b : a));
    const variance = moments(Float64Array.from(perPeriod.map((p) => p.sharpe))).std ** 2;
    record.pathSummary = {
      count: paths.length,
      sharpeMean: mean,
      sharpeStd: std,
      sharpeMin: Math.min(...sharpes),
      sharpeMax: Math.max(...sharpes),
      positiveShare: sharpes.filter((s) => s > 0).length / sharpes.length,
      deflatedSharpe: deflatedSharpe(best.returns, paths.length, variance),
    };
  }
  return record;
}

function moments(values: Float64Array): { mean: number; std: number } {
  const n = values.length;
  const mean = n ? values.reduce((a, b) => a + b, 0) / n : 0;
  const variance = n > 1 ? values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1) : 0;
  return { mean, std: Math.sqrt(variance) };
}

/** The run-level evaluation of a validated run: the stitched out-of-sample rows as `test`, the last fold's early-stopping rows as `valid`. */
export function validationEvaluation(labels: LabelSet, record: ValidationRecord, training: FoldTraining): RunEvaluation {
  const lastValid = training.folds[training.folds.length - 1].valid;
  return labels.classes
    ? { task: 'classification', valid: lastValid as ClassificationMetrics, test: record.outOfSample.model as ClassificationMetrics }
    : { task: 'regression', valid: lastValid as RegressionMetrics, test: record.outOfSample.model as RegressionMetrics };
}

/** Single-row latency of the last fold's model on the last rows, for the record (as predictRows does). */
export async function timeLastModel(training: FoldTraining, features: FeatureSet, predictions: Predictions): Promise<Predictions> {
  const model = training.last.model;
  const names = assertFeatureNames(model, features.frame.names);
  const frame = names.every((name, i) => features.frame.names[i] === name) ? features.frame : features.frame.select(names);
  const end = predictions.start + predictions.rows;
  const X = featureMatrix(frame, Math.max(predictions.start, end - 2048), end);
  const started = performance.now();
  await model.predict(X);
  const elapsed = performance.now() - started;
  const inference = await measureInference(model, X, { samples: 256, batch: { ms: elapsed } });
  return { ...predictions, microsecondsPerRow: (elapsed * 1000) / Math.max(1, X.rows), inference };
}

/**
 * The run's three segments as a validated run has them (for run.json's `split` and predictions.arrow):
 * train and valid are the last fold's fitting and early-stopping rows (the registered model's), test is
 * the stitched out-of-sample range the account traded.
 */
export function validatedSegments(candles: Candles, split: ValidationSplit, training: FoldTraining, path: PathBacktest): ChronologicalSplit {
  const last = training.folds[training.folds.length - 1];
  const range = (name: SegmentRange['name'], start: number, end: number): SegmentRange => ({ name, start, end, from: isoTime(candles.time[start]), to: isoTime(candles.time[end - 1]) });
  const fit = last.fitRows;
  return {
    train: range('train', fit[0].start, fit[fit.length - 1].end),
    valid: range('valid', last.validRows[0].start, last.validRows[last.validRows.length - 1].end),
    test: range('test', path.strategy.start, path.strategy.end),
    purge: split.index.horizon,
    purged: { train: last.fold.purged + last.innerPurged, valid: 0 },
    purgeBy: split.index.eventEnd ? 'event-end' : 'horizon',
    firstRow: split.index.start,
  };
}
