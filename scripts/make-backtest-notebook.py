"""Writes notebooks/10-backtest-risk-portfolios.ipynb (outputs cleared). Edit the cells here, then run this script."""
import os, sys
sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from notebook_cells import Notebook

nb = Notebook()
md, code = nb.md, nb.code

md("""
# 10 · Backtest engine: costs, sizing, exits, risk rails and portfolios

The backtester (`kernel-lib/src/backtest/`) is an event-driven engine: strategies give a **target
exposure** (−1 … 1 of their capital) at each bar's close, the engine turns target changes into orders
and fills them at the next bar's open, with commission and slippage. The same kernel steps paper and
live sessions. Every rule is written down in `docs/backtest.md`; this notebook shows what each setting
does to the numbers:

1. one strategy, default settings: metrics, equity, drawdown, trades and signal records,
2. **costs**: commission and slippage models,
3. **sizing** and **exits**: how much to buy, when to get out inside a bar,
4. **risk rails**: VaR, the drawdown kill switch, the volatility circuit breaker,
5. a **portfolio**: several assets and strategies with capital weights on one cash account.

Rule-based strategies on seeded synthetic markets keep it fast and model-free; a model's strategy
(`core/probability-threshold`) goes through the same engine (notebook 00).
""")
code("""
// Parameters: `candlelab notebook -p name=value` injects new values after this cell.
const bars = 4000;     // hourly bars per market
""", tags=["parameters"])
code("""
import * as cl from 'candlelab';

cl.initCharts();
const btc = cl.data.generateSyntheticCandles({ seed: 42, symbol: 'BTC/USDT', timeframe: '1h', bars: bars });
const eth = cl.data.generateSyntheticCandles({ seed: 7, symbol: 'ETH/USDT', timeframe: '1h', bars: bars, startPrice: 2000, annualVolatility: 0.8 });
const sma = cl.strategy.smaCrossover;
const smaParams = sma.params.parse({ fast: 20, slow: 100, allowShort: true });
// One strategy on one asset through the engine, analyzed (what a run's backtest stage does).
const backtestWith = (settings: Record<string, unknown>) => cl.backtest.runStrategyBacktest({ candles: btc, definition: sma, params: smaParams, settings: settings });
const summary = (name: string, b: { report: { metrics: cl.backtest.PerformanceMetrics } }) => {
  const m = b.report.metrics;
  return { settings: name, totalReturn: m.totalReturn, sharpe: m.sharpe, maxDrawdown: m.maxDrawdown, trades: m.numTrades, winRate: m.winRate, fees: m.totalFees, slippage: m.totalSlippage, exposure: m.exposure };
};
cl.showValues({ market: btc.meta.symbol, bars: btc.length, from: cl.isoTime(btc.time[0]), to: cl.isoTime(btc.time[btc.length - 1]), strategy: `${sma.id} ${JSON.stringify(smaParams)}` }, 'Setup');
""")
md("""
## 1 · One strategy, default settings

Defaults: 10,000 USDT, next-open fills, 10 bps commission, 5 bps fixed slippage, all of the equity per
entry, fractional units, shorts allowed. The metrics are over the whole series; `buyHoldReturn` is the
passive benchmark. Each trade row is one round trip (entry and exit prices include slippage; `pnl` is
after commission). Each decision also leaves a **signal record** (LONG/SHORT/FLAT, confidence, entry,
stop-loss, take-profit, reasoning): what a live bot logs. A plain SMA crossover loses on this
market (it trades whipsaws after costs); the point here is the mechanics, not the strategy.
""")
code("""
const base = backtestWith({ initialCash: 10000, commissionBps: 10, slippageBps: 5 });
cl.showValues(base.report.metrics, 'Metrics (default settings)');
cl.showChart(cl.report.priceWithSignalsFigure(btc, base.result.trades));
cl.showChart(cl.report.equityFigure(base));
cl.showChart(cl.report.drawdownFigure(base));
cl.showRecords(base.result.trades.slice(0, 10).map((t) => ({ side: t.side, entry: cl.isoTime(t.entryTime).slice(0, 16), exit: cl.isoTime(t.exitTime).slice(0, 16), entryPrice: t.entryPrice, exitPrice: t.exitPrice, units: t.units, pnl: t.pnl, returnPct: t.returnPct, bars: t.bars, fees: t.fees, exitReason: t.exitReason })), `Trades (first 10 of ${base.result.trades.length})`);
cl.showRecords(base.result.signals.slice(-3), 'Latest signal records');
cl.showRecords(base.report.regimes, 'By market regime');
console.log(`trades table: ${base.result.trades.length} trades, ${base.result.fills.length} fills`);
""")
md("""
## 2 · Costs: commission and slippage

Commission is paid from cash on each fill's value (`commissionBps`, or `commission: {kind: 'bps',
takerBps, makerBps}` / `{kind: 'fixed', perFill}`). Slippage moves the fill price against the trader:
`fixed` bps, `volatility` (a multiple of the recent bar-return deviation) or `volume` (grows with the
order's share of the bar's volume). A trend follower with many trades is sensitive to both: read the
`fees` and `slippage` columns against `totalReturn`.
""")
code("""
const costs = [
  ['no costs', { commissionBps: 0, slippageBps: 0 }],
  ['10 bps + 5 bps (default)', { commissionBps: 10, slippageBps: 5 }],
  ['25 bps + 10 bps', { commissionBps: 25, slippageBps: 10 }],
  ['maker/taker 2/5 bps + volatility slippage', { commission: { kind: 'bps', takerBps: 5, makerBps: 2 }, slippage: { kind: 'volatility', multiplier: 0.5, window: 20 } }],
  ['10 bps + volume slippage', { commissionBps: 10, slippage: { kind: 'volume', impactBps: 10, maxParticipation: 0.1 } }],
] as const;
const costRuns = costs.map(([name, settings]) => ({ name: name, run: backtestWith({ initialCash: 10000, ...settings }) }));
cl.showRecords(costRuns.map((c) => summary(c.name, c.run)), 'The same trades under different costs');
cl.showChart({
  data: costRuns.map((c) => ({ type: 'scatter', mode: 'lines', name: c.name, x: Array.from(c.run.result.time, (t) => new Date(t).toISOString()), y: Array.from(c.run.result.equity) })),
  layout: { title: { text: 'Equity under different costs' }, yaxis: { title: { text: 'USDT' } } },
});
""")
md("""
## 3 · Sizing and exits

**Sizing** decides the units of an entry: `equity-fraction` (a share of the sleeve's equity × |target|),
`fixed-units`, `volatility-target` (risk `riskFraction` of equity over `atrMultiple` ATRs: smaller
positions in wild markets) or capped `kelly` (from the decision's confidence). **Exits** are checked
inside each bar before anything else: `stopLossPct`, `takeProfitPct`, `trailingStopPct` (or ATR
multiples). A stop fills at its price, or at the open when the bar gaps through it. The `exit reasons`
column counts how trades ended.
""")
code("""
const sizings = [
  ['all equity (default)', {}],
  ['half the equity', { sizing: { kind: 'equity-fraction', fraction: 0.5 } }],
  ['0.1 BTC per trade', { sizing: { kind: 'fixed-units', units: 0.1 } }],
  ['volatility target 1% / 2 ATR', { sizing: { kind: 'volatility-target', riskFraction: 0.01, atrMultiple: 2, atrPeriod: 14 } }],
  ['stop-loss 2%, take-profit 4%', { exits: { stopLossPct: 0.02, takeProfitPct: 0.04 } }],
  ['trailing stop 3%', { exits: { trailingStopPct: 0.03 } }],
] as const;
const sizingRuns = sizings.map(([name, settings]) => ({ name: name, run: backtestWith({ initialCash: 10000, commissionBps: 10, slippageBps: 5, ...settings }) }));
const reasons = (trades: cl.backtest.EngineTrade[]) => Object.entries(trades.reduce((acc: Record<string, number>, t) => ({ ...acc, [t.exitReason]: (acc[t.exitReason] ?? 0) + 1 }), {})).map(([k, v]) => `${k}×${v}`).join(', ');
cl.showRecords(sizingRuns.map((s) => ({ ...summary(s.name, s.run), 'exit reasons': reasons(s.run.result.trades) })), 'Sizing rules and exits');
""")
md("""
## 4 · Risk rails and monitors

Monitors run at every close over the portfolio: **rolling VaR/CVaR** of bar returns (`maxVar` blocks
new entries while VaR is above it), the **drawdown kill switch** (`maxDrawdown`: at that drawdown close
everything and stop trading), the **volatility circuit breaker** (a bar return beyond `multiple`
rolling deviations pauses entries for `pauseBars` bars), and exposure caps (`maxAssetExposure`,
`maxTotalExposure`, `maxPortfolioVolatility`, `leverage`). Everything a rail did is a **risk event**.
""")
code("""
const rails = [
  ['no rails', {}],
  ['VaR above 1% blocks entries', { maxVar: 0.01 }],
  ['volatility breaker 4σ, pause 12 bars', { volatilityBreaker: { multiple: 4, window: 100, pauseBars: 12 } }],
  ['kill switch at 25% drawdown', { maxDrawdown: 0.25 }],
] as const;
const railRuns = rails.map(([name, risk]) => ({ name: name, run: backtestWith({ initialCash: 10000, commissionBps: 10, slippageBps: 5, risk: { varWindow: 250, varConfidence: 0.95, ...risk } }) }));
const eventCounts = (events: cl.backtest.RiskEvent[]) => Object.entries(events.reduce((acc: Record<string, number>, e) => ({ ...acc, [e.monitor]: (acc[e.monitor] ?? 0) + 1 }), {})).map(([m, n]) => `${m} ${n}`).join(', ') || 'none';
cl.showRecords(railRuns.map((r) => ({ ...summary(r.name, r.run), 'risk events': eventCounts(r.run.result.riskEvents) })), 'One rail at a time');
const varRun = railRuns[1].run;
const killRun = railRuns[3].run;
cl.showRecords([...railRuns[2].run.result.riskEvents.slice(0, 3), ...varRun.result.riskEvents.slice(0, 3), ...killRun.result.riskEvents.slice(0, 3)], 'Risk events (the first of each rail)');
cl.showChart({
  data: [
    { type: 'scatter', mode: 'lines', name: 'VaR 95%', x: Array.from(varRun.result.time, (t) => new Date(t).toISOString()), y: Array.from(varRun.result.valueAtRisk) },
    { type: 'scatter', mode: 'lines', name: 'CVaR 95%', x: Array.from(varRun.result.time, (t) => new Date(t).toISOString()), y: Array.from(varRun.result.conditionalValueAtRisk) },
  ],
  layout: { title: { text: 'Rolling VaR and CVaR of bar returns (maxVar rail at 1%)' }, yaxis: { tickformat: '.1%' }, shapes: [{ type: 'line', xref: 'paper', x0: 0, x1: 1, y0: 0.01, y1: 0.01, line: { dash: 'dot', color: 'red' } }] },
});
cl.showChart(cl.report.drawdownFigure(killRun, 'Drawdown with the kill switch at 25%'));
console.log(`risk events: ${railRuns.map((r) => `${r.name}: ${eventCounts(r.run.result.riskEvents)}`).join('; ')}`);
""")
md("""
How to read it: VaR is NaN until its 250-bar window fills, then blocks entries while the market is
wild; the breaker pauses entries after a shock; the kill switch ends the account's trading at the
limit (the drawdown chart goes flat). The rails cut losses of a strategy that loses, and also the gains
of one that wins: they are limits on damage, not an edge.
""")
md("""
## 5 · A portfolio: several assets and strategies, one cash account

A portfolio is a list of **sleeves**: each a strategy with a capital `weight` trading some assets. Here
the shape of `portfolios/example.json`: an RSI mean-reversion sleeve (30 %) on BTC and ETH hourly bars,
and an SMA-crossover sleeve (40 %) on BTC daily bars (resampled from the hourly ones), with a stop-loss,
a trailing stop and exposure caps. Bars of all assets are processed in close-time order, so the daily
sleeve decides once a day while the hourly one decides every hour.

From the command line: `npx candlelab backtest --portfolio portfolios/example.json`.
""")
code("""
const btcDaily = cl.resampleCandles(btc, '1d').candles;
const noFeatures = (candles: cl.Candles) => cl.Frame.fromColumns(candles.time, {}, candles.meta);
const targetsOf = (definition: typeof sma | typeof cl.strategy.rsiMeanReversion, params: unknown, candles: cl.Candles): Float64Array => {
  const output = definition.targets({ candles: candles, features: noFeatures(candles) }, params as never);
  return output instanceof Float64Array ? output : output.targets;
};
const rsiParams = cl.strategy.rsiMeanReversion.params.parse({ period: 14, allowShort: true });
const swingParams = sma.params.parse({ fast: 10, slow: 50 });
const assets = [{ symbol: 'BTC/USDT', candles: btc }, { symbol: 'ETH/USDT', candles: eth }, { symbol: 'BTC/USDT daily', candles: btcDaily }];
const sleeves = [
  { name: 'scalp', weight: 0.3, targets: { 'BTC/USDT': targetsOf(cl.strategy.rsiMeanReversion, rsiParams, btc), 'ETH/USDT': targetsOf(cl.strategy.rsiMeanReversion, rsiParams, eth) } },
  { name: 'swing', weight: 0.4, targets: { 'BTC/USDT daily': targetsOf(sma, swingParams, btcDaily) } },
];
const portfolioSettings = { initialCash: 100000, commissionBps: 5, slippageBps: 2, exits: { stopLossPct: 0.03, trailingStopPct: 0.05 }, risk: { maxAssetExposure: 0.5, maxTotalExposure: 1, maxDrawdown: 0.4 } };
const portfolioResult = cl.backtest.runEngine(assets, sleeves, portfolioSettings);
const portfolio = { assets: assets, result: portfolioResult, report: cl.backtest.analyzeBacktest(portfolioResult, assets) };
cl.showValues(portfolio.report.metrics, 'Portfolio metrics');
const bySleeve = (['scalp', 'swing'] as const).flatMap((sleeve) => assets.map((a) => a.symbol).map((asset) => {
  const trades = portfolioResult.trades.filter((t) => t.sleeve === sleeve && t.asset === asset);
  return trades.length ? { sleeve: sleeve, asset: asset, trades: trades.length, pnl: trades.reduce((s, t) => s + t.pnl, 0), fees: trades.reduce((s, t) => s + t.fees, 0), winRate: trades.filter((t) => t.pnl > 0).length / trades.length } : undefined;
})).filter((row) => row !== undefined);
cl.showRecords(bySleeve as Array<Record<string, unknown>>, 'Trades by sleeve and asset');
cl.showChart(cl.report.equityFigure(portfolio, 'Portfolio equity'));
cl.showChart({
  data: [{ type: 'scatter', mode: 'lines', name: 'gross exposure', x: Array.from(portfolioResult.time, (t) => new Date(t).toISOString()), y: Array.from(portfolioResult.grossExposure) }],
  layout: { title: { text: 'Gross exposure / equity (maxTotalExposure 1)' }, yaxis: { tickformat: '.0%' } },
});
console.log(`portfolio: ${portfolioResult.trades.length} trades over ${assets.length} assets and ${sleeves.length} sleeves`);
""")
md("""
## From here

- `npx candlelab backtest specs/quickstart.json --set backtest.commissionBps=25` — any spec's backtest
  with other settings; `--sizing volatility-target:riskFraction=0.01` and the other flags in README.
- `npx candlelab backtest --portfolio portfolios/example.json` — the portfolio file above, with funding
  series for perpetuals if given.
- `docs/backtest.md` — the exact fill, cost, rounding and metric rules.
""")

nb.write(sys.argv[1] if len(sys.argv) > 1 else "notebooks/10-backtest-risk-portfolios.ipynb")
