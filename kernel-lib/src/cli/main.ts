#!/usr/bin/env node
import * as path from 'node:path';
import { Command, Option } from 'commander';
import { CandlelabError } from '../errors';
import { CANDLELAB_VERSION } from '../version';
import { runSpec } from '../runner/run-spec';
import { runNotebook } from '../notebook/run-notebook';
import { compareRuns } from '../runner/compare-runs';
import { baselineLine } from '../runner/run-record';
import { QUICK_BARS, QUICK_PARAM_CAPS, quickSpec } from '../runner/quick-spec';
import { isMultiCoinSpec, loadSpec, type LoadedSpec } from '../spec/spec';
import { runCoinSpec, type CoinSpecRun } from '../runner/coin-run';
import { generateSyntheticCandles } from '../data/synthetic';
import { writeArrowFile } from '../data/arrow-file';
import { writeCandlesCsv } from '../data/csv-file';
import { registerDataCommands } from './data-commands';
import { createRegistry } from '../plugins/core-plugin';
import { ModelRegistry } from '../registry/model-registry';
import { openWorkspace } from '../workspace';
import { ConfigError } from '../errors';
import { parseDefinitionArg, parseSizing, runBacktestCommand, runPortfolioCommand, type BacktestRunRecord } from '../runner/backtest-run';
import { loadNamedCandles } from '../data/load-candles';
import { computeFeatures, featureContext } from '../features/compute-features';
import { classBalance } from '../labels/core-labelers';
import { catalogueEntry, formatParams } from '../plugins/describe';
import type { Frame } from '../frame/frame';
import type { BacktestSettingsInput } from '../backtest/settings';
import { registerExchangeCommands } from './exchange-commands';
import { registerRegistryCommands } from './registry-commands';
import { registerPluginCommands } from './plugin-commands';
import { registerTuneCommand } from './tune-command';
import { registerTradingCommands } from './trading-commands';
import { registerFakeExchangeCommand } from './fake-exchange-command';
import { registerServeCommand } from './serve-command';
import { registerAlertCommands } from './alert-commands';
import { collect } from './option-parsers';

/** --timeout: seconds > 0, or a one-line error. */
function positiveSeconds(value: string): number {
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new ConfigError(`--timeout ${value}: give the seconds a cell may run, a number above 0 (e.g. --timeout 600)`);
  return seconds;
}
import { registerScheduleCommand } from './schedule-command';
import { addJobOptions, cancelOnSigint, jobRunnerFromOptions, registerJobCommands } from './jobs-commands';


const percent = (x: number | null): string => (x === null ? '—' : `${(100 * x).toFixed(2)}%`);
const number = (x: number | null, digits = 2): string => (x === null ? '—' : x.toFixed(digits));


/** The backtest summary: JSON, or the headline metrics and regimes. */
function printBacktest(record: BacktestRunRecord, runDir: string, json: boolean): void {
  if (json) {
    console.log(JSON.stringify({ ...record, runDir, report: path.join(runDir, 'report.html') }, null, 2));
    return;
  }
  const m = record.metrics;
  const data = record.data.map((d) => `${d.symbol} ${d.timeframe} (${d.rows} bars, ${d.from} … ${d.to})`).join(' + ');
  console.log(`backtest ${record.strategies.map((s) => (s.name === s.id ? s.id : `${s.name}=${s.id}`)).join(' + ')} on ${data}`);
  console.log(`  report:        ${path.relative(process.cwd(), path.join(runDir, 'report.html'))}`);
  console.log(`  total return:  ${percent(m.totalReturn)}   CAGR ${percent(m.cagr)}   buy and hold ${percent(m.buyHoldReturn)}`);
  console.log(`  sharpe ${number(m.sharpe)}   sortino ${number(m.sortino)}   calmar ${number(m.calmar)}   volatility ${percent(m.annualVolatility)}`);
  console.log(`  max drawdown:  ${percent(m.maxDrawdown)} (longest ${m.maxDrawdownDays.toFixed(1)} days)`);
  console.log(`  trades ${m.numTrades}   win rate ${percent(m.winRate)}   profit factor ${number(m.profitFactor)}   expectancy ${number(m.expectancy)}   exposure ${percent(m.exposure)}`);
  for (const r of record.regimes) console.log(`  ${r.regime.padEnd(9)} ${String(r.bars).padStart(6)} bars   strategy ${percent(r.strategyReturn)}   buy and hold ${percent(r.buyHoldReturn)}`);
  if (record.riskEvents.length) console.log(`  risk monitors acted ${record.riskEvents.length} time(s); see run.json`);
}

