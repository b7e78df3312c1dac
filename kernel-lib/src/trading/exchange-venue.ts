import type { Exchange, Order, Trade } from 'ccxt';
import { TradingError } from '../errors';
import { isTransient, loadCcxt, oneLine } from '../data/exchange/ccxt-client';
import { responseFailure } from '../data/exchange/transient-errors';
import { withRetry, type RetryPolicy } from '../data/exchange/retry';

/** An order to send. Market orders carry no price (ccxt would turn a price into quoteOrderQty). */
export type OrderIntent = { clientOrderId: string; side: 'buy' | 'sell'; amount: number; type: 'market' | 'limit'; price?: number };

/** One fill of an order. */
export type VenueFill = { tradeId: string; orderId: string; side: 'buy' | 'sell'; price: number; amount: number; cost: number; fee: number; feeCurrency: string; time: number };

/** An order as the exchange reports it. */
export type VenueOrder = {
  id: string;
  clientOrderId: string;
  side: 'buy' | 'sell';
  type: string;
  status: 'open' | 'closed' | 'canceled' | 'rejected' | 'expired';
  amount: number;
  filled: number;
  price?: number;
  average?: number;
  cost: number;
  time: number;
  fills: VenueFill[];
};

/** What placing an order took. */
export type PlaceResult = {
  order: VenueOrder;
  /** How many times the order was sent (more than 1 only when the exchange said it did not have it). */
  sends: number;
  /** Whether the answer was lost (5xx, timeout, network) and the order was found by its client id. */
  recovered: boolean;
};

/** Balances per asset. */
export type VenueBalances = Record<string, { free: number; used: number; total: number }>;

export type ExchangeVenueOptions = {
  /** Retry policy of reads and of order lookups (default: 6 retries from 200 ms). */
  retry?: RetryPolicy;
  /** Sends of one order at most, each only after a lookup found no order (default 3). */
  maxSends?: number;
  log?: (line: string) => void;
};

