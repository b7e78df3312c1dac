#!/usr/bin/env node
// Stepping engine and paper-trading benchmarks (printed figures, not tests). Run: npm run bench
//   1. replay speed: runEngine (a replay loop over the engine kernel) against the engine as it was before
//      the kernel (the closure engine, rebuilt from git history side by side), and the stepping API
//      (appendBar + decide + step per bar, as a session drives it)
//   2. paper trading against the fake exchange: latency from a candle's close to the order's placement
//      on the simulated venue (p50/p99), and where it goes
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { root, cl, require, now, fmt } from './lib.mjs';

const BARS = Number(process.env.BENCH_BARS ?? 3_000_000);
const ROUNDS = 5;
const costs = { initialCash: 10_000, commissionBps: 1, slippageBps: 1, risk: { varWindow: 250 } };
console.log(`\ncandlelab stepping-engine bench · ${BARS.toLocaleString('en-US')} bars of synthetic 1m candles, best of ${ROUNDS}`);
const candles = cl.data.generateSyntheticCandles({ seed: 5, bars: BARS, timeframe: '1m' });
const crossover = cl.createRegistry().resolve('strategy', 'core/sma-crossover');
const targets = crossover.targets({ candles, features: candles }, { fast: 50, slow: 200, allowShort: true, entry: 'state' }).targets;
const assets = [{ symbol: 'BTC/USDT', candles }];
const sleeves = [{ name: 'sma', targets: { 'BTC/USDT': targets } }];

// the engine before the kernel, from git history (compiled beside the built library so its imports resolve)
const BEFORE = 'c662429';
let before;
try {
  const source = execFileSync('git', ['show', `${BEFORE}:kernel-lib/src/backtest/engine.ts`], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const ts = require('typescript');
  const file = path.join(root, 'kernel-lib', 'dist', 'backtest', `.engine-before-kernel-${process.pid}.js`);
  fs.writeFileSync(file, ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 } }).outputText);
  try {
    before = require(file).runEngine;
  } finally {
    fs.rmSync(file, { force: true });
  }
} catch (error) {
  console.log(`   (the pre-kernel engine is not available: ${String(error.message).split('\n')[0]}; needs the git history)`);
}

const rates = { kernel: [], before: [] };
let checked = false;
for (let r = 0; r < ROUNDS; r++) {
  // interleaved, so both see the same machine noise
  let t = now();
  const result = cl.backtest.runEngine(assets, sleeves, costs);
  rates.kernel.push(BARS / (now() - t) / 1000);
  if (before) {
    t = now();
    const old = before(assets, sleeves, costs);
    rates.before.push(BARS / (now() - t) / 1000);
    if (!checked) {
      checked = true;
      const same = old.trades.length === result.trades.length && old.equity.every((x, i) => x === result.equity[i]) && old.fills.every((f, i) => f.price === result.fills[i].price && f.quantity === result.fills[i].quantity);
      console.log(`   identical results (trades, fills, every equity value): ${same ? 'yes' : 'NO'} (${result.trades.length} trades)`);
    }
  }
}
const bestOf = (xs) => Math.max(...xs);
const spread = (xs) => `${fmt(Math.min(...xs), 2)}–${fmt(Math.max(...xs), 2)}`;
console.log(`\n1. replay: runEngine over the kernel ${fmt(bestOf(rates.kernel), 2)} M bars/s (spread ${spread(rates.kernel)})`);
if (before) console.log(`   the engine before the kernel     ${fmt(bestOf(rates.before), 2)} M bars/s (spread ${spread(rates.before)}) → kernel at ${fmt((100 * bestOf(rates.kernel)) / bestOf(rates.before), 0)}% of its speed (aim: ≥ 90%)`);

{
  const n = Math.min(BARS, 1_000_000);
  const open = candles.column('open'), high = candles.column('high'), low = candles.column('low'), close = candles.column('close'), volume = candles.column('volume');
  let bestRate = 0;
  for (let r = 0; r < 3; r++) {
    const kernel = cl.backtest.createEngineKernel([{ symbol: 'BTC/USDT', candles: candles.slice(0, 0) }], [{ name: 'sma' }], costs, { stepping: true });
    const t = now();
    for (let i = 0; i < n; i++) {
      kernel.appendBar(0, { time: candles.time[i], open: open[i], high: high[i], low: low[i], close: close[i], volume: volume[i] });
      if (i < n - 1) kernel.decide('sma', 0, { target: targets[i] });
      while (kernel.step());
    }
    bestRate = Math.max(bestRate, n / (now() - t) / 1000);
  }
  console.log(`   stepping API (appendBar + decide + step per bar, as a session drives it): ${fmt(bestRate, 2)} M bars/s on ${n.toLocaleString('en-US')} bars`);
}

