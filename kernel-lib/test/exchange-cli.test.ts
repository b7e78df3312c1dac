import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateSyntheticCandles } from '../src/data/synthetic';
import { startFakeExchange, type FakeExchange } from '../src/testing';
import { readArrowFile } from '../src/data/arrow-file';
import { readStore } from '../src/data/store';
import { computeFeatures } from '../src/features/compute-features';
import { createRegistry } from '../src/plugins/core-plugin';
import { CLI_BIN, cli, tempDir, workspaceEnv } from './helpers';

const HOUR = 3_600_000;
const btc = generateSyntheticCandles({ seed: 21, bars: 3000, timeframe: '1h', start: '2023-01-01T00:00:00Z' });
const eth = generateSyntheticCandles({ seed: 22, bars: 1500, timeframe: '1h', start: '2023-01-01T00:00:00Z', startPrice: 1600 });
const minutes = generateSyntheticCandles({ seed: 23, bars: 3000, timeframe: '1m', start: '2023-06-01T00:00:00Z' });

let fake: FakeExchange;
let streaming: FakeExchange;
beforeAll(async () => {
  // 20 ms per request on top of ccxt's own rate limiter: a 30-page download takes a couple of seconds.
  fake = await startFakeExchange({
    latencyMs: 20,
    datasets: [
      { market: 'spot', symbol: 'BTC/USDT', timeframe: '1h', candles: btc },
      { market: 'spot', symbol: 'ETH/USDT', timeframe: '1h', candles: eth },
    ],
  });
  streaming = await startFakeExchange({
    datasets: [{ market: 'spot', symbol: 'BTC/USDT', timeframe: '1m', candles: minutes }],
    now: minutes.time[200] + 1_000,
    autoAdvance: { everyMs: 10, stepMs: 20_000 },
  });
});
afterAll(async () => {
  await fake?.close();
  await streaming?.close();
});

const fetchArgs = (dataDir: string): string[] => [
  'data', 'fetch', 'binance', 'BTC/USDT', '1h', '--from', '2023-01-01', '--to', '2023-05-06T00:00:00Z', '--page-size', '100', '--api-url', fake.url, '--data-dir', dataDir, '--progress', 'lines',
];
const storeFileIn = (dataDir: string): string => path.join(dataDir, 'binance', 'spot', 'BTC-USDT', '1h.arrow');
const klines = (from: number): FakeExchange['requests'] => fake.requests.slice(from).filter((r) => r.path === '/api/v3/klines');

