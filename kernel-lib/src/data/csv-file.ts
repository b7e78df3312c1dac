import { Frame, type Candles, type FrameMeta, OHLCV_COLUMNS } from '../frame/frame';
import { DataError } from '../errors';
import { writeFileAtomic } from '../util/atomic';
import { readDataFile, type RawCandles } from './raw-candles';

const TIME_HEADERS = ['time', 'timestamp', 'date', 'datetime', 'open_time', 'unix'];

/**
 * The 12 columns of Binance's public kline dumps (data.binance.vision), in order. Spot dumps have no
 * header; some futures dumps carry exactly this header.
 */
export const BINANCE_KLINE_COLUMNS = [
  'open_time', 'open', 'high', 'low', 'close', 'volume', 'close_time',
  'quote_volume', 'count', 'taker_buy_volume', 'taker_buy_quote_volume', 'ignore',
] as const;

export type CsvFormat = 'auto' | 'generic' | 'binance';

export type CsvReadOptions = {
  /**
   * 'binance': Binance kline dumps (open time in ms, or µs in spot dumps since 2025, decided per value
   * by magnitude; anything else is an error). 'generic': a time column and OHLCV. 'auto' (default):
   * Binance when the file has 12 headerless columns or Binance's header.
   */
  format?: CsvFormat;
};

/**
 * Read OHLCV candles from a CSV file. With a header row (any order, any case): a time column (time,
 * timestamp, date, datetime, open_time or unix) and open, high, low, close, volume. Without one (the
 * first line is all numbers): time, open, high, low, close, volume by position, or Binance's 12 kline
 * columns. Epoch times in seconds, milliseconds or microseconds are told apart by magnitude; ISO dates
 * without a zone are read as UTC. Newest-first files are reversed; duplicate or unordered times are an
 * error naming the row.
 */
export function readCandlesCsv(file: string, meta: Partial<FrameMeta> = {}, options: CsvReadOptions = {}): Candles {
  const raw = readCandlesCsvRaw(file, meta, options);
  const n = raw.time.length;
  if (n > 1 && raw.time[0] > raw.time[n - 1]) reverseRows(raw);
  return Frame.fromColumns(raw.time, raw.columns, raw.meta) as Candles;
}

/** Reverse rows in place (newest-first files). */
function reverseRows(raw: RawCandles): void {
  raw.time.reverse();
  for (const column of Object.values(raw.columns)) column.reverse();
  raw.line?.reverse();
}

/**
 * The rows of a candles CSV as read, unsorted and possibly with repeated times (for the quality check
 * and the importers). Every cell is checked: a missing or non-numeric value is an error naming the file
 * and line.
 */
