import { afterEach, describe, expect, it } from 'vitest';
import type { Exchange } from 'ccxt';
import { generateSyntheticCandles } from '../src/data/synthetic';
import { createExchange, loadCcxt } from '../src/data/exchange/ccxt-client';
import { startFakeExchange, type FakeExchange } from '../src/testing';
import { KEY, SECRET } from './live-trading-helpers';

/** The fake Binance's signed spot endpoints, spoken to by ccxt's unmodified binance class. */

const candles = generateSyntheticCandles({ seed: 5, bars: 200, timeframe: '1h', start: '2022-01-01T00:00:00Z' });
const open: FakeExchange[] = [];
afterEach(async () => {
  for (const f of open.splice(0)) await f.close();
});

async function setup(now?: number): Promise<{ fake: FakeExchange; ex: Exchange }> {
  const fake = await startFakeExchange({
    datasets: [{ market: 'spot', symbol: 'BTC/USDT', timeframe: '1h', candles }],
    accounts: [{ apiKey: KEY, secret: SECRET, balances: { USDT: 10_000, BTC: 0 } }],
    now,
  });
  open.push(fake);
  const ex = createExchange({ apiUrl: fake.url, rateLimitMs: 1 });
  ex.options.fetchMargins = false;
  ex.apiKey = KEY;
  ex.secret = SECRET;
  await ex.loadMarkets();
  return { fake, ex };
}

const lastCode = (fake: FakeExchange): number | undefined => fake.requests.at(-1)?.code;

