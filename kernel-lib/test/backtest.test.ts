import { describe, expect, it } from 'vitest';
import { Frame, type Candles } from '../src/frame/frame';
import { runEngine, type EngineResult, type Sleeve } from '../src/backtest/engine';
import { analyzeBacktest, classifyRegimes, drawdownSeries, sharpeOfReturns } from '../src/backtest/metrics';
import { backtestTargets, priceArrays, sweepTargets } from '../src/backtest/vectorized';
import { RollingTail, portfolioVolatility } from '../src/backtest/risk';
import type { BacktestSettingsInput } from '../src/backtest/settings';
import { runStrategyBacktest } from '../src/backtest/strategy-backtest';
import { generateSyntheticCandles } from '../src/data/synthetic';
import { createRegistry } from '../src/plugins/core-plugin';
import { ConfigError } from '../src/errors';
import { hourlyBars } from './helpers';
import { atrKernel } from '../src/features/kernels';

const H = 3_600_000;

const bars = hourlyBars;

const single = (candles: Candles, targets: number[], settings: BacktestSettingsInput = {}, extra: Partial<Sleeve> = {}): EngineResult =>
  runEngine([{ symbol: candles.meta.symbol, candles }], [{ name: 's', targets: { [candles.meta.symbol]: Float64Array.from(targets) }, ...extra }], settings);

const zeroCost = { commissionBps: 0, slippageBps: 0 };

// open, high, low, close
const FOUR = [
  [100, 102, 99, 101],
  [102, 104, 101, 103],
  [104, 105, 101, 102],
  [103, 106, 102, 105],
];

describe('fills, by hand', () => {
  it('market entry at the next open with commission on both fills, sized so position + fee = equity', () => {
    const r = single(bars(FOUR), [1, 1, 0, 0], { initialCash: 1000, commissionBps: 10, slippageBps: 0 });
    const size = 1000 / (102 * 1.001);
    expect(r.fills.map((f) => [f.side, f.type, f.basePrice, f.price])).toEqual([['buy', 'market', 102, 102], ['sell', 'market', 103, 103]]);
    expect(r.fills[0].quantity).toBeCloseTo(size, 12);
    expect(r.fills[0].commission).toBeCloseTo(size * 102 * 0.001, 12);
    expect(Array.from(r.equity)).toEqual([1000, expect.closeTo(size * 103, 9), expect.closeTo(size * 102, 9), expect.closeTo(size * 103 * 0.999, 9)]);
    expect(r.trades[0]).toMatchObject({ side: 'long', entryPrice: 102, exitPrice: 103, bars: 2, exitReason: 'signal' });
    expect(r.trades[0].pnl).toBeCloseTo(size - size * 102 * 0.001 - size * 103 * 0.001, 9);
    expect(r.time[0]).toBe(H); // series are stamped at bar close times
  });

  it('fills at the same close with fill: close', () => {
    const r = single(bars(FOUR), [1, 0, 0, 0], { initialCash: 1000, ...zeroCost, fill: 'close' });
    expect(r.trades[0]).toMatchObject({ entryPrice: 101, exitPrice: 103, bars: 1 });
  });

  it('slippage moves the price against the trader and is recorded apart from the base price', () => {
    const r = single(bars(FOUR), [1, 1, 0, 0], { initialCash: 1000, commissionBps: 0, slippageBps: 50 });
    expect(r.fills[0]).toMatchObject({ basePrice: 102, price: 102 * 1.005 });
    expect(r.fills[1]).toMatchObject({ basePrice: 103, price: 103 * 0.995 });
    expect(r.fills[0].slippageCost).toBeCloseTo(r.fills[0].quantity * 102 * 0.005, 9);
    // sized at the slipped price: the entry spends exactly the cash
    expect(r.fills[0].quantity * r.fills[0].price).toBeCloseTo(1000, 9);
  });

  it('commission: maker rate for limit orders, taker for market, or a fixed fee per fill', () => {
    const limit = single(bars(FOUR), [1, 1, 0, 0], { initialCash: 1000, commission: { kind: 'bps', takerBps: 20, makerBps: 2 }, slippageBps: 0, entry: { type: 'limit', offsetBps: 0, validBars: 1 } });
    expect(limit.fills[0]).toMatchObject({ type: 'limit', basePrice: 101 }); // limit at the decision close 101; bar 1 low 101 reaches it
    expect(limit.fills[0].commission).toBeCloseTo(limit.fills[0].quantity * 101 * 0.0002, 12);
    expect(limit.fills[1].commission).toBeCloseTo(limit.fills[1].quantity * 103 * 0.002, 12);
    const fixed = single(bars(FOUR), [1, 1, 0, 0], { initialCash: 1000, commission: { kind: 'fixed', perFill: 3 }, slippageBps: 0 });
    expect(fixed.fills.map((f) => f.commission)).toEqual([3, 3]);
  });

  it('whole units round every order down to the lot size', () => {
    const r = single(bars(FOUR), [1, 1, 0, 0], { initialCash: 1000, ...zeroCost, units: 'whole', lotSize: 0.5 });
    expect(r.fills[0].quantity).toBe(9.5); // 1000 / 102 = 9.80 → 9.5
  });

  it('shorts gain when the price falls; a flip closes then opens with what is left', () => {
    const r = single(bars(FOUR), [1, -1, 0, 0], { initialCash: 1000, ...zeroCost });
    expect(r.trades.map((t) => [t.side, t.entryPrice, t.exitPrice])).toEqual([['long', 102, 104], ['short', 104, 103]]);
    const equityAfterLong = (1000 / 102) * 104;
    expect(r.trades[1].pnl).toBeCloseTo((equityAfterLong / 104) * (104 - 103), 9);
  });

  it('non-exclusive targets trade the difference; exclusive closes and reopens', () => {
    const open = bars([[100, 100, 100, 100], [100, 100, 100, 100], [100, 100, 100, 100], [100, 100, 100, 100]]);
    const adjust = single(open, [0.5, 1, 1, 1], { initialCash: 1000, ...zeroCost, exclusive: false });
    expect(adjust.fills.map((f) => [f.side, f.quantity])).toEqual([['buy', 5], ['buy', 5], ['sell', 10]]);
    expect(adjust.trades).toHaveLength(1);
    const exclusive = single(open, [0.5, 1, 1, 1], { initialCash: 1000, ...zeroCost, exclusive: true });
    expect(exclusive.fills.map((f) => [f.side, f.quantity])).toEqual([['buy', 5], ['sell', 5], ['buy', 10], ['sell', 10]]);
    expect(exclusive.trades).toHaveLength(2);
  });

  it('closes what is still open at the last close', () => {
    const r = single(bars(FOUR), [0, 0, 1, 1], { initialCash: 1000, ...zeroCost });
    expect(r.trades[0]).toMatchObject({ entryPrice: 103, exitPrice: 105, exitReason: 'end' });
  });
});

