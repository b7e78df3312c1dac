import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { runEngine, type EngineResult, type Sleeve } from '../src/backtest/engine';
import { createEngineKernel, type EngineKernel } from '../src/backtest/kernel';
import type { BacktestSettingsInput } from '../src/backtest/settings';
import { generateSyntheticCandles } from '../src/data/synthetic';
import type { Candles } from '../src/frame/frame';
import { createRegistry } from '../src/plugins/core-plugin';
import { defineStrategy, strategyOutput, type StrategyDefinition } from '../src/plugins/define';
import { stepStrategy, trailingBufferStrategy } from '../src/strategy/incremental';

/**
 * The stepping engine: the kernel fed one closed candle and one decision at a time gives exactly what
 * runEngine's replay gives (every fill, trade, signal, risk event and equity value), a snapshot taken
 * anywhere restores to the same future, and every built-in strategy's incremental form decides exactly
 * what its batch form decided.
 */

const candles = generateSyntheticCandles({ seed: 21, bars: 2500, timeframe: '1h' });
const second = generateSyntheticCandles({ seed: 22, bars: 2500, timeframe: '1h', symbol: 'ETH/USDT' });
const registry = createRegistry();

function crossTargets(c: Candles, fast = 12, slow = 48): { targets: Float64Array; confidence: Float64Array; reasoning: (row: number) => string } {
  const output = strategyOutput(registry.resolve('strategy', 'core/sma-crossover').targets({ candles: c, features: c }, { fast, slow, allowShort: true, entry: 'state' }));
  // a varying confidence, so Kelly sizing and signal records see per-bar values
  const confidence = Float64Array.from(output.targets, (_, i) => 0.5 + 0.3 * Math.sin(i / 7));
  return { targets: output.targets, confidence, reasoning: output.reasoning! };
}

const barAt = (c: Candles, i: number) => ({
  time: c.time[i], open: c.column('open')[i], high: c.column('high')[i], low: c.column('low')[i], close: c.column('close')[i], volume: c.column('volume')[i],
});

/** Feed a stepping kernel bar by bar with the sleeves' decisions (none at an asset's last bar, as in replay). */
function stepAll(kernel: EngineKernel, assets: Candles[], sleeves: Sleeve[], from = 0, to = assets[0].length): void {
  for (let i = from; i < to; i++) {
    assets.forEach((c, a) => {
      kernel.appendBar(a, barAt(c, i));
      if (i === c.length - 1) return;
      for (const sleeve of sleeves) {
        const symbol = c.meta.symbol;
        const targets = sleeve.targets?.[symbol];
        if (!targets) continue;
        const confidence = sleeve.confidence?.[symbol]?.[i];
        kernel.decide(sleeve.name, a, { target: targets[i], confidence, reasoning: sleeve.reasoning?.[symbol]?.(i) });
      }
    });
    while (kernel.step());
  }
}

const strip = (r: EngineResult) => ({
  fills: r.fills, trades: r.trades, signals: r.signals, riskEvents: r.riskEvents,
  time: Array.from(r.time), equity: Array.from(r.equity), cash: Array.from(r.cash), gross: Array.from(r.grossExposure), var: Array.from(r.valueAtRisk),
});

