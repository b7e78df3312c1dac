import * as arrow from 'apache-arrow';
import { Frame, type FrameMeta } from '../frame/frame';
import { DataError } from '../errors';
import { writeFileAtomic } from '../util/atomic';
import { readDataFile } from './raw-candles';

/**
 * Frames ↔ Arrow IPC files. `time` is stored as an Arrow timestamp[ms] (pandas and polars read it as a
 * datetime); every other column as float64; the frame's meta goes into the schema metadata.
 */
export function frameToArrowBytes(frame: Frame, format: 'file' | 'stream' = 'file', extraMetadata: Readonly<Record<string, string>> = {}): Uint8Array {
  return arrow.tableToIPC(frameToArrowTable(frame, extraMetadata), format);
}

/**
 * The Arrow IPC file of a frame as the writer's parts, in order: the columns' own bytes are parts (views,
 * not copies), so a file is written without joining everything into one new buffer first. The bytes are
 * those of `frameToArrowBytes(frame, 'file')`.
 */
export function frameToArrowParts(frame: Frame, extraMetadata: Readonly<Record<string, string>> = {}): Uint8Array[] {
  const writer = arrow.RecordBatchFileWriter.writeAll(frameToArrowTable(frame, extraMetadata));
  // apache-arrow keeps what it wrote as a list of parts until someone reads them; joining is all
  // toUint8Array adds. When that inner list is not what this expects, the joined bytes are used.
  const parts = (writer as unknown as { _sink?: { _values?: unknown } })._sink?._values;
  if (Array.isArray(parts) && parts.length > 0 && parts.every((part) => part instanceof Uint8Array)) return parts as Uint8Array[];
  return [writer.toUint8Array(true)];
}

function frameToArrowTable(frame: Frame, extraMetadata: Readonly<Record<string, string>>): arrow.Table {
  const fields: arrow.Field[] = [new arrow.Field('time', new arrow.TimestampMillisecond(), false)];
  const children: arrow.Data[] = [
    arrow.makeData({ type: new arrow.TimestampMillisecond(), data: epochMsToInt64(frame.time) }),
  ];
  // apache-arrow 21 writes a corrupt body when one buffer backs several columns (frames may share
  // columns, e.g. open = close): a column overlapping an earlier one's bytes is copied.
  const used: Float64Array[] = [];
  for (const name of frame.names) {
    let values = frame.column(name);
    const overlaps = used.some(
      (other) => other.buffer === values.buffer && values.byteOffset < other.byteOffset + other.byteLength && other.byteOffset < values.byteOffset + values.byteLength,
    );
    if (overlaps) values = values.slice();
    used.push(values);
    fields.push(new arrow.Field(name, new arrow.Float64(), true));
    children.push(arrow.makeData({ type: new arrow.Float64(), data: values }));
  }
  const metadata = new Map<string, string>();
  for (const [key, value] of Object.entries(frame.meta)) if (value !== undefined) metadata.set(key, String(value));
  for (const [key, value] of Object.entries(extraMetadata)) metadata.set(key, value);
  const schema = new arrow.Schema(fields, metadata);
  const batch = new arrow.RecordBatch(
    schema,
    arrow.makeData({ type: new arrow.Struct(schema.fields), length: frame.length, nullCount: 0, children }),
  );
  return new arrow.Table([batch]);
}

/** Write a frame as an Arrow IPC file, atomically; `extraMetadata` joins the frame's meta in the schema metadata. */
export function writeArrowFile(file: string, frame: Frame, extraMetadata?: Readonly<Record<string, string>>): void {
  writeFileAtomic(file, frameToArrowParts(frame, extraMetadata));
}

/** Read an Arrow IPC file (file or stream format) written by candlelab, pandas/pyarrow or polars. */
export function readArrowFile(file: string, fallbackMeta?: Partial<FrameMeta>): Frame {
  const raw = readArrowFileRaw(file, fallbackMeta);
  return raw.increasing ? Frame.fromOrderedColumns(raw.time, raw.columns, raw.meta) : Frame.fromColumns(raw.time, raw.columns, raw.meta);
}

/** The columns of an Arrow IPC file as stored, without requiring ordered times (quality check, import). */
export function readArrowFileRaw(file: string, fallbackMeta?: Partial<FrameMeta>): ArrowColumns {
  const bytes = readDataFile(file);
  let table: arrow.Table;
  try {
    table = arrow.tableFromIPC(bytes);
  } catch (error) {
    throw new DataError(`${file} is not a valid Arrow IPC file (${(error as Error).message}); regenerate or re-export it`);
  }
  if (table.numRows === 0 && bytes.length > 0 && table.schema.fields.length === 0) {
    throw new DataError(`${file} is not a valid Arrow IPC file (no schema); regenerate or re-export it`);
  }
  // The bytes are this call's own: the int64 time column is turned into float64 in place.
  return arrowTableToColumns(table, file, fallbackMeta, true);
}

/** A table's time index (epoch ms) and float64 columns, with its meta and the whole schema metadata. */
export type ArrowColumns = {
  time: Float64Array;
  columns: Record<string, Float64Array>;
  meta: FrameMeta;
  metadata: Record<string, string>;
  /** True when the time conversion found the times strictly increasing (checked in the same pass). */
  increasing?: boolean;
};

