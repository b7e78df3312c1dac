import { type Candles } from '../frame/frame';
import { ConfigError, DataError } from '../errors';
import { loadPlannedCandles, prepareSources, type PlannedCandlesOptions } from '../data/sources';
import { assertQuality, type QualityReport } from '../quality/check-quality';
import { computePlannedFeatures, type FeatureSet } from '../features/compute-features';
import { createRegistry } from '../plugins/core-plugin';
import type { PluginRegistry } from '../plugins/registry';
import { strategyOutput, type LabelerDefinition, type ModelDefinition, type Plugin, type StrategyDefinition, type StrategyOutput } from '../plugins/define';
import { featureMatrix, splitChronological, trainingSegment, type ChronologicalSplit } from '../validation/split';
import { classificationMetrics, type ClassificationMetrics } from '../models/classification-metrics';
import { regressionMetrics, type RegressionMetrics } from '../models/regression-metrics';
import { outputColumns, type FittedModel } from '../models/model';
import { assertFeatureNames, measureInference, type InferenceTimings } from '../models/inference';
import { backtestStrategyOutput, type StrategyBacktest } from '../backtest/strategy-backtest';
import { createProgress, teeProgress, type Progress, type ProgressMode } from '../util/progress';
import type { RunLog } from './run-log';
import { openWorkspace, workspaceStart, type Workspace, type WorkspaceOverrides } from '../workspace';
import { loadSpec, parseSpec, type LoadedSpec, type Spec, type SpecInput } from '../spec/spec';
import { Sha256 } from '../util/hash';
import { classBalance, type ClassBalance } from '../labels/core-labelers';
import { resolveRunPlan, type RunPlan } from './run-plan';
import type { RowRange } from '../validation/splitter';

/**
 * The stages of a research run. A notebook calls them one at a time and inspects each result;
 * `runSpec` calls the very same functions in the same order. Same spec → same numbers.
 */

/** What every stage may need: the validated spec resolved into a plan, the registry, folders, clock and progress. */
export type RunContext = {
  readonly spec: Spec;
  /** The spec resolved once (definitions, params, lookback, horizon, settings): the stages read it. */
  readonly plan: RunPlan;
  readonly registry: PluginRegistry;
  readonly workspace: Workspace;
  /** Relative data paths in the spec are resolved from here (the spec file's folder). */
  readonly baseDir: string;
  /** The wall clock, used only for run ids and timestamps, never for results. */
  readonly clock: () => Date;
  readonly progress: ProgressMode;
  readonly log: (line: string) => void;
  /** The model's validation loss after each round or epoch (and the fold, in validated runs); a tuner prunes through it. */
  readonly reportValidation?: (step: number, loss: number, fold?: number) => void;
  /** `candlelab run`: the run's log (run.log), fed with progress, warnings and debug detail. */
  readonly runLog?: RunLog;
  /** Keep only the last this many bars of the data (`candlelab run --quick`). */
  readonly lastBars?: number;
};

/** A progress display for a stage, also written into the run's log when there is one. */
export function stageProgress(context: Pick<RunContext, 'progress' | 'runLog'>, label: string, total: number): Progress {
  const progress = createProgress(label, total, context.progress);
  return context.runLog ? teeProgress(progress, label, total, (line) => context.runLog!.write('progress', line)) : progress;
}

/** A debug line for the run's log (and the terminal under --verbose). */
export function debug(context: Pick<RunContext, 'runLog'>, line: string): void {
  context.runLog?.write('debug', line);
}

export type RunContextOptions = {
  workspace?: WorkspaceOverrides;
  clock?: () => Date;
  progress?: ProgressMode;
  log?: (line: string) => void;
  /** `--set path=value` overrides applied before validation (when a file path is given). */
  overrides?: readonly string[];
  /** Plugin objects to register besides the spec's `plugins` packages (e.g. defined in a notebook cell). */
  plugins?: readonly Plugin[];
  /** See RunContext.reportValidation. */
  reportValidation?: RunContext['reportValidation'];
  /** See RunContext.lastBars. */
  lastBars?: number;
};

/**
 * Set up a run from a spec file path, a loaded spec, or a spec object: validate it, open the workspace
 * (the one the working folder is in, else the spec's; see workspaceStart), load the plugins it names
 * from the workspace root, and resolve it into the run plan, so a typo fails in milliseconds instead
 * of after training.
 */
