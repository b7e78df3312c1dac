import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, DataError } from '../errors';
import { checkQuality, type QualityReport } from '../quality/check-quality';
import { computeFeatures } from '../features/compute-features';
import { createRegistry } from '../plugins/core-plugin';
import { runSpec } from './run-spec';
import { writeArrowFile } from '../data/arrow-file';
import { readStore, symbolFolder } from '../data/store';
import { loadCandleSource } from '../data/load-candles';
import { isoTime } from '../frame/frame';
import { writeFileAtomic } from '../util/atomic';
import { openWorkspace, type Workspace } from '../workspace';
import { runJobs, type JobRunner } from '../jobs/run-jobs';
import { jobResultsDir, openResultStore } from '../jobs/result-store';
import type { Job, RunJobResult } from '../jobs/job';
import { createRunContext, dataFingerprint, loadCandles } from './stages';
import type { ProgressMode } from '../util/progress';
import { fetchCandles, parseTime, type FetchCandlesResult, type TimeInput } from '../data/exchange/fetch-candles';
import type { ExchangeConnection } from '../data/exchange/ccxt-client';
import type { RetryPolicy } from '../data/exchange/retry';

export type AddCoinsOptions = ExchangeConnection & {
  symbols: string[];
  /** Default '1h'. */
  timeframe?: string;
  /** Default: 365 days before `to`. */
  from?: TimeInput;
  /** Default: the exchange's now. */
  to?: TimeInput;
  /** Train the base spec's pipeline on each coin (default true). */
  train?: boolean;
  /** The spec whose features, labels, model and strategy every coin gets (default <workspace>/specs/quickstart.json). */
  baseSpec?: string;
  /** Where each coin's spec is written (default <workspace>/specs/coins). */
  specsDir?: string;
  dataDir?: string;
  runsDir?: string;
  modelsDir?: string;
  /** Job results and the stage cache (default <workspace>/cache). */
  cacheDir?: string;
  retry?: RetryPolicy;
  /** Train the coins as jobs on this runner (local processes or BullMQ), in parallel, after every download. */
  runner?: JobRunner;
  progress?: ProgressMode;
  log?: (line: string) => void;
};

/** What happened to one coin. */
export type AddedCoin = {
  symbol: string;
  ok: boolean;
  error?: string;
  download?: FetchCandlesResult;
  quality?: QualityReport;
  /** The candles with the base spec's feature columns (Arrow), beside the candles in the store. */
  featuresFile?: string;
  features?: string[];
  /** The coin's spec: the base spec with a store data source over the downloaded range. */
  specFile?: string;
  run?: { runId: string; runDir: string; fingerprint: string; totalReturn: number | null; testAccuracy: number | null };
};

/**
 * Add coins in one call: for each symbol, download its candles into the store, check their quality,
 * compute the base spec's features (written beside the candles), write the coin's spec (the base spec
 * with a `store` data source over the downloaded range), and unless `train: false`, run that spec (train, backtest, register).
 * A failing coin does not stop the others; its result carries the one-line error.
 */