describe('orders: limit and stop', () => {
  it('a limit buy fills at its price when the bar reaches it, at the open when the bar opens beyond it', () => {
    const candles = bars([[100, 101, 99, 100], [101, 102, 98, 100], [97, 99, 96, 98], [98, 99, 97, 98]]);
    const fills: number[] = [];
    const r = runEngine([{ symbol: 'BTC/USDT', candles }], [{
      name: 'orders',
      onBar: (ctx) => {
        if (ctx.row === 0) ctx.submit({ asset: 'BTC/USDT', side: 'buy', type: 'limit', quantity: 1, price: 99 });
        if (ctx.row === 1) ctx.submit({ asset: 'BTC/USDT', side: 'buy', type: 'limit', quantity: 1, price: 98 });
      },
    }], { initialCash: 1000, ...zeroCost });
    for (const f of r.fills) fills.push(f.basePrice);
    // bar 1 reaches 99 intrabar → fills at 99; bar 2 opens at 97, below the 98 limit → fills at the open
    expect(fills.slice(0, 2)).toEqual([99, 97]);
  });

  it('a stop buy triggers at its price, or at the open after a gap; an unreached order expires', () => {
    const candles = bars([[100, 101, 99, 100], [100, 103, 99, 102], [105, 106, 104, 105], [105, 106, 104, 105], [105, 106, 104, 105]]);
    const r = runEngine([{ symbol: 'BTC/USDT', candles }], [{
      name: 'orders',
      onBar: (ctx) => {
        if (ctx.row === 0) ctx.submit({ asset: 'BTC/USDT', side: 'buy', type: 'stop', quantity: 1, price: 102.5 });
        if (ctx.row === 1) ctx.submit({ asset: 'BTC/USDT', side: 'buy', type: 'stop', quantity: 1, price: 104 });
        if (ctx.row === 2) ctx.submit({ asset: 'BTC/USDT', side: 'buy', type: 'limit', quantity: 1, price: 50, validBars: 1 });
      },
    }], { initialCash: 1000, ...zeroCost });
    expect(r.fills.map((f) => [f.type, f.basePrice])).toEqual([['stop', 102.5], ['stop', 105], ['end', 105]]);
  });
});

describe('stop-loss, take-profit and trailing stop, inside the bar', () => {
  const long = (rows: number[][], exits: BacktestSettingsInput['exits']) => single(bars(rows), rows.map((_, i) => (i === 0 ? 1 : 1)), { initialCash: 1000, ...zeroCost, exits });

  it('stop-loss at its level when the low reaches it', () => {
    const r = long([[100, 100, 100, 100], [100, 101, 99, 100], [100, 100, 94, 96], [96, 97, 95, 96]], { stopLossPct: 0.05 });
    expect(r.trades[0]).toMatchObject({ exitReason: 'stop-loss', exitPrice: 95 });
  });

  it('at the open when the open gaps through the stop', () => {
    const r = long([[100, 100, 100, 100], [100, 101, 99, 100], [90, 92, 89, 91], [91, 92, 90, 91]], { stopLossPct: 0.05 });
    expect(r.trades[0]).toMatchObject({ exitReason: 'stop-loss', exitPrice: 90 });
  });

  it('take-profit at its level', () => {
    const r = long([[100, 100, 100, 100], [100, 101, 99, 100], [100, 111, 99, 104], [104, 105, 103, 104]], { takeProfitPct: 0.1 });
    expect(r.trades[0]).toMatchObject({ exitReason: 'take-profit', exitPrice: 110 });
  });

  it('a position entered at the open is protected on its entry bar', () => {
    const r = long([[100, 100, 100, 100], [100, 101, 94, 96], [96, 97, 95, 96]], { stopLossPct: 0.05 });
    expect(r.trades[0]).toMatchObject({ exitReason: 'stop-loss', exitPrice: 95, bars: 0 });
  });

  it('both touched in one bar: the stop is assumed first (conservative)', () => {
    const r = long([[100, 100, 100, 100], [100, 101, 99, 100], [100, 111, 94, 100], [100, 101, 99, 100]], { stopLossPct: 0.05, takeProfitPct: 0.1 });
    expect(r.trades[0]).toMatchObject({ exitReason: 'stop-loss', exitPrice: 95 });
  });

  it('the trailing stop follows the high since entry (not the current bar’s high)', () => {
    // entry 100; bar 2 high 120 → trail 108 from bar 3; bar 3 low 107 hits it
    const r = long([[100, 100, 100, 100], [100, 101, 99, 100], [101, 120, 100, 118], [118, 119, 107, 110], [110, 111, 109, 110]], { trailingStopPct: 0.1 });
    expect(r.trades[0]).toMatchObject({ exitReason: 'trailing-stop', exitPrice: 108 });
  });

  it('shorts mirror: stop above, target below', () => {
    const rows = [[100, 100, 100, 100], [100, 101, 99, 100], [100, 106, 99, 104], [104, 105, 103, 104]];
    const r = single(bars(rows), [-1, -1, -1, -1], { initialCash: 1000, ...zeroCost, exits: { stopLossPct: 0.05 } });
    expect(r.trades[0]).toMatchObject({ side: 'short', exitReason: 'stop-loss', exitPrice: 105 });
  });

  it('ATR-based stops use the ATR at the decision bar', () => {
    const candles = generateSyntheticCandles({ seed: 8, bars: 400 });
    const targets = new Float64Array(400).fill(1);
    const r = runEngine([{ symbol: 'BTC/USDT', candles }], [{ name: 's', targets: { 'BTC/USDT': targets } }], { ...zeroCost, exits: { stopLossAtr: 2, atrPeriod: 14 } });
    expect(r.trades.length).toBeGreaterThan(0);
    expect(r.trades.every((t) => ['stop-loss', 'end'].includes(t.exitReason))).toBe(true);
  });
});

