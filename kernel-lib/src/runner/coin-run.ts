import * as fs from 'node:fs';
import * as path from 'node:path';
import { barsPerYear, isoTime, type Candles } from '../frame/frame';
import { CandlelabError, ConfigError } from '../errors';
import { loadPlannedCandles, prepareSources, type PlannedCandlesOptions } from '../data/sources';
import { assertQuality, type QualityReport } from '../quality/check-quality';
import { backtestStrategyOutput, type StrategyBacktest } from '../backtest/strategy-backtest';
import type { PerformanceMetrics } from '../backtest/metrics';
import { equalWeightPortfolio, type EqualWeightPortfolio, type PortfolioMetrics } from '../backtest/equal-weight-portfolio';
import type { Artifact, FittedModel } from '../models/model';
import { writeArtifact } from '../models/artifact';
import { ModelRegistry, type ModelVersion } from '../registry/model-registry';
import { canonicalJson, Sha256 } from '../util/hash';
import { writeDirAtomic, writeFileAtomic } from '../util/atomic';
import { specHash, type LoadedSpec, type SpecInput } from '../spec/spec';
import { CANDLELAB_VERSION } from '../version';
import { gitRevision, type GitRevision } from '../util/git';
import { writeArrowFile } from '../data/arrow-file';
import { Frame } from '../frame/frame';
import { portfolioEquityFigure, equityFigure } from '../report/charts';
import { keyValueTable, recordsTable, renderHtmlReport, escapeHtml, type ReportSection } from '../report/html-report';
import { RunLog } from './run-log';
import { trainCoins, type CoinResult, type MultiCoinMode } from './multi-coin';
import { createRunContext, dataFingerprint, runStrategy, type Predictions, type RunContext, type RunContextOptions, type StrategyRun } from './stages';
import type { PlannedCoin } from './run-plan';
import { fileArtifact, tradesCsv } from './run-record';

/**
 * A spec whose `data` lists several coins (M7): every coin's candles, the models trained as
 * `models.mode` says (trainCoins), each coin's test segment traded with the spec's strategy and
 * backtested with 1/N of the cash, and the coins together as an equal-weight portfolio.
 */

/** One coin of a multi-coin run, as the stages returned it. */
export type CoinRun = {
  /** The coin's symbol (BTC/USDT). */
  coin: string;
  candles: Candles;
  quality: QualityReport;
  /** Features, labels, split, the model that predicts this coin and its test metrics (trainCoins). */
  trained: CoinResult;
  /** The test segment's predictions (the rows the strategy trades). */
  predictions: Predictions;
  strategy: StrategyRun;
  /** Backtested with the spec's settings and 1/N of its initial cash. */
  backtest: StrategyBacktest;
};

export type CoinRunResults = {
  mode: MultiCoinMode;
  coins: CoinRun[];
  /** universal and fine-tune: the model trained on every coin's rows. */
  universal?: FittedModel;
  universalMs?: number;
  portfolio: EqualWeightPortfolio;
};

/** What run.json records per coin. */
export type CoinRecord = {
  coin: string;
  data: { source: string; rows: number; from: string; to: string; fingerprint: string };
  split: CoinResult['split'];
  trainingRows: number;
  test: Record<string, unknown>;
  backtest: PerformanceMetrics;
  /** The registered model that predicts this coin (universal mode: the shared one). */
  model?: { name: string; version: number };
  trainingMs: number;
};

/** run.json of a multi-coin run. */
export type CoinRunRecord = {
  runId: string;
  name: string;
  createdAt: string;
  candlelabVersion: string;
  spec: RunContext['spec'];
  specHash: string;
  mode: MultiCoinMode;
  timeframe: string;
  features: CoinResult['features']['resolved'];
  label: { id: string; version: string; params: unknown; horizon: number; classes?: string[] };
  model: { id: string; version: string; params: unknown; fineTuneParams?: Record<string, unknown>; universal?: { name: string; version: number } };
  strategy: { id: string; version: string; params: unknown };
  /** The per-coin table. */
  coins: CoinRecord[];
  /** Every coin together, equal weight (1/N of the cash each). */
  portfolio: { coins: string[]; from: string; to: string; points: number; metrics: PortfolioMetrics };
  git?: GitRevision;
  artifacts: Artifact[];
  /** sha256 over every coin's test predictions, trades and metrics, and the portfolio's metrics. */
  fingerprint: string;
};

export type CoinSpecRun = { record: CoinRunRecord; results: CoinRunResults; runDir: string };

