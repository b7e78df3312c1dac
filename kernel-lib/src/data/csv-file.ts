import { Frame, type Candles, type FrameMeta, OHLCV_COLUMNS } from '../frame/frame';
import { DataError } from '../errors';
import * as fs from 'node:fs';
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { writeFileAtomic } from '../util/atomic';
import { availableCores, threadsFromEnv, workerScript } from '../util/threads';
import { newLargeFloat64Array } from '../util/huge-pages';
import { prefault } from '../util/prefault';
import { type RawCandles } from './raw-candles';

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
  /**
   * Threads for large files (default: the available cores, at most 4; env CANDLELAB_CSV_THREADS). The main
   * thread parses the first part of the rows, worker threads the others; 1 parses on the main thread only.
   */
  threads?: number;
  /** Bytes of rows per thread below which fewer threads are used (default 16 MB: a worker's start costs ~30 ms). */
  minBytesPerThread?: number;
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
 *
 * The file is read in chunks into one reused buffer (no whole-file copy: first-touch page faults on a
 * fresh 100 MB buffer cost more than the parsing) and parsed from the bytes: numbers go straight into
 * the columns through a fast path that is exact (see `scanNumber`), and anything unusual in a cell (quotes,
 * spaces, exponents, long mantissas, ISO times the fast path does not cover) goes through the general path.
 */
export function readCandlesCsvRaw(file: string, meta: Partial<FrameMeta> = {}, options: CsvReadOptions = {}): RawCandles {
  const source = new ChunkedFile(file);
  let raw: RawCandles | undefined;
  try {
    raw = parseCandlesCsv(source, file, meta, options);
  } finally {
    source.close();
  }
  if (raw) return raw;
  // A part failed (a bad row, mixed time forms, a worker that failed): the whole file on one thread,
  // so that an error names the same line with the same message.
  const again = new ChunkedFile(file);
  try {
    return parseCandlesCsv(again, file, meta, { ...options, threads: 1 })!;
  } finally {
    again.close();
  }
}

let lastThreads = 1;

/** Threads the last successful CSV parse in this thread used (1: the main thread alone). */
export function lastCsvParseThreads(): number {
  return lastThreads;
}

/** The rows of a CSV file; undefined when a parallel parse failed (then parse again with threads: 1). */
function parseCandlesCsv(source: ChunkedFile, file: string, meta: Partial<FrameMeta>, options: CsvReadOptions): RawCandles | undefined {
  source.fillLines(8);
  const lines = new LineReader(source.buffer, source.end);
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
  const target = new Array<number>(needed).fill(-1);
  target[timeIndex] = 0;
  indexes.forEach((index, c) => (target[index] = c + 1));
  const lineBytes = Math.max(12, lines.averageLineBytes());
  const layout: CsvRowLayout = { target, needed, binance, names, lineBytes };

  // Rows expected from the first lines' length; more rows grow the columns, fewer leave pages untouched.
  const capacity = rowCapacity(source.size, lineBytes);
  // typed as the plain array types (not Float64Array<ArrayBuffer>) so grow() results fit under any @types/node
  const line: Int32Array = new Int32Array(capacity);
  // out[0] is time, out[1…5] open…volume
  const out: Float64Array[] = [0, 1, 2, 3, 4, 5].map(() => newLargeFloat64Array(capacity));
  let rows: CsvRows | undefined;
  const parts = csvParts(source, lines.position, options);
  // On one thread, the spare core faults in the rows expected (not the margin) ahead of the parse writing
  // them; a parse on several threads has no spare core (the helper would share the worker's: no gain measured).
  const expected = Math.min(capacity, Math.ceil(source.size / lineBytes));
  if (!parts) prefault([...out, line].map((column) => column.subarray(0, expected)));
  lastThreads = 1;
  if (parts) {
    rows = parseCsvParts(source, parts, lines.position, lines.number + 1, layout, file, out, line);
    if (!rows) return undefined; // an error or a failed worker: the caller parses the whole file on one thread
    lastThreads = parts.length + 1;
  } else rows = parseCsvRows(source, lines.position, lines.number + 1, layout, file, out, line);
  const n = rows.n;
  const timeIsIso = rows.timeIsIso;
  if (n === 0) throw new DataError(`${file} has ${headerless ? 'no rows' : 'a header but no rows'}`);
  // Views, not copies, when most of the capacity was used: the unused tail was never touched.
  const fit = <T extends Float64Array | Int32Array>(values: T): T => (n * 2 >= values.length ? values.subarray(0, n) : values.slice(0, n)) as T;
  const time = fit(rows.out[0]);
  if (!timeIsIso && !binance) {
    const scale = epochUnitScale(time, file);
    if (scale !== 1) for (let i = 0; i < n; i++) time[i] *= scale;
  }
  const [open, high, low, close, volume] = rows.out.slice(1).map(fit);
  return {
    time,
    columns: { open, high, low, close, volume },
    meta: { symbol: meta.symbol ?? 'UNKNOWN', timeframe: meta.timeframe ?? 'unknown', exchange: meta.exchange, source: meta.source ?? file },
    source: file,
    line: fit(rows.line),
  };
}