describe('sizing rules', () => {
  const flat = bars(Array.from({ length: 40 }, (_, i) => [100 + (i % 2), 102 + (i % 2), 99, 100 + (i % 2)]));
  const once = (settings: BacktestSettingsInput, extra: Partial<Sleeve> = {}) => single(flat, Array.from({ length: 40 }, (_, i) => (i >= 20 ? 1 : 0)), { initialCash: 10_000, ...zeroCost, ...settings }, extra);

  it('fixed fraction of equity', () => {
    const fill = once({ sizing: { kind: 'equity-fraction', fraction: 0.25 } }).fills[0];
    expect(fill.quantity * fill.price).toBeCloseTo(2500, 6);
  });

  it('fixed units', () => {
    expect(once({ sizing: { kind: 'fixed-units', units: 7 } }).fills[0].quantity).toBe(7);
  });

  it('volatility targeting: equity × risk / (multiple × ATR)', () => {
    const r = once({ sizing: { kind: 'volatility-target', riskFraction: 0.01, atrMultiple: 2, atrPeriod: 14 } });
    // true ranges alternate around 3; the ATR at the decision bar (row 20)
    const atr = analyzeAtr(flat, 14)[20];
    expect(r.fills[0].quantity).toBeCloseTo((10_000 * 0.01) / (2 * atr), 9);
  });

  it('capped Kelly from the signal’s confidence', () => {
    const confidence = new Float64Array(40).fill(0.6);
    const r = once({ sizing: { kind: 'kelly', cap: 0.25, multiplier: 0.5 } }, { confidence: { 'BTC/USDT': confidence } });
    // Kelly 0.6 − 0.4 / 1 = 0.2, half Kelly 0.1 of equity
    expect(r.fills[0].quantity * r.fills[0].price).toBeCloseTo(1000, 6);
    const capped = once({ sizing: { kind: 'kelly', cap: 0.05, multiplier: 1 } }, { confidence: { 'BTC/USDT': confidence } });
    expect(capped.fills[0].quantity * capped.fills[0].price).toBeCloseTo(500, 6);
  });

  it('per-trade risk limit: units ≤ equity × risk / stop distance', () => {
    const r = once({ maxRiskPerTrade: 0.01, exits: { stopLossPct: 0.02 } });
    expect(r.fills[0].quantity).toBeCloseTo((10_000 * 0.01) / (r.fills[0].price * 0.02), 9);
    expect(() => once({ maxRiskPerTrade: 0.01 })).toThrow(/maxRiskPerTrade needs a stop-loss/);
  });

  it('the leverage cap limits gross exposure (and says so)', () => {
    const r = once({ sizing: { kind: 'equity-fraction', fraction: 3 }, leverage: 2 });
    expect(r.fills[0].quantity * r.fills[0].price).toBeCloseTo(20_000, 6);
    expect(r.riskEvents.some((e) => e.monitor === 'leverage-cap')).toBe(true);
  });
});

/** ATR through the engine's own kernel, for expectations. */
function analyzeAtr(candles: Candles, period: number): Float64Array {
  return atrKernel(candles.column('high'), candles.column('low'), candles.column('close'), period);
}

