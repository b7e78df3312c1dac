"""Writes notebooks/05-labels.ipynb (outputs cleared). Edit the cells here, then run this script."""
import os, sys
sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from notebook_cells import Notebook

nb = Notebook()
md, code = nb.md, nb.code

md("""
# 05 · Labels: every built-in labeler, its class balance, and what its horizon means

The labeler says what the model should predict. It is the **only stage allowed to look ahead**: the
label at row t is decided by bars after t, up to its **horizon**. That horizon matters twice: the rows
at the end (no future yet) have no label, and validation purges that many bars between training and
test rows so no training label is decided by test-period prices. Labels never join the feature columns.

Classification labelers also decide the **class balance**, which decides what a model can learn: a
threshold that makes 90 % of rows HOLD trains a model that always says HOLD. Runs flag such labels
(`dominant:` above 80 % of rows, `rare:` below 5 %) before any training.
""")
code("""
// Parameters: `candlelab notebook -p name=value` injects new values after this cell.
const bars = 24 * 120;   // hourly bars (120 days)
""", tags=["parameters"])
md("""
## 1 · The labelers

Every registered labeler with its params (type = default), task, and the horizon and warm-up rows
(`lookback`, for labelers with a trailing window) at the defaults.
""")
code("""
import * as cl from 'candlelab';

cl.initCharts();
const registry = cl.createRegistry();
const labelers = registry.list('labeler');
cl.showRecords(labelers.map((definition) => {
  const params = definition.params.parse({});
  return { id: definition.id, task: definition.task, doc: definition.doc, params: cl.plugins.formatParams(definition), horizon: definition.horizon(params), lookback: definition.lookback?.(params) ?? 0 };
}), `${labelers.length} built-in labelers`, 50);
console.log(`labelers: ${labelers.map((l) => l.id).join(', ')}`);
""")
md("""
## 2 · Running each one

Every labeler on the same seeded hourly market, with its defaults. `labelled` counts rows with a label;
the rest are the warm-up at the start and the horizon at the end.
""")
code("""
const candles = cl.data.generateSyntheticCandles({ seed: 5, symbol: 'BTC/USDT', timeframe: '1h', bars: bars, start: '2024-01-01T00:00:00Z' });
const results = labelers.map((definition) => {
  const { params } = registry.resolveWithParams('labeler', { id: definition.id });
  const output = definition.label(candles, params);
  const balance = output.classes ? cl.labels.classBalance(output.target, output.classes) : undefined;
  return { definition: definition, params: params, output: output, balance: balance };
});
cl.showRecords(results.map((r) => ({
  labeler: r.definition.id,
  task: r.definition.task,
  classes: r.output.classes?.join(' / ') ?? '(a number)',
  labelled: r.output.target.filter(Number.isFinite).length,
  'no label': r.output.target.length - r.output.target.filter(Number.isFinite).length,
  'event ends': r.output.eventEnd ? 'yes' : '',
  flags: r.balance?.flags.join(', ') || (r.balance ? 'balanced' : ''),
})), `Labels on ${candles.length} hourly bars`);
for (const r of results) console.log(`labeled ${r.definition.id}: ${r.output.target.filter(Number.isFinite).length} rows${r.balance ? ` — ${r.balance.classes.map((c) => `${c.name} ${(100 * c.fraction).toFixed(1)}%`).join(', ')}` : ''}`);
""")
md("""
## 3 · Class balance

The share of each class for every classification labeler. The three-class labelers at their defaults
are usable; `core/pattern` is rare-event labelling by design (most rows are "no pattern"), which a model
can only learn with class weights or a resampled training set.
""")
code("""
const classified = results.filter((r) => r.balance);
cl.showRecords(classified.flatMap((r) => r.balance!.classes.map((c) => ({ labeler: r.definition.id, class: c.name, rows: c.count, share: `${(100 * c.fraction).toFixed(1)} %` }))), 'Class balance', 100);
const classNames = [...new Set(classified.flatMap((r) => r.balance!.classes.map((c) => c.name)))];
cl.showChart({
  data: classNames.map((name) => ({
    x: classified.map((r) => r.definition.id),
    y: classified.map((r) => r.balance!.classes.find((c) => c.name === name)?.fraction ?? 0),
    type: 'bar',
    name: name,
  })),
  layout: { title: { text: 'Class shares by labeler (defaults)' }, barmode: 'stack', yaxis: { title: { text: 'share of labelled rows' }, tickformat: '.0%' } },
});
""")
md("""
The regression labeler (`core/future-return`) has no classes: its target is the return `bars` ahead.
Its distribution is what a regression model's loss sees — fat tails included.
""")
code("""
const regression = results.find((r) => r.definition.task === 'regression')!;
const values = Array.from(regression.output.target).filter(Number.isFinite);
const sorted = [...values].sort((a, b) => a - b);
const q = (p: number) => sorted[Math.floor(p * (sorted.length - 1))];
cl.showValues({ rows: values.length, mean: values.reduce((a, b) => a + b, 0) / values.length, p01: q(0.01), median: q(0.5), p99: q(0.99) }, `${regression.definition.id} ${JSON.stringify(regression.params)}`);
cl.showChart({ data: [{ x: values, type: 'histogram', nbinsx: 80, name: 'future return' }], layout: { title: { text: `${regression.definition.id}: distribution of the target` }, xaxis: { tickformat: '.1%' } } });
""")
md("""
## 4 · Thresholds move the balance

`core/direction` labels BUY when the return over the next 5 bars exceeds the threshold, SELL below minus
it, HOLD between. The threshold is the main dial of the class balance. `core/adaptive-direction` scales
it by trailing volatility instead, so that calm and wild periods get more similar balances — compare the
HOLD share month by month over two years of the same market (the range of the monthly shares is printed
below the chart): with a fixed threshold the HOLD share swings with the volatility regime (roughly doubling
from wild months to quiet ones on this seed); scaled by volatility it stays in a narrower band.
""")
code("""
const direction = registry.resolve('labeler', 'core/direction');
const thresholds = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.04];
const shares = thresholds.map((threshold) => cl.labels.classBalance(direction.label(candles, direction.params.parse({ threshold: threshold })).target, cl.labels.DIRECTION_CLASSES));
cl.showChart({
  data: cl.labels.DIRECTION_CLASSES.map((name, c) => ({ x: thresholds, y: shares.map((s) => s.classes[c].fraction), type: 'scatter', mode: 'lines+markers', name: name })),
  layout: { title: { text: 'core/direction (5 bars): class shares against the threshold' }, xaxis: { title: { text: 'threshold' }, type: 'log', tickformat: '.1%' }, yaxis: { tickformat: '.0%' } },
});
cl.showRecords(thresholds.map((threshold, i) => ({ threshold: threshold, flags: shares[i].flags.join(', ') || 'balanced', ...Object.fromEntries(shares[i].classes.map((c) => [c.name, `${(100 * c.fraction).toFixed(1)} %`])) })), 'core/direction by threshold');

// Two years of the same market (its volatility regimes need more than a few months to show).
const twoYears = cl.data.generateSyntheticCandles({ seed: 5, symbol: 'BTC/USDT', timeframe: '1h', bars: 24 * 730, start: '2022-01-01T00:00:00Z' });
const monthOf = (t: number) => new Date(t).toISOString().slice(0, 7);
const months = [...new Set(Array.from(twoYears.time, monthOf))];
const holdShareByMonth = (target: Float64Array) => months.map((m) => {
  const rows = Array.from(target).filter((v, i) => Number.isFinite(v) && monthOf(twoYears.time[i]) === m);
  return rows.filter((v) => v === cl.labels.HOLD).length / Math.max(1, rows.length);
});
const adaptiveLabeler = registry.resolve('labeler', 'core/adaptive-direction');
const fixed = direction.label(twoYears, direction.params.parse({})).target;
const adaptive = adaptiveLabeler.label(twoYears, adaptiveLabeler.params.parse({})).target;
cl.showChart({
  data: [
    { x: months, y: holdShareByMonth(fixed), type: 'bar', name: 'core/direction (fixed 0.5 %)' },
    { x: months, y: holdShareByMonth(adaptive), type: 'bar', name: 'core/adaptive-direction (k × volatility)' },
  ],
  layout: { title: { text: 'HOLD share by month over two years' }, barmode: 'group', yaxis: { tickformat: '.0%' } },
});
const range = (xs: number[]) => `${(100 * Math.min(...xs)).toFixed(0)}–${(100 * Math.max(...xs)).toFixed(0)} %`;
console.log(`monthly HOLD share: fixed threshold ${range(holdShareByMonth(fixed))}, adaptive ${range(holdShareByMonth(adaptive))}`);
""")
md("""
## 5 · Triple barrier: when was each label decided?

`core/triple-barrier` (López de Prado) puts a take-profit and a stop at ± k × volatility and a time
barrier `bars` ahead: the first one touched is the label. It also returns each row's **event end** — when
the label was decided — which purged validation uses instead of the fixed horizon.
""")
code("""
const barrier = results.find((r) => r.definition.id === 'core/triple-barrier')!;
const decidedAfter = Array.from(barrier.output.target, (v, i) => (Number.isFinite(v) ? (barrier.output.eventEnd![i] - candles.time[i]) / 3_600_000 : NaN));
cl.showChart({
  data: barrier.output.classes!.map((name, c) => ({ x: decidedAfter.filter((_, i) => barrier.output.target[i] === c), type: 'histogram', name: name, xbins: { start: 0.5, end: barrier.definition.horizon(barrier.params) + 0.5, size: 1 } })),
  layout: { title: { text: 'Triple barrier: bars until the label was decided, by class' }, barmode: 'stack', xaxis: { title: { text: 'bars after the row' } } },
});
const decided = decidedAfter.filter(Number.isFinite);
console.log(`triple-barrier: median ${[...decided].sort((a, b) => a - b)[Math.floor(decided.length / 2)]} bars to decide, longest ${Math.max(...decided)} (horizon ${barrier.definition.horizon(barrier.params)})`);
""")
md("""
## 6 · Labels on the chart, and an honest horizon

The last 10 days with `core/direction`'s labels on the close. Then a check every labeler must pass for
purging to be right: labelling only the first *n* rows must give the same labels as the full series on
every row it labels (a label, once given, is final), and no label may use bars beyond the declared
horizon — fixed-horizon labelers leave the last `horizon` rows unlabelled; the triple barrier may label a
late row as soon as a barrier is touched, and its event ends show it never needed more than `horizon` bars.
""")
code("""
const tail = candles.slice(candles.length - 240);
const directionTarget = results.find((r) => r.definition.id === 'core/direction')!.output.target;
const tailLabels = directionTarget.subarray(candles.length - 240);
const colours = ['red', 'grey', 'green'];
cl.showChart({
  data: [
    { x: Array.from(tail.time, cl.isoTime), y: Array.from(tail.column('close')), type: 'scatter', mode: 'lines', name: 'close', line: { color: '#999' } },
    ...cl.labels.DIRECTION_CLASSES.map((name, c) => {
      const rows = Array.from(tailLabels, (v, i) => (v === c ? i : -1)).filter((i) => i >= 0);
      return { x: rows.map((i) => cl.isoTime(tail.time[i])), y: rows.map((i) => tail.column('close')[i]), type: 'scatter', mode: 'markers', name: name, marker: { color: colours[c], size: 5 } };
    }),
  ],
  layout: { title: { text: 'core/direction labels on the close (last 10 days; the last 5 bars have none)' } },
});
const n = 1700;
const horizonCheck = results.map((r) => {
  const horizon = r.definition.horizon(r.params);
  const onPrefix = r.definition.label(candles.slice(0, n), r.params).target;
  let differ = 0;
  let lastLabelled = -1;
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(onPrefix[i])) continue;
    lastLabelled = i;
    if (!Object.is(onPrefix[i], r.output.target[i])) differ++;
  }
  // Event-based labels (triple barrier) may label a late row once a barrier is touched: their event ends
  // must then stay within the horizon. Fixed-horizon labels must leave the last `horizon` rows unlabelled.
  const ends = r.output.eventEnd;
  const step = 3_600_000;
  const lookahead = ends ? Math.max(...Array.from(r.output.target, (v, i) => (Number.isFinite(v) ? (ends[i] - candles.time[i]) / step : 0))) : undefined;
  const withinHorizon = lookahead !== undefined ? lookahead <= horizon : n - 1 - lastLabelled >= horizon;
  return { labeler: r.definition.id, horizon: horizon, 'differ from full': differ, 'unlabelled at the end': n - 1 - lastLabelled, 'longest event (bars)': lookahead ?? '', ok: differ === 0 && withinHorizon };
});
cl.showRecords(horizonCheck, `Labels on the first ${n} rows against the full series`);
console.log(`horizon check: ${horizonCheck.filter((h) => h.ok).length} of ${horizonCheck.length} labelers pass`);
""")

nb.write(sys.argv[1] if len(sys.argv) > 1 else "notebooks/05-labels.ipynb")
