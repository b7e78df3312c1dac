"""Writes notebooks/12-plugin-authoring.ipynb (outputs cleared). Edit the cells here, then run this script."""
import os, sys
sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from notebook_cells import Notebook

nb = Notebook()
md, code = nb.md, nb.code

md("""
# 12 · Plugin authoring: define, check, join a data source, scaffold a package

Everything a run uses — data sources, features, labelers, models, strategies, splitters — is a
**definition** registered by a **plugin**. The built-ins are the `core` plugin, written with the same
`defineX` functions you use. This notebook:

1. lists what is registered;
2. writes a feature in a cell and runs its **contract suite** (`checkFeature` from `candlelab/testing`):
   the exact warm-up, causality on prefixes, the declared outputs, determinism;
3. shows the suite catching a **look-ahead** bug, naming the feature, the row and the column;
4. adds a **data source** (`defineSource`): an external series with publication times, joined to the
   candles causally through the spec's `data.side`, checked for point-in-time correctness;
5. runs a spec that uses both, and compares it with the same spec without them;
6. scaffolds a plugin **package** with `scaffoldPlugin` (what `candlelab plugin new` does), builds it
   and runs its contract suites (what `candlelab plugin test <dir>` does).

It uses half a year of the seeded sample market and a small XGBoost model, so it runs in well under a minute.
""")
code("""
// Parameters: `candlelab notebook -p name=value` injects new values after this cell.
const bars = 4000;
""", tags=["parameters"])
code("""
import * as cl from 'candlelab';
import * as testing from 'candlelab/testing';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

cl.initCharts();
const registry = cl.createRegistry();
const kinds = ['source', 'feature', 'labeler', 'model', 'strategy', 'splitter'] as const;
cl.showRecords(kinds.map((kind) => ({ kind, registered: registry.list(kind).length, examples: registry.list(kind).slice(0, 4).map((d) => d.id).join(', ') })), 'What the core plugin registers');
cl.showRecords(registry.list('source').map((d) => ({ id: d.id, provides: d.provides, doc: d.doc })), 'Data sources (data.source names a candle source; data.side lists column sources)');
""")
md("""
## 1 · A feature, and its contract

A feature returns causal columns: row *t* may use rows ≤ *t* only. `lookback` says how many leading
rows are warm-up (NaN); `outputs` names the columns. `checkFeature` computes it on 2,000 seeded bars
and on prefixes of them, and throws a `ContractError` on the first broken promise; it returns the
checks it passed.
""")
code("""
const rangePosition = cl.defineFeature({
  id: 'notebook/range-position',
  version: '1.0.0',
  doc: 'Where the close sits in the high–low range of the last `window` bars (0 = at the low, 1 = at the high).',
  params: cl.z.object({ window: cl.z.number().int().min(2).default(24) }),
  lookback: (p) => p.window - 1,
  outputs: (p) => [`range_position_${p.window}`],
  compute: (candles, p) => {
    const high = candles.column('high');
    const low = candles.column('low');
    const close = candles.column('close');
    const out = new Float64Array(close.length).fill(NaN);
    for (let i = p.window - 1; i < close.length; i++) {
      let hi = -Infinity;
      let lo = Infinity;
      for (let k = i - p.window + 1; k <= i; k++) { hi = Math.max(hi, high[k]); lo = Math.min(lo, low[k]); }
      out[i] = hi > lo ? (close[i] - lo) / (hi - lo) : 0.5;
    }
    return { [`range_position_${p.window}`]: out };
  },
});
const passed = testing.checkFeature(rangePosition);
cl.showRecords(passed.checks.map((check) => ({ feature: passed.id, check, result: 'passed' })), 'checkFeature');
""")
md("""
## 2 · The same suite catches look-ahead

A common bug: a "smoothed" value centred on the row, which averages the bars after it too. Its
backtest would look excellent and be worthless. The suite computes it on the first 700 rows and on all
2,000; row 698 differs, so it fails with the feature, the row and the column in the message.
""")
code("""
const centred = cl.defineFeature({
  id: 'notebook/centred-mean',
  version: '1.0.0',
  doc: 'A centred 5-bar mean of the close (looks two bars ahead: a bug).',
  params: cl.z.object({}),
  lookback: () => 2,
  outputs: () => ['centred_mean_5'],
  compute: (candles) => {
    const close = candles.column('close');
    const out = new Float64Array(close.length).fill(NaN);
    for (let i = 2; i < close.length; i++) {
      const last = Math.min(close.length - 1, i + 2); // at the end, the bars that exist
      let sum = 0;
      for (let k = i - 2; k <= last; k++) sum += close[k];
      out[i] = sum / (last - i + 3);
    }
    return { centred_mean_5: out };
  },
});
function contractMessage(run: () => unknown): string {
  try {
    run();
    return 'passed';
  } catch (error) {
    return (error as Error).message;
  }
}
console.log(`contract: ${contractMessage(() => testing.checkFeature(centred))}`);
""")
md("""
## 3 · A data source: an external series, joined causally

Order-book, on-chain, sentiment or liquidation data come from somewhere else, on their own clock. A
**column source** returns its rows with `knownAt`, the time each value was *published*; the loader
gives each bar the latest row known strictly before the bar's close. Here: a seeded "funding pressure"
reading every 8 hours, published 30 minutes after its period ends. Computing each row from a fixed
origin keeps it **point in time** — loading fewer bars never changes a row — which `checkSource` tests.
""")
code("""
const HOUR = 3_600_000;
const ORIGIN = Date.UTC(2018, 0, 1);
const pressure = cl.defineSource({
  id: 'notebook/funding-pressure',
  version: '1.0.0',
  doc: 'A seeded funding-pressure reading every 8 hours, published 30 minutes after its period.',
  provides: 'columns',
  params: cl.z.object({ seed: cl.z.number().int().default(5), delayMinutes: cl.z.number().int().min(0).default(30) }),
  outputs: () => ['funding_pressure'],
  load: (p, context) => {
    const times = context.barTimes!;
    const knownAt: number[] = [];
    const values: number[] = [];
    let state = p.seed;
    let level = 0;
    for (let t = ORIGIN; t < times[times.length - 1] + 24 * HOUR; t += 8 * HOUR) {
      state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
      level = 0.9 * level + (state / 2_147_483_648 - 0.5);
      if (t + 8 * HOUR >= times[0] - 7 * 24 * HOUR) {
        knownAt.push(t + 8 * HOUR + p.delayMinutes * 60_000);
        values.push(level);
      }
    }
    return { knownAt: Float64Array.from(knownAt), columns: { funding_pressure: Float64Array.from(values) } };
  },
});
const sourceCheck = await testing.checkSource(pressure);
cl.showRecords(sourceCheck.checks.map((check) => ({ source: sourceCheck.id, check, result: 'passed' })), 'checkSource');
""")
md("""
A plugin bundles the definitions; a run context takes plugin objects directly (a spec file names
plugin packages in `"plugins"`). The spec's `data.side` joins the source; a feature reads the
column like any other (`core/interaction` here multiplies it with the range position).
""")
code("""
const notebookPlugin = cl.definePlugin({ id: 'notebook-plugin', version: '0.1.0', features: [rangePosition], sources: [pressure] });
function specWith(extra: boolean) {
  return {
    name: extra ? 'nb-plugin' : 'nb-plugin-baseline',
    seed: 3,
    data: { source: 'sample' as const, seed: 42, bars: bars, ...(extra ? { side: [{ id: 'notebook/funding-pressure' }] } : {}) },
    features: [
      { id: 'core/returns', params: { periods: [1, 4, 24] } },
      { id: 'core/rsi', params: { period: 14 } },
      ...(extra ? [{ id: 'notebook/range-position', params: { window: 24 } }, { id: 'core/interaction', params: { a: 'funding_pressure', b: 'range_position_24', op: 'product' } }] : []),
    ],
    label: { id: 'core/direction', params: { bars: 5, threshold: 0.005 } },
    model: { id: 'core/xgboost', params: { rounds: 40, maxDepth: 3, threads: 2 } },
    strategy: { id: 'core/probability-threshold', params: { buyThreshold: 0.45 } },
    register: false,
  };
}
const withPlugin = cl.createRunContext(specWith(true), { plugins: [notebookPlugin], progress: 'quiet', log: () => {} });
const joined = cl.loadCandles(withPlugin);
const firstBars = joined.slice(0, 40);
const times = Array.from(firstBars.time);
const readings = Array.from(firstBars.column('funding_pressure' as 'close'));
cl.showRecords(times.slice(0, 12).map((t, i) => ({ bar: new Date(t).toISOString().slice(0, 16), closes: new Date(t + HOUR).toISOString().slice(11, 16), funding_pressure: Number.isNaN(readings[i]) ? 'not yet published' : readings[i].toFixed(4) })), 'Each bar sees the latest reading published before its close');
cl.showChart({
  data: [{ type: 'scatter', mode: 'lines', line: { shape: 'hv' }, x: times.map((t) => new Date(t).toISOString()), y: readings, name: 'funding_pressure' }],
  layout: { title: 'A side column on the bars: a step at each publication', height: 300, xaxis: { title: 'bar open (UTC)' } },
});
""")
md("""
## 4 · A run with the plugin, and without

The same stage functions as any run; the report table compares the two. On the synthetic market the
extra columns carry no real information, so expect no reliable gain: this is a wiring example, not an
edge.
""")
code("""
async function runOnce(extra: boolean) {
  const run = await cl.runStages(cl.createRunContext(specWith(extra), { plugins: [notebookPlugin], progress: 'quiet', log: () => {} }));
  try {
    const m = run.backtest.report.metrics;
    const auc = run.evaluation.task === 'classification' ? run.evaluation.test.rocAucMacro : null;
    return { run: extra ? 'with the plugin' : 'baseline', features: run.features.names.join(', '), 'test ROC-AUC': auc === null ? '—' : auc.toFixed(3), 'total return': `${(100 * m.totalReturn).toFixed(2)}%`, trades: m.numTrades };
  } finally {
    run.trained.model.dispose();
  }
}
const comparison = [await runOnce(false), await runOnce(true)];
cl.showRecords(comparison, 'The spec with and without the plugin');
""")
md("""
## 5 · A plugin package: scaffold, build, check

`candlelab plugin new my-signals --kind strategy` writes a package (TypeScript source, a vitest
file running its contract, package.json with build and test scripts, a README) into `plugins/` of the
workspace, or anywhere with `--dir`. `candlelab plugin test <dir>` builds it when `dist/` is stale and
runs every definition through its suite; CI runs the same on the built-ins and the example plugin.
Here it goes into a temporary folder.
""")
code("""
const scaffoldDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'candlelab-nb-')), 'my-signals');
const made = cl.scaffoldPlugin({ name: 'my-signals', kind: 'strategy', dir: scaffoldDir, workspaceRoot: process.cwd() });
cl.showValues({ id: made.id, folder: made.dir, files: made.files.join(', ') }, 'candlelab plugin new my-signals --kind strategy');
const folder = cl.loadPluginFolder(made.dir);
const entries = await testing.checkPlugin(folder.plugin);
cl.showRecords(entries.map((e) => ({ kind: e.kind, id: e.id, ok: e.ok, checks: e.checks.join('; ') })), `candlelab plugin test (built: ${folder.built})`);
console.log(`${entries.filter((e) => e.ok).length} of ${entries.length} definition(s) keep the contract`);
fs.rmSync(path.dirname(scaffoldDir), { recursive: true, force: true });
""")
md("""
## Where next

- `README.md`, "Writing a plugin": the contract of each kind, `exampleParams`, sources and `data.side`.
- `plugins/example/`: a package with a sentiment source, two features and a strategy
  (`npx candlelab plugin test plugins/example`).
- `npx candlelab plugins list`: every registered definition with its params.
""")

nb.write(sys.argv[1] if len(sys.argv) > 1 else "notebooks/12-plugin-authoring.ipynb")
