import { describe, expect, it } from 'vitest';
import { runEngine, type EngineResult } from '../src/backtest/engine';
import { createEngineKernel, EngineBuffers } from '../src/backtest/kernel';
import { historicalVar, RollingTail } from '../src/backtest/risk';
import type { BacktestSettingsInput } from '../src/backtest/settings';
import { generateSyntheticCandles } from '../src/data/synthetic';
import type { Candles } from '../src/frame/frame';
import { createRegistry } from '../src/plugins/core-plugin';
import { strategyOutput } from '../src/plugins/define';
import { rng as random } from './ensemble-helpers';

/**
 * The engine's speed paths give exactly what the general path gives: the quiet-bar fast path of a
 * one-asset engine (kernel option `fastPath: false` turns it off), runs into reused `EngineBuffers`, and
 * the rolling VaR's cached read. Settings are drawn at random (seeded): fees, slippage, stops, sizing,
 * fills at the close, risk monitors on and off.
 */

const registry = createRegistry();
const candles = generateSyntheticCandles({ seed: 31, bars: 3000, timeframe: '1h' });

function targetsOf(c: Candles, fast: number, slow: number, allowShort: boolean): Float64Array {
  return strategyOutput(registry.resolve('strategy', 'core/sma-crossover').targets({ candles: c, features: c }, { fast, slow, allowShort, entry: 'state' })).targets;
}


function randomSettings(next: () => number): BacktestSettingsInput {
  const pick = <T>(options: T[]): T => options[Math.floor(next() * options.length)];
  const settings: BacktestSettingsInput = {
    commissionBps: pick([0, 1, 10, 25]),
    slippageBps: pick([0, 2, 5]),
    fill: pick(['next-open', 'close'] as const),
    exclusive: next() < 0.5,
    allowShort: next() < 0.7,
    exits: pick([{}, { stopLossPct: 0.01 }, { stopLossPct: 0.02, takeProfitPct: 0.03 }, { trailingStopPct: 0.015 }, { stopLossAtr: 1.5, takeProfitAtr: 3 }]),
    sizing: pick([
      { kind: 'equity-fraction', fraction: 1 },
      { kind: 'equity-fraction', fraction: 0.4 },
      { kind: 'fixed-units', units: 3 },
      { kind: 'volatility-target', riskFraction: 0.01, atrMultiple: 2, atrPeriod: 14 },
    ] as BacktestSettingsInput['sizing'][]),
    risk: pick([
      {},
      { varWindow: 30 },
      { varWindow: 50, maxVar: 0.004 },
      { maxDrawdown: 0.05 },
      { volatilityBreaker: { multiple: 3, window: 20, pauseBars: 5 } },
      { varWindow: 40, maxVar: 0.01, maxDrawdown: 0.2, maxTotalExposure: 0.8 },
    ] as BacktestSettingsInput['risk'][]),
  };
  if (next() < 0.3) settings.slippage = pick([{ kind: 'volatility', multiplier: 0.5, window: 20 }, { kind: 'volume', impactBps: 10, maxParticipation: 0.1 }] as BacktestSettingsInput['slippage'][]);
  if (next() < 0.2) settings.entry = { type: 'limit', offsetBps: 10, validBars: 3 };
  return settings;
}

function run(settings: BacktestSettingsInput, targets: Float64Array, fastPath: boolean, buffers?: EngineBuffers): EngineResult {
  const kernel = createEngineKernel([{ symbol: 'BTC/USDT', candles }], [{ name: 'cross', targets: { 'BTC/USDT': targets } }], settings, { fastPath, buffers });
  // the fast paths: runAll's quiet stretches in one loop (and quietStep for single bars); the general path bar by bar
  if (fastPath) kernel.runAll();
  else while (kernel.step());
  return kernel.result();
}