export function createRunContext(source: string | LoadedSpec | SpecInput, options: RunContextOptions = {}): RunContext {
  const loaded: LoadedSpec =
    typeof source === 'string'
      ? loadSpec(source, options.overrides)
      : 'spec' in source && 'baseDir' in source
        ? source
        : { spec: parseSpec(source), file: '', baseDir: process.cwd() };
  const workspace = openWorkspace(options.workspace, workspaceStart(loaded.baseDir));
  const registry = createRegistry([...loaded.spec.plugins, ...(options.plugins ?? [])], workspace.root);
  const plan = resolveRunPlan(loaded.spec, registry, { baseDir: loaded.baseDir, dataDir: workspace.dataDir });
  return {
    spec: loaded.spec,
    plan,
    registry,
    workspace,
    baseDir: loaded.baseDir,
    clock: options.clock ?? (() => new Date()),
    progress: options.progress ?? 'auto',
    log: options.log ?? ((line) => process.stderr.write(line + '\n')),
    ...(options.reportValidation ? { reportValidation: options.reportValidation } : {}),
    ...(options.lastBars ? { lastBars: options.lastBars } : {}),
  };
}

/**
 * Stage 1 — data, from the spec's source (see data/sources.ts): the seeded sample (generated into
 * data/sample/ on first use), a file (Arrow IPC, Parquet or CSV; impossible candles refused with
 * file:line unless `data.repair` is 'drop'), the store (with its funding and open-interest tables as
 * columns), the exchange (downloaded by `prepareData`) or a plugin's source. The spec's missing-data
 * policy, when given, is applied here, then the `data.side` column sources are joined causally.
 */
export function loadCandles(context: RunContext): Candles {
  const candles = loadPlannedCandles(context.plan.source, context.plan.side, dataOptions(context));
  return context.lastBars && candles.length > context.lastBars ? candles.slice(candles.length - context.lastBars) : candles;
}

/**
 * Before `loadCandles`: what the data sources need done asynchronously (the exchange source downloads
 * its range into the store; a plugin's source may fetch). `runSpec` calls it; a notebook awaits it once.
 */
export async function prepareData(context: RunContext): Promise<void> {
  await prepareSources([context.plan.source, ...context.plan.side], dataOptions(context));
}

function dataOptions(context: RunContext): PlannedCandlesOptions {
  return {
    dataDir: context.workspace.dataDir,
    baseDir: context.baseDir,
    symbol: context.plan.symbol,
    timeframe: context.plan.timeframe,
    ...(context.plan.missing ? { missing: context.plan.missing } : {}),
    repairHint: 'data.repair: "drop" in the spec',
    log: context.log,
  };
}

/** A fingerprint of the candles (time and OHLCV bytes): recorded with every run and model version. */
export function dataFingerprint(candles: Candles): string {
  const hash = new Sha256().update(candles.time);
  for (const column of ['open', 'high', 'low', 'close', 'volume'] as const) hash.update(candles.column(column));
  return hash.hex();
}

/** Stage 2 — quality: errors (NaN, broken OHLC, negative volume) stop the run; gaps are reported. */
export function checkCandles(candles: Candles): QualityReport {
  return assertQuality(candles);
}

/**
 * Stage 3 — features, from the plan's feature list. Fitted features (GARCH) fit their parameters on
 * `fitRows`; by default the training rows of the spec's chronological split (walk-forward gives each
 * window's own).
 */
export function buildFeatures(context: RunContext, candles: Candles, options: { fitRows?: readonly RowRange[] } = {}): FeatureSet {
  const fitted = context.plan.features.some((f) => f.definition.fittedOnLeadingRows);
  const fitRows = options.fitRows ?? (fitted ? [chronologicalTrainRows(context.plan, candles.length)] : undefined);
  return computePlannedFeatures(candles, context.plan.features, fitRows ? { ...context.plan.featureContext, fitRows } : context.plan.featureContext);
}

/** The rows before the validation segment of the spec's chronological split (after the warm-up): what fitted parts may see. */
export function chronologicalTrainRows(plan: RunPlan, rows: number): RowRange {
  const lookback = Math.max(plan.lookback, plan.label.lookback);
  const usable = rows - lookback - plan.label.horizon;
  return { start: lookback, end: Math.max(lookback, lookback + Math.floor(usable * plan.spec.split.train)) };
}

