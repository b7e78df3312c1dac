import type * as Danfo from 'danfojs-node';
import { DataError } from '../errors';
import { withoutTfNotices } from '../models/neural/tf';
import { showRecords } from '../report/show';
import { Frame, isoTime, type FrameMeta } from './frame';

/**
 * Interop with danfojs-node (pandas-like DataFrames for JavaScript), for exploring a stage's output
 * with describe / groupby / column arithmetic and handing the result back to the pipeline.
 *
 * Layout: a danfo frame made by `toDanfo` has the frame's epoch-ms times as its index and one float
 * column per frame column (a `time` column too with `timeColumn: true`, for operations that reset the
 * index, like groupby). `fromDanfo` takes times from a `time` column when there is one, else the index.
 *
 * Copies: danfo keeps its data as row arrays (plus a column-major copy for fast column access), so
 * `toDanfo` cannot share the Float64Array buffers and `fromDanfo` builds fresh Float64Arrays. Both are
 * O(rows × columns); keep danfo for exploring, not for hot paths.
 *
 * danfojs-node is loaded on first use, not by `import 'candlelab'` (it pulls in tfjs, mathjs, xlsx).
 */

export type DanfoModule = typeof Danfo;
export type DanfoFrame = Danfo.DataFrame;
export type DanfoSeries = Danfo.Series;

let danfoModule: DanfoModule | undefined;

/** The danfojs-node module, loaded on first call. */
export function danfo(): DanfoModule {
  if (!danfoModule) {
    try {
      danfoModule = require('danfojs-node') as DanfoModule;
      // Write a first tensor now, without tfjs's "install the node backend" banner (danfo's first tensor would print it).
      const tf = danfoModule.tensorflow;
      withoutTfNotices(() => tf.scalar(0).dispose());
    } catch (error) {
      throw new DataError(`danfojs-node failed to load (${(error as Error).message.split('\n')[0]}); run npm install in the workspace`);
    }
  }
  return danfoModule;
}

// The metadata of frames made by toDanfo, so fromDanfo(toDanfo(frame)) needs no meta argument.
const metaOf = new WeakMap<object, FrameMeta>();

export type ToDanfoOptions = {
  /** Also put the epoch-ms times in a leading `time` column (survives groupby / resetIndex). Default false. */
  readonly timeColumn?: boolean;
};

/** A danfo DataFrame of the frame: index = epoch-ms times, float32-typed columns holding the exact float64 values (NaN stays NaN). */
export function toDanfo(frame: Frame, options: ToDanfoOptions = {}): DanfoFrame {
  const dfd = danfo();
  const names = frame.names;
  if (options.timeColumn && frame.has('time')) throw new DataError(`frame already has a column 'time'; convert without timeColumn`);
  const sources = [...(options.timeColumn ? [frame.time] : []), ...names.map((name) => frame.column(name))];
  const columnNames = [...(options.timeColumn ? ['time'] : []), ...names];
  // danfo's own loader transposes plain arrays only (not Float64Arrays), so the row arrays it keeps are
  // built here directly: one copy instead of two.
  const rows = Array.from({ length: frame.length }, (_, i) => sources.map((values) => values[i]));
  // danfo infers int32 for whole numbers (volume, time); 'float32' is its only float dtype label and
  // only matters when danfo builds a tensor: the JS numbers themselves stay float64.
  const dtypes = columnNames.map(() => 'float32');
  const df = new dfd.DataFrame(rows, { index: Array.from(frame.time), columns: columnNames, dtypes });
  metaOf.set(df, frame.meta);
  return df;
}

export type FromDanfoOptions = {
  /** Series metadata; defaults to the frame's that `toDanfo` made this DataFrame from, and is required otherwise. */
  readonly meta?: FrameMeta;
  /** Where the times are: 'index', or a column name. Default: a `time` column when present, else the index. */
  readonly time?: 'index' | string;
  /** Columns to take (default: every column but the time column; string columns must then be left out). */
  readonly columns?: readonly string[];
};

