import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Candles } from '../frame/frame';
import { ConfigError } from '../errors';
import { computePlannedFeatures, featureContext, planFeatures, type FeatureDataOptions, type FeatureSet, type PlannedFeature } from '../features/compute-features';
import { createRegistry } from '../plugins/core-plugin';
import type { DefinitionRef, PluginRegistry } from '../plugins/registry';
import type { FeatureContext, LabelerDefinition, ModelDefinition } from '../plugins/define';
import type { FittedModel, Matrix, Segment, TrainingData } from '../models/model';
import { classificationMetrics, type ClassificationMetrics } from '../models/classification-metrics';
import { regressionMetrics, type RegressionMetrics } from '../models/regression-metrics';
import { featureMatrix, splitChronological, trainingSegment, type ChronologicalSplit, type SplitFractions } from '../validation/split';
import { createProgress, type ProgressMode } from '../util/progress';

/**
 * Several coins in one training stage (the seeds' per-coin and universal models):
 * - 'per-coin': one model per coin, trained on that coin's rows only;
 * - 'universal': one model trained on every coin's training rows together (add `core/coin-identity` to
 *   the features so it can tell the coins apart), evaluated on each coin's own test rows;
 * - 'fine-tune': the universal model, then, per coin, training continued from it on that coin's rows
 *   (transfer learning; needs a model with warm start, i.e. an `initModel` param, like core/xgboost).
 * Every coin gets the same features, labeler and chronological split; segments never mix times of one
 * coin across train/valid/test.
 */

export type CoinInput = { candles: Candles; /** Defaults to the candles' symbol. */ name?: string };
export type MultiCoinMode = 'per-coin' | 'universal' | 'fine-tune';

export type MultiCoinOptions = {
  coins: readonly CoinInput[];
  features: readonly DefinitionRef[];
  label: DefinitionRef;
  model: DefinitionRef;
  mode: MultiCoinMode;
  split?: SplitFractions;
  /** fine-tune: the params that override the model's for the fine-tuning rounds (e.g. fewer rounds, a lower learning rate). */
  fineTuneParams?: Record<string, unknown>;
  seed?: number;
  registry?: PluginRegistry;
  /** Where the universal model is saved for fine-tuning (default: a temp folder, removed afterwards). */
  workDir?: string;
  progress?: ProgressMode;
  log?: (line: string) => void;
  /** Where features that read other data find it (a spec run passes its data store and folder). */
  featureData?: FeatureDataOptions;
  /**
   * The references above already resolved (a spec run passes its run plan's): then nothing is looked
   * up or parsed again here. Without it, each reference is resolved once, for every coin.
   */
  resolved?: ResolvedCoinParts;
};

/** Features, labeler and model of a multi-coin training, resolved and their params parsed once. */
export type ResolvedCoinParts = {
  readonly features: readonly PlannedFeature[];
  readonly featureContext: FeatureContext;
  readonly label: { readonly definition: LabelerDefinition; readonly params: unknown };
  readonly model: { readonly definition: ModelDefinition; readonly params: unknown };
};

export type CoinResult = {
  coin: string;
  features: FeatureSet;
  target: Float64Array;
  classes?: string[];
  split: ChronologicalSplit;
  /** The model that predicts this coin: its own, the universal one, or the fine-tuned one. */
  model: FittedModel;
  /** Test-segment predictions (rows × outputs) and, for classification, metrics. */
  testPredictions: Float32Array;
  testMetrics?: ClassificationMetrics;
  /** Regression targets: MAE, RMSE, R², direction accuracy on the test rows. */
  testRegression?: RegressionMetrics;
  trainingRows: number;
  /** The label horizon (bars) and the labeler's own warm-up, for purging and the record. */
  horizon: number;
  /** Wall time of this coin's fit (0 for the shared universal model, which `universalMs` times). */
  trainingMs: number;
};

export type MultiCoinResult = { mode: MultiCoinMode; coins: CoinResult[]; universal?: FittedModel; /** Wall time of the universal fit. */ universalMs?: number };

type Prepared = Omit<CoinResult, 'model' | 'testPredictions' | 'testMetrics' | 'trainingRows' | 'trainingMs'> & { train: Segment; valid: Segment; testX: Matrix };

/** The options' references resolved once (every coin shares the timeframe of the first). */
function resolveCoinParts(options: MultiCoinOptions, registry: PluginRegistry): ResolvedCoinParts {
  const timeframes = new Set(options.coins.map((c) => c.candles.meta.timeframe));
  if (timeframes.size > 1) throw new ConfigError(`coins must share one timeframe, got ${[...timeframes].join(', ')}`);
  const context = featureContext(registry, options.coins[0].candles.meta.timeframe, options.featureData);
  return {
    features: planFeatures(options.features, registry, context),
    featureContext: context,
    label: registry.resolveWithParams('labeler', options.label),
    model: registry.resolveWithParams('model', options.model),
  };
}

/** Rows of several segments stacked in order (same columns). */
function stackSegments(segments: readonly Segment[]): Segment {
  const cols = segments[0].X.cols;
  const rows = segments.reduce((sum, s) => sum + s.X.rows, 0);
  const values = new Float32Array(rows * cols);
  const y = new Float64Array(rows);
  let at = 0;
  for (const s of segments) {
    values.set(s.X.values, at * cols);
    y.set(s.y, at);
    at += s.X.rows;
  }
  return { X: { values, rows, cols }, y };
}