/** A coin's candles, loaded as a single spec's are (the source, its missing-data policy, its side columns). */
export function loadCoinCandles(context: RunContext, coin: PlannedCoin): Candles {
  const candles = loadPlannedCandles(coin.source, coin.side, coinDataOptions(context, coin));
  return context.lastBars && candles.length > context.lastBars ? candles.slice(candles.length - context.lastBars) : candles;
}

function coinDataOptions(context: RunContext, coin: PlannedCoin): PlannedCandlesOptions {
  return {
    dataDir: context.workspace.dataDir,
    baseDir: context.baseDir,
    symbol: coin.symbol,
    timeframe: context.plan.timeframe,
    ...(coin.missing ? { missing: coin.missing } : {}),
    repairHint: 'data.repair: "drop" in the spec',
    log: context.log,
  };
}

function coinsOf(context: RunContext): readonly PlannedCoin[] {
  if (!context.plan.coins) throw new ConfigError(`spec ${context.spec.name} has one data source; run it with runSpec (multi-coin runs need data to list several coins)`);
  return context.plan.coins.list;
}

/** Every stage of a multi-coin spec, nothing written or registered; the caller disposes the models (disposeCoinModels). */
export async function runCoinStages(context: RunContext): Promise<CoinRunResults> {
  const coins = coinsOf(context);
  const { mode, fineTuneParams } = context.plan.coins!;
  for (const coin of coins) await prepareSources([coin.source, ...coin.side], coinDataOptions(context, coin));
  const candles = coins.map((coin) => loadCoinCandles(context, coin));
  const quality = candles.map((c) => assertQuality(c));
  const { name: _name, ...model } = context.spec.model;
  const trained = await trainCoins({
    coins: candles.map((c, i) => ({ candles: c, name: coins[i].symbol })),
    features: context.spec.features,
    label: context.spec.label,
    model,
    mode,
    split: context.spec.split,
    fineTuneParams: { ...fineTuneParams },
    seed: context.spec.seed,
    registry: context.registry,
    progress: context.progress,
    log: context.log,
    featureData: { dataDir: context.workspace.dataDir, baseDir: context.baseDir },
    // the run plan's definitions and parsed params: nothing is resolved or parsed again per coin
    resolved: { features: context.plan.features, featureContext: context.plan.featureContext, label: context.plan.label, model: context.plan.model },
  });
  try {
    const share = context.plan.backtest.initialCash / coins.length;
    const runs = trained.coins.map((result, i): CoinRun => {
      const { test } = result.split;
      const columns = result.model.classes ? [...result.model.classes] : ['value'];
      const predictions: Predictions = { start: test.start, rows: test.end - test.start, columns, values: result.testPredictions, microsecondsPerRow: 0 };
      const strategy = runStrategy(context, candles[i], result.features, predictions, result.split);
      const backtest = backtestStrategyOutput(
        candles[i].slice(strategy.start, strategy.end),
        strategy.definition.id,
        strategy.output,
        { ...context.plan.backtest, initialCash: share },
        undefined,
        candles[i].slice(0, strategy.start),
      );
      context.log(`${result.coin}: ${backtest.result.trades.length} trades, total return ${(100 * backtest.report.metrics.totalReturn).toFixed(2)}%`);
      return { coin: result.coin, candles: candles[i], quality: quality[i], trained: result, predictions, strategy, backtest };
    });
    const portfolio = equalWeightPortfolio(
      runs.map((r) => ({ name: r.coin, time: r.backtest.result.time, equity: r.backtest.result.equity, initialCash: share })),
      context.plan.backtest.periodsPerYear ?? barsPerYear(context.plan.timeframe),
    );
    return { mode, coins: runs, universal: trained.universal, universalMs: trained.universalMs, portfolio };
  } catch (error) {
    disposeCoinModels({ coins: trained.coins.map((c) => ({ trained: c })), universal: trained.universal });
    throw error;
  }
}

/** Free every model of a multi-coin run (the universal one is shared by the coins in universal mode). */
export function disposeCoinModels(results: { coins: ReadonlyArray<{ trained: { model: FittedModel } }>; universal?: FittedModel }): void {
  const models = new Set<FittedModel>(results.coins.map((c) => c.trained.model));
  if (results.universal) models.add(results.universal);
  for (const model of models) model.dispose();
}

/** A symbol as a registry and file name part: BTC/USDT → BTC-USDT. */
export function coinSlug(coin: string): string {
  return coin.replace(/[^\w.-]+/g, '-');
}

/**
 * The registry names of a multi-coin run's models: `<name>-<coin>` (per-coin), `<name>-universal`,
 * `<name>-<coin>-ft` (fine-tuned); `<name>` is the spec's model.name, else the spec's name.
 */
