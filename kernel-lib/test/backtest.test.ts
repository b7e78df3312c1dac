import { describe, expect, it } from 'vitest';
import { Frame, type Candles } from '../src/frame/frame';
import { runBacktest, drawdownSeries, sharpeRatio } from '../src/backtest/backtest';
import { generateSyntheticCandles } from '../src/data/synthetic';
import { ConfigError } from '../src/errors';

const H = 3_600_000;

function bars(open: number[], close: number[]): Candles {
  const high = open.map((o, i) => Math.max(o, close[i]) + 1);
  const low = open.map((o, i) => Math.min(o, close[i]) - 1);
  return Frame.fromColumns(
    Float64Array.from(open, (_, i) => i * H),
    {
      open: Float64Array.from(open),
      high: Float64Array.from(high),
      low: Float64Array.from(low),
      close: Float64Array.from(close),
      volume: new Float64Array(open.length).fill(1),
    },
    { symbol: 'BTC/USDT', timeframe: '1h' },
  );
}

const open = [100, 102, 104, 103];
const close = [101, 103, 102, 105];

describe('backtest fills, by hand', () => {
  it('fills a long at the next open, pays commission on both fills, sizes so cash ends at zero', () => {
    const result = runBacktest(bars(open, close), Float64Array.from([1, 1, 0, 0]), { initialCash: 1000, commissionBps: 10, slippageBps: 0 });
    const size = 1000 / (102 * 1.001);
    const entryFee = size * 102 * 0.001;
    const exitFee = size * 103 * 0.001;
    expect(result.equity[0]).toBe(1000);
    expect(result.equity[1]).toBeCloseTo(size * 103, 9);
    expect(result.equity[2]).toBeCloseTo(size * 102, 9);
    expect(result.equity[3]).toBeCloseTo(size * 103 - exitFee, 9);
    expect(result.trades).toHaveLength(1);
    const trade = result.trades[0];
    expect(trade).toMatchObject({ side: 'long', entryTime: H, entryPrice: 102, exitTime: 3 * H, exitPrice: 103, bars: 2, exitReason: 'signal' });
    expect(trade.pnl).toBeCloseTo(size * (103 - 102) - entryFee - exitFee, 9);
    expect(trade.fees).toBeCloseTo(entryFee + exitFee, 12);
    expect(result.metrics.totalFees).toBeCloseTo(entryFee + exitFee, 12);
    expect(result.metrics.totalReturn).toBeCloseTo(result.equity[3] / 1000 - 1, 12);
    expect(result.metrics.numTrades).toBe(1);
    expect(result.metrics.winRate).toBe(1);
    expect(result.metrics.profitFactor).toBeNull(); // no losing trade
  });

  it('moves fill prices against the trader by the slippage', () => {
    const result = runBacktest(bars(open, close), Float64Array.from([1, 1, 0, 0]), { initialCash: 1000, commissionBps: 0, slippageBps: 50 });
    const trade = result.trades[0];
    expect(trade.entryPrice).toBeCloseTo(102 * 1.005, 12);
    expect(trade.exitPrice).toBeCloseTo(103 * 0.995, 12);
    expect(trade.pnl).toBeCloseTo((1000 / (102 * 1.005)) * (103 * 0.995 - 102 * 1.005), 9);
  });

  it('shorts: profit when the price falls, loss when it rises', () => {
    const result = runBacktest(bars(open, close), Float64Array.from([-1, -1, 0, 0]), { initialCash: 1000, commissionBps: 0, slippageBps: 0 });
    const units = 1000 / 102;
    expect(result.position[1]).toBeCloseTo(-units, 12);
    expect(result.equity[1]).toBeCloseTo(1000 - units * (103 - 102), 9);
    expect(result.trades[0]).toMatchObject({ side: 'short', entryPrice: 102, exitPrice: 103 });
    expect(result.trades[0].pnl).toBeCloseTo(-units, 9);
  });

  it('flips from long to short by closing first, then opening with the remaining equity', () => {
    const result = runBacktest(bars(open, close), Float64Array.from([1, -1, 0, 0]), { initialCash: 1000, commissionBps: 0, slippageBps: 0 });
    expect(result.trades.map((t) => t.side)).toEqual(['long', 'short']);
    expect(result.trades[0]).toMatchObject({ entryPrice: 102, exitPrice: 104 });
    expect(result.trades[1]).toMatchObject({ entryPrice: 104, exitPrice: 103 });
  });

  it('closes a position still open after the last bar at the last close', () => {
    const result = runBacktest(bars(open, close), Float64Array.from([0, 0, 1, 1]), { initialCash: 1000, commissionBps: 0, slippageBps: 0 });
    expect(result.trades).toHaveLength(1);
    expect(result.trades[0]).toMatchObject({ entryPrice: 103, exitPrice: 105, exitReason: 'end', bars: 0 });
    expect(result.position[3]).toBe(0);
    expect(result.equity[3]).toBeCloseTo((1000 / 103) * 105, 9);
  });
});

