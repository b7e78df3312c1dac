import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Frame } from '../src/frame/frame';
import { generateSyntheticCandles } from '../src/data/synthetic';
import { readCandlesCsv, writeCandlesCsv } from '../src/data/csv-file';
import { frameToArrowBytes, readArrowFile, writeArrowFile } from '../src/data/arrow-file';
import { readParquetFile, writeParquetFile } from '../src/data/parquet-file';
import { exportCandles, importCandlesFiles } from '../src/data/import-export';
import { listStore, mergeIntoStore, readStore, storeFile, storeRepairRecord, type StoreKey } from '../src/data/store';
import { parseSpec, specHash } from '../src/spec/spec';
import { createRunContext, loadCandles } from '../src/runner/stages';
import { DataError } from '../src/errors';
import { cli, exec, tempDir, fileWriter } from './helpers';

const dir = tempDir('import-export');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const write = fileWriter(dir);

const key: StoreKey = { exchange: 'binance', market: 'spot', symbol: 'BTC/USDT', timeframe: '1h' };
const H = 3_600_000;
const T = Date.UTC(2025, 0, 1); // 1735689600000

/** A Binance kline dump line (12 columns) for hour h, open time in the given unit. */
function binanceLine(h: number, unit: 'ms' | 'us'): string {
  const scale = unit === 'ms' ? 1 : 1000;
  const open = (T + h * H) * scale;
  const close = (T + (h + 1) * H - 1) * scale + (unit === 'us' ? 999 : 0);
  return `${open},${100 + h},${102 + h},${99 + h},${101 + h},${10 + h},${close},1000.5,42,5.5,550.25,0`;
}

describe('CSV import', () => {
  it('reads the same candles with and without a header row', () => {
    const rows = ['1735689600000,1,2,0.5,1.5,10', '1735693200000,1.5,2.5,1,2,11'];
    const withHeader = readCandlesCsv(write('header.csv', `time,open,high,low,close,volume\n${rows.join('\n')}\n`));
    const without = readCandlesCsv(write('no-header.csv', `${rows.join('\n')}\n`));
    expect(Array.from(without.time)).toEqual(Array.from(withHeader.time));
    expect(Array.from(without.time)).toEqual([T, T + H]);
    for (const name of ['open', 'high', 'low', 'close', 'volume'] as const) expect(Array.from(without.column(name))).toEqual(Array.from(withHeader.column(name)));
    expect(Array.from(without.column('close'))).toEqual([1.5, 2]);
  });

  it('parses decimals exactly as Number() does (the fast path must not round differently)', () => {
    const values = ['0.1', '0.3', '29000.07', '1e-8', '123456789.123456789', '-0.000001', '42', '3.14159265358979'];
    const file = write('decimals.csv', `time,open,high,low,close,volume\n${values.map((v, i) => `${T + i * H},${v},${v},${v},${v},${v}`).join('\n')}\n`);
    expect(Array.from(readCandlesCsv(file).column('close'))).toEqual(values.map(Number));
  });

  it('Binance dumps in ms and in µs (spot since 2025) give the same times', () => {
    const ms = readCandlesCsv(write('BTCUSDT-1h-ms.csv', [0, 1, 2].map((h) => binanceLine(h, 'ms')).join('\n') + '\n'));
    const us = readCandlesCsv(write('BTCUSDT-1h-us.csv', [0, 1, 2].map((h) => binanceLine(h, 'us')).join('\n') + '\n'));
    expect(Array.from(ms.time)).toEqual([T, T + H, T + 2 * H]);
    expect(Array.from(us.time)).toEqual(Array.from(ms.time));
    expect(Array.from(us.column('close'))).toEqual([101, 102, 103]);
    // Futures dumps carry a header naming the same 12 columns.
    const header = 'open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore\n';
    const futures = readCandlesCsv(write('futures.csv', header + [0, 1].map((h) => binanceLine(h, 'ms')).join('\n') + '\n'));
    expect(Array.from(futures.time)).toEqual([T, T + H]);
  });

  it('an open time of unknown magnitude in a Binance dump is an error naming the line, not a guess', () => {
    const lines = [binanceLine(0, 'ms'), binanceLine(1, 'ms').replace(/^\d+/, '173569320000000')]; // 15 digits
    const file = write('ambiguous.csv', lines.join('\n') + '\n');
    expect(() => readCandlesCsv(file)).toThrow(DataError);
    expect(() => readCandlesCsv(file)).toThrow(/ambiguous\.csv:2: open time 173569320000000 is neither epoch milliseconds \(13 digits\) nor microseconds \(16 digits\)/);
  });

  it('a truncated or corrupt CSV is a one-line error naming the file and the row', () => {
    const good = [0, 1, 2].map((h) => binanceLine(h, 'ms'));
    const truncated = write('truncated.csv', good.join('\n') + '\n' + binanceLine(3, 'ms').slice(0, 20));
    expect(() => readCandlesCsv(truncated)).toThrow(/truncated\.csv:4: row has 3 cell\(s\), expected 12; the file may be truncated/);
    const corrupt = write('corrupt.csv', `time,open,high,low,close,volume\n${T},1,2,0.5,1.5,10\n${T + H},1,2,\u0000\u0000,1.5,10\n`);
    expect(() => readCandlesCsv(corrupt)).toThrow(/corrupt\.csv:3: 'low' is not a number/);
    // A Binance row cut after its volume still misses columns: truncated, not silently accepted.
    const cut = write('cut.csv', good.join('\n') + '\n' + binanceLine(3, 'ms').split(',').slice(0, 7).join(',') + '\n');
    expect(() => readCandlesCsv(cut)).toThrow(/cut\.csv:4: row has 7 cell\(s\), expected 12/);
  });
});

