export { generateSyntheticCandles, type SyntheticMarketOptions } from './synthetic';
export { readArrowFile, writeArrowFile, frameToArrowBytes } from './arrow-file';
export { readCandlesCsv, writeCandlesCsv } from './csv-file';
export { readCandlesFile } from './read-candles-file';
export {
  storeFile,
  storeSeriesFile,
  storeId,
  readStore,
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