export function coinModelName(context: Pick<RunContext, 'spec'>, coin: string | 'universal', mode: MultiCoinMode): string {
  const base = context.spec.model.name ?? context.spec.name;
  if (coin === 'universal') return `${base}-universal`;
  return mode === 'fine-tune' ? `${base}-${coinSlug(coin)}-ft` : `${base}-${coinSlug(coin)}`;
}

/** The numbers a coin's table row and its registry version record of its test segment. */
function testNumbers(result: CoinResult): Record<string, unknown> {
  if (result.testRegression) return { ...result.testRegression };
  const m = result.testMetrics!;
  return { accuracy: m.accuracy, balancedAccuracy: m.balancedAccuracy, macroF1: m.macroF1, logLoss: m.logLoss, rocAucMacro: m.rocAucMacro, flags: m.flags };
}

/** sha256 over every coin's test predictions, trades and metrics, then the portfolio's metrics. */
export function coinRunFingerprint(results: CoinRunResults): string {
  const hash = new Sha256().update('candlelab-coin-run-fingerprint-v1\n');
  for (const run of results.coins) {
    hash
      .update(`coin ${run.coin}\npredictions\n`)
      .update(run.predictions.values)
      .update('\ntrades\n')
      .update(canonicalJson(run.backtest.result.trades))
      .update('\nmetrics\n')
      .update(canonicalJson({ test: testNumbers(run.trained), backtest: run.backtest.report.metrics }));
  }
  return hash.update('\nportfolio\n').update(canonicalJson(results.portfolio.metrics)).hex();
}

function compactTimestamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
}

/**
 * Write runs/<run-id>/ for a multi-coin run (run.json with the `coins` table and `portfolio`, each
 * model's files under model/<coin>/ or model/universal/, portfolio.arrow, trades.csv, report.html)
 * and register every model. The folder appears whole or not at all; registrations are rolled back
 * when it cannot be written.
 */