describe('import into the store', () => {
  const data = path.join(dir, 'store');

  it('merges several files (unordered, overlapping, exact duplicates) and reports what it did', () => {
    const a = write('a.csv', [2, 0, 1].map((h) => binanceLine(h, 'ms')).join('\n') + '\n');
    const b = write('b.csv', [2, 3, 4].map((h) => binanceLine(h, 'us')).join('\n') + '\n');
    const report = importCandlesFiles([a, b], key, { dataDir: data });
    expect(report.merge).toEqual({ added: 5, replaced: 0, total: 5 });
    expect(report.duplicatesDropped).toBe(1);
    expect(report.sorted).toBe(true);
    expect(report.files).toEqual([{ file: a, rows: 3 }, { file: b, rows: 3 }]);
    expect(Array.from(readStore(key, data)!.time)).toEqual([0, 1, 2, 3, 4].map((h) => T + h * H));
  });

  it('two different rows with one time are an error naming both rows', () => {
    const conflict = write('conflict.csv', `${binanceLine(5, 'ms')}\n${binanceLine(5, 'ms').replace(',106,', ',106.5,')}\n`);
    expect(() => importCandlesFiles([conflict], key, { dataDir: data })).toThrow(/conflict\.csv:2: time 2025-01-01T05:00:00.000Z repeats .*conflict\.csv:1 with different values/);
  });

  it('a corrupt file anywhere in the list leaves the store as it was', () => {
    const before = fs.readFileSync(storeFile(key, data));
    const good = write('good.csv', binanceLine(10, 'ms') + '\n');
    const parquet = path.join(dir, 'broken.parquet');
    writeParquetFile(parquet, generateSyntheticCandles({ bars: 500 }));
    fs.writeFileSync(parquet, fs.readFileSync(parquet).subarray(0, 2000));
    expect(() => importCandlesFiles([good, parquet], key, { dataDir: data })).toThrow(/broken\.parquet is not a valid Parquet file/);
    expect(fs.readFileSync(storeFile(key, data)).equals(before)).toBe(true);
  });

  it('imports Parquet and Arrow files too', () => {
    const candles = generateSyntheticCandles({ bars: 300, start: '2025-02-01T00:00:00Z' });
    const parquet = path.join(dir, 'in.parquet');
    const arrowFile = path.join(dir, 'in.arrow');
    writeParquetFile(parquet, candles.slice(0, 200));
    writeArrowFile(arrowFile, candles.slice(150));
    const report = importCandlesFiles([parquet, arrowFile], { ...key, symbol: 'ETH/USDT' }, { dataDir: data });
    // The 50 overlapping rows are exact duplicates.
    expect(report).toMatchObject({ duplicatesDropped: 50, merge: { added: 300, total: 300 } });
    expect(Array.from(readStore({ ...key, symbol: 'ETH/USDT' }, data)!.column('close'))).toEqual(Array.from(candles.column('close')));
  });
});

