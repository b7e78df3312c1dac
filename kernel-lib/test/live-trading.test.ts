import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startFakeExchange, type FakeExchange } from '../src/testing';
import { Frame } from '../src/frame/frame';
import { runSpec } from '../src/runner/run-spec';
import { runPaperSession } from '../src/trading/paper-session';
import { ConfigError, TradingError } from '../src/errors';
import {
  LiveTrader,
  Redactor,
  applyFilters,
  clientOrderId,
  confirmLive,
  loadApiKeys,
  loadState,
  marketFilters,
  newSessionId,
  OrderRejectedError,
  rampFraction,
  CLIENT_ORDER_ID,
  STATE_FILE,
} from '../src/trading';
import { spawn } from 'node:child_process';
import * as readline from 'node:readline';
import { CLI_BIN, ROOT, cli, tempDir, workspaceEnv } from './helpers';
import { DAY, HOUR, KEY, KEY_ENV, PRICE, SECRET, T0, filesUnder, openTrader, secretCount, startFake } from './live-trading-helpers';

const open: Array<{ close(): Promise<void> }> = [];
/** Track an exchange or trader so afterEach closes it. */
function track<T extends { close(): Promise<void> }>(x: T): T {
  open.push(x);
  return x;
}
afterEach(async () => {
  for (const x of open.splice(0).reverse()) await x.close();
});

async function fake(options?: Parameters<typeof startFake>[0]): Promise<FakeExchange> {
  return track(await startFake(options));
}
async function trader(f: FakeExchange, stateDir: string, extra?: Parameters<typeof openTrader>[2]): Promise<LiveTrader> {
  return track(await openTrader(f, stateDir, extra));
}
const signedRequests = (f: FakeExchange): number => f.requests.filter((r) => r.signed).length;
const orderPosts = (f: FakeExchange): Array<{ body?: string }> => f.requests.filter((r) => r.method === 'POST' && r.path === '/api/v3/order');
const btc = (f: FakeExchange): number => {
  const b = f.balances(KEY).BTC;
  return b.free + b.locked;
};

describe('opt-in: nothing leaves without live mode', () => {
  it('dry-run needs no keys, sends no signed request and simulates the fill', async () => {
    const f = await fake();
    const dir = tempDir('live-dry');
    const logs: string[] = [];
    // Keys present in the environment are ignored in dry-run: keys are never even read.
    const t = await trader(f, dir, { dryRun: true, keys: { env: {} }, logs });
    const r = await t.onDecision({ time: T0, target: 0.5, price: PRICE, reasoning: 'test' });
    expect(r.action).toBe('dry-run');
    expect(r.order).toMatchObject({ side: 'buy', amount: 0.25, type: 'market' });
    // Fee 0.1 % charged in BTC as Binance does.
    expect(t.status().position).toBeCloseTo(0.25 * 0.999, 10);
    const sell = await t.onDecision({ time: T0 + HOUR, target: -1, price: PRICE });
    expect(sell).toMatchObject({ action: 'dry-run', order: { side: 'sell' } });
    expect(sell.reason).toMatch(/negative target means flat/);
    expect(signedRequests(f)).toBe(0);
    expect(f.orders()).toHaveLength(0);
    expect(f.requests.every((r) => !r.path.includes('/order') && !r.path.includes('account') && !r.path.includes('myTrades'))).toBe(true);
    expect(logs.some((l) => /would send buy 0.25 BTC market/.test(l))).toBe(true);
    // A dry-run state folder cannot be reused for live trading.
    await expect(openTrader(f, dir, { keys: { env: KEY_ENV } })).rejects.toThrow(/holds a dry-run session/);
  });

  it('live trading without keys refuses to start', async () => {
    const f = await fake();
    await expect(openTrader(f, tempDir('live-nokeys'), { keys: { env: {} } })).rejects.toThrow(ConfigError);
    expect(signedRequests(f)).toBe(0);
  });

  it('confirmLive: the env variable, a typed symbol at a TTY, nothing else', async () => {
    await expect(confirmLive({ symbol: 'BTC/USDT', env: { CANDLELAB_LIVE_CONFIRM: 'yes' } })).resolves.toBeUndefined();
    const notTty = Object.assign(new PassThrough(), { isTTY: false });
    await expect(confirmLive({ symbol: 'BTC/USDT', env: {}, input: notTty })).rejects.toThrow(/CANDLELAB_LIVE_CONFIRM=yes/);
    await expect(confirmLive({ symbol: 'BTC/USDT', env: { CANDLELAB_LIVE_CONFIRM: 'y' }, input: notTty })).rejects.toThrow(ConfigError);
    const typed = (answer: string): Promise<void> => {
      const input = Object.assign(new PassThrough(), { isTTY: true });
      const output = new PassThrough();
      output.once('data', () => input.write(answer + '\n'));
      return confirmLive({ symbol: 'BTC/USDT', env: {}, input, output });
    };
    await expect(typed('btc/usdt')).resolves.toBeUndefined();
    await expect(typed('yes')).rejects.toThrow(/typed 'yes', expected 'BTC\/USDT'/);
  });
});