export function readCandlesCsvRaw(file: string, meta: Partial<FrameMeta> = {}, options: CsvReadOptions = {}): RawCandles {
  const bytes = readDataFile(file);
  const lines = new LineReader(bytes);
  const first = lines.peekNonEmpty();
  if (!first) throw new DataError(`${file} is empty; expected a header or candle rows`);
  const firstCells = splitCsvLine(first.text);
  const headerless = firstCells.length >= 6 && firstCells.every((cell) => isNumeric(cell));

  let timeIndex: number;
  let indexes: number[];
  let names: string[];
  let binance: boolean;
  if (headerless) {
    binance = options.format === 'binance' || (options.format !== 'generic' && firstCells.length === BINANCE_KLINE_COLUMNS.length);
    timeIndex = 0;
    indexes = [1, 2, 3, 4, 5];
    names = binance ? [...BINANCE_KLINE_COLUMNS] : ['time', ...OHLCV_COLUMNS];
  } else {
    // Skip preamble lines (e.g. a URL line above the header), up to the first line naming a time column.
    let header: string[] | undefined;
    for (let k = 0; k < 6; k++) {
      const line = lines.nextText();
      if (!line) break;
      const cells = splitCsvLine(line.text).map((cell) => cell.toLowerCase());
      if (cells.some((cell) => TIME_HEADERS.includes(cell))) {
        header = cells;
        break;
      }
    }
    if (!header) throw new DataError(`${file}: no header row with a time column (${TIME_HEADERS.join('/')}) and open,high,low,close,volume`);
    timeIndex = header.findIndex((cell) => TIME_HEADERS.includes(cell));
    indexes = OHLCV_COLUMNS.map((name) => {
      const index = header!.indexOf(name);
      if (index < 0) throw new DataError(`${file}: header has no '${name}' column (found: ${header!.join(', ')})`);
      return index;
    });
    names = header;
    binance =
      options.format === 'binance' ||
      (options.format !== 'generic' && header.includes('open_time') && header.includes('close_time') && header.includes('taker_buy_volume'));
  }
  // A Binance row must have all 12 cells (fewer means a cut-off line), other files what they use.
  const needed = binance && headerless ? BINANCE_KLINE_COLUMNS.length : Math.max(timeIndex, ...indexes) + 1;
  // Where each cell of a row goes: -1 skipped, 0 time, 1…5 open…volume.
  const target = new Int8Array(needed).fill(-1);
  target[timeIndex] = 0;
  indexes.forEach((index, c) => (target[index] = c + 1));

  let capacity = Math.max(16, Math.ceil(bytes.length / 40));
  // typed as the plain array types (not Float64Array<ArrayBuffer>) so grow() results fit under any @types/node
  let time: Float64Array = new Float64Array(capacity);
  let line: Int32Array = new Int32Array(capacity);
  let columns: Float64Array[] = OHLCV_COLUMNS.map(() => new Float64Array(capacity));
  let n = 0;
  let timeIsIso: boolean | undefined;
  const values = new Float64Array(6);
  const length = bytes.length;
  for (let position = lines.position, number = lines.number + 1; position < length; number++) {
    let lineEnd = bytes.indexOf(10, position);
    if (lineEnd < 0) lineEnd = length;
    const next = lineEnd + 1;
    if (isBlank(bytes, position, lineEnd)) {
      position = next;
      continue;
    }
    if (n === capacity) {
      capacity *= 2;
      time = grow(time, capacity);
      line = growInt(line, capacity);
      columns = columns.map((column) => grow(column, capacity));
    }
    let cell = 0;
    let start = position;
    while (cell < needed) {
      let end = start;
      while (end < lineEnd && bytes[end] !== 44) end++;
      const slot = target[cell];
      if (slot > 0) {
        const value = parseDecimal(bytes, start, end);
        if (Number.isNaN(value)) {
          const text = bytes.toString('utf8', start, end).trim();
          throw new DataError(`${file}:${number}: '${names[cell]}' is not a number ('${text}'); fix or remove the row`);
        }
        values[slot] = value;
      } else if (slot === 0) {
        let t = parseDecimal(bytes, start, end);
        const numeric = !Number.isNaN(t);
        if (timeIsIso === undefined) timeIsIso = !numeric;
        else if (numeric === timeIsIso) {
          throw new DataError(`${file}:${number}: time '${cellText(bytes, start, end)}' mixes epoch numbers and dates in one column; use one form`);
        }
        if (!numeric) t = parseIsoTime(cellText(bytes, start, end), file, number);
        else if (binance) t = binanceTimeMs(t, file, number);
        values[0] = t;
      }
      cell++;
      if (end >= lineEnd) break;
      start = end + 1;
    }
    if (cell < needed) {
      throw new DataError(
        `${file}:${number}: row has ${cell} cell(s), expected ${binance ? 12 : `at least ${needed}`}; the file may be truncated — fix or remove the row`,
      );
    }
    time[n] = values[0];
    for (let c = 0; c < 5; c++) columns[c][n] = values[c + 1];
    line[n] = number;
    n++;
    position = next;
  }
  if (n === 0) throw new DataError(`${file} has ${headerless ? 'no rows' : 'a header but no rows'}`);
  time = time.slice(0, n);
  if (!timeIsIso && !binance) {
    const scale = epochUnitScale(time, file);
    if (scale !== 1) for (let i = 0; i < n; i++) time[i] *= scale;
  }
  const [open, high, low, close, volume] = columns.map((column) => column.slice(0, n));
  return {
    time,
    columns: { open, high, low, close, volume },
    meta: { symbol: meta.symbol ?? 'UNKNOWN', timeframe: meta.timeframe ?? 'unknown', exchange: meta.exchange, source: meta.source ?? file },
    source: file,
    line: line.slice(0, n),
  };
}

function isBlank(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) {
    const c = bytes[i];
    if (c !== 32 && c !== 13 && c !== 9) return false;
  }
  return true;
}

function cellText(bytes: Buffer, start: number, end: number): string {
  return bytes.toString('utf8', start, end).trim().replace(/^"(.*)"$/, '$1');
}

/** Write a frame as CSV with a header (time in epoch ms), atomically. */
export function writeCandlesCsv(file: string, frame: Frame): void {
  writeFileAtomic(file, frameToCsvBytes(frame));
}

/** CSV bytes of a frame: a header row, time in epoch ms, numbers in JavaScript's shortest round-trip form. */
export function frameToCsvBytes(frame: Frame): Buffer {
  const names = frame.names;
  const columns = names.map((name) => frame.column(name));
  const parts: Buffer[] = [Buffer.from(`time,${names.join(',')}\n`)];
  // Blocks of lines joined at once: one string for the whole file would hit V8's string length limit.
  let lines: string[] = [];
  for (let i = 0; i < frame.length; i++) {
    let line = String(frame.time[i]);
    for (const column of columns) line += ',' + column[i];
    lines.push(line);
    if (lines.length === 65_536) {
      parts.push(Buffer.from(lines.join('\n') + '\n'));
      lines = [];
    }
  }
  if (lines.length) parts.push(Buffer.from(lines.join('\n') + '\n'));
  return Buffer.concat(parts);
}

