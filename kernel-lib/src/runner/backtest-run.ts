import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Candles, isoTime } from '../frame/frame';
import { ConfigError, DataError } from '../errors';
import { writeArrowFile } from '../data/arrow-file';
import { loadNamedCandles } from '../data/load-candles';
import { assertQuality } from '../quality/check-quality';
import { createRegistry } from '../plugins/core-plugin';
import { parseBacktestSettings, type BacktestSettings, type BacktestSettingsInput } from '../backtest/settings';
import { parseConfig } from '../util/parse-config';
import { runStrategyBacktest, type StrategyBacktest } from '../backtest/strategy-backtest';
import { runEngine, type EngineAsset, type FundingSeries, type Sleeve } from '../backtest/engine';
import { analyzeBacktest } from '../backtest/metrics';
import { strategyOutput } from '../plugins/define';
import { Frame } from '../frame/frame';
import { z } from 'zod';
import type { PerformanceMetrics, RegimeBreakdown } from '../backtest/metrics';
import type { Artifact } from '../models/model';
import { renderHtmlReport, escapeHtml } from '../report/html-report';
import { backtestSections } from '../report/backtest-sections';
import { canonicalJson, Sha256, sha256Hex } from '../util/hash';
import { writeDirAtomic, writeFileAtomic } from '../util/atomic';
import { applyOverrides, parseLooseValue } from '../spec/spec';
import { CANDLELAB_VERSION } from '../version';
import type { Workspace } from '../workspace';
import { backtestSeriesFrame, fileArtifact, tradesCsv } from './run-record';
import { dataFingerprint } from './stages';

/** `id[:k=v,k=v]` → id and params (values read as JSON when they parse, else strings; JSON values may hold commas). */
export function parseDefinitionArg(text: string): { id: string; params: Record<string, unknown> } {
  const colon = text.indexOf(':');
  const id = colon < 0 ? text : text.slice(0, colon);
  const params: Record<string, unknown> = {};
  if (colon >= 0 && text.length > colon + 1) {
    for (const pair of splitTopLevel(text.slice(colon + 1))) {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new ConfigError(`'${pair}' in '${text}' must look like name=value, e.g. core/sma-crossover:fast=10,slow=30`);
      params[pair.slice(0, eq)] = parseLooseValue(pair.slice(eq + 1));
    }
  }
  return { id, params };
}

/** Split at commas outside JSON brackets and quotes: `a=1,b={"x":1,"y":2},c=[1,2]` → three pairs. */
export function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '\\') i++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

/** `--size` text → a sizing rule: fraction:F, units:N, atr:RISK[:MULTIPLE], kelly:CAP. */
export function parseSizing(text: string): BacktestSettingsInput['sizing'] {
  const [kind, first, second] = text.split(':');
  const number = (value: string | undefined, name: string): number => {
    const parsed = Number(value);
    if (value === undefined || !Number.isFinite(parsed) || parsed <= 0) throw new ConfigError(`--size ${text}: ${name} must be a positive number`);
    return parsed;
  };
  switch (kind) {
    case 'fraction':
      return { kind: 'equity-fraction', fraction: number(first, 'the fraction') };
    case 'units':
      return { kind: 'fixed-units', units: number(first, 'the units') };
    case 'atr':
      return { kind: 'volatility-target', riskFraction: number(first, 'the risk fraction'), ...(second ? { atrMultiple: number(second, 'the ATR multiple') } : {}) };
    case 'kelly':
      return { kind: 'kelly', ...(first ? { cap: number(first, 'the cap') } : {}) };
    default:
      throw new ConfigError(`--size ${text}: use fraction:F, units:N, atr:RISK[:MULTIPLE] or kelly[:CAP]`);
  }
}

export type DataInfo = { symbol: string; timeframe: string; source: string; rows: number; from: string; to: string; fingerprint: string };

export type BacktestRunRecord = {
  runId: string;
  createdAt: string;
  candlelabVersion: string;
  /** One entry per asset. */
  data: DataInfo[];
  /** One entry per strategy (sleeve) of the portfolio. */
  strategies: Array<{ name: string; id: string; version: string; params: unknown; weight: number; assets: string[] }>;
  settings: BacktestSettings;
  metrics: PerformanceMetrics;
  regimes: RegimeBreakdown;
  riskEvents: StrategyBacktest['result']['riskEvents'];
  artifacts: Artifact[];
  /** sha256 over the trades and metrics. */
  fingerprint: string;
};

export type BacktestRunOptions = {
  strategy: string;
  settings: BacktestSettingsInput;
  /** Backtest settings overrides, path=value (as --set). */
  overrides?: readonly string[];
  plugins?: readonly string[];
  symbol?: string;
  timeframe?: string;
  clock?: () => Date;
};

function parseSettings(input: unknown, overrides: readonly string[] = []): BacktestSettings {
  return parseBacktestSettings(applyOverrides(input ?? {}, overrides) as BacktestSettingsInput);
}