/** Rows expected in `bytes` of lines of about `lineBytes` each (10% more, so a slightly shorter mean still fits). */
function rowCapacity(bytes: number, lineBytes: number): number {
  return Math.max(16, Math.ceil((bytes / lineBytes) * 1.1) + 64);
}

/** How the cells of a data row are read (resolved from the header or the first row on the main thread). */
export type CsvRowLayout = {
  /** Per cell of a row: -1 skipped, 0 time, 1…5 open…volume. */
  target: number[];
  /** Cells a row must have. */
  needed: number;
  binance: boolean;
  /** Column names, for errors. */
  names: string[];
  /** Mean bytes per line of the first lines (capacity estimates). */
  lineBytes: number;
};

/** Rows parsed from a range of a file: `n` rows in the first n places of `out` and `line`. */
export type CsvRows = {
  n: number;
  out: Float64Array[];
  line: Int32Array;
  /** The time column's form (undefined: no rows). */
  timeIsIso: boolean | undefined;
  /** The number of the line after the last one parsed. */
  number: number;
};

/**
 * The data rows of `source` from `position` in its buffer to the end of its data (the end of the file
 * or of its range), the first line numbered `number`; the values go into `out` and `line` from row 0,
 * which grow (new arrays in the result) when they are full. Errors are one-line DataErrors naming the
 * file and line.
 */
export function parseCsvRows(
  source: ChunkedFile,
  position: number,
  number: number,
  layout: CsvRowLayout,
  file: string,
  out: Float64Array[],
  line: Int32Array,
): CsvRows {
  const target = Int8Array.from(layout.target);
  const { needed, binance, names } = layout;
  let capacity = line.length;
  let n = 0;
  let timeIsIso: boolean | undefined;
  for (;;) {
    const bytes = source.buffer;
    const limit = source.completeEnd();
    while (position < limit) {
      const c0 = bytes[position];
      if (c0 === 10 || c0 === 13 || c0 === 32 || c0 === 9) {
        // maybe a blank line
        let lineEnd = position;
        while (lineEnd < limit && bytes[lineEnd] !== 10) lineEnd++;
        if (isBlank(bytes, position, lineEnd)) {
          position = lineEnd + 1;
          number++;
          continue;
        }
      }
      if (n === capacity) {
        capacity *= 2;
        line = growInt(line, capacity);
        out = out.map((column) => grow(column, capacity));
      }
      let cell = 0;
      let p = position;
      for (;;) {
        const slot = target[cell];
        let end: number;
        if (slot > 0) {
          let value = scanNumber(bytes, p, limit);
          end = scanEnd;
          if (end < 0) {
            end = cellEnd(bytes, p, limit);
            value = parseDecimal(bytes, p, end);
            if (Number.isNaN(value)) {
              const text = bytes.toString('utf8', p, end).trim();
              throw new DataError(`${file}:${number}: '${names[cell]}' is not a number ('${text}'); fix or remove the row`);
            }
          }
          out[slot][n] = value;
        } else if (slot === 0) {
          let t = scanNumber(bytes, p, limit);
          end = scanEnd;
          let numeric = true;
          if (end < 0) {
            end = cellEnd(bytes, p, limit);
            t = timeIsIso === true ? isoTimeFromBytes(bytes, p, end) : NaN;
            if (Number.isNaN(t)) {
              t = parseDecimal(bytes, p, end);
              numeric = !Number.isNaN(t);
              if (!numeric) t = parseIsoTime(cellText(bytes, p, end), file, number);
            } else numeric = false;
          }
          if (timeIsIso === undefined) timeIsIso = !numeric;
          else if (numeric === timeIsIso) {
            throw new DataError(`${file}:${number}: time '${cellText(bytes, p, end)}' mixes epoch numbers and dates in one column; use one form`);
          }
          if (numeric && binance) t = binanceTimeMs(t, file, number);
          out[0][n] = t;
        } else {
          end = cellEnd(bytes, p, limit);
        }
        cell++;
        // a cell ends at a comma, at the line's end or at the end of the data
        if (end >= limit || bytes[end] === 10 || cell === needed) {
          p = end;
          break;
        }
        if (bytes[end] === 13 && (end + 1 >= limit || bytes[end + 1] === 10)) {
          p = end + 1;
          break;
        }
        p = end + 1;
      }
      if (cell < needed) {
        throw new DataError(
          `${file}:${number}: row has ${cell} cell(s), expected ${binance ? 12 : `at least ${needed}`}; the file may be truncated — fix or remove the row`,
        );
      }
      while (p < limit && bytes[p] !== 10) p++;
      line[n] = number;
      n++;
      number++;
      position = p + 1;
    }
    if (!source.next(position)) break;
    position = 0;
  }
  return { n, out, line, timeIsIso, number };
}