export type LabelSet = {
  target: Float64Array;
  classes?: string[];
  /** When each label was decided (triple barrier), if the labeler says. */
  eventEnd?: Float64Array;
  horizon: number;
  /** Rows at the start without a label (the labeler's own trailing window). */
  lookback: number;
  task: LabelerDefinition['task'];
  resolved: { id: string; version: string; params: unknown };
  /** Class counts and flags (one-class, dominant, rare), for classification labels. */
  balance?: ClassBalance;
};

/** Stage 4 — labels (the only look-ahead; never joined to the features). */
export function buildLabels(context: RunContext, candles: Candles): LabelSet {
  const { definition, params, horizon, lookback } = context.plan.label;
  const output = definition.label(candles, params);
  if (output.target.length !== candles.length) {
    throw new DataError(`labeler ${definition.id} returned ${output.target.length} labels for ${candles.length} candles`);
  }
  const balance = output.classes ? classBalance(output.target, output.classes) : undefined;
  if (balance?.flags.length) context.log(`label balance: ${balance.flags.join(', ')} (${balance.classes.map((c) => `${c.name} ${(100 * c.fraction).toFixed(1)}%`).join(', ')})`);
  return {
    target: output.target,
    classes: output.classes,
    eventEnd: output.eventEnd,
    horizon,
    lookback,
    task: definition.task,
    resolved: { id: definition.id, version: definition.version, params },
    balance,
  };
}

/**
 * Stage 5 — chronological train/validation/test split after the warm-up, purged by each label's event
 * end when the labeler gives them, else by the label horizon.
 */
export function splitData(context: RunContext, candles: Candles, features: FeatureSet, labels: LabelSet): ChronologicalSplit {
  return splitChronological(candles.length, Math.max(features.lookback, labels.lookback), labels.horizon, context.spec.split, candles.time, labels.eventEnd);
}

export type TrainedModel = {
  model: FittedModel;
  definition: ModelDefinition;
  params: unknown;
  /** Wall time of `fit`, for the record (not part of the fingerprint). */
  trainingMs: number;
};

/** Stage 6 — train the spec's model on the train segment, early-stopping on the validation segment. */
export async function trainModel(context: RunContext, features: FeatureSet, labels: LabelSet, split: ChronologicalSplit): Promise<TrainedModel> {
  const { definition, params } = context.plan.model;
  const data = {
    featureNames: features.names,
    classes: labels.classes,
    train: trainingSegment(features.frame, labels.target, split.train, labels.eventEnd),
    valid: trainingSegment(features.frame, labels.target, split.valid),
    horizon: labels.horizon,
  };
  const started = performance.now();
  const model = await definition.fit(data, params, {
    seed: context.spec.seed,
    progress: (label, total) => stageProgress(context, label, total),
    resolveModel: (ref) => context.registry.resolveWithParams('model', ref),
    reportValidation: context.reportValidation,
    backtest: context.plan.backtest,
  });
  return { model, definition, params, trainingMs: performance.now() - started };
}

export type Predictions = {
  /** First candle row predicted (the end of the warm-up); rows run from here to the last candle. */
  start: number;
  rows: number;
  /** Output columns: class names (classification) or ['value']. */
  columns: string[];
  /** rows × columns, row-major, float32 as the model returns them. */
  values: Float32Array;
  /** Wall time per row, for the record. */
  microsecondsPerRow: number;
  /** Batched rows/s and single-row p50/p99 latency, for the record (never part of the fingerprint). */
  inference?: InferenceTimings;
};

/**
 * Stage 7 — predict every row after the warm-up (train, valid and test), in one batch. The model's
 * feature names must match the frame's columns (a model loaded from the registry against another
 * feature set fails here, naming the missing and extra columns). Then single-row latency is timed over
 * the last `latencySamples` rows (default 256; 0 skips it).
 */
export async function predictRows(model: FittedModel, features: FeatureSet, split: ChronologicalSplit, options: { latencySamples?: number } = {}): Promise<Predictions> {
  const start = split.firstRow;
  const names = assertFeatureNames(model, features.frame.names);
  const frame = names.every((name, i) => features.frame.names[i] === name) ? features.frame : features.frame.select(names);
  const X = featureMatrix(frame, start, frame.length);
  const started = performance.now();
  const values = await model.predict(X);
  const elapsed = performance.now() - started;
  const inference = await measureInference(model, X, { samples: options.latencySamples ?? 256, batch: { ms: elapsed } });
  const columns = outputColumns(model);
  return { start, rows: X.rows, columns, values, microsecondsPerRow: (elapsed * 1000) / Math.max(1, X.rows), inference };
}