describe('invariants on synthetic markets', () => {
  const candles = generateSyntheticCandles({ seed: 21, bars: 4000 });
  const targets = new Float64Array(candles.length);
  for (let i = 0; i < targets.length; i++) targets[i] = Math.sin(i / 17) > 0.3 ? 1 : Math.sin(i / 17) < -0.3 ? -1 : 0;
  const settings: BacktestSettingsInput = { commissionBps: 7, slippageBps: 3, exits: { stopLossPct: 0.03, takeProfitPct: 0.05, trailingStopPct: 0.04 } };
  const r = runEngine([{ symbol: 'BTC/USDT', candles }], [{ name: 's', targets: { 'BTC/USDT': targets } }], settings);

  it('cash + position value = equity at every bar', () => {
    for (let i = 0; i < r.equity.length; i++) expect(r.cash[i] + r.positionValue[i]).toBeCloseTo(r.equity[i], 6);
  });

  it('every fill’s base price lies inside its bar’s [low, high]; slippage is accounted separately', () => {
    const low = candles.column('low');
    const high = candles.column('high');
    const rowOfClose = new Map(Array.from(candles.time, (t, i) => [t + H, i]));
    expect(r.fills.length).toBeGreaterThan(100);
    for (const fill of r.fills) {
      const row = rowOfClose.get(fill.time)!;
      expect(fill.basePrice).toBeGreaterThanOrEqual(low[row]);
      expect(fill.basePrice).toBeLessThanOrEqual(high[row]);
      expect(fill.slippageCost).toBeCloseTo(fill.quantity * Math.abs(fill.price - fill.basePrice), 9);
    }
  });

  it('fees, slippage costs and quantities are never negative', () => {
    for (const fill of r.fills) {
      expect(fill.commission).toBeGreaterThanOrEqual(0);
      expect(fill.slippageCost).toBeGreaterThanOrEqual(0);
      expect(fill.quantity).toBeGreaterThan(0);
    }
  });

  it('final equity = initial cash + Σ trade P&L (all trades closed at the end)', () => {
    expect(r.equity[r.equity.length - 1]).toBeCloseTo(10_000 + r.trades.reduce((sum, t) => sum + t.pnl, 0), 6);
  });

  it('a zero-cost buy-and-hold equals the price ratio', () => {
    const hold = single(candles, Array.from({ length: candles.length }, () => 1), { initialCash: 10_000, ...zeroCost });
    const close = candles.column('close');
    expect(hold.equity[hold.equity.length - 1]).toBeCloseTo((10_000 * close[close.length - 1]) / candles.column('open')[1], 6);
  });

  it('mirrored prices mirror long and short: P&L of a long on p equals P&L of the short on 2·p₀ − p', () => {
    const p0 = candles.column('open')[0];
    const mirror = (x: Float64Array) => Float64Array.from(x, (v) => 2 * p0 - v);
    const mirrored = Frame.fromColumns(candles.time, {
      open: mirror(candles.column('open')),
      high: mirror(candles.column('low')),
      low: mirror(candles.column('high')),
      close: mirror(candles.column('close')),
      volume: candles.column('volume'),
    }, candles.meta);
    const units = { initialCash: 1_000_000, ...zeroCost, sizing: { kind: 'fixed-units' as const, units: 10 } };
    const longs = single(candles, Array.from(targets, (t) => Math.max(0, t)), units);
    const shorts = single(mirrored, Array.from(targets, (t) => -Math.max(0, t)), units);
    expect(shorts.trades.map((t) => t.side).every((s) => s === 'short')).toBe(true);
    expect(shorts.trades.map((t) => t.pnl)).toEqual(longs.trades.map((t) => expect.closeTo(t.pnl, 6)));
    expect(shorts.equity[shorts.equity.length - 1]).toBeCloseTo(longs.equity[longs.equity.length - 1], 6);
  });
});

