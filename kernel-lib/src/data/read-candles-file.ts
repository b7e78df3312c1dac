import type { Candles, FrameMeta } from '../frame/frame';
import { ConfigError } from '../errors';
import { readArrowFile } from './arrow-file';
import { readCandlesCsv } from './csv-file';

/** Candles from an Arrow IPC (.arrow, .feather, .ipc) or CSV file, chosen by the extension. */
export function readCandlesFile(file: string, meta: Partial<FrameMeta> = {}): Candles {
  if (/\.(arrow|feather|ipc)$/i.test(file)) return readArrowFile(file, meta) as Candles;
  if (/\.csv$/i.test(file)) return readCandlesCsv(file, meta);
  throw new ConfigError(`data file ${file} has an unknown extension; use .arrow or .csv`);
}
