import * as fs from 'node:fs';
import * as path from 'node:path';
import * as arrow from 'apache-arrow';
import { afterAll, describe, expect, it } from 'vitest';
import { generateSyntheticCandles } from '../src/data/synthetic';
import { frameToArrowBytes, readArrowFile, writeArrowFile } from '../src/data/arrow-file';
import { readCandlesCsv, writeCandlesCsv } from '../src/data/csv-file';
import { checkQuality, assertQuality } from '../src/quality/check-quality';
import { Frame, isoTime, type Candles } from '../src/frame/frame';
import { sha256Hex } from '../src/util/hash';
import { DataError } from '../src/errors';
import { autocorrelation, tempDir } from './helpers';

const dir = tempDir('data');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function logReturns(candles: Candles): Float64Array {
  const close = candles.column('close');
  const out = new Float64Array(close.length - 1);
  for (let i = 1; i < close.length; i++) out[i - 1] = Math.log(close[i] / close[i - 1]);
  return out;
}


describe('synthetic market', () => {
  const candles = generateSyntheticCandles({ seed: 42 });

  it('is three years of hourly BTC/USDT bars on a regular grid', () => {
    expect(candles.length).toBe(3 * 365 * 24);
    expect(candles.meta).toMatchObject({ symbol: 'BTC/USDT', timeframe: '1h' });
    for (let i = 1; i < candles.length; i++) expect(candles.time[i] - candles.time[i - 1]).toBe(3_600_000);
  });

  it('gives the same Arrow bytes for the same seed and different bytes for another seed', () => {
    const first = frameToArrowBytes(generateSyntheticCandles({ seed: 42 }));
    const second = frameToArrowBytes(generateSyntheticCandles({ seed: 42 }));
    const other = frameToArrowBytes(generateSyntheticCandles({ seed: 43 }));
    expect(sha256Hex(first)).toBe(sha256Hex(second));
    expect(sha256Hex(first)).not.toBe(sha256Hex(other));
  });

  it('is valid OHLCV on every bar', () => {
    const report = checkQuality(candles);
    expect(report.ok).toBe(true);
    expect(report.issues).toEqual([]);
    const [o, h, l, c, v] = (['open', 'high', 'low', 'close', 'volume'] as const).map((n) => candles.column(n));
    for (let i = 0; i < candles.length; i++) {
      expect(l[i]).toBeLessThanOrEqual(Math.min(o[i], c[i]));
      expect(h[i]).toBeGreaterThanOrEqual(Math.max(o[i], c[i]));
      expect(v[i]).toBeGreaterThanOrEqual(0);
    }
  });

  it('has fat tails: excess kurtosis of hourly log returns well above 0 (normal)', () => {
    const r = logReturns(candles);
    const mean = r.reduce((a, b) => a + b, 0) / r.length;
    const m2 = r.reduce((a, x) => a + (x - mean) ** 2, 0) / r.length;
    const m4 = r.reduce((a, x) => a + (x - mean) ** 4, 0) / r.length;
    expect(m4 / (m2 * m2) - 3).toBeGreaterThan(1);
  });

  it('has volatility clustering, and raw returns only the weak documented order-flow continuation', () => {
    const r = logReturns(candles);
    expect(autocorrelation(r.map(Math.abs), 1)).toBeGreaterThan(0.1);
    expect(autocorrelation(r.map(Math.abs), 24)).toBeGreaterThan(0.05);
    // learnable, not blatant: lag-1 autocorrelation 0.09–0.14 over seeds (synthetic-structure.test.ts has the null)
    expect(autocorrelation(r, 1)).toBeGreaterThan(0.05);
    expect(autocorrelation(r, 1)).toBeLessThan(0.2);
  });

  it('changes regime: there are strongly rising and strongly falling 30-day stretches', () => {
    const close = candles.column('close');
    const window = 30 * 24;
    let best = -Infinity;
    let worst = Infinity;
    for (let i = window; i < close.length; i += 24) {
      const change = close[i] / close[i - window] - 1;
      best = Math.max(best, change);
      worst = Math.min(worst, change);
    }
    expect(best).toBeGreaterThan(0.25);
    expect(worst).toBeLessThan(-0.2);
  });
});

