import * as http from 'node:http';
import type { Exchange, MarketInterface } from 'ccxt';
import { ConfigError, DataError, editDistance } from '../../errors';
import { classifyResponseErrors, responseFailure } from './transient-errors';

/** The ccxt module (loaded on first use: it is large, and most commands never need it). */
export type CcxtModule = typeof import('ccxt');

let ccxtModule: CcxtModule | undefined;
/** ccxt, required lazily. */
export function loadCcxt(): CcxtModule {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  ccxtModule ??= require('ccxt') as CcxtModule;
  return ccxtModule;
}

export type MarketKind = 'spot' | 'futures';

/** How to reach an exchange through ccxt. */
export type ExchangeConnection = {
  /** ccxt exchange id (default 'binance'). */
  exchange?: string;
  market?: MarketKind;
  /**
   * Base URL replacing the scheme and host of every REST and websocket endpoint (e.g. the fake
   * exchange's http://127.0.0.1:port). Paths are kept; websocket URLs keep the original host as the
   * first path segment (ws://127.0.0.1:port/fstream.binance.com/market/ws), so spot and futures stay apart.
   */
  apiUrl?: string;
  /** Per-request timeout (default: ccxt's 10 s). */
  timeoutMs?: number;
  /** Minimum spacing of requests in ms (default: the exchange's own rate limit). */
  rateLimitMs?: number;
};

/** The `n` names closest to `name`: edit distance, with a shared prefix counting in favour. */
export function closestNames(name: string, candidates: readonly string[], n = 5): string[] {
  const lower = name.toLowerCase();
  const score = (candidate: string): number => {
    const c = candidate.toLowerCase();
    let prefix = 0;
    while (prefix < c.length && prefix < lower.length && c[prefix] === lower[prefix]) prefix++;
    return editDistance(lower, c) - prefix / 2;
  };
  return [...candidates].sort((a, b) => score(a) - score(b) || a.localeCompare(b)).slice(0, n);
}

/** Rewrite every URL under `urls` to `apiUrl` (see `ExchangeConnection.apiUrl`). */
export function rewriteApiUrls(urls: unknown, apiUrl: string): unknown {
  const base = new URL(apiUrl);
  const rewrite = (value: unknown): unknown => {
    if (typeof value === 'string' && /^(https?|wss?):\/\//.test(value)) {
      const original = new URL(value.replace(/\{hostname\}/g, 'host.invalid'));
      const originalPath = decodeURI(original.pathname).replace(/\/$/, '');
      if (original.protocol === 'wss:' || original.protocol === 'ws:') {
        const scheme = base.protocol === 'https:' ? 'wss:' : 'ws:';
        return `${scheme}//${base.host}/${original.host}${originalPath}${original.search}`;
      }
      return `${base.protocol}//${base.host}${originalPath}${original.search}`;
    }
    if (Array.isArray(value)) return value.map(rewrite);
    if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, rewrite(v)]));
    return value;
  };
  return rewrite(urls);
}

/** Check an exchange id against ccxt's list; the error lists the closest ids. */
export function assertExchangeId(id: string, pro = false): void {
  const ccxt = loadCcxt();
  // At run time both lists are arrays of ids (the ESM typings describe a map of classes).
  const ids = ((pro ? ccxt.pro : ccxt) as unknown as { exchanges: string[] }).exchanges;
  if (!ids.includes(id)) {
    throw new ConfigError(
      `unknown exchange '${id}'${pro ? ' (for streaming)' : ''}; closest ccxt ids: ${closestNames(id, ids).join(', ')} (all ${ids.length}: node -e "console.log(require('ccxt').${pro ? 'pro.' : ''}exchanges.join(' '))")`,
    );
  }
}

/**
 * A ccxt exchange (REST, or ccxt.pro for websockets) for one market kind: rate limiting on, currencies
 * not fetched (a private call on many exchanges), default type spot or swap, URLs rewritten to `apiUrl`.
 */
export function createExchange(connection: ExchangeConnection, pro = false): Exchange {
  const ccxt = loadCcxt();
  const id = connection.exchange ?? 'binance';
  assertExchangeId(id, pro);
  const market = connection.market ?? 'spot';
  const classes = (pro ? ccxt.pro : ccxt) as unknown as Record<string, new (config: Record<string, unknown>) => Exchange>;
  const probe = new classes[id]({});
  const options: Record<string, unknown> = { fetchCurrencies: false, defaultType: market === 'futures' ? 'swap' : 'spot' };
  // Binance-style exchanges load every market type at start; load only the one asked for.
  const fetchMarkets = probe.options?.fetchMarkets as { types?: string[] } | undefined;
  if (fetchMarkets && Array.isArray(fetchMarkets.types)) {
    options.fetchMarkets = { ...fetchMarkets, types: [market === 'futures' ? 'linear' : 'spot'] };
  }
  if (pro) {
    // streamCandles reconnects with its own backoff (and backfills); ccxt's extra 1 s+ redial wait is off.
    const ws = (probe.options?.ws ?? {}) as { backoff?: Record<string, unknown> };
    options.ws = { ...ws, backoff: { ...ws.backoff, base: 0 } };
  }
  const config: Record<string, unknown> = { enableRateLimit: true, options };
  if (connection.timeoutMs !== undefined) config.timeout = connection.timeoutMs;
  if (connection.rateLimitMs !== undefined) config.rateLimit = connection.rateLimitMs;
  if (connection.apiUrl) {
    try {
      new URL(connection.apiUrl);
    } catch {
      throw new ConfigError(`--api-url '${connection.apiUrl}' is not a URL; use e.g. http://127.0.0.1:8080`);
    }
    config.urls = { ...probe.urls, api: rewriteApiUrls(probe.urls.api, connection.apiUrl) };
    // ccxt needs an explicit agent for plain http:// and ws:// endpoints.
    if (connection.apiUrl.startsWith('http:')) config.httpAgent = new http.Agent({ keepAlive: true });
  }
  const exchange = new classes[id](config);
  classifyResponseErrors(exchange, market, ccxt);
  return exchange;
}

