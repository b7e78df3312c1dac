export { generateSyntheticCandles, type SyntheticMarketOptions } from './synthetic';
export { readArrowFile, readArrowFileRaw, writeArrowFile, frameToArrowBytes, arrowTableToColumns, type ArrowColumns } from './arrow-file';
export { readCandlesCsv, readCandlesCsvRaw, writeCandlesCsv, frameToCsvBytes, binanceTimeMs, BINANCE_KLINE_COLUMNS, type CsvFormat, type CsvReadOptions } from './csv-file';
export { readParquetFile, readParquetFileRaw, writeParquetFile, frameToParquetBytes } from './parquet-file';
export { readCandlesFile, readCandlesFileRaw, candlesFileFormat, type CandlesFileFormat } from './read-candles-file';
export { rawToCandles, candlesToRaw, type RawCandles } from './raw-candles';
export { importCandlesFiles, exportCandles, writeCandlesFile, readCandlesSource, type ImportOptions, type ImportReport } from './import-export';
export {
  storeFile,
  storeSeriesFile,
  storeId,
  readStore,
  requireStore,
  parseStoreId,
  describeStore,
  readStoreSeries,
  mergeIntoStore,
  mergeSeriesIntoStore,
  mergeFrames,
  listStore,
  validateStoreKey,
  symbolFolder,
  STORE_SERIES_COLUMNS,
  type StoreKey,
  type StoreEntry,
  type StoreSeriesName,
  type MergeResult,
  type MergeOptions,
} from './store';
export * as exchange from './exchange';