/** `candlelab run` on a multi-coin spec: the per-coin table and the portfolio. */
function printCoinRun({ record, runDir }: CoinSpecRun, seconds: number, json: boolean | undefined): void {
  if (json) {
    const summary = { runId: record.runId, runDir, report: path.join(runDir, 'report.html'), mode: record.mode, fingerprint: record.fingerprint, coins: record.coins, portfolio: record.portfolio, universal: record.model.universal ?? null, seconds };
    console.log(JSON.stringify(summary, null, 2));
    return;
  }
  const relative = (p: string): string => path.relative(process.cwd(), p) || '.';
  console.log(`run ${record.runId} (${seconds.toFixed(1)} s): ${record.coins.length} coins, mode ${record.mode}`);
  console.log(`  report:       ${relative(path.join(runDir, 'report.html'))}`);
  for (const c of record.coins) {
    const test = 'accuracy' in c.test ? `accuracy ${percent(c.test.accuracy as number)}` : `RMSE ${number(c.test.rmse as number, 6)}`;
    console.log(`  ${c.coin.padEnd(12)} test ${test}   return ${percent(c.backtest.totalReturn)}   sharpe ${number(c.backtest.sharpe)}   max dd ${percent(c.backtest.maxDrawdown)}   trades ${c.backtest.numTrades}${c.model ? `   model ${c.model.name} v${c.model.version}` : ''}`);
  }
  const p = record.portfolio.metrics;
  console.log(`  portfolio    return ${percent(p.totalReturn)}   sharpe ${number(p.sharpe)}   max dd ${percent(p.maxDrawdown)} (equal weight, ${record.coins.length} coins)`);
  if (record.model.universal) console.log(`  universal:    ${record.model.universal.name} v${record.model.universal.version}`);
  console.log(`  fingerprint:  ${record.fingerprint}`);
}

