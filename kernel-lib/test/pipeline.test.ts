import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readArrowFile } from '../src/data/arrow-file';
import { runFingerprint, type RunRecord } from '../src/runner/run-record';
import { generateSyntheticCandles } from '../src/data/synthetic';
import { writeCandlesCsv } from '../src/data/csv-file';
import type { EngineTrade } from '../src/backtest/engine';
import { cli, exec, listDir, tempDir, workspaceEnv, ROOT } from './helpers';

const dir = tempDir('pipeline');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

type Summary = { runId: string; runDir: string; report: string; fingerprint: string; registered: { name: string; version: number } };

async function runJson(args: string[], env: Record<string, string>): Promise<Summary> {
  const result = await cli(['run', ...args, '--json', '--progress', 'quiet'], env);
  expect(result.stderr).not.toMatch(/error/i);
  expect(result.status).toBe(0);
  return JSON.parse(result.stdout);
}

/** Recompute a run's fingerprint from the files it wrote: predictions.arrow, trades.csv, run.json. */
function fingerprintFromFiles(runDir: string): string {
  const record: RunRecord = JSON.parse(fs.readFileSync(path.join(runDir, 'run.json'), 'utf8'));
  const frame = readArrowFile(path.join(runDir, 'predictions.arrow'));
  const columns = frame.names.filter((n) => n.startsWith('p_'));
  const values = new Float32Array(frame.length * columns.length);
  columns.forEach((name, c) => frame.column(name).forEach((v, r) => (values[r * columns.length + c] = v)));
  const lines = fs.readFileSync(path.join(runDir, 'trades.csv'), 'utf8').trim().split('\n').slice(1).filter(Boolean);
  const trades: EngineTrade[] = lines.map((line) => {
    const [sleeve, asset, side, entryTime, entryPrice, exitTime, exitPrice, units, pnl, returnPct, bars, fees, funding, slippageCost, exitReason] = line.split(',');
    return {
      sleeve, asset, side: side as EngineTrade['side'], entryTime: Date.parse(entryTime), entryPrice: Number(entryPrice), exitTime: Date.parse(exitTime),
      exitPrice: Number(exitPrice), units: Number(units), pnl: Number(pnl), returnPct: Number(returnPct), bars: Number(bars),
      fees: Number(fees), funding: Number(funding), slippageCost: Number(slippageCost), exitReason: exitReason as EngineTrade['exitReason'],
    };
  });
  const predictions = { start: record.split.firstRow, rows: frame.length, columns: columns.map((c) => c.slice(2)), values, microsecondsPerRow: 0 };
  return runFingerprint(predictions, trades, record.metrics);
}

