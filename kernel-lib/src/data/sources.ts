import { z } from 'zod';
import { timeframeMs, type Candles } from '../frame/frame';
import { ConfigError, DataError } from '../errors';
import { alignToBase } from '../features/resample';
import { defineSource, type CandleSourceDefinition, type ColumnSourceDefinition, type SourceContext, type SourceDefinition } from '../plugins/define';
import type { PluginRegistry } from '../plugins/registry';
import type { MissingDataPolicy } from '../quality/missing-data';
import { CANDLE_REPAIRS, validateCandleRows } from './candle-validation';
import { checkTimeframe, loadCandleSource, withMissingDataPolicy, type CandleSource } from './load-candles';
import { candlesToRaw } from './raw-candles';
import { SYNTHETIC_STRUCTURES } from './synthetic';
import { fetchCandles } from './exchange/fetch-candles';

/**
 * Data sources as plugin definitions (`defineSource`). The built-ins (the seeded sample, a file, the
 * store, an exchange) register through the same API a plugin's on-chain or sentiment source uses.
 *
 * A spec's `data` names one candle source (`"source": "sample"` or a plugin's id) and, in `side`, any
 * column sources; `loadPlannedCandles` reads the candles, checks them, applies the missing-data policy,
 * then joins each column source causally: a bar sees a row only once it was known before the bar's close.
 */

// The built-ins' params: the spec's `data` fields besides source, symbol, timeframe, missing and side.
export const sampleSourceParams = z
  .object({
    /** Seed of the synthetic market generator. */
    seed: z.number().int().min(0).default(42),
    /** Bars to generate (default: three years of hourly bars). */
    bars: z.number().int().min(100).max(50_000_000).default(26_280),
    start: z.string().default('2021-01-01T00:00:00Z'),
    /** 'learnable' (default): the generator's weak documented edge; 'random-walk': nothing to learn (a null test). */
    structure: z.enum(SYNTHETIC_STRUCTURES).optional(),
  })
  .strict();
export const fileSourceParams = z
  .object({
    /** An .arrow (Arrow IPC), .parquet or .csv file; relative paths are relative to the spec file's folder. */
    path: z.string().min(1),
    exchange: z.string().optional(),
    /** Impossible candles (non-finite, price ≤ 0, volume < 0, high/low outside open/close) stop the run; 'drop' leaves them out. */
    repair: z.enum(CANDLE_REPAIRS).optional(),
  })
  .strict();
const exchangeName = z.string().regex(/^[a-z0-9][a-z0-9_.-]*$/i, 'must be a plain name like binance');
export const storeSourceParams = z
  .object({
    /** The store key: data/<exchange>/<market>/<BASE-QUOTE>/<timeframe>.arrow (see candlelab data list). */
    exchange: exchangeName,
    market: z.enum(['spot', 'futures']),
    /** Optional ISO-8601 bounds on bar open times: start inclusive, end exclusive. */
    start: z.string().optional(),
    end: z.string().optional(),
  })
  .strict();
export const exchangeSourceParams = z
  .object({
    /** ccxt exchange id. */
    exchange: exchangeName.default('binance'),
    market: z.enum(['spot', 'futures']).default('spot'),
    /** First bar (ISO-8601, inclusive): a range, so a run is repeatable. */
    start: z.string(),
    /** End (exclusive; default: the exchange's now). */
    end: z.string().optional(),
    /** Base URL replacing the exchange's (a proxy, or the fake exchange in tests). */
    apiUrl: z.string().url().optional(),
  })
  .strict();

type LoaderContext = SourceContext & { readonly missing?: MissingDataPolicy; readonly repairHint?: string };

/** Through the one candle loader (load-candles.ts); the missing-data policy is applied by loadPlannedCandles. */
function builtinLoad(source: CandleSource, context: SourceContext): Candles {
  const loader = context as LoaderContext;
  return loadCandleSource(source, { dataDir: context.dataDir, baseDir: context.baseDir, log: context.log, allowNonFinite: loader.missing !== undefined, repairHint: loader.repairHint });
}

export const sampleSource = defineSource({
  id: 'core/sample',
  version: '1.0.0',
  doc: 'The seeded synthetic market (generated into data/sample/ on first use): a weak, documented, learnable structure, or a random walk.',
  params: sampleSourceParams,
  provides: 'candles',
  load: (p, context) => builtinLoad({ source: 'sample', symbol: context.symbol, timeframe: context.timeframe, ...p }, context),
});

export const fileSource = defineSource({
  id: 'core/file',
  version: '1.0.0',
  doc: 'A candles file: CSV (with or without a header, Binance dumps), Arrow IPC or Parquet; impossible candles refused with file:line.',
  params: fileSourceParams,
  provides: 'candles',
  load: (p, context) => builtinLoad({ source: 'file', symbol: context.symbol, timeframe: context.timeframe, ...p }, context),
});

