import type { OHLCV, Trade } from 'ccxt';
import { Frame, type Candles, isoTime, timeframeMs } from '../../frame/frame';
import { ConfigError, DataError } from '../../errors';
import { mergeIntoStore, readStore, storeId, type StoreKey } from '../store';
import { callExchange, createExchange, isTransient, oneLine, resolveMarket, type ExchangeConnection, type MarketKind } from './ccxt-client';
import { TradeCandleBuilder, type CandleRow } from './aggregate-trades';
import { fetchCandles, parseTime, type TimeInput } from './fetch-candles';
import { backoffDelay, withRetry, type RetryPolicy } from './retry';
import { candleDefect, type CandleRepair } from '../candle-validation';

/** A closed candle delivered by `streamCandles`. */
export type StreamedCandle = CandleRow & {
  /** 'stream' from the websocket; 'backfill' from REST after a start or a disconnect. */
  source: 'stream' | 'backfill';
  storeId: string;
};

/** Connection events, for logs and tests. */
export type StreamEvent =
  | { kind: 'subscribed'; mode: 'ohlcv' | 'trades' }
  | { kind: 'disconnected'; error: string; attempt: number; delayMs: number }
  | { kind: 'backfilled'; candles: number; from: number; to: number };

export type StreamCandlesOptions = ExchangeConnection & {
  symbol: string;
  timeframe: string;
  /** The store's folder (default: the workspace's data/). */
  dataDir?: string;
  /** 'ohlcv' (watchOHLCV), 'trades' (watchTrades aggregated into candles), or 'auto': candles when the exchange streams them. */
  mode?: 'auto' | 'ohlcv' | 'trades';
  /**
   * Called for every closed candle, in order: a backfilled one after it is stored, a streamed one as soon
   * as it closes (its store write follows, off the trading path; see streamCandles).
   */
  onCandle?: (candle: StreamedCandle) => void | Promise<void>;
  onEvent?: (event: StreamEvent) => void;
  /** Stop after this many closed candles (backfilled ones count). */
  maxCandles?: number;
  /** Fill from here through REST before streaming (default: after the last stored candle, when any). */
  backfillFrom?: TimeInput;
  /** Stop cleanly when aborted (Ctrl-C). */
  signal?: AbortSignal;
  /** Reconnect backoff (default: 8 attempts in a row, 500 ms doubling to 30 s). */
  reconnect?: RetryPolicy;
  /** REST retries for the backfill. */
  retry?: RetryPolicy;
  /**
   * An impossible closed candle (non-finite, price ≤ 0, volume < 0, high/low outside open/close) stops
   * the stream with an error; 'drop' leaves it out (recorded in the store) and streams on.
   */
  repair?: CandleRepair;
};

/**
 * Closed candles as they happen, from a ccxt.pro websocket: an async iterator (break out to stop).
 * Every closed candle is appended to the store and passed to `onCandle`. A candle counts as closed once
 * the stream moves to the next one (updates of the forming candle are never delivered). After a
 * dropped connection it reconnects with exponential backoff and fills the hole through REST, so the
 * stored series stays whole; a missing candle between two streamed ones is filled the same way.
 */