describe('the vectorized fast path', () => {
  const candles = generateSyntheticCandles({ seed: 4, bars: 3000 });
  const targets = new Float64Array(candles.length);
  for (let i = 0; i < targets.length; i++) targets[i] = Math.cos(i / 29) > 0.2 ? 1 : Math.cos(i / 29) < -0.5 ? -1 : Math.cos(i / 29) > 0 ? 0.5 : 0;

  it('gives the engine’s equity bar for bar (market, next open, exclusive, equity-fraction sizing)', () => {
    const costs = { initialCash: 10_000, commissionBps: 10, slippageBps: 5 };
    const equity = new Float64Array(candles.length);
    const fast = backtestTargets(priceArrays(candles), targets, costs, 8760, equity);
    const engine = runEngine([{ symbol: 'BTC/USDT', candles }], [{ name: 's', targets: { 'BTC/USDT': targets } }], { ...costs, exclusive: true });
    expect(engine.equity.length).toBe(equity.length);
    for (let i = 0; i < equity.length; i++) expect(equity[i]).toBeCloseTo(engine.equity[i], 6);
    expect(fast.trades).toBe(engine.trades.length);
    const metrics = analyzeBacktest(engine, [{ symbol: 'BTC/USDT', candles }]).metrics;
    expect(fast.sharpe).toBeCloseTo(metrics.sharpe, 9);
    expect(fast.maxDrawdown).toBeCloseTo(metrics.maxDrawdown, 12);
  });

  it('Sharpe and drawdown equal a two-pass computation over the equity it wrote; no position gives 0', () => {
    const costs = { initialCash: 10_000, commissionBps: 10, slippageBps: 5 };
    const equity = new Float64Array(candles.length);
    const fast = backtestTargets(priceArrays(candles), targets, costs, 8760, equity);
    const returns = Array.from({ length: equity.length - 1 }, (_, i) => equity[i + 1] / equity[i] - 1);
    const mean = returns.reduce((a, b) => a + b, 0) / returns.length;
    const sd = Math.sqrt(returns.reduce((a, r) => a + (r - mean) ** 2, 0) / (returns.length - 1));
    expect(Math.abs(fast.sharpe - (mean / sd) * Math.sqrt(8760))).toBeLessThanOrEqual(1e-12 * Math.abs(fast.sharpe));
    let peak = -Infinity;
    let drawdown = 0;
    for (const e of equity) {
      peak = Math.max(peak, e);
      drawdown = Math.max(drawdown, 1 - e / peak);
    }
    expect(fast.maxDrawdown).toBe(drawdown);
    const flat = backtestTargets(priceArrays(candles), new Float64Array(candles.length), costs, 8760);
    expect([flat.sharpe, flat.maxDrawdown, flat.trades, flat.finalEquity]).toEqual([0, 0, 0, 10_000]);
  });

  it('the same bits as a plain per-bar loop, whatever the pattern of changes (every bar, runs, the last bar, tiny inputs)', () => {
    // the reference: one loop, every bar asks whether to trade (the pass's form before the quiet-bar inner loop)
    const reference = (open: Float64Array, close: Float64Array, targets: Float64Array, costs: { initialCash: number; commissionBps: number; slippageBps: number }) => {
      const n = close.length;
      const commission = costs.commissionBps / 10_000;
      const slippage = costs.slippageBps / 10_000;
      let [cash, units, held, trades, fees, previous, peak, maxDrawdown] = [costs.initialCash, 0, 0, 0, 0, costs.initialCash, costs.initialCash, 0];
      let [count, shift, sum, sumSquares, floor] = [0, 0, 0, 0, costs.initialCash];
      const equity = new Float64Array(n);
      if (n > 0) equity[0] = cash;
      /** Close the position at `base` (the next open, or the last close), slippage against the trader. */
      const exit = (base: number) => {
        const price = base * (units > 0 ? 1 - slippage : 1 + slippage);
        const fee = Math.abs(units) * price * commission;
        cash += units * price - fee;
        fees += fee;
        units = 0;
        trades++;
      };
      for (let i = 1; i < n; i++) {
        if (targets[i - 1] !== held) {
          if (units !== 0) exit(open[i]);
          held = targets[i - 1];
          if (held !== 0) {
            const price = open[i] * (held > 0 ? 1 + slippage : 1 - slippage);
            const size = (cash * Math.abs(held)) / (price * (1 + commission));
            const fee = size * price * commission;
            units = held > 0 ? size : -size;
            cash -= units * price + fee;
            fees += fee;
          }
        }
        if (i === n - 1 && units !== 0) exit(close[i]);
        const e = cash + units * close[i];
        equity[i] = e;
        const r = e / previous - 1;
        if (count === 0) shift = r;
        count++;
        sum += r - shift;
        sumSquares += (r - shift) * (r - shift);
        previous = e;
        if (e > peak) {
          peak = e;
          floor = peak * (1 - maxDrawdown);
        } else if (e < floor && 1 - e / peak > maxDrawdown) {
          maxDrawdown = 1 - e / peak;
          floor = peak * (1 - maxDrawdown);
        }
      }
      const mean = count > 0 ? shift + sum / count : 0;
      const deviation = count > 1 ? Math.sqrt(Math.max(0, sumSquares - (sum * sum) / count) / (count - 1)) : 0;
      const sharpe = deviation > 0 ? (mean / deviation) * Math.sqrt(8760) : 0;
      return { summary: { finalEquity: previous, totalReturn: previous / costs.initialCash - 1, sharpe, maxDrawdown, trades, fees }, equity };
    };
    const { open, close } = priceArrays(candles);
    const n = candles.length;
    let seed = 7;
    const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const patterns: Record<string, (i: number) => number> = {
      'a change every bar': (i) => (i % 2 ? 1 : -1),
      'runs of random length and size': () => 0,
      'long from the first bar': () => 1,
      'a change only at the last decision': (i) => (i === n - 2 ? -1 : 0.5),
      'flat, then long for the last two bars': (i) => (i >= n - 3 ? 1 : 0),
      'NaN targets (every comparison differs)': (i) => (i % 7 === 3 ? NaN : 1),
    };
    let value = 0;
    patterns['runs of random length and size'] = () => (random() < 0.1 ? (value = [-1, -0.5, 0, 0.25, 1][Math.floor(random() * 5)]) : value);
    for (const [name, pattern] of Object.entries(patterns)) {
      const targets = Float64Array.from({ length: n }, (_, i) => pattern(i));
      for (const costs of [{ initialCash: 10_000, commissionBps: 10, slippageBps: 5 }, { initialCash: 1, commissionBps: 0, slippageBps: 0 }]) {
        const equity = new Float64Array(n);
        const got = backtestTargets({ open, close }, targets, costs, 8760, equity);
        const want = reference(open, close, targets, costs);
        expect(got, name).toEqual(want.summary);
        expect(equity, name).toEqual(want.equity);
        // the sweep's pass, which writes no equity: the same summary
        expect(sweepTargets({ open, close }, [targets], costs, 8760)[0], name).toEqual(want.summary);
      }
    }
    // tiny inputs: 0, 1, 2 and 3 bars
    for (const length of [0, 1, 2, 3]) {
      const prices = { open: open.subarray(0, length), close: close.subarray(0, length) };
      for (const fill of [0, 1, -1]) {
        const targets = new Float64Array(length).fill(fill);
        const want = reference(prices.open, prices.close, targets, { initialCash: 100, commissionBps: 10, slippageBps: 5 });
        expect(backtestTargets(prices, targets, { initialCash: 100, commissionBps: 10, slippageBps: 5 }, 8760), `${length} bars at ${fill}`).toEqual(want.summary);
        expect(sweepTargets(prices, [targets], { initialCash: 100, commissionBps: 10, slippageBps: 5 }, 8760)[0], `${length} bars at ${fill}, swept`).toEqual(want.summary);
      }
    }
  });

  it('sweeps many parameter sets', () => {
    const registry = createRegistry();
    const definition = registry.resolve('strategy', 'core/sma-crossover');
    const sets = [[5, 20], [10, 30], [20, 50]].map(([fast, slow]) => (definition.targets({ candles, features: candles }, { fast, slow, allowShort: true, entry: 'state' }) as { targets: Float64Array }).targets);
    const results = sweepTargets(priceArrays(candles), sets, { initialCash: 1000, commissionBps: 10, slippageBps: 0 }, 8760);
    expect(results).toHaveLength(3);
    expect(new Set(results.map((x) => x.finalEquity)).size).toBe(3);
    expect(() => sweepTargets(priceArrays(candles), sets, { initialCash: 0, commissionBps: 0, slippageBps: 0 }, 8760)).toThrow(ConfigError);
    // the sweep writes no equity curve: each set's summary equals its own backtest's, which writes one
    const costs = { initialCash: 1000, commissionBps: 10, slippageBps: 5 };
    const alone = sets.map((targets) => backtestTargets(priceArrays(candles), targets, costs, 8760));
    expect(sweepTargets(priceArrays(candles), sets, costs, 8760)).toEqual(alone);
    const lastEquity = new Float64Array(candles.length).fill(NaN);
    expect(backtestTargets(priceArrays(candles), sets[2], costs, 8760, lastEquity)).toEqual(alone[2]);
    expect(lastEquity[0]).toBe(costs.initialCash);
    expect(lastEquity[candles.length - 1]).toBe(alone[2].finalEquity);
    expect(lastEquity.every(Number.isFinite)).toBe(true);
    expect(() => backtestTargets(priceArrays(candles), sets[0], costs, 8760, new Float64Array(10))).toThrow(/equityOut holds 10 values/);
  });
});