/** Every output, copied (buffer-backed series are overwritten by the next run with the same buffers). */
function plain(result: EngineResult) {
  return {
    time: Array.from(result.time), equity: Array.from(result.equity), cash: Array.from(result.cash), positionValue: Array.from(result.positionValue),
    grossExposure: Array.from(result.grossExposure), valueAtRisk: Array.from(result.valueAtRisk), conditionalValueAtRisk: Array.from(result.conditionalValueAtRisk),
    fills: result.fills, trades: result.trades, signals: result.signals, riskEvents: result.riskEvents,
  };
}

describe('engine fast path = general path', () => {
  const next = random(17);
  for (let k = 0; k < 64; k++) {
    const settings = randomSettings(next);
    const fast = 5 + Math.floor(next() * 20);
    const slow = fast + 5 + Math.floor(next() * 60);
    it(`#${k} SMA(${fast}/${slow}) ${JSON.stringify(settings)}`, () => {
      const targets = targetsOf(candles, fast, slow, true);
      const general = plain(run(settings, targets, false));
      expect(general.trades.length).toBeGreaterThan(0);
      expect(plain(run(settings, targets, true))).toEqual(general);
    });
  }

  it('runEngine with reused buffers gives the same results run after run, and the same as fresh memory', () => {
    const buffers = new EngineBuffers();
    const settings: BacktestSettingsInput = { commissionBps: 5, slippageBps: 2, exits: { stopLossPct: 0.02 }, risk: { varWindow: 60 } };
    for (const [fast, slow] of [[10, 40], [5, 80], [20, 30]]) {
      const targets = targetsOf(candles, fast, slow, true);
      const fresh = plain(runEngine([{ symbol: 'BTC/USDT', candles }], [{ name: 'cross', targets: { 'BTC/USDT': targets } }], settings));
      const reused = plain(runEngine([{ symbol: 'BTC/USDT', candles }], [{ name: 'cross', targets: { 'BTC/USDT': targets } }], settings, { buffers }));
      expect(reused).toEqual(fresh);
    }
    // two assets on different clocks: fewer events than bars, so the series are views shorter than the buffers
    const other = generateSyntheticCandles({ seed: 32, bars: 1500, timeframe: '2h', symbol: 'ETH/USDT' });
    const assets = [{ symbol: 'BTC/USDT', candles }, { symbol: 'ETH/USDT', candles: other }];
    const sleeves = [{ name: 'cross', targets: { 'BTC/USDT': targetsOf(candles, 10, 40, true), 'ETH/USDT': targetsOf(other, 8, 30, true) } }];
    const fresh = plain(runEngine(assets, sleeves, settings));
    expect(fresh.equity.length).toBeLessThan(candles.length + other.length);
    expect(plain(runEngine(assets, sleeves, settings, { buffers }))).toEqual(fresh);
    expect(plain(runEngine(assets, sleeves, settings, { buffers }))).toEqual(fresh);
  });
});

