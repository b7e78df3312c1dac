import * as fs from 'node:fs';
import * as path from 'node:path';
import { Frame, type Candles, isoTime, OHLCV_COLUMNS, timeframeMs } from '../frame/frame';
import { ConfigError, DataError } from '../errors';
import { openWorkspace } from '../workspace';
import { readArrowFile, readArrowFileRaw, writeArrowFile } from './arrow-file';
import { acquireStoreLock, type StoreLockOptions } from './store-lock';
import { validateCandleRows, type CandleRepair } from './candle-validation';
import { candlesToRaw } from './raw-candles';
import { newLargeFloat64Arrays } from '../util/huge-pages';

/**
 * The local market-data store. One Arrow IPC file per exchange, market, symbol and timeframe:
 *
 *   <dataDir>/<exchange>/<market>/<symbol, '/' and ':' → '-'>/<timeframe>.arrow      candles
 *   <dataDir>/<exchange>/<market>/<symbol>/funding.arrow                               funding_rate
 *   <dataDir>/<exchange>/<market>/<symbol>/open-interest.arrow                         open_interest
 *
 * e.g. data/binance/futures/BTC-USDT-USDT/1h.arrow. Files are rewritten whole on every merge, through a
 * temp file and a rename, under a per-file writer lock: readers see the old or the new file, never a
 * half-written one, and concurrent writers never lose each other's rows.
 */
export type StoreKey = { exchange: string; market: 'spot' | 'futures'; symbol: string; timeframe: string };

/** Side tables kept beside the candles (funding rates and open interest of perpetual futures). */
export type StoreSeriesName = 'funding' | 'open-interest';

/** The column each side table must carry (what core/funding and core/open-interest read). */
export const STORE_SERIES_COLUMNS: Readonly<Record<StoreSeriesName, string>> = { funding: 'funding_rate', 'open-interest': 'open_interest' };

export type StoreEntry = StoreKey & { file: string; rows: number; first: number; last: number; repair?: StoreRepairRecord };

/**
 * Kept in a candles file's metadata once rows were left out by `repair: 'drop'` (import, fetch or
 * stream with --repair drop): the data is not all the source sent.
 */
export type StoreRepairRecord = { policy: CandleRepair; rowsDropped: number; sources: Array<{ source: string; rows: number; first: string[] }> };

/** The schema-metadata key of the repair record. */
export const STORE_REPAIR_METADATA = 'candlelab.repair';
export type MergeResult = { added: number; replaced: number; total: number };

const EXCHANGE = /^[a-z0-9][a-z0-9_.-]*$/i;
const SYMBOL = /^[A-Z0-9.]+\/[A-Z0-9.]+(:[A-Z0-9.]+)?$/i;
const TIMEFRAME = /^\d+[smhdw]$/;

/** Check a key's fields; the error names the bad field and the expected form. */
export function validateStoreKey(key: StoreKey): StoreKey {
  if (!EXCHANGE.test(key.exchange ?? '')) throw new ConfigError(`store key: exchange '${key.exchange}' must be a plain name like binance`);
  if (key.market !== 'spot' && key.market !== 'futures') throw new ConfigError(`store key: market '${key.market}' must be spot or futures`);
  if (!SYMBOL.test(key.symbol ?? '')) throw new ConfigError(`store key: symbol '${key.symbol}' must look like BTC/USDT (or BTC/USDT:USDT for a perpetual)`);
  if (!TIMEFRAME.test(key.timeframe ?? '')) throw new ConfigError(`store key: timeframe '${key.timeframe}' must look like 1m, 5m, 1h, 4h or 1d`);
  return key;
}

/** The folder name of a symbol: BTC/USDT → BTC-USDT, BTC/USDT:USDT → BTC-USDT-USDT. */
export function symbolFolder(symbol: string): string {
  return symbol.replace(/[/:]/g, '-');
}

function defaultDataDir(dataDir: string | undefined): string {
  return dataDir ?? openWorkspace().dataDir;
}

