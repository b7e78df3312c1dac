import { describe, expect, it } from 'vitest';
import { runEngine } from '../src/backtest/engine';
import { parseBacktestSettings, type BacktestSettingsInput } from '../src/backtest/settings';
import { SeededRng } from '../src/util/rng';
import { environmentCosts, TradingEnvironment, type EnvironmentMarket } from '../src/rl/trading-env';
import { oraclePolicy } from '../src/rl/oracle';
import { hourlyBars } from './helpers';

/** A random walk with gaps between a close and the next open, so next-open fills are really tested. */
function walk(rows: number, seed: number): { bars: number[][]; market: EnvironmentMarket } {
  const rng = new SeededRng(seed);
  const bars: number[][] = [];
  let close = 100;
  for (let i = 0; i < rows; i++) {
    const open = close * (1 + 0.002 * rng.normal());
    close = open * (1 + 0.01 * rng.normal());
    bars.push([open, Math.max(open, close) * 1.002, Math.min(open, close) * 0.998, close]);
  }
  const features = new Float32Array(rows * 2);
  for (let i = 0; i < rows; i++) {
    features[2 * i] = i / rows;
    features[2 * i + 1] = Math.sin(i);
  }
  return { bars, market: { open: Float64Array.from(bars, (b) => b[0]), close: Float64Array.from(bars, (b) => b[3]), features, cols: 2 } };
}

/** Equity bar by bar from the engine and from the environment for one target sequence. */
function bothAccounts(rows: number, targets: Float64Array, settings: BacktestSettingsInput, actions: 'discrete' | 'continuous') {
  const { bars, market } = walk(rows, 11);
  const candles = hourlyBars(bars);
  const engine = runEngine([{ symbol: 'BTC/USDT', candles }], [{ name: 'rl', targets: { 'BTC/USDT': targets } }], settings);
  const env = new TradingEnvironment({ market, costs: environmentCosts(settings), actions, start: 'first', autoReset: false, window: 3 });
  env.reset(0);
  const equity = [env.equityOf(0)];
  const pnl: number[] = [];
  for (let t = 0; t < rows - 1; t++) {
    const action = actions === 'discrete' ? targets[t] + 1 : targets[t];
    const step = env.step(action);
    equity.push(step.info.equity[0]);
    pnl.push(step.info.pnl[0]);
    expect(step.terminated[0]).toBe(t === rows - 2 ? 1 : 0);
  }
  // rows whose close had a fill (fill 'close': the engine's equity there is after that bar's trade)
  const filledAtClose = new Set(engine.fills.map((f) => Math.round(f.time / 3_600_000) - 1));
  return { engine: Array.from(engine.equity), env: equity, pnl, fills: engine.fills.length, filledAtClose, riskEvents: engine.riskEvents };
}

function expectSame(a: number[], b: number[]): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i])).toBeLessThanOrEqual(1e-9 * Math.abs(b[i]));
}

