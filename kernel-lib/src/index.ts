/**
 * candlelab — every stage of the ML trading research pipeline as typed functions.
 *
 * Notebooks usually need only the flat exports below (the stages in pipeline order); each stage is
 * also available as a namespace (`data`, `features`, `backtest`, …) with everything it offers.
 */
export * as data from './data';
export * as quality from './quality';
export * as features from './features';
export * as labels from './labels';
export * as validation from './validation';
export * as preprocessing from './preprocessing';
export * as models from './models';
export * as rl from './rl';
export * as strategy from './strategy';
export * as backtest from './backtest';
export * as registry from './registry';
export * as report from './report';
export * as plugins from './plugins';
export * as runner from './runner';
export * as notebook from './notebook';
export * as tuning from './tuning';
export * as trading from './trading';
export * as serve from './services/serve';

// Flat exports: what a notebook walks through, in pipeline order.
export { Frame, type Candles, type FrameMeta, isoTime, timeframeMs, barsPerYear } from './frame/frame';
export { toDanfo, fromDanfo, showDanfo, danfo, type DanfoFrame, type DanfoSeries, type ToDanfoOptions, type FromDanfoOptions } from './frame/danfo';
export { openWorkspace, type Workspace } from './workspace';
export { readStore, mergeIntoStore, listStore, storeFile, readStoreSeries, mergeSeriesIntoStore, type StoreKey } from './data/store';
export { importCandlesFiles, exportCandles } from './data/import-export';
export { fetchCandles, streamCandles, type FetchCandlesOptions, type StreamedCandle } from './data/exchange';
export { loadCandleSource, type CandleSource } from './data/load-candles';
export { checkQuality, type QualityReport } from './quality/check-quality';
export { applyMissingDataPolicy, type MissingDataPolicy } from './quality/missing-data';
export { resampleCandles, alignFrames } from './features/resample';
export { loadSpec, parseSpec, applyOverrides, specHash, dataSources, isMultiCoinSpec, singleDataSource, type Spec, type SpecInput, type DataSpec, type ModelsSpec } from './spec/spec';
export {
  createRunContext,
  loadCandles,
  prepareData,
  checkCandles,
  buildFeatures,
  buildLabels,
  splitData,
  trainModel,
  predictRows,
  evaluatePredictions,
  runStrategy,
  backtestStrategy,
  dataFingerprint,
  type RunContext,
  type LabelSet,
  type TrainedModel,
  type Predictions,
  type Evaluation,
  type StrategyRun,
} from './runner/stages';
export { writeRun, runFingerprint, type RunRecord, type RunResults } from './runner/run-record';
export { runSpec, runStages, type SpecRun } from './runner/run-spec';
export { runCoinSpec, runCoinStages, writeCoinRun, coinModelName, disposeCoinModels, type CoinRun, type CoinRunResults, type CoinRunRecord, type CoinRecord, type CoinSpecRun } from './runner/coin-run';
export { trainCoins, type MultiCoinMode, type MultiCoinOptions, type MultiCoinResult, type CoinResult, type CoinInput } from './runner/multi-coin';
export { equalWeightPortfolio, type EqualWeightPortfolio, type PortfolioMetrics, type PortfolioSleeve } from './backtest/equal-weight-portfolio';
export {
  splitValidation,
  trainFolds,
  backtestPath,
  validationRecord,
  validationEvaluation,
  type ValidationSplit,
  type FoldTraining,
  type PathBacktest,
  type ValidationRecord,
} from './runner/validation-run';
export { tuneSpec, type TuneOptions, type TuneResult } from './runner/tune-spec';
export { resolveRunPlan, type RunPlan } from './runner/run-plan';
export { addCoins, type AddCoinsOptions, type AddedCoin } from './runner/add-coins';
export { LiveTrader, confirmLive, type LiveTraderOptions, type Decision, type DecisionRecord, type TradingRails } from './trading';
export { createPredictionServer, compareServed, type PredictionServer, type PredictionServerOptions, type PredictionAnswer, type PredictRequest } from './services/serve';
export {
  definePlugin,
  defineFeature,
  defineLabeler,
  defineModel,
  defineStrategy,
  defineSplitter,
  defineSource,
  type Plugin,
  type SourceContext,
  type SourceColumns,
  type SourceDefinition,
  type CandleSourceDefinition,
  type ColumnSourceDefinition,
} from './plugins/define';
export { coreSources, loadPlannedCandles, joinSourceColumns, type PlannedSource } from './data/sources';
export { scaffoldPlugin, loadPluginFolder, PLUGIN_KINDS, type PluginKind } from './plugins/scaffold';
export { createRegistry, corePlugin } from './plugins/core-plugin';
export { PluginRegistry } from './plugins/registry';
export { initCharts, showChart, showFrame, showRecords, showValues } from './report/show';
export * from './errors';
export * from './services/alerts';
/** zod, for plugin params schemas: use this copy so candlelab and plugins agree on types. */
export { z } from 'zod';
export { CANDLELAB_VERSION } from './version';
export * from './services/schedule';
// Scale-out: one job model (jobs/), local process pool or BullMQ, sweeps, the stage cache.
export { runSweep, sweepPoints, parseGridArg, parseRandomArg, sweepFigures, type SweepOptions, type SweepResult, type SweepRow, type SweepParam } from './runner/sweep';
export { createJobRunner, createLocalRunner, createInProcessRunner, runJobs, defaultJobs, type JobRunner, type JobRunnerOptions, type RunJobsOptions, type RunJobsResult } from './jobs/run-jobs';
export { jobHash, describeJob, encodeValue, decodeValue, type Job, type JobOutcome, type SweepPointResult } from './jobs/job';
export { openResultStore, jobResultsDir, type ResultStore } from './jobs/result-store';
export { createStageCache, stageCacheDir, stageKey, type StageCache, type StageCacheStats } from './jobs/stage-cache';
export { cachedInputs, cachedModelStage, sweepPointMetrics } from './runner/cached-stages';
export { remoteWindows } from './jobs/run-windows';
export { fitFold, type FittedFold, type RemoteFolds } from './runner/validation-run';
export type { Matrix, Segment, TrainingData, ModelContext, Artifact, FittedModel, ModelStream } from './models/model';