export const storeSource = defineSource({
  id: 'core/store',
  version: '1.0.0',
  doc: "A series of the local store (with its funding-rate and open-interest tables as columns), optionally bounded by start/end.",
  params: storeSourceParams,
  provides: 'candles',
  load: (p, context) => builtinLoad({ source: 'store', symbol: context.symbol, timeframe: context.timeframe, ...p }, context),
});

export const exchangeSource = defineSource({
  id: 'core/exchange',
  version: '1.0.0',
  doc: 'Candles of an exchange through ccxt: downloaded into the store (resuming, retrying 5xx) before the run, then read from the store.',
  params: exchangeSourceParams,
  provides: 'candles',
  prepare: async (p, context) => {
    const result = await fetchCandles({
      exchange: p.exchange,
      market: p.market,
      symbol: context.symbol,
      timeframe: context.timeframe,
      from: p.start,
      ...(p.end ? { to: p.end } : {}),
      ...(p.apiUrl ? { apiUrl: p.apiUrl } : {}),
      dataDir: context.dataDir,
      progress: 'quiet',
    });
    context.log(`${result.storeId}: ${result.added} new candles, ${result.total} stored`);
  },
  load: (p, context) =>
    builtinLoad({ source: 'store', exchange: p.exchange, market: p.market, symbol: context.symbol, timeframe: context.timeframe, start: p.start, ...(p.end ? { end: p.end } : {}) }, context),
});

export const coreSources: SourceDefinition[] = [sampleSource, fileSource, storeSource, exchangeSource];

/** The spec's short names of the built-in candle sources. */
export const BUILTIN_SOURCE_NAMES = ['sample', 'file', 'store', 'exchange'] as const;

/** A source as the plan holds it: the definition and its validated params. */
export type PlannedSource<D extends SourceDefinition = SourceDefinition> = { readonly definition: D; readonly params: unknown };

/** What the data stage needs besides the plan's sources. */
export type PlannedCandlesOptions = {
  dataDir: string;
  baseDir: string;
  symbol: string;
  timeframe: string;
  missing?: MissingDataPolicy;
  repairHint?: string;
  log?: (line: string) => void;
};

function sourceContext(options: PlannedCandlesOptions, barTimes?: Float64Array): LoaderContext {
  return {
    dataDir: options.dataDir,
    baseDir: options.baseDir,
    symbol: options.symbol,
    timeframe: options.timeframe,
    log: options.log ?? (() => {}),
    ...(barTimes ? { barTimes } : {}),
    ...(options.missing ? { missing: options.missing } : {}),
    ...(options.repairHint ? { repairHint: options.repairHint } : {}),
  };
}

/** Run the sources' asynchronous preparation (downloads), in order. */
export async function prepareSources(sources: readonly PlannedSource[], options: PlannedCandlesOptions): Promise<void> {
  for (const source of sources) await source.definition.prepare?.(source.params as never, sourceContext(options));
}

/**
 * The run's candles: the candle source read and checked, the missing-data policy applied, then every
 * column source joined causally (see joinSourceColumns).
 */
export function loadPlannedCandles(candleSource: PlannedSource<CandleSourceDefinition>, side: readonly PlannedSource<ColumnSourceDefinition>[], options: PlannedCandlesOptions): Candles {
  let candles = loadSourceCandles(candleSource, options);
  if (options.missing) candles = withMissingDataPolicy(candles, options.missing, options.log);
  for (const source of side) candles = joinSourceColumns(candles, source, loadSourceColumns(source, candles.time, options));
  return candles;
}

/**
 * A candle source's candles. A plugin's go through the checks the built-ins apply to files: impossible
 * candles are refused (with the time), rows must be in time order, the spacing must match the timeframe.
 */
export function loadSourceCandles(source: PlannedSource<CandleSourceDefinition>, options: PlannedCandlesOptions): Candles {
  const { definition } = source;
  const candles = definition.load(source.params as never, sourceContext(options));
  if (definition.id.startsWith('core/')) return candles;
  const where = `source ${definition.id}`;
  if (!candles || typeof (candles as Candles).column !== 'function' || !(candles.time instanceof Float64Array)) {
    throw new DataError(`${where}: load must return candles (a Frame with time, open, high, low, close, volume); see defineSource in the plugin docs`);
  }
  for (const column of ['open', 'high', 'low', 'close', 'volume'] as const) {
    if (!candles.names.includes(column)) throw new DataError(`${where}: its candles have no '${column}' column`);
  }
  for (let i = 1; i < candles.length; i++) {
    if (!(candles.time[i] > candles.time[i - 1])) throw new DataError(`${where}: bar times must increase; row ${i} (${new Date(candles.time[i]).toISOString()}) does not`);
  }
  validateCandleRows({ ...candlesToRaw(candles), source: definition.id }, { allowNonFinite: options.missing !== undefined, repairHint: options.repairHint });
  checkTimeframe(candles, options.timeframe, where);
  return candles.withMeta({ symbol: options.symbol, timeframe: options.timeframe, source: candles.meta.source && candles.meta.source !== 'unknown' ? candles.meta.source : definition.id });
}

