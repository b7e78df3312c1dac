import * as fs from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateSyntheticCandles } from '../src/data/synthetic';
import { startFakeExchange, type FakeExchange } from '../src/testing';
import { fetchCandles, missingRanges, parseTime } from '../src/data/exchange/fetch-candles';
import { closestNames, rewriteApiUrls } from '../src/data/exchange/ccxt-client';
import { backoffDelay } from '../src/data/exchange/retry';
import { readStore, readStoreSeries, storeRepairRecord } from '../src/data/store';
import type { Candles } from '../src/frame/frame';
import { tempDir } from './helpers';

const HOUR = 3_600_000;
const spot = generateSyntheticCandles({ seed: 7, bars: 3000, timeframe: '1h', start: '2022-01-01T00:00:00Z' });
const futures = generateSyntheticCandles({ seed: 8, bars: 1200, timeframe: '1h', start: '2022-01-01T00:00:00Z' });
const eth = generateSyntheticCandles({ seed: 9, bars: 600, timeframe: '1h', start: '2022-01-01T00:00:00Z', startPrice: 2000 });
/** Fast settings for tests: tiny backoff, ccxt's limiter at 1 ms, short timeouts. */
const FAST = { retry: { baseDelayMs: 5, maxDelayMs: 50 }, rateLimitMs: 1, timeoutMs: 1500, progress: 'quiet' as const };

let fake: FakeExchange;
beforeAll(async () => {
  fake = await startFakeExchange({
    datasets: [
      { market: 'spot', symbol: 'BTC/USDT', timeframe: '1h', candles: spot },
      { market: 'spot', symbol: 'ETH/USDT', timeframe: '1h', candles: eth },
      { market: 'futures', symbol: 'BTC/USDT', timeframe: '1h', candles: futures },
    ],
  });
});
afterEach(() => {
  fake.clearFaults();
});
afterAll(async () => {
  await fake?.close();
});

function expectSameCandles(actual: Candles | undefined, expected: Candles): void {
  expect(actual).toBeDefined();
  expect(actual!.length).toBe(expected.length);
  expect(Array.from(actual!.time)).toEqual(Array.from(expected.time));
  for (const name of ['open', 'high', 'low', 'close', 'volume'] as const) expect(Array.from(actual!.column(name))).toEqual(Array.from(expected.column(name)));
}

const klineRequests = (since: number): number => fake.requests.slice(since).filter((r) => r.path.endsWith('/klines')).length;

