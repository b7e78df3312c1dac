import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Candles, smallestSpacing, timeframeMs } from '../frame/frame';
import { ConfigError, DataError } from '../errors';
import { applyMissingDataPolicy, type MissingDataPolicy } from '../quality/missing-data';
import { alignToBase } from '../features/resample';
import { readArrowFile, writeArrowFile } from './arrow-file';
import { readCandlesFileRaw } from './read-candles-file';
import { rawToCandles, candlesToRaw } from './raw-candles';
import { validateCandleRows, type CandleRepair } from './candle-validation';
import { generateSyntheticCandles, SYNTHETIC_GENERATOR_VERSION, type SyntheticStructure } from './synthetic';
import { parseStoreId, readStoreSeries, requireStore, STORE_SERIES_COLUMNS, storeId, storeSeriesFile, type StoreKey, type StoreSeriesName } from './store';

/**
 * The one way candles enter a run, a backtest, a feature file or a cross-asset reference: a source
 * (the seeded sample, a file, the store) read, checked (impossible candles refused with file:line or
 * time; see validateCandleRows), named (symbol, timeframe checked against the bar spacing), joined with
 * the store's side tables, then given the missing-data policy when one is asked for.
 */

/** The seeded synthetic market (generated into <dataDir>/sample/ on first use). */
export type SampleSource = {
  source: 'sample';
  symbol?: string;
  timeframe?: string;
  seed?: number;
  /** Bars to generate (default: three years of the timeframe). */
  bars?: number;
  start?: string;
  /** 'learnable' (default): a weak, documented edge; 'random-walk': nothing to learn. */
  structure?: SyntheticStructure;
};
/** A candles file: CSV (with or without a header, Binance dumps), Arrow IPC or Parquet. */
export type FileSource = {
  source: 'file';
  /** Relative paths are relative to `baseDir` (a spec's folder; the working folder on the command line). */
  path: string;
  symbol?: string;
  /** Default: the file's own, else the bar spacing. Either way it must match the spacing. */
  timeframe?: string;
  exchange?: string;
  /** 'drop': leave impossible candles out instead of refusing the file. */
  repair?: CandleRepair;
};
/** A series of the local store, with optional ISO bounds (start inclusive, end exclusive). */
export type StoreSource = StoreKey & { source: 'store'; start?: string; end?: string };
export type CandleSource = SampleSource | FileSource | StoreSource;

export type LoadCandlesOptions = {
  /** The store and the sample cache. */
  dataDir: string;
  /** Where relative file paths start (default: the working folder). */
  baseDir?: string;
  /** Treat missing bars and NaN/Infinity rows by this policy (then such rows are not refused). */
  missing?: MissingDataPolicy;
  /** Let NaN/Infinity rows through (a missing-data policy applied later treats them); default: when `missing` is given. */
  allowNonFinite?: boolean;
  /** How the error names the repair option ('--repair drop' on the CLI, "repair": "drop" in a spec). */
  repairHint?: string;
  log?: (line: string) => void;
};

/** Bars of three years of a timeframe: the sample's default length. */
export function threeYearsOfBars(timeframe: string): number {
  return Math.round((3 * 365 * 86_400_000) / timeframeMs(timeframe));
}

/** Where the sample of these settings is cached: one file per symbol, timeframe, seed, length, start, structure and generator version. */
export function sampleFile(dataDir: string, sample: SampleSource): string {
  const s = resolvedSample(sample);
  const structure = s.structure === 'random-walk' ? '_random-walk' : '';
  return path.join(dataDir, 'sample', `${s.symbol.replace(/[/:]/g, '-')}_${s.timeframe}_seed${s.seed}_${s.bars}_${Date.parse(s.start)}${structure}_gen${SYNTHETIC_GENERATOR_VERSION}.arrow`);
}

function resolvedSample(sample: SampleSource): Required<Omit<SampleSource, 'source'>> {
  const timeframe = sample.timeframe ?? '1h';
  return {
    symbol: sample.symbol ?? 'BTC/USDT',
    timeframe,
    seed: sample.seed ?? 42,
    bars: sample.bars ?? threeYearsOfBars(timeframe),
    start: sample.start ?? '2021-01-01T00:00:00Z',
    structure: sample.structure ?? 'learnable',
  };
}

/**
 * A source named on the command line: an existing file, `sample[:timeframe[:seed]]`, or a store id
 * `<exchange>/<market>/<BASE-QUOTE[-SETTLE]>/<timeframe>`.
 */