describe('fake exchange: signed spot trading', () => {
  it('checks the API key, the timestamp window and the HMAC signature', async () => {
    const { fake, ex } = await setup();
    expect((await ex.fetchBalance()).total).toMatchObject({ USDT: 10_000, BTC: 0 });
    ex.secret = SECRET.replace(/.$/, 'x');
    await expect(ex.fetchBalance()).rejects.toThrow(/Signature for this request is not valid/);
    expect(lastCode(fake)).toBe(-1022);
    ex.secret = SECRET;
    ex.apiKey = 'unknown-key-1234';
    // (ccxt reads -2015 after an earlier success as an IP ban, DDoSProtection, as Binance means it.)
    await expect(ex.fetchBalance()).rejects.toThrow(/Invalid API-key, IP, or permissions for action/);
    expect(fake.requests.at(-1)).toMatchObject({ status: 401, code: -2015 });
    ex.apiKey = KEY;
    // The server's clock is 20 s behind the client's: outside ccxt's 10 s recvWindow.
    fake.setRecvClockOffset(-20_000);
    await expect(ex.fetchBalance()).rejects.toThrow(/outside of the recvWindow/);
    expect(lastCode(fake)).toBe(-1021);
    fake.setRecvClockOffset(0);
    expect(fake.requests.filter((r) => r.signed).every((r) => r.query.signature !== undefined)).toBe(true);
  });

  it('market orders fill at the price with the fee in the received asset; filters, balance and duplicates are checked', async () => {
    const { fake, ex } = await setup();
    fake.setPrice('BTC/USDT', 20_000);
    const test = await ex.createOrder('BTC/USDT', 'market', 'buy', 0.1, undefined, { test: true });
    expect(test).toBeDefined();
    expect(fake.orders()).toHaveLength(0);
    const order = await ex.createOrder('BTC/USDT', 'market', 'buy', 0.1, undefined, { newClientOrderId: 'abc-1' });
    expect(order).toMatchObject({ status: 'closed', filled: 0.1, average: 20_000, clientOrderId: 'abc-1', fee: { currency: 'BTC', cost: 0.0001 } });
    expect(fake.balances(KEY)).toEqual({ USDT: { free: 8000, locked: 0 }, BTC: { free: 0.0999, locked: 0 } });
    const sell = await ex.createOrder('BTC/USDT', 'market', 'sell', 0.05);
    expect(sell.fee).toEqual({ currency: 'USDT', cost: 1 });
    expect((await ex.fetchOrder('', 'BTC/USDT', { origClientOrderId: 'abc-1' })).filled).toBe(0.1);
    expect((await ex.fetchOrder(String(order.id), 'BTC/USDT')).clientOrderId).toBe('abc-1');
    await expect(ex.fetchOrder('', 'BTC/USDT', { origClientOrderId: 'nope' })).rejects.toBeInstanceOf(loadCcxt().OrderNotFound);
    await expect(ex.createOrder('BTC/USDT', 'market', 'buy', 0.01, undefined, { newClientOrderId: 'abc-1' })).rejects.toThrow(/Duplicate order sent/);
    await expect(ex.createOrder('BTC/USDT', 'market', 'buy', 5)).rejects.toThrow(/insufficient balance/);
    expect(lastCode(fake)).toBe(-2010);
    // Raw requests, past ccxt's own rounding: every filter is enforced.
    const raw = ex as unknown as { privatePostOrder(p: Record<string, string>): Promise<unknown> };
    await expect(raw.privatePostOrder({ symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: '0.000015' })).rejects.toThrow(/Filter failure: LOT_SIZE/);
    await expect(raw.privatePostOrder({ symbol: 'BTCUSDT', side: 'BUY', type: 'LIMIT', timeInForce: 'GTC', quantity: '0.001', price: '19000.005' })).rejects.toThrow(/Filter failure: PRICE_FILTER/);
    await expect(raw.privatePostOrder({ symbol: 'BTCUSDT', side: 'BUY', type: 'MARKET', quantity: '0.0002' })).rejects.toThrow(/Filter failure: NOTIONAL/);
    expect(lastCode(fake)).toBe(-1013);
    const trades = await ex.fetchMyTrades('BTC/USDT');
    expect(trades.map((t) => [t.side, t.amount, t.price])).toEqual([
      ['buy', 0.1, 20_000],
      ['sell', 0.05, 20_000],
    ]);
  });

  it('limit orders rest with funds locked, fill when a later candle crosses them, and cancel', async () => {
    const now = candles.time[100];
    const { fake, ex } = await setup(now);
    const price = fake.price('BTC/USDT')!;
    expect(price).toBe(fake.candles('spot', 'BTC/USDT', '1h').column('close')[99]);
    const lows = Array.from(fake.candles('spot', 'BTC/USDT', '1h').column('low').slice(100));
    const limit = Math.ceil(Math.min(...lows) * 100 + 1) / 100;
    expect(limit).toBeLessThan(price);
    const order = await ex.createOrder('BTC/USDT', 'limit', 'buy', 0.1, limit, { newClientOrderId: 'rest-1' });
    expect(order.status).toBe('open');
    await ex.createOrder('BTC/USDT', 'limit', 'buy', 0.01, 1000, { newClientOrderId: 'rest-2' });
    expect(fake.balances(KEY).USDT.locked).toBeCloseTo(0.1 * limit + 10, 6);
    expect((await ex.fetchOpenOrders('BTC/USDT')).map((o) => o.clientOrderId)).toEqual(['rest-1', 'rest-2']);
    fake.setNow(candles.time[199] + 3_600_000);
    const filled = await ex.fetchOrder('', 'BTC/USDT', { origClientOrderId: 'rest-1' });
    expect(filled).toMatchObject({ status: 'closed', filled: 0.1 });
    const [trade] = await ex.fetchMyTrades('BTC/USDT', undefined, undefined, { orderId: order.id });
    expect(trade).toMatchObject({ price: limit, amount: 0.1, takerOrMaker: 'maker', fee: { currency: 'BTC', cost: 0.0001 } });
    await ex.cancelOrder('', 'BTC/USDT', { origClientOrderId: 'rest-2' });
    expect(fake.balances(KEY).USDT).toEqual({ free: Number((10_000 - 0.1 * limit).toFixed(8)), locked: 0 });
    await expect(ex.cancelAllOrders('BTC/USDT')).rejects.toBeInstanceOf(loadCcxt().OrderNotFound);
    expect(lastCode(fake)).toBe(-2011);
  });
});