const MAX_THREADS = 4;
const MIN_BYTES_PER_THREAD = 16 << 20;
/** How long past 4× the main part's time a worker may take before it counts as failed (it could not start or crashed). */
const WORKER_PATIENCE_MS = 3000;
/** About what the main thread parses while a worker starts. */
const WORKER_START_BYTES = 6 << 20;

/**
 * Where the rows are split for a parallel parse: the file offsets of the parts' starts after the
 * first (each just after a newline), or undefined for one thread (a small file, one core, lines too
 * long to find an end near a split point).
 */
function csvParts(source: ChunkedFile, position: number, options: CsvReadOptions): number[] | undefined {
  const wanted = options.threads ?? threadsFromEnv(process.env.CANDLELAB_CSV_THREADS) ?? Math.min(MAX_THREADS, availableCores());
  const start = source.fileOffset(position);
  const end = source.size; // the main reader covers the whole file
  const bytes = end - start;
  const count = Math.min(wanted, Math.floor(bytes / Math.max(1, options.minBytesPerThread ?? MIN_BYTES_PER_THREAD)));
  if (count < 2 || !fs.existsSync(csvWorkerScript())) return undefined;
  const starts: number[] = [];
  const probe = Buffer.allocUnsafe(64 << 10);
  let previous = source.readOffset(); // the main part holds at least what was read for the header
  for (let k = 1; k < count; k++) {
    // The main thread starts at once, a worker after its start (~30-40 ms): the main part is longer by about that much.
    const headStart = Math.min(WORKER_START_BYTES, bytes / (2 * count));
    const share = (bytes - headStart) / count;
    const guess = Math.max(previous, start + Math.floor(headStart + share * k));
    const got = fs.readSync(source.descriptor(), probe, 0, probe.length, guess);
    const newline = probe.subarray(0, got).indexOf(10);
    if (newline < 0) return undefined;
    const at = guess + newline + 1;
    if (at >= end) break;
    starts.push(at);
    previous = at + 1;
  }
  return starts.length ? starts : undefined;
}

/**
 * The worker script: beside this module in dist, or dist's copy when this module runs from src (vitest).
 * CANDLELAB_CSV_WORKER names another one (tests of worker failures).
 */
function csvWorkerScript(): string {
  return workerScript(__dirname, 'data/csv-worker.js', process.env.CANDLELAB_CSV_WORKER);
}

/** Rows of the output columns touched at a time while the main thread waits for the workers. */
const PREFAULT_ROWS = 32_768;

/** What a CSV worker gets. */
export type CsvWorkerData = {
  file: string;
  start: number;
  stop: number;
  layout: CsvRowLayout;
  /** [0]: 0 while working, 1 when the result is on the port. */
  done: Int32Array;
  port: MessagePort;
};