const cases: Array<[string, BacktestSettingsInput]> = [
  ['defaults', {}],
  ['stops, take-profit and trailing stop from ATR', { exits: { stopLossAtr: 1.5, takeProfitAtr: 3, trailingStopPct: 0.03 } }],
  ['limit entries valid 3 bars, exclusive', { entry: { type: 'limit', offsetBps: 20, validBars: 3 }, exclusive: true }],
  ['stop entries and fills at the close', { entry: { type: 'stop', offsetBps: 10, validBars: 2 }, fill: 'close' }],
  ['volume slippage with a participation cap, whole lots', { slippage: { kind: 'volume', impactBps: 20, maxParticipation: 0.0001 }, units: 'whole', lotSize: 0.001, initialCash: 1e7 }],
  ['volatility slippage, Kelly sizing', { slippage: { kind: 'volatility', multiplier: 0.5, window: 20 }, sizing: { kind: 'kelly', cap: 0.5, multiplier: 1 } }],
  ['volatility-target sizing with per-trade risk', { sizing: { kind: 'volatility-target', riskFraction: 0.01, atrMultiple: 2, atrPeriod: 14 }, maxRiskPerTrade: 0.02, exits: { stopLossPct: 0.02 } }],
  ['risk monitors: VaR block, volatility breaker, drawdown kill', { risk: { varWindow: 50, maxVar: 0.004, volatilityBreaker: { multiple: 3, window: 30, pauseBars: 5 }, maxDrawdown: 0.25 } }],
  ['no shorts, leverage cap', { allowShort: false, leverage: 0.5 }],
  ['venue rules: tick, lot, min notional, participation, two bars of latency', { entry: { type: 'limit', offsetBps: 7, validBars: 2 }, tickSize: 0.5, units: 'whole', lotSize: 0.001, minNotional: 4000, maxParticipation: 0.05, latencyMs: 2 * 3_600_000 }],
];

describe('stepping kernel = runEngine replay', () => {
  const { targets, confidence, reasoning } = crossTargets(candles);
  const symbol = candles.meta.symbol;
  const sleeves: Sleeve[] = [{ name: 'cross', targets: { [symbol]: targets }, confidence: { [symbol]: confidence }, reasoning: { [symbol]: reasoning } }];

  for (const [name, settings] of cases) {
    it(name, () => {
      const replay = runEngine([{ symbol, candles }], sleeves, settings);
      const kernel = createEngineKernel([{ symbol, candles: candles.slice(0, 0) }], [{ name: 'cross' }], settings, { stepping: true });
      stepAll(kernel, [candles], sleeves);
      kernel.finish();
      expect(replay.trades.length).toBeGreaterThan(5);
      expect(strip(kernel.result())).toEqual(strip(replay));
    });
  }

  it('two assets and two weighted sleeves, with funding and a portfolio-volatility cap', () => {
    const a = crossTargets(candles, 10, 40);
    const b = crossTargets(second, 20, 60);
    const funding = { time: Float64Array.from({ length: 300 }, (_, k) => candles.time[0] + k * 8 * 3_600_000), rate: Float64Array.from({ length: 300 }, (_, k) => 1e-4 * Math.cos(k)) };
    const two: Sleeve[] = [
      { name: 'fast', weight: 0.5, targets: { [symbol]: a.targets, 'ETH/USDT': b.targets } },
      { name: 'slow', weight: 0.5, targets: { 'ETH/USDT': crossTargets(second, 30, 90).targets } },
    ];
    const settings: BacktestSettingsInput = { risk: { maxPortfolioVolatility: 0.5, correlationWindow: 50, maxAssetExposure: 0.8 } };
    const replay = runEngine([{ symbol, candles, funding }, { symbol: 'ETH/USDT', candles: second }], two, settings);
    const kernel = createEngineKernel([{ symbol, candles: candles.slice(0, 0), funding }, { symbol: 'ETH/USDT', candles: second.slice(0, 0) }], [{ name: 'fast', weight: 0.5 }, { name: 'slow', weight: 0.5 }], settings, { stepping: true });
    stepAll(kernel, [candles, second], two);
    kernel.finish();
    expect(replay.fills.length).toBeGreaterThan(20);
    expect(strip(kernel.result())).toEqual(strip(replay));
  });

  it('a snapshot taken mid-session, through JSON, restores to exactly the same future', () => {
    const settings: BacktestSettingsInput = { exits: { stopLossAtr: 2, trailingStopPct: 0.04 }, risk: { varWindow: 40, maxVar: 0.01 } };
    const whole = createEngineKernel([{ symbol, candles: candles.slice(0, 0) }], [{ name: 'cross' }], settings, { stepping: true });
    stepAll(whole, [candles], sleeves);
    whole.finish();
    const full = whole.result();
    for (const cut of [1, 777, 1603]) {
      const first = createEngineKernel([{ symbol, candles: candles.slice(0, 0) }], [{ name: 'cross' }], settings, { stepping: true });
      stepAll(first, [candles], sleeves, 0, cut);
      const state = JSON.parse(JSON.stringify(first.snapshot()));
      const counts = first.records();
      const fillsBefore = counts.fills.length;
      const tradesBefore = counts.trades.length;
      // a new process: the bars seen so far are loaded (not stepped), then the state
      const resumed = createEngineKernel([{ symbol, candles: candles.slice(0, 0) }], [{ name: 'cross' }], settings, { stepping: true });
      for (let i = 0; i < cut; i++) resumed.appendBar(0, barAt(candles, i));
      resumed.restore(state);
      stepAll(resumed, [candles], sleeves, cut);
      resumed.finish();
      const after = resumed.result();
      expect(after.fills).toEqual(full.fills.slice(fillsBefore));
      expect(after.trades).toEqual(full.trades.slice(tradesBefore));
      expect(Array.from(after.equity)).toEqual(Array.from(full.equity.slice(cut)));
      expect(Array.from(after.valueAtRisk)).toEqual(Array.from(full.valueAtRisk.slice(cut)));
    }
  });

  it('refuses what a stepping session must not do, in one line', () => {
    const kernel = createEngineKernel([{ symbol, candles: candles.slice(0, 0) }], [{ name: 'cross' }], {}, { stepping: true });
    kernel.appendBar(symbol, barAt(candles, 5));
    expect(() => kernel.appendBar(symbol, barAt(candles, 4))).toThrow(/not after the last one/);
    expect(() => kernel.decide('cross', symbol, { target: 2 })).toThrow(/outside −1..1/);
    expect(() => kernel.decide('nope', symbol, { target: 1 })).toThrow(/unknown strategy 'nope'/);
    expect(() => kernel.appendBar('DOGE/USDT', barAt(candles, 6))).toThrow(/unknown asset 'DOGE\/USDT'/);
    expect(() => kernel.appendBar(symbol, { ...barAt(candles, 6), close: NaN })).toThrow(/non-finite close/);
    while (kernel.step());
    expect(() => kernel.decide('cross', symbol, { target: 1 })).toThrow(/decide before step/);
    const replay = createEngineKernel([{ symbol, candles }], [{ name: 'cross', targets: { [symbol]: targets } }]);
    expect(() => replay.appendBar(symbol, barAt(candles, 0))).toThrow(/stepping engine/);
  });
});