describe('candlelab run specs/quickstart.json', () => {
  const workspace = path.join(dir, 'quickstart');
  const env = workspaceEnv(workspace);
  let first: Summary;
  let second: Summary;
  beforeAll(async () => {
    first = await runJson(['specs/quickstart.json'], env);
    second = await runJson(['specs/quickstart.json'], env);
  });

  it('writes a whole run folder: run.json, model files, predictions, trades, report', async () => {
    expect(listDir(first.runDir)).toEqual(['backtest.arrow', 'model', 'predictions.arrow', 'report.html', 'run.json', 'run.log', 'signals.json', 'trades.csv']);
    expect(listDir(path.join(first.runDir, 'model'))).toEqual(['model-card.json', 'model.json', 'model.onnx']);
    const record: RunRecord = JSON.parse(fs.readFileSync(path.join(first.runDir, 'run.json'), 'utf8'));
    expect(record.fingerprint).toBe(first.fingerprint);
    expect(record.spec.name).toBe('quickstart');
    expect(record.data).toMatchObject({ symbol: 'BTC/USDT', timeframe: '1h', rows: 26_280 });
    expect(record.artifacts.map((a) => a.path).sort()).toEqual(
      ['backtest.arrow', 'model/model-card.json', 'model/model.json', 'model/model.onnx', 'predictions.arrow', 'report.html', 'run.log', 'signals.json', 'trades.csv'].sort(),
    );
    for (const key of ['totalReturn', 'cagr', 'annualVolatility', 'sharpe', 'sortino', 'calmar', 'maxDrawdown', 'maxDrawdownDays', 'winRate', 'profitFactor', 'expectancy', 'numTrades', 'averageTradeBars', 'exposure', 'buyHoldReturn'] as const) {
      expect(record.metrics.backtest).toHaveProperty(key);
    }
    expect(record.metrics.regimes.map((r) => r.regime)).toEqual(['bull', 'bear', 'sideways']);
    const signals = JSON.parse(fs.readFileSync(path.join(first.runDir, 'signals.json'), 'utf8'));
    expect(signals[0]).toMatchObject({ asset: 'BTC/USDT', signal: 'LONG' });
    expect(signals[0].reasoning).toMatch(/^P\(BUY\)=0\.\d+ > 0\.45$/);
    expect(signals[0].confidence).toBeGreaterThan(0.45);
    expect(record.metrics.backtest.numTrades).toBeGreaterThan(0);
    expect(record.metrics.classification!.test.confusion).toHaveLength(3);
  });

  it('its fingerprint is the sha256 of the predictions, trades and metrics it wrote', async () => {
    expect(fingerprintFromFiles(first.runDir)).toBe(first.fingerprint);
  });

  it('is deterministic: a second run has the same fingerprint and registers version 2', async () => {
    expect(second.fingerprint).toBe(first.fingerprint);
    expect(second.runId).not.toBe(first.runId);
    expect(first.registered).toEqual({ name: 'quickstart-BTC-USDT-1h', version: 1 });
    expect(second.registered).toEqual({ name: 'quickstart-BTC-USDT-1h', version: 2 });
  });

  it('registers the model with its metrics in models/, visible to `candlelab registry`', async () => {
    const version = JSON.parse(fs.readFileSync(path.join(env.CANDLELAB_MODELS_DIR, 'quickstart-BTC-USDT-1h', 'versions', '1', 'version.json'), 'utf8'));
    expect(version).toMatchObject({ name: 'quickstart-BTC-USDT-1h', version: 1, stage: 'staging', modelId: 'core/xgboost', runId: first.runId });
    expect(version.metrics.test.accuracy).toBeGreaterThan(0);
    expect(version.featureNames).toContain('rsi_14');
    const list = await cli(['registry', 'list'], env);
    expect(list.status).toBe(0);
    expect(list.stdout).toMatch(/quickstart-BTC-USDT-1h v1 \[staging\]/);
    const show = await cli(['registry', 'show', 'quickstart-BTC-USDT-1h', '2'], env);
    expect(JSON.parse(show.stdout).runId).toBe(second.runId);
  });

  it('prints where the report is and the headline metrics (human output)', async () => {
    const result = await cli(['run', 'specs/quickstart.json', '--progress', 'quiet', '--runs-dir', path.join(dir, 'human-runs')], env);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/report: +.*report\.html/);
    expect(result.stdout).toMatch(/total return: .*buy and hold: /);
    expect(result.stdout).toMatch(/sharpe: .*max drawdown: /);
    expect(result.stdout).toContain(`fingerprint:  ${first.fingerprint}`);
  });

  it('report.html is self-contained (no external scripts) and renders its charts in Chromium', async () => {
    const html = fs.readFileSync(first.report, 'utf8');
    // Nothing is fetched: no external script or stylesheet (booleans keep 5 MB of HTML out of failure messages).
    expect(/<script[^>]+src=/i.test(html)).toBe(false);
    expect(/<link[^>]+href=["']?https?:/i.test(html)).toBe(false);
    expect(html.includes('plotly.js v3')).toBe(true);
    const chromium = await exec(
      'chromium',
      ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update',
        '--disable-sync', `--user-data-dir=${path.join(dir, 'chromium')}`, '--virtual-time-budget=10000', '--dump-dom', `file://${first.report}`],
    );
    expect(chromium.status).toBe(0);
    // The page's own script marks how many figures it drew; plotly adds one main-svg per chart.
    expect(chromium.stdout).toMatch(/data-charts-rendered="8"/); // 5 run and backtest charts + predictions over price, realized against predicted, the signal heatmap
    expect(chromium.stdout).toContain('By market regime');
    expect((chromium.stdout.match(/class="main-svg"/g) ?? []).length).toBeGreaterThanOrEqual(8);
  });

  it('--set changes the run (and so the fingerprint)', async () => {
    const tuned = await runJson(['specs/quickstart.json', '--set', 'strategy.params.buyThreshold=0.4', '--set', 'register=false'], env);
    expect(tuned.fingerprint).not.toBe(first.fingerprint);
    expect(tuned.registered).toBeNull();
  });
});