/** What a CSV worker posts: its rows (line numbers from 0 at its start), or that it failed. */
export type CsvWorkerResult =
  | { ok: true; n: number; timeIsIso: boolean | undefined; lines: number; out: Float64Array[]; line: Int32Array }
  | { ok: false; error: string };

/** The worker's side: parse its range, post the rows (buffers transferred), signal. */
export function runCsvWorker(data: CsvWorkerData): void {
  let result: CsvWorkerResult;
  let transfer: ArrayBuffer[] = [];
  try {
    const source = new ChunkedFile(data.file, data.start, data.stop);
    try {
      const capacity = rowCapacity(source.size, data.layout.lineBytes);
      const out = [0, 1, 2, 3, 4, 5].map(() => newLargeFloat64Array(capacity));
      const rows = parseCsvRows(source, 0, 0, data.layout, data.file, out, new Int32Array(capacity));
      result = { ok: true, n: rows.n, timeIsIso: rows.timeIsIso, lines: rows.number, out: rows.out, line: rows.line };
      transfer = [...rows.out.map((column) => column.buffer as ArrayBuffer), rows.line.buffer as ArrayBuffer];
    } finally {
      source.close();
    }
  } catch (error) {
    result = { ok: false, error: String((error as Error)?.message ?? error) };
    transfer = [];
  }
  data.port.postMessage(result, transfer);
  Atomics.store(data.done, 0, 1);
  Atomics.notify(data.done, 0);
}

/**
 * Parse the rows on several threads: workers take the parts from `starts` on, the main thread the first
 * part (into `out` and `line`, sized for the whole file), then the workers' rows are copied in after its
 * own with their line numbers made absolute. Undefined when any part failed or a worker did not answer:
 * the caller then parses the whole file on one thread (errors exactly as before).
 */
function parseCsvParts(
  source: ChunkedFile,
  starts: number[],
  position: number,
  number: number,
  layout: CsvRowLayout,
  file: string,
  out: Float64Array[],
  line: Int32Array,
): CsvRows | undefined {
  const workers: { worker: Worker; port: MessagePort; done: Int32Array }[] = [];
  try {
    const script = csvWorkerScript();
    for (let k = 0; k < starts.length; k++) {
      const { port1, port2 } = new MessageChannel();
      const done = new Int32Array(new SharedArrayBuffer(4));
      const stop = k + 1 < starts.length ? starts[k + 1] : source.size; // the size the main thread saw
      const workerData: CsvWorkerData = { file, start: starts[k], stop, layout, done, port: port2 };
      let worker: Worker;
      try {
        worker = new Worker(script, { workerData, transferList: [port2] });
      } catch {
        port1.close();
        return undefined;
      }
      worker.unref();
      worker.on('error', () => {}); // failures show as no answer; never an unhandled 'error' event
      workers.push({ worker, port: port1, done });
    }
    source.setStop(starts[0]);
    const began = performance.now();
    let rows: CsvRows;
    try {
      rows = parseCsvRows(source, position, number, layout, file, out, line);
    } catch (error) {
      if (error instanceof DataError) return undefined;
      throw error;
    }
    // A worker that has not answered long after the main part took its time has failed (cannot start, crashed).
    const deadline = performance.now() + WORKER_PATIENCE_MS + 4 * (performance.now() - began);
    let n = rows.n;
    let timeIsIso = rows.timeIsIso;
    let lineNumber = rows.number;
    // While the last worker is still parsing, touch the pages its rows and the others' will be copied into
    // (a first-touch page fault costs ~4× the copy of its page), up to the rows expected from the bytes left.
    const expected = Math.min(rows.line.length, n + Math.ceil((source.size - starts[0]) / layout.lineBytes));
    const last = workers[workers.length - 1].done;
    for (let from = n; from < expected && Atomics.load(last, 0) === 0; from += PREFAULT_ROWS) {
      const to = Math.min(expected, from + PREFAULT_ROWS);
      for (const column of rows.out) column.fill(0, from, to);
      rows.line.fill(0, from, to);
    }
    const parts: Extract<CsvWorkerResult, { ok: true }>[] = [];
    for (const { port, done } of workers) {
      if (Atomics.wait(done, 0, 0, Math.max(0, deadline - performance.now())) === 'timed-out') return undefined;
      const message = receiveMessageOnPort(port)?.message as CsvWorkerResult | undefined;
      if (!message || !message.ok) return undefined;
      if (message.timeIsIso !== undefined) {
        if (timeIsIso === undefined) timeIsIso = message.timeIsIso;
        else if (timeIsIso !== message.timeIsIso) return undefined; // mixed time forms: the one-thread error
      }
      parts.push(message);
    }
    const total = parts.reduce((sum, part) => sum + part.n, n);
    let columns = rows.out;
    let lineOut = rows.line;
    if (total > lineOut.length) {
      columns = columns.map((column) => grow(column, total));
      lineOut = growInt(lineOut, total);
    }
    for (const part of parts) {
      for (let c = 0; c < 6; c++) columns[c].set(part.out[c].subarray(0, part.n), n);
      const from = part.line;
      for (let i = 0; i < part.n; i++) lineOut[n + i] = from[i] + lineNumber;
      n += part.n;
      lineNumber += part.lines;
    }
    return { n, out: columns, line: lineOut, timeIsIso, number: lineNumber };
  } finally {
    for (const { worker, port } of workers) {
      port.close();
      void worker.terminate().catch(() => {});
    }
  }
}

