"""Writes notebooks/13-multi-coin.ipynb (outputs cleared). Edit the cells here, then run this script."""
import os, sys
sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from notebook_cells import Notebook

nb = Notebook()
md, code = nb.md, nb.code

md("""
# 13 · Several coins in one spec: the three modes, the portfolio, a learned coin embedding

Notebook 09 trained several coins with the library function `trainCoins`. Here the same thing is a
**spec**: `data` lists one source per coin and `models.mode` says how they are trained:

- `per-coin`: one model per coin on its own rows (registered as `<name>-<coin>`);
- `universal`: one model on every coin's rows (registered as `<name>-universal`);
- `fine-tune`: the universal model, then training continued per coin (`<name>-<coin>-ft`), with
  `models.fineTune.params` overriding the model's params for those rounds.

`runCoinSpec` (what `candlelab run spec.json` calls for such a spec) backtests every coin with the
spec's strategy and 1/N of the cash, and runs the coins together as an equal-weight portfolio. The
coins are seeded synthetic markets (no download).
""")
code("""
// Parameters: `candlelab notebook -p name=value` injects new values after this cell.
const bars = 1200;     // hourly bars per coin
""", tags=["parameters"])
code("""
import * as cl from 'candlelab';

cl.initCharts();
// The spec, as a JSON file would hold it: two coins of the sample source with different seeds.
const spec: cl.SpecInput = {
  name: 'coins',
  data: [
    { source: 'sample', symbol: 'BTC/USDT', seed: 11, bars: bars },
    { source: 'sample', symbol: 'ETH/USDT', seed: 12, bars: bars },
  ],
  features: [
    { id: 'core/returns', params: { periods: [1, 4, 24] } },
    { id: 'core/rsi', params: { period: 14 } },
    { id: 'core/volatility' },
    { id: 'core/coin-identity', params: { coins: ['BTC', 'ETH'], dims: 2 } },
  ],
  label: { id: 'core/direction', params: { bars: 5, threshold: 0.005 } },
  model: { id: 'core/xgboost', params: { rounds: 30, maxDepth: 3, learningRate: 0.1, earlyStoppingRounds: 0, threads: 1 } },
  strategy: { id: 'core/probability-threshold' },
};
const quiet = { progress: 'quiet' as const, log: () => {} };
""")
md("""
## 1 · The three modes

One run per mode; each writes a run folder (run.json with a `coins` table and `portfolio`, report.html)
and registers its models. The table has one row per coin and mode: the test segment's accuracy, the
coin's backtest, and the registered model that predicts it.
""")
code("""
type Mode = 'per-coin' | 'universal' | 'fine-tune';
const modes: Mode[] = ['per-coin', 'universal', 'fine-tune'];
const runs: Record<string, cl.CoinSpecRun> = {};
for (const mode of modes) {
  runs[mode] = await cl.runCoinSpec({ ...spec, name: `coins-${mode}`, models: { mode: mode, ...(mode === 'fine-tune' ? { fineTune: { params: { rounds: 10, learningRate: 0.03 } } } : {}) } }, quiet);
}
cl.showRecords(modes.flatMap((mode) => runs[mode].record.coins.map((c) => ({
  mode: mode, coin: c.coin, trainingRows: c.trainingRows, testAccuracy: c.test.accuracy, testLogLoss: c.test.logLoss,
  totalReturn: c.backtest.totalReturn, sharpe: c.backtest.sharpe, maxDrawdown: c.backtest.maxDrawdown, trades: c.backtest.numTrades,
  model: c.model ? `${c.model.name} v${c.model.version}` : '',
}))), 'Per coin and mode (test segment)');
for (const mode of modes) {
  const p = runs[mode].record.portfolio.metrics;
  console.log(`${mode}: portfolio return ${(100 * p.totalReturn).toFixed(2)}%, sharpe ${p.sharpe.toFixed(2)}, max drawdown ${(100 * p.maxDrawdown).toFixed(2)}%; models ${runs[mode].record.coins.map((c) => c.model!.name).join(', ')}`);
}
""")
md("""
## 2 · The equal-weight portfolio

Each coin traded half the cash; the portfolio's equity is the sum of the coins' equity on the union of
their timestamps (a coin's last value carried forward). The check below recomputes it from the coins'
own backtests.
""")
code("""
const run = runs['per-coin'];
const portfolio = run.results.portfolio;
cl.showChart({
  data: [
    { type: 'scatter', mode: 'lines', name: 'portfolio', x: Array.from(portfolio.time, (t) => new Date(t).toISOString()), y: Array.from(portfolio.equity) },
    ...portfolio.sleeves.map((s) => ({ type: 'scatter', mode: 'lines', name: s.name, x: Array.from(portfolio.time, (t) => new Date(t).toISOString()), y: Array.from(s.equity) })),
  ],
  layout: { title: { text: 'Equal-weight portfolio (per-coin models)' }, yaxis: { title: { text: 'equity' } } },
});
// the same sum, from each coin's own equity curve
let largest = 0;
portfolio.time.forEach((t, i) => {
  const sum = run.results.coins.reduce((s, c) => {
    const times = c.backtest.result.time;
    let k = -1;
    while (k + 1 < times.length && times[k + 1] <= t) k++;
    return s + (k < 0 ? c.backtest.result.settings.initialCash : c.backtest.result.equity[k]);
  }, 0);
  largest = Math.max(largest, Math.abs(sum - portfolio.equity[i]));
});
console.log(`portfolio = sum of the coins' equity at ${portfolio.time.length} times; largest difference ${largest}`);
""")
md("""
## 3 · A learned coin embedding (neural models)

`core/coin-identity` gives a *fixed* embedding. The neural models (core/lstm, core/tcn) can **learn** one:
`coinEmbedding: { column: 'coin_id', coins: 2, dim: 2 }` reads the integer coin index that
`core/coin-index` writes, looks it up in a table trained with the network, and joins it to the
network's summary of the window. Here a small universal LSTM learns it; each coin's vector is a row
of the table. Fine-tuning works for the neural models too (`initModel`: the universal weights and
scaler, then training continues on the coin's rows).
""")
code("""
const neural = cl.createRunContext({
  ...spec,
  name: 'coins-embedding',
  features: [{ id: 'core/returns', params: { periods: [1, 4, 24] } }, { id: 'core/rsi', params: { period: 14 } }, { id: 'core/coin-index', params: { coins: ['BTC', 'ETH'] } }],
  model: { id: 'core/lstm', params: { seqLen: 6, epochs: 2, batchSize: 256, units: 8, denseUnits: 8, dropout: 0, patience: 0, lrPatience: 0, learningRate: 0.02, coinEmbedding: { column: 'coin_id', coins: 2, dim: 2 } } },
  models: { mode: 'universal' },
  register: false,
}, quiet);
const embedded = await cl.runCoinStages(neural);
const table = cl.models.neural.coinEmbeddingWeights((embedded.universal as cl.models.NeuralSequenceModel).network)!;
cl.showRecords(embedded.coins.map((c, k) => ({ coin: c.coin, vector: Array.from(table.subarray(2 * k, 2 * k + 2), (v) => v.toFixed(4)).join(', '), testAccuracy: c.trained.testMetrics!.accuracy })), 'Learned coin vectors (universal LSTM)');
console.log(`learned embedding: ${embedded.coins.length} coins × 2 dims; distance between the coins' vectors ${Math.hypot(table[0] - table[2], table[1] - table[3]).toFixed(4)}`);
cl.disposeCoinModels(embedded);
""")
md("""
## From here

- Save the spec as JSON and run `npx candlelab run coins.json`: it prints a row per coin and the
  portfolio, and writes report.html with a table per coin and the portfolio's equity curve.
- `npx candlelab models list` shows the registered `coins-per-coin-BTC-USDT`, `coins-universal-universal`,
  `coins-fine-tune-ETH-USDT-ft`, ….
""")

nb.write(sys.argv[1] if len(sys.argv) > 1 else "notebooks/13-multi-coin.ipynb")
