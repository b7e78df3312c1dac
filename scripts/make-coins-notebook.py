"""Writes notebooks/09-several-coins.ipynb (outputs cleared). Edit the cells here, then run this script."""
import os, sys
sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from notebook_cells import Notebook

nb = Notebook()
md, code = nb.md, nb.code

md("""
# 09 · Several coins: per-coin, universal and fine-tuned models

One coin's history is short; several coins together give a model more rows to learn the shapes they
share. `trainCoins` (`candlelab.runner`) trains over several coins with the same features, labeler and
chronological split in three modes:

- **per-coin**: one model per coin, trained on that coin's rows only;
- **universal**: one model on every coin's training rows together (the `core/coin-identity` features
  let it tell the coins apart), evaluated on each coin's own test rows;
- **fine-tune**: the universal model, then per coin, training **continued** from it on that coin's rows
  (transfer learning, through XGBoost's warm start).

Each mode ends in a table with one row per coin; the last section puts the modes side by side.
The coins are three seeded synthetic markets with different volatility (no download, no network).
""")
code("""
// Parameters: `candlelab notebook -p name=value` injects new values after this cell.
const bars = 3000;     // hourly bars per coin
""", tags=["parameters"])
code("""
import * as cl from 'candlelab';

cl.initCharts();
// Three seeded markets: the same generator (regimes, GARCH volatility, a weak order-flow edge), different seeds and volatility.
const markets = [
  { symbol: 'BTC/USDT', seed: 42, startPrice: 30000, annualVolatility: 0.6 },
  { symbol: 'ETH/USDT', seed: 43, startPrice: 2000, annualVolatility: 0.8 },
  { symbol: 'SOL/USDT', seed: 44, startPrice: 40, annualVolatility: 1.1 },
];
const coins = markets.map((m) => ({ candles: cl.data.generateSyntheticCandles({ ...m, timeframe: '1h', bars: bars }) }));
cl.showRecords(coins.map(({ candles }) => {
  const close = candles.column('close');
  return { symbol: candles.meta.symbol, bars: candles.length, from: cl.isoTime(candles.time[0]).slice(0, 10), to: cl.isoTime(candles.time[candles.length - 1]).slice(0, 10), firstClose: close[0], lastClose: close[close.length - 1], change: close[close.length - 1] / close[0] - 1 };
}), 'Coins');
cl.showChart({
  data: coins.map(({ candles }) => {
    const close = candles.column('close');
    return { type: 'scatter', mode: 'lines', name: candles.meta.symbol, x: Array.from(candles.time, (t) => new Date(t).toISOString()), y: Array.from(close, (c) => c / close[0]) };
  }),
  layout: { title: { text: 'Close, relative to the first bar' }, yaxis: { type: 'log' } },
});
""")
md("""
## 1 · The shared setup

Every coin gets the same feature list, so the columns line up; `core/coin-identity` adds one-hot
columns over the universe (`coin_BTC`, `coin_ETH`, `coin_SOL`) and a fixed embedding of the base asset.
The split is chronological per coin (70/15/15 after the warm-up, purged by the label horizon). The
three coins cover the same hours here, so every coin's test rows come after every coin's training
rows: the universal model never trains on one coin's future while testing another.
""")
code("""
const setup = {
  coins: coins,
  features: [
    { id: 'core/returns', params: { periods: [1, 4, 24] } },
    { id: 'core/rsi', params: { period: 14 } },
    { id: 'core/macd' },
    { id: 'core/atr', params: { period: 14 } },
    { id: 'core/volatility' },
    { id: 'core/coin-identity', params: { coins: ['BTC', 'ETH', 'SOL'], dims: 2 } },
  ],
  label: { id: 'core/direction', params: { bars: 5, threshold: 0.005 } },
  model: { id: 'core/xgboost', params: { rounds: 60, maxDepth: 3, learningRate: 0.1, earlyStoppingRounds: 10, threads: 1 } },
  seed: 7,
  log: () => {},
};
type Row = Record<string, unknown>;
const results: Record<string, Row[]> = {};
// One row per coin: rows it trained on, and its test-segment metrics.
async function runMode(mode: 'per-coin' | 'universal' | 'fine-tune', extra: Record<string, unknown> = {}): Promise<Row[]> {
  const result = await cl.runner.trainCoins({ ...setup, ...extra, mode: mode });
  const rows = result.coins.map((c) => ({
    coin: c.coin, mode: mode, trainingRows: c.trainingRows, testRows: c.split.test.end - c.split.test.start,
    bestRound: (c.model.info as { bestRound: number }).bestRound,
    // fine-tune: trees kept beyond the universal model's (0 = no new round improved this coin's validation loss)
    ...(mode === 'fine-tune' ? { roundsAdded: (c.model.info as { bestRound: number }).bestRound + 1 - (c.model.info as { initialRounds: number }).initialRounds } : {}),
    accuracy: c.testMetrics!.accuracy, balancedAccuracy: c.testMetrics!.balancedAccuracy, logLoss: c.testMetrics!.logLoss, rocAucMacro: c.testMetrics!.rocAucMacro,
  }));
  for (const model of new Set([...result.coins.map((c) => c.model), ...(result.universal ? [result.universal] : [])])) model.dispose();
  results[mode] = rows;
  return rows;
}
console.log(`features per row: ${cl.features.computeFeatures(coins[0].candles, setup.features, cl.createRegistry()).names.length}`);
""")
md("""
## 2 · Per-coin models

Three independent models. Each sees only its own coin's training rows, so `trainingRows` is one coin's
share.
""")
code("""
cl.showRecords(await runMode('per-coin'), 'Per-coin models (test segment of each coin)');
""")
md("""
## 3 · One universal model

One model on the three coins' training rows stacked (three times the rows), early-stopped on the three
valid segments together. Every coin is predicted by the same trees; the coin-identity columns let a
split single out one coin where the coins differ.
""")
code("""
cl.showRecords(await runMode('universal'), 'Universal model (test segment of each coin)');
""")
md("""
## 4 · Fine-tuned per coin

The universal model is saved, then per coin training continues from it on that coin's rows with the
`fineTuneParams` (here fewer rounds at a lower learning rate): the shared trees stay, new trees correct
them for the coin. `bestRound` counts from the universal model's rounds; `roundsAdded` is how many new
rounds were kept. Early stopping never removes the universal trees, so a coin where no new round
lowered the validation loss keeps the universal model unchanged (`roundsAdded` 0, the same metrics).
""")
code("""
cl.showRecords(await runMode('fine-tune', { fineTuneParams: { rounds: 30, learningRate: 0.03 } }), 'Fine-tuned models (test segment of each coin)');
""")
md("""
## 5 · The modes side by side

Test log-loss (lower is better) and ROC-AUC (0.5 is chance) per coin and mode. How to read it: if the
universal model is as good as the per-coin ones, the coins share their structure and more data helped
(here the three markets come from one generator, so they should); fine-tuning helps where a coin
differs from the others.
""")
code("""
const modes = ['per-coin', 'universal', 'fine-tune'];
const symbols = results['per-coin'].map((r) => r.coin as string);
cl.showRecords(symbols.map((coin) => ({ coin: coin, ...Object.fromEntries(modes.flatMap((mode) => {
  const row = results[mode].find((r) => r.coin === coin)!;
  return [[`${mode} logLoss`, row.logLoss], [`${mode} ROC-AUC`, row.rocAucMacro]];
})) })), 'Test log-loss and ROC-AUC by coin and mode');
cl.showChart({
  data: modes.map((mode) => ({ type: 'bar', name: mode, x: symbols, y: results[mode].map((r) => r.rocAucMacro as number) })),
  layout: { title: { text: 'Test ROC-AUC (macro) by coin and mode' }, barmode: 'group', yaxis: { title: { text: 'ROC-AUC' } } },
});
for (const mode of modes) {
  const mean = results[mode].reduce((s, r) => s + (r.logLoss as number), 0) / results[mode].length;
  console.log(`${mode}: mean test log-loss ${mean.toFixed(4)} over ${results[mode].length} coins`);
}
""")
md("""
## From here

- `npx candlelab coin add BTC/USDT ETH/USDT SOL/USDT --timeframe 1h --from 2024-01-01` downloads real
  coins into the store, checks them, writes a spec per coin under `specs/coins/` and trains them (as
  parallel jobs with `--jobs N`).
- A universal model in the pipeline: `trainCoins({ …, mode: 'universal' })` returns `universal`, a
  `FittedModel` you can save and register like any other.
""")

nb.write(sys.argv[1] if len(sys.argv) > 1 else "notebooks/09-several-coins.ipynb")