describe('portfolio: several assets and strategies sharing cash', () => {
  const btc = generateSyntheticCandles({ seed: 31, bars: 2000 });
  const eth = generateSyntheticCandles({ seed: 32, bars: 2000, symbol: 'ETH/USDT', startPrice: 2000 });
  const daily = generateSyntheticCandles({ seed: 33, bars: 84, timeframe: '1d' });
  const ones = (n: number) => new Float64Array(n).fill(1);

  it('shares one cash account; each sleeve trades its weight of equity', () => {
    const r = runEngine(
      [{ symbol: 'BTC/USDT', candles: btc }, { symbol: 'ETH/USDT', candles: eth }],
      [{ name: 'a', weight: 0.5, targets: { 'BTC/USDT': ones(2000) } }, { name: 'b', weight: 0.5, targets: { 'ETH/USDT': ones(2000) } }],
      { initialCash: 10_000, ...zeroCost },
    );
    const [first, second] = r.fills;
    expect(first.quantity * first.price).toBeCloseTo(5000, 6);
    expect(second.quantity * second.price).toBeCloseTo(5000, 3);
    for (let i = 0; i < r.equity.length; i++) expect(r.cash[i] + r.positionValue[i]).toBeCloseTo(r.equity[i], 6);
    expect(r.cash.every((c) => c > -1e-6)).toBe(true);
  });

  it("sizes a fill at a bar's open without seeing another asset's close of that bar (no look-ahead across assets)", () => {
    // A doubles inside bar 1; B is flat. Both sleeves enter at bar 1's open with half the equity each.
    const bars = (rows: number[][], symbol: string) => hourlyBars(rows, symbol);
    const a = bars([[100, 100, 100, 100], [100, 200, 100, 200], [200, 200, 200, 200]], 'A');
    const b = bars([[10, 10, 10, 10], [10, 10, 10, 10], [10, 10, 10, 10]], 'B');
    const r = runEngine(
      [{ symbol: 'A', candles: a }, { symbol: 'B', candles: b }],
      [{ name: 'a', weight: 0.5, targets: { A: ones(3) } }, { name: 'b', weight: 0.5, targets: { B: ones(3) } }],
      { initialCash: 10_000, leverage: 2, ...zeroCost },
    );
    const [first, second] = r.fills;
    expect([first.asset, first.quantity * first.price]).toEqual(['A', 5000]);
    // At the open both are worth their opens: equity 10 000, so B gets 5 000 (not 7 500 from A's close).
    expect(second.asset).toBe('B');
    expect(second.quantity * second.price).toBeCloseTo(5000, 9);
  });

  it('runs a 1h scalping sleeve and a 1d swing sleeve in one portfolio, events ordered by bar close', () => {
    const hourly = btc.slice(0, 2000);
    const swing = new Float64Array(84);
    for (let i = 0; i < 84; i++) swing[i] = i % 10 < 5 ? 1 : 0;
    const scalp = new Float64Array(2000);
    for (let i = 0; i < 2000; i++) scalp[i] = i % 6 < 3 ? 1 : 0;
    const r = runEngine(
      [{ symbol: 'BTC/USDT', candles: hourly }, { symbol: 'BTC/USDT-1d', candles: daily }],
      [{ name: 'scalp', weight: 0.5, targets: { 'BTC/USDT': scalp } }, { name: 'swing', weight: 0.5, targets: { 'BTC/USDT-1d': swing } }],
      { initialCash: 10_000, ...zeroCost },
    );
    expect(new Set(r.trades.map((t) => t.sleeve))).toEqual(new Set(['scalp', 'swing']));
    for (let i = 1; i < r.time.length; i++) expect(r.time[i]).toBeGreaterThan(r.time[i - 1]);
    for (let i = 0; i < r.equity.length; i++) expect(r.cash[i] + r.positionValue[i]).toBeCloseTo(r.equity[i], 6);
  });

  it('per-asset and total exposure limits cut orders and log why', () => {
    const r = runEngine(
      [{ symbol: 'BTC/USDT', candles: btc }, { symbol: 'ETH/USDT', candles: eth }],
      [{ name: 'a', targets: { 'BTC/USDT': ones(2000), 'ETH/USDT': ones(2000) } }],
      { initialCash: 10_000, ...zeroCost, leverage: 3, risk: { maxAssetExposure: 0.6, maxTotalExposure: 1 } },
    );
    expect(r.fills[0].quantity * r.fills[0].price).toBeCloseTo(6000, 3);
    expect(r.fills[1].quantity * r.fills[1].price).toBeCloseTo(4000, 0);
    expect(r.riskEvents.filter((e) => e.monitor === 'exposure-limit').length).toBeGreaterThanOrEqual(2);
  });

  it('the correlation-aware cap keeps portfolio volatility at the limit', () => {
    // enter after the covariance window has filled
    const later = Float64Array.from({ length: 2000 }, (_, i) => (i >= 150 ? 1 : 0));
    const assets = [{ symbol: 'BTC/USDT', candles: btc }, { symbol: 'ETH/USDT', candles: eth }];
    const r = runEngine(
      assets,
      [{ name: 'a', weight: 0.5, targets: { 'BTC/USDT': later } }, { name: 'b', weight: 0.5, targets: { 'ETH/USDT': later } }],
      { initialCash: 10_000, ...zeroCost, risk: { maxPortfolioVolatility: 0.2, correlationWindow: 100 } },
    );
    expect(r.riskEvents.filter((e) => e.monitor === 'portfolio-risk').length).toBeGreaterThanOrEqual(1);
    // right after both entries, the portfolio's volatility estimate sits at (not above) the cap
    const returns = [btc, eth].map((c) => {
      const close = c.column('close');
      return Float64Array.from({ length: 100 }, (_, k) => close[52 + k] / close[51 + k] - 1);
    });
    const last = r.fills.filter((f) => f.side === 'buy').slice(0, 2);
    const equity = 10_000;
    const weights = last.map((f) => (f.quantity * f.price) / equity);
    expect(portfolioVolatility(weights, returns, 8760)).toBeLessThanOrEqual(0.2 * 1.05);
  });
});