describe('a replay without a VaR limit: VaR, CVaR and position values derived after the run', () => {
  // The reference computes the VaR in the loop: a limit no VaR reaches (the tail then runs bar by bar).
  const inLoop = (settings: BacktestSettingsInput): BacktestSettingsInput => ({ ...settings, risk: { ...settings.risk, maxVar: 1e9 } });
  const next = random(23);
  for (let k = 0; k < 24; k++) {
    const settings = randomSettings(next);
    if (settings.risk?.maxVar !== undefined) delete settings.risk.maxVar;
    if (k % 3 === 0) settings.risk = { ...settings.risk, maxDrawdown: 0.03 + 0.02 * (k % 2) }; // the kill switch (its bar's VaR return is the equity before it)
    const fast = 5 + Math.floor(next() * 20);
    const slow = fast + 5 + Math.floor(next() * 60);
    it(`#${k} SMA(${fast}/${slow}) ${JSON.stringify(settings)}`, () => {
      const targets = targetsOf(candles, fast, slow, true);
      for (const fastPath of [true, false]) {
        const want = plain(run(inLoop(settings), targets, fastPath));
        expect(plain(run(settings, targets, fastPath))).toEqual(want);
        expect(want.valueAtRisk.some(Number.isFinite)).toBe(true);
      }
    });
  }

  it('the kill switch, two assets, reused buffers, the kernel snapshot: the same bits as in the loop', () => {
    const settings: BacktestSettingsInput = { commissionBps: 10, slippageBps: 5, risk: { varWindow: 40, maxDrawdown: 0.04 } };
    const targets = targetsOf(candles, 6, 20, true);
    const killed = run(settings, targets, true);
    expect(killed.riskEvents.some((event) => event.monitor === 'drawdown-kill')).toBe(true);
    expect(plain(killed)).toEqual(plain(run(inLoop(settings), targets, true)));
    const other = generateSyntheticCandles({ seed: 33, bars: 1200, timeframe: '2h', symbol: 'ETH/USDT' });
    const assets = [{ symbol: 'BTC/USDT', candles }, { symbol: 'ETH/USDT', candles: other }];
    const sleeves = [{ name: 'cross', targets: { 'BTC/USDT': targets, 'ETH/USDT': targetsOf(other, 8, 30, true) } }];
    for (const risk of [{ varWindow: 30 }, { varWindow: 30, maxDrawdown: 0.05 }]) {
      const want = plain(runEngine(assets, sleeves, { ...settings, risk: { ...risk, maxVar: 1e9 } }));
      expect(plain(runEngine(assets, sleeves, { ...settings, risk }))).toEqual(want);
      const buffers = new EngineBuffers();
      expect(plain(runEngine(assets, sleeves, { ...settings, risk }, { buffers }))).toEqual(want);
      expect(plain(runEngine(assets, sleeves, { ...settings, risk }, { buffers }))).toEqual(want);
    }
    // the snapshot's tail state is the one the loop would have left
    const kernelOf = (s: BacktestSettingsInput) => {
      const kernel = createEngineKernel([{ symbol: 'BTC/USDT', candles }], [{ name: 'cross', targets: { 'BTC/USDT': targets } }], s);
      kernel.runAll();
      return kernel;
    };
    const deferred = kernelOf({ risk: { varWindow: 50 } }).snapshot();
    const loop = kernelOf({ risk: { varWindow: 50, maxVar: 1e9 } }).snapshot();
    expect(deferred.tail).toEqual(loop.tail);
    expect(deferred.tail.count).toBe(50);
  });

  it('the three series are computed on first read, then plain values; JSON and structuredClone see them; into reused buffers', () => {
    const targets = targetsOf(candles, 10, 40, true);
    const result = run({ risk: { varWindow: 30 } }, targets, true);
    expect(typeof Object.getOwnPropertyDescriptor(result, 'valueAtRisk')!.get).toBe('function');
    const reference = run({ risk: { varWindow: 30, maxVar: 1e9 } }, targets, true);
    const cloned = structuredClone(result);
    expect(Array.from(cloned.valueAtRisk)).toEqual(Array.from(reference.valueAtRisk));
    expect(Object.getOwnPropertyDescriptor(result, 'valueAtRisk')!.value).toBe(result.valueAtRisk);
    expect(JSON.parse(JSON.stringify({ cvar: result.conditionalValueAtRisk })).cvar['40']).toBe(reference.conditionalValueAtRisk[40]);
    expect(Array.from(result.positionValue)).toEqual(Array.from(reference.positionValue));
    // with the caller's buffers, the derived series are written into them too (no fresh memory)
    const buffers = new EngineBuffers();
    const reused = runEngine([{ symbol: 'BTC/USDT', candles }], [{ name: 'cross', targets: { 'BTC/USDT': targets } }], { risk: { varWindow: 30 } }, { buffers });
    expect(reused.valueAtRisk.buffer).toBe(buffers.take('series:var', candles.length).buffer);
    expect(Array.from(reused.valueAtRisk)).toEqual(Array.from(reference.valueAtRisk));
  });
});