/** The first lines of a file (header detection), with their 1-based numbers. */
class LineReader {
  position = 0;
  number = 0;
  constructor(private readonly bytes: Buffer) {
    if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) this.position = 3; // UTF-8 byte order mark
  }

  nextText(): { text: string; number: number } | undefined {
    if (this.position >= this.bytes.length) return undefined;
    let end = this.bytes.indexOf(10, this.position);
    if (end < 0) end = this.bytes.length;
    const text = this.bytes.toString('utf8', this.position, end).replace(/\r$/, '');
    this.position = end + 1;
    this.number++;
    return { text, number: this.number };
  }

  /** The first non-empty line, without consuming anything. */
  peekNonEmpty(): { text: string; number: number } | undefined {
    const saved = [this.position, this.number];
    let line = this.nextText();
    while (line && line.text.trim() === '') line = this.nextText();
    [this.position, this.number] = saved;
    return line;
  }
}

function grow(values: Float64Array, capacity: number): Float64Array {
  const out = new Float64Array(capacity);
  out.set(values);
  return out;
}

function growInt(values: Int32Array, capacity: number): Int32Array {
  const out = new Int32Array(capacity);
  out.set(values);
  return out;
}

function splitCsvLine(line: string): string[] {
  return line.split(',').map((cell) => cell.trim().replace(/^"(.*)"$/, '$1'));
}

function isNumeric(cell: string): boolean {
  return cell !== '' && !Number.isNaN(Number(cell));
}

const POWERS_OF_TEN = Array.from({ length: 23 }, (_, k) => 10 ** k);

/**
 * A decimal number in bytes[start, end), or NaN. Plain decimals with fewer than 2^53 in the digits
 * are m / 10^k with both exact doubles, so one correctly rounded division gives the same double as
 * Number(); anything else (exponents, long mantissas, inf) falls back to Number().
 */
function parseDecimal(bytes: Buffer, start: number, end: number): number {
  while (start < end && (bytes[start] === 32 || bytes[start] === 34)) start++;
  while (end > start && (bytes[end - 1] === 32 || bytes[end - 1] === 34 || bytes[end - 1] === 13)) end--;
  if (start === end) return NaN;
  let i = start;
  let negative = false;
  const sign = bytes[i];
  if (sign === 45 || sign === 43) {
    negative = sign === 45;
    i++;
  }
  let mantissa = 0;
  let digits = 0;
  let decimals = 0;
  let dot = false;
  for (; i < end; i++) {
    const c = bytes[i];
    if (c >= 48 && c <= 57) {
      mantissa = mantissa * 10 + (c - 48);
      digits++;
      if (dot) decimals++;
    } else if (c === 46 && !dot) {
      dot = true;
    } else {
      return Number(bytes.toString('latin1', start, end));
    }
  }
  if (digits === 0) return NaN;
  if (mantissa >= 2 ** 53 || decimals > 22) return Number(bytes.toString('latin1', start, end));
  const value = decimals ? mantissa / POWERS_OF_TEN[decimals] : mantissa;
  return negative ? -value : value;
}

/** An ISO date (UTC when no zone is given) as epoch ms. */
function parseIsoTime(text: string, file: string, lineNumber: number): number {
  const iso = /^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00Z` : /[zZ]|[+-]\d{2}:?\d{2}$/.test(text) ? text : `${text.replace(' ', 'T')}Z`;
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) throw new DataError(`${file}:${lineNumber}: cannot read time '${text}'; use epoch milliseconds or ISO-8601`);
  return ms;
}

/**
 * Binance open times: milliseconds (13 digits, 2001–2286) or, in spot dumps since 2025, microseconds
 * (16 digits). Any other magnitude could be either or neither, so it is an error, not a guess.
 */
export function binanceTimeMs(value: number, file: string, lineNumber: number): number {
  if (value >= 1e12 && value < 1e13) return value;
  if (value >= 1e15 && value < 1e16) return value / 1000;
  throw new DataError(
    `${file}:${lineNumber}: open time ${value} is neither epoch milliseconds (13 digits) nor microseconds (16 digits); check that this is a Binance kline dump`,
  );
}

/**
 * Scale factor to epoch ms. Epoch seconds are ~1e9, milliseconds ~1e12, microseconds ~1e15 for dates
 * between 2001 and 2286: the magnitude decides. A file mixing units is ambiguous and an error.
 */
function epochUnitScale(times: Float64Array, file: string): number {
  const unitOf = (t: number): number => (t >= 1e14 ? 1e-3 : t >= 1e11 ? 1 : 1e3);
  const unit = unitOf(times[0]);
  for (const t of times) {
    if (unitOf(t) !== unit) throw new DataError(`${file}: time values mix epoch units (${times[0]} and ${t}); convert the file to one unit`);
  }
  return unit;
}