/** The end of the cell starting at p: the next comma or newline (or the end of the data). */
function cellEnd(bytes: Uint8Array, p: number, limit: number): number {
  while (p < limit) {
    const c = bytes[p];
    if (c === 44 || c === 10) return p;
    p++;
  }
  return limit;
}

/** Set by scanNumber: where the number's cell ends, or -1 when the fast path cannot read the cell. */
let scanEnd = -1;

const TWO_53 = 2 ** 53;

/**
 * The fast path for a plain decimal cell ([+-]digits[.digits], at least one digit, ended by a comma,
 * a newline, CRLF or the end of the data): its value, equal to Number(text) bit for bit, with `scanEnd`
 * at the delimiter. Up to 15 digits: the digits form an integer m < 2^53 and 10^k (k ≤ 22 decimals) is
 * an exact double, so one correctly rounded division gives the correctly rounded value (Clinger's fast
 * path). 16 to 19 digits: a close candidate is checked exactly and stepped to the right double (see
 * `roundedQuotient`). Anything else sets `scanEnd` to -1 (the caller takes the general path).
 */
function scanNumber(bytes: Uint8Array, p: number, limit: number): number {
  // no end checks: a digit run stops at the newline that ends every line, or at the sentinel newline after the data
  let c = bytes[p];
  let negative = false;
  if (c === 45 || c === 43) {
    negative = c === 45;
    c = bytes[++p];
  }
  let head = 0; // the first 15 digits
  let tail = 0; // digits 16…19
  let digits = 0;
  let decimals = 0;
  let dot = false;
  for (;;) {
    if (c >= 48 && c <= 57) {
      if (digits < 15) head = head * 10 + (c - 48);
      else tail = tail * 10 + (c - 48);
      digits++;
      if (dot) decimals++;
    } else if (c === 46 && !dot) dot = true;
    else break;
    c = bytes[++p];
  }
  if ((c !== 44 && c !== 10 && c !== 13) || digits === 0 || digits > 19 || decimals > 22 || (c === 13 && p + 1 < limit && bytes[p + 1] !== 10)) {
    scanEnd = -1;
    return NaN;
  }
  let value: number;
  if (digits <= 15) value = decimals === 0 ? head : head / POWERS_OF_TEN[decimals];
  else {
    value = roundedQuotient(head, tail, digits - 15, decimals);
    if (Number.isNaN(value)) {
      scanEnd = -1;
      return NaN;
    }
  }
  scanEnd = p;
  return negative ? -value : value;
}

// Exact arithmetic on doubles (Dekker, Knuth, Shewchuk): products and sums as unevaluated sums of doubles.
let twoHigh = 0;
let twoLow = 0;
function twoSum(a: number, b: number): void {
  const s = a + b;
  const bb = s - a;
  twoHigh = s;
  twoLow = a - (s - bb) + (b - bb);
}
const SPLITTER = 134_217_729; // 2^27 + 1
function twoProduct(a: number, b: number): void {
  const p = a * b;
  let t = SPLITTER * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = SPLITTER * b;
  const bh = t - (t - b);
  const bl = b - bh;
  twoHigh = p;
  twoLow = ah * bh - p + ah * bl + al * bh + al * bl;
}

