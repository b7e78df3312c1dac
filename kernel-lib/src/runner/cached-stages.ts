import { Frame, type Candles } from '../frame/frame';
import type { FeatureSet } from '../features/compute-features';
import type { ChronologicalSplit } from '../validation/split';
import type { StageCache, StageCodec } from '../jobs/stage-cache';
import { stageKey } from '../jobs/stage-cache';
import { DataError } from '../errors';
import {
  backtestStrategy,
  buildFeatures,
  buildLabels,
  checkCandles,
  dataFingerprint,
  evaluateRun,
  loadCandles,
  predictRows,
  runStrategy,
  splitData,
  trainModel,
  type LabelSet,
  type Predictions,
  type RunContext,
  type RunEvaluation,
} from './stages';
import { backtestPath, fitFold, splitValidation, validationRecord, type FoldResult, type ValidationSplit } from './validation-run';
import { valueAt } from './tune-space';

/**
 * The run's stages through the stage cache (jobs/stage-cache.ts): candles, features, labels and the
 * model's output are read from the cache when another job with the same data and definitions computed
 * them; only the strategy and the backtest always run. Results are the ones runStages gives.
 */

export type CachedInputs = { candles: Candles; fingerprint: string; features: FeatureSet; labels: LabelSet; keys: { features: string; labels: string } };

const frameCodec: StageCodec<FeatureSet> = {
  encode: (set) => ({ time: set.frame.time, meta: set.frame.meta, columns: Object.fromEntries(set.names.map((n) => [n, set.frame.column(n)])), names: set.names, lookback: set.lookback, resolved: set.resolved }),
  decode: (data) => {
    const d = data as { time: Float64Array; meta: Frame['meta']; columns: Record<string, Float64Array>; names: string[]; lookback: number; resolved: FeatureSet['resolved'] };
    return { frame: Frame.fromColumns(d.time, d.columns, d.meta), names: d.names, lookback: d.lookback, resolved: d.resolved };
  },
};

/** Stages 1–4 through the cache; `expectFingerprint` (a job's) makes a worker refuse other data. */
export async function cachedInputs(context: RunContext, cache: StageCache, expectFingerprint?: string): Promise<CachedInputs> {
  const { plan } = context;
  // Candles stay in this process's memory only: the store and files are their disk cache.
  const loaded = await cache.memo('candles', stageKey({ data: plan.data, missing: plan.missing ?? null, dataDir: context.workspace.dataDir, baseDir: context.baseDir }), () => {
    const candles = loadCandles(context);
    checkCandles(candles);
    return { candles, fingerprint: dataFingerprint(candles) };
  }, undefined, { memoryOnly: true });
  if (expectFingerprint && loaded.fingerprint !== expectFingerprint) {
    throw new DataError(
      `this worker's data for ${loaded.candles.meta.symbol} ${loaded.candles.meta.timeframe} has fingerprint ${loaded.fingerprint.slice(0, 12)}…, the submitter planned on ${expectFingerprint.slice(0, 12)}…: share the workspace (${context.workspace.dataDir}) with the workers at the same path, or copy the same data there`,
    );
  }
  const keys = inputKeys(context, loaded.fingerprint);
  const features = await cache.memo('features', keys.features, () => buildFeatures(context, loaded.candles), frameCodec);
  const labels = await cache.memo('labels', keys.labels, () => buildLabels(context, loaded.candles));
  return { ...loaded, features, labels, keys };
}

/** The cache keys of a run's features and labels on data with this fingerprint. */
function inputKeys(context: RunContext, fingerprint: string): CachedInputs['keys'] {
  const { plan } = context;
  const fittedOn = plan.features.some((f) => f.definition.fittedOnLeadingRows) ? plan.spec.split : null;
  return {
    features: stageKey({
      data: fingerprint,
      timeframe: plan.timeframe,
      features: plan.features.map((f) => ({ id: f.definition.id, version: f.definition.version, params: f.params, outputs: f.outputs })),
      fittedOn,
    }),
    labels: stageKey({ data: fingerprint, label: { id: plan.label.definition.id, version: plan.label.definition.version, params: plan.label.params } }),
  };
}

/**
 * Put features and labels a run computed itself (runStages) into the cache, so jobs on the same data
 * and definitions (a validated run's window jobs) read them instead of computing them again.
 */
export async function storeCachedInputs(context: RunContext, cache: StageCache, inputs: { fingerprint: string; features: FeatureSet; labels: LabelSet }): Promise<void> {
  const keys = inputKeys(context, inputs.fingerprint);
  await cache.memo('features', keys.features, () => inputs.features, frameCodec);
  await cache.memo('labels', keys.labels, () => inputs.labels);
}

/** What the model stage leaves for the strategy: the test segment's predictions, or every fold's. */
export type ModelStage =
  | { validated: false; split: ChronologicalSplit; predictions: Predictions; evaluation: RunEvaluation }
  | { validated: true; split: ValidationSplit; folds: FoldResult[] };