describe('isoTime', () => {
  it('equals Date.toISOString (and String for non-finite) on every kind of time', () => {
    let state = 12345;
    const next = (): number => (state = (state * 1103515245 + 12345) % 2147483648) / 2147483648;
    const times = [0, 1, 999, 86_399_999, 86_400_000, 951_782_400_000, 1_709_164_800_123, 253_402_300_799_999, 253_402_300_800_000, -1, -86_400_001, 1.5, 1e15, -8.64e15, 8.64e15];
    for (let i = 0; i < 20_000; i++) times.push(Math.floor(next() * 4e12), Math.floor(1.6e12 + next() * 1e8), next() < 0.5 ? -Math.floor(next() * 1e13) : next() * 1e12);
    for (const ms of times) expect(isoTime(ms), String(ms)).toBe(new Date(ms).toISOString());
    expect(isoTime(NaN)).toBe('NaN');
    expect(isoTime(Infinity)).toBe('Infinity');
  });
});

describe('Arrow IPC files', () => {
  it('round-trip a frame exactly, with its meta', () => {
    const candles = generateSyntheticCandles({ seed: 1, bars: 500 });
    const file = path.join(dir, 'round-trip.arrow');
    writeArrowFile(file, candles);
    const back = readArrowFile(file);
    expect(back.meta).toMatchObject({ symbol: 'BTC/USDT', timeframe: '1h', exchange: 'synthetic' });
    expect(Array.from(back.time)).toEqual(Array.from(candles.time));
    for (const name of candles.names) expect(Array.from(back.column(name))).toEqual(Array.from(candles.column(name)));
  });

  it('reject a corrupt file with an error naming it, and a missing one', () => {
    const file = path.join(dir, 'corrupt.arrow');
    fs.writeFileSync(file, 'not an arrow file at all');
    expect(() => readArrowFile(file)).toThrow(DataError);
    expect(() => readArrowFile(file)).toThrow(/corrupt\.arrow/);
    expect(() => readArrowFile(path.join(dir, 'missing.arrow'))).toThrow(/missing\.arrow.*check the path/);
  });

  it('check the time order in the conversion pass: out-of-order or repeated times are the frame error, in order they read', () => {
    const columns = { open: new Float64Array([1, 1, 1]), high: new Float64Array([2, 2, 2]), low: new Float64Array([0.5, 0.5, 0.5]), close: new Float64Array([1.5, 1.5, 1.5]), volume: new Float64Array([1, 1, 1]) };
    const write = (name: string, times: bigint[]): string => {
      const file = path.join(dir, name);
      fs.writeFileSync(file, arrow.tableToIPC(arrow.tableFromArrays({ time: BigInt64Array.from(times), ...columns }), 'file'));
      return file;
    };
    expect(() => readArrowFile(write('unordered.arrow', [1_700_000_000_000n, 1_700_003_600_000n, 1_699_996_400_000n]))).toThrow(/not strictly increasing at row 2/);
    expect(() => readArrowFile(write('repeated.arrow', [1_700_000_000_000n, 1_700_000_000_000n, 1_700_003_600_000n]))).toThrow(/not strictly increasing at row 1/);
    const ordered = readArrowFile(write('ordered.arrow', [1_700_000_000_000n, 1_700_003_600_000n, 1_700_007_200_000n]));
    expect(Array.from(ordered.time)).toEqual([1_700_000_000_000, 1_700_003_600_000, 1_700_007_200_000]);
    expect(Array.from(ordered.column('close'))).toEqual([1.5, 1.5, 1.5]);
  });

  it('reject a truncated file', () => {
    const bytes = frameToArrowBytes(generateSyntheticCandles({ seed: 1, bars: 500 }));
    const file = path.join(dir, 'truncated.arrow');
    fs.writeFileSync(file, bytes.subarray(0, Math.floor(bytes.length / 2)));
    expect(() => readArrowFile(file)).toThrow(DataError);
  });
});