describe('a spec using the example plugin', () => {
  it('resolves the plugin feature and strategy by id and runs', async () => {
    const workspace = path.join(dir, 'plugin');
    const summary = await runJson(['specs/example-plugin.json'], workspaceEnv(workspace));
    const record: RunRecord = JSON.parse(fs.readFileSync(path.join(summary.runDir, 'run.json'), 'utf8'));
    expect(record.features.map((f) => f.id)).toContain('example/zscore');
    expect(record.features.find((f) => f.id === 'example/zscore')!.outputs).toEqual(['zscore_48']);
    expect(record.strategy.id).toBe('example/trend-filtered');
    expect(record.metrics.backtest.numTrades).toBeGreaterThan(0);
  });
});

describe('any OHLCV CSV as data', () => {
  it('runs a spec on a CSV file given by path (relative to the spec)', async () => {
    const workspace = path.join(dir, 'csv');
    fs.mkdirSync(workspace, { recursive: true });
    writeCandlesCsv(path.join(workspace, 'eth.csv'), generateSyntheticCandles({ seed: 99, bars: 4000, symbol: 'ETH/USDT', startPrice: 2000 }));
    const spec = JSON.parse(fs.readFileSync(path.join(ROOT, 'specs', 'quickstart.json'), 'utf8'));
    spec.data = { source: 'file', path: 'eth.csv', symbol: 'ETH/USDT', timeframe: '1h' };
    fs.writeFileSync(path.join(workspace, 'spec.json'), JSON.stringify(spec));
    const summary = await runJson([path.join(workspace, 'spec.json')], workspaceEnv(workspace));
    expect(summary.registered.name).toBe('quickstart-ETH-USDT-1h');
  });
});