export async function addCoins(options: AddCoinsOptions): Promise<AddedCoin[]> {
  if (options.symbols.length === 0) throw new ConfigError('give at least one symbol, e.g. candlelab coin add BTC/USDT ETH/USDT');
  const workspace = openWorkspace({ dataDir: options.dataDir, runsDir: options.runsDir, modelsDir: options.modelsDir, cacheDir: options.cacheDir });
  const log = options.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const timeframe = options.timeframe ?? '1h';
  const baseSpecFile = path.resolve(options.baseSpec ?? path.join(workspace.root, 'specs', 'quickstart.json'));
  if (!fs.existsSync(baseSpecFile)) throw new ConfigError(`base spec ${baseSpecFile} does not exist; pass --spec <file.json>`);
  const baseSpec = JSON.parse(fs.readFileSync(baseSpecFile, 'utf8')) as Record<string, unknown> & { features: Array<{ id: string; params?: Record<string, unknown> }>; plugins?: string[] };
  const specsDir = path.resolve(options.specsDir ?? path.join(workspace.root, 'specs', 'coins'));
  const to = options.to === undefined ? undefined : parseTime(options.to, 'to');
  const from = options.from ?? (to ?? Date.now()) - 365 * 86_400_000;
  const registry = createRegistry(baseSpec.plugins ?? [], workspace.root);

  const results: AddedCoin[] = [];
  const toTrain: Array<{ result: AddedCoin; specFile: string; spec: unknown }> = [];
  for (const requested of options.symbols) {
    const result: AddedCoin = { symbol: requested, ok: false };
    results.push(result);
    try {
      const download = await fetchCandles({ ...options, symbol: requested, timeframe, from, to, dataDir: workspace.dataDir, extras: true });
      result.download = download;
      result.symbol = download.key.symbol;
      log(`${download.storeId}: ${download.added} new candles, ${download.total} stored (${download.first} … ${download.last})`);
      const stored = readStore(download.key, workspace.dataDir);
      if (!stored || stored.length === 0) throw new DataError(`${download.storeId}: the exchange returned no candles in the range; check --from/--to and the symbol's listing date`);
      // Through the one loader, as the coin's spec will read it (funding and open interest joined on futures).
      const candles = loadCandleSource({ source: 'store', ...download.key }, { dataDir: workspace.dataDir });
      const quality = checkQuality(candles);
      result.quality = quality;
      log(`  quality: ${quality.ok ? 'ok' : 'NOT USABLE'}${quality.issues.map((i) => `; ${i.severity} ${i.kind} ×${i.count} (first at ${i.first[0]})`).join('')}`);
      if (!quality.ok) throw new DataError(`${download.storeId} failed the quality check (${quality.issues.filter((i) => i.severity === 'error').map((i) => i.kind).join(', ')}); see candlelab data check ${download.file}`);

      const set = computeFeatures(candles, baseSpec.features.map((f) => ({ id: f.id, params: f.params ?? {} })), registry, { dataDir: workspace.dataDir, baseDir: path.dirname(baseSpecFile) });
      const columns: Record<string, Float64Array> = {};
      for (const name of set.names) columns[name] = set.frame.column(name);
      const featuresFile = path.join(path.dirname(download.file), `${timeframe}-features.arrow`);
      writeArrowFile(featuresFile, candles.select(['open', 'high', 'low', 'close', 'volume']).withColumns(columns));
      result.featuresFile = featuresFile;
      result.features = set.names;
      log(`  features: ${set.names.length} columns (warm-up ${set.lookback} rows) → ${path.relative(process.cwd(), featuresFile)}`);

      const fileName = `coin-${download.key.exchange}-${download.key.market}-${symbolFolder(download.key.symbol)}-${timeframe}`.replace(/[^\w.-]/g, '-');
      const specFile = path.join(specsDir, `${fileName}.json`);
      // Runs and the model are named <base name>-<exchange>-<market>(-<symbol>-<timeframe>, added by the runner).
      const baseName = typeof baseSpec.name === 'string' ? baseSpec.name : 'run';
      const spec = {
        ...baseSpec,
        name: `${baseName}-${download.key.exchange}-${download.key.market}`.replace(/[^\w.-]/g, '-'),
        // The store source reads data/<exchange>/<market>/<symbol>/<timeframe>.arrow over the downloaded range.
        data: {
          source: 'store',
          exchange: download.key.exchange,
          market: download.key.market,
          symbol: download.key.symbol,
          timeframe,
          start: isoTime(parseTime(from, 'from')),
          ...(to !== undefined ? { end: isoTime(to) } : {}),
        },
      };
      writeFileAtomic(specFile, JSON.stringify(spec, null, 2) + '\n');
      result.specFile = specFile;
      log(`  spec: ${path.relative(process.cwd(), specFile)}`);

      if (options.train !== false && options.runner) {
        toTrain.push({ result, specFile, spec });
      } else if (options.train !== false) {
        const { record, runDir } = await runSpec(specFile, {
          progress: options.progress,
          log,
          workspace: { dataDir: workspace.dataDir, runsDir: workspace.runsDir, modelsDir: workspace.modelsDir },
        });
        result.run = {
          runId: record.runId,
          runDir,
          fingerprint: record.fingerprint,
          totalReturn: record.metrics.backtest.totalReturn,
          testAccuracy: record.metrics.classification?.test.accuracy ?? null,
        };
        log(`  trained: run ${record.runId}, fingerprint ${record.fingerprint.slice(0, 12)}…`);
      }
      result.ok = true;
    } catch (error) {
      result.error = error instanceof Error ? error.message : String(error);
      log(`  ${requested}: error: ${result.error}`);
    }
  }
  if (options.runner && toTrain.length) await trainCoinJobs(options.runner, toTrain, workspace, log, options.progress);
  return results;
}

/** Per-coin training as 'run' jobs: each coin's spec run (and registered) by a worker, in parallel. */
async function trainCoinJobs(runner: JobRunner, coins: Array<{ result: AddedCoin; specFile: string; spec: unknown }>, workspace: Workspace, log: (line: string) => void, progress?: ProgressMode): Promise<void> {
  const jobs: Job[] = coins.map(({ specFile, spec }) => ({
    kind: 'run',
    spec,
    baseDir: path.dirname(specFile),
    workspace,
    dataFingerprint: dataFingerprint(loadCandles(createRunContext(specFile, { workspace, progress: 'quiet', log: () => {} }))),
  }));
  const run = await runJobs(runner, jobs, { store: openResultStore(jobResultsDir(workspace.cacheDir)), label: 'training coins', progress });
  run.outcomes.forEach((outcome, i) => {
    const { result } = coins[i];
    if (!outcome.ok) {
      result.ok = false;
      result.error = `training: ${outcome.error}`;
      log(`  ${result.symbol}: error: ${result.error}`);
      return;
    }
    const r = outcome.result as RunJobResult;
    result.run = { runId: r.runId, runDir: r.runDir, fingerprint: r.fingerprint, totalReturn: r.metrics.totalReturn, testAccuracy: r.testAccuracy };
    log(`  ${result.symbol} trained: run ${r.runId}${outcome.reused ? ' (reused: same data and spec)' : ''}, fingerprint ${r.fingerprint.slice(0, 12)}…`);
  });
}

/** One summary line per coin. */
export function formatAddedCoin(r: AddedCoin): string {
  if (!r.ok) return `${r.symbol}: FAILED: ${r.error}`;
  const d = r.download!;
  const trained = r.run ? `; run ${r.run.runId}` : '';
  return `${r.symbol}: ${d.total} candles (${d.first?.slice(0, 16)} … ${d.last?.slice(0, 16)}), ${r.features?.length ?? 0} features, spec ${path.relative(process.cwd(), r.specFile!)}${trained}`;
}
