import { Frame, type Candles } from '../frame/frame';
import { PluginError } from '../errors';
import type { DefinitionRef, PluginRegistry } from '../plugins/registry';

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
export function computeFeatures(candles: Candles, refs: readonly DefinitionRef[], registry: PluginRegistry): FeatureSet {
  const columns: Record<string, Float64Array> = {};
  const resolved: FeatureSet['resolved'] = [];
  let lookback = 0;
  for (const ref of refs) {
    const { definition, params } = registry.resolveWithParams('feature', ref);
    const declared = definition.outputs(params);
    const computed = definition.compute(candles, params);
    for (const name of declared) {
      const values = computed[name];
      if (!(values instanceof Float64Array) || values.length !== candles.length) {
        throw new PluginError(`feature ${definition.id} declared output '${name}' but did not return a Float64Array of ${candles.length} rows`);
      }
      if (name in columns) throw new PluginError(`feature column '${name}' is produced twice (by ${definition.id} and an earlier feature); change a param`);
      columns[name] = values;
    }
    lookback = Math.max(lookback, definition.lookback(params));
    resolved.push({ id: definition.id, version: definition.version, params, outputs: declared });
  }
  const names = Object.keys(columns);
  return { frame: Frame.fromColumns(candles.time, columns, candles.meta), names, lookback, resolved };
}