/** The exchange refused an order (a definite answer: nothing was placed). */
export class OrderRejectedError extends TradingError {
  constructor(
    message: string,
    readonly exchangeCode: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Binance's reason for a rejection, and what to do about it. */
function rejectionHint(code: string | undefined, text: string, quote: string): string {
  if (/Duplicate order/i.test(text)) return 'the client order id was used before; the state may be stale, restart to reconcile';
  if (code === '-2010' || /insufficient balance/i.test(text)) return `check the free ${quote} / base balance on the exchange`;
  if (code === '-1013' || /Filter failure/i.test(text)) return "the order breaks the symbol's filters (tick, lot step, min notional)";
  if (code === '-1021') return "the machine's clock is off; sync it (NTP)";
  if (code === '-1022' || code === '-2014' || code === '-2015') return "check the API key and secret, the key's IP whitelist and its spot trading permission";
  return 'check the order and the account';
}

/**
 * Spot orders and account reads over a ccxt exchange. Reads are retried. An order whose answer is lost
 * (HTTP 5xx, a timeout, a network error: Binance's "execution status unknown") is never resent blindly:
 * it is looked up by its client order id, and sent again, with the same id, only when the exchange says
 * it does not have it.
 */
export class ExchangeVenue {
  private readonly retry: RetryPolicy;
  private readonly maxSends: number;
  private readonly log: (line: string) => void;

  constructor(
    readonly exchange: Exchange,
    readonly symbol: string,
    options: ExchangeVenueOptions = {},
  ) {
    this.retry = options.retry ?? { retries: 6, baseDelayMs: 200, maxDelayMs: 5000 };
    this.maxSends = options.maxSends ?? 3;
    this.log = options.log ?? (() => undefined);
  }

  private get quote(): string {
    return this.symbol.split('/')[1]?.split(':')[0] ?? 'quote';
  }

  /** Place an order with its client order id; see the class comment for lost answers. */
  async placeOrder(intent: OrderIntent): Promise<PlaceResult> {
    const id = intent.clientOrderId;
    for (let send = 1; send <= this.maxSends; send++) {
      try {
        const raw = await this.exchange.createOrder(this.symbol, intent.type, intent.side, intent.amount, intent.type === 'limit' ? intent.price : undefined, {
          newClientOrderId: id,
        });
        return { order: await this.withFills(normalizeOrder(raw)), sends: send, recovered: send > 1 };
      } catch (error) {
        const duplicate = /Duplicate order/i.test(errorText(error));
        if (!isTransient(error) && !duplicate) throw this.rejection(intent, error);
        // Status unknown (or an earlier send of this id did arrive): ask the exchange.
        this.log(`order ${id}: ${duplicate ? 'the exchange already has this id' : 'answer lost (' + oneLine(error) + ')'}; looking it up by client order id`);
        const found = await this.lookupOrder(id);
        if (found) {
          this.log(`order ${id}: found on the exchange (${found.status}, filled ${found.filled})`);
          return { order: found, sends: send, recovered: true };
        }
        if (send < this.maxSends) this.log(`order ${id}: not on the exchange; sending it again with the same id`);
      }
    }
    throw new TradingError(`order ${id} was not accepted after ${this.maxSends} sends and the exchange does not have it; nothing was placed; check the connection and the exchange status`);
  }

  /** The order with this client order id, with its fills; undefined when the exchange does not have it. */
  async lookupOrder(clientOrderId: string): Promise<VenueOrder | undefined> {
    const ccxt = loadCcxt();
    let raw: Order;
    try {
      raw = await withRetry(`look up order ${clientOrderId}`, () => this.exchange.fetchOrder('', this.symbol, { origClientOrderId: clientOrderId }), this.retry, this.exchange);
    } catch (error) {
      if (error instanceof ccxt.OrderNotFound) return undefined;
      throw new TradingError(`order ${clientOrderId}: status unknown and the lookup failed (${oneLine(error)}); nothing more is sent; restart to reconcile once the exchange answers`, { cause: error });
    }
    return this.withFills(normalizeOrder(raw));
  }

  /** Fills of one order (by exchange order id). */
  async orderFills(orderId: string): Promise<VenueFill[]> {
    const trades = await this.read(`fills of order ${orderId}`, () => this.exchange.fetchMyTrades(this.symbol, undefined, undefined, { orderId }));
    return trades.map(normalizeFill);
  }

  /** Fills of the symbol since `since` (epoch ms, inclusive), oldest first (up to 1000). */
  async myTrades(since: number): Promise<VenueFill[]> {
    const trades = await this.read('fetch my trades', () => this.exchange.fetchMyTrades(this.symbol, since, 1000));
    return trades.map(normalizeFill);
  }

  async fetchBalance(): Promise<VenueBalances> {
    const balance = await this.read('fetch balance', () => this.exchange.fetchBalance());
    const out: VenueBalances = {};
    const total = (balance.total ?? {}) as unknown as Record<string, number>;
    for (const asset of Object.keys(total)) {
      const b = balance[asset] as { free?: number; used?: number; total?: number } | undefined;
      out[asset] = { free: b?.free ?? 0, used: b?.used ?? 0, total: b?.total ?? 0 };
    }
    return out;
  }

  /** Open orders of the symbol. */
  async openOrders(): Promise<VenueOrder[]> {
    const orders = await this.read('fetch open orders', () => this.exchange.fetchOpenOrders(this.symbol));
    return orders.map(normalizeOrder);
  }

  /** Cancel one order by client order id; false when it is no longer open (filled, cancelled, unknown). */
  async cancelOrder(clientOrderId: string): Promise<boolean> {
    const ccxt = loadCcxt();
    try {
      await withRetry(`cancel order ${clientOrderId}`, () => this.exchange.cancelOrder('', this.symbol, { origClientOrderId: clientOrderId }), this.retry, this.exchange);
      return true;
    } catch (error) {
      // -2011 "Unknown order sent.": already filled or cancelled; the lookup that follows tells which.
      if (error instanceof ccxt.OrderNotFound) return false;
      throw new TradingError(`cancelling order ${clientOrderId} failed (${oneLine(error)}); cancel it on the exchange`, { cause: error });
    }
  }

  /** Cancel every open order of the symbol; returns how many were cancelled. */
  async cancelAll(): Promise<number> {
    const ccxt = loadCcxt();
    try {
      // Cancelling is idempotent (a second cancel finds nothing), so it is retried like a read.
      const result = await withRetry('cancel open orders', () => this.exchange.cancelAllOrders(this.symbol), this.retry, this.exchange);
      return Array.isArray(result) ? result.length : 0;
    } catch (error) {
      // Binance answers -2011 "Unknown order sent." when nothing is open.
      if (error instanceof ccxt.OrderNotFound) return 0;
      throw new TradingError(`cancelling the open ${this.symbol} orders failed (${oneLine(error)}); cancel them on the exchange`, { cause: error });
    }
  }

  private async read<T>(what: string, call: () => Promise<T>): Promise<T> {
    try {
      return await withRetry(what, call, this.retry, this.exchange);
    } catch (error) {
      if (error instanceof TradingError) throw error;
      throw new TradingError(`${this.exchange.id} ${what} failed: ${oneLine(error)}; check the connection and the API key`, { cause: error });
    }
  }

  /** Fills come with a FULL order answer; a looked-up order needs them from myTrades. */
  private async withFills(order: VenueOrder): Promise<VenueOrder> {
    const known = order.fills.reduce((sum, f) => sum + f.amount, 0);
    if (order.filled > 0 && known < order.filled - 1e-12) {
      const fills = await this.orderFills(order.id);
      return { ...order, fills };
    }
    return order;
  }

  private rejection(intent: OrderIntent, error: unknown): OrderRejectedError {
    const text = errorText(error);
    const code = responseFailure(error)?.exchangeCode ?? /"code":\s*(-?\d+)/.exec(text)?.[1];
    const message = /"msg":\s*"([^"]*)"/.exec(text)?.[1] ?? text.replace(new RegExp('^' + this.exchange.id + '\\s+'), '');
    const what = `${intent.side} ${intent.amount} ${this.symbol} ${intent.type}${intent.price !== undefined ? ' at ' + intent.price : ''}`;
    return new OrderRejectedError(
      `${this.exchange.id} rejected order ${intent.clientOrderId} (${what}): ${message}${code ? ` (${code})` : ''}; ${rejectionHint(code, text, this.quote)}`,
      code,
      { cause: error },
    );
  }
}