describe('export', () => {
  const data = path.join(dir, 'export-store');
  const candles = generateSyntheticCandles({ bars: 1000, seed: 5 });
  importCandlesFiles([(() => { const f = path.join(dir, 'seed5.arrow'); writeArrowFile(f, candles); return f; })()], key, { dataDir: data });

  it('round-trips through Parquet exactly (values, times, meta)', () => {
    const out = path.join(dir, 'out.parquet');
    expect(exportCandles('binance/spot/BTC-USDT/1h', out, data)).toEqual({ rows: 1000, file: out });
    const back = readParquetFile(out);
    expect(back.meta).toMatchObject({ symbol: 'BTC/USDT', timeframe: '1h', exchange: 'binance' });
    expect(Array.from(back.time)).toEqual(Array.from(candles.time));
    for (const name of ['open', 'high', 'low', 'close', 'volume'] as const) expect(Array.from(back.column(name))).toEqual(Array.from(candles.column(name)));
  });

  it('writes Arrow and CSV that read back equal', () => {
    const arrowOut = path.join(dir, 'out.arrow');
    const csvOut = path.join(dir, 'out.csv');
    exportCandles('binance/spot/BTC-USDT/1h', arrowOut, data);
    exportCandles('binance/spot/BTC-USDT/1h', csvOut, data);
    expect(Array.from(readArrowFile(arrowOut).column('close'))).toEqual(Array.from(candles.column('close')));
    expect(Array.from(readCandlesCsv(csvOut).column('volume'))).toEqual(Array.from(candles.column('volume')));
  });

  it('CSV export is readable by pandas with the same numbers', async () => {
    const csvOut = path.join(dir, 'pandas.csv');
    exportCandles('binance/spot/BTC-USDT/1h', csvOut, data);
    const script = `import pandas as pd, json, sys\ndf = pd.read_csv(sys.argv[1])\nprint(json.dumps({"rows": len(df), "cols": list(df.columns), "first": int(df.time.iloc[0]), "close_sum": float(df.close.sum()), "last_close": float(df.close.iloc[-1])}))`;
    const result = await exec('/usr/bin/python3', ['-c', script, csvOut]);
    expect(result.stderr).toBe('');
    const seen = JSON.parse(result.stdout);
    const close = candles.column('close');
    expect(seen).toMatchObject({ rows: 1000, cols: ['time', 'open', 'high', 'low', 'close', 'volume'], first: candles.time[0], last_close: close[999] });
    expect(seen.close_sum).toBeCloseTo(close.reduce((a, b) => a + b, 0), 6);
  });

  it('a missing store key is an error listing what is stored; the output file is not touched', () => {
    const out = write('keep.csv', 'precious\n');
    expect(() => exportCandles('binance/spot/DOGE-USDT/1h', out, data)).toThrow(/DOGE-USDT\/1h is not in the store; stored: binance\/spot\/BTC-USDT\/1h/);
    expect(fs.readFileSync(out, 'utf8')).toBe('precious\n');
  });

  it('a frame whose columns share one buffer writes a valid Arrow file', () => {
    const v = Float64Array.from({ length: 40 }, (_, k) => k + 1);
    const frame = Frame.fromColumns(Float64Array.from(v, (_, k) => T + k * H), { open: v, high: v, low: v, close: v, volume: v }, { symbol: 'X/Y', timeframe: '1h' });
    const file = path.join(dir, 'shared.arrow');
    fs.writeFileSync(file, frameToArrowBytes(frame));
    expect(Array.from(readArrowFile(file).column('low'))).toEqual(Array.from(v));
  });
});