describe('a one-asset replay without a VaR limit writes no per-bar series: they are derived when read', () => {
  // The reference stores every series event by event: a VaR limit no VaR reaches turns the ledger off.
  const inLoop = (settings: BacktestSettingsInput): BacktestSettingsInput => ({ ...settings, risk: { ...settings.risk, maxVar: 1e9 } });
  const H = 3_600_000;
  // funding every 8 hours (cash moves between trades), rates of both signs
  const fundingTimes = Float64Array.from({ length: Math.floor(candles.length / 8) }, (_, k) => candles.time[0] + (8 * k + 4.5) * H);
  const funding = { time: fundingTimes, rate: Float64Array.from(fundingTimes, (_, k) => 0.0001 * Math.sin(k)) };
  const next = random(41);
  for (let k = 0; k < 12; k++) {
    const settings = randomSettings(next);
    if (settings.risk?.maxVar !== undefined) delete settings.risk.maxVar;
    if (k % 3 === 0) settings.risk = { ...settings.risk, maxDrawdown: 0.03 + 0.02 * (k % 2) };
    const withFunding = k % 2 === 1;
    const fast = 5 + Math.floor(next() * 20);
    const slow = fast + 5 + Math.floor(next() * 60);
    it(`#${k} two strategies on one asset${withFunding ? ', funding' : ''}: ${JSON.stringify(settings)}`, () => {
      const assets = [{ symbol: 'BTC/USDT', candles, funding: withFunding ? funding : undefined }];
      // two sleeves: markAll's sum of two terms per event (the general path; the quiet loop takes one sleeve)
      const sleeves = [
        { name: 'cross', weight: 0.6, targets: { 'BTC/USDT': targetsOf(candles, fast, slow, true) } },
        { name: 'slow', weight: 0.4, targets: { 'BTC/USDT': targetsOf(candles, 2 * fast, 2 * slow, false) } },
      ];
      for (const fastPath of [true, false]) {
        const runOf = (s: BacktestSettingsInput, buffers?: EngineBuffers) => {
          const kernel = createEngineKernel(assets, sleeves, s, { fastPath, buffers });
          kernel.runAll();
          return kernel.result();
        };
        const want = plain(runOf(inLoop(settings)));
        expect(new Set(want.cash).size).toBeGreaterThan(10);
        expect(plain(runOf(settings))).toEqual(want);
        expect(plain(runOf(settings, new EngineBuffers()))).toEqual(want);
      }
    });
  }

  it('equity, cash, gross exposure and time are computed on first read, then plain values; into reused buffers', () => {
    const targets = targetsOf(candles, 10, 40, true);
    const result = run({ risk: { varWindow: 30 } }, targets, true);
    const reference = run({ risk: { varWindow: 30, maxVar: 1e9 } }, targets, true);
    for (const key of ['equity', 'cash', 'grossExposure', 'time'] as const) {
      expect(typeof Object.getOwnPropertyDescriptor(result, key)!.get).toBe('function');
      // stored series are plain values from the start (the time series of every one-asset replay is derived)
      if (key !== 'time') expect(typeof Object.getOwnPropertyDescriptor(reference, key)!.get).toBe('undefined');
    }
    // the time series: each bar's close
    expect(result.time[5]).toBe(candles.time[5] + 3_600_000);
    expect(Object.getOwnPropertyDescriptor(result, 'time')!.value).toBe(result.time);
    expect(Array.from(result.equity)).toEqual(Array.from(reference.equity));
    expect(Object.getOwnPropertyDescriptor(result, 'equity')!.value).toBe(result.equity);
    // VaR read before equity: it reads the derived equity and cash itself
    const other = run({ risk: { varWindow: 30 } }, targets, true);
    expect(Array.from(other.valueAtRisk)).toEqual(Array.from(reference.valueAtRisk));
    expect(Array.from(other.cash)).toEqual(Array.from(reference.cash));
    // with the caller's buffers, written into them (no fresh memory)
    const buffers = new EngineBuffers();
    const reused = runEngine([{ symbol: 'BTC/USDT', candles }], [{ name: 'cross', targets: { 'BTC/USDT': targets } }], { risk: { varWindow: 30 } }, { buffers });
    for (const [key, bufferKey] of [['equity', 'series:equity'], ['cash', 'series:cash'], ['grossExposure', 'series:gross'], ['time', 'series:time']] as const) {
      expect(reused[key].buffer).toBe(buffers.take(bufferKey, candles.length).buffer);
      expect(Array.from(reused[key])).toEqual(Array.from(reference[key]));
    }
  });
});

