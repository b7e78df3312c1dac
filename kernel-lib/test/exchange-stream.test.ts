import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateSyntheticCandles } from '../src/data/synthetic';
import { startFakeExchange, type FakeExchange } from '../src/testing';
import { streamCandles, type StreamedCandle, type StreamEvent } from '../src/data/exchange/stream-candles';
import { aggregateTrades, TradeCandleBuilder } from '../src/data/exchange/aggregate-trades';
import { readStore, storeRepairRecord } from '../src/data/store';
import { tempDir } from './helpers';

const MINUTE = 60_000;
const dataset = generateSyntheticCandles({ seed: 11, bars: 2000, timeframe: '1m', start: '2023-03-01T00:00:00Z' });
const FAST = { reconnect: { baseDelayMs: 5, maxDelayMs: 20 }, retry: { baseDelayMs: 5 }, rateLimitMs: 1, timeoutMs: 2000 };

let fake: FakeExchange;
let ticker: NodeJS.Timeout | undefined;
beforeAll(async () => {
  fake = await startFakeExchange({ datasets: [{ market: 'spot', symbol: 'BTC/USDT', timeframe: '1m', candles: dataset }], now: dataset.time[0] });
});
afterEach(() => {
  if (ticker) clearInterval(ticker);
  ticker = undefined;
});
afterAll(async () => {
  await fake?.close();
});

/** Start the exchange clock at `start` and move it 20 s every 10 ms (a minute candle closes every 30 ms). */
function runClock(start: number): void {
  fake.setNow(start);
  ticker = setInterval(() => fake.setNow(fake.now + 20_000), 10);
}

/** The served candle at `time` as a row. */
function servedRow(time: number): Omit<StreamedCandle, 'source' | 'storeId'> {
  const served = fake.candles('spot', 'BTC/USDT', '1m');
  const i = (time - served.time[0]) / MINUTE;
  return { time, open: served.column('open')[i], high: served.column('high')[i], low: served.column('low')[i], close: served.column('close')[i], volume: served.column('volume')[i] };
}