function dataInfo(candles: Candles, source: string): DataInfo {
  return {
    symbol: candles.meta.symbol,
    timeframe: candles.meta.timeframe,
    source: candles.meta.source ?? source,
    rows: candles.length,
    from: isoTime(candles.time[0]),
    to: isoTime(candles.time[candles.length - 1]),
    fingerprint: dataFingerprint(candles),
  };
}

/**
 * `candlelab backtest`: a strategy on one data file through the engine, written to runs/<id>/ with the
 * metrics, trade log, signals, series and an offline report.
 */
export async function runBacktestCommand(source: string, options: BacktestRunOptions, workspace: Workspace): Promise<{ record: BacktestRunRecord; runDir: string; backtest: StrategyBacktest }> {
  const registry = createRegistry(options.plugins ?? [], workspace.root);
  const ref = parseDefinitionArg(options.strategy);
  const { definition, params } = registry.resolveWithParams('strategy', ref);
  if (definition.needs.predictions) {
    throw new ConfigError(`strategy ${definition.id} needs model predictions; run it from a spec (candlelab run) or pick one that trades on prices (core/sma-crossover, core/rsi-mean-reversion, core/buy-and-hold)`);
  }
  const settings = parseSettings(options.settings, options.overrides);
  const candles = loadNamedCandles(source, { dataDir: workspace.dataDir, symbol: options.symbol, timeframe: options.timeframe });
  assertQuality(candles, source);
  const backtest = runStrategyBacktest({ candles, definition, params, settings });
  const strategies = [{ name: definition.id, id: definition.id, version: definition.version, params, weight: 1, assets: [candles.meta.symbol] }];
  return writeBacktestRun(workspace, `backtest-${definition.id}`, [dataInfo(candles, source)], strategies, settings, backtest, options.clock, backtest.targets);
}

/** A portfolio file: assets (data), strategies with weights and assets, and engine settings. */
const portfolioSchema = z
  .object({
    name: z.string().regex(/^[\w.-]+$/).default('portfolio'),
    plugins: z.array(z.string()).default([]),
    assets: z
      .array(
        z
          .object({
            symbol: z.string().min(1),
            /** A .csv/.arrow file (relative to the portfolio file), 'sample', or a store id. */
            data: z.string().min(1),
            timeframe: z.string().optional(),
            /** A CSV of funding rates (time,rate) for a perpetual future. */
            funding: z.string().optional(),
          })
          .strict(),
      )
      .min(1),
    strategies: z
      .array(
        z
          .object({
            name: z.string().min(1),
            id: z.string().min(1),
            params: z.record(z.unknown()).default({}),
            weight: z.number().gt(0).max(1).default(1),
            assets: z.array(z.string()).min(1),
          })
          .strict(),
      )
      .min(1),
    settings: z.record(z.unknown()).default({}),
  })
  .strict();

export type PortfolioInput = z.input<typeof portfolioSchema>;

/** Read a funding-rate CSV (header with a time column and `rate`), times in epoch ms or ISO. */
function readFundingCsv(file: string): FundingSeries {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new DataError(`funding file ${file} not found`);
  }
  const [header, ...lines] = text.trim().split(/\r?\n/);
  const names = header.split(',').map((h) => h.trim().toLowerCase());
  const timeIndex = names.findIndex((n) => ['time', 'timestamp', 'fundingtime', 'funding_time'].includes(n));
  const rateIndex = names.findIndex((n) => ['rate', 'fundingrate', 'funding_rate'].includes(n));
  if (timeIndex < 0 || rateIndex < 0) throw new DataError(`${file}: needs a header with time and rate columns (found: ${names.join(', ')})`);
  const time = new Float64Array(lines.length);
  const rate = new Float64Array(lines.length);
  lines.forEach((line, i) => {
    const cells = line.split(',');
    const t = /^\d+$/.test(cells[timeIndex].trim()) ? Number(cells[timeIndex]) : Date.parse(cells[timeIndex]);
    const r = Number(cells[rateIndex]);
    if (!Number.isFinite(t) || !Number.isFinite(r)) throw new DataError(`${file}:${i + 2}: time or rate is not a number`);
    time[i] = t;
    rate[i] = r;
  });
  for (let i = 1; i < time.length; i++) if (!(time[i] > time[i - 1])) throw new DataError(`${file}:${i + 2}: funding times must increase`);
  return { time, rate };
}

/**
 * `candlelab backtest --portfolio file.json`: several assets and strategies (e.g. a 1m scalping and a 1d
 * swing strategy) with capital weights, sharing one cash account.
 */