describe('the RL trading environment', () => {
  it("keeps the backtest engine's account for the same short/flat/long actions: next-open fills, commission and slippage", () => {
    const rows = 300;
    const rng = new SeededRng(5);
    // runs of random sides, so there are holds, entries, exits and flips
    const targets = new Float64Array(rows);
    let side = 0;
    for (let t = 0; t < rows; t++) {
      if (rng.uniform() < 0.2) side = Math.floor(rng.uniform() * 3) - 1;
      targets[t] = side;
    }
    const { engine, env, pnl, fills } = bothAccounts(rows, targets, { commissionBps: 10, slippageBps: 5 }, 'discrete');
    expect(fills).toBeGreaterThan(40);
    expectSame(env, engine);
    for (let t = 0; t < pnl.length; t++) expect(pnl[t]).toBeCloseTo(engine[t + 1] - engine[t], 6);
  });

  it('and for continuous exposures (resizes trade the difference), filled at the close, with a fixed fee per fill and partial sizing', () => {
    const rows = 200;
    const rng = new SeededRng(8);
    const targets = new Float64Array(rows);
    let target = 0;
    for (let t = 0; t < rows; t++) {
      if (rng.uniform() < 0.3) target = Math.round((2 * rng.uniform() - 1) * 4) / 4;
      targets[t] = target;
    }
    const settings: BacktestSettingsInput = { fill: 'close', commission: { kind: 'fixed', perFill: 1.5 }, slippageBps: 3, sizing: { kind: 'equity-fraction', fraction: 0.8 } };
    const { engine, env, filledAtClose, riskEvents } = bothAccounts(rows, targets, settings, 'continuous');
    // the engine reports equity after the trades at a bar's close, the environment before the next decision:
    // they agree at every bar without a fill at its close, and at the end
    const quiet = env.map((_, t) => t).filter((t) => !filledAtClose.has(t) || t === rows - 1);
    expect(quiet.length).toBeGreaterThan(100);
    expectSame(quiet.map((t) => env[t]), quiet.map((t) => engine[t]));
    // short entries at full size would exceed leverage 1 with this slippage: both cut them the same way
    expect(riskEvents.some((e) => e.monitor === 'leverage-cap')).toBe(false);
  });

  it('cuts entries at the leverage cap as the engine does (short entries with a fixed fee)', () => {
    const rows = 150;
    const targets = Float64Array.from({ length: rows }, (_, t) => [0, -1, -1, 1, 1, 0, -0.5, -1][Math.floor(t / 5) % 8]);
    const settings: BacktestSettingsInput = { commission: { kind: 'fixed', perFill: 2 }, slippageBps: 8 };
    const { engine, env, riskEvents } = bothAccounts(rows, targets, settings, 'continuous');
    expect(riskEvents.some((e) => e.monitor === 'leverage-cap')).toBe(true);
    expectSame(env, engine);
  });

  it('steps N environments at once exactly as N single ones, reusing its buffers', () => {
    const { market } = walk(120, 3);
    const costs = environmentCosts({});
    const vector = new TradingEnvironment({ market, costs, count: 4, episodeBars: 30, window: 2 });
    const first = vector.reset(9);
    const starts = [0, 1, 2, 3].map((i) => vector.rowOf(i));
    const singles = starts.map(() => new TradingEnvironment({ market, costs, count: 1, start: 'first', autoReset: false, window: 2 }));
    singles.forEach((s) => s.reset(0));
    // walk the singles to the vector's start rows with flat actions (flat changes nothing)
    singles.forEach((s, i) => {
      while (s.rowOf(0) < starts[i]) s.step(1);
    });
    const actions = new Float32Array(4);
    let buffer: Float32Array | undefined;
    for (let t = 0; t < 20; t++) {
      for (let i = 0; i < 4; i++) actions[i] = (t + i) % 3;
      const step = vector.step(actions);
      buffer ??= step.observation;
      expect(step.observation).toBe(buffer);
      singles.forEach((s, i) => {
        const single = s.step(actions[i]);
        expect(step.reward[i]).toBe(single.reward[0]);
        expect(step.info.equity[i]).toBe(single.info.equity[0]);
        expect(Array.from(step.observation.subarray(i * vector.observationSize, (i + 1) * vector.observationSize))).toEqual(Array.from(single.observation));
      });
    }
    expect(first).toBe(buffer);
  });

  it('truncates episodes at episodeBars and starts a new one in the same step, keeping the final observation', () => {
    const { market } = walk(100, 4);
    const env = new TradingEnvironment({ market, costs: environmentCosts({}), count: 2, episodeBars: 5 });
    env.reset(1);
    let truncated = 0;
    for (let t = 0; t < 5; t++) {
      const step = env.step([2, 0]);
      truncated += step.truncated[0] + step.truncated[1];
      if (t === 4) {
        expect(Array.from(step.truncated)).toEqual([1, 1]);
        // the final observation shows the long (and short) position; the new episode starts flat
        expect(step.info.finalObservation[env.observationSize - 2]).toBe(1);
        expect(step.info.finalObservation[2 * env.observationSize - 2]).toBe(-1);
        expect(step.observation[env.observationSize - 2]).toBe(0);
      }
    }
    expect(truncated).toBe(2);
  });

  it('shapes the reward: drawdown and turnover penalties lower it, the Sharpe bonus is the differential Sharpe ratio', () => {
    const { market } = walk(60, 6);
    const costs = environmentCosts({});
    const run = (reward: Record<string, number>) => {
      const env = new TradingEnvironment({ market, costs, start: 'first', autoReset: false, reward });
      env.reset(0);
      const rewards: number[] = [];
      for (let t = 0; t < 40; t++) rewards.push(env.step(t % 7 < 3 ? 2 : 0).reward[0]);
      return rewards;
    };
    const plain = run({});
    const penalized = run({ drawdown: 5, turnover: 0.1 });
    const sharpe = run({ sharpe: 1 });
    expect(penalized.reduce((a, b) => a + b)).toBeLessThan(plain.reduce((a, b) => a + b));
    for (let t = 0; t < plain.length; t++) expect(penalized[t]).toBeLessThanOrEqual(plain[t] + 1e-6);
    expect(sharpe.some((r, t) => Math.abs(r - plain[t]) > 1e-6)).toBe(true);
  });

  it('refuses settings it cannot reproduce, naming the field', () => {
    expect(() => environmentCosts({ slippage: { kind: 'volatility', multiplier: 0.5, window: 20 } })).toThrow(/fixed slippage only.*slippageBps/);
    expect(() => environmentCosts({ sizing: { kind: 'fixed-units', units: 1 } })).toThrow(/equity-fraction/);
    expect(() => environmentCosts(parseBacktestSettings({ risk: { maxAssetExposure: 0.5 } }))).toThrow(/leverage only/);
  });
});

describe('the oracle policy', () => {
  it('is the best of every short/flat/long action sequence (brute force over 3^8 sequences)', () => {
    const { market } = walk(9, 21);
    const costs = environmentCosts({ commissionBps: 10, slippageBps: 5 });
    const oracle = oraclePolicy(market.open, market.close, costs);
    let best = -Infinity;
    const env = new TradingEnvironment({ market, costs, start: 'first', autoReset: false });
    for (let code = 0; code < 3 ** 8; code++) {
      env.reset(0);
      let c = code;
      for (let t = 0; t < 8; t++) {
        env.step(c % 3);
        c = Math.floor(c / 3);
      }
      best = Math.max(best, env.equityOf(0) / costs.initialCash - 1);
    }
    expect(oracle.totalReturn).toBeCloseTo(best, 12);
    // and its targets achieve it in the environment
    env.reset(0);
    for (let t = 0; t < 8; t++) env.step(oracle.targets[t] + 1);
    expect(env.equityOf(0) / costs.initialCash - 1).toBeCloseTo(oracle.totalReturn, 12);
  });
});