describe('backtest invariants on three years of synthetic candles', () => {
  const candles = generateSyntheticCandles({ seed: 21, bars: 5000 });
  const c = candles.column('close');
  const o = candles.column('open');

  it('zero-cost buy-and-hold equals the price ratio (entry at the second open, exit at the last close)', () => {
    const result = runBacktest(candles, new Float64Array(candles.length).fill(1), { initialCash: 10_000, commissionBps: 0, slippageBps: 0 });
    expect(result.metrics.finalEquity).toBeCloseTo((10_000 * c[c.length - 1]) / o[1], 6);
    expect(result.buyHoldEquity[candles.length - 1]).toBeCloseTo((10_000 * c[c.length - 1]) / c[0], 6);
  });

  it('fills inside the bar range, never negative fees, equity consistent with trades', () => {
    const targets = new Float64Array(candles.length);
    for (let i = 0; i < targets.length; i++) targets[i] = Math.sin(i / 17) > 0.3 ? 1 : Math.sin(i / 17) < -0.3 ? -1 : 0;
    const result = runBacktest(candles, targets, { initialCash: 10_000, commissionBps: 7, slippageBps: 0 });
    const low = candles.column('low');
    const high = candles.column('high');
    const rowOf = new Map(Array.from(candles.time, (t, i) => [t, i]));
    expect(result.trades.length).toBeGreaterThan(50);
    for (const trade of result.trades) {
      for (const [time, price] of [[trade.entryTime, trade.entryPrice], [trade.exitTime, trade.exitPrice]]) {
        const row = rowOf.get(time)!;
        expect(price).toBeGreaterThanOrEqual(low[row]);
        expect(price).toBeLessThanOrEqual(high[row]);
      }
      expect(trade.fees).toBeGreaterThanOrEqual(0);
    }
    // Final equity = initial cash + the sum of trade P&L (every trade is closed by the end).
    const pnl = result.trades.reduce((sum, t) => sum + t.pnl, 0);
    expect(result.metrics.finalEquity).toBeCloseTo(10_000 + pnl, 6);
  });

  it('a strategy that never trades keeps its cash: no trades, null ratios, zero Sharpe and drawdown', () => {
    const result = runBacktest(candles, new Float64Array(candles.length), { initialCash: 500, commissionBps: 10, slippageBps: 5 });
    expect(result.metrics).toMatchObject({ finalEquity: 500, totalReturn: 0, numTrades: 0, winRate: null, profitFactor: null, sharpe: 0, maxDrawdown: 0, exposure: 0 });
  });

  it('rejects bad settings and targets with the value named', () => {
    const flat = new Float64Array(candles.length);
    expect(() => runBacktest(candles, flat, { initialCash: 0, commissionBps: 0, slippageBps: 0 })).toThrow(/initialCash must be positive, got 0/);
    expect(() => runBacktest(candles, flat, { initialCash: 1, commissionBps: -1, slippageBps: 0 })).toThrow(ConfigError);
    expect(() => runBacktest(candles, flat.subarray(1), { initialCash: 1, commissionBps: 0, slippageBps: 0 })).toThrow(/targets for 5000 bars/);
    const bad = flat.slice();
    bad[3] = 2;
    expect(() => runBacktest(candles, bad, { initialCash: 1, commissionBps: 0, slippageBps: 0 })).toThrow(/target 2 at bar 3/);
  });
});

describe('risk metrics', () => {
  it('drawdown from the running peak', () => {
    expect(Array.from(drawdownSeries(Float64Array.from([100, 120, 90, 130, 65])))).toEqual([0, 0, 0.25, 0, 0.5]);
  });

  it('Sharpe of per-bar returns, annualized', () => {
    const equity = Float64Array.from([100, 101, 100, 102, 103]);
    const returns = [0.01, -1 / 101, 0.02, 1 / 102];
    const mean = returns.reduce((a, b) => a + b) / 4;
    const deviation = Math.sqrt(returns.reduce((a, r) => a + (r - mean) ** 2, 0) / 3);
    expect(sharpeRatio(equity, 8760)).toBeCloseTo((mean / deviation) * Math.sqrt(8760), 10);
    expect(sharpeRatio(Float64Array.from([5, 5, 5]), 8760)).toBe(0);
  });
});