export function parseCandleSource(text: string, meta: { symbol?: string; timeframe?: string; baseDir?: string } = {}): CandleSource {
  const file = path.resolve(meta.baseDir ?? process.cwd(), text);
  if (fs.existsSync(file) && fs.statSync(file).isFile()) return { source: 'file', path: file, symbol: meta.symbol, timeframe: meta.timeframe };
  const sample = /^sample(?::(\w+))?(?::(\d+))?$/.exec(text);
  if (sample) {
    const timeframe = sample[1] ?? meta.timeframe ?? '1h';
    timeframeMs(timeframe); // validates
    return { source: 'sample', timeframe, seed: sample[2] ? Number(sample[2]) : 42, ...(meta.symbol ? { symbol: meta.symbol } : {}) };
  }
  const key = parseStoreId(text);
  if (key) return { source: 'store', ...key };
  throw new DataError(
    `'${text}' is neither a data file nor a store id; pass a .csv/.arrow/.parquet path, 'sample[:timeframe[:seed]]', or <exchange>/<market>/<BASE-QUOTE>/<timeframe> (candlelab data list shows the store)`,
  );
}

/**
 * Candles named on the command line or in a portfolio file (see parseCandleSource), through the one
 * loader. `symbol`/`timeframe` name them where the source does not.
 */
export function loadNamedCandles(text: string, options: LoadCandlesOptions & { symbol?: string; timeframe?: string }): Candles {
  return loadCandleSource(parseCandleSource(text, { symbol: options.symbol, timeframe: options.timeframe, baseDir: options.baseDir }), options);
}

/** Read, check and name the candles of a source (see the module comment). */
export function loadCandleSource(source: CandleSource, options: LoadCandlesOptions): Candles {
  let candles: Candles;
  if (source.source === 'sample') candles = loadSample(source, options);
  else if (source.source === 'file') candles = loadFile(source, options);
  else candles = loadStore(source, options);
  return options.missing ? withMissingDataPolicy(candles, options.missing, options.log) : candles;
}

/** The missing-data policy applied and logged; its effect shows in the run's quality report ('filled' rows, gaps). */
export function withMissingDataPolicy(candles: Candles, policy: MissingDataPolicy, log?: (line: string) => void): Candles {
  const applied = applyMissingDataPolicy(candles, policy, candles.meta.timeframe);
  const r = applied.report;
  log?.(`missing data (${r.policy}): ${r.filled} bar(s) filled in ${r.gaps} gap(s), ${r.dropped} row(s) dropped`);
  return applied.candles;
}

function loadSample(source: SampleSource, options: LoadCandlesOptions): Candles {
  const s = resolvedSample(source);
  const file = sampleFile(options.dataDir, source);
  if (!fs.existsSync(file)) {
    const shown = path.relative(process.cwd(), file).startsWith('..') ? file : path.relative(process.cwd(), file);
    options.log?.(`generating sample data (seed ${s.seed}, ${s.bars} bars${s.structure === 'random-walk' ? ', random walk' : ''}) → ${shown}`);
    writeArrowFile(file, generateSyntheticCandles(s));
  }
  return readArrowFile(file) as Candles;
}

function loadFile(source: FileSource, options: LoadCandlesOptions): Candles {
  const file = path.resolve(options.baseDir ?? process.cwd(), source.path);
  if (!fs.existsSync(file)) throw new DataError(`data file ${file} does not exist; check the path (relative paths start at ${options.baseDir ?? process.cwd()})`);
  const raw = readCandlesFileRaw(file, { symbol: source.symbol, timeframe: source.timeframe, exchange: source.exchange, source: file });
  const checked = validateCandleRows(raw, { repair: source.repair, allowNonFinite: options.allowNonFinite ?? options.missing !== undefined, repairHint: options.repairHint });
  if (checked.dropped) options.log?.(`${file}: repair 'drop' left out ${checked.dropped} impossible candle(s), first at ${checked.firstDropped.join(', ')}`);
  // Rows are put in time order (newest-first files are common); two different rows at one time are an error.
  const { candles } = rawToCandles(checked.raw);
  const fileMeta = candles.meta;
  const symbol = source.symbol ?? (fileMeta.symbol !== 'UNKNOWN' ? fileMeta.symbol : path.basename(file).replace(/\.\w+$/, ''));
  const timeframe = checkTimeframe(candles, source.timeframe ?? (fileMeta.timeframe !== 'unknown' ? fileMeta.timeframe : undefined), file);
  return candles.withMeta({ symbol, timeframe, exchange: source.exchange ?? fileMeta.exchange, source: file });
}

function loadStore(source: StoreSource, options: LoadCandlesOptions): Candles {
  const key: StoreKey = { exchange: source.exchange, market: source.market, symbol: source.symbol, timeframe: source.timeframe };
  let candles = requireStore(key, options.dataDir, source.start, source.end);
  // The store refuses impossible candles on every write; files written by older versions are checked here.
  validateCandleRows({ ...candlesToRaw(candles), source: storeId(key) }, { allowNonFinite: options.allowNonFinite ?? options.missing !== undefined, repairHint: `candlelab data import … --repair drop (re-import ${storeId(key)})` });
  candles = withSideTables(candles, key, options.dataDir);
  return candles.withMeta({ exchange: key.exchange, symbol: key.symbol, timeframe: key.timeframe, source: storeId(key) });
}