// 2. paper trading: close → order placed
{
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'candlelab-bench-paper-'));
  const workspace = { root: dir, dataDir: path.join(dir, 'data'), modelsDir: path.join(dir, 'models'), runsDir: path.join(dir, 'runs') };
  const { startFakeExchange } = require('candlelab/testing');
  const LIVE = Number(process.env.BENCH_PAPER_CANDLES ?? 500);
  try {
    await cl.runSpec(path.join(root, 'specs', 'quickstart.json'), { overrides: ['data.bars=4000', 'model.params.rounds=100'], workspace, progress: 'quiet', log: () => {} });
    const sample = cl.data.generateSyntheticCandles({ seed: 42, bars: 4000 + LIVE + 10, timeframe: '1h', start: '2021-01-01T00:00:00Z' });
    const fake = await startFakeExchange({ datasets: [{ market: 'spot', symbol: 'BTC/USDT', timeframe: '1h', candles: sample }], now: sample.time[3600] });
    const closedAt = [];
    const latency = [];
    const parts = { features: [], predict: [], decide: [], persist: [] };
    const advance = () => setImmediate(() => {
      closedAt.push(now());
      fake.setNow(fake.now + 3_600_000);
    });
    await cl.trading.runPaperSession({
      model: 'quickstart-BTC-USDT-1h@1', apiUrl: fake.url, workspace, dir: path.join(dir, 'runs', 'paper'), maxCandles: LIVE, warmup: 300, log: () => {},
      rateLimitMs: 1,
      onEvent: (event) => {
        if (event.kind === 'stream' && event.event.kind === 'subscribed') advance();
        if (event.kind !== 'candle' || event.mode !== 'live') return;
        // from the close (the clock move that closed it) to the order placed: everything but the logs
        latency.push(now() - closedAt[closedAt.length - 1] - event.timings.persist);
        for (const k of Object.keys(parts)) parts[k].push(event.timings[k]);
        advance();
      },
    });
    // the same with real orders: a live session (LiveTrader over ccxt, signed requests) against the fake
    // exchange's account; the latency ends when the exchange has accepted the order
    const KEY = 'benchKEYbenchKEYbenchKEY0001';
    const SECRET = 'benchSECRETbenchSECRETbench0002';
    await fake.close();
    const liveFake = await startFakeExchange({ datasets: [{ market: 'spot', symbol: 'BTC/USDT', timeframe: '1h', candles: sample }], now: sample.time[3600], accounts: [{ apiKey: KEY, secret: SECRET, balances: { USDT: 10_000, BTC: 0 } }] });
    const liveClosedAt = [];
    const toExchange = [];
    let pending = false;
    liveFake.on('order', () => {
      if (pending) toExchange.push(now() - liveClosedAt[liveClosedAt.length - 1]);
      pending = false;
    });
    const liveAdvance = () => setImmediate(() => {
      liveClosedAt.push(now());
      pending = true;
      liveFake.setNow(liveFake.now + 3_600_000);
    });
    let trader;
    const liveDir = path.join(dir, 'runs', 'live');
    await cl.trading.runPaperSession({
      model: 'quickstart-BTC-USDT-1h@1', apiUrl: liveFake.url, workspace, dir: liveDir, maxCandles: LIVE, warmup: 300, log: () => {}, rateLimitMs: 1,
      // a low buy threshold, so the bot trades often
      overrides: ['strategy.params.buyThreshold=0.35'],
      executorKind: 'live',
      executor: async ({ dir: sessionDir, symbol, connection }) => {
        trader = await cl.trading.LiveTrader.open({ connection: { ...connection, rateLimitMs: 1 }, symbol, stateDir: path.join(sessionDir, 'live'), dryRun: false, keys: { env: { CANDLELAB_API_KEY: KEY, CANDLELAB_API_SECRET: SECRET } }, logger: () => {} });
        return { kind: 'live', onDecision: (decision) => trader.onDecision(decision) };
      },
      onEvent: (event) => {
        if (event.kind === 'stream' && event.event.kind === 'subscribed') liveAdvance();
        if (event.kind === 'candle' && event.mode === 'live') liveAdvance();
      },
    });
    await trader?.close();
    await liveFake.close();
    const q = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))];
    const line = (name, xs) => `${name.padEnd(44)} p50 ${fmt(q(xs, 0.5), 3)} ms   p99 ${fmt(q(xs, 0.99), 3)} ms`;
    console.log(`\n2. paper session on the fake exchange, ${latency.length} live 1h candles, quickstart model (XGBoost via ONNX Runtime)`);
    console.log(`   ${line('close → order placed on the simulated venue', latency)}`);
    console.log(`   ${line('  of which: streaming features', parts.features)}`);
    console.log(`   ${line('            model prediction (one row)', parts.predict)}`);
    console.log(`   ${line('            strategy + engine step', parts.decide)}`);
    console.log(`   ${line('  after it: logs appended + state saved (fsync)', parts.persist)}`);
    console.log('   (the rest of the first line is the websocket, ccxt parsing and the stream\'s closed-candle detection)');
    if (toExchange.length) console.log(`   ${line(`live: close → order accepted by the exchange (${toExchange.length} orders)`, toExchange)}\n   (a signed REST order through ccxt to the fake exchange on 127.0.0.1: add the network to a real exchange)`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