/** Train and evaluate models over several coins: per coin, one universal model, or universal then fine-tuned. */
export async function trainCoins(options: MultiCoinOptions): Promise<MultiCoinResult> {
  if (options.coins.length < 2 && options.mode !== 'per-coin') throw new ConfigError(`mode '${options.mode}' needs at least two coins; use 'per-coin' for one`);
  const registry = options.registry ?? createRegistry();
  const log = options.log ?? (() => {});
  const seed = options.seed ?? 42;
  const fractions = options.split ?? { train: 0.7, valid: 0.15, test: 0.15 };
  const parts = options.resolved ?? resolveCoinParts(options, registry);
  const { definition: model, params } = parts.model;
  const { definition: labeler, params: labelParams } = parts.label;
  const horizon = labeler.horizon(labelParams);
  const labelLookback = labeler.lookback?.(labelParams) ?? 0;
  if (model.task !== labeler.task) throw new ConfigError(`model ${model.id} does ${model.task} but labeler ${labeler.id} makes ${labeler.task} targets; pick a matching pair`);
  const names = options.coins.map((c) => c.name ?? c.candles.meta.symbol);
  if (new Set(names).size !== names.length) throw new ConfigError(`coins must be distinct, got ${names.join(', ')}`);

  const prepared: Prepared[] = options.coins.map((coin, k) => {
    const features = computePlannedFeatures(coin.candles, parts.features, parts.featureContext);
    const output = labeler.label(coin.candles, labelParams);
    const split = splitChronological(coin.candles.length, Math.max(features.lookback, labelLookback), horizon, fractions, coin.candles.time, output.eventEnd);
    return {
      coin: names[k],
      features,
      target: output.target,
      classes: output.classes,
      split,
      horizon,
      train: trainingSegment(features.frame, output.target, split.train, output.eventEnd),
      valid: trainingSegment(features.frame, output.target, split.valid),
      testX: featureMatrix(features.frame, split.test.start, split.test.end),
    };
  });
  const featureNames = prepared[0].features.names;
  for (const p of prepared) {
    if (p.features.names.join() !== featureNames.join()) throw new ConfigError(`coin ${p.coin} has features ${p.features.names.join(', ')}, ${prepared[0].coin} has ${featureNames.join(', ')}; coins need the same feature columns`);
  }
  if (options.mode !== 'per-coin' && !options.features.some((f) => f.id === 'core/coin-identity')) {
    log(`note: a ${options.mode} model without core/coin-identity features cannot tell the coins apart`);
  }
  const context = (label: string) => ({
    seed,
    progress: (name: string, total: number) => createProgress(`${label} ${name}`, total, options.progress ?? 'quiet'),
    resolveModel: (ref: DefinitionRef) => registry.resolveWithParams('model', ref),
  });
  let fitMs = 0;
  const fit = async (def: ModelDefinition, fitParams: unknown, data: TrainingData, label: string) => {
    const started = performance.now();
    const fitted = await def.fit(data, fitParams, context(label));
    fitMs = performance.now() - started;
    return fitted;
  };
  const dataOf = (train: Segment, valid: Segment): TrainingData => ({ featureNames, classes: prepared[0].classes, train, valid, horizon: prepared[0].horizon });

  const results: CoinResult[] = [];
  const finish = async (p: Prepared, fitted: FittedModel, trainingRows: number, trainingMs = fitMs) => {
    const testPredictions = await fitted.predict(p.testX);
    const actual = p.target.subarray(p.split.test.start, p.split.test.end);
    const testMetrics = p.classes ? classificationMetrics(testPredictions, actual, p.classes) : undefined;
    const testRegression = p.classes ? undefined : regressionMetrics(testPredictions, actual);
    const { train, valid, testX, ...rest } = p;
    results.push({ ...rest, model: fitted, testPredictions, testMetrics, testRegression, trainingRows, trainingMs });
  };

  if (options.mode === 'per-coin') {
    for (const p of prepared) {
      log(`training ${model.id} on ${p.coin} (${p.train.X.rows} rows)`);
      await finish(p, await fit(model, params, dataOf(p.train, p.valid), p.coin), p.train.X.rows);
    }
    return { mode: options.mode, coins: results };
  }

  const train = stackSegments(prepared.map((p) => p.train));
  const valid = stackSegments(prepared.map((p) => p.valid));
  log(`training a universal ${model.id} on ${prepared.length} coins (${train.X.rows} rows)`);
  const universal = await fit(model, params, dataOf(train, valid), 'universal');
  const universalMs = fitMs;
  if (options.mode === 'universal') {
    for (const p of prepared) await finish(p, universal, train.X.rows, 0);
    return { mode: options.mode, coins: results, universal, universalMs };
  }

  // fine-tune: continue from the universal model's saved files on each coin's own rows
  const workDir = options.workDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'candlelab-universal-'));
  try {
    const folder = path.join(workDir, 'universal');
    fs.mkdirSync(folder, { recursive: true });
    await universal.save(folder);
    const tuneParams = model.params.safeParse({ ...(options.model.params ?? {}), ...(options.fineTuneParams ?? {}), initModel: folder });
    if (!tuneParams.success || !(tuneParams.data as { initModel?: string }).initModel) {
      throw new ConfigError(`model ${model.id} has no warm start (an initModel param), so it cannot be fine-tuned; use core/xgboost or core/xgboost-regressor, or mode 'universal'`);
    }
    for (const p of prepared) {
      log(`fine-tuning the universal model on ${p.coin} (${p.train.X.rows} rows)`);
      await finish(p, await fit(model, tuneParams.data, dataOf(p.train, p.valid), `${p.coin} fine-tune`), p.train.X.rows);
    }
  } finally {
    if (!options.workDir) fs.rmSync(workDir, { recursive: true, force: true });
  }
  return { mode: options.mode, coins: results, universal, universalMs };
}
