"""Writes notebooks/03-data.ipynb (outputs cleared). Edit the cells here, then run this script."""
import os, sys
sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from notebook_cells import Notebook

nb = Notebook()
md, code = nb.md, nb.code

md("""
# 03 · Data: download, store, check, fill, resample, align — and explore with danfo

The data stage turns an exchange's candles into a series every later stage can trust:

1. **download** closed candles through ccxt, page by page, into the **Arrow store** (`data/`), resuming
   where the store ends;
2. **check** them: errors (NaN, impossible OHLC, repeated times) stop a run, warnings (gaps, outlier
   candles) are reported and recorded in the run;
3. apply a **missing-data policy** to gaps;
4. **resample** to longer timeframes and **align** several series on one grid without look-ahead.

The exchange here is the project's **fake exchange** (a Binance stand-in on 127.0.0.1 speaking the real
REST format) serving the seeded synthetic market, so this runs offline. To make the checks find
something, its BTC/USDT series has a six-hour outage and one bad tick.
""")
code("""
// Parameters: `candlelab notebook -p name=value` injects new values after this cell.
const bars = 24 * 60;   // hourly bars per symbol (60 days)
""", tags=["parameters"])
md("""
## 1 · Download into the store

`cl.fetchCandles` is what `candlelab download` runs. `apiUrl` points ccxt's Binance at the fake
exchange; everything else (pagination, rate limits, retries, the exchange clock deciding which candles
are closed) is the real code path.
""")
code("""
import * as fs from 'fs';
import * as cl from 'candlelab';
import { startFakeExchange } from 'candlelab/testing';

cl.initCharts();
const HOUR = 3_600_000;
const start = '2024-01-01T00:00:00Z';
const btcMarket = cl.data.generateSyntheticCandles({ seed: 7, symbol: 'BTC/USDT', timeframe: '1h', bars: bars, start: start });
const ethMarket = cl.data.generateSyntheticCandles({ seed: 8, symbol: 'ETH/USDT', timeframe: '1h', bars: bars, start: start });

// BTC/USDT as the exchange serves it: rows 500-505 missing (an outage) and a bad tick at row 900.
function damaged(candles: cl.Candles): cl.Candles {
  const keep = Array.from(candles.time, (_, i) => i).filter((i) => i < 500 || i > 505);
  const pick = (values: Float64Array) => Float64Array.from(keep, (i) => values[i]);
  const close = pick(candles.column('close'));
  const high = pick(candles.column('high'));
  const bad = keep.indexOf(900);
  close[bad] *= 1.6;
  high[bad] = Math.max(high[bad], close[bad]);
  return cl.Frame.fromColumns(pick(candles.time), { open: pick(candles.column('open')), high: high, low: pick(candles.column('low')), close: close, volume: pick(candles.column('volume')) }, candles.meta);
}
const exchange = await startFakeExchange({
  datasets: [
    { market: 'spot', symbol: 'BTC/USDT', timeframe: '1h', candles: damaged(btcMarket) },
    { market: 'spot', symbol: 'ETH/USDT', timeframe: '1h', candles: ethMarket },
  ],
});
const downloads = [];
for (const symbol of ['BTC/USDT', 'ETH/USDT']) {
  downloads.push(await cl.fetchCandles({ exchange: 'binance', market: 'spot', apiUrl: exchange.url, symbol: symbol, timeframe: '1h', from: start, pageSize: 500, progress: 'quiet' }));
}
cl.showRecords(downloads.map((d) => ({ store: d.storeId, added: d.added, total: d.total, first: d.first, last: d.last, requests: d.requests, seconds: d.seconds })), 'Downloaded');
""")
md("""
Downloading again asks only for what the store lacks: the store already ends at the exchange's last
closed candle, so there is nothing to request.
""")
code("""
const again = await cl.fetchCandles({ exchange: 'binance', market: 'spot', apiUrl: exchange.url, symbol: 'BTC/USDT', timeframe: '1h', from: start, pageSize: 500, progress: 'quiet' });
console.log(`second download: ${again.added} added, ${again.total} stored, ${again.requests} request(s)`);
await exchange.close();
""")
md("""
## 2 · The Arrow store

One Arrow IPC file per exchange, market, symbol and timeframe (`data/<exchange>/<market>/<SYMBOL>/<tf>.arrow`),
merged on write (new times added, repeated times replaced) under a lock. `listStore` is `candlelab data list`;
`readStore` loads a series as a `Frame`: a `time` index (epoch ms) and Float64Array columns.
""")
code("""
const workspace = cl.openWorkspace();
cl.showRecords(cl.listStore(workspace.dataDir).map((e) => ({ exchange: e.exchange, market: e.market, symbol: e.symbol, timeframe: e.timeframe, rows: e.rows, first: cl.isoTime(e.first), last: cl.isoTime(e.last), bytes: fs.statSync(e.file).size })), 'The store');
const btcKey = { exchange: 'binance', market: 'spot' as const, symbol: 'BTC/USDT', timeframe: '1h' };
const ethKey = { exchange: 'binance', market: 'spot' as const, symbol: 'ETH/USDT', timeframe: '1h' };
const btc = cl.readStore(btcKey, workspace.dataDir)!;
const eth = cl.readStore(ethKey, workspace.dataDir)!;
cl.showFrame(btc, 5);
""")
md("""
Writing is `mergeIntoStore`: here a copy of ETH/USDT under another exchange name, written in two
overlapping halves: the second write adds only the rows the first lacked.
""")
code("""
const copyKey = { exchange: 'notebook', market: 'spot' as const, symbol: 'ETH/USDT', timeframe: '1h' };
const firstHalf = cl.mergeIntoStore(copyKey, eth.slice(0, 800), workspace.dataDir);
const secondHalf = cl.mergeIntoStore(copyKey, eth.slice(600), workspace.dataDir);
const copy = cl.readStore(copyKey, workspace.dataDir)!;
const identical = copy.length === eth.length && eth.names.every((name) => copy.column(name).every((v, i) => v === eth.column(name)[i]));
cl.showValues({ firstWrite: `${firstHalf.added} added`, secondWrite: `${secondHalf.added} added, ${secondHalf.replaced} replaced`, stored: copy.length, identicalToSource: identical }, 'mergeIntoStore');
""")
md("""
## 3 · Quality checks

`checkQuality` is what every run does before anything else (and `candlelab data check`). Errors make the
data unusable; warnings are kept in the run record. Outliers are judged by a robust z-score of the log
return and of the high/low range against the median and MAD of their block of rows, so fat tails and
volatile regimes do not flag, bad ticks do.
""")
code("""
const btcQuality = cl.checkQuality(btc);
const ethQuality = cl.checkQuality(eth);
cl.showValues({ 'BTC/USDT ok': btcQuality.ok, 'BTC/USDT issues': btcQuality.issues.length, 'ETH/USDT ok': ethQuality.ok, 'ETH/USDT issues': ethQuality.issues.length }, 'Quality');
cl.showRecords(btcQuality.issues.map((issue) => ({ kind: issue.kind, severity: issue.severity, count: issue.count, first: issue.first.join(', '), detail: issue.detail ?? '' })), 'BTC/USDT findings');
for (const issue of btcQuality.issues) console.log(`quality: ${issue.kind} ×${issue.count} (${issue.severity}) first at ${issue.first[0]}`);
""")
md("""
## 4 · Missing-data policies

A gap is a run of grid slots without a row. The policies (`data.missing` in a spec):

| policy | the missing close is | causal |
|---|---|---|
| `drop` | not made: the gap stays | yes |
| `ffill` | the last close (a flat bar) | yes |
| `interpolate` | a straight line to the first close after the gap | **no** — research data only |
| `regression` | a least-squares line through the 5 closes before the gap, extrapolated | yes |

Filled bars get volume 0 and `filled = 1`, so features and strategies can see them.
""")
code("""
const policies = cl.quality.MISSING_DATA_POLICIES;
const filled = Object.fromEntries(policies.map((policy) => [policy, cl.applyMissingDataPolicy(btc, policy)]));
cl.showRecords(policies.map((policy) => ({ policy: policy, rows: filled[policy].candles.length, gaps: filled[policy].report.gaps, filled: filled[policy].report.filled, dropped: filled[policy].report.dropped })), 'Missing-data policies on BTC/USDT');
const gapStart = btcMarket.time[494];
const gapEnd = btcMarket.time[512];
const around = (candles: cl.Candles) => Array.from(candles.time, (t, i) => i).filter((i) => candles.time[i] >= gapStart && candles.time[i] <= gapEnd);
cl.showChart({
  data: [
    ...policies.filter((p) => p !== 'drop').map((policy) => {
      const c = filled[policy].candles;
      const rows = around(c);
      return { x: rows.map((i) => cl.isoTime(c.time[i])), y: rows.map((i) => c.column('close')[i]), type: 'scatter', mode: 'lines+markers', name: policy };
    }),
    { x: around(btcMarket).map((i) => cl.isoTime(btcMarket.time[i])), y: around(btcMarket).map((i) => btcMarket.column('close')[i]), type: 'scatter', mode: 'markers', name: 'true market (hidden by the outage)', marker: { symbol: 'x', size: 9 } },
  ],
  layout: { title: { text: 'Closes through the six-hour gap, by policy' }, yaxis: { title: { text: 'USDT' } } },
});
// The policies mend gaps, not bad ticks: the outlier stays flagged (a spec's repair or a manual fix handles it).
const btcClean = filled['ffill'].candles;
console.log(`after ffill: ${cl.checkQuality(btcClean).issues.map((i) => i.kind).join(', ')}`);
""")
md("""
## 5 · Resampling

`resampleCandles` builds longer bars from shorter ones (open of the first, max high, min low, close of
the last, summed volume). A bar is only complete when all its base bars are there: by default a partial
first bar is dropped. `closeTime` is when each bar closed — what alignment uses.
""")
code("""
const btc4h = cl.resampleCandles(btcClean, '4h');
const btc1d = cl.resampleCandles(btcClean, '1d');
cl.showValues({ '1h bars': btcClean.length, '4h bars': btc4h.candles.length, '1d bars': btc1d.candles.length, 'first 4h bar': cl.isoTime(btc4h.candles.time[0]), 'it closed at': cl.isoTime(btc4h.closeTime[0]) }, 'Resampled BTC/USDT');
cl.showFrame(btc4h.candles, 4);
const lastDays = (c: cl.Candles, n: number) => c.slice(c.length - n);
const candlestick = (c: cl.Candles, name: string) => ({ x: Array.from(c.time, cl.isoTime), open: Array.from(c.column('open')), high: Array.from(c.column('high')), low: Array.from(c.column('low')), close: Array.from(c.column('close')), type: 'candlestick', name: name });
cl.showChart({ data: [candlestick(lastDays(btc1d.candles, 30), '1d')], layout: { title: { text: 'BTC/USDT daily candles, resampled from 1h' }, xaxis: { rangeslider: { visible: false } } } });
""")
md("""
## 6 · Aligning series

`alignFrames` puts other series on the base grid **as of each base bar's close**: a 4h bar reaches the
1h rows only once it has closed, ETH's bar reaches the BTC row that closes with it. Row t therefore sees
nothing that was not known at t — which the check below confirms by aligning a prefix.
""")
code("""
const aligned = cl.alignFrames(btcClean.select(['close']), [
  { frame: eth.select(['close']), prefix: 'eth_' },
  { frame: btc4h.candles.select(['close']), prefix: 'h4_', timeframe: '4h' },
]);
cl.showFrame(aligned.slice(0, 9), 9);
const prefixRows = 777;
const alignedPrefix = cl.alignFrames(btcClean.slice(0, prefixRows).select(['close']), [
  { frame: eth.select(['close']), prefix: 'eth_' },
  { frame: cl.resampleCandles(btcClean.slice(0, prefixRows), '4h').candles.select(['close']), prefix: 'h4_', timeframe: '4h' },
]);
const same = alignedPrefix.names.every((name) => alignedPrefix.column(name).every((v, i) => Object.is(v, aligned.column(name)[i])));
console.log(`alignment on the first ${prefixRows} rows equals the full alignment's first rows: ${same}`);
const returns = (values: Float64Array) => Float64Array.from(values, (v, i) => (i === 0 ? NaN : v / values[i - 1] - 1));
const rBtc = returns(aligned.column('close'));
const rEth = returns(aligned.column('eth_close'));
const pairs = Array.from(rBtc, (v, i) => [v, rEth[i]]).filter(([a, b]) => Number.isFinite(a) && Number.isFinite(b));
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const [ma, mb] = [mean(pairs.map((p) => p[0])), mean(pairs.map((p) => p[1]))];
const cov = mean(pairs.map(([a, b]) => (a - ma) * (b - mb)));
const corr = cov / Math.sqrt(mean(pairs.map(([a]) => (a - ma) ** 2)) * mean(pairs.map(([, b]) => (b - mb) ** 2)));
// (the two synthetic markets come from independent seeds: expect a correlation near 0)
console.log(`BTC/ETH hourly return correlation: ${corr.toFixed(3)} over ${pairs.length} bars`);
""")
md("""
## 7 · Exploring with danfo

[danfo.js](https://danfo.jsdata.org) gives pandas-style DataFrames. `cl.toDanfo(frame)` makes one
(the index holds the epoch-ms times; `timeColumn: true` adds them as a `time` column, which survives a
`groupby`), `cl.showDanfo(df)` shows it as a table, and `cl.fromDanfo(df, { meta })` turns a result back
into a `Frame` for the next stage. danfo keeps its data as row arrays, so each conversion copies: use it
to explore, not in hot loops.

First `describe()` of hourly returns and volume. danfo's statistics do not skip NaN, so the first row
(no previous close) is dropped with `dropNa()`.
""")
code("""
const btcRet = returns(btcClean.column('close'));
const df = cl.toDanfo(btcClean.withColumns({ ret: btcRet }).select(['ret', 'volume']), { timeColumn: true });
cl.showDanfo(df.head(5), 'toDanfo(BTC/USDT) — first rows');
cl.showDanfo(df.dropNa().loc({ columns: ['ret', 'volume'] }).describe(), 'describe()');
""")
md("""
**groupby**: the mean return, mean absolute return and volume by hour of the day (UTC). On exchange
data this shows the sessions' intraday cycle; here it shows what the synthetic generator does. Note the
extremes in `describe()`: the bad tick of section 3 (+60 %, then −38 %) — statistics are the quickest way
to see why the quality checks exist.
""")
code("""
df.addColumn('hour', (df.column('time').values as number[]).map((t) => new Date(t).getUTCHours()), { inplace: true });
df.addColumn('absret', df.column('ret').abs(), { inplace: true });
const byHour = df.dropNa().groupby(['hour']).col(['ret', 'absret', 'volume']).mean().sortValues('hour');
cl.showDanfo(byHour.head(6), 'groupby(hour).mean()');
cl.showChart({
  data: [{ x: byHour.column('hour').values, y: byHour.column('volume_mean').values, type: 'bar', name: 'mean volume' }],
  layout: { title: { text: 'BTC/USDT mean volume by hour of day (UTC)' }, xaxis: { title: { text: 'hour' } } },
});
""")
md("""
**rolling**: danfo 1.2 has no `rolling()`; a rolling mean is a difference of cumulative sums
(`cumSum()`), done here for a 24-bar mean absolute return (a volatility proxy).
""")
code("""
const window = 24;
const cum = df.column('absret').fillNa(0).cumSum().values as number[];
const rolling = cum.map((c, i) => (i < window ? NaN : (c - cum[i - window]) / window));
df.addColumn('vol24', rolling, { inplace: true });
cl.showDanfo(df.loc({ columns: ['ret', 'absret', 'vol24'] }).tail(3), 'rolling 24-bar mean |return|');
const lastRow = btcRet.length - 1;
const direct = Array.from(btcRet.subarray(lastRow - window + 1)).reduce((a, b) => a + Math.abs(b), 0) / window;
console.log(`rolling check: vol24 at the last row ${rolling[lastRow].toFixed(6)}, direct mean of the last ${window} |returns| ${direct.toFixed(6)}`);
""")
md("""
**Back into the pipeline.** A seasonal feature from the exploration: each bar's volume against the
mean volume of its hour of day. The hourly means are taken on the **first 70 % of rows only** (the
training part a spec's split would use), so the later rows' feature does not peek at their own data.
`fromDanfo` returns a `Frame`, whose column then goes to the features stage: `core/interaction`
multiplies it with `core/returns`' one-bar return, as a spec would.
""")
code("""
const trainRows = Math.floor(0.7 * df.shape[0]);
const trainMeans = df.iloc({ rows: [`1:${trainRows}`] }).groupby(['hour']).col(['volume']).mean();
const hourMean = new Map((trainMeans.column('hour').values as number[]).map((h, i) => [h, (trainMeans.column('volume_mean').values as number[])[i]]));
const ratio = df.column('volume').div(df.column('hour').map((h) => hourMean.get(h as number) ?? NaN));
const seasonal = cl.fromDanfo(ratio, { meta: btcClean.meta });
const withSeasonal = btcClean.withColumns({ volume_vs_hour: seasonal.column('volume') }) as cl.Candles;
const registry = cl.createRegistry();
const staged = cl.features.computeFeatures(withSeasonal, [
  { id: 'core/returns', params: { periods: [1] } },
  { id: 'core/interaction', params: { a: 'volume_vs_hour', b: 'ret_1', op: 'product' } },
], registry);
cl.showFrame(staged.frame.slice(staged.lookback), 5);
console.log(`danfo → pipeline: ${seasonal.length} rows back as a Frame, times identical: ${seasonal.time.every((t, i) => t === btcClean.time[i])}; features stage made ${staged.names.join(', ')}`);
""")

nb.write(sys.argv[1] if len(sys.argv) > 1 else "notebooks/03-data.ipynb")
