import * as path from 'node:path';
import { Frame, type Candles } from '../frame/frame';
import { PluginError } from '../errors';
import type { DefinitionRef, PluginRegistry } from '../plugins/registry';
import type { FeatureContext, FeatureDefinition } from '../plugins/define';
import type { RowRange } from '../validation/splitter';
import { ColumnArena } from './column-arena';
import { computeFeaturesOnThreads, featureWorkerCount, STANDARD_CONTEXT, type FeatureThreadOptions } from './parallel-features';
import { trailingBufferStream } from './streaming/trailing-buffer-stream';

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

/** A feature of a run plan: resolved once, params validated once, its outputs and warm-up known. */
export type PlannedFeature = {
  definition: FeatureDefinition;
  params: unknown;
  outputs: string[];
  /** Columns beyond OHLCV it reads (made by earlier features or present in the data). */
  inputs: string[];
  /** Its declared lookback, or more when an input column has a longer warm-up. */
  lookback: number;
};

/** Where features that read other data (core/cross-asset) find it. */
export type FeatureDataOptions = {
  /** The data store (default: the workspace's). */
  dataDir?: string;
  /** Where relative file paths start: a spec's folder in a run (default: the working folder). */
  baseDir?: string;
  /** The rows fitted features (GARCH) fit on; absent: they stay causal by themselves (expanding refits). */
  fitRows?: readonly RowRange[];
};

/** The context features receive: the base timeframe, where data lives, and access to other registered features. */
export function featureContext(registry: PluginRegistry, timeframe: string, options: FeatureDataOptions = {}): FeatureContext {
  const context: FeatureContext & { [STANDARD_CONTEXT]: true } = {
    // a worker thread can rebuild this context from its plain fields (parallel-features.ts)
    [STANDARD_CONTEXT]: true,
    timeframe,
    // resolved here when given; the features that read other data default them themselves
    dataDir: options.dataDir && path.resolve(options.dataDir),
    baseDir: options.baseDir && path.resolve(options.baseDir),
    ...(options.fitRows ? { fitRows: options.fitRows } : {}),
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
    streamFeature(ref, timeframe) {
      const { definition, params } = registry.resolveWithParams('feature', ref);
      const inner = { ...context, timeframe };
      return definition.stream ? definition.stream(params, inner) : trailingBufferStream(definition, params, inner);
    },
  };
  return context;
}

/**
 * Resolve a feature list once: each definition from the registry, its params validated by its schema,
 * its outputs and warm-up (through the input columns it reads) derived. Two features making one
 * column is an error here, before anything is computed.
 */
export function planFeatures(refs: readonly DefinitionRef[], registry: PluginRegistry, context: FeatureContext): PlannedFeature[] {
  const columnLookback = new Map<string, number>();
  return refs.map((ref) => {
    const { definition, params } = registry.resolveWithParams('feature', ref);
    const outputs = definition.outputs(params, context);
    const inputs = definition.inputs?.(params) ?? [];
    const lookback = Math.max(definition.lookback(params, context), ...inputs.map((input) => columnLookback.get(input) ?? 0));
    for (const name of outputs) {
      if (columnLookback.has(name)) throw new PluginError(`feature column '${name}' is produced twice (by ${definition.id} and an earlier feature); change a param`);
      columnLookback.set(name, lookback);
    }
    return { definition, params, outputs, inputs, lookback };
  });
}

/**
 * Compute planned features over the candles, checking each output against what it declared. The
 * columns come from one arena (outputs taken once each, temporaries in scratch slots shared by the
 * features); given `arena` (of the candles' length), the run reuses its columns: the set an earlier run
 * returned from it is overwritten. Without an arena, large candle sets (200,000 rows and more) are
 * computed on several threads (`threads`; parallel-features.ts), with the same values bit for bit.
 */
export function computePlannedFeatures(candles: Candles, planned: readonly PlannedFeature[], context: FeatureContext, arena?: ColumnArena, options: FeatureThreadOptions = {}): FeatureSet {
  if (arena && arena.length !== candles.length) throw new RangeError(`the column arena holds ${arena.length} rows, the candles ${candles.length}`);
  const workers = arena ? 0 : featureWorkerCount(candles.length, options);
  const columns = computeFeaturesOnThreads(candles, planned, context, workers, checkOutputs(candles.length), options) ?? computeOnOneThread(candles, planned, context, arena);
  return {
    frame: Frame.fromColumns(candles.time, columns, candles.meta),
    names: Object.keys(columns),
    lookback: Math.max(0, ...planned.map((f) => f.lookback)),
    resolved: planned.map((f) => ({ id: f.definition.id, version: f.definition.version, params: f.params, outputs: f.outputs })),
  };
}

/** A feature's declared outputs must be Float64Arrays of the candles' length. */
function checkOutputs(length: number) {
  return ({ definition, outputs }: PlannedFeature, computed: Record<string, Float64Array>): void => {
    for (const name of outputs) {
      const values = computed[name];
      if (!(values instanceof Float64Array) || values.length !== length) {
        throw new PluginError(`feature ${definition.id} declared output '${name}' but did not return a Float64Array of ${length} rows`);
      }
    }
  };
}

function computeOnOneThread(candles: Candles, planned: readonly PlannedFeature[], context: FeatureContext, arena?: ColumnArena): Record<string, Float64Array> {
  const runArena = arena ?? new ColumnArena(candles.length);
  runArena.reset();
  const runContext: FeatureContext = { ...context, columns: runArena };
  const check = checkOutputs(candles.length);
  const columns: Record<string, Float64Array> = {};
  for (const feature of planned) {
    const { definition, params, outputs, inputs } = feature;
    for (const input of inputs) {
      if (!(input in columns) && !candles.has(input)) {
        throw new PluginError(`feature ${definition.id} needs column '${input}', which neither the data nor an earlier feature provides; list the feature that makes it first, or load data with that column (available: ${[...candles.names, ...Object.keys(columns)].join(', ')})`);
      }
    }
    // features with inputs see the candles plus the columns made before them
    const computed = definition.compute(inputs.length ? (candles.withColumns(columns) as Candles) : candles, params, runContext);
    check(feature, computed);
    for (const name of outputs) columns[name] = computed[name];
  }
  return columns;
}

/**
 * Compute the features a list names (notebooks, the CLI): resolved and validated, then computed, each
 * output checked against what its definition declares (names and length).
 */
export function computeFeatures(candles: Candles, refs: readonly DefinitionRef[], registry: PluginRegistry, options: FeatureDataOptions & FeatureThreadOptions & { arena?: ColumnArena } = {}): FeatureSet {
  const context = featureContext(registry, candles.meta.timeframe, options);
  return computePlannedFeatures(candles, planFeatures(refs, registry, context), context, options.arena, options);
}