describe('bad input: one clear line, non-zero exit, nothing half-written', () => {
  const workspace = path.join(dir, 'bad');
  const env = workspaceEnv(workspace);
  const specFile = (name: string, mutate: (spec: any) => void): string => {
    const spec = JSON.parse(fs.readFileSync(path.join(ROOT, 'specs', 'quickstart.json'), 'utf8'));
    mutate(spec);
    const file = path.join(workspace, `${name}.json`);
    fs.mkdirSync(workspace, { recursive: true });
    fs.writeFileSync(file, JSON.stringify(spec));
    return file;
  };

  async function expectCleanFailure(args: string[], message: RegExp, extraEnv: Record<string, string> = {}): Promise<void> {
    const result = await cli(['run', ...args, '--progress', 'quiet'], { ...env, ...extraEnv });
    expect(result.status).toBe(1);
    // Informative lines (e.g. "generating sample data") may come first; the error is one line, no stack.
    const lines = result.stderr.trim().split('\n');
    const errors = lines.filter((line) => /error/i.test(line));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^candlelab: error: /);
    expect(errors[0]).toMatch(message);
    expect(lines.filter((line) => /^\s+at /.test(line))).toEqual([]);
    // A run that started (the spec was valid) leaves only its log, runs/<name>-<time>-failed/run.log, ending with the error.
    const failed = listDir(env.CANDLELAB_RUNS_DIR).filter((name) => /-failed$/.test(name));
    for (const name of failed) {
      expect(listDir(path.join(env.CANDLELAB_RUNS_DIR, name))).toEqual(['run.log']);
      expect(fs.readFileSync(path.join(env.CANDLELAB_RUNS_DIR, name, 'run.log'), 'utf8').trim().split('\n').pop()).toMatch(/ error +.+/);
      fs.rmSync(path.join(env.CANDLELAB_RUNS_DIR, name), { recursive: true });
    }
    expect(listDir(env.CANDLELAB_RUNS_DIR).filter((name) => !name.startsWith('.'))).toEqual([]);
    expect(listDir(env.CANDLELAB_RUNS_DIR).filter((name) => name.startsWith('.'))).toEqual([]);
    const models = env.CANDLELAB_MODELS_DIR;
    const versions = listDir(models).flatMap((name) => listDir(path.join(models, name, 'versions')));
    expect(versions).toEqual([]);
  }

  it('malformed JSON', async () => {
    fs.mkdirSync(workspace, { recursive: true });
    const file = path.join(workspace, 'broken.json');
    fs.writeFileSync(file, '{"name": "x",');
    await expectCleanFailure([file], /broken\.json is not valid JSON/);
  });

  it('a spec field of the wrong type', async () => {
    await expectCleanFailure([specFile('wrong-type', (s) => (s.split = { train: 'most' }))], /'split.train' expected number, received string/);
  });

  it('an unknown plugin id', async () => {
    await expectCleanFailure([specFile('unknown-id', (s) => (s.features[0].id = 'core/retruns'))], /unknown feature 'core\/retruns' \(did you mean 'core\/returns'\?\)/);
  });

  it('a plugin package that is not installed', async () => {
    await expectCleanFailure([specFile('no-plugin', (s) => (s.plugins = ['@acme/missing-plugin']))], /plugin package '@acme\/missing-plugin' is not installed/);
  });

  it('a missing data file', async () => {
    await expectCleanFailure([specFile('no-data', (s) => (s.data = { source: 'file', path: 'nowhere.arrow' }))], /nowhere\.arrow does not exist; check the path \(relative paths start at .*bad\)/);
  });

  it('a corrupt data file', async () => {
    fs.writeFileSync(path.join(workspace, 'corrupt.arrow'), Buffer.alloc(4096, 7));
    await expectCleanFailure([specFile('corrupt', (s) => (s.data = { source: 'file', path: 'corrupt.arrow' }))], /corrupt\.arrow is not a valid Arrow IPC file/);
  });

  it('candles with broken OHLC', async () => {
    const candles = generateSyntheticCandles({ seed: 2, bars: 3000 });
    candles.column('high')[1234] = 1; // high far below open/close
    writeCandlesCsv(path.join(workspace, 'broken-ohlc.csv'), candles);
    await expectCleanFailure([specFile('broken-ohlc', (s) => (s.data = { source: 'file', path: 'broken-ohlc.csv' }))], /broken-ohlc\.csv:\d+ \(2021-02-21T10:00:00\.000Z\): high 1 is below max\(open, close\) = [\d.]+, which no real candle has; fix or remove the row, or use data\.repair: "drop" in the spec/);
  });

  it('missing libxgboost names the apt package to install', async () => {
    await expectCleanFailure(['specs/quickstart.json'], /libxgboost was not found .*apt-get install libxgboost-dev/, { CANDLELAB_LIBXGBOOST: '/nonexistent/libxgboost.so' });
  });

  it('a bad --set', async () => {
    await expectCleanFailure(['specs/quickstart.json', '--set', 'strategy.params.buyThreshold=high'], /param 'buyThreshold' expected number, received string/);
  });
});

