import { Frame, type Candles } from '../frame/frame';
import { PluginError } from '../errors';
import type { DefinitionRef, PluginRegistry } from '../plugins/registry';
import type { FeatureContext } from '../plugins/define';

/** The feature stage's result: the feature columns over the candles' rows, and their warm-up. */
export type FeatureSet = {
  /** Only the feature columns (no OHLCV), over every candle row. */
  frame: Frame;
  names: string[];
  /** Rows at the start that are warm-up for at least one feature (the largest declared lookback). */
  lookback: number;
  /** The resolved definitions and validated params, as recorded in the run. */
  resolved: Array<{ id: string; version: string; params: unknown; outputs: string[] }>;
};

/**
 * Compute the features a spec lists. Each definition is resolved from the registry, its params
 * validated, and its output checked against what it declares (names and length).
 */
/** The context features receive: the base timeframe and access to other registered features. */
export function featureContext(registry: PluginRegistry, timeframe: string): FeatureContext {
  const context: FeatureContext = {
    timeframe,
    computeFeature(ref, candles) {
      const { definition, params } = registry.resolveWithParams('feature', ref);
      const inner = { ...context, timeframe: candles.meta.timeframe };
      return { columns: definition.compute(candles, params, inner), lookback: definition.lookback(params, inner) };
    },
    lookbackOf(ref) {
      const { definition, params } = registry.resolveWithParams('feature', ref);
      return definition.lookback(params, context);
    },
    outputsOf(ref) {
      const { definition, params } = registry.resolveWithParams('feature', ref);
      return definition.outputs(params, context);
    },
  };
  return context;
}

export function computeFeatures(candles: Candles, refs: readonly DefinitionRef[], registry: PluginRegistry): FeatureSet {
  const context = featureContext(registry, candles.meta.timeframe);
  const columns: Record<string, Float64Array> = {};
  const columnLookback: Record<string, number> = {};
  const resolved: FeatureSet['resolved'] = [];
  let lookback = 0;
  for (const ref of refs) {
    const { definition, params } = registry.resolveWithParams('feature', ref);
    const declared = definition.outputs(params, context);
    const inputs = definition.inputs?.(params) ?? [];
    for (const input of inputs) {
      if (!(input in columns) && !candles.has(input)) {
        throw new PluginError(`feature ${definition.id} needs column '${input}', which neither the data nor an earlier feature provides; list the feature that makes it first, or load data with that column (available: ${[...candles.names, ...Object.keys(columns)].join(', ')})`);
      }
    }
    // features with inputs see the candles plus the columns made before them
    const computed = definition.compute(inputs.length ? (candles.withColumns(columns) as Candles) : candles, params, context);
    const ownLookback = Math.max(definition.lookback(params, context), ...inputs.map((input) => columnLookback[input] ?? 0));
    for (const name of declared) {
      const values = computed[name];
      if (!(values instanceof Float64Array) || values.length !== candles.length) {
        throw new PluginError(`feature ${definition.id} declared output '${name}' but did not return a Float64Array of ${candles.length} rows`);
      }
      if (name in columns) throw new PluginError(`feature column '${name}' is produced twice (by ${definition.id} and an earlier feature); change a param`);
      columns[name] = values;
      columnLookback[name] = ownLookback;
    }
    lookback = Math.max(lookback, ownLookback);
    resolved.push({ id: definition.id, version: definition.version, params, outputs: declared });
  }
  const names = Object.keys(columns);
  return { frame: Frame.fromColumns(candles.time, columns, candles.meta), names, lookback, resolved };
}