describe('the simulated venue\'s exchange rules', () => {
  const symbol = candles.meta.symbol;
  const { targets } = crossTargets(candles);
  const run = (settings: BacktestSettingsInput): EngineResult => runEngine([{ symbol, candles }], [{ name: 'cross', targets: { [symbol]: targets } }], { commissionBps: 0, slippageBps: 0, ...settings });

  it('a latency shorter than a bar changes nothing; a longer one fills in the bar the order arrives in', () => {
    const none = run({});
    expect(strip(run({ latencyMs: 3_599_999 }))).toEqual(strip(none));
    const late = run({ latencyMs: 3_600_000 });
    expect(late.fills.length).toBe(none.fills.length);
    // every fill one bar later, at that bar's open
    const open = candles.column('open');
    const rowOf = new Map(Array.from(candles.time, (t, i) => [t + 3_600_000, i]));
    late.fills.slice(0, -1).forEach((fill, k) => {
      expect(fill.time).toBe(none.fills[k].time + 3_600_000);
      expect(fill.basePrice).toBe(open[rowOf.get(fill.time)!]);
    });
  });

  it('limit prices sit on the tick, never more aggressive than asked', () => {
    const r = run({ entry: { type: 'limit', offsetBps: 13, validBars: 3 }, tickSize: 0.25 });
    const limits = r.fills.filter((f) => f.type === 'limit');
    expect(limits.length).toBeGreaterThan(5);
    const open = candles.column('open');
    const rowOf = new Map(Array.from(candles.time, (t, i) => [t + 3_600_000, i]));
    const onTick = (x: number): boolean => Math.abs(x / 0.25 - Math.round(x / 0.25)) < 1e-9;
    // a limit fills at its price (on the tick) or at a better open
    for (const fill of limits) expect(onTick(fill.basePrice) || fill.basePrice === open[rowOf.get(fill.time)!], `${fill.basePrice}`).toBe(true);
    expect(limits.filter((f) => onTick(f.basePrice) && f.basePrice !== open[rowOf.get(f.time)!]).length).toBeGreaterThan(0);
  });

  it('orders below the minimum notional are skipped and logged; whole positions still close', () => {
    const r = run({ sizing: { kind: 'equity-fraction', fraction: 0.3 }, minNotional: 3500 });
    const skipped = r.riskEvents.filter((e) => e.monitor === 'exchange-filter');
    expect(skipped.length).toBeGreaterThan(0);
    expect(skipped[0].detail).toMatch(/below the minimum order value 3500/);
    for (const fill of r.fills) if (fill.type !== 'end') expect(fill.quantity * fill.basePrice >= 3500 || r.trades.some((t) => t.exitTime === fill.time)).toBe(true);
  });

  it('fills are capped at a share of the previous bar\'s volume (the rest is cancelled)', () => {
    const volume = candles.column('volume');
    const rowOf = new Map(Array.from(candles.time, (t, i) => [t + 3_600_000, i]));
    const r = run({ maxParticipation: 0.001, initialCash: 1e8, allowShort: false });
    const capped = r.riskEvents.filter((e) => e.monitor === 'participation');
    expect(capped.length).toBeGreaterThan(0);
    // entries are capped (closing a whole position is not)
    const entries = new Set(r.trades.map((t) => t.entryTime));
    for (const fill of r.fills) {
      if (fill.type !== 'market' || !entries.has(fill.time)) continue;
      const row = rowOf.get(fill.time)!;
      expect(fill.quantity).toBeLessThanOrEqual(0.001 * volume[row - 1] * (1 + 1e-12) + 1e-12);
    }
  });
});