describe('the store as a spec data source', () => {
  const data = path.join(dir, 'spec-store');
  const base = {
    features: [{ id: 'core/rsi' }],
    label: { id: 'core/direction' },
    model: { id: 'core/xgboost' },
    strategy: { id: 'core/probability-threshold' },
  };

  it('loads the stored candles (within start/end) and lists what is stored when the key is missing', () => {
    const candles = generateSyntheticCandles({ bars: 500, timeframe: '1h', start: '2024-01-01T00:00:00Z' });
    const file = path.join(dir, 'spec-source.arrow');
    writeArrowFile(file, candles);
    importCandlesFiles([file], key, { dataDir: data });
    const spec = { ...base, data: { source: 'store', exchange: 'binance', market: 'spot', symbol: 'BTC/USDT', timeframe: '1h', start: '2024-01-02', end: '2024-01-03' } };
    const context = createRunContext(spec as never, { workspace: { dataDir: data }, log: () => undefined });
    const loaded = loadCandles(context);
    expect(loaded.length).toBe(24);
    expect(loaded.time[0]).toBe(Date.UTC(2024, 0, 2));
    const missing = createRunContext({ ...spec, data: { ...spec.data, symbol: 'SOL/USDT' } } as never, { workspace: { dataDir: data }, log: () => undefined });
    expect(() => loadCandles(missing)).toThrow(/binance\/spot\/SOL-USDT\/1h is not in the store; stored: binance\/spot\/BTC-USDT\/1h/);
  });

  it('leaves specs without a missing-data policy exactly as before (same hash as without the new fields)', () => {
    const spec = parseSpec({ ...base, data: { source: 'sample' } });
    expect('missing' in spec.data).toBe(false);
    // The quickstart's spec hash is what it was before the store and missing-data fields existed.
    const quickstart = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'specs', 'quickstart.json'), 'utf8'));
    expect(JSON.stringify(parseSpec(quickstart).data)).toBe('{"source":"sample","symbol":"BTC/USDT","timeframe":"1h","seed":42,"bars":26280,"start":"2021-01-01T00:00:00Z"}');
    expect(specHash(parseSpec(quickstart))).not.toBe(specHash(parseSpec({ ...quickstart, data: { ...quickstart.data, missing: 'ffill' } })));
  });
});