describe('candlelab backtest', () => {
  const workspace = path.join(dir, 'backtest');
  const env = workspaceEnv(workspace);
  const daily = path.join(workspace, 'stock_1d.csv');
  beforeAll(() => {
    fs.mkdirSync(workspace, { recursive: true });
    // a daily stock-like series: trading days only (weekends missing), ISO dates, as in a typical download
    const candles = generateSyntheticCandles({ seed: 77, bars: 1500, timeframe: '1d', startPrice: 100, annualVolatility: 0.3 });
    const lines = ['Date,Open,High,Low,Close,Volume'];
    for (let i = 0; i < candles.length; i++) {
      const day = new Date(candles.time[i]).getUTCDay();
      if (day === 0 || day === 6) continue;
      const row = ['open', 'high', 'low', 'close', 'volume'].map((c) => candles.column(c as 'open').at(i));
      lines.push([new Date(candles.time[i]).toISOString().slice(0, 10), ...row].join(','));
    }
    fs.writeFileSync(daily, lines.join('\n') + '\n');
  });

  it('backtests a price strategy on a daily CSV and writes a run folder with the report', async () => {
    const result = await cli(['backtest', daily, '--strategy', 'core/sma-crossover:fast=10,slow=20,allowShort=true', '--commission', '0.002', '--slippage-bps', '0', '--periods-per-year', '252', '--exclusive', '--whole-units', '--json'], env);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const record = JSON.parse(result.stdout);
    expect(record.data[0]).toMatchObject({ timeframe: '1d', symbol: 'stock_1d' });
    expect(record.settings).toMatchObject({ commissionBps: 20, exclusive: true, units: 'whole', periodsPerYear: 252 });
    expect(record.metrics.numTrades).toBeGreaterThan(10);
    expect(record.metrics.periodsPerYear).toBe(252);
    expect(listDir(record.runDir)).toEqual(['backtest.arrow', 'report.html', 'run.json', 'signals.json', 'trades.csv']);
    const trades = fs.readFileSync(path.join(record.runDir, 'trades.csv'), 'utf8').trim().split('\n').slice(1);
    expect(trades).toHaveLength(record.metrics.numTrades);
    // whole units: every trade's size is an integer
    for (const line of trades) expect(Number.isInteger(Number(line.split(',')[7]))).toBe(true);
  });

  it('prints the headline metrics and regimes (human output), with stops and risk settings', async () => {
    const result = await cli(['backtest', daily, '--strategy', 'core/rsi-mean-reversion:allowShort=true', '--stop-loss', '0.05', '--take-profit', '0.1', '--trailing-stop', '0.08', '--size', 'atr:0.02', '--set', 'risk.maxDrawdown=0.5'], env);
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/total return: .* CAGR .* buy and hold/);
    expect(result.stdout).toMatch(/sharpe .* sortino .* calmar/);
    expect(result.stdout).toMatch(/bull +\d+ bars/);
  });

  it('refuses a strategy that needs a model, an unknown strategy, a bad --size and a bad setting', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--strategy', 'core/probability-threshold'], /needs model predictions/],
      [['--strategy', 'core/sma-cross'], /unknown strategy 'core\/sma-cross' \(did you mean 'core\/sma-crossover'\?\)/],
      [['--strategy', 'core/sma-crossover', '--size', 'half'], /--size half: use fraction:F/],
      [['--strategy', 'core/sma-crossover', '--set', 'risk.maxDrawdown=2'], /'risk.maxDrawdown'/],
      [['--strategy', 'core/sma-crossover:fast=50,slow=20'], /fast < slow/],
    ];
    for (const [args, message] of cases) {
      const result = await cli(['backtest', daily, ...args], env);
      expect(result.status).toBe(1);
      expect(result.stderr.trim()).toMatch(/^candlelab: error: /);
      expect(result.stderr).toMatch(message);
    }
    const missing = await cli(['backtest', 'binance/spot/BTC-USDT/1h', '--strategy', 'core/buy-and-hold'], env);
    expect(missing.stderr).toMatch(/binance\/spot\/BTC-USDT\/1h is not in the store; the store \(.*\) is empty/);
  });
});

