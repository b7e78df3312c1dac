import * as fs from 'node:fs';
import { Frame, type Candles, type FrameMeta, OHLCV_COLUMNS } from '../frame/frame';
import { DataError } from '../errors';
import { writeFileAtomic } from '../util/atomic';

const TIME_HEADERS = ['time', 'timestamp', 'date', 'datetime', 'open_time', 'unix'];

/**
 * Read OHLCV candles from a CSV file with a header row naming the columns (any order, any case):
 * a time column (time, timestamp, date, datetime, open_time or unix) and open, high, low, close,
 * volume. Epoch times in seconds, milliseconds or microseconds are told apart by magnitude; ISO dates
 * without a zone are read as UTC. Newest-first files are reversed; duplicate or unordered times are an
 * error naming the row.
 */
export function readCandlesCsv(file: string, meta: Partial<FrameMeta> = {}): Candles {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new DataError(`cannot read data file ${file}: ${(error as NodeJS.ErrnoException).code ?? error}; check the path`);
  }
  const lines = text.split(/\r?\n/);
  // Skip preamble lines (e.g. a URL line above the header), up to the first line naming a time column.
  let headerIndex = lines.findIndex((line) => splitCsvLine(line).some((cell) => TIME_HEADERS.includes(cell.toLowerCase())));
  if (headerIndex < 0 || headerIndex > 5) {
    throw new DataError(`${file}: no header row with a time column (${TIME_HEADERS.join('/')}) and open,high,low,close,volume`);
  }
  const header = splitCsvLine(lines[headerIndex]).map((cell) => cell.toLowerCase());
  const timeIndex = header.findIndex((cell) => TIME_HEADERS.includes(cell));
  const indexes = OHLCV_COLUMNS.map((name) => {
    const index = header.indexOf(name);
    if (index < 0) throw new DataError(`${file}: header has no '${name}' column (found: ${header.join(', ')})`);
    return index;
  });

  const rows: number[][] = [];
  let timeIsIso = false;
  for (let lineNumber = headerIndex + 1; lineNumber < lines.length; lineNumber++) {
    const line = lines[lineNumber];
    if (line.trim() === '') continue;
    const cells = splitCsvLine(line);
    const row = [parseTime(cells[timeIndex], file, lineNumber + 1, rows.length === 0 ? undefined : timeIsIso)];
    if (rows.length === 0) timeIsIso = !/^-?\d+(\.\d+)?$/.test((cells[timeIndex] ?? '').trim());
    for (const index of indexes) {
      const value = Number(cells[index]);
      if (cells[index] === undefined || cells[index].trim() === '' || Number.isNaN(value)) {
        throw new DataError(`${file}:${lineNumber + 1}: '${header[index]}' is not a number ('${cells[index] ?? ''}'); fix or remove the row`);
      }
      row.push(value);
    }
    rows.push(row);
  }
  if (rows.length === 0) throw new DataError(`${file} has a header but no rows`);
  const unit = timeIsIso ? 1 : epochUnitScale(rows.map((row) => row[0]));
  if (rows.length > 1 && rows[0][0] > rows[rows.length - 1][0]) rows.reverse();
  const time = new Float64Array(rows.length);
  const columns = OHLCV_COLUMNS.map(() => new Float64Array(rows.length));
  for (let i = 0; i < rows.length; i++) {
    time[i] = rows[i][0] * unit;
    for (let c = 0; c < columns.length; c++) columns[c][i] = rows[i][c + 1];
  }
  const [open, high, low, close, volume] = columns;
  return Frame.fromColumns(time, { open, high, low, close, volume }, {
    symbol: meta.symbol ?? 'UNKNOWN',
    timeframe: meta.timeframe ?? 'unknown',
    exchange: meta.exchange,
    source: meta.source ?? file,
  });
}

/** Write a frame as CSV with a header (time in epoch ms), atomically. */
export function writeCandlesCsv(file: string, frame: Frame): void {
  const names = frame.names;
  const parts = [`time,${names.join(',')}\n`];
  const columns = names.map((name) => frame.column(name));
  for (let i = 0; i < frame.length; i++) {
    let line = String(frame.time[i]);
    for (const column of columns) line += ',' + String(column[i]);
    parts.push(line + '\n');
  }
  writeFileAtomic(file, parts.join(''));
}

function splitCsvLine(line: string): string[] {
  return line.split(',').map((cell) => cell.trim().replace(/^"(.*)"$/, '$1'));
}

/**
 * Epoch number or an ISO date (ISO dates become epoch ms; numbers stay in their unit until
 * `epochUnitScale` decides it). `expectIso` is the first row's kind: a file mixing kinds is an error.
 */
function parseTime(cell: string | undefined, file: string, lineNumber: number, expectIso: boolean | undefined): number {
  const text = (cell ?? '').trim();
  const numeric = /^-?\d+(\.\d+)?$/.test(text);
  if (expectIso !== undefined && numeric === expectIso) {
    throw new DataError(`${file}:${lineNumber}: time '${text}' mixes epoch numbers and dates in one column; use one form`);
  }
  if (numeric) return Number(text);
  const iso = /^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00Z` : /[zZ]|[+-]\d{2}:?\d{2}$/.test(text) ? text : `${text.replace(' ', 'T')}Z`;
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) throw new DataError(`${file}:${lineNumber}: cannot read time '${text}'; use epoch milliseconds or ISO-8601`);
  return ms;
}

/**
 * Scale factor to epoch ms. Epoch seconds are ~1e9, milliseconds ~1e12, microseconds ~1e15 for dates
 * between 2001 and 2286: the magnitude decides. A file mixing units is ambiguous and an error.
 */
function epochUnitScale(times: number[]): number {
  const unitOf = (t: number): number => (t >= 1e14 ? 1e-3 : t >= 1e11 ? 1 : 1e3);
  const unit = unitOf(times[0]);
  for (const t of times) {
    if (unitOf(t) !== unit) throw new DataError(`time values mix epoch units (${times[0]} and ${t}); convert the file to one unit`);
  }
  return unit;
}