/**
 * The sign of the exact sum a + b + c (Shewchuk's grow-expansion: the parts are nonoverlapping, the
 * largest nonzero one has the sum's sign).
 */
function exactSign3(a: number, b: number, c: number): number {
  twoSum(b, a);
  const q = twoHigh;
  const h0 = twoLow;
  twoSum(c, h0);
  const low = twoLow;
  twoSum(twoHigh, q);
  const top = twoHigh;
  const middle = twoLow;
  if (top !== 0) return top > 0 ? 1 : -1;
  if (middle !== 0) return middle > 0 ? 1 : -1;
  return low > 0 ? 1 : low < 0 ? -1 : 0;
}

const bits = new Float64Array(2);
const words = new Uint32Array(bits.buffer); // little-endian: words[1] holds the sign, exponent and top mantissa bits

/**
 * The double nearest to m / 10^d for m = head · 10^k + tail (16 to 19 digits, so m < 2^64 is not always
 * a double), or NaN when this cannot tell (a tie, a power of two, a candidate too far). A candidate x is
 * the right one exactly when |m − x·10^d| < ulp(x)·10^d / 2. m = mHigh + mLow and x·10^d = P + p without
 * rounding (Dekker's product); mHigh − P is exact (Sterbenz: both are within a few ulps of m), so
 * E = (mHigh − P) + mLow is exact too (small parts of integers), and r = E − p is compared with
 * ±ulp(x)·10^d / 2 by an exact sign.
 */
function roundedQuotient(head: number, tail: number, k: number, decimals: number): number {
  const scale = POWERS_OF_TEN[decimals];
  twoProduct(head, POWERS_OF_TEN[k]);
  const a = twoLow;
  twoSum(twoHigh, tail);
  const mHigh = twoHigh;
  const mLow = twoLow + a;
  let x = (mHigh + mLow) / scale;
  for (let step = 0; step < 3; step++) {
    bits[0] = x;
    const exponent = (words[1] >>> 20) & 0x7ff;
    // a power of two has uneven neighbours; tiny, huge or zero values: the general path
    if ((words[0] === 0 && (words[1] & 0xfffff) === 0) || exponent <= 53 || exponent === 0x7ff) return NaN;
    words[3] = (exponent - 53) << 20; // ulp(x) / 2
    words[2] = 0;
    const halfGap = bits[1] * scale;
    twoProduct(x, scale);
    const p = twoLow;
    const e = mHigh - twoHigh + mLow;
    // r = e − p rounded once is within a relative 2^-53 of the exact r: well inside ±halfGap, x is the one
    // (the exact signs below would say so too); near the edge, the exact test.
    const r = e - p;
    if (r < halfGap * 0.99 && r > -halfGap * 0.99) return x;
    const above = exactSign3(e, -p, -halfGap); // sign of r − halfGap
    if (above > 0) {
      if (words[0] === 0xffffffff) {
        words[0] = 0;
        words[1]++;
      } else words[0]++;
      x = bits[0];
      continue;
    }
    const below = exactSign3(e, -p, halfGap); // sign of r + halfGap
    if (below < 0) {
      if (words[0] === 0) {
        words[0] = 0xffffffff;
        words[1]--;
      } else words[0]--;
      x = bits[0];
      continue;
    }
    return above === 0 || below === 0 ? NaN : x; // a tie goes to the general path
  }
  return NaN;
}

/**
 * An ISO time in bytes[start, end) as epoch ms, for the common forms only: YYYY-MM-DD, optionally with
 * 'T' or ' ' and HH:MM[:SS[.f…fff]], optionally with Z or ±HH:MM / ±HHMM (no zone: UTC). NaN for
 * anything else (or a day past the 28th, an hour of 24…), which the general path (Date.parse) reads:
 * the values are equal to it.
 */
