import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Frame, type Candles } from '../src/frame/frame';

export const ROOT = path.resolve(__dirname, '..', '..');
/**
 * The `candlelab` command as npm linked it (node_modules/.bin → kernel-lib/bin/candlelab.js): what
 * `npx candlelab` runs. Spawned directly only where a test must signal the process itself.
 */
export const CLI_BIN = path.join(ROOT, 'node_modules', '.bin', 'candlelab');

/** A fresh temp folder, removed by the caller (or left for inspection on failure). */
export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `candlelab-test-${prefix}-`));
}

/** `write(name, text)`: a file of that text in `dir`; its path. */
export function fileWriter(dir: string): (name: string, text: string | Buffer) => string {
  return (name, text) => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text);
    return file;
  };
}

export type CliResult = { status: number; stdout: string; stderr: string };

/**
 * Run a command to completion without blocking the test worker's event loop (a long spawnSync starves
 * vitest's worker RPC).
 */
export function exec(command: string, args: string[], env: Record<string, string> = {}, cwd = ROOT): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ status: code ?? -1, stdout, stderr }));
  });
}

/**
 * Run the CLI the way README shows it, `npx candlelab …`, from the project (`npm test` builds it
 * first). `npm_config_yes=false` makes npx fail instead of looking for a registry package when the
 * local command is not linked.
 */
export function cli(args: string[], env: Record<string, string> = {}, cwd = ROOT): Promise<CliResult> {
  return exec('npx', ['candlelab', ...args], { npm_config_yes: 'false', ...env }, cwd);
}

/** Environment that sends a run's data, models, runs and caches (job results, stage cache) into `dir`. */
export function workspaceEnv(dir: string): Record<string, string> {
  return {
    CANDLELAB_DATA_DIR: path.join(dir, 'data'),
    CANDLELAB_MODELS_DIR: path.join(dir, 'models'),
    CANDLELAB_RUNS_DIR: path.join(dir, 'runs'),
    CANDLELAB_CACHE_DIR: path.join(dir, 'cache'),
  };
}

/** Names in a folder (empty when it does not exist). */
export function listDir(dir: string): string[] {
  return fs.existsSync(dir) ? fs.readdirSync(dir).sort() : [];
}

/** Hourly candles from rows [open, high, low, close] (volume 1000), starting at t = 0: hand-made test data. */
export function hourlyBars(rows: number[][], symbol = 'BTC/USDT'): Candles {
  return Frame.fromColumns(
    Float64Array.from(rows, (_, i) => i * 3_600_000),
    {
      open: Float64Array.from(rows, (r) => r[0]),
      high: Float64Array.from(rows, (r) => r[1]),
      low: Float64Array.from(rows, (r) => r[2]),
      close: Float64Array.from(rows, (r) => r[3]),
      volume: Float64Array.from(rows, () => 1000),
    },
    { symbol, timeframe: '1h' },
  );
}

/** Sample autocorrelation at `lag`; under i.i.d. values with finite variance its standard error is 1/√n. */
export function autocorrelation(values: Float64Array, lag: number): number {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  let numerator = 0;
  let denominator = 0;
  for (let i = 0; i < values.length; i++) {
    denominator += (values[i] - mean) ** 2;
    if (i >= lag) numerator += (values[i] - mean) * (values[i - lag] - mean);
  }
  return numerator / denominator;
}

/**
 * The side-table fixture (serve, paper sessions): a futures store with a perpetual's first `storedBars`
 * candles and a funding table every 8 h over all of them (varying, stamped at the hour, as `data fetch`
 * stores it), and a spec trained on it whose model reads core/funding. Returns the workspace, the store
 * key and the registered model's name.
 */
export async function trainFundingModel(folder: string, perp: Candles, options: { name: string; storedBars: number }) {
  const { runSpec } = await import('../src/runner/run-spec');
  const { mergeIntoStore, mergeSeriesIntoStore } = await import('../src/data/store');
  const workspace = { root: folder, dataDir: path.join(folder, 'data'), modelsDir: path.join(folder, 'models'), runsDir: path.join(folder, 'runs') };
  const key = { exchange: 'binance', market: 'futures' as const, symbol: 'BTC/USDT:USDT', timeframe: '1h' };
  mergeIntoStore(key, perp.slice(0, options.storedBars), workspace.dataDir);
  const times = Float64Array.from({ length: Math.ceil(perp.length / 8) }, (_, k) => perp.time[0] + k * 8 * 3_600_000);
  const funding = Frame.fromColumns(times, { funding_rate: Float64Array.from(times, (_, k) => 1e-4 * Math.sin(k / 3)) }, { symbol: key.symbol, timeframe: '1h' });
  mergeSeriesIntoStore(key, 'funding', funding, workspace.dataDir);
  const specFile = path.join(folder, `${options.name}.json`);
  fs.writeFileSync(
    specFile,
    JSON.stringify({
      name: options.name,
      seed: 1,
      data: { source: 'store', ...key },
      features: [{ id: 'core/funding', params: { window: 8 } }, { id: 'core/returns', params: { periods: [1, 4] } }],
      label: { id: 'core/direction', params: { bars: 4, threshold: 0.003 } },
      model: { id: 'core/xgboost', params: { rounds: 10, maxDepth: 3, threads: 1 } },
      strategy: { id: 'core/probability-threshold', params: { buyThreshold: 0.4 } },
      backtest: { initialCash: 10000, commissionBps: 2 },
    }),
  );
  await runSpec(specFile, { workspace, progress: 'quiet', log: () => {} });
  return { workspace, key, modelName: `${options.name}-BTC-USDT-USDT-1h` };
}
