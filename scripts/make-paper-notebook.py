"""Writes notebooks/02-paper-trading.ipynb (outputs cleared). Edit the cells here, then run this script."""
import os, sys
sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from notebook_cells import Notebook

nb = Notebook()
md, code = nb.md, nb.code

md("""
# 02 · Paper trading: a registered model on live candles, and parity with the backtest

The second half of the promise: the model a run registered trades **closed candles as they arrive**,
through the same engine the backtest uses, stepped one bar at a time. A paper session

1. streams closed candles from the exchange (backfilled through REST after a start or a disconnect),
2. updates the features with their **streaming twins** (one new candle, no recomputation),
3. predicts with the **registry's model**,
4. decides with the strategy's **incremental form** (the same decisions as its batch form),
5. fills on the **simulated venue**: the spec's fees and slippage, the exchange's lot, tick and
   minimum-notional rules, optional latency and a cap on the share of a bar's volume,
6. appends every candle, decision (the S6 signal record), fill and trade to its folder, and saves its
   whole state after each candle, so a restart (even after a crash) continues exactly.

Then `parity` backtests exactly the candles the session saw and lists every difference.

Here the exchange is the project's **fake exchange**: a Binance stand-in on 127.0.0.1 that speaks the
real REST and websocket formats, so this runs offline. Its clock moves one hour each time the session
has handled a candle, so an hour of market time takes milliseconds.
""")
code("""
// Parameters: `candlelab notebook -p name=value` injects new values after this cell.
const trainingBars = 3000;   // hourly bars the model trains on
const liveCandles = 150;     // candles the session trades
""", tags=["parameters"])
md("""
## 1 · A registered model

A small version of the quickstart spec, trained and registered like `candlelab run` does it. A paper
session takes a model from the registry (`--model name@stage` on the command line) and the spec of the
run that registered it.
""")
code("""
import * as fs from 'fs';
import * as cl from 'candlelab';
import { startFakeExchange } from 'candlelab/testing';

cl.initCharts();
const spec = {
  name: 'nb-paper',
  seed: 42,
  data: { source: 'sample' as const, symbol: 'BTC/USDT', timeframe: '1h', seed: 42, bars: trainingBars }, // (tslab needs `bars: trainingBars`, not the shorthand)
  features: [
    { id: 'core/returns', params: { periods: [1, 4, 24] } },
    { id: 'core/rsi', params: { period: 14 } },
    { id: 'core/ema', params: { period: 20 } },
    { id: 'core/macd' },
    { id: 'core/bollinger', params: { period: 20, deviations: 2 } },
    { id: 'core/atr', params: { period: 14 } },
  ],
  label: { id: 'core/direction', params: { bars: 5, threshold: 0.005 } },
  split: { train: 0.7, valid: 0.15, test: 0.15 },
  model: { id: 'core/xgboost', params: { rounds: 40, maxDepth: 3, learningRate: 0.1, earlyStoppingRounds: 10, threads: 2 } },
  strategy: { id: 'core/probability-threshold', params: { buyThreshold: 0.4 } },
  backtest: { initialCash: 10000, commissionBps: 10, slippageBps: 5 },
  register: true,
};
const run = await cl.runSpec(spec, { progress: 'quiet', log: () => {} });
const registered = run.record.model.registered!;
const modelRef = `${registered.name}@${registered.version}`;
cl.showValues({ model: modelRef, testAccuracy: run.record.metrics.classification?.test.accuracy, backtestSharpe: run.record.metrics.backtest.sharpe }, 'Registered model');
""")
md("""
## 2 · A paper session

The fake exchange serves the same seeded market, its clock just after the training data. Candles that
closed before the session started are **history**: they warm up the features and the strategy, and
nothing trades on them. Every candle after the start is **live**.
""")
code("""
const market = cl.data.generateSyntheticCandles({ seed: 42, bars: trainingBars + liveCandles + 400, timeframe: '1h', start: '2021-01-01T00:00:00Z' });
const exchange = await startFakeExchange({ datasets: [{ market: 'spot', symbol: 'BTC/USDT', timeframe: '1h', candles: market }], now: market.time[trainingBars + 300] });
const HOUR = 3_600_000;
const timings: number[] = [];
const sessionDir = `${cl.openWorkspace().runsDir}/paper-notebook-${Date.now()}`;
const result = await cl.trading.runPaperSession({
  model: modelRef,
  apiUrl: exchange.url,
  dir: sessionDir,
  maxCandles: liveCandles,
  warmup: 250,
  log: () => {},
  onEvent: (event) => {
    // the exchange clock moves one candle once the session has subscribed, and after each live candle
    const advance = () => setImmediate(() => exchange.setNow(exchange.now + HOUR));
    if (event.kind === 'stream' && event.event.kind === 'subscribed') advance();
    if (event.kind === 'candle' && event.mode === 'live') {
      timings.push(event.timings.total);
      advance();
    }
  },
});
cl.showValues({ folder: result.dir, candles: result.candles, live: result.liveCandles, fills: result.fills, trades: result.trades, equity: result.equity, stopped: result.stopReason }, 'Paper session');
""")
md("""
## 3 · What the session logged

`decisions.jsonl` holds one S6 record per candle: the signal (LONG/SHORT/FLAT), its confidence, entry,
stop-loss and take-profit, risk/reward, the reasoning, and the model's prediction. `fills.jsonl` and
`trades.csv` hold what the simulated venue did; `report.html` is the backtest's report over the session.
""")
code("""
const session = cl.trading.readSession(result.dir);
const decisions = fs.readFileSync(`${result.dir}/decisions.jsonl`, 'utf8').trim().split('\\n').map((line: string) => JSON.parse(line));
cl.showRecords(decisions.filter((d: any) => d.mode === 'live').slice(-12).map((d: any) => ({ time: d.time, signal: d.signal, confidence: d.confidence, entry: d.entry, reasoning: d.reasoning })), 'The last live decisions');
cl.showRecords(session.result.fills.map((f) => ({ time: cl.isoTime(f.time), side: f.side, type: f.type, quantity: f.quantity, price: f.price, commission: f.commission })), 'Fills on the simulated venue');
const liveStart = session.modes.indexOf('live');
cl.showChart({
  data: [
    { x: Array.from(session.result.time.subarray(liveStart), (t) => new Date(t).toISOString()), y: Array.from(session.result.equity.subarray(liveStart)), type: 'scatter', mode: 'lines', name: 'equity' },
  ],
  layout: { title: { text: `Paper equity over ${result.liveCandles} live candles` }, yaxis: { title: { text: 'USDT' } } },
});
const sorted = [...timings].sort((a, b) => a - b);
cl.showValues({ p50: sorted[Math.floor(0.5 * sorted.length)], p99: sorted[Math.floor(0.99 * sorted.length)] }, 'Handling one candle (ms): features, model, strategy, engine, logs saved');
""")
md("""
## 4 · Parity: the session against a backtest of the same candles

`paperParity` (the `candlelab parity <folder>` command) recomputes the features over the whole series,
predicts in one batch, runs the strategy's batch form and `runEngine`'s replay, and compares fill by
fill and trade by trade. With zero latency there is nothing to explain; a position the session still
holds shows up as the backtest's closing trade at its last candle, marked as explained.
""")
code("""
const parity = await cl.trading.paperParity(result.dir);
cl.showValues({
  candles: parity.candles,
  fillsIdentical: `${parity.fills.matched} of ${parity.fills.session} (backtest ${parity.fills.backtest})`,
  tradesIdentical: `${parity.trades.matched} of ${parity.trades.session} (backtest ${parity.trades.backtest})`,
  largestPredictionDifference: parity.predictionDifference,
  unexplained: parity.unexplained,
}, 'Parity');
cl.showRecords(parity.differences.map((d) => ({ kind: d.kind, time: d.time, detail: d.detail, explained: d.explained ?? 'NO' })), parity.differences.length ? 'Differences' : 'Differences: none');
console.log(`parity: ${parity.unexplained} unexplained difference(s)`);
await exchange.close();
""")
md("""
## 5 · From paper to live

`candlelab live` takes the same arguments and runs the same pipeline, with each decision also executed
on the exchange through ccxt. It is a **dry-run** unless `--live` is given with a confirmation
(`CANDLELAB_LIVE_CONFIRM=yes`, or the symbol typed at a terminal) and keys from the environment or a
0600 key file. Every order carries a client order id and is looked up by it after a 5xx or a timeout
before anything is resent; on start the session reconciles with the exchange and fails closed on a
difference it cannot explain. The rails (`--max-position`, `--max-order-value`, `--max-daily-loss`,
`--max-orders-per-minute`, `--ramp-up`) and the kill switch (`candlelab live stop --dir <session>`, a
`KILL` file, or SIGUSR2) are described in README.
""")
md("""
## 6 · The same model behind an HTTP endpoint

`candlelab serve` answers the same decision over HTTP: `POST /api/predict` with recent closed candles
(or a symbol and timeframe to read from the store) returns the S6 record of the last candle, and names
the model version that computed it. Here the server runs inside the kernel (`cl.createPredictionServer`,
what the command starts) and the cell calls it as any HTTP client would. A model served by stage
(`--model name`) follows the registry: a promotion or an A/B split (`candlelab registry split`) applies
from the next request, without a restart.
""")
code("""
// (inside a function: tslab cannot print the server's fastify types for a top-level const)
async function callEndpoint(): Promise<string> {
  const server = await cl.createPredictionServer({ models: [modelRef], logServed: false, log: () => {} });
  try {
    const url = await server.listen({ port: 0 });
    const served: any = await (await fetch(`${url}/api/models`)).json();
    const recent = market.slice(market.length - 200);
    const candlesBody = Array.from(recent.time, (t, i) => ({ time: t, open: recent.column('open')[i], high: recent.column('high')[i], low: recent.column('low')[i], close: recent.column('close')[i], volume: recent.column('volume')[i] }));
    const response = await fetch(`${url}/api/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ candles: candlesBody }) });
    const answer: any = await response.json();
    cl.showValues({ status: response.status, model: answer.model, version: answer.version, time: answer.time, signal: answer.signal, confidence: answer.confidence, entry: answer.entry, stopLoss: answer.stop_loss, reasoning: answer.reasoning, minCandles: served.models[0].versions[0].minCandles }, 'POST /api/predict');
    const refused: any = await (await fetch(`${url}/api/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ candles: candlesBody.slice(-5) }) })).json();
    return `endpoint: v${answer.version} answered ${answer.signal}; too few candles → ${refused.field}: ${refused.error}`;
  } finally {
    await server.close();
  }
}
console.log(await callEndpoint());
""")

nb.write(sys.argv[1] if len(sys.argv) > 1 else "notebooks/02-paper-trading.ipynb")
