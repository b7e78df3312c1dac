import * as crypto from 'node:crypto';

/**
 * The signed spot trading side of the fake Binance (see fake-exchange.ts): accounts with balances,
 * orders, fills and Binance's checks (API key, recvWindow, HMAC signature, symbol filters, balance,
 * duplicate clientOrderId), answering in Binance's wire format.
 */

/** One API account on the fake exchange. */
export type FakeAccountOptions = {
  apiKey: string;
  secret: string;
  /** Free balances per asset, e.g. { USDT: 10000, BTC: 0 }. */
  balances: Record<string, number>;
};

/** A symbol's trading filters as exchangeInfo advertises them (Binance's BTCUSDT values by default). */
export type FakeSymbolFilters = { tickSize?: number; stepSize?: number; minQty?: number; maxQty?: number; minNotional?: number };

export const DEFAULT_FILTERS: Required<FakeSymbolFilters> = { tickSize: 0.01, stepSize: 0.00001, minQty: 0.00001, maxQty: 9000, minNotional: 5 };

/** An order as the fake exchange holds it. */
export type FakeOrder = {
  apiKey: string;
  symbol: string;
  orderId: number;
  clientOrderId: string;
  side: 'BUY' | 'SELL';
  type: 'MARKET' | 'LIMIT';
  timeInForce: string;
  price: number;
  origQty: number;
  executedQty: number;
  cummulativeQuoteQty: number;
  status: 'NEW' | 'PARTIALLY_FILLED' | 'FILLED' | 'CANCELED';
  time: number;
  updateTime: number;
};

/** A fill (a row of GET /api/v3/myTrades). */
export type FakeTrade = {
  apiKey: string;
  symbol: string;
  id: number;
  orderId: number;
  price: number;
  qty: number;
  quoteQty: number;
  commission: number;
  commissionAsset: string;
  time: number;
  isBuyer: boolean;
  isMaker: boolean;
};

export type FakeBalance = { free: number; locked: number };

/** A Binance error answer: code, message and HTTP status. */
export class BinanceError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly httpStatus = 400,
  ) {
    super(message);
  }
}

type Account = FakeAccountOptions & { balance: Map<string, FakeBalance> };
type SymbolInfo = { id: string; base: string; quote: string; filters: Required<FakeSymbolFilters> };

const round8 = (x: number): number => Number(x.toFixed(8));
const fixed8 = (x: number): string => x.toFixed(8);
const CLIENT_ID = /^[a-zA-Z0-9-_]{1,36}$/;
/** A multiple of `step` (within float noise)? */
const onStep = (x: number, step: number): boolean => Math.abs(x / step - Math.round(x / step)) < 1e-6;

/** Accounts, orders and fills; prices come from the exchange (`priceOf`). */
export class FakeSpotBook {
  readonly orders: FakeOrder[] = [];
  readonly trades: FakeTrade[] = [];
  readonly accounts = new Map<string, Account>();
  private nextOrderId = 1000;
  private nextTradeId = 5000;

  constructor(
    accounts: FakeAccountOptions[],
    private readonly symbols: (id: string) => SymbolInfo | undefined,
    private readonly priceOf: (id: string) => number | undefined,
    private readonly clock: () => number,
    readonly fees: { taker: number; maker: number },
    /** Offset added to the wall clock for recvWindow checks (to provoke -1021). */
    public clockOffsetMs = 0,
  ) {
    for (const a of accounts) {
      const balance = new Map<string, FakeBalance>();
      for (const [asset, free] of Object.entries(a.balances)) balance.set(asset, { free, locked: 0 });
      this.accounts.set(a.apiKey, { ...a, balance });
    }
  }

