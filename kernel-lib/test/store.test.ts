import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Frame, type Candles } from '../src/frame/frame';
import {
  listStore,
  mergeIntoStore,
  mergeSeriesIntoStore,
  parseStoreId,
  readStore,
  readStoreSeries,
  requireStore,
  storeFile,
  storeSeriesFile,
  type StoreKey,
} from '../src/data/store';
import { ConfigError, DataError } from '../src/errors';
import { exec, ROOT, tempDir } from './helpers';

const dir = tempDir('store');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const M = 60_000;
const T0 = Date.UTC(2024, 0, 1);

/** 1m candles at T0 + i minutes for each i in `minutes`, close = base + i. */
function minuteCandles(minutes: number[], base = 100): Candles {
  const close = Float64Array.from(minutes, (i) => base + i);
  return Frame.fromColumns(
    Float64Array.from(minutes, (i) => T0 + i * M),
    { open: close.slice(), high: close.map((c) => c + 1), low: close.map((c) => c - 1), close, volume: Float64Array.from(minutes, () => 5) },
    { symbol: 'BTC/USDT', timeframe: '1m' },
  );
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, k) => from + k);

describe('store layout', () => {
  it('puts candles at <dataDir>/<exchange>/<market>/<symbol>/<timeframe>.arrow and side tables beside them', () => {
    const key: StoreKey = { exchange: 'binance', market: 'futures', symbol: 'BTC/USDT:USDT', timeframe: '1h' };
    expect(storeFile(key, '/d')).toBe(path.join('/d', 'binance', 'futures', 'BTC-USDT-USDT', '1h.arrow'));
    expect(storeSeriesFile(key, 'funding', '/d')).toBe(path.join('/d', 'binance', 'futures', 'BTC-USDT-USDT', 'funding.arrow'));
    expect(storeSeriesFile(key, 'open-interest', '/d')).toBe(path.join('/d', 'binance', 'futures', 'BTC-USDT-USDT', 'open-interest.arrow'));
    expect(parseStoreId('binance/futures/BTC-USDT-USDT/1h')).toEqual(key);
    expect(parseStoreId('binance/spot/BTC/USDT/4h')).toEqual({ exchange: 'binance', market: 'spot', symbol: 'BTC/USDT', timeframe: '4h' });
    expect(parseStoreId('prices.csv')).toBeUndefined();
  });

  it('defaults to the workspace data dir (CANDLELAB_DATA_DIR)', () => {
    const previous = process.env.CANDLELAB_DATA_DIR;
    process.env.CANDLELAB_DATA_DIR = path.join(dir, 'env-data');
    try {
      expect(storeFile({ exchange: 'kraken', market: 'spot', symbol: 'ETH/EUR', timeframe: '1d' })).toBe(path.join(dir, 'env-data', 'kraken', 'spot', 'ETH-EUR', '1d.arrow'));
    } finally {
      if (previous === undefined) delete process.env.CANDLELAB_DATA_DIR;
      else process.env.CANDLELAB_DATA_DIR = previous;
    }
  });

  it('rejects malformed keys with the field named', () => {
    expect(() => storeFile({ exchange: 'binance', market: 'margin' as 'spot', symbol: 'BTC/USDT', timeframe: '1h' }, dir)).toThrow(/market 'margin' must be spot or futures/);
    expect(() => storeFile({ exchange: 'binance', market: 'spot', symbol: 'BTCUSDT', timeframe: '1h' }, dir)).toThrow(ConfigError);
    expect(() => storeFile({ exchange: '../x', market: 'spot', symbol: 'BTC/USDT', timeframe: '1h' }, dir)).toThrow(/exchange/);
  });
});