export async function writeCoinRun(context: RunContext, results: CoinRunResults): Promise<CoinRunRecord> {
  const createdAt = context.clock();
  const hash = specHash(context.spec);
  const fingerprint = coinRunFingerprint(results);
  const baseRunId = `${context.spec.name}-${compactTimestamp(createdAt)}-${fingerprint.slice(0, 8)}`;
  let runId = baseRunId;
  for (let n = 2; fs.existsSync(path.join(context.workspace.runsDir, runId)); n++) runId = `${baseRunId}-${n}`;
  const runDir = path.join(context.workspace.runsDir, runId);
  const first = results.coins[0];
  const git = gitRevision(context.workspace.root);
  const coins: CoinRecord[] = results.coins.map((run) => ({
    coin: run.coin,
    data: {
      source: run.candles.meta.source ?? '',
      rows: run.candles.length,
      from: isoTime(run.candles.time[0]),
      to: isoTime(run.candles.time[run.candles.length - 1]),
      fingerprint: dataFingerprint(run.candles),
    },
    split: run.trained.split,
    trainingRows: run.trained.trainingRows,
    test: testNumbers(run.trained),
    backtest: run.backtest.report.metrics,
    trainingMs: run.trained.trainingMs,
  }));
  const { definition: modelDefinition, params: modelParams } = context.plan.model;
  const label = context.plan.label;
  const record: CoinRunRecord = {
    runId,
    name: context.spec.name,
    createdAt: createdAt.toISOString(),
    candlelabVersion: CANDLELAB_VERSION,
    spec: context.spec,
    specHash: hash,
    mode: results.mode,
    timeframe: context.plan.timeframe,
    features: first.trained.features.resolved,
    label: { id: label.definition.id, version: label.definition.version, params: label.params, horizon: label.horizon, classes: first.trained.classes },
    model: {
      id: modelDefinition.id,
      version: modelDefinition.version,
      params: modelParams,
      ...(results.mode === 'fine-tune' ? { fineTuneParams: { ...context.plan.coins!.fineTuneParams } } : {}),
    },
    strategy: { id: context.plan.strategy.definition.id, version: context.plan.strategy.definition.version, params: context.plan.strategy.params },
    coins,
    portfolio: {
      coins: results.coins.map((r) => r.coin),
      from: isoTime(results.portfolio.time[0]),
      to: isoTime(results.portfolio.time[results.portfolio.time.length - 1]),
      points: results.portfolio.time.length,
      metrics: results.portfolio.metrics,
    },
    git,
    artifacts: [],
    fingerprint,
  };

  const registry = new ModelRegistry(context.workspace.modelsDir);
  const registered: ModelVersion[] = [];
  // a fine-tuned model's params: the model's, overridden by models.fineTune.params
  const tunedParams = { ...(modelParams as object), ...context.plan.coins!.fineTuneParams };
  const register = async (name: string, model: FittedModel, params: unknown, metrics: Record<string, unknown>, dataFingerprintOf: string, trainingMs: number) => {
    const version = await registry.register({
      name,
      createdAt: record.createdAt,
      params,
      label: record.label,
      metrics,
      dataFingerprint: dataFingerprintOf,
      specHash: hash,
      runId,
      codeVersion: CANDLELAB_VERSION,
      gitCommit: git?.commit,
      gitDirty: git?.dirty,
      timings: { trainingMs },
      model,
    });
    registered.push(version);
    return { name: version.name, version: version.version };
  };
  try {
    if (context.spec.register) {
      if (results.universal) {
        // the universal model's data: every coin's candles
        const allData = new Sha256().update(coins.map((c) => c.data.fingerprint).join('\n')).hex();
        const metrics = { test: Object.fromEntries(results.coins.map((r, i) => [r.coin, coins[i].test])), coins: results.coins.map((r) => r.coin) };
        record.model.universal = await register(coinModelName(context, 'universal', results.mode), results.universal, modelParams, metrics, allData, results.universalMs ?? 0);
      }
      for (const [i, run] of results.coins.entries()) {
        if (results.mode === 'universal') coins[i].model = record.model.universal;
        else coins[i].model = await register(coinModelName(context, run.coin, results.mode), run.trained.model, results.mode === 'fine-tune' ? tunedParams : modelParams, { test: coins[i].test, backtest: coins[i].backtest }, coins[i].data.fingerprint, run.trained.trainingMs);
      }
    }
    await writeDirAtomic(runDir, async (dir) => {
      const artifacts: Artifact[] = [];
      const saveModel = async (model: FittedModel, folder: string) => {
        for (const artifact of await model.save(path.join(dir, 'model', folder))) artifacts.push({ ...artifact, path: `model/${folder}/${artifact.path}` });
      };
      if (results.universal) await saveModel(results.universal, 'universal');
      if (results.mode !== 'universal') for (const run of results.coins) await saveModel(run.trained.model, coinSlug(run.coin));
      const columns: Record<string, Float64Array> = { equity: results.portfolio.equity, drawdown: results.portfolio.drawdown };
      for (const sleeve of results.portfolio.sleeves) columns[`equity_${coinSlug(sleeve.name)}`] = sleeve.equity;
      writeArrowFile(path.join(dir, 'portfolio.arrow'), Frame.fromColumns(results.portfolio.time, columns, { ...first.candles.meta, symbol: 'portfolio' }));
      artifacts.push(fileArtifact(dir, 'portfolio.arrow', 'portfolio-series'));
      artifacts.push(writeArtifact(dir, 'trades.csv', 'trades', tradesCsv(results.coins.flatMap((r) => r.backtest.result.trades))));
      artifacts.push(writeArtifact(dir, 'report.html', 'report', buildCoinRunReport(record, results)));
      if (context.runLog) {
        context.runLog.write('info', `run ${runId} written to ${runDir}`);
        artifacts.push(writeArtifact(dir, 'run.log', 'log', context.runLog.text()));
      }
      record.artifacts = artifacts;
      writeFileAtomic(path.join(dir, 'run.json'), JSON.stringify(record, null, 2) + '\n');
    });
  } catch (error) {
    for (const version of registered) registry.remove(version.name, version.version);
    if (error instanceof CandlelabError) throw error;
    throw new CandlelabError('IO', `could not write run ${runId} into ${context.workspace.runsDir}: ${(error as Error).message}; check the folder's permissions and free space`, { cause: error });
  }
  return record;
}