describe('live orders', () => {
  it('sends one market order per decision, persists, and skips an already processed candle or a dust difference', async () => {
    const f = await fake();
    const dir = tempDir('live-basic');
    // Reads are retried: a 503 on the account does not stop the start.
    f.fault('GET /api/v3/account', { kind: 'status', status: 503 });
    const t = await trader(f, dir);
    expect(f.requests.filter((r) => r.path === '/api/v3/account').map((r) => r.status)).toEqual([503, 200]);
    const r = await t.onDecision({ time: T0, target: 0.5, price: PRICE });
    expect(r).toMatchObject({ action: 'sent', order: { side: 'buy', amount: 0.25, status: 'filled' } });
    expect(r.fills).toHaveLength(1);
    expect(f.orders()).toHaveLength(1);
    expect(f.orders()[0].clientOrderId).toMatch(CLIENT_ORDER_ID);
    expect(t.status().position).toBeCloseTo(btc(f), 10);
    expect(loadState(dir)!.balances.base).toBeCloseTo(btc(f), 10);
    expect(await t.onDecision({ time: T0, target: 0.5, price: PRICE })).toMatchObject({ action: 'skipped', reason: expect.stringMatching(/already processed/) });
    // The fee left the position 0.1 % short: a 2.5 USDT top-up is below the minimum order value.
    const again = await t.onDecision({ time: T0 + HOUR, target: 0.5, price: PRICE });
    expect(again.action).toBe('skipped');
    expect(again.reason).toMatch(/^below min notional 5 USDT/);
    expect(f.orders()).toHaveLength(1);
    // Flat: everything sellable is sold.
    const flat = await t.onDecision({ time: T0 + 2 * HOUR, target: 0, price: PRICE });
    expect(flat).toMatchObject({ action: 'sent', order: { side: 'sell', amount: 0.24975 } });
    expect(btc(f)).toBeCloseTo(0, 8);
    expect(t.status().balances.quote).toBeCloseTo(f.balances(KEY).USDT.free, 8);
  });

  it('an order accepted but answered with a 500 (JSON -1001, then an HTML page) is found by client id, never resent', async () => {
    for (const fault of [
      { kind: 'acceptThenStatus', status: 500, code: -1001 },
      { kind: 'acceptThenStatus', status: 502 },
    ] as const) {
      const f = await fake();
      const dir = tempDir('live-500');
      const logs: string[] = [];
      const t = await trader(f, dir, { logs });
      f.fault('POST /api/v3/order', fault);
      const r = await t.onDecision({ time: T0, target: 0.5, price: PRICE });
      expect(r.action).toBe('sent');
      expect(r.reason).toMatch(/answer lost; found by client order id/);
      expect(orderPosts(f)).toHaveLength(1);
      expect(f.orders()).toHaveLength(1);
      expect(f.requests.some((req) => req.method === 'GET' && req.path === '/api/v3/order' && req.query.origClientOrderId === f.orders()[0].clientOrderId)).toBe(true);
      const state = loadState(dir)!;
      expect(Object.values(state.orders)).toMatchObject([{ status: 'filled', filled: 0.25, exchangeId: String(f.orders()[0].orderId) }]);
      expect(state.balances.base).toBeCloseTo(btc(f), 10);
      expect(state.balances.quote).toBeCloseTo(f.balances(KEY).USDT.free, 8);
    }
  });

  it('a request that never answers (short timeout) is looked up, not resent', async () => {
    const f = await fake();
    const dir = tempDir('live-hang');
    const t = await trader(f, dir, { connection: { apiUrl: f.url, rateLimitMs: 1, timeoutMs: 1000 } });
    f.fault('POST /api/v3/order', { kind: 'acceptThenHang' });
    const r = await t.onDecision({ time: T0, target: 0.5, price: PRICE });
    expect(r).toMatchObject({ action: 'sent', order: { status: 'filled' } });
    expect(orderPosts(f)).toHaveLength(1);
    expect(f.orders()).toHaveLength(1);
    expect(t.status().position).toBeCloseTo(btc(f), 10);
  });

  it('when the lookup fails too, the order is left "unknown", nothing is resent, and the next start settles it', async () => {
    const f = await fake();
    const dir = tempDir('live-unknown');
    const t = await openTrader(f, dir);
    f.fault('POST /api/v3/order', { kind: 'acceptThenStatus', status: 500, code: -1001 });
    // The lookup's first try and its 3 retries all fail.
    f.fault('GET /api/v3/order', { kind: 'status', status: 503 }, 4);
    await expect(t.onDecision({ time: T0, target: 0.5, price: PRICE })).rejects.toThrow(/^order cl[a-z0-9]{10}-1: status unknown and the lookup failed .*nothing more is sent; restart to reconcile/);
    expect(Object.values(loadState(dir)!.orders)).toMatchObject([{ status: 'unknown' }]);
    await t.close();
    const restarted = await trader(f, dir);
    expect(restarted.reconciliation?.settled).toMatchObject([{ status: 'filled', filled: 0.25 }]);
    expect(restarted.status().position).toBeCloseTo(btc(f), 10);
    expect(orderPosts(f)).toHaveLength(1);
    expect(f.orders()).toHaveLength(1);
  });

  it('an order the exchange never got (500 before processing) is resent with the same client id', async () => {
    const f = await fake();
    const t = await trader(f, tempDir('live-resend'));
    f.fault('POST /api/v3/order', { kind: 'status', status: 503 });
    const r = await t.onDecision({ time: T0, target: 0.5, price: PRICE });
    expect(r.action).toBe('sent');
    const posts = orderPosts(f);
    expect(posts).toHaveLength(2);
    const ids = posts.map((p) => new URLSearchParams(p.body).get('newClientOrderId'));
    expect(ids[0]).toBe(ids[1]);
    expect(f.orders()).toHaveLength(1);
    expect(f.orders()[0].clientOrderId).toBe(ids[0]);
  });

  it('insufficient balance (-2010) and filter failures (-1013) come back as clear rejections', async () => {
    const f = await fake();
    const dir = tempDir('live-reject');
    const t = await trader(f, dir);
    // The account lost its USDT behind the bot's back (mid-session): the order is refused, nothing placed.
    f.setBalance(KEY, 'USDT', 100);
    const r = await t.onDecision({ time: T0, target: 0.5, price: PRICE });
    expect(r.action).toBe('rejected');
    expect(r.reason).toMatch(/^binance rejected order cl[a-z0-9]{10}-1 \(buy 0.25 BTC\/USDT market\): Account has insufficient balance for requested action\. \(-2010\); check the free USDT/);
    expect(Object.values(loadState(dir)!.orders)[0].status).toBe('rejected');
    expect(f.orders()).toHaveLength(0);
    // The venue passes the exchange's own filter failure through as a rejection with its code.
    const rejection = await t.venue.placeOrder({ clientOrderId: 'test-1013', side: 'buy', amount: 0.0001, type: 'market' }).catch((e: unknown) => e);
    expect(rejection).toBeInstanceOf(OrderRejectedError);
    expect((rejection as OrderRejectedError).exchangeCode).toBe('-1013');
    expect((rejection as Error).message).toMatch(/Filter failure: NOTIONAL \(-1013\); the order breaks the symbol's filters/);
  });
});

describe('filters', () => {
  it('reads tick, lot step and min notional from the market and fits orders to them', async () => {
    const f = await fake({ filters: { tickSize: 0.5, stepSize: 0.001, minQty: 0.001, minNotional: 10 } });
    const t = await trader(f, tempDir('live-filters'));
    expect(t.filters).toMatchObject({ tickSize: 0.5, stepSize: 0.001, minQty: 0.001, minNotional: 10, base: 'BTC', quote: 'USDT' });
    // Price to the tick: down for buys, up for sells; quantity down to the step.
    expect(applyFilters(t.filters, { side: 'buy', amount: 0.12345, price: 100.37 })).toEqual({ ok: true, amount: 0.123, price: 100 });
    expect(applyFilters(t.filters, { side: 'sell', amount: 0.12399, price: 100.37 })).toEqual({ ok: true, amount: 0.123, price: 100.5 });
    expect(applyFilters(t.filters, { side: 'buy', amount: 0.0009, price: 20000 })).toMatchObject({ ok: false, reason: expect.stringMatching(/^below min quantity 0.001 BTC/) });
    expect(applyFilters(t.filters, { side: 'buy', amount: 0.09, price: 100 })).toMatchObject({ ok: false, reason: expect.stringMatching(/^below min notional 10 USDT/) });
    // ccxt's view of Binance's filters agrees (TICK_SIZE precision mode).
    const market = t.venue.exchange.market('BTC/USDT');
    expect(marketFilters({ ...market, info: {} })).toMatchObject({ tickSize: 0.5, stepSize: 0.001, minQty: 0.001, minNotional: 10 });
    // A trader's decision below min notional is skipped with the reason, not sent.
    const r = await t.onDecision({ time: T0, target: 0.0004, price: PRICE });
    expect(r.action).toBe('skipped');
    expect(r.reason).toMatch(/^below min (notional 10 USDT|quantity)/);
    // A decision price off the tick is rounded before a limit order leaves.
    const l = await trader(f, tempDir('live-filters-limit'), { orderType: 'limit', limitOffset: 0.01 });
    const lr = await l.onDecision({ time: T0, target: 0.5, price: 20_000.3 });
    expect(lr).toMatchObject({ action: 'sent', order: { type: 'limit', price: 19800 } });
    expect(f.orders().at(-1)).toMatchObject({ type: 'LIMIT', price: 19800, status: 'NEW' });
  });
});

describe('reconciliation', () => {
  it('fails closed when a balance changed outside the bot', async () => {
    const f = await fake();
    const dir = tempDir('live-recon-balance');
    const t = await openTrader(f, dir);
    await t.onDecision({ time: T0, target: 0.5, price: PRICE });
    await t.close();
    f.setBalance(KEY, 'BTC', btc(f) + 0.1);
    const posts = orderPosts(f).length;
    await expect(openTrader(f, dir)).rejects.toThrow(TradingError);
    await expect(openTrader(f, dir)).rejects.toThrow(/^reconcile: BTC balance on binance is 0\.34975 but the state expects 0\.24975 .*nothing was sent/);
    expect(orderPosts(f)).toHaveLength(posts);
  });

  it('fails closed on a fill of an order the bot did not place (a manual trade)', async () => {
    const f = await fake();
    const dir = tempDir('live-recon-fill');
    const t = await openTrader(f, dir);
    await t.onDecision({ time: T0, target: 0.5, price: PRICE });
    await t.venue.exchange.createOrder('BTC/USDT', 'market', 'sell', 0.01, undefined, { newClientOrderId: 'manual-1' });
    await t.close();
    await expect(openTrader(f, dir)).rejects.toThrow(/^reconcile: a sell fill of 0.01 BTC at 20000 \(order \d+\) is not one of the bot's orders; nothing was sent/);
  });

  it('fails closed on an open order with a candlelab client id the state does not know; adopts its own', async () => {
    const f = await fake();
    const dir = tempDir('live-recon-orders');
    const t = await openTrader(f, dir, { orderType: 'limit', limitOffset: 0.05 });
    const r = await t.onDecision({ time: T0, target: 0.5, price: PRICE });
    expect(r.order?.status).toBe('open');
    await t.close();
    // Its own resting order is adopted on restart.
    const again = await openTrader(f, dir, { orderType: 'limit', limitOffset: 0.05 });
    expect(again.reconciliation?.adopted).toEqual([r.order!.clientOrderId]);
    expect(again.status().openOrders).toEqual([r.order!.clientOrderId]);
    // An order from another candlelab session appears on the account.
    await again.venue.placeOrder({ clientOrderId: clientOrderId(newSessionId(), 1), side: 'buy', amount: 0.001, type: 'limit', price: 10_000 });
    await again.close();
    await expect(openTrader(f, dir)).rejects.toThrow(/carries a candlelab client order id but is not in the state/);
  });
});

describe('kill switch', () => {
  it('by call: cancels open orders, flattens, blocks entries across a restart until reset', async () => {
    const f = await fake({ balances: { USDT: 10_000, BTC: 0.3 } });
    const dir = tempDir('live-kill');
    const t = await openTrader(f, dir, { orderType: 'limit', limitOffset: 0.05 });
    // Equity 16 000 USDT: target 0.5 wants 0.4 BTC; a buy limit 5 % below the price rests.
    const r = await t.onDecision({ time: T0, target: 0.5, price: PRICE });
    expect(r.order).toMatchObject({ side: 'buy', status: 'open', amount: 0.1 });
    const k = await t.kill({ flatten: true });
    expect(k.cancelled).toBe(1);
    expect(k.flatten).toMatchObject({ action: 'sent', order: { side: 'sell', amount: 0.3, type: 'market', status: 'filled' } });
    expect(f.orders().map((o) => [o.type, o.side, o.status])).toEqual([
      ['LIMIT', 'BUY', 'CANCELED'],
      ['MARKET', 'SELL', 'FILLED'],
    ]);
    expect(btc(f)).toBe(0);
    expect(await t.onDecision({ time: T0 + HOUR, target: 0.5, price: PRICE })).toMatchObject({ action: 'blocked', reason: expect.stringMatching(/kill switch set/) });
    await t.close();
    const restarted = await openTrader(f, dir);
    expect(restarted.status().killed?.reason).toBe('kill switch called');
    expect((await restarted.onDecision({ time: T0 + 2 * HOUR, target: 0.5, price: PRICE })).action).toBe('blocked');
    await restarted.resetKill();
    expect(restarted.status().killed).toBeUndefined();
    expect((await restarted.onDecision({ time: T0 + 3 * HOUR, target: 0.5, price: PRICE })).action).toBe('sent');
    await restarted.close();
  });

  it('by file and by signal: the KILL file blocks (also after it is removed, until reset)', async () => {
    const f = await fake();
    const dir = tempDir('live-killfile');
    const t = await openTrader(f, dir);
    fs.writeFileSync(path.join(dir, 'KILL'), '');
    const r = await t.onDecision({ time: T0, target: 0.5, price: PRICE });
    expect(r).toMatchObject({ action: 'blocked', reason: expect.stringMatching(/kill switch set \(kill file .*KILL\)/) });
    expect(f.orders()).toHaveLength(0);
    await t.close();
    fs.rmSync(path.join(dir, 'KILL'));
    const restarted = await openTrader(f, dir);
    expect((await restarted.onDecision({ time: T0 + HOUR, target: 0.5, price: PRICE })).action).toBe('blocked');
    await restarted.resetKill();
    expect((await restarted.onDecision({ time: T0 + 2 * HOUR, target: 0.5, price: PRICE })).action).toBe('sent');
    // A signal sets it too. Exits still go through: only entries are blocked.
    const uninstall = restarted.killOnSignal('SIGUSR2');
    process.emit('SIGUSR2', 'SIGUSR2');
    uninstall();
    expect((await restarted.onDecision({ time: T0 + 3 * HOUR, target: 1, price: PRICE })).reason).toMatch(/kill switch set \(signal SIGUSR2\); no new entries/);
    expect(await restarted.onDecision({ time: T0 + 4 * HOUR, target: 0, price: PRICE })).toMatchObject({ action: 'sent', order: { side: 'sell' } });
    expect(restarted.status().killed?.reason).toBe('signal SIGUSR2');
    await restarted.close();
  });
});

describe('rails', () => {
  it('max position and max order value cap the order', async () => {
    const f = await fake();
    const pos = await trader(f, tempDir('live-maxpos'), { rails: { maxPositionBase: 0.1 } });
    const r = await pos.onDecision({ time: T0, target: 1, price: PRICE });
    expect(r).toMatchObject({ action: 'sent', order: { amount: 0.1 } });
    expect(r.reason).toMatch(/position capped at max 0.1 BTC/);
    const f2 = await fake();
    const value = await trader(f2, tempDir('live-maxvalue'), { rails: { maxOrderValue: 1000, maxPositionQuote: 3000 } });
    const v = await value.onDecision({ time: T0, target: 1, price: PRICE });
    expect(v).toMatchObject({ action: 'sent', order: { amount: 0.05 } });
    expect(v.reason).toMatch(/order capped at max order value 1000/);
    expect(f2.orders()[0].origQty * PRICE).toBeLessThanOrEqual(1000);
  });

  it('max daily loss stops trading for the UTC day and resumes the next day', async () => {
    const f = await fake();
    const dir = tempDir('live-dailyloss');
    const logs: string[] = [];
    const t = await trader(f, dir, { rails: { maxDailyLossFraction: 0.05 }, logs });
    expect((await t.onDecision({ time: T0 + HOUR, target: 1, price: PRICE })).action).toBe('sent');
    // Nearly all in BTC, the price down 15 %: the equity is down ~15 %, past the 5 % limit.
    f.setPrice('BTC/USDT', 17_000);
    const hit = await t.onDecision({ time: T0 + 2 * HOUR, target: 0, price: 17_000 });
    expect(hit).toMatchObject({ action: 'blocked', reason: expect.stringMatching(/^daily loss .* reached the limit 5 %.*until the next UTC day/) });
    expect(logs.some((l) => /blocked: daily loss/.test(l))).toBe(true);
    // Even a recovery later that day does not resume trading; a restart does not either.
    f.setPrice('BTC/USDT', PRICE);
    expect((await t.onDecision({ time: T0 + 5 * HOUR, target: 0, price: PRICE })).action).toBe('blocked');
    await t.close();
    open.splice(open.indexOf(t), 1);
    const restarted = await trader(f, dir, { rails: { maxDailyLossFraction: 0.05 } });
    expect(restarted.status().haltedToday).toMatch(/daily loss/);
    expect((await restarted.onDecision({ time: T0 + 6 * HOUR, target: 0, price: PRICE })).action).toBe('blocked');
    expect(f.orders()).toHaveLength(1);
    // Next UTC day: a new day-start equity, trading resumes.
    const next = await restarted.onDecision({ time: T0 + DAY, target: 0, price: PRICE });
    expect(next).toMatchObject({ action: 'sent', order: { side: 'sell' } });
  });

  it('max orders per minute is a sliding window', async () => {
    const f = await fake();
    let now = 1_000_000;
    const t = await trader(f, tempDir('live-rate'), { rails: { maxOrdersPerMinute: 2 }, now: () => now });
    expect((await t.onDecision({ time: T0, target: 0.5, price: PRICE })).action).toBe('sent');
    now += 20_000;
    expect((await t.onDecision({ time: T0 + HOUR, target: 0, price: PRICE })).action).toBe('sent');
    now += 20_000;
    const third = await t.onDecision({ time: T0 + 2 * HOUR, target: 0.5, price: PRICE });
    expect(third).toMatchObject({ action: 'blocked', reason: expect.stringMatching(/^max 2 orders per minute reached/) });
    // The first order leaves the window 60 s after it was sent.
    now += 20_001;
    expect((await t.onDecision({ time: T0 + 3 * HOUR, target: 0.5, price: PRICE })).action).toBe('sent');
    expect(f.orders()).toHaveLength(3);
  });

  it('capital ramp-up: the usable fraction rises over days (and trades)', async () => {
    const f = await fake();
    const rampUp = [
      { afterDays: 0, fraction: 0.1 },
      { afterDays: 3, fraction: 0.5 },
    ];
    const t = await trader(f, tempDir('live-ramp'), { rails: { rampUp } });
    const first = await t.onDecision({ time: T0, target: 1, price: PRICE });
    expect(first.order?.amount).toBe(0.05);
    expect(t.status().rampFraction).toBe(0.1);
    expect((await t.onDecision({ time: T0 + 2 * DAY, target: 1, price: PRICE })).action).toBe('skipped');
    const later = await t.onDecision({ time: T0 + 3 * DAY, target: 1, price: PRICE });
    expect(later.action).toBe('sent');
    expect(t.status().position).toBeCloseTo((0.5 * later.equity) / PRICE, 2);
    expect(t.status().rampFraction).toBe(0.5);
    expect(rampFraction([{ afterTrades: 0, fraction: 0.2 }, { afterTrades: 10, fraction: 1 }], { days: 0, trades: 9 })).toBe(0.2);
    expect(rampFraction([{ afterTrades: 0, fraction: 0.2 }, { afterTrades: 10, fraction: 1 }], { days: 0, trades: 10 })).toBe(1);
    expect(rampFraction([{ afterDays: 1, fraction: 0.2 }], { days: 0, trades: 0 })).toBe(0);
    await expect(openTrader(f, tempDir('live-badrails'), { rails: { maxDailyLossFraction: 5 } })).rejects.toThrow(/maxDailyLossFraction is 5/);
  });
});

describe('keys and redaction', () => {
  it('keys come from the environment or a 0600 file; a group/world-readable file is refused', () => {
    expect(loadApiKeys({ env: KEY_ENV })).toEqual({ apiKey: KEY, secret: SECRET });
    expect(() => loadApiKeys({ env: { CANDLELAB_API_KEY: KEY } })).toThrow(/CANDLELAB_API_SECRET is not set/);
    expect(() => loadApiKeys({ env: {} })).toThrow(/set CANDLELAB_API_KEY and CANDLELAB_API_SECRET/);
    const dir = tempDir('live-keys');
    const file = path.join(dir, 'keys.json');
    fs.writeFileSync(file, JSON.stringify({ apiKey: KEY, secret: SECRET }), { mode: 0o600 });
    fs.chmodSync(file, 0o600);
    expect(loadApiKeys({ keyFile: file, env: {} })).toEqual({ apiKey: KEY, secret: SECRET });
    fs.chmodSync(file, 0o644);
    expect(() => loadApiKeys({ keyFile: file })).toThrow(`key file ${file} is readable by others (mode 0644); run chmod 600 ${file}`);
    fs.writeFileSync(file, `{"apiKey": "${KEY}", "secret": `);
    fs.chmodSync(file, 0o600);
    const bad = (() => {
      try {
        loadApiKeys({ keyFile: file });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(bad?.message).toMatch(/is not valid JSON/);
    expect(secretCount(bad!.message)).toBe(0);
  });

  it('no key or secret in any log, error, captured output or file of a session', async () => {
    const f = await fake();
    const dir = tempDir('live-redact');
    const keyFile = path.join(tempDir('live-redact-key'), 'keys.json');
    fs.writeFileSync(keyFile, JSON.stringify({ apiKey: KEY, secret: SECRET }), { mode: 0o600 });
    const logs: string[] = [];
    const captured: string[] = [];
    const errors: string[] = [];
    // Capture what reaches the process's stdout/stderr (the default logger writes to stderr).
    const restore = [process.stdout, process.stderr].map((stream) => {
      const original = stream.write;
      stream.write = ((chunk: unknown) => {
        captured.push(String(chunk));
        return true;
      }) as typeof stream.write;
      return () => (stream.write = original);
    });
    try {
      const t = await openTrader(f, dir, { keys: { keyFile }, logger: undefined });
      const withLogs = await openTrader(f, tempDir('live-redact-2'), { keys: { keyFile }, logs });
      // A strategy's reasoning that quotes the secret is journaled, redacted.
      await t.onDecision({ time: T0, target: 0.5, price: PRICE, reasoning: `debug ${KEY} ${SECRET}` });
      f.fault('POST /api/v3/order', { kind: 'acceptThenStatus', status: 500, code: -1001 });
      await t.onDecision({ time: T0 + HOUR, target: 0, price: PRICE });
      f.setBalance(KEY, 'USDT', 1);
      await withLogs.onDecision({ time: T0, target: 1, price: PRICE });
      // An error carrying the secret (e.g. from an exchange library) is redacted before it is thrown.
      await t.onDecision({ time: T0 + 2 * HOUR, target: 0.5, price: Number.NaN }).catch((e: Error) => errors.push(e.message + e.stack));
      // A secret pasted into the wrong option ends up in an error message: redacted.
      await openTrader(f, tempDir('live-redact-3'), { keys: { keyFile }, connection: { apiUrl: `not a url ${SECRET}` } }).catch((e: Error) => errors.push(e.message + e.stack));
      expect(errors.at(-1)).toMatch(/^--api-url 'not a url \[redacted\]' is not a URL/);
      await t.close();
      await withLogs.close();
      f.setBalance(KEY, 'BTC', 5);
      await openTrader(f, dir, { keys: { keyFile }, logger: undefined }).catch((e: Error) => errors.push(e.message + e.stack));
    } finally {
      for (const undo of restore) undo();
    }
    expect(errors.some((e) => /^reconcile: BTC balance/.test(e))).toBe(true);
    expect(captured.join('').length).toBeGreaterThan(0);
    expect(logs.some((l) => /insufficient balance/.test(l))).toBe(true);
    const files = [...filesUnder(dir), ...filesUnder(path.dirname(dir))].filter((file) => file.startsWith(dir) || file.includes('live-redact-2'));
    expect(files.map((file) => path.basename(file)).sort()).toEqual(expect.arrayContaining([STATE_FILE, 'journal.jsonl']));
    const texts = [...logs, ...captured, ...errors, ...files.map((file) => fs.readFileSync(file, 'utf8'))];
    expect(texts.reduce((sum, text) => sum + secretCount(text), 0)).toBe(0);
    // The reasoning went through the redactor, not around it.
    expect(fs.readFileSync(path.join(dir, 'journal.jsonl'), 'utf8')).toContain('debug [redacted] [redacted]');
  });

  it('Redactor: strings, URL-encoded forms, errors and wrapped streams', () => {
    const r = new Redactor().add(KEY, SECRET, '', 'abc');
    expect(r.redact(`a ${KEY} b ${encodeURIComponent(SECRET)} abc`)).toBe('a [redacted] b [redacted] abc');
    const e = r.redactError(new TradingError(`failed with ${SECRET}`));
    expect(e).toBeInstanceOf(TradingError);
    expect(e.message).toBe('failed with [redacted]');
    expect(secretCount(e.stack ?? '')).toBe(0);
    const out = new PassThrough();
    const chunks: string[] = [];
    out.on('data', (c: Buffer) => chunks.push(c.toString()));
    const undo = r.wrapStream(out as unknown as NodeJS.WriteStream);
    out.write(`key=${KEY}\n`);
    undo();
    expect(chunks.join('')).toBe('key=[redacted]\n');
  });

  it('client order ids: cl<session>-<seq>, within Binance 36 characters and charset', () => {
    const session = newSessionId();
    expect(session).toMatch(/^[a-z0-9]{10}$/);
    const id = clientOrderId(session, 123_456_789);
    expect(id).toMatch(/^[a-zA-Z0-9-_]{1,36}$/);
    expect(id).toMatch(CLIENT_ORDER_ID);
    expect(() => clientOrderId(session, 0)).toThrow();
  });
});

describe('a live session follows the kernel\'s book', () => {
  // A tiny registered model (the strategy, buy-and-hold, needs no predictions: the decisions are known).
  const workspaceDir = tempDir('live-book');
  const workspace = { root: workspaceDir, dataDir: path.join(workspaceDir, 'data'), modelsDir: path.join(workspaceDir, 'models'), runsDir: path.join(workspaceDir, 'runs') };
  const MODEL = 'book-BTC-USDT-1h@1';
  // Crafted candles: ~20 000 with a ripple; the session starts at bar START, and the bar after its first
  // live bar drops: low 18 000, close 18 500.
  const BARS = 400;
  const START = 300;
  const t0 = Date.parse('2022-01-01T00:00:00Z');
  const col = (f: (i: number) => number): Float64Array => Float64Array.from({ length: BARS }, (_, i) => f(i));
  const mid = (i: number): number => PRICE * (1 + 0.001 * Math.sin(i));
  const crafted = Frame.fromColumns(
    col((i) => t0 + i * HOUR),
    {
      open: col((i) => (i === START + 1 ? PRICE : mid(i))),
      high: col((i) => (i === START + 1 ? PRICE : mid(i) * 1.001)),
      low: col((i) => (i === START + 1 ? 18_000 : mid(i) * 0.999)),
      close: col((i) => (i === START + 1 ? 18_500 : mid(i))),
      volume: col(() => 1_000),
    },
    { symbol: 'BTC/USDT', timeframe: '1h' },
  );

  beforeAll(async () => {
    await runSpec(
      {
        name: 'book',
        data: { source: 'sample', symbol: 'BTC/USDT', timeframe: '1h', seed: 7, bars: 600 },
        features: [{ id: 'core/returns', params: { periods: [1] } }],
        label: { id: 'core/direction', params: { bars: 3, threshold: 0.002 } },
        split: { train: 0.7, valid: 0.15, test: 0.15 },
        model: { id: 'core/xgboost', params: { rounds: 3, maxDepth: 2, threads: 1 } },
        strategy: { id: 'core/buy-and-hold', params: {} },
        backtest: { initialCash: 10_000, commissionBps: 10, slippageBps: 0 },
      } as never,
      { workspace, progress: 'quiet', log: () => {} },
    );
  }, 120_000);

  /** A two-candle live session (--live, keys) on the crafted candles; returns the fake and the session folder. */
  async function session(overrides: string[], cash?: number): Promise<{ f: FakeExchange; dir: string; orders: Array<{ action: string; reason: string; order?: { side: string; amount: number } }> }> {
    const f = track(await startFakeExchange({ datasets: [{ market: 'spot', symbol: 'BTC/USDT', timeframe: '1h', candles: crafted }], now: crafted.time[START], accounts: [{ apiKey: KEY, secret: SECRET, balances: { USDT: 10_000, BTC: 0 } }] }));
    const dir = path.join(tempDir('live-book-session'), 'session');
    await runPaperSession({
      model: MODEL,
      overrides,
      cash,
      apiUrl: f.url,
      workspace,
      dir,
      warmup: 50,
      maxCandles: 2,
      rateLimitMs: 1,
      timeoutMs: 5000,
      reconnect: { baseDelayMs: 5, maxDelayMs: 20 },
      retry: { baseDelayMs: 5 },
      log: () => {},
      executorKind: 'live',
      executor: async ({ dir: sessionDir }) => {
        const stateDir = path.join(sessionDir, 'live');
        fs.mkdirSync(stateDir, { recursive: true });
        const t = track(await openTrader(f, stateDir));
        return { kind: 'live', onDecision: (d) => t.onDecision(d) };
      },
      // the exchange clock moves one candle when the session subscribed and after each live candle
      onEvent: (e) => {
        if ((e.kind === 'stream' && e.event.kind === 'subscribed') || (e.kind === 'candle' && e.mode === 'live')) setImmediate(() => f.setNow(f.now + HOUR));
      },
    });
    const orders = fs.readFileSync(path.join(dir, 'orders.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    return { f, dir, orders };
  }

  /** The fake exchange serving the crafted candles, its clock at the session's start. */
  const craftedExchange = async (): Promise<FakeExchange> =>
    track(await startFakeExchange({ datasets: [{ market: 'spot', symbol: 'BTC/USDT', timeframe: '1h', candles: crafted }], now: crafted.time[START], accounts: [{ apiKey: KEY, secret: SECRET, balances: { USDT: 10_000, BTC: 0 } }] }));

  /**
   * `npx candlelab live …` in a child process (as README shows), real orders confirmed by the environment;
   * the exchange clock moves one candle when it has subscribed and after each live candle it printed.
   */
  function liveCli(f: FakeExchange, args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
    const env = { ...process.env, ...workspaceEnv(workspaceDir), ...KEY_ENV, CANDLELAB_LIVE_CONFIRM: 'yes' };
    const child = spawn(CLI_BIN, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    readline.createInterface({ input: child.stderr }).on('line', (line) => {
      stderr += line + '\n';
      if (/^streaming /.test(line) || / live /.test(line)) f.setNow(f.now + HOUR);
    });
    return new Promise((resolve) => child.on('close', (status) => resolve({ status, stdout, stderr })));
  }
  const ordersOf = (dir: string): Array<{ action: string; reason: string; order?: { side: string } }> =>
    fs.readFileSync(path.join(dir, 'orders.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const sessionArgs = (f: FakeExchange, dir: string): string[] => ['live', '--live', '--model', MODEL, '--api-url', f.url, '--dir', dir, '--warmup', '50', '--max-candles', '1'];

  it('a stop-loss the kernel hit closes the exchange position at the next decision', async () => {
    const { f, dir, orders } = await session(['backtest.exits.stopLossPct=0.03']);
    const trades = fs.readFileSync(path.join(dir, 'trades.csv'), 'utf8');
    expect(trades).toMatch(/stop-loss/);
    expect(orders.map((o) => o.action)).toEqual(['sent', 'sent']);
    expect(orders[0].order?.side).toBe('buy');
    // the strategy still says long (buy and hold); the book is flat after its stop, so is the exchange
    expect(orders[1].order?.side).toBe('sell');
    expect(btc(f)).toBeLessThan(1e-5);
  }, 60_000);

  it('a risk monitor that flattens (the drawdown kill switch) flattens the exchange', async () => {
    const { f, dir, orders } = await session(['backtest.risk.maxDrawdown=0.05']);
    expect(fs.readFileSync(path.join(dir, 'risk-events.jsonl'), 'utf8')).toMatch(/drawdown-kill/);
    expect(orders.map((o) => o.order?.side)).toEqual(['buy', 'sell']);
    expect(btc(f)).toBeLessThan(1e-5);
  }, 60_000);

  it('--cash below the account balance caps the order value; the position follows the sizing rule', async () => {
    const { f } = await session(['backtest.sizing={"kind":"equity-fraction","fraction":0.5}'], 2_000);
    const buy = f.orders()[0];
    expect(buy.side).toBe('BUY');
    // half of the session's 2 000 (not of the account's 10 000), less the commission the sizing keeps back
    expect(buy.origQty * crafted.column('close')[START]).toBeGreaterThan(990);
    expect(buy.origQty * crafted.column('close')[START]).toBeLessThanOrEqual(1_000);
  }, 60_000);

  it('CLI: --max-order-value refuses an order the limit makes too small, and a resumed session keeps its rails', async () => {
    const f = await craftedExchange();
    const dir = path.join(tempDir('live-cli-rails'), 'session');
    const first = await liveCli(f, [...sessionArgs(f, dir), '--max-order-value', '4']);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/^rails: --max-order-value 4$/m);
    const [refused] = ordersOf(dir);
    expect(refused).toMatchObject({ action: 'skipped', reason: expect.stringMatching(/^below min notional 5 USDT.*order capped at max order value 4/) });
    expect(f.orders()).toHaveLength(0);
    // resumed with no rails on the command line: the saved ones still apply
    const again = await liveCli(f, ['live', '--live', '--dir', dir, '--api-url', f.url, '--max-candles', '1']);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/^rails: --max-order-value 4 \(saved with the session/m);
    expect(ordersOf(dir).map((o) => o.action)).toEqual(['skipped', 'skipped']);
    expect(f.orders()).toHaveLength(0);
    // a limit the trader refuses stops the start in one line
    const bad = await liveCli(f, [...sessionArgs(f, path.join(dir, '..', 'bad')), '--max-daily-loss', '5']);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/rails.maxDailyLossFraction is 5/);
  }, 120_000);

  it('CLI: the KILL file sets the kill switch at the next start (--flatten-on-kill sells), entries stay blocked across restarts until live reset', async () => {
    const f = await craftedExchange();
    const dir = path.join(tempDir('live-cli-kill'), 'session');
    const first = await liveCli(f, sessionArgs(f, dir));
    expect(first.status, first.stderr).toBe(0);
    expect(ordersOf(dir)).toMatchObject([{ action: 'sent', order: { side: 'buy' } }]);
    expect(btc(f)).toBeGreaterThan(0.4);
    fs.writeFileSync(path.join(dir, 'live', 'KILL'), '');
    const killed = await liveCli(f, ['live', '--live', '--dir', dir, '--api-url', f.url, '--max-candles', '1', '--flatten-on-kill']);
    expect(killed.status, killed.stderr).toBe(0);
    expect(killed.stdout).toMatch(/KILL SWITCH SET \(kill file /);
    // flattened on start; buy-and-hold's entry is blocked
    expect(btc(f)).toBeLessThan(1e-5);
    expect(ordersOf(dir)[1]).toMatchObject({ action: 'blocked', reason: expect.stringMatching(/kill switch set/) });
    // the file removed, a restart still blocks: the switch is in the state
    fs.rmSync(path.join(dir, 'live', 'KILL'));
    const restarted = await liveCli(f, ['live', '--live', '--dir', dir, '--api-url', f.url, '--max-candles', '1']);
    expect(restarted.status, restarted.stderr).toBe(0);
    expect(ordersOf(dir)[2]).toMatchObject({ action: 'blocked' });
    expect(f.orders().filter((o) => o.side === 'BUY')).toHaveLength(1);
    const reset = await cli(['live', 'reset', '--dir', dir, '--api-url', f.url], { ...workspaceEnv(workspaceDir), ...KEY_ENV });
    expect(reset.status, reset.stderr).toBe(0);
    const resumed = await liveCli(f, ['live', '--live', '--dir', dir, '--api-url', f.url, '--max-candles', '1']);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(ordersOf(dir)[3]).toMatchObject({ action: 'sent', order: { side: 'buy' } });
  }, 180_000);
});
