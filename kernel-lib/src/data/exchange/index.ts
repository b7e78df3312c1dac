export { createExchange, resolveMarket, assertTimeframe, assertExchangeId, closestNames, rewriteApiUrls, type ExchangeConnection, type MarketKind } from './ccxt-client';
export { withRetry, backoffDelay, retryAfterMs, type RetryPolicy } from './retry';
export { fetchCandles, parseTime, missingRanges, ohlcvPageLimit, type FetchCandlesOptions, type FetchCandlesResult, type FetchProgress, type TimeInput } from './fetch-candles';
export { streamCandles, formatStreamedCandle, type StreamCandlesOptions, type StreamedCandle, type StreamEvent } from './stream-candles';
export { aggregateTrades, TradeCandleBuilder, type TradeTick, type CandleRow } from './aggregate-trades';