  /** Check API key, timestamp window and signature; returns the account. */
  authenticate(headers: Record<string, string | string[] | undefined>, rawQuery: string, rawBody: string, params: Record<string, string>): Account {
    const key = headers['x-mbx-apikey'];
    if (typeof key !== 'string' || key === '') throw new BinanceError(-2014, 'API-key format invalid.', 401);
    const account = this.accounts.get(key);
    if (!account) throw new BinanceError(-2015, 'Invalid API-key, IP, or permissions for action.', 401);
    if (params.timestamp === undefined) throw new BinanceError(-1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.");
    const recvWindow = params.recvWindow === undefined ? 5000 : Number(params.recvWindow);
    if (!(recvWindow > 0 && recvWindow <= 60_000)) throw new BinanceError(-1131, 'recvWindow must be less than 60000');
    // Clients stamp signed requests with their wall clock, so the window is checked against the wall
    // clock (plus the test's skew), not the exchange's simulated candle clock.
    const serverTime = Date.now() + this.clockOffsetMs;
    const timestamp = Number(params.timestamp);
    if (!(timestamp < serverTime + 1000 && serverTime - timestamp <= recvWindow)) {
      throw new BinanceError(-1021, 'Timestamp for this request is outside of the recvWindow.');
    }
    // Binance signs totalParams = query string + request body, without the signature itself.
    const strip = (s: string): string => s.replace(/(^|&)signature=[^&]*/, '');
    const payload = strip(rawQuery) + strip(rawBody);
    const expected = crypto.createHmac('sha256', account.secret).update(payload).digest('hex');
    const given = params.signature ?? '';
    if (given.length !== expected.length || !crypto.timingSafeEqual(Buffer.from(given), Buffer.from(expected))) {
      throw new BinanceError(-1022, 'Signature for this request is not valid.');
    }
    return account;
  }

  balanceOf(account: Account, asset: string): FakeBalance {
    let b = account.balance.get(asset);
    if (!b) account.balance.set(asset, (b = { free: 0, locked: 0 }));
    return b;
  }

  account(account: Account): unknown {
    return {
      makerCommission: Math.round(this.fees.maker * 10_000),
      takerCommission: Math.round(this.fees.taker * 10_000),
      buyerCommission: 0,
      sellerCommission: 0,
      commissionRates: { maker: fixed8(this.fees.maker), taker: fixed8(this.fees.taker), buyer: '0.00000000', seller: '0.00000000' },
      canTrade: true,
      canWithdraw: true,
      canDeposit: true,
      brokered: false,
      requireSelfTradePrevention: false,
      preventSor: false,
      updateTime: this.clock(),
      accountType: 'SPOT',
      balances: [...account.balance.entries()].map(([asset, b]) => ({ asset, free: fixed8(b.free), locked: fixed8(b.locked) })),
      permissions: ['SPOT'],
      uid: 354937868,
    };
  }

  /** POST /api/v3/order (and /order/test with `test`). */
  newOrder(account: Account, q: Record<string, string>, test: boolean): { order?: FakeOrder; response: unknown } {
    const info = this.symbol(q.symbol);
    for (const name of ['side', 'type']) if (!q[name]) throw mandatory(name);
    const side = q.side.toUpperCase();
    if (side !== 'BUY' && side !== 'SELL') throw new BinanceError(-1117, 'Invalid side.');
    const type = q.type.toUpperCase();
    if (type !== 'MARKET' && type !== 'LIMIT') throw new BinanceError(-1116, 'Invalid orderType.');
    if (q.newClientOrderId !== undefined && !CLIENT_ID.test(q.newClientOrderId)) {
      throw new BinanceError(-1100, "Illegal characters found in parameter 'newClientOrderId'; legal range is '^[a-zA-Z0-9-_]{1,36}$'.");
    }
    const market = this.priceOf(info.id);
    let price: number;
    let qty: number;
    if (type === 'LIMIT') {
      for (const name of ['timeInForce', 'quantity', 'price']) if (q[name] === undefined) throw mandatory(name);
      price = Number(q.price);
      qty = Number(q.quantity);
    } else {
      if (market === undefined) throw new BinanceError(-1013, 'Market is closed.');
      price = market;
      if (q.quantity !== undefined) qty = Number(q.quantity);
      else if (q.quoteOrderQty !== undefined) qty = round8(Math.floor(Number(q.quoteOrderQty) / price / info.filters.stepSize) * info.filters.stepSize);
      else throw mandatory('quantity');
    }
    if (!(qty > 0) || !Number.isFinite(qty)) throw new BinanceError(-1013, 'Invalid quantity.');
    if (!(price > 0) || !Number.isFinite(price)) throw new BinanceError(-1013, 'Invalid price.');
    const f = info.filters;
    if (type === 'LIMIT' && !onStep(price, f.tickSize)) throw new BinanceError(-1013, 'Filter failure: PRICE_FILTER');
    if (qty < f.minQty - 1e-12 || qty > f.maxQty || !onStep(qty, f.stepSize)) throw new BinanceError(-1013, 'Filter failure: LOT_SIZE');
    if (qty * price < f.minNotional - 1e-9) throw new BinanceError(-1013, 'Filter failure: NOTIONAL');
    const clientOrderId = q.newClientOrderId ?? 'web_' + crypto.randomBytes(12).toString('hex');
    // Binance refuses a clientOrderId still in use; every order the fake remembers counts as recent.
    if (this.orders.some((o) => o.apiKey === account.apiKey && o.clientOrderId === clientOrderId)) throw new BinanceError(-2010, 'Duplicate order sent.');
    const marketable = type === 'MARKET' || (market !== undefined && (side === 'BUY' ? price >= market : price <= market));
    const fillPrice = type === 'MARKET' || market === undefined ? price : marketable ? market : price;
    const base = this.balanceOf(account, info.base);
    const quote = this.balanceOf(account, info.quote);
    const needed = side === 'BUY' ? qty * (type === 'LIMIT' ? price : fillPrice) : qty;
    if ((side === 'BUY' ? quote.free : base.free) < needed - 1e-9) throw new BinanceError(-2010, 'Account has insufficient balance for requested action.');
    if (test) return { response: {} };
    const now = this.clock();
    const order: FakeOrder = {
      apiKey: account.apiKey,
      symbol: info.id,
      orderId: this.nextOrderId++,
      clientOrderId,
      side,
      type,
      timeInForce: type === 'LIMIT' ? q.timeInForce : 'GTC',
      price: type === 'LIMIT' ? price : 0,
      origQty: round8(qty),
      executedQty: 0,
      cummulativeQuoteQty: 0,
      status: 'NEW',
      time: now,
      updateTime: now,
    };
    this.orders.push(order);
    const fills: FakeTrade[] = [];
    if (marketable) {
      fills.push(this.fill(order, qty, fillPrice, false));
    } else {
      // A resting limit order locks what it may spend.
      if (side === 'BUY') {
        quote.free = round8(quote.free - qty * price);
        quote.locked = round8(quote.locked + qty * price);
      } else {
        base.free = round8(base.free - qty);
        base.locked = round8(base.locked + qty);
      }
    }
    const respType = q.newOrderRespType ?? (type === 'MARKET' || type === 'LIMIT' ? 'FULL' : 'ACK');
    const ack = { symbol: order.symbol, orderId: order.orderId, orderListId: -1, clientOrderId, transactTime: now };
    if (respType === 'ACK') return { order, response: ack };
    const result = { ...ack, ...orderFields(order), workingTime: now, selfTradePreventionMode: 'EXPIRE_MAKER' };
    if (respType === 'RESULT') return { order, response: result };
    return {
      order,
      response: { ...result, fills: fills.map((t) => ({ price: fixed8(t.price), qty: fixed8(t.qty), commission: fixed8(t.commission), commissionAsset: t.commissionAsset, tradeId: t.id })) },
    };
  }

  /** Fill `qty` of `order` at `price`: balances move, the fee is charged in the received asset. */
  fill(order: FakeOrder, qty: number, price: number, maker: boolean): FakeTrade {
    const account = this.accounts.get(order.apiKey)!;
    const info = this.symbol(order.symbol);
    const base = this.balanceOf(account, info.base);
    const quote = this.balanceOf(account, info.quote);
    const rate = maker ? this.fees.maker : this.fees.taker;
    const quoteQty = round8(qty * price);
    const resting = order.type === 'LIMIT' && maker;
    let commission: number;
    let commissionAsset: string;
    if (order.side === 'BUY') {
      commission = round8(qty * rate);
      commissionAsset = info.base;
      if (resting) quote.locked = round8(quote.locked - qty * order.price);
      else quote.free = round8(quote.free - quoteQty);
      base.free = round8(base.free + qty - commission);
    } else {
      commission = round8(quoteQty * rate);
      commissionAsset = info.quote;
      if (resting) base.locked = round8(base.locked - qty);
      else base.free = round8(base.free - qty);
      quote.free = round8(quote.free + quoteQty - commission);
    }
    order.executedQty = round8(order.executedQty + qty);
    order.cummulativeQuoteQty = round8(order.cummulativeQuoteQty + quoteQty);
    order.status = order.executedQty >= order.origQty - 1e-12 ? 'FILLED' : 'PARTIALLY_FILLED';
    order.updateTime = this.clock();
    const trade: FakeTrade = {
      apiKey: order.apiKey,
      symbol: order.symbol,
      id: this.nextTradeId++,
      orderId: order.orderId,
      price,
      qty,
      quoteQty,
      commission,
      commissionAsset,
      time: this.clock(),
      isBuyer: order.side === 'BUY',
      isMaker: maker,
    };
    this.trades.push(trade);
    return trade;
  }

  /** Symbols with resting limit orders. */
  restingSymbols(): Set<string> {
    return new Set(this.orders.filter((o) => o.type === 'LIMIT' && (o.status === 'NEW' || o.status === 'PARTIALLY_FILLED')).map((o) => o.symbol));
  }

  /** Resting limit orders crossed by a candle's range fill at their price (as maker). */
  matchLimits(symbolId: string, low: number, high: number): void {
    for (const order of this.orders) {
      if (order.symbol !== symbolId || order.type !== 'LIMIT' || (order.status !== 'NEW' && order.status !== 'PARTIALLY_FILLED')) continue;
      const crossed = order.side === 'BUY' ? low <= order.price : high >= order.price;
      if (crossed) this.fill(order, round8(order.origQty - order.executedQty), order.price, true);
    }
  }

  /** GET /api/v3/order by orderId or origClientOrderId. */
  getOrder(account: Account, q: Record<string, string>): unknown {
    return orderJson(this.findOrder(account, q, -2013, 'Order does not exist.'));
  }

  /** DELETE /api/v3/order. */
  cancelOrder(account: Account, q: Record<string, string>): unknown {
    const order = this.findOrder(account, q, -2011, 'Unknown order sent.');
    if (order.status !== 'NEW' && order.status !== 'PARTIALLY_FILLED') throw new BinanceError(-2011, 'Unknown order sent.');
    return this.cancel(account, order);
  }

  /** DELETE /api/v3/openOrders: every open order of the symbol. */
  cancelOpen(account: Account, q: Record<string, string>): unknown[] {
    const info = this.symbol(q.symbol);
    const open = this.openOf(account, info.id);
    if (open.length === 0) throw new BinanceError(-2011, 'Unknown order sent.');
    return open.map((o) => this.cancel(account, o));
  }

  /** GET /api/v3/openOrders (symbol optional, as on Binance). */
  openOrders(account: Account, q: Record<string, string>): unknown[] {
    const id = q.symbol === undefined ? undefined : this.symbol(q.symbol).id;
    return this.openOf(account, id).map(orderJson);
  }

  /** GET /api/v3/myTrades: orderId, startTime/endTime, fromId, limit (default 500, max 1000). */
  myTrades(account: Account, q: Record<string, string>): unknown[] {
    const info = this.symbol(q.symbol);
    const limit = q.limit === undefined ? 500 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new BinanceError(-1130, "Data sent for parameter 'limit' is not valid.");
    const rows = this.trades.filter(
      (t) =>
        t.apiKey === account.apiKey &&
        t.symbol === info.id &&
        (q.orderId === undefined || t.orderId === Number(q.orderId)) &&
        (q.startTime === undefined || t.time >= Number(q.startTime)) &&
        (q.endTime === undefined || t.time <= Number(q.endTime)) &&
        (q.fromId === undefined || t.id >= Number(q.fromId)),
    );
    const selected = q.startTime === undefined && q.fromId === undefined ? rows.slice(-limit) : rows.slice(0, limit);
    return selected.map((t) => ({
      symbol: t.symbol,
      id: t.id,
      orderId: t.orderId,
      orderListId: -1,
      price: fixed8(t.price),
      qty: fixed8(t.qty),
      quoteQty: fixed8(t.quoteQty),
      commission: fixed8(t.commission),
      commissionAsset: t.commissionAsset,
      time: t.time,
      isBuyer: t.isBuyer,
      isMaker: t.isMaker,
      isBestMatch: true,
    }));
  }

  private cancel(account: Account, order: FakeOrder): unknown {
    const info = this.symbol(order.symbol);
    const left = round8(order.origQty - order.executedQty);
    if (order.type === 'LIMIT') {
      if (order.side === 'BUY') {
        const q = this.balanceOf(account, info.quote);
        q.locked = round8(q.locked - left * order.price);
        q.free = round8(q.free + left * order.price);
      } else {
        const b = this.balanceOf(account, info.base);
        b.locked = round8(b.locked - left);
        b.free = round8(b.free + left);
      }
    }
    order.status = 'CANCELED';
    order.updateTime = this.clock();
    return {
      symbol: order.symbol,
      origClientOrderId: order.clientOrderId,
      orderId: order.orderId,
      orderListId: -1,
      clientOrderId: 'cancel' + crypto.randomBytes(8).toString('hex'),
      transactTime: this.clock(),
      ...orderFields(order),
      selfTradePreventionMode: 'EXPIRE_MAKER',
    };
  }

  private openOf(account: Account, symbolId: string | undefined): FakeOrder[] {
    return this.orders.filter((o) => o.apiKey === account.apiKey && (symbolId === undefined || o.symbol === symbolId) && (o.status === 'NEW' || o.status === 'PARTIALLY_FILLED'));
  }

  private findOrder(account: Account, q: Record<string, string>, code: number, msg: string): FakeOrder {
    const info = this.symbol(q.symbol);
    if (q.orderId === undefined && q.origClientOrderId === undefined) throw new BinanceError(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!");
    const order = this.orders.find(
      (o) =>
        o.apiKey === account.apiKey &&
        o.symbol === info.id &&
        (q.orderId !== undefined ? o.orderId === Number(q.orderId) : o.clientOrderId === q.origClientOrderId),
    );
    if (!order) throw new BinanceError(code, msg);
    return order;
  }

  private symbol(id: string | undefined): SymbolInfo {
    if (!id) throw mandatory('symbol');
    const info = this.symbols(id);
    if (!info) throw new BinanceError(-1121, 'Invalid symbol.');
    return info;
  }
}

function mandatory(name: string): BinanceError {
  return new BinanceError(-1102, `Mandatory parameter '${name}' was not sent, was empty/null, or malformed.`);
}

function orderFields(o: FakeOrder): Record<string, unknown> {
  return {
    price: fixed8(o.price),
    origQty: fixed8(o.origQty),
    executedQty: fixed8(o.executedQty),
    origQuoteOrderQty: '0.00000000',
    cummulativeQuoteQty: fixed8(o.cummulativeQuoteQty),
    status: o.status,
    timeInForce: o.timeInForce,
    type: o.type,
    side: o.side,
  };
}

function orderJson(o: FakeOrder): unknown {
  return {
    symbol: o.symbol,
    orderId: o.orderId,
    orderListId: -1,
    clientOrderId: o.clientOrderId,
    ...orderFields(o),
    stopPrice: '0.00000000',
    icebergQty: '0.00000000',
    time: o.time,
    updateTime: o.updateTime,
    isWorking: true,
    workingTime: o.time,
    selfTradePreventionMode: 'EXPIRE_MAKER',
  };
}
