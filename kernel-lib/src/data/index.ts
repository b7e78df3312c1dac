export { generateSyntheticCandles, SYNTHETIC_GENERATOR_VERSION, type SyntheticMarketOptions, type SyntheticStructure } from './synthetic';
export { readArrowFile, readArrowFileRaw, writeArrowFile, frameToArrowBytes, arrowTableToColumns, type ArrowColumns } from './arrow-file';
export { readCandlesCsv, readCandlesCsvRaw, writeCandlesCsv, frameToCsvBytes, binanceTimeMs, lastCsvParseThreads, BINANCE_KLINE_COLUMNS, type CsvFormat, type CsvReadOptions } from './csv-file';
export { readParquetFile, readParquetFileRaw, writeParquetFile, frameToParquetBytes } from './parquet-file';
export { readCandlesFile, readCandlesFileRaw, candlesFileFormat, type CandlesFileFormat } from './read-candles-file';
export { rawToCandles, candlesToRaw, type RawCandles } from './raw-candles';
export { importCandlesFiles, exportCandles, writeCandlesFile, type ImportOptions, type ImportReport } from './import-export';
export { loadCandleSource, loadNamedCandles, parseCandleSource, sampleFile, withSideTables, type CandleSource, type SampleSource, type FileSource, type StoreSource, type LoadCandlesOptions } from './load-candles';
export { validateCandleRows, candleDefect, CANDLE_REPAIRS, type CandleRepair, type CandleValidation, type CandleValidationOptions } from './candle-validation';
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
  storeRepairRecord,
  mergeFrames,
  listStore,
  validateStoreKey,
  symbolFolder,
  STORE_SERIES_COLUMNS,
  type StoreKey,
  type StoreEntry,
  type StoreSeriesName,
  type StoreRepairRecord,
  type MergeResult,
  type MergeOptions,
} from './store';
export * as exchange from './exchange';