describe('streamCandles against the fake exchange', () => {
  it('delivers closed candles only, backfilled first, then from the websocket, each stored and passed to onCandle', async () => {
    const dataDir = tempDir('stream-closed');
    runClock(dataset.time[100] + 25_000);
    const seen: StreamedCandle[] = [];
    const closedAtDelivery: boolean[] = [];
    const events: StreamEvent['kind'][] = [];
    const delivered: StreamedCandle[] = [];
    for await (const candle of streamCandles({
      ...FAST,
      apiUrl: fake.url,
      symbol: 'BTC/USDT',
      timeframe: '1m',
      dataDir,
      backfillFrom: dataset.time[90],
      maxCandles: 25,
      onEvent: (e) => events.push(e.kind),
      onCandle: (c) => {
        seen.push(c);
        closedAtDelivery.push(fake.now >= c.time + MINUTE);
      },
    })) {
      delivered.push(candle);
    }
    expect(delivered).toEqual(seen);
    expect(delivered.length).toBe(25);
    expect(closedAtDelivery.every(Boolean)).toBe(true);
    expect(delivered[0].time).toBe(dataset.time[90]);
    expect(delivered[0].source).toBe('backfill');
    expect(delivered.some((c) => c.source === 'stream')).toBe(true);
    expect(events[0]).toBe('backfilled');
    expect(events).toContain('subscribed');
    // Consecutive minutes, each equal to the exchange's final candle (never a partial update).
    delivered.forEach((c, i) => {
      expect(c.time).toBe(dataset.time[90] + i * MINUTE);
      expect({ time: c.time, open: c.open, high: c.high, low: c.low, close: c.close, volume: c.volume }).toEqual(servedRow(c.time));
    });
    const stored = readStore({ exchange: 'binance', market: 'spot', symbol: 'BTC/USDT', timeframe: '1m' }, dataDir)!;
    expect(Array.from(stored.time)).toEqual(delivered.map((c) => c.time));
    expect(Array.from(stored.column('close'))).toEqual(delivered.map((c) => c.close));
    // The stream has closed its socket when it returns (the closing handshake is done, so the server
    // is past OPEN); the server's own 'close' event follows a moment later.
    expect(fake.openWebSocketCount).toBe(0);
    await fake.waitForWebSocketCount(0, 2000);
  });

  it('reconnects after a dropped socket and backfills the hole through REST: the stored series has no gap', async () => {
    const dataDir = tempDir('stream-drop');
    runClock(dataset.time[300] + 5_000);
    const events: StreamEvent[] = [];
    const delivered: StreamedCandle[] = [];
    let drops = 0;
    let streamed = 0;
    for await (const candle of streamCandles({
      ...FAST,
      apiUrl: fake.url,
      symbol: 'BTC/USDT',
      timeframe: '1m',
      dataDir,
      maxCandles: 30,
      onEvent: (e) => events.push(e),
    })) {
      delivered.push(candle);
      // Drop the connection twice, after 4 streamed candles each time; the clock runs on while disconnected.
      if (candle.source === 'stream' && ++streamed === 4 && drops < 2) {
        drops++;
        streamed = 0;
        fake.dropWebSockets();
        fake.setNow(fake.now + 5 * MINUTE); // five candles close while nobody is connected
      }
    }
    expect(drops).toBe(2);
    expect(events.filter((e) => e.kind === 'disconnected').length).toBe(2);
    expect(delivered.filter((c) => c.source === 'backfill').length).toBeGreaterThanOrEqual(10);
    const first = delivered[0].time;
    delivered.forEach((c, i) => {
      expect(c.time).toBe(first + i * MINUTE);
      expect({ time: c.time, open: c.open, high: c.high, low: c.low, close: c.close, volume: c.volume }).toEqual(servedRow(c.time));
    });
    const stored = readStore({ exchange: 'binance', market: 'spot', symbol: 'BTC/USDT', timeframe: '1m' }, dataDir)!;
    expect(stored.length).toBe(30);
    expect(stored.time[29] - stored.time[0]).toBe(29 * MINUTE); // no gap, no duplicate
  });

  it('resumes after the last stored candle on the next start', async () => {
    const dataDir = tempDir('stream-resume');
    runClock(dataset.time[500] + 1_000);
    for await (const candle of streamCandles({ ...FAST, apiUrl: fake.url, symbol: 'BTC/USDT', timeframe: '1m', dataDir, maxCandles: 3 })) expect(candle.source).toBe('stream');
    clearInterval(ticker);
    const key = { exchange: 'binance', market: 'spot' as const, symbol: 'BTC/USDT', timeframe: '1m' };
    const last = readStore(key, dataDir)!.time.at(-1)!;
    fake.setNow(fake.now + 10 * MINUTE); // ten minutes pass with no stream running
    runClock(fake.now);
    const again: StreamedCandle[] = [];
    for await (const candle of streamCandles({ ...FAST, apiUrl: fake.url, symbol: 'BTC/USDT', timeframe: '1m', dataDir, maxCandles: 12 })) again.push(candle);
    expect(again[0]).toMatchObject({ time: last + MINUTE, source: 'backfill' });
    const stored = readStore(key, dataDir)!;
    expect(stored.length).toBe(15);
    expect(stored.time[14] - stored.time[0]).toBe(14 * MINUTE);
  });

  it('builds candles from the trade stream when asked (mode trades), equal to the exchange candles', async () => {
    const dataDir = tempDir('stream-trades');
    runClock(dataset.time[700] + 30_000);
    const delivered: StreamedCandle[] = [];
    for await (const candle of streamCandles({ ...FAST, apiUrl: fake.url, symbol: 'BTC/USDT', timeframe: '1m', dataDir, mode: 'trades', maxCandles: 8 })) delivered.push(candle);
    expect(delivered.length).toBe(8);
    // The first minute seen on the trade stream is incomplete and never delivered.
    expect(delivered[0].time).toBeGreaterThan(dataset.time[700]);
    for (const c of delivered) {
      const expected = servedRow(c.time);
      expect([c.open, c.high, c.low, c.close]).toEqual([expected.open, expected.high, expected.low, expected.close]);
      expect(c.volume).toBeCloseTo(expected.volume, 6);
    }
  });

  it('stops cleanly when aborted', async () => {
    const dataDir = tempDir('stream-abort');
    runClock(dataset.time[900]);
    const controller = new AbortController();
    const delivered: StreamedCandle[] = [];
    for await (const candle of streamCandles({ ...FAST, apiUrl: fake.url, symbol: 'BTC/USDT', timeframe: '1m', dataDir, signal: controller.signal })) {
      delivered.push(candle);
      if (delivered.length === 2) setTimeout(() => controller.abort(), 5);
    }
    expect(delivered.length).toBeGreaterThanOrEqual(2);
    // The stream has closed its socket when it returns (the closing handshake is done, so the server
    // is past OPEN); the server's own 'close' event follows a moment later.
    expect(fake.openWebSocketCount).toBe(0);
    await fake.waitForWebSocketCount(0, 2000);
  });

  it('refuses an impossible closed candle (the stream stops, nothing stored for it), or leaves it out with repair: drop', async () => {
    const high = dataset.column('high').slice();
    high[1105] = dataset.column('low')[1105] - 5; // high below low
    const broken = dataset.withColumns({ high }) as typeof dataset;
    const exchange = await startFakeExchange({ datasets: [{ market: 'spot', symbol: 'BTC/USDT', timeframe: '1m', candles: broken }], now: dataset.time[1100] + 25_000 });
    let clock: NodeJS.Timeout | undefined;
    try {
      const key = { exchange: 'binance', market: 'spot' as const, symbol: 'BTC/USDT', timeframe: '1m' };
      const stream = (dataDir: string, repair?: 'drop') =>
        streamCandles({ ...FAST, apiUrl: exchange.url, symbol: 'BTC/USDT', timeframe: '1m', dataDir, backfillFrom: dataset.time[1100], maxCandles: 8, repair });
      clock = setInterval(() => exchange.setNow(exchange.now + 20_000), 10);
      const refusedDir = tempDir('stream-impossible');
      const seen: number[] = [];
      await expect(
        (async () => {
          for await (const candle of stream(refusedDir)) seen.push(candle.time);
        })(),
      ).rejects.toThrow(/^binance\/spot\/BTC-USDT\/1m 2023-03-01T18:25:00\.000Z: the stream sent an impossible candle \(high [\d.]+ is below max\(open, close\)/);
      expect(seen).toEqual([1100, 1101, 1102, 1103, 1104].map((i) => dataset.time[i]));
      expect(Array.from(readStore(key, refusedDir)!.time)).toEqual(seen);
      await exchange.waitForWebSocketCount(0, 2000);

      const repairedDir = tempDir('stream-repaired');
      const delivered: number[] = [];
      for await (const candle of stream(repairedDir, 'drop')) delivered.push(candle.time);
      const rows = [1100, 1101, 1102, 1103, 1104, 1106, 1107, 1108].map((i) => dataset.time[i]);
      expect(delivered).toEqual(rows);
      expect(Array.from(readStore(key, repairedDir)!.time)).toEqual(rows);
      expect(storeRepairRecord(key, repairedDir)).toMatchObject({ policy: 'drop', rowsDropped: 1, sources: [{ first: ['2023-03-01T18:25:00.000Z'] }] });
    } finally {
      if (clock) clearInterval(clock);
      await exchange.close();
    }
  });

  it('rejects an unknown symbol with the closest choices', async () => {
    const stream = streamCandles({ ...FAST, apiUrl: fake.url, symbol: 'BTC/USTD', timeframe: '1m', dataDir: tempDir('stream-bad') });
    await expect(stream.next()).rejects.toThrow(/^unknown symbol 'BTC\/USTD' on binance spot \(\d+ markets\); closest: BTC\/USDT/);
  });
});

describe('trade aggregation', () => {
  const t0 = Date.UTC(2024, 0, 1);
  const trades = [
    { timestamp: t0 + 1_000, price: 100, amount: 1 },
    { timestamp: t0 + 20_000, price: 105, amount: 2 },
    { timestamp: t0 + 40_000, price: 98, amount: 0.5 },
    { timestamp: t0 + 59_999, price: 101, amount: 1 },
    { timestamp: t0 + 60_000, price: 102, amount: 3 },
    { timestamp: t0 + 3 * MINUTE + 5, price: 99, amount: 1 },
  ];

  it('aggregates trades into OHLCV buckets (no trades, no candle)', () => {
    expect(aggregateTrades(trades, '1m')).toEqual([
      { time: t0, open: 100, high: 105, low: 98, close: 101, volume: 4.5 },
      { time: t0 + MINUTE, open: 102, high: 102, low: 102, close: 102, volume: 3 },
      { time: t0 + 3 * MINUTE, open: 99, high: 99, low: 99, close: 99, volume: 1 },
    ]);
    expect(aggregateTrades(trades, '5m')).toEqual([{ time: t0, open: 100, high: 105, low: 98, close: 99, volume: 8.5 }]);
    expect(() => aggregateTrades([trades[1], trades[0]], '1m')).toThrow(/trades out of order/);
  });

  it('streams closed buckets only, never the first (incomplete) one, and starts over after reset', () => {
    const builder = new TradeCandleBuilder('1m');
    expect(builder.add(trades.slice(0, 4))).toEqual([]); // first bucket: joined mid-way
    expect(builder.add([trades[4]])).toEqual([]); // the first bucket closes but was incomplete
    expect(builder.add([trades[5]])).toEqual([{ time: t0 + MINUTE, open: 102, high: 102, low: 102, close: 102, volume: 3 }]);
    builder.reset();
    expect(builder.add([{ timestamp: t0 + 4 * MINUTE, price: 1, amount: 1 }])).toEqual([]);
    expect(builder.add([{ timestamp: t0 + 5 * MINUTE, price: 2, amount: 1 }, { timestamp: t0 + 6 * MINUTE, price: 3, amount: 1 }])).toEqual([
      { time: t0 + 5 * MINUTE, open: 2, high: 2, low: 2, close: 2, volume: 1 },
    ]);
  });
});