/**
 * Time and numeric columns of an Arrow table (from an IPC or Parquet file); nulls become NaN. Float64
 * columns are views of the table's buffers (Arrow is zero-copy: no column is copied); each view covers
 * its own bytes, so writing into one column never changes another. With `ownsBytes` (the caller read
 * the bytes for this call alone), an int64/timestamp[ms] time column becomes float64 in place, in the
 * same 8 bytes per value: no new memory is touched.
 */
export function arrowTableToColumns(table: arrow.Table, file: string, fallbackMeta?: Partial<FrameMeta>, ownsBytes = false): ArrowColumns {
  const metadata = table.schema.metadata;
  const meta: FrameMeta = {
    symbol: metadata.get('symbol') ?? fallbackMeta?.symbol ?? 'UNKNOWN',
    timeframe: metadata.get('timeframe') ?? fallbackMeta?.timeframe ?? 'unknown',
    exchange: metadata.get('exchange') ?? fallbackMeta?.exchange,
    source: metadata.get('source') ?? fallbackMeta?.source ?? file,
  };
  const timeName = ['time', 'timestamp', 'open_time', 'date'].find((name) => table.getChild(name));
  if (!timeName) throw new DataError(`${file} has no 'time' or 'timestamp' column; name the bar open time column 'time'`);
  const { time, increasing } = toEpochMs(table.getChild(timeName)!, file, ownsBytes);
  const columns: Record<string, Float64Array> = {};
  for (const field of table.schema.fields) {
    if (field.name === timeName || field.name === '__index_level_0__') continue;
    const type = field.type as arrow.DataType;
    if (!arrow.DataType.isFloat(type) && !arrow.DataType.isInt(type) && !arrow.DataType.isBool(type)) continue; // text columns are not data
    const vector = table.getChild(field.name)!;
    const values = vector.toArray();
    const column = values instanceof Float64Array ? values : Float64Array.from(values as ArrayLike<number>, Number);
    // Arrow nulls become NaN: the quality stage reports them.
    if (vector.nullCount > 0) for (let i = 0; i < column.length; i++) if (!vector.isValid(i)) column[i] = NaN;
    columns[field.name] = column;
  }
  return { time, columns, meta, metadata: Object.fromEntries(metadata), increasing };
}

const TWO_TO_MINUS_32 = 2 ** -32;

/** Epoch ms (integers below 2^53) as int64, through 32-bit halves: BigInt per value is ~20× slower. */
function epochMsToInt64(time: Float64Array): BigInt64Array {
  const out = new BigInt64Array(time.length);
  const words = new Int32Array(out.buffer);
  for (let i = 0; i < time.length; i++) {
    const t = time[i];
    if (!Number.isInteger(t) || Math.abs(t) > Number.MAX_SAFE_INTEGER) {
      out[i] = BigInt(Math.round(t)); // fractional ms round to the nearest ms
      continue;
    }
    const high = Math.floor(t * TWO_TO_MINUS_32); // exact: a power of two
    words[2 * i] = (t - high * 4294967296) | 0;
    words[2 * i + 1] = high;
  }
  return out;
}

/** Convert an Arrow time column (timestamp of any unit, int64 or float) to epoch milliseconds. */
function toEpochMs(vector: arrow.Vector, file: string, inPlace = false): { time: Float64Array; increasing?: boolean } {
  const type = vector.type as arrow.DataType;
  let scale = 1;
  if (arrow.DataType.isTimestamp(type)) {
    scale = [1000, 1, 1e-3, 1e-6][(type as arrow.Timestamp).unit];
  } else if (!arrow.DataType.isInt(type) && !arrow.DataType.isFloat(type)) {
    throw new DataError(`${file}: column 'time' has type ${type}; it must be a timestamp or epoch milliseconds`);
  }
  const raw = vector.toArray() as ArrayLike<number | bigint>;
  if (inPlace && scale === 1 && raw instanceof BigInt64Array && raw.byteOffset % 8 === 0 && vector.data.length === 1) {
    // Each value is read (both 32-bit halves) before its 8 bytes are overwritten with the double.
    const words = new Int32Array(raw.buffer, raw.byteOffset, raw.length * 2);
    const out = new Float64Array(raw.buffer, raw.byteOffset, raw.length);
    // the frame's order check in the same pass (a second pass over the column would read it all again)
    let increasing = true;
    let previous = -Infinity;
    for (let i = 0; i < raw.length; i++) {
      const t = words[2 * i + 1] * 4294967296 + (words[2 * i] >>> 0);
      out[i] = t;
      if (!(t > previous)) increasing = false;
      previous = t;
    }
    return { time: out, increasing };
  }
  const out = new Float64Array(raw.length);
  if (raw instanceof BigInt64Array) {
    // Little-endian 32-bit halves: exact for |t| < 2^53, and far faster than Number(bigint).
    const words = new Int32Array(raw.buffer, raw.byteOffset, raw.length * 2);
    for (let i = 0; i < raw.length; i++) out[i] = (words[2 * i + 1] * 4294967296 + (words[2 * i] >>> 0)) * scale;
  } else {
    for (let i = 0; i < raw.length; i++) out[i] = Number(raw[i]) * scale;
  }
  return { time: out };
}