/** A column source's rows over the candles' span, checked: declared columns, lengths, knownAt in order. */
export function loadSourceColumns(source: PlannedSource<ColumnSourceDefinition>, barTimes: Float64Array, options: PlannedCandlesOptions): { knownAt: Float64Array; columns: Record<string, Float64Array> } {
  const { definition } = source;
  const where = `source ${definition.id}`;
  const rows = definition.load(source.params as never, sourceContext(options, barTimes));
  const declared = definition.outputs(source.params as never);
  if (!rows || !(rows.knownAt instanceof Float64Array)) throw new DataError(`${where}: load must return { knownAt: Float64Array, columns }`);
  const names = Object.keys(rows.columns ?? {});
  if ([...names].sort().join() !== [...declared].sort().join()) {
    throw new DataError(`${where}: load returned columns [${names.join(', ')}] but outputs() declares [${declared.join(', ')}]`);
  }
  for (const name of names) {
    const values = rows.columns[name];
    if (!(values instanceof Float64Array) || values.length !== rows.knownAt.length) {
      throw new DataError(`${where}: column '${name}' must be a Float64Array of ${rows.knownAt.length} values (one per knownAt)`);
    }
  }
  for (let i = 0; i < rows.knownAt.length; i++) {
    if (!Number.isFinite(rows.knownAt[i]) || (i > 0 && rows.knownAt[i] < rows.knownAt[i - 1])) {
      throw new DataError(`${where}: knownAt must be finite and non-decreasing; row ${i} is ${rows.knownAt[i]}`);
    }
  }
  return { knownAt: rows.knownAt, columns: { ...rows.columns } };
}

/**
 * Join a column source's rows to the candles: each bar gets the latest row known strictly before its
 * close (NaN before the first), so a feature at a bar's close sees only what was known then. A column
 * already on the candles is an error naming both.
 */
export function joinSourceColumns(candles: Candles, source: PlannedSource<ColumnSourceDefinition>, rows: { knownAt: Float64Array; columns: Record<string, Float64Array> }): Candles {
  const step = timeframeMs(candles.meta.timeframe);
  const lastKnown = Float64Array.from(candles.time, (t) => t + step - 1);
  const joined: Record<string, Float64Array> = {};
  for (const [name, values] of Object.entries(rows.columns)) {
    if ((candles.names as readonly string[]).includes(name)) throw new ConfigError(`source ${source.definition.id}: column '${name}' is already on the candles; rename it in the source's params`);
    joined[name] = alignToBase(lastKnown, rows.knownAt, values);
  }
  return Object.keys(joined).length ? (candles.withColumns(joined) as Candles) : candles;
}

/** The spec's `data` split into the candle source's reference and the shared fields. */
export function dataSourceRef(data: Record<string, unknown>): { id: string; version?: string; params: Record<string, unknown> } {
  const { source, symbol: _symbol, timeframe: _timeframe, missing: _missing, side: _side, id, version, params, ...rest } = data as Record<string, any>;
  if (source === 'plugin') return { id, ...(version ? { version } : {}), params: params ?? {} };
  return { id: `core/${source}`, params: rest };
}

/** Resolve the spec's sources against the registry: the candle source and the column sources, params validated. */
export function resolveSources(data: Record<string, unknown>, registry: PluginRegistry): { candles: PlannedSource<CandleSourceDefinition>; side: PlannedSource<ColumnSourceDefinition>[] } {
  const ref = dataSourceRef(data);
  const candles = registry.resolveWithParams('source', ref);
  if (candles.definition.provides !== 'candles') {
    throw new ConfigError(`data.source '${ref.id}' provides columns, not candles; list it under data.side and name a candle source (sample, file, store, exchange or a plugin's)`);
  }
  const side = ((data.side as Array<{ id: string; version?: string; params?: Record<string, unknown> }> | undefined) ?? []).map((entry, i) => {
    const resolved = registry.resolveWithParams('source', entry);
    if (resolved.definition.provides !== 'columns') throw new ConfigError(`data.side.${i}: '${entry.id}' provides candles, not columns; make it data.source`);
    return resolved as PlannedSource<ColumnSourceDefinition>;
  });
  return { candles: candles as PlannedSource<CandleSourceDefinition>, side };
}