export function buildProgram(): Command {
  const program = new Command('candlelab')
    .description('ML crypto trading research: specs, notebooks, data, models, backtests')
    .version(CANDLELAB_VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    // options belong to the command they follow (`live stop --dir` is stop's, not live's)
    .enablePositionalOptions();

  const run = program
    .command('run')
    .summary('run a pipeline spec into runs/<run-id>/')
    .description('run a pipeline spec: data → features → labels → model → strategy → backtest → runs/<run-id>/')
    .argument('<spec.json>', 'the spec file (see specs/quickstart.json)')
    .option('--set <path=value>', 'override a spec field, e.g. --set strategy.params.buyThreshold=0.5 (repeatable)', collect, [])
    .option('--runs-dir <dir>', 'where run folders go (default: <workspace>/runs)')
    .option('--models-dir <dir>', 'the model registry (default: <workspace>/models)')
    .option('--data-dir <dir>', 'the data store (default: <workspace>/data)')
    .option('--json', 'print the run summary as JSON on stdout')
    .option('--verbose', "print debug detail (stage timings, sizes, the plan) to stderr; it is always in the run's run.log")
    .option('--quick', `smoke test: the run is named <name>-quick, keeps the last ${QUICK_BARS} bars, caps model rounds at ${QUICK_PARAM_CAPS.rounds}, epochs at ${QUICK_PARAM_CAPS.epochs}, earlyStoppingRounds at ${QUICK_PARAM_CAPS.earlyStoppingRounds} (ensemble members too)`)
    .addOption(new Option('--progress <mode>', 'progress display').choices(['auto', 'bar', 'lines', 'quiet']).default('auto'));
  addJobOptions(run, 'specs with "validation": fit the windows in this many worker processes (the run fits the last one itself); default 1, in this process')
    .action(async (specFile: string, options) => {
      const started = performance.now();
      // --jobs N: N worker processes fit the windows before the last; this process fits the last one meanwhile.
      const windows = await jobRunnerFromOptions(options);
      // Ctrl-C with window jobs out: drop the queued ones (nothing left in Redis), let running ones finish.
      const stop = windows ? cancelOnSigint('run') : undefined;
      stop?.signal.addEventListener('abort', () => void windows!.cancel());
      let ran;
      try {
        const echo = options.verbose ? (line: string) => process.stderr.write(line + '\n') : undefined;
        let source: string | LoadedSpec = specFile;
        let lastBars: number | undefined;
        let notes: string[] = [];
        if (options.quick) {
          const quick = quickSpec(loadSpec(specFile, options.set));
          for (const change of quick.changes) process.stderr.write(`quick: ${change}\n`);
          source = quick.loaded;
          lastBars = quick.lastBars;
          notes = quick.changes.map((change) => `--quick: ${change}`);
        }
        // several coins in data: the per-coin and portfolio run
        if (isMultiCoinSpec((typeof source === 'string' ? loadSpec(source, options.set) : source).spec)) {
          const coinRun = await runCoinSpec(source, {
            overrides: options.set,
            progress: options.progress,
            workspace: { runsDir: options.runsDir, modelsDir: options.modelsDir, dataDir: options.dataDir },
            lastBars,
            runLog: { echo, notes },
          });
          printCoinRun(coinRun, (performance.now() - started) / 1000, options.json);
          return;
        }
        ran = await runSpec(source, {
          overrides: options.set,
          progress: options.progress,
          workspace: { runsDir: options.runsDir, modelsDir: options.modelsDir, dataDir: options.dataDir },
          windows,
          lastBars,
          runLog: { echo, notes },
        });
      } finally {
        stop?.dispose();
        await windows?.close();
      }
      const { record, runDir } = ran;
      const seconds = (performance.now() - started) / 1000;
      const m = record.metrics.backtest;
      const test = record.metrics.classification?.test;
      const regression = record.metrics.regression?.test;
      const summary = {
        runId: record.runId,
        runDir,
        report: path.join(runDir, 'report.html'),
        log: path.join(runDir, 'run.log'),
        fingerprint: record.fingerprint,
        registered: record.model.registered ?? null,
        metrics: {
          backtest: m,
          test: test
            ? { accuracy: test.accuracy, balancedAccuracy: test.balancedAccuracy, macroF1: test.macroF1, logLoss: test.logLoss, rocAucMacro: test.rocAucMacro, flags: test.flags }
            : regression,
        },
        ...(record.baselines ? { baselines: record.baselines } : {}),
        timings: record.timings,
        ...(record.validation ? { validation: { method: record.validation.method, windows: record.validation.windows.length, paths: record.validation.paths.length, pathSummary: record.validation.pathSummary ?? null } } : {}),
        seconds,
      };
      if (options.json) {
        console.log(JSON.stringify(summary, null, 2));
        return;
      }
      const relative = (p: string): string => path.relative(process.cwd(), p) || '.';
      console.log(`run ${record.runId} (${seconds.toFixed(1)} s)`);
      console.log(`  report:       ${relative(summary.report)}`);
      console.log(`  log:          ${relative(summary.log)}`);
      const v = record.validation;
      if (v) {
        console.log(`  validation:   ${v.method}, ${v.windows.length} ${v.foldName}s refitted, out-of-sample ${v.outOfSample.from.slice(0, 10)} … ${v.outOfSample.to.slice(0, 10)} (numbers below)`);
        if (v.pathSummary) console.log(`  paths:        ${v.pathSummary.count}, Sharpe ${number(v.pathSummary.sharpeMean)} ± ${number(v.pathSummary.sharpeStd)}, deflated Sharpe P = ${number(v.pathSummary.deflatedSharpe.probability, 3)}`);
      }
      console.log(`  total return: ${percent(m.totalReturn)}   buy and hold: ${percent(m.buyHoldReturn)}`);
      console.log(`  sharpe:       ${number(m.sharpe)}   max drawdown: ${percent(m.maxDrawdown)}`);
      console.log(`  trades:       ${m.numTrades}   win rate: ${percent(m.winRate)}   profit factor: ${number(m.profitFactor)}`);
      if (test) console.log(`  test accuracy ${percent(test.accuracy)}, balanced ${percent(test.balancedAccuracy)}, macro F1 ${number(test.macroF1, 3)}, ROC-AUC ${number(test.rocAucMacro, 3)}`);
      if (regression) console.log(`  test MAE ${number(regression.mae, 6)}, RMSE ${number(regression.rmse, 6)}, R² ${number(regression.r2, 3)}, direction accuracy ${percent(regression.directionAccuracy)}`);
      if (record.baselines) console.log(`  baselines:    ${baselineLine(record.baselines)}`);
      if (test?.neverPredicted.length) console.log(`  warning: the model never predicted ${test.neverPredicted.join(', ')} on the test segment (${test.flags.join(', ')})`);
      const inference = record.timings.inference;
      console.log(`  timing:       training ${(record.timings.trainingMs / 1000).toFixed(2)} s` + (inference ? `, inference ${Math.round(inference.batchRowsPerSecond)} rows/s batched, one row p50 ${inference.singleRowP50Ms.toFixed(3)} ms / p99 ${inference.singleRowP99Ms.toFixed(3)} ms` : ''));
      if (record.model.registered) console.log(`  model:        ${record.model.registered.name} v${record.model.registered.version} (models/)`);
      console.log(`  fingerprint:  ${record.fingerprint}`);
    });

  program
    .command('compare')
    .summary('compare runs side by side in one HTML page')
    .description('compare two or more runs in one HTML page: metrics side by side, equity curves overlaid, the winner per calendar period, and the spec fields that differ')
    .argument('<runs...>', 'run ids (folders of the runs dir) or run folder paths')
    .option('--runs-dir <dir>', 'where run folders are (default: <workspace>/runs)')
    .option('--out <file.html>', 'where the page goes (default: <runs>/compare/<last 8 chars of each id>.html)')
    .action((names: string[], options) => {
      const workspace = openWorkspace({ runsDir: options.runsDir });
      const { out, runs } = compareRuns(names, { runsDir: workspace.runsDir, out: options.out });
      console.log(`compared ${runs.length} runs (${runs.map((r) => r.id).join(', ')}) → ${path.relative(process.cwd(), out) || out}`);
    });

  registerTuneCommand(program);
  registerJobCommands(program);

  program
    .command('backtest')
    .summary('backtest a strategy or a portfolio')
    .description('backtest a strategy on OHLCV data (any CSV/Arrow file, or a store id), or a portfolio file, with the event-driven engine')
    .argument('[data]', "a .csv/.arrow file, 'sample', or a store id <exchange>/<market>/<BASE-QUOTE>/<timeframe>")
    .option('--strategy <id[:k=v,...]>', 'the strategy and its params, e.g. core/sma-crossover:fast=10,slow=30')
    .option('--portfolio <file.json>', 'several assets and strategies with capital weights (see docs/backtest.md); replaces <data> and --strategy')
    .option('--cash <n>', 'initial cash', (v) => Number(v), 10_000)
    .option('--commission <fraction>', 'commission as a fraction of traded value (0.001 = 10 bps)', (v) => Number(v), 0.001)
    .option('--commission-fixed <amount>', 'a fixed commission per fill instead')
    .option('--slippage-bps <n>', 'slippage in basis points, against the trader', (v) => Number(v), 5)
    .addOption(new Option('--fill <when>', 'when decisions fill').choices(['next-open', 'close']).default('next-open'))
    .option('--size <rule>', 'sizing: fraction:F | units:N | atr:RISK[:MULTIPLE] | kelly[:CAP]', 'fraction:1')
    .option('--exclusive', 'a new entry first closes the open position (default: trade the difference)')
    .option('--whole-units', 'round orders down to whole units')
    .option('--leverage <n>', 'gross exposure cap as a multiple of equity', (v) => Number(v), 1)
    .option('--stop-loss <fraction>', 'stop-loss distance from entry, e.g. 0.02', (v) => Number(v))
    .option('--take-profit <fraction>', 'take-profit distance from entry', (v) => Number(v))
    .option('--trailing-stop <fraction>', 'trailing-stop distance from the best price since entry', (v) => Number(v))
    .option('--periods-per-year <n>', 'bars per year for annualizing (252 for daily stocks)', (v) => Number(v))
    .option('--symbol <symbol>', 'symbol for the report (default: from the file)')
    .option('--timeframe <tf>', 'bar length (default: from the file or the bar spacing)')
    .option('--set <path=value>', 'any other backtest setting, e.g. --set risk.maxDrawdown=0.2 (repeatable)', collect, [])
    .option('--plugin <package>', 'load a plugin package that defines the strategy (repeatable)', collect, [])
    .option('--runs-dir <dir>', 'where the run folder goes (default: <workspace>/runs)')
    .option('--json', 'print the record as JSON')
    .action(async (source: string | undefined, options) => {
      const workspace = openWorkspace({ runsDir: options.runsDir });
      if (options.portfolio) {
        if (source || options.strategy) throw new ConfigError('--portfolio takes the assets and strategies from the file; drop <data> and --strategy');
        const { record, runDir } = await runPortfolioCommand(options.portfolio, workspace, { overrides: options.set });
        printBacktest(record, runDir, !!options.json);
        return;
      }
      if (!source || !options.strategy) throw new ConfigError('give <data> and --strategy (or --portfolio <file.json>); e.g. candlelab backtest prices.csv --strategy core/sma-crossover');
      const settings: BacktestSettingsInput = {
        initialCash: options.cash,
        fill: options.fill,
        commissionBps: options.commission * 10_000,
        ...(options.commissionFixed !== undefined ? { commission: { kind: 'fixed', perFill: Number(options.commissionFixed) } } : {}),
        slippageBps: options.slippageBps,
        sizing: parseSizing(options.size),
        exclusive: !!options.exclusive,
        units: options.wholeUnits ? 'whole' : 'fractional',
        leverage: options.leverage,
        exits: {
          ...(options.stopLoss !== undefined ? { stopLossPct: options.stopLoss } : {}),
          ...(options.takeProfit !== undefined ? { takeProfitPct: options.takeProfit } : {}),
          ...(options.trailingStop !== undefined ? { trailingStopPct: options.trailingStop } : {}),
        },
        ...(options.periodsPerYear !== undefined ? { periodsPerYear: options.periodsPerYear } : {}),
      };
      const { record, runDir } = await runBacktestCommand(
        source,
        { strategy: options.strategy, settings, overrides: options.set, plugins: options.plugin, symbol: options.symbol, timeframe: options.timeframe },
        workspace,
      );
      printBacktest(record, runDir, !!options.json);
    });

  program
    .command('notebook')
    .summary('run a notebook headless (tslab)')
    .description('run a notebook headless through the tslab kernel, papermill-style')
    .argument('<notebook.ipynb>', 'the notebook to execute')
    .option('-p, --parameter <name=value>', 'set a parameter of the cell tagged "parameters" (repeatable)', collect, [])
    .option('--out <file>', 'where the executed notebook goes (default: <name>.executed.ipynb)')
    .option('--timeout <seconds>', 'time limit per cell; a cell running longer fails the run, naming the cell', positiveSeconds, 1800)
    .option('--html <file>', 'also write the executed notebook as HTML (nbconvert), failed runs too')
    .option('--json', 'print the outcome as JSON on stdout: {ok, output, html, cells, seconds} or {ok: false, error, cellIndex, cellId, timedOut, output, html}')
    .action(async (file: string, options) => {
      const started = performance.now();
      const parameters: Record<string, string> = {};
      for (const item of options.parameter as string[]) {
        const eq = item.indexOf('=');
        if (eq <= 0) throw new ConfigError(`-p '${item}' must look like name=value`);
        parameters[item.slice(0, eq)] = item.slice(eq + 1);
      }
      const result = await runNotebook(file, { parameters, output: options.out, timeoutSeconds: options.timeout, html: options.html });
      const seconds = (performance.now() - started) / 1000;
      if (options.json) {
        console.log(
          JSON.stringify(
            result.ok
              ? { ok: true, output: result.output, html: result.html ?? null, cells: result.cells, seconds }
              : { ok: false, error: result.error, cellIndex: result.failedCell, cellId: result.failedCellId ?? null, timedOut: result.timedOut ?? false, notebook: file, output: result.output, html: result.html ?? null, seconds },
            null,
            2,
          ),
        );
      }
      if (!result.ok) {
        console.error(`candlelab: error: cell ${result.failedCell} of ${file} failed: ${result.error}; the executed notebook (error banner on top) is at ${result.output}`);
        process.exitCode = 1;
        return;
      }
      if (!options.json) console.log(`executed ${result.cells} cells → ${path.relative(process.cwd(), result.output)}${result.html ? `, HTML → ${path.relative(process.cwd(), result.html)}` : ''} (${seconds.toFixed(1)} s)`);
    });

  const data = program.command('data').summary('market data and the local store').description('market data: the synthetic sample, the local store (import, export, check, list, resample), downloads and streams');
  data
    .command('sample')
    .description('write the seeded synthetic market (same seed, same bytes) as .arrow or .csv')
    .requiredOption('--out <file>', 'output file (.arrow or .csv)')
    .option('--seed <n>', 'generator seed', (v) => Number(v), 42)
    .option('--bars <n>', 'number of bars (default: three years)', (v) => Number(v))
    .option('--symbol <symbol>', 'symbol', 'BTC/USDT')
    .option('--timeframe <tf>', 'bar length', '1h')
    .action((options) => {
      const candles = generateSyntheticCandles({ seed: options.seed, bars: options.bars, symbol: options.symbol, timeframe: options.timeframe });
      if (/\.csv$/i.test(options.out)) writeCandlesCsv(options.out, candles);
      else if (/\.arrow$/i.test(options.out)) writeArrowFile(options.out, candles);
      else throw new ConfigError(`--out ${options.out}: use a .arrow or .csv file name`);
      console.log(`wrote ${candles.length} bars of ${candles.meta.symbol} ${candles.meta.timeframe} → ${options.out}`);
    });
  /** The machine-readable catalogue of some kinds (see CatalogueEntry), as one JSON array. */
  const printCatalogueJson = (kinds: Array<'source' | 'feature' | 'labeler' | 'model' | 'strategy' | 'splitter'>, plugins: string[]): void => {
    const registry = createRegistry(plugins, openWorkspace().root);
    const context = featureContext(registry, '1h');
    console.log(JSON.stringify(kinds.flatMap((kind) => registry.list(kind).map((definition) => catalogueEntry(definition, context))), null, 2));
  };
  const catalogue = (kind: 'feature' | 'labeler', plugins: string[], json: boolean): void => {
    if (json) return printCatalogueJson([kind], plugins);
    const registry = createRegistry(plugins, openWorkspace().root);
    for (const definition of registry.list(kind)) {
      const extra = kind === 'labeler' ? ` [${(definition as { task: string }).task}]` : '';
      console.log(`${definition.id}@${definition.version}${extra}  ${definition.doc}`);
      const params = formatParams(definition);
      if (params) console.log(`    ${params}`);
    }
  };
  const writeTable = (file: string, frame: Frame): void => {
    if (/\.csv$/i.test(file)) writeCandlesCsv(file, frame);
    else if (/\.arrow$/i.test(file)) writeArrowFile(file, frame);
    else throw new ConfigError(`--out ${file}: use a .csv or .arrow file name`);
  };

  program
    .command('features')
    .summary('compute features, or list them')
    .description('compute features for a candles file, or list the feature catalogue')
    .argument('[input]', 'candles: .csv, .arrow, sample[:timeframe[:seed]] or a store id')
    .option('--feature <id[:k=v,...]>', 'a feature and its params, e.g. core/rsi:period=21 (repeatable)', collect, [])
    .option('--out <file>', 'output file (.csv or .arrow): the candles with the feature columns')
    .option('--list', 'print every registered feature with its params and defaults')
    .option('--json', 'with --list: the catalogue as JSON (id, version, params with types and defaults, outputs, lookback, doc)')
    .option('--plugin <package>', 'load a plugin package (repeatable)', collect, [])
    .option('--symbol <symbol>', 'symbol (default: from the file)')
    .option('--timeframe <tf>', 'bar length (default: from the file or the bar spacing)')
    .option('--data-dir <dir>', 'the data store, for store ids and store references (default: <workspace>/data)')
    .action((input: string | undefined, options) => {
      if (options.list) return catalogue('feature', options.plugin, !!options.json);
      if (!input || !options.out || options.feature.length === 0) throw new ConfigError('give <input>, at least one --feature and --out (or --list)');
      const workspace = openWorkspace({ dataDir: options.dataDir });
      const candles = loadNamedCandles(input, { dataDir: workspace.dataDir, symbol: options.symbol, timeframe: options.timeframe });
      const registry = createRegistry(options.plugin, workspace.root);
      const set = computeFeatures(candles, (options.feature as string[]).map(parseDefinitionArg), registry, { dataDir: workspace.dataDir });
      const columns: Record<string, Float64Array> = {};
      for (const name of set.names) columns[name] = set.frame.column(name);
      writeTable(options.out, candles.select(['open', 'high', 'low', 'close', 'volume']).withColumns(columns));
      console.log(`wrote ${candles.length} rows × ${set.names.length} features (${set.names.join(', ')}; warm-up ${set.lookback} rows) → ${options.out}`);
    });

  program
    .command('label')
    .summary('label candles, or list labelers')
    .description('label a candles file (the only look-ahead), or list the labelers')
    .argument('[input]', 'candles: .csv, .arrow, sample[:timeframe[:seed]] or a store id')
    .option('--labeler <id[:k=v,...]>', 'the labeler and its params, e.g. core/triple-barrier:bars=24')
    .option('--out <file>', "output file (.csv or .arrow): the candles with 'label' (and 'event_end') columns")
    .option('--list', 'print every registered labeler with its params and defaults')
    .option('--json', 'with --list: the catalogue as JSON (id, version, task, params with types and defaults, horizon, lookback, doc)')
    .option('--plugin <package>', 'load a plugin package (repeatable)', collect, [])
    .option('--symbol <symbol>', 'symbol (default: from the file)')
    .option('--timeframe <tf>', 'bar length (default: from the file or the bar spacing)')
    .option('--data-dir <dir>', 'the data store, for store ids (default: <workspace>/data)')
    .action((input: string | undefined, options) => {
      if (options.list) return catalogue('labeler', options.plugin, !!options.json);
      if (!input || !options.out || !options.labeler) throw new ConfigError('give <input>, --labeler and --out (or --list)');
      const workspace = openWorkspace({ dataDir: options.dataDir });
      const candles = loadNamedCandles(input, { dataDir: workspace.dataDir, symbol: options.symbol, timeframe: options.timeframe });
      const registry = createRegistry(options.plugin, workspace.root);
      const { definition, params } = registry.resolveWithParams('labeler', parseDefinitionArg(options.labeler));
      const output = definition.label(candles, params);
      const columns: Record<string, Float64Array> = { label: output.target };
      if (output.eventEnd) columns.event_end = output.eventEnd;
      writeTable(options.out, candles.select(['open', 'high', 'low', 'close', 'volume']).withColumns(columns));
      const balance = output.classes ? classBalance(output.target, output.classes) : undefined;
      const summary = balance
        ? balance.classes.map((c, i) => `${i}=${c.name} ${(100 * c.fraction).toFixed(1)}%`).join(', ') + (balance.flags.length ? `; flags: ${balance.flags.join(', ')}` : '')
        : 'regression target';
      console.log(`wrote ${candles.length} rows with ${definition.id} labels (horizon ${definition.horizon(params)}; ${summary}) → ${options.out}`);
    });

  const plugins = program.command('plugins').alias('plugin').description('the plugin registry, and plugin authoring (new, test)');
  plugins
    .command('list')
    .description('list registered sources, features, labelers, models, strategies and splitters with their docs')
    .option('--plugin <package>', 'also load this plugin package (repeatable)', collect, [])
    .option('--json', 'the whole catalogue as JSON: kind, id, version, plugin, params with types and defaults, outputs, lookback/horizon, doc')
    .action((options) => {
      if (options.json) return printCatalogueJson(['source', 'feature', 'labeler', 'model', 'strategy', 'splitter'], options.plugin);
      const registry = createRegistry(options.plugin, openWorkspace().root);
      const headings = { source: 'sources (data.source, data.side)', feature: 'features', labeler: 'labelers', model: 'models', strategy: 'strategies', splitter: 'splitters (validation.method)' } as const;
      for (const kind of ['source', 'feature', 'labeler', 'model', 'strategy', 'splitter'] as const) {
        console.log(`${headings[kind]}:`);
        for (const definition of registry.list(kind)) console.log(`  ${definition.id}@${definition.version}  ${definition.doc}  [${definition.pluginId}]`);
      }
    });

  registerPluginCommands(plugins); // plugin new, plugin test

  const registry = program.command('registry').description('the model registry (models/)');
  registry
    .command('list')
    .description('list registered models and their versions')
    .option('--models-dir <dir>', 'the model registry (default: <workspace>/models)')
    .action((options) => {
      const models = new ModelRegistry(options.modelsDir ?? openWorkspace().modelsDir);
      const names = models.names();
      if (names.length === 0) console.log(`no models in ${models.dir}`);
      for (const name of names) {
        for (const v of models.list(name)) {
          const metrics = v.metrics as { test?: { accuracy?: number }; backtest?: { totalReturn?: number } };
          console.log(`${name} v${v.version} [${v.stage}] ${v.createdAt} ${v.modelId} test accuracy ${percent(metrics.test?.accuracy ?? null)} return ${percent(metrics.backtest?.totalReturn ?? null)} run ${v.runId}`);
        }
      }
    });
  registry
    .command('show')
    .description('print one model version (default: the latest) as JSON')
    .argument('<name>', 'model name')
    .argument('[version]', 'version number')
    .option('--models-dir <dir>', 'the model registry (default: <workspace>/models)')
    .action((name: string, version: string | undefined, options) => {
      const models = new ModelRegistry(options.modelsDir ?? openWorkspace().modelsDir);
      if (version !== undefined && !/^\d+$/.test(version)) throw new ConfigError(`version '${version}' must be a number`);
      console.log(JSON.stringify(models.get(name, version === undefined ? undefined : Number(version)), null, 2));
    });
  registerRegistryCommands(registry); // registry promote, rollback, compare, history

  registerExchangeCommands(program); // data fetch, data stream, coin add
  registerDataCommands(program); // data import, export, check, list, resample
  registerTradingCommands(program); // paper, parity, live
  registerFakeExchangeCommand(program); // a local Binance stand-in for trying them offline
  registerServeCommand(program); // the prediction endpoint
  registerScheduleCommand(program); // schedule, schedule history
  registerAlertCommands(program); // alerts test, alerts flush, report
  for (const command of [program, ...program.commands, ...program.commands.flatMap((c) => c.commands)]) {
    command.exitOverride();
  }
  return program;
}

/** Run the CLI; known errors print one line `candlelab: error: …` and exit 1. */
export async function main(argv: string[] = process.argv): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (typeof code === 'string' && code.startsWith('commander.')) {
      // commander already printed help, the version or a usage error
      process.exitCode = code === 'commander.helpDisplayed' || code === 'commander.version' || code === 'commander.help' ? 0 : 1;
      return;
    }
    if (error instanceof CandlelabError) {
      console.error(`candlelab: error: ${error.message}`);
    } else {
      console.error(`candlelab: unexpected error: ${(error as Error).stack ?? error}`);
    }
    process.exitCode = 1;
  }
}

if (require.main === module) void main();
