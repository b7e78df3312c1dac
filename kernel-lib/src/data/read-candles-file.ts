import type { Candles, FrameMeta } from '../frame/frame';
import { ConfigError } from '../errors';
import { readArrowFile, readArrowFileRaw } from './arrow-file';
import { readCandlesCsv, readCandlesCsvRaw, type CsvReadOptions } from './csv-file';
import { readParquetFile, readParquetFileRaw } from './parquet-file';
import { assertOhlcv, type RawCandles } from './raw-candles';

/** The file formats candles are read from and written to, by extension. */
export type CandlesFileFormat = 'csv' | 'arrow' | 'parquet';

/** The format of a file name: .csv/.txt, .arrow/.feather/.ipc, .parquet/.pq; undefined otherwise. */
export function candlesFileFormat(file: string): CandlesFileFormat | undefined {
  if (/\.(arrow|feather|ipc)$/i.test(file)) return 'arrow';
  if (/\.(parquet|pq)$/i.test(file)) return 'parquet';
  if (/\.(csv|txt)$/i.test(file)) return 'csv';
  return undefined;
}

function formatOf(file: string): CandlesFileFormat {
  const format = candlesFileFormat(file);
  if (!format) throw new ConfigError(`data file ${file} has an unknown extension; use .csv, .arrow or .parquet`);
  return format;
}

/** Candles from an Arrow IPC (.arrow, .feather, .ipc), Parquet (.parquet) or CSV file, chosen by the extension. */
export function readCandlesFile(file: string, meta: Partial<FrameMeta> = {}, options: CsvReadOptions = {}): Candles {
  const format = formatOf(file);
  if (format === 'arrow') return readArrowFile(file, meta) as Candles;
  if (format === 'parquet') return readParquetFile(file, meta) as Candles;
  return readCandlesCsv(file, meta, options);
}

/**
 * The rows of a candles file as stored: unsorted rows and repeated times are kept (for the quality
 * check and the importers); OHLCV columns are required, other numeric columns are kept.
 */
export function readCandlesFileRaw(file: string, meta: Partial<FrameMeta> = {}, options: CsvReadOptions = {}): RawCandles {
  const format = formatOf(file);
  if (format === 'csv') return readCandlesCsvRaw(file, meta, options);
  const table = format === 'arrow' ? readArrowFileRaw(file, meta) : readParquetFileRaw(file, meta);
  assertOhlcv(table, file);
  return { time: table.time, columns: table.columns as RawCandles['columns'], meta: table.meta, source: file };
}