function symbolDir(key: StoreKey, dataDir?: string): string {
  validateStoreKey(key);
  return path.join(defaultDataDir(dataDir), key.exchange, key.market, symbolFolder(key.symbol));
}

/** The candles file of a key: <dataDir>/<exchange>/<market>/<symbol>/<timeframe>.arrow. */
export function storeFile(key: StoreKey, dataDir?: string): string {
  return path.join(symbolDir(key, dataDir), `${key.timeframe}.arrow`);
}

/** The side-table file of a key: <dataDir>/<exchange>/<market>/<symbol>/<name>.arrow (the timeframe is not part of it). */
export function storeSeriesFile(key: StoreKey, name: StoreSeriesName, dataDir?: string): string {
  if (!(name in STORE_SERIES_COLUMNS)) throw new ConfigError(`store series '${name}' is unknown; use funding or open-interest`);
  return path.join(symbolDir(key, dataDir), `${name}.arrow`);
}

/** The human form of a key: exchange/market/BASE-QUOTE/timeframe (also what `candlelab backtest` takes). */
export function storeId(key: StoreKey): string {
  return `${key.exchange}/${key.market}/${symbolFolder(key.symbol)}/${key.timeframe}`;
}

/**
 * A key from its id: exchange/market/BASE-QUOTE/timeframe (BASE-QUOTE-SETTLE for perpetuals), or with
 * the symbol spelled BASE/QUOTE. Returns undefined when the text does not have that shape.
 */
export function parseStoreId(id: string): StoreKey | undefined {
  const parts = id.split('/');
  if (parts.length !== 4 && parts.length !== 5) return undefined;
  const [exchange, market] = parts;
  const timeframe = parts[parts.length - 1];
  const symbol = parts.length === 5 ? `${parts[2]}/${parts[3]}` : folderSymbol(parts[2]);
  if (market !== 'spot' && market !== 'futures') return undefined;
  if (!EXCHANGE.test(exchange) || !SYMBOL.test(symbol) || !TIMEFRAME.test(timeframe)) return undefined;
  return { exchange, market, symbol, timeframe };
}

/** A one-line list of what the store holds (for "not stored" errors). */
export function describeStore(dataDir?: string): string {
  const entries = listStore(dataDir);
  if (entries.length === 0) return `the store (${defaultDataDir(dataDir)}) is empty`;
  const shown = entries.slice(0, 12).map((entry) => storeId(entry));
  return `stored: ${shown.join(', ')}${entries.length > shown.length ? ` and ${entries.length - shown.length} more` : ''}`;
}

/** The stored candles of a key, or undefined when nothing is stored. */
export function readStore(key: StoreKey, dataDir?: string): Candles | undefined {
  const file = storeFile(key, dataDir);
  if (!fs.existsSync(file)) return undefined;
  const frame = readArrowFile(file, { exchange: key.exchange, symbol: key.symbol, timeframe: key.timeframe, source: file });
  for (const column of OHLCV_COLUMNS) {
    if (!frame.has(column)) throw new DataError(`store file ${file} has no '${column}' column; delete it and import or download the data again`);
  }
  return frame.withMeta({ exchange: key.exchange, symbol: key.symbol, timeframe: key.timeframe }) as Candles;
}

/**
 * The stored candles of a key between optional ISO-8601 bounds (start inclusive, end exclusive) — the
 * spec's store source. A key not in the store is an error listing what is stored.
 */
