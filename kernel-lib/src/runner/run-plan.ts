import * as path from 'node:path';
import { ConfigError } from '../errors';
import type { PluginRegistry } from '../plugins/registry';
import type { CandleSourceDefinition, ColumnSourceDefinition, FeatureContext, LabelerDefinition, ModelDefinition, SplitterDefinition, StrategyDefinition } from '../plugins/define';
import { featureContext, planFeatures, type PlannedFeature } from '../features/compute-features';
import { parseBacktestSettings, type BacktestSettings } from '../backtest/settings';
import { resolveSources, type PlannedSource } from '../data/sources';
import type { MissingDataPolicy } from '../quality/missing-data';
import type { Spec } from '../spec/spec';

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
  const data = dataSource(spec, where.baseDir);
  const sources = resolveSources(data, registry);
  const context = featureContext(registry, spec.data.timeframe, where);
  const features = planFeatures(spec.features, registry, context);
  const labeler = registry.resolveWithParams('labeler', spec.label);
  const model = registry.resolveWithParams('model', spec.model);
  model.definition.checkReferences?.(model.params, (ref) => registry.resolveWithParams('model', ref));
  const strategy = registry.resolveWithParams('strategy', spec.strategy);
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
    source: sources.candles,
    side: sources.side,
    missing: spec.data.missing,
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

/** The spec's data section; a relative file path starts at the spec's folder. */
function dataSource(spec: Spec, baseDir: string): Record<string, unknown> {
  const { missing: _missing, ...data } = spec.data;
  return data.source === 'file' ? { ...data, path: path.resolve(baseDir, data.path) } : data;
}