describe('impossible candles never reach the store', () => {
  const header = 'time,open,high,low,close,volume';
  const good = (h: number): string => `${T + h * H},${100 + h},${102 + h},${99 + h},${101 + h},${10 + h}`;
  const cases: Array<[string, string, RegExp]> = [
    ['Infinity', `${T + 2 * H},102,Infinity,101,103,12`, /high is Infinity \(not a finite number\)/],
    ['a number with a million digits (read as Infinity)', `${T + 2 * H},102,104,101,${'9'.repeat(1_000_000)},12`, /close is Infinity \(not a finite number\)/],
    ['high below low', `${T + 2 * H},102,100,101,101,12`, /high 100 is below max\(open, close\) = 102/],
    ['low above min(open, close)', `${T + 2 * H},102,104,102.5,103,12`, /low 102\.5 is above min\(open, close\) = 102/],
    ['negative volume', `${T + 2 * H},102,104,101,103,-1`, /volume -1 is negative/],
    ['a zero price', `${T + 2 * H},0,104,0,103,12`, /open 0 is not a positive price/],
  ];
  it.each(cases)('refuses %s with file:line and the time, writing nothing', (_name, row, message) => {
    const data = tempDir('impossible');
    const file = write('impossible.csv', [header, good(0), good(1), row, good(3)].join('\n') + '\n');
    expect(() => importCandlesFiles([file], key, { dataDir: data })).toThrow(
      new RegExp(`impossible\\.csv:4 \\(2025-01-01T02:00:00\\.000Z\\): ${message.source}, which no real candle has; fix or remove the row, or use --repair drop`),
    );
    expect(fs.existsSync(storeFile(key, data))).toBe(false);
  });

  it('--repair drop keeps the other rows and the store records that rows were left out', () => {
    const data = tempDir('repair');
    const file = write('repair.csv', [header, good(0), good(1), cases[2][1], good(3), cases[4][1].replace(`${T + 2 * H}`, `${T + 4 * H}`)].join('\n') + '\n');
    const report = importCandlesFiles([file], key, { dataDir: data, repair: 'drop' });
    expect(report.repaired).toEqual({ rows: 2, first: ['2025-01-01T02:00:00.000Z', '2025-01-01T04:00:00.000Z'] });
    expect(Array.from(readStore(key, data)!.time)).toEqual([T, T + H, T + 3 * H]);
    const record = storeRepairRecord(key, data)!;
    expect(record).toMatchObject({ policy: 'drop', rowsDropped: 2, sources: [{ rows: 2, first: ['2025-01-01T02:00:00.000Z', '2025-01-01T04:00:00.000Z'] }] });
    expect(record.sources[0].source).toMatch(/repair\.csv/);
    expect(listStore(data)[0].repair).toEqual(record);
    // A later clean merge keeps the record; another repaired one adds to it.
    importCandlesFiles([write('more.csv', [header, good(5)].join('\n'))], key, { dataDir: data });
    expect(storeRepairRecord(key, data)!.rowsDropped).toBe(2);
    importCandlesFiles([write('more-bad.csv', [header, good(6), cases[5][1].replace(`${T + 2 * H}`, `${T + 7 * H}`)].join('\n'))], key, { dataDir: data, repair: 'drop' });
    expect(storeRepairRecord(key, data)!.rowsDropped).toBe(3);
    expect(storeRepairRecord(key, data)!.sources).toHaveLength(2);
  });

  it('the store itself refuses impossible candles from any writer', () => {
    const data = tempDir('store-guard');
    const bad = Frame.fromColumns(Float64Array.of(T, T + H), { open: Float64Array.of(1, 2), high: Float64Array.of(2, 1.5), low: Float64Array.of(1, 1), close: Float64Array.of(2, 2), volume: Float64Array.of(1, 1) }, { symbol: 'BTC/USDT', timeframe: '1h' });
    expect(() => mergeIntoStore(key, bad as never, data)).toThrow(/^binance\/spot\/BTC-USDT\/1h row 2 \(2025-01-01T01:00:00\.000Z\): high 1\.5 is below max\(open, close\) = 2/);
    expect(fs.existsSync(storeFile(key, data))).toBe(false);
    expect(mergeIntoStore(key, bad as never, { dataDir: data, repair: 'drop' })).toEqual({ added: 1, replaced: 0, total: 1 });
    expect(storeRepairRecord(key, data)).toMatchObject({ rowsDropped: 1 });
  });

  it('odd but valid files import exactly: columns in any order, capitalized headers, a BOM, CRLF, ISO times with offsets', () => {
    const data = tempDir('odd');
    const expected = [0, 1, 2].map((h) => ({ time: T + h * H, open: 100 + h, high: 102 + h, low: 99 + h, close: 101 + h, volume: 10 + h }));
    const iso = (t: number): string => new Date(t + 2 * H).toISOString().replace('.000Z', '+02:00'); // the same instant, written at UTC+2
    const lines = ['Volume,Close,Low,High,Open,Timestamp', ...expected.map((r) => `${r.volume},${r.close},${r.low},${r.high},${r.open},${iso(r.time)}`)];
    const file = path.join(dir, 'odd.csv');
    fs.writeFileSync(file, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(lines.join('\r\n') + '\r\n')]));
    importCandlesFiles([file], key, { dataDir: data });
    const stored = readStore(key, data)!;
    expect(Array.from(stored.time)).toEqual(expected.map((r) => r.time));
    for (const name of ['open', 'high', 'low', 'close', 'volume'] as const) expect(Array.from(stored.column(name))).toEqual(expected.map((r) => r[name]));
  });
});

