import { timeframeMs } from '../../frame/frame';

/** A trade as far as candles care: time (epoch ms), price and amount (base units). */
export type TradeTick = { timestamp: number; price: number; amount: number };

/** One candle: open time and OHLCV. */
export type CandleRow = { time: number; open: number; high: number; low: number; close: number; volume: number };

/**
 * Trades → candles of `timeframe` (UTC buckets): open is the first trade's price, close the last's,
 * high/low the extremes, volume the summed amount. Trades must be in time order (equal times keep their
 * order). Buckets without trades produce no candle. Every bucket is returned, the last one included
 * whether or not it has closed: `TradeCandleBuilder` decides closedness when streaming.
 */
export function aggregateTrades(trades: readonly TradeTick[], timeframe: string): CandleRow[] {
  const step = timeframeMs(timeframe);
  const out: CandleRow[] = [];
  let current: CandleRow | undefined;
  let previousTime = -Infinity;
  for (const trade of trades) {
    if (!(trade.timestamp >= previousTime)) throw new RangeError(`trades out of order at ${trade.timestamp} (after ${previousTime}); sort them by time`);
    previousTime = trade.timestamp;
    const bucket = Math.floor(trade.timestamp / step) * step;
    if (!current || bucket !== current.time) {
      current = { time: bucket, open: trade.price, high: trade.price, low: trade.price, close: trade.price, volume: 0 };
      out.push(current);
    }
    if (trade.price > current.high) current.high = trade.price;
    if (trade.price < current.low) current.low = trade.price;
    current.close = trade.price;
    current.volume += trade.amount;
  }
  return out;
}

/**
 * Streaming form of `aggregateTrades`: feed trades as they arrive; a bucket is returned once a trade
 * of a later bucket shows it has closed. The first bucket seen is marked incomplete (trades before the
 * subscription are missing) and is never returned; `reset()` after a reconnect starts over.
 */
export class TradeCandleBuilder {
  private readonly step: number;
  private current?: CandleRow;
  private currentComplete = false;
  private lastTime = -Infinity;

  constructor(timeframe: string) {
    this.step = timeframeMs(timeframe);
  }

  /** Add trades (in time order; older than the last one seen are ignored) and return the candles they closed. */
  add(trades: readonly TradeTick[]): CandleRow[] {
    const closed: CandleRow[] = [];
    for (const trade of trades) {
      if (trade.timestamp < this.lastTime) continue;
      this.lastTime = trade.timestamp;
      const bucket = Math.floor(trade.timestamp / this.step) * this.step;
      if (!this.current || bucket > this.current.time) {
        if (this.current && this.currentComplete) closed.push(this.current);
        // Only a bucket whose start we witnessed (after a bucket we saw) is complete.
        this.currentComplete = this.current !== undefined;
        this.current = { time: bucket, open: trade.price, high: trade.price, low: trade.price, close: trade.price, volume: 0 };
      }
      const c = this.current;
      if (trade.price > c.high) c.high = trade.price;
      if (trade.price < c.low) c.low = trade.price;
      c.close = trade.price;
      c.volume += trade.amount;
    }
    return closed;
  }

  /** Forget the forming bucket (after a disconnect its trades are incomplete). */
  reset(): void {
    this.current = undefined;
    this.currentComplete = false;
  }
}