describe('mergeIntoStore', () => {
  const data = path.join(dir, 'merge');
  const key: StoreKey = { exchange: 'binance', market: 'spot', symbol: 'BTC/USDT', timeframe: '1m' };

  it('returns undefined for a key not stored, and lists nothing', () => {
    expect(readStore(key, data)).toBeUndefined();
    expect(listStore(data)).toEqual([]);
  });

  it('deduplicates by time with new rows winning, keeps time order and counts added/replaced', () => {
    expect(mergeIntoStore(key, minuteCandles(range(10, 20)), data)).toEqual({ added: 10, replaced: 0, total: 10 });
    // Overlap 15..19 with other prices, plus older rows 0..4 and a later row 30 (a gap is allowed).
    const update = minuteCandles([...range(0, 5), ...range(15, 20), 30], 1000);
    expect(mergeIntoStore(key, update, data)).toEqual({ added: 6, replaced: 5, total: 16 });
    const stored = readStore(key, data)!;
    expect(Array.from(stored.time, (t) => (t - T0) / M)).toEqual([...range(0, 5), ...range(10, 20), 30]);
    const close = Array.from(stored.column('close'));
    expect(close.slice(0, 5)).toEqual(range(1000, 1005));
    expect(close.slice(5, 10)).toEqual(range(110, 115)); // untouched old rows
    expect(close.slice(10, 15)).toEqual(range(1015, 1020)); // replaced by the new rows
    expect(stored.meta).toMatchObject({ exchange: 'binance', symbol: 'BTC/USDT', timeframe: '1m' });
  });

  it('lists what is stored with rows and first/last bar', () => {
    expect(listStore(data)).toEqual([
      { ...key, file: storeFile(key, data), rows: 16, first: T0, last: T0 + 30 * M },
    ]);
  });

  it('refuses rows whose spacing disagrees with the timeframe, leaving the file as it was', () => {
    const before = fs.readFileSync(storeFile(key, data));
    const hourKey = { ...key, timeframe: '1h' };
    mergeIntoStore(hourKey, minuteCandles([0]), data);
    expect(() => mergeIntoStore(hourKey, minuteCandles([60, 61]), data)).toThrow(/1 min apart at 2024-01-01T01:01:00.000Z, not a multiple of 1h/);
    // Off the grid of the stored rows (the 30 s phase differs).
    const offGrid = Frame.fromColumns(Float64Array.of(T0 + 40 * M + 30_000), { open: Float64Array.of(1), high: Float64Array.of(1), low: Float64Array.of(1), close: Float64Array.of(1), volume: Float64Array.of(1) }, { symbol: 'BTC/USDT', timeframe: '1m' });
    expect(() => mergeIntoStore(key, offGrid as Candles, data)).toThrow(DataError);
    expect(() => mergeIntoStore(key, offGrid as Candles, data)).toThrow(/off the stored 1m grid/);
    expect(fs.readFileSync(storeFile(key, data)).equals(before)).toBe(true);
    expect(fs.existsSync(`${storeFile(key, data)}.lock`)).toBe(false);
  });

  it('reports a missing key with what is stored', () => {
    expect(() => requireStore({ ...key, symbol: 'ETH/USDT' }, data)).toThrow(/binance\/spot\/ETH-USDT\/1m is not in the store; stored: binance\/spot\/BTC-USDT\/1h, binance\/spot\/BTC-USDT\/1m/);
    expect(requireStore(key, data, '2024-01-01T00:10:00Z', '2024-01-01T00:20:00Z').length).toBe(10);
  });

  it('stores funding and open-interest side tables, merged by time', () => {
    const fkey = { exchange: 'binance', market: 'futures' as const, symbol: 'BTC/USDT:USDT', timeframe: '1h' };
    const funding = (hours: number[], rate: number) =>
      Frame.fromColumns(Float64Array.from(hours, (h) => T0 + h * 3_600_000), { funding_rate: Float64Array.from(hours, () => rate) }, { symbol: 'BTC/USDT:USDT', timeframe: '8h' });
    expect(mergeSeriesIntoStore(fkey, 'funding', funding([0, 8, 16], 0.0001), data)).toEqual({ added: 3, replaced: 0, total: 3 });
    expect(mergeSeriesIntoStore(fkey, 'funding', funding([16, 24], 0.0003), data)).toEqual({ added: 1, replaced: 1, total: 4 });
    expect(Array.from(readStoreSeries(fkey, 'funding', data)!.column('funding_rate'))).toEqual([0.0001, 0.0001, 0.0003, 0.0003]);
    expect(readStoreSeries(fkey, 'open-interest', data)).toBeUndefined();
    expect(() => mergeSeriesIntoStore(fkey, 'open-interest', funding([0], 1), data)).toThrow(/no 'open_interest' column/);
    // Side tables are not candles: the listing skips them.
    expect(listStore(data).map((e) => e.symbol)).not.toContain('BTC/USDT:USDT');
  });
});

/** A node script (CommonJS, against the built library) run as a child process. */
function childScript(body: string): string[] {
  const storeJs = path.join(ROOT, 'kernel-lib', 'dist', 'data', 'store.js');
  const frameJs = path.join(ROOT, 'kernel-lib', 'dist', 'frame', 'frame.js');
  const syntheticJs = path.join(ROOT, 'kernel-lib', 'dist', 'data', 'synthetic.js');
  return ['-e', `const store = require(${JSON.stringify(storeJs)}); const { Frame } = require(${JSON.stringify(frameJs)}); const { generateSyntheticCandles } = require(${JSON.stringify(syntheticJs)});\n${body}`];
}