/** report.html of a multi-coin run: the run, the per-coin table, the portfolio's equity, each coin's equity, the spec. */
export function buildCoinRunReport(record: CoinRunRecord, results: CoinRunResults): string {
  const pct = (x: number | null) => (x === null ? 'n/a' : `${(100 * x).toFixed(2)}%`);
  const p = record.portfolio.metrics;
  const sections: ReportSection[] = [
    {
      title: 'Run',
      html: keyValueTable([
        ['coins', record.portfolio.coins.join(', ')],
        ['timeframe', record.timeframe],
        ['mode', record.mode],
        ['model', `${record.model.id}@${record.model.version}`],
        ['universal model', record.model.universal ? `${record.model.universal.name} v${record.model.universal.version}` : record.mode === 'per-coin' ? 'none (per-coin)' : 'not registered'],
        ['strategy', `${record.strategy.id}@${record.strategy.version}`],
        ['fingerprint', record.fingerprint.slice(0, 16) + '…'],
      ]),
    },
    {
      title: 'Coins',
      html: recordsTable(
        record.coins.map((c) => ({
          coin: c.coin,
          rows: c.data.rows,
          'training rows': c.trainingRows,
          ...('accuracy' in c.test ? { 'test accuracy': c.test.accuracy, 'test macro F1': c.test.macroF1 } : { 'test RMSE': c.test.rmse, 'test R²': c.test.r2 }),
          'total return': pct(c.backtest.totalReturn),
          sharpe: c.backtest.sharpe,
          'max drawdown': pct(c.backtest.maxDrawdown),
          trades: c.backtest.numTrades,
          model: c.model ? `${c.model.name} v${c.model.version}` : 'not registered',
        })),
      ),
    },
    {
      title: 'Portfolio (equal weight)',
      html: keyValueTable([
        ['span', `${record.portfolio.from} … ${record.portfolio.to} (${record.portfolio.points} points)`],
        ['initial cash', p.initialCash],
        ['final equity', p.finalEquity],
        ['total return', pct(p.totalReturn)],
        ['sharpe', p.sharpe],
        ['max drawdown', pct(p.maxDrawdown)],
      ]),
      figures: [portfolioEquityFigure(results.portfolio)],
    },
    // a section per coin: its numbers and its equity against buy-and-hold
    ...results.coins.map((run, i) => {
      const c = record.coins[i];
      const m = c.backtest;
      return {
        title: run.coin,
        html: keyValueTable([
          ['data', `${c.data.rows} bars, ${c.data.from} … ${c.data.to}`],
          ['test segment (traded)', `${c.split.test.from} … ${c.split.test.to}`],
          ['training rows', c.trainingRows],
          ...Object.entries(c.test).filter(([, v]) => typeof v === 'number').map(([k, v]) => [`test ${k}`, v] as [string, unknown]),
          ['total return / buy and hold', `${pct(m.totalReturn)} / ${pct(m.buyHoldReturn)}`],
          ['sharpe', m.sharpe],
          ['max drawdown', pct(m.maxDrawdown)],
          ['trades / win rate', `${m.numTrades} / ${pct(m.winRate)}`],
          ['model', c.model ? `${c.model.name} v${c.model.version}` : 'not registered'],
        ]),
        figures: [equityFigure(run.backtest, `${run.coin} equity (1/${results.coins.length} of the cash)`)],
      };
    }),
    { title: 'Spec', html: `<pre>${escapeHtml(JSON.stringify(record.spec, null, 2))}</pre>` },
  ];
  return renderHtmlReport(`candlelab run ${record.runId}`, sections);
}

/**
 * Run a multi-coin spec: load every coin, train as `models.mode` says, backtest each coin and the
 * equal-weight portfolio, write runs/<run-id>/ and register every model. `candlelab run` calls it for
 * specs whose data lists several sources.
 */
export async function runCoinSpec(
  source: string | LoadedSpec | SpecInput,
  options: RunContextOptions & { runLog?: { echo?: (line: string) => void; notes?: readonly string[] } } = {},
): Promise<CoinSpecRun> {
  const base = createRunContext(source, options);
  coinsOf(base);
  const runLog = options.runLog ? RunLog.open(base.workspace.runsDir, base.spec.name, new Date(), options.runLog.echo) : undefined;
  const context: RunContext = runLog
    ? { ...base, runLog, log: (line) => { runLog.write(/warn|never|flag|dominant|rare/i.test(line) ? 'warning' : 'info', line); base.log(line); } }
    : base;
  runLog?.write('info', `run ${base.spec.name}: ${base.plan.coins!.list.length} coins, mode ${base.plan.coins!.mode}, spec hash ${specHash(base.spec).slice(0, 16)}`);
  for (const note of options.runLog?.notes ?? []) runLog?.write('info', note);
  try {
    const results = await runCoinStages(context);
    try {
      const record = await writeCoinRun(context, results);
      runLog?.finish();
      return { record, results, runDir: path.join(context.workspace.runsDir, record.runId) };
    } finally {
      disposeCoinModels(results);
    }
  } catch (error) {
    if (!runLog) throw error;
    const file = runLog.fail(error);
    if (error instanceof CandlelabError) error.message += `; the run's log: ${file}`;
    throw error;
  }
}