/** Seeded probabilities for BUY/HOLD/SELL and a regression value, as a model would give them (float32). */
function fakePredictions(rows: number, seed: number): { probabilities: Float32Array; values: Float32Array } {
  let state = seed;
  const random = (): number => {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    return state / 2_147_483_648;
  };
  const probabilities = new Float32Array(rows * 3);
  const values = new Float32Array(rows);
  for (let i = 0; i < rows; i++) {
    const raw = [random() + 0.2 * Math.sin(i / 30), random(), random() - 0.2 * Math.sin(i / 30)].map((x) => Math.max(1e-3, x));
    const sum = raw[0] + raw[1] + raw[2];
    raw.forEach((x, k) => (probabilities[3 * i + k] = x / sum));
    values[i] = 0.004 * (random() - 0.5);
  }
  return { probabilities, values };
}

describe('incremental strategies = batch strategies, bar by bar', () => {
  const rows = candles.length;
  const { probabilities, values } = fakePredictions(rows, 7);
  // a quantile forecaster's rows: point forecast, then the 10%, 50% and 90% quantiles around it
  const quantiles = new Float32Array(rows * 4);
  for (let i = 0; i < rows; i++) quantiles.set([values[i], values[i] - 0.001, values[i], values[i] + 0.001], i * 4);
  const classes = ['BUY', 'HOLD', 'SELL'];
  const cases: Array<[string, Record<string, unknown>]> = [
    ['core/probability-threshold', { buyThreshold: 0.4 }],
    ['core/probability-threshold', { buyThreshold: 0.42, sellThreshold: 0.4, allowShort: true }],
    ['core/return-threshold', { threshold: 0.001, allowShort: true }],
    ['core/return-threshold', { threshold: 0.0015 }],
    ['core/quantile-threshold', { roundTripCost: 0.0005, allowShort: true }],
    ['core/quantile-threshold', { roundTripCost: 0.0002 }],
    ['core/sma-crossover', { fast: 10, slow: 30 }],
    ['core/sma-crossover', { fast: 5, slow: 50, allowShort: true, entry: 'cross' }],
    ['core/rsi-mean-reversion', { period: 14, allowShort: true }],
    ['core/rsi-mean-reversion', { period: 7, oversold: 25, overbought: 80, exitLevel: 55 }],
    ['core/buy-and-hold', {}],
    ['core/rl-policy', {}],
    ['core/rl-policy', { maxExposure: 0.5 }],
  ];

  it('covers every built-in strategy', () => {
    const ids = new Set(cases.map(([id]) => id));
    for (const definition of registry.list('strategy')) expect(ids.has(definition.id), definition.id).toBe(true);
  });

  for (const [id, raw] of cases) {
    it(`${id} ${JSON.stringify(raw)}: targets, confidence and reasoning at every bar, and across a JSON snapshot`, () => {
      const definition = registry.resolve('strategy', id) as StrategyDefinition;
      const params = definition.params.parse(raw);
      const regression = definition.needs.predictions && definition.needs.task === 'regression';
      const width = regression ? ((definition.needs.predictions && definition.needs.outputs?.(params)) || 1) : 3;
      const predictions = regression ? (width === 4 ? quantiles : values) : probabilities;
      const batch = strategyOutput(definition.targets({ candles, features: candles, predictions: definition.needs.predictions ? predictions : undefined, classes }, params));
      expect(definition.incremental, `${id} has an incremental form`).toBeDefined();
      let stepper = stepStrategy(definition, params, { classes });
      let changes = 0;
      for (let i = 0; i < rows; i++) {
        if (i === 1234) {
          // restart mid-stream from the persisted state
          const state = JSON.parse(JSON.stringify(stepper.snapshot()));
          stepper = stepStrategy(definition, params, { classes });
          stepper.restore(state);
        }
        const decision = stepper.next({ bar: barAt(candles, i), prediction: definition.needs.predictions ? predictions.subarray(i * width, (i + 1) * width) : undefined });
        expect(decision.target, `row ${i}`).toBe(batch.targets[i]);
        const confidence = batch.confidence?.[i];
        expect(decision.confidence ?? NaN, `confidence at row ${i}`).toEqual(confidence !== undefined && Number.isFinite(confidence) ? confidence : NaN);
        expect(decision.reasoning, `reasoning at row ${i}`).toBe(batch.reasoning?.(i) ?? `target ${batch.targets[i]} from ${id}`);
        if (i > 0 && batch.targets[i] !== batch.targets[i - 1]) changes++;
      }
      if (id !== 'core/buy-and-hold') expect(changes).toBeGreaterThan(3);
    });
  }

  it('a strategy without an incremental form runs on a trailing buffer of its declared lookback, with the same answers', () => {
    const breakout = defineStrategy({
      id: 'test/breakout',
      version: '1.0.0',
      doc: 'Long while the close is above the highest close of the previous `window` bars.',
      needs: { predictions: false },
      params: z.object({ window: z.number().int().min(1).default(20) }),
      lookback: (p) => p.window + 1,
      targets: (input, p) => {
        const close = input.candles.column('close');
        const targets = new Float64Array(close.length);
        for (let i = p.window; i < close.length; i++) {
          let high = -Infinity;
          for (let k = i - p.window; k < i; k++) high = Math.max(high, close[k]);
          targets[i] = close[i] > high ? 1 : 0;
        }
        return { targets, reasoning: (i) => `close ${close[i].toFixed(2)} vs ${p.window}-bar high` };
      },
    });
    const params = breakout.params.parse({ window: 15 });
    const batch = strategyOutput(breakout.targets({ candles, features: candles }, params));
    let stepper = trailingBufferStrategy(breakout as unknown as StrategyDefinition, params);
    for (let i = 0; i < 600; i++) {
      if (i === 300) {
        const state = JSON.parse(JSON.stringify(stepper.snapshot()));
        stepper = stepStrategy(breakout as unknown as StrategyDefinition, params);
        stepper.restore(state);
      }
      const decision = stepper.next({ bar: barAt(candles, i) });
      expect(decision.target, `row ${i}`).toBe(batch.targets[i]);
      expect(decision.reasoning).toBe(batch.reasoning!(i));
    }
  });
});