describe('CSV candles', () => {
  const header = 'timestamp,open,high,low,close,volume\n';

  it('round-trip through writeCandlesCsv / readCandlesCsv', () => {
    const candles = generateSyntheticCandles({ seed: 3, bars: 200 });
    const file = path.join(dir, 'round-trip.csv');
    writeCandlesCsv(file, candles);
    const back = readCandlesCsv(file, { symbol: 'BTC/USDT', timeframe: '1h' });
    expect(Array.from(back.time)).toEqual(Array.from(candles.time));
    expect(Array.from(back.column('close'))).toEqual(Array.from(candles.column('close')));
  });

  it('tell epoch seconds, milliseconds and microseconds apart by magnitude', () => {
    const rows = (scale: number) => [0, 1].map((i) => `${(1_700_000_000 + 3600 * i) * scale},1,2,0.5,1.5,10`).join('\n');
    for (const scale of [1, 1000, 1_000_000]) {
      const file = path.join(dir, `unit-${scale}.csv`);
      fs.writeFileSync(file, header + rows(scale) + '\n');
      expect(Array.from(readCandlesCsv(file).time)).toEqual([1_700_000_000_000, 1_700_003_600_000]);
    }
  });

  it('reverse newest-first files, read ISO dates as UTC and skip a preamble line', () => {
    const file = path.join(dir, 'newest-first.csv');
    fs.writeFileSync(file, 'https://example.invalid/data\nDate,Open,High,Low,Close,Volume\n2024-01-02,2,3,1,2.5,10\n2024-01-01,1,2,0.5,1.5,10\n');
    const candles = readCandlesCsv(file);
    expect(Array.from(candles.time)).toEqual([Date.UTC(2024, 0, 1), Date.UTC(2024, 0, 2)]);
    expect(Array.from(candles.column('close'))).toEqual([1.5, 2.5]);
  });

  it('name the file and line of a bad value, and refuse duplicate times', () => {
    const bad = path.join(dir, 'bad.csv');
    fs.writeFileSync(bad, header + '1700000000000,1,2,0.5,1.5,10\n1700003600000,1,abc,0.5,1.5,10\n');
    expect(() => readCandlesCsv(bad)).toThrow(/bad\.csv:3: 'high' is not a number/);
    const duplicate = path.join(dir, 'duplicate.csv');
    fs.writeFileSync(duplicate, header + '1700000000000,1,2,0.5,1.5,10\n1700000000000,1,2,0.5,1.5,10\n1700003600000,1,2,0.5,1.5,10\n');
    expect(() => readCandlesCsv(duplicate)).toThrow(/not strictly increasing at row 1/);
  });
});

describe('quality check', () => {
  const frame = (rows: number[][], timeframe = '1h'): Candles =>
    Frame.fromColumns(
      Float64Array.from(rows, (r) => r[0]),
      Object.fromEntries(['open', 'high', 'low', 'close', 'volume'].map((name, c) => [name, Float64Array.from(rows, (r) => r[c + 1])])) as Record<
        'open' | 'high' | 'low' | 'close' | 'volume',
        Float64Array
      >,
      { symbol: 'X/Y', timeframe },
    );
  const H = 3_600_000;

  it('finds each kind of problem and reports the first timestamps', () => {
    const report = checkQuality(
      frame([
        [0, 10, 11, 9, 10, 1],
        [H, 10, 9.5, 9, 10, 1], // high below open/close
        [2 * H, 10, 11, 9, NaN, 1], // NaN
        [3 * H, 10, 11, 9, 10, -5], // negative volume
        [4 * H, -1, 11, -2, 10, 1], // non-positive price
        [6 * H, 10, 11, 9, 10, 1], // gap of one bar
      ]),
    );
    const kinds = Object.fromEntries(report.issues.map((i) => [i.kind, i]));
    expect(report.ok).toBe(false);
    expect(kinds['ohlc-inconsistent'].first[0]).toBe('1970-01-01T01:00:00.000Z');
    expect(kinds['non-finite'].count).toBe(1);
    expect(kinds['negative-volume'].count).toBe(1);
    expect(kinds['non-positive-price'].count).toBe(1);
    expect(kinds.gap).toMatchObject({ count: 1, severity: 'warning', first: ['1970-01-01T06:00:00.000Z'] });
  });

  it('assertQuality throws a one-line DataError naming the problem; gaps alone pass', () => {
    expect(() => assertQuality(frame([[0, 10, 11, 9, 10, 1], [H, 10, 9.5, 9, 10, 1]]))).toThrow(/1 row\(s\) with ohlc-inconsistent data, first at 1970-01-01T01:00/);
    expect(assertQuality(frame([[0, 10, 11, 9, 10, 1], [3 * H, 10, 11, 9, 10, 1]])).ok).toBe(true);
  });
});