/**
 * The store's side tables of the symbol (funding rates, open interest) as columns of the candles:
 * each bar gets the latest row stamped before its close (NaN before the first), so a feature at a bar's
 * close sees only what was known then.
 */
export function withSideTables(candles: Candles, key: StoreKey, dataDir: string): Candles {
  const step = timeframeMs(key.timeframe);
  const lastKnown = Float64Array.from(candles.time, (t) => t + step - 1); // strictly before the close
  const columns: Record<string, Float64Array> = {};
  for (const name of Object.keys(STORE_SERIES_COLUMNS) as StoreSeriesName[]) {
    const side = readStoreSeries(key, name, dataDir);
    if (!side || side.length === 0) continue;
    for (const column of side.names) columns[column] = alignToBase(lastKnown, side.time, side.column(column));
  }
  return Object.keys(columns).length ? (candles.withColumns(columns) as Candles) : candles;
}

/** The files of the store's side tables for this key (present or not). */
export function sideTableFiles(key: StoreKey, dataDir: string): string[] {
  return (Object.keys(STORE_SERIES_COLUMNS) as StoreSeriesName[]).map((name) => storeSeriesFile(key, name, dataDir));
}

/** The version of these files (inode, mtime, size; '-' for an absent one): it changes when any is rewritten. One stat per file. */
export function filesStamp(files: readonly string[]): string {
  return files
    .map((file) => {
      const stat = fs.statSync(file, { throwIfNoEntry: false });
      return stat ? `${stat.ino}:${stat.mtimeMs}:${stat.size}` : '-';
    })
    .join('|');
}

/** The columns the store's side tables (funding, open interest) hold for this key; none when it has none. */
export function sideTableColumns(key: StoreKey, dataDir: string): string[] {
  const names: string[] = [];
  for (const name of Object.keys(STORE_SERIES_COLUMNS) as StoreSeriesName[]) {
    const side = readStoreSeries(key, name, dataDir);
    if (side && side.length > 0) names.push(...side.names);
  }
  return names;
}

/**
 * The same join for candles that arrive one at a time (a paper or live session): the side-table values
 * of the bar opening at `time`, i.e. each table's latest row stamped before the bar's close (NaN before
 * the first), exactly what `withSideTables` gives that bar. The tables are re-read when their files
 * change (a `data fetch --funding` while the session runs); no tables in the store: no columns.
 */
export function sideTableJoin(key: StoreKey, dataDir: string): (time: number) => Record<string, number> {
  const step = timeframeMs(key.timeframe);
  const files = sideTableFiles(key, dataDir);
  let stamp: string | undefined;
  let tables: Array<{ time: Float64Array; columns: Array<[string, Float64Array]> }> = [];
  return (time) => {
    const now = filesStamp(files);
    if (now !== stamp) {
      stamp = now;
      tables = [];
      for (const name of Object.keys(STORE_SERIES_COLUMNS) as StoreSeriesName[]) {
        const side = readStoreSeries(key, name, dataDir);
        if (side && side.length > 0) tables.push({ time: side.time, columns: side.names.map((column) => [column, side.column(column)]) });
      }
    }
    const lastKnown = time + step - 1; // strictly before the close
    const out: Record<string, number> = {};
    for (const table of tables) {
      // the latest row stamped at or before lastKnown (binary search; rows are in time order)
      let lo = 0;
      let hi = table.time.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (table.time[mid] <= lastKnown) lo = mid + 1;
        else hi = mid;
      }
      for (const [column, values] of table.columns) out[column] = lo > 0 ? values[lo - 1] : NaN;
    }
    return out;
  };
}

/** The timeframe of these candles: the declared one, checked against the bar spacing, or the spacing itself. */
export function checkTimeframe(candles: Candles, declared: string | undefined, file: string): string {
  const spacing = smallestSpacing(candles.time);
  const inferred = spacing === undefined ? undefined : timeframeName(spacing);
  if (declared === undefined) {
    if (!inferred) throw new ConfigError(`${file}: cannot tell the timeframe from the bar spacing; give it (data.timeframe in a spec, --timeframe on the command line)`);
    return inferred;
  }
  const step = timeframeMs(declared);
  if (spacing !== undefined && spacing !== step) {
    throw new ConfigError(`${file}: bars are ${inferred ?? `${spacing / 60_000} min`} apart but the timeframe is ${declared}; set the timeframe to ${inferred ?? 'the bar length'} (data.timeframe in a spec, --timeframe on the command line)`);
  }
  return declared;
}

/** 3600000 → '1h', 86400000 → '1d', 300000 → '5m'; undefined when not a whole number of minutes. */
export function timeframeName(ms: number): string | undefined {
  for (const [unit, size] of [['w', 7 * 86_400_000], ['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms % size === 0 && (unit !== 'w' || ms === size)) return `${ms / size}${unit}`;
  }
  return undefined;
}