describe('a replay writes its signal records when they are read', () => {
  it('an accessor until read, then the same records as a stepping engine writes at once; records() and a result mid-run too', () => {
    const targets = targetsOf(candles, 10, 40, true);
    const settings: BacktestSettingsInput = { exits: { stopLossAtr: 1.5, takeProfitAtr: 3 } };
    const result = run(settings, targets, true);
    expect(typeof Object.getOwnPropertyDescriptor(result, 'signals')!.get).toBe('function');
    const stepping = createEngineKernel([{ symbol: 'BTC/USDT', candles: candles.slice(0, 0) }], [{ name: 'cross' }], settings, { stepping: true });
    for (let i = 0; i < candles.length; i++) {
      stepping.appendBar(0, { time: candles.time[i], open: candles.column('open')[i], high: candles.column('high')[i], low: candles.column('low')[i], close: candles.column('close')[i], volume: candles.column('volume')[i] });
      stepping.decide('cross', 0, { target: targets[i] });
      while (stepping.step());
    }
    const want = stepping.records().signals;
    expect(want.length).toBeGreaterThan(50);
    expect(want.some((signal) => signal.stop_loss !== null)).toBe(true);
    expect(result.signals).toEqual(want);
    expect(Object.getOwnPropertyDescriptor(result, 'signals')!.value).toBe(result.signals);
    // a replay kernel stepped by hand: what has been decided so far, at any time
    const kernel = createEngineKernel([{ symbol: 'BTC/USDT', candles }], [{ name: 'cross', targets: { 'BTC/USDT': targets } }], settings);
    for (let i = 0; i < 1500; i++) kernel.step();
    const sofar = kernel.records().signals.length;
    expect(kernel.records().signals).toEqual(want.slice(0, sofar));
    while (kernel.step());
    expect(kernel.result().signals).toEqual(want);
    expect(kernel.records().signals).toEqual(want);
  });
});

describe('RollingTail: the cached read = a read of the window from scratch', () => {
  for (const [window, confidence, seed] of [[10, 0.9, 1], [50, 0.95, 2], [250, 0.95, 3], [100, 0.99, 4], [40, 0.6, 5]] as const) {
    it(`window ${window}, confidence ${confidence}`, () => {
      const next = random(seed);
      const tail = new RollingTail(window, confidence);
      const values: number[] = [];
      for (let i = 0; i < 6 * window; i++) {
        // repeated values and runs of losses, so ties and tail rebuilds happen
        const value = next() < 0.2 ? -0.01 : next() < 0.1 ? -0.05 * next() : (next() - 0.5) * 0.02;
        values.push(value);
        if (next() < 0.5) {
          tail.value = value;
          tail.pushValue();
        } else tail.push(value);
        tail.read();
        const expected = historicalVar(values.slice(Math.max(0, values.length - window)), Math.min(window, values.length), confidence);
        if (values.length >= window) {
          expect(tail.valueAtRisk).toBe(expected.valueAtRisk);
          expect(tail.conditionalValueAtRisk).toBe(expected.conditionalValueAtRisk);
        }
      }
    });
  }
});