export function isoTimeFromBytes(bytes: Uint8Array, start: number, end: number): number {
  while (start < end && (bytes[start] === 32 || bytes[start] === 9)) start++;
  while (end > start && (bytes[end - 1] === 32 || bytes[end - 1] === 9 || bytes[end - 1] === 13)) end--;
  if (end - start >= 2 && bytes[start] === 34 && bytes[end - 1] === 34) {
    start++;
    end--;
  }
  const digit = (i: number): number => {
    const c = i < end ? bytes[i] - 48 : -1;
    return c >= 0 && c <= 9 ? c : -1000;
  };
  const two = (i: number): number => digit(i) * 10 + digit(i + 1);
  if (end - start < 10 || bytes[start + 4] !== 45 || bytes[start + 7] !== 45) return NaN;
  const year = digit(start) * 1000 + digit(start + 1) * 100 + two(start + 2);
  const month = two(start + 5);
  const day = two(start + 8);
  if (year < 0 || month < 1 || month > 12 || day < 1 || day > 28) return NaN;
  let ms = daysFromCivil(year, month, day) * 86_400_000;
  let i = start + 10;
  if (i === end) return ms;
  const sep = bytes[i];
  if ((sep !== 84 && sep !== 32) || end - i < 6 || bytes[i + 3] !== 58) return NaN;
  const hour = two(i + 1);
  const minute = two(i + 4);
  if (hour < 0 || hour > 23 || minute < 0 || minute > 59) return NaN;
  ms += hour * 3_600_000 + minute * 60_000;
  i += 6;
  if (i < end && bytes[i] === 58) {
    const second = two(i + 1);
    if (second < 0 || second > 59) return NaN;
    ms += second * 1000;
    i += 3;
    if (i < end && bytes[i] === 46) {
      i++;
      let fraction = 0;
      let count = 0;
      while (i < end && bytes[i] >= 48 && bytes[i] <= 57) {
        if (count < 3) fraction = fraction * 10 + (bytes[i] - 48);
        count++;
        i++;
      }
      if (count === 0 || count > 3) return NaN;
      ms += count === 1 ? fraction * 100 : count === 2 ? fraction * 10 : fraction;
    }
  }
  if (i === end) return ms; // no zone: UTC
  const zone = bytes[i];
  if ((zone === 90 || zone === 122) && i + 1 === end) return ms;
  if (zone !== 43 && zone !== 45) return NaN;
  let offsetHour: number;
  let offsetMinute: number;
  if (end - i === 6 && bytes[i + 3] === 58) {
    offsetHour = two(i + 1);
    offsetMinute = two(i + 4);
  } else if (end - i === 5) {
    offsetHour = two(i + 1);
    offsetMinute = two(i + 3);
  } else return NaN;
  if (offsetHour < 0 || offsetHour > 23 || offsetMinute < 0 || offsetMinute > 59) return NaN;
  const offset = offsetHour * 3_600_000 + offsetMinute * 60_000;
  return zone === 43 ? ms - offset : ms + offset;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

/** A file (or a byte range of it) read in chunks into one reused buffer; `next` keeps the unfinished last line. */
export class ChunkedFile {
  private static shared: Buffer | undefined;
  buffer: Buffer;
  /** Bytes of data in `buffer`. */
  end = 0;
  /** Bytes in the file (or in the range). */
  readonly size: number;
  private readonly fd: number;
  /** The file offset of the next read. */
  private offset: number;
  /** Where reading stops (the end of the file or of the range). */
  private stop = Infinity;
  private eof = false;

  /** The whole file, or the bytes [start, stop) of it. */
  constructor(
    private readonly file: string,
    start = 0,
    stop?: number,
  ) {
    this.offset = start;
    try {
      this.fd = fs.openSync(file, 'r');
      const fileSize = fs.fstatSync(this.fd).size;
      this.stop = Math.min(stop ?? fileSize, fileSize);
      this.size = Math.max(0, this.stop - start);
    } catch (error) {
      throw new DataError(`cannot read data file ${file}: ${(error as NodeJS.ErrnoException).code ?? error}; check the path`);
    }
    // One 1 MB buffer kept for the process (faulted in once); a second reader at once gets its own.
    const shared = ChunkedFile.shared;
    ChunkedFile.shared = undefined;
    this.buffer = shared ?? Buffer.allocUnsafeSlow(CHUNK_BYTES);
    this.read();
  }

  /** Read until the buffer holds `count` newlines or the whole file. */
  fillLines(count: number): void {
    for (;;) {
      let found = 0;
      for (let i = this.buffer.indexOf(10); i >= 0 && i < this.end && found < count; i = this.buffer.indexOf(10, i + 1)) found++;
      if (found >= count || this.eof) return;
      this.grow();
      this.read();
    }
  }

  /** The end of the last complete line in the buffer (all the data at the end of the file). */
  completeEnd(): number {
    if (this.eof) return this.end;
    const last = this.buffer.lastIndexOf(10, this.end - 1);
    return last + 1;
  }

  /** Drop the bytes before `consumed`, read more; false at the end of the file. */
  next(consumed: number): boolean {
    if (this.eof && consumed >= this.end) return false;
    const left = this.end - consumed;
    if (left > 0) this.buffer.copy(this.buffer, 0, consumed, this.end);
    this.end = left;
    if (left >= this.buffer.length - 1) this.grow(); // a line longer than the buffer
    this.read();
    // A line without its end at the end of the data was handled by completeEnd; nothing new: done.
    return this.end > 0;
  }

  /** The file offset of bytes[position] of the buffer. */
  fileOffset(position: number): number {
    return this.offset - this.end + position;
  }

  /** How far the file has been read. */
  readOffset(): number {
    return this.offset;
  }

  /** Stop reading at `stop` (not yet read): the data ends there. */
  setStop(stop: number): void {
    if (stop < this.offset) throw new Error('ChunkedFile.setStop: already read past the stop');
    this.stop = stop;
  }

  /** The file descriptor (for reads outside the chunks). */
  descriptor(): number {
    return this.fd;
  }

  close(): void {
    fs.closeSync(this.fd);
    if (this.buffer.length === CHUNK_BYTES) ChunkedFile.shared = this.buffer;
  }

  private grow(): void {
    const bigger = Buffer.allocUnsafeSlow(this.buffer.length * 2);
    this.buffer.copy(bigger, 0, 0, this.end);
    this.buffer = bigger;
  }

  private read(): void {
    // one byte kept free: at the end of the data, a newline after it (a sentinel for scanNumber)
    while (this.end < this.buffer.length - 1 && !this.eof) {
      let got: number;
      try {
        got = fs.readSync(this.fd, this.buffer, this.end, Math.min(this.buffer.length - 1 - this.end, this.stop - this.offset), this.offset);
      } catch (error) {
        throw new DataError(`cannot read data file ${this.file}: ${(error as NodeJS.ErrnoException).code ?? error}; check the path`);
      }
      if (got === 0) this.eof = true;
      this.end += got;
      this.offset += got;
    }
    if (this.eof) this.buffer[this.end] = 10;
  }
}

const CHUNK_BYTES = 1 << 20;

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
  constructor(
    private readonly bytes: Buffer,
    private readonly end: number = bytes.length,
  ) {
    if (end >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) this.position = 3; // UTF-8 byte order mark
  }

  /** The mean length of the lines in the bytes read so far (at least one line). */
  averageLineBytes(): number {
    let lines = 0;
    let last = 0;
    for (let i = this.bytes.indexOf(10); i >= 0 && i < this.end; i = this.bytes.indexOf(10, i + 1)) {
      lines++;
      last = i + 1;
    }
    return lines ? last / lines : this.end;
  }

  nextText(): { text: string; number: number } | undefined {
    if (this.position >= this.end) return undefined;
    let end = this.bytes.indexOf(10, this.position);
    if (end < 0 || end >= this.end) end = this.end;
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
  const out = newLargeFloat64Array(capacity);
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
  // the unit's range [low, high) (NaN compares false: the unit check below names it)
  const low = unit === 1e-3 ? 1e14 : unit === 1 ? 1e11 : -Infinity;
  const high = unit === 1e-3 ? Infinity : unit === 1 ? 1e14 : 1e11;
  const n = times.length;
  for (let i = 0; i < n; i++) {
    const t = times[i];
    if (t >= low && t < high) continue;
    if (unitOf(t) !== unit) throw new DataError(`${file}: time values mix epoch units (${times[0]} and ${t}); convert the file to one unit`);
  }
  return unit;
}