/** A candlelab Frame from a danfo DataFrame or Series (times: epoch ms, Date or ISO strings; null/undefined → NaN; booleans → 1/0). */
export function fromDanfo(df: DanfoFrame | DanfoSeries, options: FromDanfoOptions = {}): Frame {
  const meta = options.meta ?? metaOf.get(df);
  if (!meta) throw new DataError('fromDanfo needs meta ({ symbol, timeframe }) for a DataFrame not made by toDanfo; pass { meta: candles.meta }');
  const frame = asDataFrame(df);
  const timeSource = options.time ?? (frame.columns.includes('time') ? 'time' : 'index');
  if (timeSource !== 'index' && !frame.columns.includes(timeSource)) {
    throw new DataError(`danfo frame has no column '${timeSource}' for times; it has: ${frame.columns.join(', ')}`);
  }
  const rawTimes = timeSource === 'index' ? frame.index : (frame.column(timeSource).values as unknown[]);
  const time = Float64Array.from(rawTimes, (value, row) => toEpochMs(value, row, timeSource));
  const names = options.columns ?? frame.columns.filter((name) => name !== timeSource);
  const columns: Record<string, Float64Array> = {};
  for (const name of names) {
    if (!frame.columns.includes(name)) throw new DataError(`danfo frame has no column '${name}'; it has: ${frame.columns.join(', ')}`);
    const values = frame.column(name).values as unknown[];
    columns[name] = Float64Array.from(values, (value, row) => toNumber(value, name, row));
  }
  return Frame.fromColumns(time, columns, meta);
}

/** Whether df is a Series (danfo's operations return danfojs-base classes, so `instanceof` against danfojs-node's would miss them). */
function isSeries(df: DanfoFrame | DanfoSeries): df is DanfoSeries {
  return df.ndim === 1;
}

/** A Series as a one-column DataFrame with the same index (a DataFrame as it is). */
function asDataFrame(df: DanfoFrame | DanfoSeries): DanfoFrame {
  if (!isSeries(df)) return df;
  return new (danfo().DataFrame)({ [df.columns[0] ?? 'value']: df.values as unknown[] }, { index: df.index });
}

function toNumber(value: unknown, column: string, row: number): number {
  if (typeof value === 'number') return value;
  if (value === null || value === undefined) return NaN;
  if (typeof value === 'boolean') return value ? 1 : 0;
  throw new DataError(`danfo column '${column}' holds ${JSON.stringify(value)} at row ${row}, not a number; leave it out with { columns: [...] }`);
}

function toEpochMs(value: unknown, row: number, source: string): number {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (value instanceof Date && Number.isFinite(value.getTime())) return value.getTime();
  if (typeof value === 'string') {
    const ms = Date.parse(value);
    if (Number.isFinite(ms)) return ms;
  }
  throw new DataError(`danfo ${source === 'index' ? 'index' : `column '${source}'`} holds ${JSON.stringify(value)} at row ${row}, not a time (epoch ms, Date or ISO string)`);
}

/**
 * Show a danfo DataFrame or Series as a table in a notebook (its index first); outside a notebook, print
 * it as a text table. An index or a `time` column holding epoch-ms times (as toDanfo makes them, and as
 * they stay through head/tail/loc) is shown as ISO times.
 */
export function showDanfo(df: DanfoFrame | DanfoSeries, caption?: string, rows = 20): void {
  const frame = asDataFrame(df);
  const [rowCount, columnCount] = frame.shape;
  const values = (frame.values as unknown[][]).slice(0, rows);
  const index = frame.index.slice(0, rows);
  const timeIndex = metaOf.has(df) || looksLikeTimes(index);
  const timeColumn = frame.columns.indexOf('time');
  const timeValues = timeColumn >= 0 && looksLikeTimes(values.map((row) => row[timeColumn]));
  const records = index.map((label, i) => {
    const record: Record<string, unknown> = { '': timeIndex ? isoTime(label as number) : label };
    frame.columns.forEach((name, j) => (record[name] = j === timeColumn && timeValues ? isoTime(values[i][j] as number) : values[i][j]));
    return record;
  });
  const shape = `${rowCount} rows × ${columnCount} columns${rowCount > rows ? ` (first ${rows})` : ''}`;
  showRecords(records, caption ? `${caption}: ${shape}` : `danfo ${isSeries(df) ? 'Series' : 'DataFrame'}: ${shape}`, rows);
}

// Whole epoch-ms numbers between 2000 and 2100: what a time index looks like (row numbers and prices do not).
const YEAR_2000 = Date.UTC(2000, 0, 1);
const YEAR_2100 = Date.UTC(2100, 0, 1);
function looksLikeTimes(values: readonly unknown[]): boolean {
  return values.length > 0 && values.every((v) => typeof v === 'number' && Number.isInteger(v) && v >= YEAR_2000 && v < YEAR_2100);
}