function errorText(error: unknown): string {
  return oneLine(error);
}

const STATUSES = new Set(['open', 'closed', 'canceled', 'rejected', 'expired']);

/** A ccxt order as a VenueOrder. */
export function normalizeOrder(o: Order): VenueOrder {
  const status = STATUSES.has(String(o.status)) ? (o.status as VenueOrder['status']) : 'open';
  return {
    id: String(o.id),
    clientOrderId: String(o.clientOrderId ?? ''),
    side: o.side === 'sell' ? 'sell' : 'buy',
    type: String(o.type ?? ''),
    status,
    amount: o.amount ?? 0,
    filled: o.filled ?? 0,
    price: o.price ?? undefined,
    average: o.average ?? undefined,
    cost: o.cost ?? 0,
    time: o.timestamp ?? 0,
    fills: (o.trades ?? []).map((t) => normalizeFill({ ...t, order: t.order ?? String(o.id), side: t.side ?? o.side, timestamp: t.timestamp ?? o.timestamp } as Trade)),
  };
}

/** A ccxt trade as a VenueFill. */
export function normalizeFill(t: Trade): VenueFill {
  return {
    tradeId: String(t.id ?? ''),
    orderId: String(t.order ?? ''),
    side: t.side === 'sell' ? 'sell' : 'buy',
    price: t.price ?? 0,
    amount: t.amount ?? 0,
    cost: t.cost ?? (t.price ?? 0) * (t.amount ?? 0),
    fee: t.fee?.cost ?? 0,
    feeCurrency: t.fee?.currency ?? '',
    time: t.timestamp ?? 0,
  };
}
