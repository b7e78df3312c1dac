#!/usr/bin/env node
// Backtest benchmarks (printed figures, not tests). Run: npm run bench
//   1. the event-driven engine, one asset, one position at a time: bars per second on 10M bars
//   2. the vectorized fast path sweeping parameter sets, and its ratio to one Float64Array pass
//   3. the same strategy in a plain Python/pandas event loop, side by side (same data, same rules)
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { root, cl, now, fmt } from './lib.mjs';

const BARS = Number(process.env.BENCH_BARS ?? 10_000_000);
// costs a 1m strategy can survive (maker-like fees, a tick of slippage), so both peers keep trading
const costs = { initialCash: 10_000, commissionBps: 1, slippageBps: 1 };

console.log(`\ncandlelab backtest bench · ${BARS.toLocaleString('en-US')} bars of synthetic 1m candles`);
let t = now();
const candles = cl.data.generateSyntheticCandles({ seed: 5, bars: BARS, timeframe: '1m' });
console.log(`   (data generated in ${fmt((now() - t) / 1000)} s)`);
const registry = cl.createRegistry();
const crossover = registry.resolve('strategy', 'core/sma-crossover');
const targetsFor = (fast, slow) => crossover.targets({ candles, features: candles }, { fast, slow, allowShort: true, entry: 'state' }).targets;

// 1. event-driven engine
{
  const targets = targetsFor(50, 200);
  t = now();
  const result = cl.backtest.runEngine([{ symbol: 'BTC/USDT', candles }], [{ name: 'sma', targets: { 'BTC/USDT': targets } }], { ...costs, risk: { varWindow: 250 } });
  const ms = now() - t;
  console.log(`\n1. event-driven engine, SMA(50/200) crossover, one asset, one position at a time`);
  console.log(`   ${fmt(BARS / ms / 1000, 2)} M bars/s (${fmt(ms / 1000, 2)} s, ${result.trades.length.toLocaleString('en-US')} trades, equity ${result.equity[result.equity.length - 1].toPrecision(4)})`);
}

// 2. vectorized sweep vs the single-pass limit
{
  const prices = cl.backtest.priceArrays(candles);
  const sets = [];
  for (const fast of [5, 10, 20, 40]) for (const slow of [60, 120]) sets.push(targetsFor(fast, slow));
  t = now();
  const results = cl.backtest.sweepTargets(prices, sets, costs, 525_600);
  const sweepMs = now() - t;
  // the limit: one pass reading open, close and targets and writing an equity value per bar
  const targets = sets[0];
  const out = new Float64Array(BARS);
  let passMs = Infinity;
  for (let r = 0; r < 3; r++) {
    t = now();
    let units = 0;
    let cash = 1;
    for (let i = 0; i < BARS; i++) {
      if (i > 0 && targets[i - 1] !== targets[i]) units = (cash * targets[i - 1]) / prices.open[i];
      out[i] = cash + units * prices.close[i];
    }
    passMs = Math.min(passMs, now() - t);
  }
  const sweepRate = (sets.length * BARS) / sweepMs / 1000;
  const passRate = BARS / passMs / 1000;
  console.log(`\n2. vectorized fast path: ${sets.length} parameter sets (SMA fast × slow) over the same bars`);
  console.log(`   ${fmt(sweepRate, 1)} M bar-evaluations/s (${fmt(sweepMs / 1000, 2)} s); best final equity ${Math.max(...results.map((x) => x.finalEquity)).toPrecision(4)}`);
  console.log(`   one Float64Array pass (read open, close, targets; write equity): ${fmt(passRate, 1)} M bars/s → the sweep runs at ${fmt((100 * sweepRate) / passRate, 0)}% of that limit`);
}

// 3. Python/pandas event loop, side by side on the same data and rules
{
  const n = Math.min(BARS, Number(process.env.BENCH_PYTHON_BARS ?? 1_000_000));
  const part = candles.slice(0, n);
  const file = path.join(os.tmpdir(), `candlelab-bench-${process.pid}.csv`);
  const targets = crossover.targets({ candles: part, features: part }, { fast: 50, slow: 200, allowShort: true, entry: 'state' }).targets;
  cl.data.writeCandlesCsv(file, part.withColumns({ candlelab_target: targets }));
  t = now();
  const engine = cl.backtest.runEngine([{ symbol: 'BTC/USDT', candles: part }], [{ name: 'sma', targets: { 'BTC/USDT': targets } }], costs);
  const engineMs = now() - t;
  const python = spawnSync('/usr/bin/python3', [path.join(root, 'bench', 'python', 'backtest_loop.py'), file, '50', '200', String(costs.commissionBps), String(costs.slippageBps)], { encoding: 'utf8' });
  fs.rmSync(file, { force: true });
  console.log(`\n3. the same SMA(50/200) strategy and rules on ${n.toLocaleString('en-US')} bars`);
  if (python.status !== 0) {
    console.log(`   Python peer unavailable (${(python.stderr || python.error?.message || '').trim().split('\n').pop()}); install python3-pandas`);
  } else {
    const peer = JSON.parse(python.stdout.trim().split('\n').pop());
    const engineEquity = engine.equity[engine.equity.length - 1];
    console.log(`   candlelab engine:           ${fmt(n / engineMs / 1000, 2)} M bars/s (${fmt(engineMs / 1000, 2)} s), final equity ${fmt(engineEquity, 4)}, ${engine.trades.length} trades`);
    console.log(`   Python loop over pandas:    ${fmt(n / peer.seconds / 1_000_000, 2)} M bars/s (${fmt(peer.seconds, 2)} s), final equity ${fmt(peer.final_equity, 4)}, ${peer.trades} trades`);
    console.log(`   ratio (Python time / candlelab time): ${fmt(peer.seconds / (engineMs / 1000), 2)}×`);
    console.log(`   same rules, same targets: final equity ${fmt(peer.final_equity_on_candlelab_targets, 6)} in Python vs ${fmt(engineEquity, 6)} here (relative difference ${(Math.abs(engineEquity - peer.final_equity_on_candlelab_targets) / engineEquity).toExponential(1)}); with each side's own SMA: ${(Math.abs(engineEquity - peer.final_equity) / engineEquity).toExponential(1)}`);
  }
}