export async function* streamCandles(options: StreamCandlesOptions): AsyncGenerator<StreamedCandle, void, undefined> {
  const kind: MarketKind = options.market ?? 'spot';
  const stepMs = timeframeMs(options.timeframe);
  const exchange = createExchange({ ...options, market: kind }, true);
  // One close for the abort and the finally below: a second ccxt close() finds the clients already
  // removed and resolves at once, so awaiting it would return while the socket is still open.
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => (closing ??= exchange.close().then(() => undefined, () => undefined));
  const abort = (): void => void close();
  options.signal?.addEventListener('abort', abort);
  try {
    const { symbol, market } = await withRetry(`${exchange.id} loadMarkets`, () => resolveMarket(exchange, kind, options.symbol, options.timeframe), options.retry, exchange);
    const mode = options.mode === 'ohlcv' || options.mode === 'trades' ? options.mode : exchange.has.watchOHLCV ? 'ohlcv' : exchange.has.watchTrades ? 'trades' : undefined;
    if (!mode || (mode === 'ohlcv' && !exchange.has.watchOHLCV) || (mode === 'trades' && !exchange.has.watchTrades)) {
      throw new ConfigError(`${exchange.id} streams neither candles nor trades through ccxt.pro${options.mode ? ` (mode ${options.mode})` : ''}; use candlelab data fetch instead`);
    }
    const key: StoreKey = { exchange: exchange.id, market: kind, symbol, timeframe: options.timeframe };
    const id = storeId(key);
    const stored = readStore(key, options.dataDir);
    let lastEmitted = options.backfillFrom !== undefined ? parseTime(options.backfillFrom, 'backfillFrom') - stepMs : stored && stored.length ? stored.time[stored.length - 1] : -Infinity;
    let delivered = 0;
    const limit = options.maxCandles ?? Infinity;
    const done = (): boolean => delivered >= limit || options.signal?.aborted === true;

    /** A streamed closed candle that cannot be real: an error, or left out (and recorded) under repair. */
    const refused = (row: CandleRow): boolean => {
      const defect = candleDefect(row.open, row.high, row.low, row.close, row.volume);
      if (defect === undefined) return false;
      if (options.repair !== 'drop') {
        throw new DataError(`${id} ${isoTime(row.time)}: the stream sent an impossible candle (${defect}); nothing was stored for it — start again with --repair drop to leave such candles out`);
      }
      const empty = rowsToCandles([], key);
      mergeIntoStore(key, empty, { dataDir: options.dataDir, repaired: { source: `${exchange.id} stream`, rows: 1, first: [isoTime(row.time)] } });
      lastEmitted = row.time;
      return true;
    };
    const deliver = async (row: CandleRow, source: StreamedCandle['source']): Promise<StreamedCandle> => {
      lastEmitted = row.time;
      delivered++;
      const candle: StreamedCandle = { ...row, source, storeId: id };
      await options.onCandle?.(candle);
      return candle;
    };
    /** REST from after the last delivered candle to `until` (exclusive; default the exchange's now). */
    async function* backfill(until?: number): AsyncGenerator<StreamedCandle> {
      if (!Number.isFinite(lastEmitted)) return;
      const from = lastEmitted + stepMs;
      if (until !== undefined && until <= from) return;
      const fetched = await fetchCandles({ ...options, market: kind, client: exchange, from, to: until, extras: false, progress: 'quiet', onProgress: undefined, repair: options.repair });
      const all = readStore(key, options.dataDir);
      if (!all) return;
      let count = 0;
      for (let i = 0; i < all.length && !done(); i++) {
        const t = all.time[i];
        if (t < from || (until !== undefined && t >= until)) continue;
        yield await deliver(rowAt(all, i), 'backfill');
        count++;
      }
      // A candle left out under repair is handled too: never fetched again by the next gap check.
      if (!done() && fetched.lastSeen !== undefined && fetched.lastSeen > lastEmitted) lastEmitted = fetched.lastSeen;
      options.onEvent?.({ kind: 'backfilled', candles: count, from, to: lastEmitted + stepMs });
    }

    yield* backfill();
    const builder = new TradeCandleBuilder(options.timeframe);
    let pending: CandleRow | undefined;
    let failures = 0;
    let subscribed = false;
    while (!done()) {
      let closed: CandleRow[] = [];
      try {
        if (mode === 'ohlcv') {
          const rows: OHLCV[] = await exchange.watchOHLCV(market.symbol, options.timeframe);
          for (const raw of rows) {
            const row = ohlcvRow(raw);
            if (!row || row.time <= lastEmitted) continue;
            if (!pending || row.time === pending.time) pending = row;
            else if (row.time > pending.time) {
              closed.push(pending);
              pending = row;
            }
          }
        } else {
          const trades: Trade[] = await exchange.watchTrades(market.symbol);
          closed = builder.add(
            trades
              .filter((t) => typeof t.timestamp === 'number' && typeof t.price === 'number')
              .map((t) => ({ timestamp: t.timestamp as number, price: t.price as number, amount: t.amount ?? 0 })),
          );
        }
        if (!subscribed) {
          subscribed = true;
          options.onEvent?.({ kind: 'subscribed', mode });
        }
        failures = 0;
      } catch (error) {
        if (done()) break;
        if (!isTransient(error)) {
          await callExchange(exchange, mode === 'ohlcv' ? 'watchOHLCV' : 'watchTrades', () => Promise.reject(error));
        }
        failures++;
        const policy = options.reconnect ?? {};
        if (failures > (policy.retries ?? 8)) {
          throw new DataError(`${id}: the stream failed ${failures} times in a row (last: ${oneLine(error)}); check the connection and start it again (the store keeps what arrived)`, { cause: error });
        }
        const delayMs = backoffDelay(failures, policy);
        options.onEvent?.({ kind: 'disconnected', error: oneLine(error), attempt: failures, delayMs });
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        // The forming candle's updates may be incomplete: forget it and fill the hole through REST.
        pending = undefined;
        builder.reset();
        subscribed = false;
        yield* backfill();
        continue;
      }
      for (const row of closed) {
        if (done()) break;
        if (row.time <= lastEmitted) continue;
        if (Number.isFinite(lastEmitted) && row.time > lastEmitted + stepMs) yield* backfill(row.time);
        if (done()) break;
        if (row.time <= lastEmitted) continue;
        if (refused(row)) continue;
        const candle = await deliver(row, 'stream');
        // The store write (a rewrite of the series' file, milliseconds and growing with it) runs after the
        // consumer has handled the candle, while the stream waits for the next one: a trading session
        // decides without it. `finally`: the last candle is stored too when the consumer stops here.
        try {
          yield candle;
        } finally {
          mergeIntoStore(key, rowsToCandles([row], key), options.dataDir);
        }
      }
    }
  } catch (error) {
    if (options.signal?.aborted) return;
    throw error;
  } finally {
    options.signal?.removeEventListener('abort', abort);
    await close(); // resolves once every websocket of this stream has closed
  }
}