describe('candlelab data fetch', () => {
  it('a download killed mid-way and run again ends byte-identical to an uninterrupted one', async () => {
    const whole = tempDir('cli-whole');
    const full = await cli(fetchArgs(whole));
    expect(full.stderr).not.toMatch(/error/);
    expect(full.status).toBe(0);
    expect(full.stdout).toMatch(/^binance\/spot\/BTC-USDT\/1h: 3000 new candles, 3000 stored \(2023-01-01T00:00:00\.000Z … 2023-05-05T23:00:00\.000Z\) in 30 pages/);
    expect(full.stderr).toMatch(/binance\/spot\/BTC-USDT\/1h \[#+\.*\] \d+\/3000/); // the progress lines

    const killed = tempDir('cli-killed');
    const start = fake.requests.length;
    const child = spawn(CLI_BIN, [...fetchArgs(killed)], { stdio: 'ignore' });
    let exited = false;
    const exit = new Promise<number | null>((resolve) =>
      child.on('exit', (code, signal) => {
        exited = true;
        resolve(signal === 'SIGKILL' ? -9 : code);
      }),
    );
    // SIGKILL after 12 pages were requested: somewhere inside a page or a store write.
    while (klines(start).length < 12 && !exited) await new Promise((resolve) => setTimeout(resolve, 2));
    child.kill('SIGKILL');
    expect(await exit).toBe(-9);
    const partial = readStore({ exchange: 'binance', market: 'spot', symbol: 'BTC/USDT', timeframe: '1h' }, killed)!;
    expect(partial.length).toBeGreaterThan(0);
    expect(partial.length).toBeLessThan(3000);

    const resumedAt = fake.requests.length;
    const resumed = await cli(fetchArgs(killed));
    expect(resumed.status).toBe(0);
    // It continued from the last stored candle: the first page asked starts right after it.
    expect(Number(klines(resumedAt)[0].query.startTime)).toBe(partial.time[partial.length - 1] + HOUR);
    expect(fs.readFileSync(storeFileIn(killed)).equals(fs.readFileSync(storeFileIn(whole)))).toBe(true);
    expect(fs.readdirSync(path.dirname(storeFileIn(killed))).filter((n) => n.startsWith('.'))).toEqual([]); // no temp or lock files left
  });

  it('prints one-line errors naming the closest exchange, symbol or timeframe', async () => {
    const dataDir = tempDir('cli-errors');
    const run = (args: string[]): ReturnType<typeof cli> => cli(['data', 'fetch', ...args, '--from', '2023-01-01', '--api-url', fake.url, '--data-dir', dataDir]);
    const exchange = await run(['kraken2', 'BTC/USDT', '1h']);
    expect(exchange.status).toBe(1);
    expect(exchange.stderr).toMatch(/^candlelab: error: unknown exchange 'kraken2'; closest ccxt ids: kraken, krakenfutures, .*\n$/);
    const symbol = await run(['binance', 'ETH/USDC', '1h']);
    expect(symbol.status).toBe(1);
    expect(symbol.stderr).toMatch(/^candlelab: error: unknown symbol 'ETH\/USDC' on binance spot \(\d+ markets\); closest: ETH\/USDT, .*\n$/);
    const timeframe = await run(['binance', 'BTC/USDT', '2m']);
    expect(timeframe.status).toBe(1);
    expect(timeframe.stderr).toBe('candlelab: error: unknown timeframe \'2m\' on binance; valid: 1s, 1m, 3m, 5m, 15m, 30m, 1h, 2h, 4h, 6h, 8h, 12h, 1d, 3d, 1w, 1M\n');
  });
});

describe('candlelab data stream', () => {
  it('prints N closed candles as JSON lines and stores them', async () => {
    const dir = tempDir('cli-stream');
    const result = await cli(['data', 'stream', 'binance', 'BTC/USDT', '1m', '--api-url', streaming.url, '--max-candles', '5', '--json'], workspaceEnv(dir));
    expect(result.status).toBe(0);
    const lines = result.stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(lines.length).toBe(5);
    for (let i = 1; i < 5; i++) expect(lines[i].time - lines[i - 1].time).toBe(60_000);
    const served = streaming.candles('spot', 'BTC/USDT', '1m');
    for (const line of lines) expect(line.close).toBe(served.column('close')[(line.time - served.time[0]) / 60_000]);
    expect(result.stderr).toMatch(/streaming binance BTC\/USDT 1m \(ohlcv\)[\s\S]*stopped after 5 closed candles/);
    const stored = readStore({ exchange: 'binance', market: 'spot', symbol: 'BTC/USDT', timeframe: '1m' }, path.join(dir, 'data'))!;
    expect(Array.from(stored.time)).toEqual(lines.map((l) => l.time));
  });

  it('stops cleanly on Ctrl-C (SIGINT)', async () => {
    const dir = tempDir('cli-stream-int');
    const child = spawn(CLI_BIN, ['data', 'stream', 'binance', 'BTC/USDT', '1m', '--api-url', streaming.url], { env: { ...process.env, ...workspaceEnv(dir) }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk));
    const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    let exited = false;
    child.on('exit', () => (exited = true));
    while (stdout.split('\n').length < 4 && !exited) await new Promise((resolve) => setTimeout(resolve, 5));
    child.kill('SIGINT');
    expect(await exit).toBe(0);
    expect(stderr).toMatch(/stopped after \d+ closed candles\n$/);
    expect(stdout).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:00\.000Z o=[\d.]+ h=[\d.]+ l=[\d.]+ c=[\d.]+ v=[\d.]+ \(stream\)$/m);
  });
});

describe('candlelab coin add', () => {
  it('adds two coins in one command: download, quality check, features and a spec each (--no-train)', async () => {
    const dir = tempDir('cli-coins');
    const specsDir = path.join(dir, 'specs');
    const result = await cli(
      ['coin', 'add', 'BTC/USDT', 'ETH/USDT', '--timeframe', '1h', '--from', '2023-01-01', '--to', '2023-02-01', '--api-url', fake.url, '--no-train', '--specs-dir', specsDir, '--progress', 'quiet'],
      workspaceEnv(dir),
    );
    expect(result.stderr).not.toMatch(/error/);
    expect(result.status).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^BTC\/USDT: 744 candles \(2023-01-01T00:00 … 2023-01-31T23:00\), 12 features, spec .*coin-binance-spot-BTC-USDT-1h\.json$/);
    expect(lines[1]).toMatch(/^ETH\/USDT: 744 candles .*coin-binance-spot-ETH-USDT-1h\.json$/);
    expect(result.stderr).toMatch(/quality: ok/);
    for (const [symbol, folder] of [['BTC/USDT', 'BTC-USDT'], ['ETH/USDT', 'ETH-USDT']]) {
      const dataDir = path.join(dir, 'data');
      const candles = readStore({ exchange: 'binance', market: 'spot', symbol, timeframe: '1h' }, dataDir)!;
      expect(candles.length).toBe(744);
      const features = readArrowFile(path.join(dataDir, 'binance', 'spot', folder, '1h-features.arrow'));
      expect(features.length).toBe(744);
      const spec = JSON.parse(fs.readFileSync(path.join(specsDir, `coin-binance-spot-${folder}-1h.json`), 'utf8'));
      // The stored feature columns are the spec's features computed on the stored candles.
      const expected = computeFeatures(candles, spec.features, createRegistry());
      expect(features.names).toEqual(['open', 'high', 'low', 'close', 'volume', ...expected.names]);
      expect(expected.names).toContain('rsi_14');
      for (const name of expected.names) expect(Array.from(features.column(name))).toEqual(Array.from(expected.frame.column(name)));
      expect(spec.data).toEqual({ source: 'store', exchange: 'binance', market: 'spot', symbol, timeframe: '1h', start: '2023-01-01T00:00:00.000Z', end: '2023-02-01T00:00:00.000Z' });
      expect(spec.features).toEqual(JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'specs', 'quickstart.json'), 'utf8')).features);
    }
    expect(fs.existsSync(path.join(dir, 'runs'))).toBe(false);
  });

  it('reports a failing coin and still adds the others (exit 1)', async () => {
    const dir = tempDir('cli-coins-bad');
    const result = await cli(
      ['coin', 'add', 'BTC/USDT', 'DOGE/USDX', '--from', '2023-01-01', '--to', '2023-01-03', '--api-url', fake.url, '--no-train', '--specs-dir', path.join(dir, 'specs'), '--progress', 'quiet'],
      workspaceEnv(dir),
    );
    expect(result.status).toBe(1);
    expect(result.stdout).toMatch(/^BTC\/USDT: 48 candles/m);
    expect(result.stdout).toMatch(/^DOGE\/USDX: FAILED: unknown symbol 'DOGE\/USDX' on binance spot/m);
    expect(result.stderr).toMatch(/candlelab: error: 1 of 2 coins failed: DOGE\/USDX \(unknown symbol/);
  });
});
