import type { MarketInterface } from 'ccxt';

/** An exchange's order filters for one symbol (Binance: PRICE_FILTER, LOT_SIZE, NOTIONAL). */
export type MarketFilters = {
  symbol: string;
  base: string;
  quote: string;
  /** Price increment. */
  tickSize: number;
  /** Quantity increment. */
  stepSize: number;
  minQty: number;
  maxQty: number;
  /** Minimum order value in quote currency. */
  minNotional: number;
};

/** An order after the filters: sized and priced to send, or skipped with the reason. */
export type FilteredOrder = { ok: true; amount: number; price: number } | { ok: false; reason: string };

/**
 * The filters of a ccxt market. Binance's own filters (market.info.filters) are read when present:
 * they are the exact numbers the exchange checks; otherwise ccxt's precision (tick sizes, ccxt 4 uses
 * TICK_SIZE precision mode for Binance) and limits.
 */
export function marketFilters(market: MarketInterface): MarketFilters {
  const info = (market.info ?? {}) as { filters?: Array<Record<string, string>> };
  const filter = (type: string): Record<string, string> | undefined => info.filters?.find((f) => f.filterType === type);
  const num = (value: unknown): number | undefined => {
    const n = Number(value);
    return value !== undefined && value !== null && Number.isFinite(n) ? n : undefined;
  };
  const price = filter('PRICE_FILTER');
  const lot = filter('LOT_SIZE');
  const notional = filter('NOTIONAL') ?? filter('MIN_NOTIONAL');
  const tickSize = num(price?.tickSize) || num(market.precision?.price) || 1e-8;
  const stepSize = num(lot?.stepSize) || num(market.precision?.amount) || 1e-8;
  return {
    symbol: market.symbol,
    base: market.base,
    quote: market.quote,
    tickSize,
    stepSize,
    minQty: num(lot?.minQty) ?? num(market.limits?.amount?.min) ?? 0,
    maxQty: num(lot?.maxQty) ?? num(market.limits?.amount?.max) ?? Infinity,
    minNotional: num(notional?.minNotional ?? notional?.notional) ?? num(market.limits?.cost?.min) ?? 0,
  };
}

/** Decimals needed to print multiples of `step` exactly. */
function decimals(step: number): number {
  const text = step.toExponential();
  const [mantissa, exponent] = text.split('e');
  const fraction = mantissa.split('.')[1]?.length ?? 0;
  return Math.max(0, fraction - Number(exponent));
}

/** `x` rounded down to a multiple of `step` (a hair of float noise tolerated, so 0.3/0.1 stays 3). */
export function floorToStep(x: number, step: number): number {
  return Number((Math.floor(x / step + 1e-9) * step).toFixed(decimals(step)));
}

/** `x` rounded up to a multiple of `step`. */
export function ceilToStep(x: number, step: number): number {
  return Number((Math.ceil(x / step - 1e-9) * step).toFixed(decimals(step)));
}

/**
 * Fit an order to the filters: quantity down to the lot step, price to the tick (down for buys, up for
 * sells: never worse than asked); below the minimum quantity or value it is skipped with a reason the
 * bot logs ("below min notional 5 USDT").
 */
export function applyFilters(filters: MarketFilters, order: { side: 'buy' | 'sell'; amount: number; price: number }): FilteredOrder {
  const price = order.side === 'buy' ? floorToStep(order.price, filters.tickSize) : ceilToStep(order.price, filters.tickSize);
  if (!(price > 0)) return { ok: false, reason: `price ${order.price} is below the tick ${filters.tickSize} ${filters.quote}` };
  const amount = Math.min(floorToStep(order.amount, filters.stepSize), floorToStep(filters.maxQty, filters.stepSize));
  if (!(amount > 0) || amount < filters.minQty) {
    return { ok: false, reason: `below min quantity ${filters.minQty} ${filters.base} (${order.amount} ${filters.base} after rounding to the lot step ${filters.stepSize})` };
  }
  const value = amount * price;
  if (value < filters.minNotional) {
    return { ok: false, reason: `below min notional ${filters.minNotional} ${filters.quote} (${amount} ${filters.base} × ${price} = ${Number(value.toPrecision(6))} ${filters.quote})` };
  }
  return { ok: true, amount, price };
}
