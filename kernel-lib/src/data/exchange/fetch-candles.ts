import type { Exchange, OHLCV } from 'ccxt';
import { Frame, type Candles, isoTime, timeframeMs } from '../../frame/frame';
import { ConfigError } from '../../errors';
import { createProgress, type ProgressMode } from '../../util/progress';
import { mergeIntoStore, mergeSeriesIntoStore, readStore, readStoreSeries, storeFile, storeId, type StoreKey, type StoreSeriesName } from '../store';
import { callExchange, createExchange, MalformedResponseError, oneLine, resolveMarket, type ExchangeConnection, type MarketKind } from './ccxt-client';
import { withRetry, type RetryPolicy } from './retry';
import { validateCandleRows, type CandleRepair } from '../candle-validation';
import { candlesToRaw } from '../raw-candles';

/** A point in time: epoch ms, a Date, or ISO-8601 text ('2024-01-01' is midnight UTC; no zone means UTC). */
export type TimeInput = number | string | Date;

/** Epoch ms of a `TimeInput`; the error names the option and the expected form. */
export function parseTime(value: TimeInput, name = 'time'): number {
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new ConfigError(`${name} ${value} is not a time; use epoch ms or a date like 2024-01-01`);
    return value;
  }
  const text = value.trim();
  if (/^\d{10,}$/.test(text)) return Number(text) * (text.length <= 10 ? 1000 : 1);
  const iso = /^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00Z` : /[zZ]|[+-]\d{2}:?\d{2}$/.test(text) ? text : `${text.replace(' ', 'T')}Z`;
  const ms = Date.parse(iso);
  if (!Number.isFinite(ms)) throw new ConfigError(`${name} '${value}' is not a date; use e.g. 2024-01-01 or 2024-01-01T12:00:00Z`);
  return ms;
}

/** Progress of a download, reported after every page. */
export type FetchProgress = { storeId: string; fetched: number; expected: number; pages: number; requests: number; lastTime: number };

export type FetchCandlesOptions = ExchangeConnection & {
  symbol: string;
  timeframe: string;
  /** First candle open time (inclusive). */
  from: TimeInput;
  /** End (exclusive); default and cap: the exchange's now (candles still forming are never stored). */
  to?: TimeInput;
  /** The store's folder (default: the workspace's data/). */
  dataDir?: string;
  /** Candles per request (default: the exchange's page limit as ccxt declares it, else 1000). */
  pageSize?: number;
  /** Funding-rate and open-interest history too (default: true on futures, where the exchange has them). */
  extras?: boolean;
  retry?: RetryPolicy;
  /** Called after every page. */
  onProgress?: (progress: FetchProgress) => void;
  /** Progress display: a bar on a terminal or in a notebook cell, lines on logs (default 'auto'). */
  progress?: ProgressMode;
  /** Use this ccxt instance (already configured) instead of creating one. */
  client?: Exchange;
  /** 'drop': leave out impossible candles the exchange sends (recorded in the store) instead of stopping. */
  repair?: CandleRepair;
};

export type SeriesResult = { added: number; total: number } | { error: string };

export type FetchCandlesResult = {
  key: StoreKey;
  storeId: string;
  file: string;
  /** Candles new to the store, and the store's total. */
  added: number;
  total: number;
  /** Stored range of the whole file (ISO). */
  first?: string;
  last?: string;
  pages: number;
  /** Candles asked per request. */
  pageSize: number;
  requests: number;
  /** The exchange clock used to decide which candles were closed. */
  exchangeNow: number;
  funding?: SeriesResult;
  openInterest?: SeriesResult;
  /** Impossible candles left out under `repair: 'drop'`. */
  repaired: { rows: number; first: string[] };
  /** Open time of the last closed candle the exchange sent (stored, or left out under repair). */
  lastSeen?: number;
  seconds: number;
};

/** The page limit ccxt declares for fetchOHLCV on this market kind. */
export function ohlcvPageLimit(exchange: Exchange, kind: MarketKind): number {
  const features = (exchange.features ?? {}) as Record<string, Record<string, unknown> | undefined>;
  const spot = features.spot as { fetchOHLCV?: { limit?: number } } | undefined;
  const swap = features.swap as { linear?: { fetchOHLCV?: { limit?: number } } } | undefined;
  const future = features.future as { linear?: { fetchOHLCV?: { limit?: number } } } | undefined;
  const limit = kind === 'spot' ? spot?.fetchOHLCV?.limit : (swap?.linear?.fetchOHLCV?.limit ?? future?.linear?.fetchOHLCV?.limit);
  return typeof limit === 'number' && limit > 0 ? limit : 1000;
}

/** The exchange's clock (never ahead of ours): decides which candles are closed. */
export async function exchangeNow(exchange: Exchange, retry: RetryPolicy = {}): Promise<number> {
  if (!exchange.has.fetchTime) return Date.now();
  const time = await withRetry(`${exchange.id} fetchTime`, () => callExchange(exchange, 'fetchTime', () => exchange.fetchTime()), retry, exchange);
  return typeof time === 'number' && Number.isFinite(time) ? Math.min(time, Date.now()) : Date.now();
}

/**
 * ccxt OHLCV rows → candles. A page that is not a list of [time, open, high, low, close, volume]
 * number rows in time order is garbled (a transient failure, retried); numbers that make an
 * impossible candle (non-finite, price ≤ 0, …) are what the exchange sent, and are judged by
 * validateCandleRows like every other source.
 */
export function ohlcvToCandles(rows: unknown, meta: { exchange: string; symbol: string; timeframe: string }): Candles {
  if (!Array.isArray(rows)) throw new MalformedResponseError(`expected a list of candles, got ${typeof rows}`);
  const n = rows.length;
  const time = new Float64Array(n);
  const cols = [new Float64Array(n), new Float64Array(n), new Float64Array(n), new Float64Array(n), new Float64Array(n)];
  for (let i = 0; i < n; i++) {
    const row = rows[i] as OHLCV;
    if (!Array.isArray(row) || row.length < 6 || !row.slice(0, 6).every((x) => typeof x === 'number') || !Number.isFinite(row[0])) {
      throw new MalformedResponseError(`candle row ${i} is malformed: ${JSON.stringify(row)?.slice(0, 80)}`);
    }
    time[i] = row[0] as number;
    for (let c = 0; c < 5; c++) cols[c][i] = row[c + 1] as number;
    if (i > 0 && !(time[i] > time[i - 1])) throw new MalformedResponseError(`candle times out of order at row ${i}`);
  }
  const [open, high, low, close, volume] = cols;
  return Frame.fromColumns(time, { open, high, low, close, volume }, meta);
}

/** Keep rows with start ≤ time < end whose candle closed by `now`. */
function closedRows<K extends string>(frame: Frame<K>, start: number, end: number, stepMs: number, now: number): Frame<K> {
  let a = 0;
  while (a < frame.length && frame.time[a] < start) a++;
  let b = a;
  while (b < frame.length && frame.time[b] < end && frame.time[b] + stepMs <= now) b++;
  return frame.slice(a, b);
}

/** Concatenate frames with the same columns, in order (times strictly increasing across them). */
function concatFrames<K extends string>(frames: Frame<K>[]): Frame<K> {
  if (frames.length === 1) return frames[0];
  const n = frames.reduce((s, f) => s + f.length, 0);
  const time = new Float64Array(n);
  const names = frames[0].names;
  const columns: Record<string, Float64Array> = {};
  for (const name of names) columns[name] = new Float64Array(n);
  let at = 0;
  for (const f of frames) {
    time.set(f.time, at);
    for (const name of names) columns[name].set(f.column(name), at);
    at += f.length;
  }
  return Frame.fromColumns(time, columns, frames[0].meta) as Frame<K>;
}

/** The parts of [start, end) not covered by the stored range [first, last + step). */
export function missingRanges(stored: { first: number; last: number } | undefined, start: number, end: number, stepMs: number): Array<[number, number]> {
  if (!(end > start)) return [];
  if (!stored) return [[start, end]];
  const out: Array<[number, number]> = [];
  if (start < stored.first) out.push([start, Math.min(end, stored.first)]);
  const after = Math.max(start, stored.last + stepMs);
  if (after < end) out.push([after, end]);
  return out;
}

/**
 * Download candles from any ccxt exchange into the store (data/<exchange>/<market>/<symbol>/<tf>.arrow).
 * Explicit start and end; pages of the exchange's limit, each retried on transient failures (429/418
 * with Retry-After, 5xx, timeouts, dropped connections) with exponential backoff, under ccxt's rate
 * limiter. Resumable: pages are merged into the store as they arrive, and a run only asks for what the
 * store lacks, so a killed download run again ends with exactly the candles of an uninterrupted one.
 * Candles still forming at the exchange's now are never stored. On futures, funding-rate and
 * open-interest history are stored beside the candles where the exchange offers them.
 */
export async function fetchCandles(options: FetchCandlesOptions): Promise<FetchCandlesResult> {
  const started = performance.now();
  const kind: MarketKind = options.market ?? 'spot';
  if (kind !== 'spot' && kind !== 'futures') throw new ConfigError(`market '${kind}' must be spot or futures`);
  const stepMs = timeframeMs(options.timeframe);
  const from = parseTime(options.from, 'from');
  const to = options.to === undefined ? Infinity : parseTime(options.to, 'to');
  if (!(to > from)) throw new ConfigError(`the range is empty: to (${isoTime(to)}) must be after from (${isoTime(from)})`);
  const exchange = options.client ?? createExchange({ ...options, market: kind });
  const retry = options.retry ?? {};
  let requests = 0;
  const counted = <T>(what: string, call: () => Promise<T>): Promise<T> =>
    withRetry(
      `${exchange.id} ${what}`,
      () => {
        requests++;
        return callExchange(exchange, what, call);
      },
      retry,
      exchange,
    );

  const { symbol, market } = await withRetry(`${exchange.id} loadMarkets`, () => resolveMarket(exchange, kind, options.symbol, options.timeframe), retry, exchange);
  const key: StoreKey = { exchange: exchange.id, market: kind, symbol, timeframe: options.timeframe };
  const id = storeId(key);
  const meta = { exchange: exchange.id, symbol, timeframe: options.timeframe };
  const now = await exchangeNow(exchange, retry);
  const end = Math.min(to, now);
  const pageSize = options.pageSize ?? ohlcvPageLimit(exchange, kind);

  const stored = readStore(key, options.dataDir);
  const storedRange = stored && stored.length ? { first: stored.time[0], last: stored.time[stored.length - 1] } : undefined;
  const ranges = missingRanges(storedRange, from, end, stepMs);
  const expected = ranges.reduce((sum, [a, b]) => sum + Math.ceil((b - a) / stepMs), 0);
  const bar = createProgress(`${id}`, expected, options.progress ?? 'auto');

  let added = 0;
  let total = stored?.length ?? 0;
  let fetched = 0;
  let pages = 0;
  let buffer: Candles[] = [];
  let buffered = 0;
  let lastFlush = performance.now();
  const repaired = { rows: 0, first: [] as string[] };
  let lastSeen: number | undefined;
  let unrecorded = { rows: 0, first: [] as string[] }; // dropped rows not yet recorded in the store
  // Merge as pages arrive; once the file is large, batch pages so rewrites stay a constant factor of
  // the final size (at most 1/8 of the progress, or 2 s of pages, is lost to a kill).
  const flush = (): void => {
    // a page emptied by repair still flushes: its merge records the rows left out
    if (buffer.length === 0) return;
    const result = mergeIntoStore(key, concatFrames(buffer), { dataDir: options.dataDir, repaired: unrecorded.rows ? { source: `${exchange.id} fetchOHLCV`, ...unrecorded } : undefined });
    unrecorded = { rows: 0, first: [] };
    added += result.added;
    total = result.total;
    buffer = [];
    buffered = 0;
    lastFlush = performance.now();
  };
  // One page: fetched, checked (a garbled page is retried like a network error) and cut to closed candles.
  const requestPage = (since: number, rangeEnd: number): Promise<Candles> =>
    counted('fetchOHLCV', async () => {
      const rows = await exchange.fetchOHLCV(market.symbol, options.timeframe, since, pageSize, { until: rangeEnd - 1 });
      return closedRows(ohlcvToCandles(rows, meta), since, rangeEnd, stepMs, now);
    });
  // Impossible candles stop the download before they are stored (pages before them are kept), or
  // are left out and counted under repair: 'drop'.
  const checkPage = (page: Candles): Candles => {
    const checked = validateCandleRows({ ...candlesToRaw(page), source: `${id} from ${exchange.id}` }, { repair: options.repair });
    if (checked.dropped === 0) return page;
    repaired.rows += checked.dropped;
    repaired.first = [...repaired.first, ...checked.firstDropped].slice(0, 5);
    unrecorded = { rows: unrecorded.rows + checked.dropped, first: [...unrecorded.first, ...checked.firstDropped].slice(0, 5) };
    return Frame.fromColumns(checked.raw.time, checked.raw.columns, page.meta) as Candles;
  };
  // A candle opening at `cursor` cannot have closed when cursor + step is past the exchange's now.
  const more = (cursor: number, rangeEnd: number): boolean => cursor < rangeEnd && cursor + stepMs <= now;
  let inflight: Promise<Candles> | undefined;
  try {
    for (const [rangeStart, rangeEnd] of ranges) {
      inflight = more(rangeStart, rangeEnd) ? requestPage(rangeStart, rangeEnd) : undefined;
      while (inflight) {
        const fetchedPage = await inflight;
        inflight = undefined;
        pages++;
        if (fetchedPage.length === 0) break; // nothing more in this range (or only the forming candle)
        const cursor = fetchedPage.time[fetchedPage.length - 1] + stepMs;
        lastSeen = Math.max(lastSeen ?? -Infinity, cursor - stepMs);
        const page = checkPage(fetchedPage);
        // Ask for the next page before writing this one: the store write overlaps the request.
        if (more(cursor, rangeEnd)) {
          inflight = requestPage(cursor, rangeEnd);
          inflight.catch(() => undefined); // awaited above; this only keeps an abandoned one quiet
        }
        buffer.push(page);
        buffered += page.length;
        fetched += fetchedPage.length;
        if (buffered * 8 >= total || performance.now() - lastFlush >= 2000) flush();
        bar.tick(fetchedPage.length, isoTime(cursor - stepMs).slice(0, 16));
        options.onProgress?.({ storeId: id, fetched, expected, pages, requests, lastTime: cursor - stepMs });
      }
    }
  } finally {
    flush();
  }
  bar.done(`${added} new candles`);

  let funding: SeriesResult | undefined;
  let openInterest: SeriesResult | undefined;
  if (kind === 'futures' && options.extras !== false) {
    if (exchange.has.fetchFundingRateHistory) funding = await fetchFunding(exchange, key, market.symbol, from, end, counted, options.dataDir);
    if (exchange.has.fetchOpenInterestHistory) openInterest = await fetchOpenInterest(exchange, key, market.symbol, from, end, counted, options.dataDir);
  }
  const final = readStore(key, options.dataDir);
  return {
    key,
    storeId: id,
    file: storeFile(key, options.dataDir),
    added,
    total,
    first: final && final.length ? isoTime(final.time[0]) : undefined,
    last: final && final.length ? isoTime(final.time[final.length - 1]) : undefined,
    pages,
    pageSize,
    requests,
    exchangeNow: now,
    funding,
    openInterest,
    repaired,
    lastSeen,
    seconds: (performance.now() - started) / 1000,
  };
}

type Counted = <T>(what: string, call: () => Promise<T>) => Promise<T>;

/** One page of a side series: rows from `since`, before `until`, as time + named columns. */
type SeriesPage = (since: number, until: number) => Promise<{ time: number[]; columns: Record<string, number[]> }>;

/**
 * A side series (funding, open interest) in [from, end) into its store table: only the ranges not yet
 * stored, page by page, each page merged as it arrives. Failures are reported, not thrown: the candles
 * were the point of the download.
 */
async function fetchSeries(key: StoreKey, name: StoreSeriesName, from: number, end: number, page: SeriesPage, dataDir?: string): Promise<SeriesResult> {
  try {
    const stored = readStoreSeries(key, name, dataDir);
    const range = stored && stored.length ? { first: stored.time[0], last: stored.time[stored.length - 1] } : undefined;
    let added = 0;
    let total = stored?.length ?? 0;
    for (const [start, stop] of missingRanges(range, from, end, 1)) {
      for (let cursor = start; cursor < stop; ) {
        const { time, columns } = await page(cursor, stop);
        if (time.length === 0) break;
        const frame = Frame.fromColumns(
          Float64Array.from(time),
          Object.fromEntries(Object.entries(columns).map(([column, values]) => [column, Float64Array.from(values)])),
          { ...key, source: undefined },
        );
        const result = mergeSeriesIntoStore(key, name, frame, dataDir);
        added += result.added;
        total = result.total;
        cursor = time[time.length - 1] + 1;
      }
    }
    return { added, total };
  } catch (error) {
    return { error: oneLine(error) };
  }
}

/** Funding-rate history in [from, end) into the store's funding table, resuming after what is stored. */
function fetchFunding(exchange: Exchange, key: StoreKey, symbol: string, from: number, end: number, counted: Counted, dataDir?: string): Promise<SeriesResult> {
  return fetchSeries(key, 'funding', from, end, async (since, stop) => {
    const rows = await counted('fetchFundingRateHistory', () => exchange.fetchFundingRateHistory(symbol, since, 1000, { until: stop - 1 }));
    const kept = rows.filter((r) => typeof r.timestamp === 'number' && r.timestamp >= since && r.timestamp < stop && Number.isFinite(r.fundingRate));
    return { time: kept.map((r) => r.timestamp as number), columns: { funding_rate: kept.map((r) => r.fundingRate as number) } };
  }, dataDir);
}

/** Binance-style open-interest periods; the candle timeframe when offered, else the nearest longer one. */
const OI_PERIODS = ['5m', '15m', '30m', '1h', '2h', '4h', '6h', '12h', '1d'];

/** Open-interest history in [from, end) into the store's open-interest table. */
function fetchOpenInterest(exchange: Exchange, key: StoreKey, symbol: string, from: number, end: number, counted: Counted, dataDir?: string): Promise<SeriesResult> {
  const step = timeframeMs(key.timeframe);
  const period = OI_PERIODS.find((p) => timeframeMs(p) >= step) ?? '1d';
  return fetchSeries(key, 'open-interest', from, end, async (since, stop) => {
    const rows = await counted('fetchOpenInterestHistory', () => exchange.fetchOpenInterestHistory(symbol, period, since, 500, { until: stop - 1 }));
    const kept = rows.filter((r) => typeof r.timestamp === 'number' && r.timestamp >= since && r.timestamp < stop);
    return {
      time: kept.map((r) => r.timestamp as number),
      columns: { open_interest: kept.map((r) => r.openInterestAmount ?? NaN), open_interest_value: kept.map((r) => r.openInterestValue ?? NaN) },
    };
  }, dataDir);
}