export function requireStore(key: StoreKey, dataDir?: string, start?: string, end?: string): Candles {
  const candles = readStore(key, dataDir);
  if (!candles) {
    throw new DataError(`${storeId(key)} is not in the store; ${describeStore(dataDir)} — import it (candlelab data import) or download it first`);
  }
  const bound = (text: string | undefined, name: string): number | undefined => {
    if (text === undefined) return undefined;
    const ms = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00Z` : text);
    if (!Number.isFinite(ms)) throw new ConfigError(`data.${name} '${text}' is not an ISO-8601 date; use e.g. 2024-01-01 or 2024-01-01T00:00:00Z`);
    return ms;
  };
  const from = bound(start, 'start');
  const to = bound(end, 'end');
  if (from === undefined && to === undefined) return candles;
  let first = 0;
  let last = candles.length;
  while (first < last && from !== undefined && candles.time[first] < from) first++;
  while (last > first && to !== undefined && candles.time[last - 1] >= to) last--;
  if (first === last) {
    throw new DataError(`${storeId(key)} has no bars in [${start ?? '…'}, ${end ?? '…'}); it holds ${isoTime(candles.time[0])} … ${isoTime(candles.time[candles.length - 1])}`);
  }
  return candles.slice(first, last);
}

/** A stored side table (funding or open interest), or undefined when none is stored. */
export function readStoreSeries(key: StoreKey, name: StoreSeriesName, dataDir?: string): Frame | undefined {
  const file = storeSeriesFile(key, name, dataDir);
  if (!fs.existsSync(file)) return undefined;
  return readArrowFile(file, { exchange: key.exchange, symbol: key.symbol, timeframe: key.timeframe, source: file });
}

/**
 * Check that new rows sit on the key's timeframe grid: every spacing a whole number of bars, and the
 * same phase as the rows already stored. A 1h file never silently receives 1m bars.
 */
function assertSpacing(key: StoreKey, candles: Frame, existing: Frame | undefined): void {
  const step = timeframeMs(key.timeframe);
  const { time } = candles;
  for (let i = 1; i < time.length; i++) {
    const gap = time[i] - time[i - 1];
    // one bar apart (the common case) needs no division
    if (gap !== step && gap % step !== 0) {
      throw new DataError(
        `${storeId(key)}: new rows are ${gap / 60_000} min apart at ${isoTime(time[i])}, not a multiple of ${key.timeframe}; import them under their own timeframe`,
      );
    }
  }
  const anchor = existing && existing.length > 0 ? existing.time[0] : undefined;
  if (anchor !== undefined && time.length > 0 && (((time[0] - anchor) % step) + step) % step !== 0) {
    throw new DataError(`${storeId(key)}: new rows start at ${isoTime(time[0])}, off the stored ${key.timeframe} grid (first stored bar ${isoTime(anchor)}); check the timeframe`);
  }
}

/**
 * Union of two frames by time: rows of `incoming` win on equal times; columns are the union (missing
 * values NaN). Both inputs are strictly increasing, so this is one linear merge.
 */
export function mergeFrames(existing: Frame | undefined, incoming: Frame): { frame: Frame; added: number; replaced: number } {
  if (!existing || existing.length === 0) return { frame: incoming, added: incoming.length, replaced: 0 };
  const names = [...new Set([...existing.names, ...incoming.names])];
  const a = existing.time;
  const b = incoming.time;
  // First pass counts the union's rows; the second fills the columns.
  let replaced = 0;
  let total = 0;
  for (let i = 0, j = 0; i < a.length || j < b.length; total++) {
    if (j >= b.length || (i < a.length && a[i] < b[j])) i++;
    else if (i >= a.length || b[j] < a[i]) j++;
    else {
      i++;
      j++;
      replaced++;
    }
  }
  // the merged columns, faulted in ahead of the merge loop that writes them row by row (prefault)
  const [time, ...merged] = newLargeFloat64Arrays(names.length + 1, total);
  const columns: Record<string, Float64Array> = {};
  names.forEach((name, k) => (columns[name] = merged[k]));
  const fromA = names.map((name) => (existing.has(name) ? existing.column(name) : undefined));
  const fromB = names.map((name) => (incoming.has(name) ? incoming.column(name) : undefined));
  const out = names.map((name) => columns[name]);
  for (let i = 0, j = 0, k = 0; k < total; k++) {
    let source: readonly (Float64Array | undefined)[];
    let row: number;
    if (j >= b.length || (i < a.length && a[i] < b[j])) {
      source = fromA;
      row = i++;
      time[k] = a[row];
    } else {
      if (i < a.length && a[i] === b[j]) i++; // the stored row is replaced
      source = fromB;
      row = j++;
      time[k] = b[row];
    }
    for (let c = 0; c < out.length; c++) out[c][k] = source[c] ? source[c]![row] : NaN;
  }
  return { frame: Frame.fromColumns(time, columns, { ...existing.meta, ...incoming.meta }), added: total - a.length, replaced };
}

export type MergeOptions = StoreLockOptions & {
  dataDir?: string;
  /** 'drop': impossible candles are left out (recorded in the file's metadata) instead of refusing the write. */
  repair?: CandleRepair;
  /** Rows the caller already left out under `repair` (an importer that checked its files first), for the record. */
  repaired?: { source: string; rows: number; first: string[] };
};

/** Merge `incoming` into `file` under its writer lock; `check` sees the stored frame first. */
function mergeFile(
  file: string,
  incoming: Frame,
  meta: { exchange: string; symbol: string; timeframe: string },
  check: (existing: Frame | undefined) => void,
  options: MergeOptions,
): MergeResult {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const lock = acquireStoreLock(file, options);
  try {
    removeDeadTempFiles(file);
    const stored = fs.existsSync(file) ? readArrowFileRaw(file, { ...meta, source: file }) : undefined;
    const existing = stored ? Frame.fromColumns(stored.time, stored.columns, stored.meta) : undefined;
    check(existing);
    const { frame, added, replaced } = mergeFrames(existing, incoming.withMeta({ ...meta, source: undefined }));
    const repair = addRepair(stored?.metadata[STORE_REPAIR_METADATA], options.repaired);
    lock.assertHeld();
    writeArrowFile(file, frame, repair ? { [STORE_REPAIR_METADATA]: repair } : undefined);
    return { added, replaced, total: frame.length };
  } finally {
    lock.release();
  }
}

/** The repair record after this write: the stored one plus the rows this write left out. */
function addRepair(stored: string | undefined, repaired: MergeOptions['repaired']): string | undefined {
  if (!repaired || repaired.rows === 0) return stored;
  const record: StoreRepairRecord = stored ? JSON.parse(stored) : { policy: 'drop', rowsDropped: 0, sources: [] };
  record.rowsDropped += repaired.rows;
  record.sources = [...record.sources, repaired].slice(-20);
  return JSON.stringify(record);
}

/** The repair record of a stored candles file, when rows were ever left out of it. */
export function storeRepairRecord(key: StoreKey, dataDir?: string): StoreRepairRecord | undefined {
  const file = storeFile(key, dataDir);
  if (!fs.existsSync(file)) return undefined;
  const text = readArrowFileRaw(file).metadata[STORE_REPAIR_METADATA];
  return text ? (JSON.parse(text) as StoreRepairRecord) : undefined;
}

/**
 * Merge candles into the store: rows are deduplicated by time (new rows win), kept in time order, and
 * the file is replaced atomically under a writer lock. Throws, writing nothing, when a candle is
 * impossible (see validateCandleRows; `repair: 'drop'` leaves such rows out instead), when the new
 * rows' spacing disagrees with the key's timeframe, or when OHLCV columns are missing.
 */
export function mergeIntoStore(key: StoreKey, candles: Candles, dataDirOrOptions?: string | MergeOptions): MergeResult {
  const options: MergeOptions = typeof dataDirOrOptions === 'string' ? { dataDir: dataDirOrOptions } : dataDirOrOptions ?? {};
  const file = storeFile(key, options.dataDir);
  for (const column of OHLCV_COLUMNS) {
    if (!candles.has(column)) throw new DataError(`cannot store ${storeId(key)}: the candles have no '${column}' column`);
  }
  const checked = validateCandleRows({ ...candlesToRaw(candles), source: storeId(key) }, { repair: options.repair });
  let incoming = candles;
  let repaired = options.repaired;
  if (checked.dropped > 0) {
    incoming = Frame.fromColumns(checked.raw.time, checked.raw.columns, candles.meta) as Candles;
    repaired = {
      source: repaired?.source ?? candles.meta.source ?? storeId(key),
      rows: (repaired?.rows ?? 0) + checked.dropped,
      first: [...(repaired?.first ?? []), ...checked.firstDropped].slice(0, 5),
    };
  }
  const meta = { exchange: key.exchange, symbol: key.symbol, timeframe: key.timeframe };
  return mergeFile(file, incoming, meta, (existing) => assertSpacing(key, incoming, existing), { ...options, repaired });
}

/** Merge a funding-rate or open-interest series (any times; deduplicated by time, new rows win) into the store. */
export function mergeSeriesIntoStore(key: StoreKey, name: StoreSeriesName, frame: Frame, dataDirOrOptions?: string | MergeOptions): MergeResult {
  const options: MergeOptions = typeof dataDirOrOptions === 'string' ? { dataDir: dataDirOrOptions } : dataDirOrOptions ?? {};
  const file = storeSeriesFile(key, name, options.dataDir);
  const column = STORE_SERIES_COLUMNS[name];
  if (!frame.has(column)) throw new DataError(`cannot store ${name} of ${storeId(key)}: the frame has no '${column}' column (it has: ${frame.names.join(', ') || 'none'})`);
  const meta = { exchange: key.exchange, symbol: key.symbol, timeframe: key.timeframe };
  return mergeFile(file, frame, meta, () => undefined, { ...options, repaired: undefined });
}

/** Every candles file in the store with its row count and first/last bar open times (epoch ms). */
export function listStore(dataDir?: string): StoreEntry[] {
  const root = defaultDataDir(dataDir);
  const entries: StoreEntry[] = [];
  const dirs = (dir: string): string[] =>
    fs.existsSync(dir) ? fs.readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory() && !d.name.startsWith('.')).map((d) => d.name).sort() : [];
  for (const exchange of dirs(root)) {
    for (const market of dirs(path.join(root, exchange))) {
      if (market !== 'spot' && market !== 'futures') continue;
      for (const folder of dirs(path.join(root, exchange, market))) {
        const dir = path.join(root, exchange, market, folder);
        for (const name of fs.readdirSync(dir).sort()) {
          const match = /^(\d+[smhdw])\.arrow$/.exec(name);
          if (!match) continue;
          const file = path.join(dir, name);
          const stored = readArrowFileRaw(file, { symbol: folder, timeframe: match[1], exchange, source: file });
          const { meta, time } = stored;
          const symbol = meta.symbol !== 'UNKNOWN' && SYMBOL.test(meta.symbol) ? meta.symbol : folderSymbol(folder);
          const repair = stored.metadata[STORE_REPAIR_METADATA];
          entries.push({
            exchange,
            market,
            symbol,
            timeframe: match[1],
            file,
            rows: time.length,
            first: time.length ? time[0] : NaN,
            last: time.length ? time[time.length - 1] : NaN,
            ...(repair ? { repair: JSON.parse(repair) as StoreRepairRecord } : {}),
          });
        }
      }
    }
  }
  return entries;
}

/** BTC-USDT → BTC/USDT, BTC-USDT-USDT → BTC/USDT:USDT (a folder name back to a symbol). */
function folderSymbol(folder: string): string {
  const parts = folder.split('-');
  return parts.length >= 3 ? `${parts[0]}/${parts[1]}:${parts.slice(2).join('-')}` : parts.join('/');
}

/** Temp files of writers that died mid-write (their pid is gone): removed under the lock. */
function removeDeadTempFiles(target: string): void {
  const dir = path.dirname(target);
  const prefix = `.${path.basename(target)}.tmp-`;
  for (const name of fs.readdirSync(dir)) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length).split('-')[0]);
    let alive = false;
    try {
      process.kill(pid, 0);
      alive = true;
    } catch (error) {
      alive = (error as NodeJS.ErrnoException).code === 'EPERM';
    }
    if (!alive) fs.rmSync(path.join(dir, name), { force: true });
  }
}
