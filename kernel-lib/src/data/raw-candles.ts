import { Frame, type Candles, type FrameMeta, isoTime, OHLCV_COLUMNS, type OhlcvColumn } from '../frame/frame';
import * as fs from 'node:fs';
import { DataError } from '../errors';
import { adviseHugePages } from '../util/huge-pages';
import { prefault } from '../util/prefault';

/**
 * Candles as read from a file, before any ordering is enforced: rows may be unsorted or repeat a
 * time. The quality check looks at this form (a Frame cannot hold duplicates), the importers turn it
 * into a Frame with `rawToCandles`.
 */
export type RawCandles = {
  time: Float64Array;
  columns: Record<OhlcvColumn, Float64Array> & Record<string, Float64Array>;
  meta: FrameMeta;
  /** Where the rows came from (a file name), for error messages. */
  source: string;
  /** 1-based line of each row in a text source, when there is one. */
  line?: Int32Array;
};

/** Raw columns of an existing frame (already ordered). */
export function candlesToRaw(candles: Candles): RawCandles {
  const columns = {} as RawCandles['columns'];
  for (const name of candles.names) columns[name] = candles.column(name);
  return { time: candles.time, columns, meta: candles.meta, source: candles.meta.source ?? candles.meta.symbol };
}

/** How a row is named in errors: the file's line when known, else the row index. */
export function rowLabel(raw: RawCandles, row: number): string {
  return raw.line ? `${raw.source}:${raw.line[row]}` : `${raw.source} row ${row + 1}`;
}

export type RawToCandlesOptions = {
  /** Sort rows by time (default true); otherwise unordered rows are an error. */
  sort?: boolean;
};

/**
 * Candles from raw rows: sorted by time, exact duplicate rows (same time, same values) collapsed;
 * two different rows with the same time are an error naming both rows, since picking one would be a guess.
 */
export function rawToCandles(raw: RawCandles, options: RawToCandlesOptions = {}): { candles: Candles; duplicatesDropped: number; sorted: boolean } {
  const n = raw.time.length;
  const names = Object.keys(raw.columns);
  let ordered = true;
  for (let i = 1; i < n && ordered; i++) if (!(raw.time[i] > raw.time[i - 1])) ordered = false;
  if (ordered) return { candles: Frame.fromColumns(raw.time, raw.columns, raw.meta) as Candles, duplicatesDropped: 0, sorted: false };
  let order = Int32Array.from({ length: n }, (_, i) => i);
  let sorted = false;
  for (let i = 1; i < n; i++) {
    if (raw.time[i] < raw.time[i - 1]) {
      if (options.sort === false) {
        throw new DataError(`${rowLabel(raw, i)}: time ${isoTime(raw.time[i])} goes back from ${isoTime(raw.time[i - 1])}; sort the rows by time`);
      }
      sorted = true;
      break;
    }
  }
  // A stable sort keeps the file order of equal times, so errors name the first occurrence first.
  if (sorted) order = order.sort((a, b) => raw.time[a] - raw.time[b] || a - b);
  const keep: number[] = [];
  let duplicatesDropped = 0;
  for (let k = 0; k < n; k++) {
    const row = order[k];
    const previous = keep.length ? keep[keep.length - 1] : -1;
    if (previous >= 0 && raw.time[previous] === raw.time[row]) {
      const same = names.every((name) => Object.is(raw.columns[name][previous], raw.columns[name][row]));
      if (!same) {
        throw new DataError(
          `${rowLabel(raw, row)}: time ${isoTime(raw.time[row])} repeats ${rowLabel(raw, previous)} with different values; remove one of the two rows`,
        );
      }
      duplicatesDropped++;
      continue;
    }
    keep.push(row);
  }
  const time = Float64Array.from(keep, (row) => raw.time[row]);
  const columns: Record<string, Float64Array> = {};
  for (const name of names) columns[name] = Float64Array.from(keep, (row) => raw.columns[name][row]);
  return { candles: Frame.fromColumns(time, columns, raw.meta) as Candles, duplicatesDropped, sorted };
}

/** Check that the raw table has the OHLCV columns. */
export function assertOhlcv(raw: { columns: Record<string, Float64Array> }, source: string): void {
  for (const column of OHLCV_COLUMNS) {
    if (!raw.columns[column]) throw new DataError(`${source}: no '${column}' column; candles need time, open, high, low, close, volume`);
  }
}

/** A data file's bytes, or one clear error naming the file and why it could not be read. */
export function readDataFile(file: string): Buffer {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const size = fs.fstatSync(fd).size;
    if (size === 0) return fs.readFileSync(fd); // a pipe or a special file: its size is not known ahead
    // a large file's bytes on huge pages (asked before the read writes them: fewer first-touch faults),
    // faulted in on a spare core ahead of the read's copy
    const bytes = Buffer.allocUnsafeSlow(size);
    adviseHugePages(bytes);
    prefault([bytes]);
    let read = 0;
    for (let got = 1; read < size && got > 0; read += got) got = fs.readSync(fd, bytes, read, size - read, read);
    return read === size ? bytes : bytes.subarray(0, read);
  } catch (error) {
    throw new DataError(`cannot read data file ${file}: ${(error as NodeJS.ErrnoException).code ?? error}; check the path`);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}
