import type { Exchange } from 'ccxt';
import type { MarketKind } from './ccxt-client';

/**
 * Which failed REST responses are worth retrying, decided where the response is seen: the HTTP status
 * and the exchange's own error code, not the ccxt error class. ccxt files exchange codes by URL and
 * market, so one code lands in different classes (ccxt 4.5: Binance -1001 "Internal error; unable to
 * process your request. Please try again." is OperationFailed, not a NetworkError; behind a proxy or a
 * local stand-in the market-specific tables are skipped altogether), and a body code stops ccxt from
 * looking at the status at all. Binance documents HTTP 5xx as "execution status unknown": for market
 * data that means "try again".
 */

/** Exchange error codes meaning overload, timeout or a dropped backend connection, per market. */
const TRANSIENT_CODES: Record<string, Record<MarketKind, ReadonlySet<string>>> = {
  // https://developers.binance.com/docs/binance-spot-api-docs/errors (10xx: server or network issues)
  // and the USDⓈ-M futures error list. -1000 UNKNOWN, -1001 DISCONNECTED, -1003 TOO_MANY_REQUESTS,
  // -1006 UNEXPECTED_RESP, -1007 TIMEOUT, -1008 SERVER_BUSY (futures: throttled by system protection);
  // spot's -1004 is "Server is busy" while futures' -1004 is DUPLICATE_IP (an account error).
  binance: {
    spot: new Set(['-1000', '-1001', '-1003', '-1004', '-1006', '-1007', '-1008']),
    futures: new Set(['-1000', '-1001', '-1003', '-1006', '-1007', '-1008']),
  },
};
for (const id of ['binanceusdm', 'binancecoinm', 'binanceus']) TRANSIENT_CODES[id] = TRANSIENT_CODES.binance;

/** What the failed response said, attached to the error ccxt raised for it. */
export type ResponseFailure = {
  status: number;
  /** The exchange's error code from the JSON body ({"code": -1001, …}), when it sent one. */
  exchangeCode?: string;
  /** Whether a market-data read should be retried. */
  transient: boolean;
};

const FAILURE = Symbol('candlelab.responseFailure');

/** The response failure recorded on an error by `classifyResponseErrors`, if any. */
export function responseFailure(error: unknown): ResponseFailure | undefined {
  return error && typeof error === 'object' ? (error as { [FAILURE]?: ResponseFailure })[FAILURE] : undefined;
}

/** Retry a read after this response? 5xx, 408, 418, 429 and the exchange's transient codes: yes; other 4xx: no. */
export function isTransientResponse(exchangeId: string, market: MarketKind, status: number, exchangeCode: string | undefined): boolean {
  if (exchangeCode !== undefined && TRANSIENT_CODES[exchangeId]?.[market].has(exchangeCode)) return true;
  if (status >= 500) return true;
  return status === 408 || status === 418 || status === 429;
}

/**
 * Hook the exchange's REST error handling so every error raised for a response carries the response's
 * status, the exchange's code and the retry decision. A 5xx that ccxt's status table does not list
 * (505, 507, 599, …) would otherwise pass as a successful body; it raises ExchangeNotAvailable here.
 */
export function classifyResponseErrors(exchange: Exchange, market: MarketKind, ccxt: typeof import('ccxt')): void {
  type Handler = (status: number, reason: string, url: string, method: string, ...rest: unknown[]) => unknown;
  const target = exchange as unknown as { handleErrors: Handler; handleHttpStatusCode: Handler };
  const tag = (error: unknown, status: number, body: unknown): unknown => {
    if (error && typeof error === 'object' && !(FAILURE in error)) {
      const code = body && typeof body === 'object' && !Array.isArray(body) ? (body as { code?: unknown }).code : undefined;
      const exchangeCode = typeof code === 'number' || typeof code === 'string' ? String(code) : undefined;
      Object.defineProperty(error, FAILURE, { value: { status, exchangeCode, transient: isTransientResponse(exchange.id, market, status, exchangeCode) }, enumerable: false });
    }
    return error;
  };
  const handleErrors = target.handleErrors.bind(exchange);
  target.handleErrors = (status, reason, url, method, headers, body, response, ...rest) => {
    try {
      return handleErrors(status, reason, url, method, headers, body, response, ...rest);
    } catch (error) {
      throw tag(error, status, response);
    }
  };
  const handleHttpStatusCode = target.handleHttpStatusCode.bind(exchange);
  target.handleHttpStatusCode = (status, reason, url, method, body, ...rest) => {
    try {
      handleHttpStatusCode(status, reason, url, method, body, ...rest);
    } catch (error) {
      throw tag(error, status, undefined);
    }
    if (status >= 500) throw tag(new ccxt.ExchangeNotAvailable(`${exchange.id} ${method} ${url} ${status} ${reason} ${String(body).slice(0, 200)}`), status, undefined);
    return undefined;
  };
}
