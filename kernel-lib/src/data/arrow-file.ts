import * as fs from 'node:fs';
import * as arrow from 'apache-arrow';
import { Frame, type FrameMeta } from '../frame/frame';
import { DataError } from '../errors';
import { writeFileAtomic } from '../util/atomic';

/**
 * Frames ↔ Arrow IPC files. `time` is stored as an Arrow timestamp[ms] (pandas and polars read it as a
 * datetime); every other column as float64; the frame's meta goes into the schema metadata.
 */
export function frameToArrowBytes(frame: Frame): Uint8Array {
  const fields: arrow.Field[] = [new arrow.Field('time', new arrow.TimestampMillisecond(), false)];
  const children: arrow.Data[] = [
    arrow.makeData({ type: new arrow.TimestampMillisecond(), data: BigInt64Array.from(frame.time, (t) => BigInt(t)) }),
  ];
  for (const name of frame.names) {
    fields.push(new arrow.Field(name, new arrow.Float64(), true));
    children.push(arrow.makeData({ type: new arrow.Float64(), data: frame.column(name) }));
  }
  const metadata = new Map<string, string>();
  for (const [key, value] of Object.entries(frame.meta)) if (value !== undefined) metadata.set(key, String(value));
  const schema = new arrow.Schema(fields, metadata);
  const batch = new arrow.RecordBatch(
    schema,
    arrow.makeData({ type: new arrow.Struct(schema.fields), length: frame.length, nullCount: 0, children }),
  );
  return arrow.tableToIPC(new arrow.Table([batch]), 'file');
}

/** Write a frame as an Arrow IPC file, atomically. */
export function writeArrowFile(file: string, frame: Frame): void {
  writeFileAtomic(file, frameToArrowBytes(frame));
}

/** Read an Arrow IPC file (file or stream format) written by candlelab, pandas/pyarrow or polars. */
export function readArrowFile(file: string, fallbackMeta?: Partial<FrameMeta>): Frame {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (error) {
    throw new DataError(`cannot read data file ${file}: ${(error as NodeJS.ErrnoException).code ?? error}; check the path`);
  }
  let table: arrow.Table;
  try {
    table = arrow.tableFromIPC(bytes);
  } catch (error) {
    throw new DataError(`${file} is not a valid Arrow IPC file (${(error as Error).message}); regenerate or re-export it`);
  }
  if (table.numRows === 0 && bytes.length > 0 && table.schema.fields.length === 0) {
    throw new DataError(`${file} is not a valid Arrow IPC file (no schema); regenerate or re-export it`);
  }
  const metadata = table.schema.metadata;
  const meta: FrameMeta = {
    symbol: metadata.get('symbol') ?? fallbackMeta?.symbol ?? 'UNKNOWN',
    timeframe: metadata.get('timeframe') ?? fallbackMeta?.timeframe ?? 'unknown',
    exchange: metadata.get('exchange') ?? fallbackMeta?.exchange,
    source: metadata.get('source') ?? fallbackMeta?.source ?? file,
  };
  const timeColumn = table.getChild('time') ?? table.getChild('timestamp');
  if (!timeColumn) throw new DataError(`${file} has no 'time' or 'timestamp' column; name the bar open time column 'time'`);
  const time = toEpochMs(timeColumn, file);
  const columns: Record<string, Float64Array> = {};
  for (const field of table.schema.fields) {
    if (field.name === 'time' || field.name === 'timestamp') continue;
    const vector = table.getChild(field.name)!;
    const values = vector.toArray();
    const column = values instanceof Float64Array ? values : Float64Array.from(values as ArrayLike<number>, Number);
    // Arrow nulls become NaN: the quality stage reports them.
    if (vector.nullCount > 0) for (let i = 0; i < column.length; i++) if (!vector.isValid(i)) column[i] = NaN;
    columns[field.name] = column;
  }
  return Frame.fromColumns(time, columns, meta);
}

/** Convert an Arrow time column (timestamp of any unit, int64 or float) to epoch milliseconds. */
function toEpochMs(vector: arrow.Vector, file: string): Float64Array {
  const type = vector.type as arrow.DataType;
  let scale = 1;
  if (arrow.DataType.isTimestamp(type)) {
    scale = [1000, 1, 1e-3, 1e-6][(type as arrow.Timestamp).unit];
  } else if (!arrow.DataType.isInt(type) && !arrow.DataType.isFloat(type)) {
    throw new DataError(`${file}: column 'time' has type ${type}; it must be a timestamp or epoch milliseconds`);
  }
  const raw = vector.toArray() as ArrayLike<number | bigint>;
  const out = new Float64Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = Number(raw[i]) * scale;
  return out;
}