/** A streamed OHLCV row; values that are not numbers become NaN (an impossible candle, refused on close). */
function ohlcvRow(raw: OHLCV): CandleRow | undefined {
  const [time, ...values] = (raw as unknown[]).map((x) => (typeof x === 'number' ? x : NaN));
  if (!Number.isFinite(time)) return undefined; // no bar time: not a candle at all
  const [open, high, low, close, volume] = values;
  return { time, open, high, low, close, volume };
}

function rowAt(candles: Candles, i: number): CandleRow {
  return {
    time: candles.time[i],
    open: candles.column('open')[i],
    high: candles.column('high')[i],
    low: candles.column('low')[i],
    close: candles.column('close')[i],
    volume: candles.column('volume')[i],
  };
}

/** Candle rows → a candles frame for the store. */
export function rowsToCandles(rows: readonly CandleRow[], key: StoreKey): Candles {
  const pick = (f: (r: CandleRow) => number): Float64Array => Float64Array.from(rows, f);
  return Frame.fromColumns(
    pick((r) => r.time),
    { open: pick((r) => r.open), high: pick((r) => r.high), low: pick((r) => r.low), close: pick((r) => r.close), volume: pick((r) => r.volume) },
    { exchange: key.exchange, symbol: key.symbol, timeframe: key.timeframe },
  ) as Candles;
}

/** A readable line for a streamed candle. */
export function formatStreamedCandle(c: StreamedCandle): string {
  return `${isoTime(c.time)} o=${c.open} h=${c.high} l=${c.low} c=${c.close} v=${c.volume} (${c.source})`;
}