function modelKey(context: RunContext, inputs: CachedInputs): string {
  const { plan, spec } = context;
  return stageKey({
    features: inputs.keys.features,
    labels: inputs.keys.labels,
    model: { id: plan.model.definition.id, version: plan.model.definition.version, params: plan.model.params },
    split: spec.split,
    validation: plan.validation ? { id: plan.validation.definition.id, version: plan.validation.definition.version, params: plan.validation.params } : null,
    seed: spec.seed,
  });
}

/** Stages 5–8 through the cache: trained once per data, features, labels, model and split. */
export async function cachedModelStage(context: RunContext, cache: StageCache, inputs: CachedInputs): Promise<ModelStage> {
  const { candles, features, labels } = inputs;
  return cache.memo<ModelStage>('model', modelKey(context, inputs), async () => {
    if (context.plan.validation) {
      const split = splitValidation(context, candles, features, labels);
      const folds: FoldResult[] = [];
      for (const fold of split.folds) {
        const fitted = await fitFold(context, candles, features, labels, split, fold);
        fitted.model.dispose();
        folds.push({ ...fitted.result, trainingMs: 0 });
      }
      return { validated: true, split, folds };
    }
    const split = splitData(context, candles, features, labels);
    const trained = await trainModel(context, features, labels, split);
    try {
      const predictions = await predictRows(trained.model, features, split, { latencySamples: 0 });
      return { validated: false, split, predictions: { ...predictions, microsecondsPerRow: 0, inference: undefined }, evaluation: evaluateRun(predictions, labels, split) };
    } finally {
      trained.model.dispose();
    }
  });
}

/** The account metrics a sweep table shows, in this order. */
export const SWEEP_BACKTEST_METRICS = ['totalReturn', 'sharpe', 'sortino', 'calmar', 'cagr', 'maxDrawdown', 'annualVolatility', 'numTrades', 'winRate', 'profitFactor', 'expectancy', 'exposure', 'buyHoldReturn'] as const;
const CLASSIFICATION_METRICS = ['accuracy', 'balancedAccuracy', 'macroF1', 'rocAucMacro', 'logLoss'] as const;
const REGRESSION_METRICS = ['mae', 'rmse', 'r2', 'directionAccuracy'] as const;

/**
 * A sweep point: every stage (the expensive ones through the cache), then its metrics row — the
 * backtest account's metrics (the stitched out-of-sample account with `validation`) and the model's on
 * the test rows (the out-of-sample rows with `validation`), as `model.<name>`.
 */
export async function sweepPointMetrics(context: RunContext, cache: StageCache, expectFingerprint?: string): Promise<Record<string, number | null>> {
  const inputs = await cachedInputs(context, cache, expectFingerprint);
  const stage = await cachedModelStage(context, cache, inputs);
  const row: Record<string, number | null> = {};
  const number = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? value : null);
  let account: Record<string, unknown>;
  let model: Record<string, unknown>;
  if (stage.validated) {
    const paths = stage.split.paths.map((p) => backtestPath(context, inputs.candles, inputs.features, stage, p));
    const record = validationRecord(inputs.candles, inputs.labels, stage.split, stage, paths);
    account = record.outOfSample.backtest as unknown as Record<string, unknown>;
    model = record.outOfSample.model as unknown as Record<string, unknown>;
    row.windows = record.windows.length;
    if (record.pathSummary) row.pathSharpeMean = record.pathSummary.sharpeMean;
  } else {
    const strategy = runStrategy(context, inputs.candles, inputs.features, stage.predictions, stage.split);
    const backtest = backtestStrategy(context, inputs.candles, strategy);
    account = backtest.report.metrics as unknown as Record<string, unknown>;
    model = stage.evaluation.test as unknown as Record<string, unknown>;
  }
  for (const name of SWEEP_BACKTEST_METRICS) row[name] = number(valueAt(account, name));
  for (const name of inputs.labels.classes ? CLASSIFICATION_METRICS : REGRESSION_METRICS) row[`model.${name}`] = number(valueAt(model, name));
  return row;
}

/** A window job: one fold of a validated run, fitted here (inputs through the cache). */
export async function windowFold(context: RunContext, cache: StageCache, foldIndex: number, expectFingerprint?: string): Promise<{ result: FoldResult; model: import('../models/model').FittedModel }> {
  const inputs = await cachedInputs(context, cache, expectFingerprint);
  const split = splitValidation(context, inputs.candles, inputs.features, inputs.labels);
  const fold = split.folds.find((f) => f.index === foldIndex);
  if (!fold) throw new DataError(`window ${foldIndex} is not among the ${split.folds.length} windows of this spec`);
  const fitted = await fitFold(context, inputs.candles, inputs.features, inputs.labels, split, fold);
  return fitted;
}