/** What `resolveMarket` found: the ccxt market and the unified symbol stored under. */
export type ResolvedMarket = { market: MarketInterface; symbol: string };

/**
 * Load markets and find `symbol` among the markets of the kind asked for. 'BTC/USDT' on futures
 * means the linear perpetual 'BTC/USDT:USDT'; exchange ids ('BTCUSDT') are accepted too. Unknown symbols
 * and timeframes are one-line errors listing the closest valid choices.
 */
export async function resolveMarket(exchange: Exchange, kind: MarketKind, symbol: string, timeframe?: string): Promise<ResolvedMarket> {
  // ccxt caches the loading promise, a failed one included: force a fresh load until markets are in.
  const loaded = exchange.markets !== undefined && Object.keys(exchange.markets).length > 0;
  await callExchange(exchange, 'loadMarkets', () => exchange.loadMarkets(!loaded));
  const wanted = (m: MarketInterface): boolean => (kind === 'spot' ? m.spot === true : m.swap === true || m.future === true);
  const markets = Object.values(exchange.markets ?? {}).filter((m): m is MarketInterface => !!m && wanted(m as MarketInterface));
  const upper = symbol.toUpperCase();
  const found =
    markets.find((m) => m.symbol === upper) ??
    (kind === 'futures' ? markets.find((m) => m.swap && m.linear && m.symbol === `${upper}:${upper.split('/')[1]}`) : undefined) ??
    markets.find((m) => (m.id ?? '').toUpperCase() === upper.replace('/', ''));
  if (!found) {
    const symbols = markets.map((m) => m.symbol);
    throw new ConfigError(
      `unknown symbol '${symbol}' on ${exchange.id} ${kind} (${symbols.length} markets); closest: ${closestNames(symbol, symbols).join(', ') || 'none — this exchange lists no ' + kind + ' markets'}`,
    );
  }
  if (timeframe !== undefined) assertTimeframe(exchange, timeframe);
  return { market: found, symbol: found.symbol };
}

/** Check a timeframe against the exchange's candle timeframes; the error lists them. */
export function assertTimeframe(exchange: Exchange, timeframe: string): void {
  const timeframes = Object.keys(exchange.timeframes ?? {});
  if (timeframes.length === 0) throw new ConfigError(`${exchange.id} offers no candles through ccxt; choose another exchange`);
  if (!timeframes.includes(timeframe)) {
    throw new ConfigError(`unknown timeframe '${timeframe}' on ${exchange.id}; valid: ${timeframes.join(', ')}`);
  }
}

/**
 * Run one exchange call, turning ccxt's non-transient errors into one-line candlelab errors (transient
 * ones are rethrown as they are, for `withRetry`).
 */
export async function callExchange<T>(exchange: Exchange, what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (isTransient(error)) throw error;
    const ccxt = loadCcxt();
    if (error instanceof ccxt.BadSymbol) throw new ConfigError(`${exchange.id} ${what}: ${oneLine(error)}; check the symbol`, { cause: error });
    if (error instanceof ccxt.NotSupported) throw new ConfigError(`${exchange.id} does not support ${what} through ccxt (${oneLine(error)}); choose another exchange`, { cause: error });
    if (error instanceof ccxt.BaseError) throw new DataError(`${exchange.id} ${what} failed: ${oneLine(error)}; check the request or try again later`, { cause: error });
    throw error;
  }
}

/**
 * Errors worth retrying (for reads): a failed response as its status and exchange code say (HTTP 5xx,
 * 408/418/429, codes meaning overload, timeout or disconnect; see transient-errors.ts), otherwise
 * network failures, timeouts, malformed pages.
 */
export function isTransient(error: unknown): boolean {
  const failure = responseFailure(error);
  if (failure) return failure.transient;
  const ccxt = loadCcxt();
  if (error instanceof ccxt.NetworkError || error instanceof MalformedResponseError) return true;
  if (error instanceof ccxt.BaseError || !(error instanceof Error)) return false;
  // A connection dropped while the body was read surfaces as Node's own error, not a ccxt one.
  const code = String((error as NodeJS.ErrnoException).code ?? (error.cause as NodeJS.ErrnoException | undefined)?.code ?? '');
  return error.name === 'SocketError' || /^(UND_ERR_|ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|EAI_AGAIN)/.test(code) || /^(terminated|fetch failed|other side closed)$/.test(error.message);
}

/** A page that did not parse as candles (a truncated or garbled body): retried like a network error. */
export class MalformedResponseError extends Error {}

/** The first line of an error message, trimmed to a sensible length. */
export function oneLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const line = text.split('\n')[0].trim();
  return line.length > 300 ? line.slice(0, 297) + '…' : line;
}