describe('candlelab backtest --portfolio', () => {
  it('runs several assets and weighted strategies (1h and 1d) on one cash account, with funding', async () => {
    const workspace = path.join(dir, 'portfolio');
    fs.mkdirSync(workspace, { recursive: true });
    writeCandlesCsv(path.join(workspace, 'btc_1h.csv'), generateSyntheticCandles({ seed: 1, bars: 3000 }));
    writeCandlesCsv(path.join(workspace, 'perp_1h.csv'), generateSyntheticCandles({ seed: 2, bars: 3000, startPrice: 2000 }));
    fs.writeFileSync(path.join(workspace, 'funding.csv'), 'time,rate\n' + Array.from({ length: 375 }, (_, i) => `${Date.UTC(2021, 0, 1) + (i + 1) * 8 * 3_600_000},0.0001`).join('\n') + '\n');
    const portfolio = {
      name: 'two-speeds',
      assets: [
        { symbol: 'BTC/USDT', data: 'btc_1h.csv' },
        { symbol: 'ETH/USDT:USDT', data: 'perp_1h.csv', funding: 'funding.csv' },
        { symbol: 'BTC/USDT 1d', data: 'sample:1d:3' },
      ],
      strategies: [
        { name: 'scalp', id: 'core/rsi-mean-reversion', params: { allowShort: true }, weight: 0.3, assets: ['BTC/USDT', 'ETH/USDT:USDT'] },
        { name: 'swing', id: 'core/sma-crossover', params: { fast: 5, slow: 20 }, weight: 0.5, assets: ['BTC/USDT 1d'] },
      ],
      settings: { initialCash: 50_000, risk: { maxAssetExposure: 0.4 } },
    };
    fs.writeFileSync(path.join(workspace, 'portfolio.json'), JSON.stringify(portfolio));
    const result = await cli(['backtest', '--portfolio', path.join(workspace, 'portfolio.json'), '--json'], workspaceEnv(workspace));
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const record = JSON.parse(result.stdout);
    expect(record.data.map((d: { symbol: string; timeframe: string }) => [d.symbol, d.timeframe])).toEqual([['BTC/USDT', '1h'], ['ETH/USDT:USDT', '1h'], ['BTC/USDT 1d', '1d']]);
    expect(record.strategies.map((x: { name: string; weight: number }) => [x.name, x.weight])).toEqual([['scalp', 0.3], ['swing', 0.5]]);
    const trades = fs.readFileSync(path.join(record.runDir, 'trades.csv'), 'utf8').trim().split('\n').slice(1).map((line) => line.split(','));
    expect(new Set(trades.map((t) => t[0]))).toEqual(new Set(['scalp', 'swing']));
    expect(new Set(trades.map((t) => t[1]))).toEqual(new Set(['BTC/USDT', 'ETH/USDT:USDT', 'BTC/USDT 1d']));
    // funding was paid or received on the perpetual's trades only
    expect(trades.filter((t) => t[1] === 'ETH/USDT:USDT').some((t) => Number(t[12]) !== 0)).toBe(true);
    expect(trades.filter((t) => t[1] !== 'ETH/USDT:USDT').every((t) => Number(t[12]) === 0)).toBe(true);
    expect(record.metrics.totalFunding).not.toBe(0);
    const html = fs.readFileSync(path.join(record.runDir, 'report.html'), 'utf8');
    expect(html).toContain('ETH/USDT:USDT: price and trades');
  });

  it('runs the shipped example portfolio', async () => {
    const workspace = path.join(dir, 'portfolio-example');
    const result = await cli(['backtest', '--portfolio', path.join(ROOT, 'portfolios', 'example.json'), '--json'], workspaceEnv(workspace));
    expect(result.status, result.stderr).toBe(0);
    const record = JSON.parse(result.stdout);
    expect(record.strategies.map((x: { name: string }) => x.name)).toEqual(['scalp', 'swing']);
    expect(record.metrics.numTrades).toBeGreaterThan(0);
  });

  it('names what is wrong in a portfolio file', async () => {
    const workspace = path.join(dir, 'portfolio-bad');
    fs.mkdirSync(workspace, { recursive: true });
    const bad = path.join(workspace, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify({ assets: [{ symbol: 'X/Y', data: 'sample' }], strategies: [{ name: 's', id: 'core/buy-and-hold', assets: ['Z/Y'] }] }));
    const result = await cli(['backtest', '--portfolio', bad], workspaceEnv(workspace));
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/strategy 's' trades 'Z\/Y', which is not among the assets: X\/Y/);
    const both = await cli(['backtest', 'sample', '--portfolio', bad], workspaceEnv(workspace));
    expect(both.stderr).toMatch(/--portfolio takes the assets and strategies from the file/);
  });
});