describe('risk monitors', () => {
  it('the drawdown kill switch closes everything and stops trading, saying why', () => {
    const down = bars(Array.from({ length: 30 }, (_, i) => [100 - i, 101 - i, 98 - i, 99 - i]));
    const r = single(down, Array.from({ length: 30 }, () => 1), { initialCash: 1000, ...zeroCost, risk: { maxDrawdown: 0.05 } });
    const kill = r.riskEvents.find((e) => e.monitor === 'drawdown-kill');
    expect(kill?.detail).toMatch(/drawdown .* reached the limit 5.00%/);
    expect(r.trades).toHaveLength(1);
    expect(r.trades[0].exitReason).toBe('kill-switch');
    expect(r.fills).toHaveLength(2);
  });

  it('the volatility circuit breaker pauses entries after a crash-like bar', () => {
    const rows = Array.from({ length: 60 }, (_, i) => [100 + (i % 2) * 0.1, 100.5, 99.5, 100 + ((i + 1) % 2) * 0.1]);
    rows[30] = [100, 100.2, 80, 80.1];
    for (let i = 31; i < 60; i++) rows[i] = [80 + (i % 2) * 0.1, 80.5, 79.5, 80 + ((i + 1) % 2) * 0.1];
    const targets = Array.from({ length: 60 }, (_, i) => (i >= 31 && i % 4 === 0 ? 1 : 0));
    const r = single(bars(rows), targets, { initialCash: 1000, ...zeroCost, risk: { volatilityBreaker: { multiple: 5, window: 20, pauseBars: 10 } } });
    expect(r.riskEvents.some((e) => e.monitor === 'volatility-breaker' && /pause entries/.test(e.action))).toBe(true);
    const firstEntry = r.fills.find((f) => f.side === 'buy');
    expect(firstEntry!.time).toBeGreaterThan((30 + 10) * H);
  });

  it('VaR and CVaR are rolling historical tail measures; a VaR limit blocks entries', () => {
    const tail = new RollingTail(20, 0.95);
    const values = [-5, 3, -1, 2, 8, -3, 0, 1, -2, 4, -6, 7, 2, -1, 0, 3, -4, 1, 2, -7];
    values.forEach((v) => tail.push(v / 100));
    // 95%: k = ⌊0.05 × 20⌋ = 1 → VaR = −(2nd smallest) = 6%, CVaR = mean of the two smallest = 6.5%
    expect(tail.tail().valueAtRisk).toBeCloseTo(0.06, 12);
    expect(tail.tail().conditionalValueAtRisk).toBeCloseTo(0.065, 12);
    // the sliding window agrees with sorting the last `window` values, at every step
    const sliding = new RollingTail(25, 0.95);
    const history: number[] = [];
    let x = 0.3;
    for (let step = 0; step < 400; step++) {
      x = (x * 9301 + 49297) % 233280;
      const value = Math.round((x / 233280 - 0.5) * 200) / 1000; // repeats included
      sliding.push(value);
      history.push(value);
      const window = history.slice(-25).sort((p, q) => p - q);
      const k = Math.min(window.length - 1, Math.floor(0.05 * window.length));
      expect(sliding.tail().valueAtRisk).toBe(-window[k]);
      expect(sliding.tail().conditionalValueAtRisk).toBeCloseTo(-window.slice(0, k + 1).reduce((p, q) => p + q, 0) / (k + 1), 12);
    }
    const candles = generateSyntheticCandles({ seed: 6, bars: 1500 });
    const r = single(candles, Array.from({ length: 1500 }, (_, i) => (i % 50 < 25 ? 1 : 0)), { ...zeroCost, risk: { varWindow: 50, varConfidence: 0.95, maxVar: 0.001 } });
    expect(r.valueAtRisk.some((v) => Number.isFinite(v))).toBe(true);
    expect(r.riskEvents.some((e) => e.monitor === 'var' && e.action === 'block entries')).toBe(true);
  });
});

