import * as arrow from 'apache-arrow';
import type * as ParquetWasm from 'parquet-wasm/node/parquet_wasm';
import { Frame, type FrameMeta } from '../frame/frame';
import { DataError } from '../errors';
import { writeFileAtomic } from '../util/atomic';
import { arrowTableToColumns, frameToArrowBytes, type ArrowColumns } from './arrow-file';
import { readDataFile } from './raw-candles';

/**
 * Frames ↔ Parquet files, through parquet-wasm (Rust's arrow-rs parquet, compiled to WebAssembly):
 * a frame goes to an Arrow table and from there to Parquet (zstd, one row group per million rows),
 * with the same schema as the Arrow IPC files: `time` timestamp[ms], float64 columns, meta in the
 * schema metadata. pandas (with pyarrow or fastparquet), polars and DuckDB read them.
 */
let parquetModule: typeof ParquetWasm | undefined;

/** parquet-wasm's Node build, loaded on first use (instantiating the WebAssembly takes ~50 ms). */
function parquet(): typeof ParquetWasm {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  parquetModule ??= require('parquet-wasm') as typeof ParquetWasm;
  return parquetModule;
}

/** Parquet bytes of a frame. */
export function frameToParquetBytes(frame: Frame): Uint8Array {
  const wasm = parquet();
  const ipc = frameToArrowBytes(frame, 'stream');
  const table = wasm.Table.fromIPCStream(ipc);
  const properties = new wasm.WriterPropertiesBuilder()
    .setCompression(wasm.Compression.ZSTD)
    .setMaxRowGroupSize(1_000_000)
    .setCreatedBy('candlelab')
    .build();
  return wasm.writeParquet(table, properties);
}

/** Write a frame as a Parquet file, atomically. */
export function writeParquetFile(file: string, frame: Frame): void {
  writeFileAtomic(file, frameToParquetBytes(frame));
}

/** The columns of a Parquet file as stored (time as epoch ms, numeric columns as float64). */
export function readParquetFileRaw(file: string, fallbackMeta?: Partial<FrameMeta>): ArrowColumns {
  const bytes = readDataFile(file);
  let table: arrow.Table;
  try {
    const wasmTable = parquet().readParquet(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    table = arrow.tableFromIPC(wasmTable.intoIPCStream());
  } catch (error) {
    const reason = String((error as Error)?.message ?? error).split('\n')[0];
    throw new DataError(`${file} is not a valid Parquet file (${reason}); it may be truncated — re-export or re-download it`);
  }
  return arrowTableToColumns(table, file, fallbackMeta);
}

/** Read a Parquet file written by candlelab, pandas/pyarrow, polars or DuckDB. */
export function readParquetFile(file: string, fallbackMeta?: Partial<FrameMeta>): Frame {
  const raw = readParquetFileRaw(file, fallbackMeta);
  return Frame.fromColumns(raw.time, raw.columns, raw.meta);
}
