import * as path from 'node:path';
import { ConfigError } from '../errors';
import type { PluginRegistry } from '../plugins/registry';
import type { CandleSourceDefinition, ColumnSourceDefinition, FeatureContext, LabelerDefinition, ModelDefinition, SplitterDefinition, StrategyDefinition } from '../plugins/define';
import { featureContext, planFeatures, type PlannedFeature } from '../features/compute-features';
import { parseBacktestSettings, type BacktestSettings } from '../backtest/settings';
import { resolveSources, type PlannedSource } from '../data/sources';
import type { MissingDataPolicy } from '../quality/missing-data';
import { dataSources, type DataSpec, type Spec } from '../spec/spec';
import type { MultiCoinMode } from './multi-coin';

/** One coin's data in a multi-coin plan: its source resolved like a single spec's. */
export type PlannedCoin = {
  readonly symbol: string;
  readonly data: Readonly<Record<string, unknown>>;
  readonly source: PlannedSource<CandleSourceDefinition>;
  readonly side: readonly PlannedSource<ColumnSourceDefinition>[];
  readonly missing?: MissingDataPolicy;
};

/**
 * A spec resolved once: every plugin reference looked up in the registry and its params validated,
 * each feature's outputs and warm-up and the labeler's horizon derived, the backtest settings parsed,
 * the data source made absolute. The stages take what they need from the plan and never resolve or
 * parse again; walk-forward, tuning and sweeps vary the plan.
 */
export type RunPlan = {
  readonly spec: Spec;
  /** The spec's data section (a file path made absolute): what identifies the candles in caches. */
  readonly data: Readonly<Record<string, unknown>>;
  /** The candle source (data.source) and the column sources joined to it (data.side), params validated. */
  readonly source: PlannedSource<CandleSourceDefinition>;
  readonly side: readonly PlannedSource<ColumnSourceDefinition>[];
  readonly missing?: MissingDataPolicy;
  /** The candles' symbol and timeframe (a multi-coin spec: the first coin's symbol; every coin shares the timeframe). */
  readonly symbol: string;
  readonly timeframe: string;
  /**
   * A spec whose data lists several coins: each coin's data, the training mode and the fine-tuning
   * params (`data`, `source`, `side` above are then the first coin's).
   */
  readonly coins?: { readonly list: readonly PlannedCoin[]; readonly mode: MultiCoinMode; readonly fineTuneParams: Readonly<Record<string, unknown>> };
  readonly features: readonly PlannedFeature[];
  /** Rows of warm-up before every feature has a value (the largest feature lookback). */
  readonly lookback: number;
  readonly label: { readonly definition: LabelerDefinition; readonly params: unknown; readonly horizon: number; readonly lookback: number };
  readonly model: { readonly definition: ModelDefinition; readonly params: unknown };
  readonly strategy: { readonly definition: StrategyDefinition; readonly params: unknown };
  readonly backtest: BacktestSettings;
  /** The spec's validation splitter and its validated params (absent: one chronological split). */
  readonly validation?: { readonly definition: SplitterDefinition; readonly params: unknown };
  /** What features see: the timeframe, the run's store and the spec's folder. */
  readonly featureContext: FeatureContext;
};

/** Resolve and check a validated spec against a registry (see RunPlan); a mismatch fails here, in milliseconds. */
export function resolveRunPlan(spec: Spec, registry: PluginRegistry, where: { baseDir: string; dataDir: string }): RunPlan {
  const coins = dataSources(spec).map((entry) => planCoin(entry, registry, where.baseDir));
  const { data, source, side } = coins[0];
  const timeframe = dataSources(spec)[0].timeframe;
  const context = featureContext(registry, timeframe, where);
  const features = planFeatures(spec.features, registry, context);
  const labeler = registry.resolveWithParams('labeler', spec.label);
  const model = registry.resolveWithParams('model', spec.model);
  model.definition.checkReferences?.(model.params, (ref) => registry.resolveWithParams('model', ref));
  const strategy = registry.resolveWithParams('strategy', spec.strategy);
  const multiCoin = checkCoins(spec, model.definition, model.params);
  if (model.definition.task !== labeler.definition.task) {
    throw new ConfigError(`model ${model.definition.id} does ${model.definition.task} but labeler ${labeler.definition.id} makes ${labeler.definition.task} targets; pick a matching pair`);
  }
  const needs = strategy.definition.needs;
  if (needs.predictions && needs.task !== model.definition.task) {
    throw new ConfigError(`strategy ${strategy.definition.id} needs ${needs.task} predictions but model ${model.definition.id} does ${model.definition.task}`);
  }
  return {
    spec,
    data,
    source,
    side,
    missing: coins[0].missing,
    symbol: coins[0].symbol,
    timeframe,
    ...(multiCoin ? { coins: { list: coins, ...multiCoin } } : {}),
    features,
    lookback: Math.max(0, ...features.map((f) => f.lookback)),
    label: {
      definition: labeler.definition,
      params: labeler.params,
      horizon: labeler.definition.horizon(labeler.params),
      lookback: labeler.definition.lookback?.(labeler.params) ?? 0,
    },
    model,
    strategy,
    backtest: parseBacktestSettings(spec.backtest, 'spec: backtest'),
    validation: spec.validation && resolveSplitter(spec.validation, registry),
    featureContext: context,
  };
}

