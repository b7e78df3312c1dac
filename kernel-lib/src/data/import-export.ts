import { type Frame, OHLCV_COLUMNS } from '../frame/frame';
import { ConfigError } from '../errors';
import { writeArrowFile } from './arrow-file';
import { writeCandlesCsv, type CsvReadOptions } from './csv-file';
import { writeParquetFile } from './parquet-file';
import { candlesFileFormat, readCandlesFileRaw } from './read-candles-file';
import { loadNamedCandles } from './load-candles';
import { openWorkspace } from '../workspace';
import { rawToCandles, type RawCandles } from './raw-candles';
import { validateCandleRows, type CandleRepair } from './candle-validation';
import { mergeIntoStore, type MergeResult, type StoreKey } from './store';

export type ImportOptions = CsvReadOptions & {
  dataDir?: string;
  /** 'drop': leave impossible candles out and import the other rows (the store records it). */
  repair?: CandleRepair;
};

export type ImportReport = {
  key: StoreKey;
  files: Array<{ file: string; rows: number }>;
  /** Rows that repeated an earlier row exactly (same time, same values), dropped. */
  duplicatesDropped: number;
  /** Whether the rows had to be sorted by time. */
  sorted: boolean;
  /** Impossible candles left out under `repair: 'drop'`, and the times of the first ones. */
  repaired: { rows: number; first: string[] };
  /** First and last bar open times of the imported rows (epoch ms). */
  first: number;
  last: number;
  merge: MergeResult;
};

/** Concatenate raw tables (OHLCV columns only: the store keeps one schema for every source). */
function concatRaw(tables: RawCandles[], key: StoreKey): RawCandles {
  const meta = { exchange: key.exchange, symbol: key.symbol, timeframe: key.timeframe };
  // One table: its columns as they are (a copy would touch every page of fresh memory again).
  if (tables.length === 1) {
    const [table] = tables;
    const columns = Object.fromEntries(OHLCV_COLUMNS.map((name) => [name, table.columns[name]])) as RawCandles['columns'];
    return { time: table.time, columns, meta: { ...meta, source: table.source }, source: table.source, line: table.line };
  }
  const total = tables.reduce((sum, table) => sum + table.time.length, 0);
  const time = new Float64Array(total);
  const columns = Object.fromEntries(OHLCV_COLUMNS.map((name) => [name, new Float64Array(total)])) as RawCandles['columns'];
  const line = new Int32Array(total);
  let offset = 0;
  for (const table of tables) {
    time.set(table.time, offset);
    for (const name of OHLCV_COLUMNS) columns[name].set(table.columns[name], offset);
    if (table.line) line.set(table.line, offset);
    offset += table.time.length;
  }
  const source = tables.length === 1 ? tables[0].source : `${tables.length} files`;
  return {
    time,
    columns,
    meta: { ...meta, source },
    source,
    line: tables.length === 1 && tables[0].line ? line : undefined,
  };
}

/**
 * Import candle files (CSV with or without a header, Binance kline dumps, Parquet, Arrow IPC) into the
 * store under `key`. Every file is read and checked before anything is written: a corrupt file, a bad
 * row or two different rows with one time stop the import with an error naming the file and the row,
 * and the store is left as it was. Rows are sorted; exact duplicates are dropped.
 */
export function importCandlesFiles(files: readonly string[], key: StoreKey, options: ImportOptions = {}): ImportReport {
  if (files.length === 0) throw new ConfigError('give at least one file to import');
  const meta = { exchange: key.exchange, symbol: key.symbol, timeframe: key.timeframe };
  const read = files.map((file) => readCandlesFileRaw(file, { ...meta, source: file }, options));
  // Impossible candles are refused (or dropped) with their file and line, before anything is written.
  const checked = read.map((table) => validateCandleRows(table, { repair: options.repair }));
  const tables = checked.map((c) => c.raw);
  const repaired = { rows: checked.reduce((sum, c) => sum + c.dropped, 0), first: checked.flatMap((c) => c.firstDropped).slice(0, 5) };
  const { candles, duplicatesDropped, sorted } = rawToCandles(concatRaw(tables, key));
  const source = files.length === 1 ? `import ${files[0]}` : `import of ${files.length} files`;
  const merge = mergeIntoStore(key, candles, { dataDir: options.dataDir, repaired: repaired.rows ? { source, ...repaired } : undefined });
  return {
    key,
    files: read.map((table) => ({ file: table.source, rows: table.time.length })),
    duplicatesDropped,
    sorted,
    repaired,
    first: candles.time[0],
    last: candles.time[candles.length - 1],
    merge,
  };
}

/** Write a frame as .csv, .arrow or .parquet by the file's extension, atomically. */
export function writeCandlesFile(file: string, frame: Frame): void {
  const format = candlesFileFormat(file);
  if (format === 'csv') writeCandlesCsv(file, frame);
  else if (format === 'arrow') writeArrowFile(file, frame);
  else if (format === 'parquet') writeParquetFile(file, frame);
  else throw new ConfigError(`--out ${file}: use a .csv, .arrow or .parquet file name`);
}

/** Export candles from a store id or a file to .csv, .arrow or .parquet; returns the row count. */
export function exportCandles(source: string, out: string, dataDir?: string): { rows: number; file: string } {
  if (!candlesFileFormat(out)) throw new ConfigError(`--out ${out}: use a .csv, .arrow or .parquet file name`);
  // The stored candles as they are (OHLCV): side tables are a join for runs, not part of the series.
  const candles = loadNamedCandles(source, { dataDir: dataDir ?? openWorkspace().dataDir }).select([...OHLCV_COLUMNS]);
  writeCandlesFile(out, candles);
  return { rows: candles.length, file: out };
}