describe('funding for perpetual futures', () => {
  it('longs pay positive funding on their value at the close of the bar holding the funding time', () => {
    const candles = bars([[100, 100, 100, 100], [100, 100, 100, 100], [100, 100, 100, 100], [100, 100, 100, 100]]);
    const r = runEngine([{ symbol: 'BTC/USDT', candles, funding: { time: Float64Array.from([1.5 * H, 2.5 * H]), rate: Float64Array.from([0.001, -0.002]) } }],
      [{ name: 's', targets: { 'BTC/USDT': Float64Array.from([1, 1, 1, 1]) } }], { initialCash: 1000, ...zeroCost });
    expect(r.trades[0].funding).toBeCloseTo(-1000 * 0.001 + 1000 * 0.002, 9);
    expect(r.equity[3]).toBeCloseTo(1001, 9);
  });
});

describe('signals, metrics and regimes', () => {
  it('a signal record for each decision, as the prediction API answers', () => {
    const candles = generateSyntheticCandles({ seed: 12, bars: 800 });
    const definition = createRegistry().resolve('strategy', 'core/sma-crossover');
    const run = runStrategyBacktest({ candles, definition, params: { fast: 10, slow: 30, allowShort: true, entry: 'state' }, settings: { exits: { stopLossPct: 0.02, takeProfitPct: 0.04 } } });
    const signal = run.result.signals[0];
    expect(Object.keys(signal).sort()).toEqual(['asset', 'confidence', 'entry', 'reasoning', 'risk_reward', 'signal', 'sleeve', 'stop_loss', 'take_profit', 'time']);
    expect(['LONG', 'SHORT']).toContain(signal.signal);
    expect(signal.risk_reward).toBeCloseTo(2, 12);
    expect(signal.reasoning).toMatch(/SMA\(10\)=.* vs SMA\(30\)=/);
    const direction = signal.signal === 'LONG' ? 1 : -1;
    expect(signal.stop_loss).toBeCloseTo(signal.entry * (1 - direction * 0.02), 9);
  });

  it('metrics by hand on a known equity curve', () => {
    expect(Array.from(drawdownSeries(Float64Array.from([100, 120, 90, 130, 65])))).toEqual([0, 0, 0.25, 0, 0.5]);
    const returns = [0.01, -1 / 101, 0.02, 1 / 102];
    const mean = returns.reduce((a, b) => a + b) / 4;
    const deviation = Math.sqrt(returns.reduce((a, x) => a + (x - mean) ** 2, 0) / 3);
    expect(sharpeOfReturns(returns, 8760)).toBeCloseTo((mean / deviation) * Math.sqrt(8760), 10);
    const r = single(bars(FOUR), [1, 1, 0, 0], { initialCash: 1000, ...zeroCost });
    const { metrics } = analyzeBacktest(r, [{ symbol: 'BTC/USDT', candles: bars(FOUR) }]);
    expect(metrics).toMatchObject({ numTrades: 1, winRate: 1, profitFactor: null, exposure: 0.5, buyHoldReturn: 105 / 101 - 1 });
    expect(metrics.expectancy).toBeCloseTo((1000 / 102) * 1, 9);
    expect(metrics.maxDrawdown).toBeCloseTo(1 - 102 / 103, 12);
    expect(metrics.maxDrawdownBars).toBe(1);
  });

  it('regimes come from the trailing trend, causally', () => {
    const close = Float64Array.from([100, 101, 110, 120, 110, 90, 89, 90]);
    expect(Array.from(classifyRegimes(close, 2, 0.05))).toEqual([2, 2, 0, 0, 2, 1, 1, 2]);
    const candles = generateSyntheticCandles({ seed: 15, bars: 5000 });
    const run = runStrategyBacktest({ candles, definition: createRegistry().resolve('strategy', 'core/buy-and-hold'), params: {}, settings: zeroCost });
    const regimes = run.report.regimes;
    expect(regimes.map((x) => x.regime)).toEqual(['bull', 'bear', 'sideways']);
    expect(regimes.reduce((sum, x) => sum + x.bars, 0)).toBe(run.result.equity.length - 1);
    // buy-and-hold's compound return over all regimes is the whole-period return (entry at bar 1's open)
    const compound = regimes.reduce((p, x) => p * (1 + x.strategyReturn), 1) - 1;
    expect(compound).toBeCloseTo(run.report.metrics.totalReturn, 9);
  });

  it('portfolio volatility from covariance: two perfectly correlated assets add up', () => {
    const a = Float64Array.from([0.01, -0.02, 0.015, -0.005, 0.01]);
    const alone = portfolioVolatility([1], [a], 1);
    expect(portfolioVolatility([0.5, 0.5], [a, a], 1)).toBeCloseTo(alone, 12);
    expect(portfolioVolatility([0.5, 0.5], [a, Float64Array.from(a, (x) => -x)], 1)).toBeCloseTo(0, 12);
  });
});

describe('bad settings', () => {
  it('are refused with the field named', () => {
    const candles = bars(FOUR);
    expect(() => single(candles, [0, 0, 0, 0], { initialCash: 0 })).toThrow(/'initialCash'/);
    expect(() => single(candles, [0, 0, 0, 0], { fill: 'tomorrow' as never })).toThrow(/'fill'/);
    expect(() => single(candles, [0, 0, 2, 0])).toThrow(/target 2 at bar 2/);
    expect(() => single(candles, [0, 0, 0])).toThrow(/3 targets for 4 bars/);
    expect(() => runEngine([{ symbol: 'BTC/USDT', candles }], [{ name: 's', targets: { 'ETH/USDT': new Float64Array(4) } }])).toThrow(/not among the assets: BTC\/USDT/);
  });
});