/** `validation: {method, ...params}` → the splitter and its params; built-in methods need no `core/` prefix. */
function resolveSplitter(validation: NonNullable<Spec['validation']>, registry: PluginRegistry): NonNullable<RunPlan['validation']> {
  const { method, ...params } = validation;
  const id = method.includes('/') ? method : `core/${method}`;
  try {
    return registry.resolveWithParams('splitter', { id, params });
  } catch (error) {
    if (error instanceof ConfigError || !(error instanceof Error)) throw error;
    throw new ConfigError(`validation.method '${method}': ${error.message}`);
  }
}

/** One data source resolved; a relative file path starts at the spec's folder. */
function planCoin(entry: DataSpec, registry: PluginRegistry, baseDir: string): PlannedCoin {
  const { missing, ...rest } = entry;
  const data = rest.source === 'file' ? { ...rest, path: path.resolve(baseDir, rest.path) } : rest;
  const sources = resolveSources(data, registry);
  return { symbol: entry.symbol, data, source: sources.candles, side: sources.side, ...(missing ? { missing } : {}) };
}

/**
 * The checks of a multi-coin spec, made once here: distinct symbols, one timeframe, a `models` section
 * only with several coins, no validation splitter (yet), and a fine-tuned model that can warm start.
 */
function checkCoins(spec: Spec, model: ModelDefinition, params: unknown): { mode: MultiCoinMode; fineTuneParams: Record<string, unknown> } | undefined {
  const list = dataSources(spec);
  if (!Array.isArray(spec.data)) {
    if (spec.models) throw new ConfigError(`models.mode '${spec.models.mode}' trains several coins, but data is one source; list the coins' sources in data, or remove models`);
    return undefined;
  }
  const seen = new Set<string>();
  for (const [i, entry] of list.entries()) {
    if (seen.has(entry.symbol)) throw new ConfigError(`data.${i}: symbol ${entry.symbol} is listed twice; give each coin once (a different symbol per source)`);
    seen.add(entry.symbol);
    if (entry.timeframe !== list[0].timeframe) throw new ConfigError(`data.${i}: timeframe ${entry.timeframe} differs from data.0's ${list[0].timeframe}; every coin needs the same timeframe`);
  }
  if (spec.validation) throw new ConfigError(`validation '${spec.validation.method}' is not supported for several coins yet; remove validation (the coins use the chronological split) or run one spec per coin`);
  const mode = spec.models?.mode ?? 'per-coin';
  const fineTuneParams = spec.models?.fineTune?.params ?? {};
  if (spec.models?.fineTune && mode !== 'fine-tune') throw new ConfigError(`models.fineTune is set but models.mode is '${mode}'; set models.mode to 'fine-tune' or remove models.fineTune`);
  if (mode === 'fine-tune') {
    // the warm start: the model must take an `initModel` param (the universal model's folder)
    const probe = model.params.safeParse({ ...(params as Record<string, unknown>), ...fineTuneParams, initModel: '(universal model)' });
    const noWarmStart = probe.success ? !(probe.data as { initModel?: unknown }).initModel : probe.error.issues.some((i) => i.code === 'unrecognized_keys' && i.keys.includes('initModel'));
    if (noWarmStart) {
      throw new ConfigError(`models.mode 'fine-tune': model ${model.id} has no warm start (an initModel param); use core/xgboost, core/xgboost-regressor, core/lstm or core/tcn (and their regressors), or mode 'universal'`);
    }
    if (!probe.success) {
      const issue = probe.error.issues[0];
      throw new ConfigError(`models.fineTune.params.${issue.path.join('.')}: ${issue.message}; fix it (these params override the model's for the fine-tuning)`);
    }
  }
  return { mode, fineTuneParams };
}