describe('candlelab data import / export / list (CLI)', () => {
  it('imports a headerless CSV, lists it and exports it to Parquet', async () => {
    const data = path.join(dir, 'cli-store');
    const candles = generateSyntheticCandles({ bars: 48, timeframe: '1h' });
    const csv = path.join(dir, 'cli.csv');
    writeCandlesCsv(csv, candles);
    const headerless = write('cli-headerless.csv', fs.readFileSync(csv, 'utf8').split('\n').slice(1).join('\n'));
    // --market defaults to spot, as in data fetch
    const imported = await cli(['data', 'import', headerless, '--exchange', 'binance', '--symbol', 'BTC/USDT', '--timeframe', '1h', '--data-dir', data]);
    expect(imported.stderr).toBe('');
    expect(imported.stdout).toMatch(/imported 48 rows from 1 file\(s\) into binance\/spot\/BTC-USDT\/1h/);
    const listed = await cli(['data', 'list', '--data-dir', data]);
    expect(listed.stdout).toMatch(/binance\/spot\/BTC-USDT\/1h\s+48 rows\s+2021-01-01T00:00:00.000Z … 2021-01-02T23:00:00.000Z/);
    const out = path.join(dir, 'cli-out.parquet');
    const exported = await cli(['data', 'export', 'binance/spot/BTC-USDT/1h', '--out', out, '--data-dir', data]);
    expect(exported.stdout).toMatch(/wrote 48 rows/);
    expect(Array.from(readParquetFile(out).column('close'))).toEqual(Array.from(candles.column('close')));
    const bad = await cli(['data', 'import', write('cli-bad.csv', '1,2,3\n'), '--exchange', 'binance', '--market', 'spot', '--symbol', 'BTC/USDT', '--timeframe', '1h', '--data-dir', data]);
    expect(bad.status).toBe(1);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/^candlelab: error: .*cli-bad\.csv/);
    // An impossible candle: refused with file:line, exit 1, nothing written; --repair drop imports the rest.
    const rows = fs.readFileSync(headerless, 'utf8').trim().split('\n');
    rows[9] = rows[9].split(',').map((cell, i) => (i === 5 ? '-3' : cell)).join(',');
    const impossible = write('cli-impossible.csv', rows.join('\n') + '\n');
    const other = path.join(dir, 'cli-store-2');
    const refused = await cli(['data', 'import', impossible, '--exchange', 'binance', '--symbol', 'ETH/USDT', '--timeframe', '1h', '--data-dir', other]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/^candlelab: error: .*cli-impossible\.csv:10 \(2021-01-01T09:00:00\.000Z\): volume -3 is negative, .*--repair drop/);
    expect(fs.existsSync(other)).toBe(false);
    const repaired = await cli(['data', 'import', impossible, '--exchange', 'binance', '--symbol', 'ETH/USDT', '--timeframe', '1h', '--data-dir', other, '--repair', 'drop']);
    expect(repaired.status).toBe(0);
    expect(repaired.stdout).toMatch(/imported 48 rows .* into binance\/spot\/ETH-USDT\/1h[\s\S]*--repair drop left out 1 impossible candle\(s\), first at 2021-01-01T09:00:00\.000Z/);
    const listedJson = JSON.parse((await cli(['data', 'list', '--data-dir', other, '--json'])).stdout);
    expect(listedJson[0]).toMatchObject({ market: 'spot', rows: 47, repair: { policy: 'drop', rowsDropped: 1 } });
  });
});