describe('concurrent writers', () => {
  it('lose nothing: 4 processes merging overlapping ranges in 10 steps each', async () => {
    const data = path.join(dir, 'concurrent');
    const key = { exchange: 'binance', market: 'spot', symbol: 'BTC/USDT', timeframe: '1m' };
    // Writer w covers minutes [w*150, w*150 + 400) in chunks of 40: neighbours overlap by 250 minutes.
    const writers = [0, 1, 2, 3].map((w) =>
      exec(
        process.execPath,
        childScript(`
          const key = ${JSON.stringify(key)};
          for (let step = 0; step < 10; step++) {
            const n = 40, start = ${w} * 150 + step * 40;
            const time = Float64Array.from({ length: n }, (_, k) => ${T0} + (start + k) * ${M});
            const v = Float64Array.from({ length: n }, (_, k) => 1 + start + k); // prices > 0
            const frame = Frame.fromColumns(time, { open: v, high: v, low: v, close: v, volume: Float64Array.from({ length: n }, () => ${w}) }, { symbol: 'BTC/USDT', timeframe: '1m' });
            store.mergeIntoStore(key, frame, ${JSON.stringify(data)});
          }`),
      ),
    );
    const results = await Promise.all(writers);
    for (const result of results) expect(result.stderr).toBe('');
    const stored = readStore(key as StoreKey, data)!;
    // Every minute written by anyone is there, once, in order: [0, 3*150 + 400).
    expect(stored.length).toBe(850);
    expect(Array.from(stored.time, (t) => (t - T0) / M)).toEqual(range(0, 850));
    expect(Array.from(stored.column('close'))).toEqual(range(1, 851));
    const leftovers = fs.readdirSync(path.dirname(storeFile(key as StoreKey, data))).filter((name) => name !== '1m.arrow');
    expect(leftovers).toEqual([]);
  });

  it('a writer killed mid-merge leaves the old file readable; its stale lock and temp file are recovered', async () => {
    const data = path.join(dir, 'killed');
    const key: StoreKey = { exchange: 'binance', market: 'spot', symbol: 'BTC/USDT', timeframe: '1m' };
    mergeIntoStore(key, minuteCandles(range(0, 1000)), data);
    const file = storeFile(key, data);
    const before = fs.readFileSync(file);
    // A big merge (3M bars) holds the lock for seconds: kill it while it does.
    const child = spawn(
      process.execPath,
      childScript(`
        const big = generateSyntheticCandles({ bars: 3000000, timeframe: '1m', start: '2024-01-01T00:00:00Z' });
        store.mergeIntoStore(${JSON.stringify(key)}, big, ${JSON.stringify(data)});`),
      { stdio: 'ignore' },
    );
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    const lock = `${file}.lock`;
    const deadline = Date.now() + 60_000;
    while (!fs.existsSync(lock) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(fs.existsSync(lock)).toBe(true);
    await new Promise((r) => setTimeout(r, 300));
    child.kill('SIGKILL');
    await exited;
    // The old file is intact and readable; the dead writer's lock is still there.
    expect(fs.readFileSync(file).equals(before)).toBe(true);
    expect(readStore(key, data)!.length).toBe(1000);
    expect(fs.existsSync(lock)).toBe(true);
    // The next writer sees the lock's process is gone, takes it over, and cleans the dead temp file.
    expect(mergeIntoStore(key, minuteCandles([1000]), data)).toEqual({ added: 1, replaced: 0, total: 1001 });
    expect(fs.readdirSync(path.dirname(file))).toEqual(['1m.arrow']);
  });

  it('a live lock makes the next writer wait, then time out with a clear error', () => {
    const data = path.join(dir, 'locked');
    const key: StoreKey = { exchange: 'binance', market: 'spot', symbol: 'BTC/USDT', timeframe: '1m' };
    const file = storeFile(key, data);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    // This process is alive: its lock is not stale.
    fs.writeFileSync(`${file}.lock`, JSON.stringify({ pid: process.pid, host: require('node:os').hostname(), token: 'x', since: 0 }));
    expect(() => mergeIntoStore(key, minuteCandles([0]), { dataDir: data, timeoutMs: 200 })).toThrow(/is locked by another writer.*delete .*1m\.arrow\.lock/);
    expect(fs.existsSync(file)).toBe(false);
  });
});
