export { generateSyntheticCandles, type SyntheticMarketOptions } from './synthetic';
export { readArrowFile, writeArrowFile, frameToArrowBytes } from './arrow-file';
export { readCandlesCsv, writeCandlesCsv } from './csv-file';
export { readCandlesFile } from './read-candles-file';