describe('candlelab features / label', () => {
  const workspace = path.join(dir, 'features-cli');
  it('compute features and labels for a file, so any tool can use them', async () => {
    fs.mkdirSync(workspace, { recursive: true });
    const input = path.join(workspace, 'candles.csv');
    writeCandlesCsv(input, generateSyntheticCandles({ seed: 4, bars: 500 }));
    const features = await cli(['features', input, '--feature', 'core/rsi:period=21', '--feature', 'core/bollinger', '--out', path.join(workspace, 'f.arrow')], workspaceEnv(workspace));
    expect(features.status, features.stderr).toBe(0);
    const frame = readArrowFile(path.join(workspace, 'f.arrow'));
    expect(frame.names).toEqual(['open', 'high', 'low', 'close', 'volume', 'rsi_21', 'bb_pctb_20', 'bb_width_20']);
    expect(Number.isNaN(frame.column('rsi_21')[20]) && Number.isFinite(frame.column('rsi_21')[21])).toBe(true);
    const labels = await cli(['label', input, '--labeler', 'core/triple-barrier:bars=12,scale=fixed,upper=0.01,lower=0.01', '--out', path.join(workspace, 'l.csv')], workspaceEnv(workspace));
    expect(labels.status, labels.stderr).toBe(0);
    expect(labels.stdout).toMatch(/0=SELL [\d.]+%, 1=HOLD [\d.]+%, 2=BUY [\d.]+%/);
    expect(fs.readFileSync(path.join(workspace, 'l.csv'), 'utf8').split('\n')[0]).toBe('time,open,high,low,close,volume,label,event_end');
  });

  it('list the catalogues with params and defaults', async () => {
    const features = await cli(['features', '--list']);
    expect(features.stdout).toMatch(/^core\/rsi@1\.0\.0  Relative Strength Index.*\n {4}period: number = 14$/m);
    const labels = await cli(['label', '--list']);
    expect(labels.stdout).toMatch(/core\/triple-barrier@1\.0\.0 \[classification\]/);
    expect(labels.stdout).toMatch(/scale: volatility\|fixed = "volatility"/);
    const bad = await cli(['features', 'sample', '--feature', 'core/rsi:period=1', '--out', path.join(workspace, 'x.csv')], workspaceEnv(workspace));
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/param 'period'/);
  });
});

describe('the CLI', () => {
  it('data sample writes the same bytes for the same seed; data check reports on it', async () => {
    const a = path.join(dir, 'a.arrow');
    const b = path.join(dir, 'b.arrow');
    expect((await cli(['data', 'sample', '--out', a, '--bars', '2000'])).status).toBe(0);
    expect((await cli(['data', 'sample', '--out', b, '--bars', '2000'])).status).toBe(0);
    expect(fs.readFileSync(a).equals(fs.readFileSync(b))).toBe(true);
    const check = await cli(['data', 'check', a, '--timeframe', '1h']);
    expect(check.status).toBe(0);
    expect(check.stdout).toMatch(/2000 rows, 2021-01-01T00:00:00.000Z … .*: ok/);
  });

  it('an unknown command is a usage error', async () => {
    const result = await cli(['frobnicate']);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/unknown command 'frobnicate'/);
  });
});