export async function runPortfolioCommand(file: string, workspace: Workspace, options: { overrides?: readonly string[]; clock?: () => Date } = {}): Promise<{ record: BacktestRunRecord; runDir: string; backtest: StrategyBacktest }> {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigError(`portfolio file ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'not found' : `not valid JSON (${(error as Error).message})`}`);
  }
  const portfolio = parseConfig(portfolioSchema, raw, `portfolio file ${file}`);
  const baseDir = path.dirname(path.resolve(file));
  const registry = createRegistry(portfolio.plugins, workspace.root);
  const settings = parseSettings(portfolio.settings, options.overrides);
  const assets: EngineAsset[] = portfolio.assets.map((asset) => {
    // A file relative to the portfolio file, 'sample', or a store id.
    const candles = loadNamedCandles(asset.data, { dataDir: workspace.dataDir, baseDir, symbol: asset.symbol, timeframe: asset.timeframe });
    assertQuality(candles, asset.data);
    return { symbol: asset.symbol, candles, funding: asset.funding ? readFundingCsv(path.resolve(baseDir, asset.funding)) : undefined };
  });
  const bySymbol = new Map(assets.map((a) => [a.symbol, a]));
  const strategies: BacktestRunRecord['strategies'] = [];
  const sleeves: Sleeve[] = portfolio.strategies.map((entry) => {
    const { definition, params } = registry.resolveWithParams('strategy', { id: entry.id, params: entry.params });
    if (definition.needs.predictions) throw new ConfigError(`strategy '${entry.name}' (${definition.id}) needs model predictions, which a portfolio file does not provide`);
    const sleeve: Sleeve = { name: entry.name, weight: entry.weight, targets: {}, confidence: {}, reasoning: {} };
    for (const symbol of entry.assets) {
      const asset = bySymbol.get(symbol);
      if (!asset) throw new ConfigError(`strategy '${entry.name}' trades '${symbol}', which is not among the assets: ${[...bySymbol.keys()].join(', ')}`);
      const output = strategyOutput(definition.targets({ candles: asset.candles, features: Frame.fromColumns(asset.candles.time, {}, asset.candles.meta) }, params));
      sleeve.targets![symbol] = output.targets;
      if (output.confidence) sleeve.confidence![symbol] = output.confidence;
      if (output.reasoning) sleeve.reasoning![symbol] = output.reasoning;
    }
    strategies.push({ name: entry.name, id: definition.id, version: definition.version, params, weight: entry.weight, assets: entry.assets });
    return sleeve;
  });
  const result = runEngine(assets, sleeves, settings);
  const backtest: StrategyBacktest = { assets, result, report: analyzeBacktest(result, assets), targets: new Float64Array(0) };
  const data = assets.map((asset, i) => dataInfo(asset.candles, portfolio.assets[i].data));
  return writeBacktestRun(workspace, portfolio.name, data, strategies, settings, backtest, options.clock);
}

/** Write runs/<name>-<time>-<fingerprint>/ for a backtest (atomically) and return its record. */
async function writeBacktestRun(
  workspace: Workspace,
  name: string,
  data: DataInfo[],
  strategies: BacktestRunRecord['strategies'],
  settings: BacktestSettings,
  backtest: StrategyBacktest,
  clock: (() => Date) | undefined,
  targets?: Float64Array,
): Promise<{ record: BacktestRunRecord; runDir: string; backtest: StrategyBacktest }> {
  const { result, report } = backtest;
  const fingerprint = new Sha256()
    .update('candlelab-backtest-fingerprint-v1\ntrades\n')
    .update(canonicalJson(result.trades))
    .update('\nmetrics\n')
    .update(canonicalJson({ metrics: report.metrics, regimes: report.regimes }))
    .hex();
  const createdAt = (clock ?? (() => new Date()))();
  const stamp = createdAt.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const baseId = `${name.replace(/[^\w.-]+/g, '-')}-${stamp}-${fingerprint.slice(0, 8)}`;
  let runId = baseId;
  for (let n = 2; fs.existsSync(path.join(workspace.runsDir, runId)); n++) runId = `${baseId}-${n}`;
  const record: BacktestRunRecord = {
    runId,
    createdAt: createdAt.toISOString(),
    candlelabVersion: CANDLELAB_VERSION,
    data,
    strategies,
    settings,
    metrics: report.metrics,
    regimes: report.regimes,
    riskEvents: result.riskEvents,
    artifacts: [],
    fingerprint,
  };
  const runDir = path.join(workspace.runsDir, runId);
  await writeDirAtomic(runDir, (dir) => {
    const add = (file: string, kind: string, content: string): void => {
      writeFileAtomic(path.join(dir, file), content);
      record.artifacts.push({ path: file, kind, sha256: sha256Hex(content), bytes: Buffer.byteLength(content) });
    };
    writeArrowFile(path.join(dir, 'backtest.arrow'), backtestSeriesFrame(backtest, targets));
    record.artifacts.push(fileArtifact(dir, 'backtest.arrow', 'backtest-series'));
    add('trades.csv', 'trades', tradesCsv(result.trades));
    add('signals.json', 'signals', JSON.stringify(result.signals, null, 1) + '\n');
    add(
      'report.html',
      'report',
      renderHtmlReport(`candlelab backtest ${runId}`, [
        ...backtestSections(backtest),
        { title: 'Settings', html: `<pre>${escapeHtml(JSON.stringify({ data, strategies, settings }, null, 2))}</pre>` },
      ]),
    );
    writeFileAtomic(path.join(dir, 'run.json'), JSON.stringify(record, null, 2) + '\n');
  });
  return { record, runDir, backtest };
}