describe('fetchCandles against the fake exchange', () => {
  it('pages through the whole range and stores exactly the dataset', async () => {
    const dataDir = tempDir('fetch-pages');
    const before = fake.requests.length;
    const result = await fetchCandles({ ...FAST, apiUrl: fake.url, symbol: 'BTC/USDT', timeframe: '1h', from: '2022-01-01', pageSize: 120, dataDir });
    expectSameCandles(readStore(result.key, dataDir), fake.candles('spot', 'BTC/USDT', '1h'));
    expect(result).toMatchObject({ added: 3000, total: 3000, storeId: 'binance/spot/BTC-USDT/1h', first: '2022-01-01T00:00:00.000Z' });
    expect(result.pages).toBe(25);
    expect(klineRequests(before)).toBe(25);
    const pages = fake.requests.slice(before).filter((r) => r.path === '/api/v3/klines');
    expect(pages.every((r) => r.query.limit === '120' && r.query.symbol === 'BTCUSDT' && r.query.interval === '1h')).toBe(true);
    // Each page starts right after the previous one's last candle.
    expect(pages.map((r) => Number(r.query.startTime))).toEqual(Array.from({ length: 25 }, (_, i) => spot.time[0] + i * 120 * HOUR));
    // Run again: nothing is missing, so no candle is requested.
    const again = await fetchCandles({ ...FAST, apiUrl: fake.url, symbol: 'BTC/USDT', timeframe: '1h', from: '2022-01-01', pageSize: 120, dataDir });
    expect(again).toMatchObject({ added: 0, total: 3000, pages: 0 });
  });

  it('uses the exchange page limit by default and honours an explicit range', async () => {
    const dataDir = tempDir('fetch-range');
    const before = fake.requests.length;
    const from = spot.time[100];
    const to = spot.time[2600];
    const result = await fetchCandles({ ...FAST, apiUrl: fake.url, symbol: 'BTC/USDT', timeframe: '1h', from, to: new Date(to), dataDir });
    expectSameCandles(readStore(result.key, dataDir), fake.candles('spot', 'BTC/USDT', '1h').slice(100, 2600));
    expect(fake.requests.slice(before).filter((r) => r.path === '/api/v3/klines').map((r) => r.query.limit)).toEqual(['1000', '1000', '1000']);
    // Extending the range later fetches only the missing parts, before and after.
    const wider = await fetchCandles({ ...FAST, apiUrl: fake.url, symbol: 'BTC/USDT', timeframe: '1h', from: spot.time[50], to: spot.time[2700], dataDir });
    expect(wider.added).toBe(150);
    expectSameCandles(readStore(result.key, dataDir), fake.candles('spot', 'BTC/USDT', '1h').slice(50, 2700));
  });

  it('survives every fault: 429 and 418 with Retry-After, 5xx, slow, hung, truncated and dropped responses', async () => {
    const dataDir = tempDir('fetch-faults');
    const before = fake.requests.length;
    fake.fault('klines', { kind: 'status', status: 429, retryAfterSeconds: 1 });
    fake.fault('klines', { kind: 'status', status: 418 });
    fake.fault('klines', { kind: 'status', status: 500 });
    fake.fault('klines', { kind: 'status', status: 502 });
    fake.fault('klines', { kind: 'status', status: 503 });
    fake.fault('klines', { kind: 'status', status: 504 });
    fake.fault('klines', { kind: 'slow', delayMs: 200 });
    fake.fault('klines', { kind: 'hang' });
    fake.fault('klines', { kind: 'truncate', rows: 37 });
    fake.fault('klines', { kind: 'drop' });
    fake.fault('exchangeInfo', { kind: 'status', status: 503 });
    fake.fault('time', { kind: 'drop' });
    const retries: string[] = [];
    const result = await fetchCandles({
      ...FAST,
      timeoutMs: 400,
      apiUrl: fake.url,
      symbol: 'ETH/USDT',
      timeframe: '1h',
      from: '2022-01-01',
      pageSize: 200,
      dataDir,
      retry: { ...FAST.retry, onRetry: (info) => retries.push(info.error) },
    });
    expectSameCandles(readStore(result.key, dataDir), fake.candles('spot', 'ETH/USDT', '1h'));
    const log = fake.requests.slice(before);
    expect(log.filter((r) => r.fault).map((r) => r.fault)).toEqual(['status', 'drop', 'status', 'status', 'status', 'status', 'status', 'status', 'slow', 'hang', 'truncate', 'drop']);
    // 10 retried failures (slow and truncated pages are answers, not failures).
    expect(retries.length).toBe(10);
    // The 429's Retry-After (1 s) was honoured before the next request.
    const limited = log.findIndex((r) => r.status === 429);
    expect(log[limited + 1].at - log[limited].at).toBeGreaterThanOrEqual(990);
    // The short page (37 rows) was followed by a request from its last row on: no gap, no duplicate.
    const truncated = log.find((r) => r.fault === 'truncate')!;
    const next = log[log.indexOf(truncated) + 1];
    expect(Number(next.query.startTime) - Number(truncated.query.startTime)).toBe(37 * HOUR);
  });

  // Binance documents HTTP 5xx as "execution status unknown": a read is retried. ccxt files Binance's
  // body codes under classes that differ by URL and market (-1001 → OperationFailed, not a network
  // error), so the retry decision is taken from the response itself.
  const transientCases: Array<{ market: 'spot' | 'futures'; status: number; code?: number }> = [
    ...(['spot', 'futures'] as const).flatMap((market) => [
      { market, status: 500, code: -1001 }, // DISCONNECTED: "Internal error; unable to process your request. Please try again."
      { market, status: 500, code: -1000 }, // UNKNOWN
      { market, status: 503, code: -1008 }, // SERVER_BUSY / throttled by system-level protection
      { market, status: 503, code: -1006 }, // UNEXPECTED_RESP: execution status unknown
      { market, status: 504, code: -1007 }, // TIMEOUT: execution status unknown
      { market, status: 429, code: -1003 }, // TOO_MANY_REQUESTS
      { market, status: 400, code: -1001 }, // the code decides even under a 4xx status
      { market, status: 500 }, // an HTML error page
      { market, status: 502 },
      { market, status: 503 },
      { market, status: 505 }, // not in ccxt's status table: would pass as a body
      { market, status: 599 },
    ]),
    { market: 'spot', status: 503, code: -1004 }, // spot's -1004: "Server is busy, please wait and try again"
  ];
  it.each(transientCases.map((c) => [`${c.market} HTTP ${c.status}${c.code !== undefined ? ` code ${c.code}` : ''}`, c] as const))(
    'retries a read answered with %s, then completes',
    async (_name, { market, status, code }) => {
      const dataDir = tempDir('fetch-transient');
      fake.fault('klines', { kind: 'status', status, code }, 2);
      const retries: string[] = [];
      const to = (market === 'spot' ? spot : futures).time[300];
      const result = await fetchCandles({
        ...FAST,
        apiUrl: fake.url,
        market,
        symbol: 'BTC/USDT',
        timeframe: '1h',
        from: '2022-01-01',
        to,
        extras: false,
        dataDir,
        retry: { ...FAST.retry, onRetry: (info) => retries.push(info.error) },
      });
      expect(retries.length).toBe(2);
      expect(fake.clearFaults()).toBe(0);
      expectSameCandles(readStore(result.key, dataDir), fake.candles(market, 'BTC/USDT', '1h').slice(0, 300));
    },
  );

  const permanentCases: Array<{ market: 'spot' | 'futures'; status: number; code?: number; error: RegExp }> = [
    { market: 'spot', status: 400, code: -1100, error: /Illegal characters/ },
    { market: 'futures', status: 400, code: -1004, error: /binance fetchOHLCV failed: .*-1004/ }, // futures' -1004 is DUPLICATE_IP
    { market: 'spot', status: 404, error: /binance fetchOHLCV failed: .*404/ },
    { market: 'spot', status: 403, error: /binance fetchOHLCV failed: .*403/ }, // WAF limit: retrying does not help
  ];
  it.each(permanentCases.map((c) => [`${c.market} HTTP ${c.status}${c.code !== undefined ? ` code ${c.code}` : ''}`, c] as const))(
    'stops at once on a request error (%s) with one line, storing nothing',
    async (_name, { market, status, code, error }) => {
      const dataDir = tempDir('fetch-permanent');
      fake.fault('klines', { kind: 'status', status, code }, 3);
      const before = fake.requests.length;
      const retries: string[] = [];
      await expect(
        fetchCandles({ ...FAST, apiUrl: fake.url, market, symbol: 'BTC/USDT', timeframe: '1h', from: '2022-01-01', extras: false, dataDir, retry: { ...FAST.retry, onRetry: (info) => retries.push(info.error) } }),
      ).rejects.toThrow(error);
      expect(retries).toEqual([]);
      expect(klineRequests(before)).toBe(1);
      expect(fake.clearFaults()).toBe(2);
      expect(fs.existsSync(`${dataDir}/binance`)).toBe(false);
    },
  );

  it('gives up after the configured retries with a one-line error saying how to resume', async () => {
    const dataDir = tempDir('fetch-giveup');
    fake.fault('klines', { kind: 'status', status: 503 }, 10);
    await expect(
      fetchCandles({ ...FAST, apiUrl: fake.url, symbol: 'BTC/USDT', timeframe: '1h', from: '2022-01-01', dataDir, retry: { retries: 2, baseDelayMs: 1 } }),
    ).rejects.toThrow(/binance fetchOHLCV failed 3 times \(last: .*\); check the connection and run the same command again to resume/);
    expect(fake.clearFaults()).toBe(7);
  });

  it('never stores the candle still forming at the exchange clock, and stores it once closed', async () => {
    const dataDir = tempDir('fetch-open');
    const saved = fake.now;
    try {
      fake.setNow(spot.time[500] + 30 * 60_000); // half-way through candle 500
      const before = fake.requests.length;
      const first = await fetchCandles({ ...FAST, apiUrl: fake.url, symbol: 'BTC/USDT', timeframe: '1h', from: '2022-01-01', dataDir });
      expect(first.total).toBe(500);
      expect(readStore(first.key, dataDir)!.time.at(-1)).toBe(spot.time[499]);
      expect(first.exchangeNow).toBe(spot.time[500] + 30 * 60_000);
      // The exchange did serve the forming candle (as Binance does); it was dropped.
      const page = fake.requests.slice(before).filter((r) => r.path === '/api/v3/klines');
      expect(Number(page.at(-1)!.query.endTime)).toBeGreaterThanOrEqual(spot.time[500]);
      fake.setNow(spot.time[502]); // candles 500 and 501 have closed
      const second = await fetchCandles({ ...FAST, apiUrl: fake.url, symbol: 'BTC/USDT', timeframe: '1h', from: '2022-01-01', dataDir });
      expect(second.added).toBe(2);
      expectSameCandles(readStore(first.key, dataDir), fake.candles('spot', 'BTC/USDT', '1h').slice(0, 502));
    } finally {
      fake.setNow(saved);
    }
  });

  it('stores funding-rate and open-interest history beside futures candles', async () => {
    const dataDir = tempDir('fetch-futures');
    const result = await fetchCandles({ ...FAST, apiUrl: fake.url, market: 'futures', symbol: 'BTC/USDT', timeframe: '1h', from: '2022-01-01', dataDir });
    expect(result.key.symbol).toBe('BTC/USDT:USDT');
    expect(result.storeId).toBe('binance/futures/BTC-USDT-USDT/1h');
    expectSameCandles(readStore(result.key, dataDir), fake.candles('futures', 'BTC/USDT', '1h'));
    const funding = readStoreSeries(result.key, 'funding', dataDir)!;
    const expectedFunding = fake.funding('BTC/USDT');
    expect(expectedFunding.length).toBe(150);
    expect(Array.from(funding.time)).toEqual(expectedFunding.map((f) => f.time));
    expect(Array.from(funding.column('funding_rate'))).toEqual(expectedFunding.map((f) => f.rate));
    const oi = readStoreSeries(result.key, 'open-interest', dataDir)!;
    const expectedOi = fake.openInterest('BTC/USDT', '1h');
    expect(oi.length).toBe(1200);
    expect(Array.from(oi.time)).toEqual(expectedOi.map((r) => r.time));
    expect(Array.from(oi.column('open_interest'))).toEqual(expectedOi.map((r) => r.openInterest));
    expect(Array.from(oi.column('open_interest_value'))).toEqual(expectedOi.map((r) => r.value));
    expect(result.funding).toEqual({ added: 150, total: 150 });
    expect(result.openInterest).toEqual({ added: 1200, total: 1200 });
  });

  it('stops at an impossible candle from the exchange (time named, pages before it kept), or leaves it out with --repair drop', async () => {
    // An exchange serving one candle whose high is below its low, in the second page.
    const bad = generateSyntheticCandles({ seed: 3, bars: 400, timeframe: '1h', start: '2022-01-01T00:00:00Z' });
    const high = bad.column('high').slice();
    high[250] = bad.column('low')[250] - 1;
    const broken = bad.withColumns({ high }) as Candles;
    const exchange = await startFakeExchange({ datasets: [{ market: 'spot', symbol: 'BTC/USDT', timeframe: '1h', candles: broken }] });
    try {
      const base = { ...FAST, apiUrl: exchange.url, symbol: 'BTC/USDT', timeframe: '1h', from: '2022-01-01', pageSize: 200 };
      const dataDir = tempDir('fetch-impossible');
      await expect(fetchCandles({ ...base, dataDir })).rejects.toThrow(
        /^binance\/spot\/BTC-USDT\/1h from binance row 51 \(2022-01-11T10:00:00\.000Z\): high [\d.]+ is below max\(open, close\) = [\d.]+, which no real candle has; .*--repair drop/,
      );
      const kept = readStore({ exchange: 'binance', market: 'spot', symbol: 'BTC/USDT', timeframe: '1h' }, dataDir)!;
      expect(kept.length).toBe(200); // the first page; nothing of the page holding the bad candle
      const repairedDir = tempDir('fetch-repaired');
      const result = await fetchCandles({ ...base, dataDir: repairedDir, repair: 'drop' });
      expect(result.repaired).toEqual({ rows: 1, first: ['2022-01-11T10:00:00.000Z'] });
      const stored = readStore(result.key, repairedDir)!;
      expect(stored.length).toBe(399);
      expect(stored.time.includes(bad.time[250])).toBe(false);
      expect(storeRepairRecord(result.key, repairedDir)).toMatchObject({ policy: 'drop', rowsDropped: 1, sources: [{ source: 'binance fetchOHLCV', rows: 1 }] });
    } finally {
      await exchange.close();
    }
  });

  it('rejects an unknown exchange, symbol or timeframe with the closest valid choices', async () => {
    const dataDir = tempDir('fetch-unknown');
    const base = { ...FAST, apiUrl: fake.url, from: '2022-01-01', dataDir };
    await expect(fetchCandles({ ...base, exchange: 'binanse', symbol: 'BTC/USDT', timeframe: '1h' })).rejects.toThrow(
      /^unknown exchange 'binanse'; closest ccxt ids: binance, .*\(all \d+: /,
    );
    await expect(fetchCandles({ ...base, symbol: 'BTC/USDX', timeframe: '1h' })).rejects.toThrow(/^unknown symbol 'BTC\/USDX' on binance spot \(\d+ markets\); closest: BTC\/USDT, /);
    await expect(fetchCandles({ ...base, symbol: 'BTC/USDT', timeframe: '7h' })).rejects.toThrow(/^unknown timeframe '7h' on binance; valid: 1s, 1m, 3m, 5m, 15m, 30m, 1h, .*1M$/);
    await expect(fetchCandles({ ...base, symbol: 'BTC/USDT', timeframe: '1h', from: 'yesterday' })).rejects.toThrow(/^from 'yesterday' is not a date; use e\.g\. 2024-01-01/);
    expect(fs.existsSync(`${dataDir}/binance`)).toBe(false);
  });
});

describe('download helpers', () => {
  it('computes the ranges the store lacks', () => {
    expect(missingRanges(undefined, 0, 10, 1)).toEqual([[0, 10]]);
    expect(missingRanges({ first: 3, last: 5 }, 0, 10, 1)).toEqual([[0, 3], [6, 10]]);
    expect(missingRanges({ first: 0, last: 9 }, 0, 10, 1)).toEqual([]);
    expect(missingRanges({ first: 0, last: 4 }, 2, 8, 2)).toEqual([[6, 8]]);
  });

  it('parses dates as UTC and epoch numbers by magnitude', () => {
    expect(parseTime('2024-01-01')).toBe(Date.UTC(2024, 0, 1));
    expect(parseTime('2024-01-01T12:30')).toBe(Date.UTC(2024, 0, 1, 12, 30));
    expect(parseTime('1704067200')).toBe(Date.UTC(2024, 0, 1));
    expect(parseTime('1704067200000')).toBe(Date.UTC(2024, 0, 1));
  });

  it('backs off exponentially up to the cap', () => {
    expect([1, 2, 3, 4, 5].map((a) => backoffDelay(a, { baseDelayMs: 100, maxDelayMs: 1000 }))).toEqual([100, 200, 400, 800, 1000]);
  });

  it('ranks close names first and rewrites exchange URLs to a base URL', () => {
    expect(closestNames('binanse', ['kraken', 'binance', 'binanceus', 'bitget'], 2)).toEqual(['binance', 'binanceus']);
    expect(rewriteApiUrls({ public: 'https://api.binance.com/api/v3', ws: { spot: 'wss://stream.binance.com:9443/ws' } }, 'http://127.0.0.1:9')).toEqual({
      public: 'http://127.0.0.1:9/api/v3',
      ws: { spot: 'ws://127.0.0.1:9/stream.binance.com:9443/ws' },
    });
  });
});