/** The predictions of candle rows [from, to). */
export function predictionsOf(predictions: Predictions, from: number, to: number): Float32Array {
  const k = predictions.columns.length;
  return predictions.values.subarray((from - predictions.start) * k, (to - predictions.start) * k);
}

export type Evaluation = { task: 'classification'; valid: ClassificationMetrics; test: ClassificationMetrics };
export type RegressionEvaluation = { task: 'regression'; valid: RegressionMetrics; test: RegressionMetrics };
/** What stage 8 gives a run: classification or regression metrics, by the labeler's task. */
export type RunEvaluation = Evaluation | RegressionEvaluation;

/** Stage 8 — classification metrics on the validation and test segments. */
export function evaluatePredictions(predictions: Predictions, labels: LabelSet, split: ChronologicalSplit): Evaluation {
  if (!labels.classes) throw new ConfigError('evaluatePredictions needs a classification labeler; use evaluateRegression (or evaluateRun) for regression targets');
  const of = (range: ChronologicalSplit['valid']) =>
    classificationMetrics(predictionsOf(predictions, range.start, range.end), labels.target.subarray(range.start, range.end), labels.classes!);
  return { task: 'classification', valid: of(split.valid), test: of(split.test) };
}

/** Stage 8 for regression targets — MAE, RMSE, R² and direction accuracy on the validation and test segments. */
export function evaluateRegression(predictions: Predictions, labels: LabelSet, split: ChronologicalSplit): RegressionEvaluation {
  if (labels.classes) throw new ConfigError('evaluateRegression needs a regression labeler; use evaluatePredictions for classes');
  const of = (range: ChronologicalSplit['valid']) => regressionMetrics(predictionsOf(predictions, range.start, range.end), labels.target.subarray(range.start, range.end));
  return { task: 'regression', valid: of(split.valid), test: of(split.test) };
}

/** Stage 8 for either task: the labeler decides. */
export function evaluateRun(predictions: Predictions, labels: LabelSet, split: ChronologicalSplit): RunEvaluation {
  return labels.task === 'regression' ? evaluateRegression(predictions, labels, split) : evaluatePredictions(predictions, labels, split);
}

export type StrategyRun = {
  targets: Float64Array;
  /** The strategy's full answer: targets plus confidence and reasoning where it gives them. */
  output: StrategyOutput;
  definition: StrategyDefinition;
  params: unknown;
  /** Candle rows [start, end) the strategy traded: the test segment. */
  start: number;
  end: number;
};

/**
 * Stage 9 — the strategy turns the test segment's predictions into target exposures (a validated run
 * passes the stitched out-of-sample rows as the range).
 */
export function runStrategy(
  context: RunContext,
  candles: Candles,
  features: FeatureSet,
  predictions: Predictions | undefined,
  split: Pick<ChronologicalSplit, 'test'> | RowRange,
): StrategyRun {
  const { definition, params } = context.plan.strategy;
  const { start, end } = 'test' in split ? split.test : split;
  if (definition.needs.predictions && !predictions) throw new ConfigError(`strategy ${definition.id} needs model predictions`);
  const output = strategyOutput(
    definition.targets(
      {
        candles: candles.slice(start, end),
        features: features.frame.slice(start, end),
        predictions: predictions ? predictionsOf(predictions, start, end) : undefined,
        classes: predictions?.columns,
      },
      params,
    ),
  );
  return { targets: output.targets, output, definition, params, start, end };
}

/**
 * Stage 10 — backtest the strategy on the test segment with the plan's backtest settings (event-driven
 * engine). The bars before the segment give each traded bar its market regime, causally.
 */
export function backtestStrategy(context: RunContext, candles: Candles, strategy: StrategyRun): StrategyBacktest {
  return backtestStrategyOutput(candles.slice(strategy.start, strategy.end), strategy.definition.id, strategy.output, context.plan.backtest, undefined, candles.slice(0, strategy.start));
}

export { createRegistry };
