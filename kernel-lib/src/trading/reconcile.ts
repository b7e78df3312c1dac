import * as path from 'node:path';
import { TradingError } from '../errors';
import type { ExchangeVenue, VenueOrder } from './exchange-venue';
import { isCandlelabOrderId } from './order-ids';
import { applyFills, STATE_FILE, type OrderRecord, type TradingState } from './state';

/** What reconciliation found and explained. */
export type ReconcileReport = {
  /** Orders whose fate was unknown (sent before a crash or a lost answer) and are now settled. */
  settled: Array<{ clientOrderId: string; status: OrderRecord['status']; filled: number }>;
  /** Own orders still open on the exchange, kept. */
  adopted: string[];
  /** Open orders not placed by candlelab (left alone). */
  foreign: string[];
  /** Whether the state was new and took the exchange's balances as its start. */
  fresh: boolean;
};

/** Balances agree when within this (exchanges keep 8 decimals). */
const TOLERANCE = 1e-8;

/**
 * Compare the exchange with the persisted state and settle what can be explained: an order the state
 * left as "sending" or "unknown" is looked up by its client order id (filled: its fills are applied;
 * open: adopted; absent: it never arrived). Anything unexplained — balances differing from the state
 * plus known fills, an unknown open order with a candlelab client id, a fill of an unknown order —
 * throws a one-line TradingError and nothing is sent. A fresh state adopts the exchange's balances.
 */
export async function reconcile(venue: ExchangeVenue, state: TradingState, options: { stateDir: string; fresh: boolean; log?: (line: string) => void }): Promise<ReconcileReport> {
  const log = options.log ?? (() => undefined);
  const stateFile = path.join(options.stateDir, STATE_FILE);
  const fix = `nothing was sent; find the cause (a manual trade, a deposit or withdrawal, another bot?) and, once understood, move ${stateFile} away to start fresh`;
  const report: ReconcileReport = { settled: [], adopted: [], foreign: [], fresh: options.fresh };

  // 1. Orders whose fate the state does not know.
  for (const record of Object.values(state.orders)) {
    if (record.status !== 'sending' && record.status !== 'unknown' && record.status !== 'open') continue;
    const found = await venue.lookupOrder(record.clientOrderId);
    if (!found) {
      if (record.status === 'open') throw new TradingError(`reconcile: order ${record.clientOrderId} is open in the state but the exchange does not know it; ${fix}`);
      record.status = 'not-sent';
      log(`reconcile: order ${record.clientOrderId} never reached the exchange; marked not sent`);
    } else {
      settle(state, record, found);
      if (record.status === 'open') report.adopted.push(record.clientOrderId);
      log(`reconcile: order ${record.clientOrderId} is ${record.status} on the exchange (filled ${record.filled} ${state.base})`);
    }
    report.settled.push({ clientOrderId: record.clientOrderId, status: record.status, filled: record.filled });
  }

  // 2. Open orders on the exchange.
  for (const order of await venue.openOrders()) {
    const record = state.orders[order.clientOrderId];
    if (record) {
      if (record.status !== 'open') throw new TradingError(`reconcile: order ${order.clientOrderId} is open on the exchange but ${record.status} in the state; ${fix}`);
    } else if (isCandlelabOrderId(order.clientOrderId)) {
      throw new TradingError(`reconcile: open order ${order.clientOrderId} (${order.side} ${order.amount} ${state.symbol}) carries a candlelab client order id but is not in the state; ${fix}`);
    } else {
      report.foreign.push(order.clientOrderId);
      log(`reconcile: open order ${order.clientOrderId} was not placed by candlelab; left alone`);
    }
  }

  // 3. Fills since the last one known must all belong to known orders.
  if (!options.fresh && state.lastFillTime !== undefined) {
    const known = new Set(Object.values(state.orders).map((o) => o.exchangeId).filter((id): id is string => id !== undefined));
    for (const fill of await venue.myTrades(state.lastFillTime)) {
      if (!known.has(fill.orderId)) {
        throw new TradingError(`reconcile: a ${fill.side} fill of ${fill.amount} ${state.base} at ${fill.price} (order ${fill.orderId}) is not one of the bot's orders; ${fix}`);
      }
    }
  }

  // 4. Balances: the exchange's totals must equal the state plus the fills applied above.
  const balances = await venue.fetchBalance();
  const exchangeBase = balances[state.base]?.total ?? 0;
  const exchangeQuote = balances[state.quote]?.total ?? 0;
  if (options.fresh) {
    state.balances = { base: exchangeBase, quote: exchangeQuote };
    log(`reconcile: new state; starting from the exchange's balances ${exchangeBase} ${state.base}, ${exchangeQuote} ${state.quote}`);
    return report;
  }
  for (const [asset, onExchange, expected] of [
    [state.base, exchangeBase, state.balances.base],
    [state.quote, exchangeQuote, state.balances.quote],
  ] as const) {
    if (Math.abs(onExchange - expected) > TOLERANCE + 1e-9 * Math.abs(expected)) {
      throw new TradingError(`reconcile: ${asset} balance on ${venue.exchange.id} is ${onExchange} but the state expects ${expected} (after the bot's known fills); ${fix}`);
    }
  }
  return report;
}

/** Bring an order record up to date with the exchange's view of it, applying new fills. */
export function settle(state: TradingState, record: OrderRecord, order: VenueOrder): void {
  record.exchangeId = order.id;
  const wasFilled = record.status === 'filled';
  applyFills(state, record, order.fills);
  record.filled = order.filled;
  record.status = order.status === 'closed' ? 'filled' : order.status === 'open' ? 'open' : order.status === 'rejected' ? 'rejected' : 'canceled';
  if (!wasFilled && record.filled > 0 && record.status !== 'open') state.tradeCount++;
}
