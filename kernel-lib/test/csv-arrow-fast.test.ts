import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readCandlesCsvRaw } from '../src/data/csv-file';
import { frameToArrowBytes, readArrowFileRaw, writeArrowFile } from '../src/data/arrow-file';
import { importCandlesFiles } from '../src/data/import-export';
import { readStore, mergeIntoStore, storeFile, type StoreKey } from '../src/data/store';
import { generateSyntheticCandles } from '../src/data/synthetic';
import { DataError } from '../src/errors';
import { fileWriter, tempDir } from './helpers';

const dir = tempDir('csv-arrow-fast');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const write = fileWriter(dir);
const T = Date.UTC(2025, 0, 1);
const M = 60_000;

/** A CSV whose open column holds the given texts (other prices large enough to keep rows valid). */
function openColumnFile(name: string, texts: string[]): string {
  const lines = ['time,open,high,low,close,volume'];
  texts.forEach((text, i) => lines.push(`${T + i * M},${text},1e300,1e-300,1,${text}`));
  return write(name, lines.join('\n') + '\n');
}

function expectBitExact(texts: string[], values: Float64Array): void {
  const wrong = texts.filter((text, i) => !Object.is(values[i], Number(text)));
  expect(wrong).toEqual([]);
}

describe('CSV number parsing is bit-exact with Number()', () => {
  it('on tricky inputs: signs, exponents, long mantissas, .5, 5., leading zeros, ties and powers of two', () => {
    const texts = [
      '0', '-0', '+0', '0.0', '-0.0', '.5', '5.', '-.5', '+.5', '+5', '-5', '007', '0.1', '0.2', '0.3', '1e5', '1E-5', '-2.5e+3', '1.7976931348623157e308',
      '4.9e-324', '2.2250738585072014e-308', '9007199254740991', '9007199254740992', '9007199254740993', '18014398509481985',
      '123456789012345678', '1234567890123456789', '12345678901234567890', '0.1000000000000000055511151231257827', '28971.940000000002',
      '28995.850000000002', '0.30000000000000004', '1.0000000000000002', '0.9999999999999999', '4503599627370496.5', '4503599627370497.5',
      '9007199254740993.0', '1.00000000000000011102230246251565', '2.0000000000000004', '3.999999999999999', '0.000000000000000000001',
      '0.0000000000000000000000001', '1234567.8901234567', '99999999999999999', '100000000000000000', '72057594037927945', '1.5',
      '5e-1', '123456789012345.6', '1234567890123456.7', '0.12345678901234567', '1000000000000000.1', '1099511627776.0000001',
    ];
    const raw = readCandlesCsvRaw(openColumnFile('tricky.csv', texts));
    expectBitExact(texts, raw.columns.open);
    expectBitExact(texts, raw.columns.volume);
  });

  it('on 60,000 seeded random decimals of 1 to 20 digits and shortest round-trip forms', () => {
    let seed = 7;
    const random = (): number => (seed = (seed * 1_103_515_245 + 12_345) >>> 0) / 4_294_967_296;
    const texts: string[] = [];
    for (let i = 0; i < 60_000; i++) {
      const kind = i % 4;
      if (kind === 0) texts.push(String(random() * 10 ** Math.floor(random() * 14)));
      else if (kind === 1) {
        const x = random() * 1e5;
        texts.push(String(x + x * 1e-13));
      } else {
        let digits = '';
        const count = 1 + Math.floor(random() * 20);
        for (let d = 0; d < count; d++) digits += kind === 3 ? (random() < 0.5 ? '0' : '9') : Math.floor(random() * 10);
        const dot = Math.floor(random() * (count + 1));
        texts.push((random() < 0.2 ? '-' : '') + digits.slice(0, dot) + '.' + digits.slice(dot) + (kind === 3 && random() < 0.3 ? '5' : ''));
      }
    }
    // a 1 MB read chunk ends inside lines of this file: rows spanning chunks are read whole
    const raw = readCandlesCsvRaw(openColumnFile('random.csv', texts));
    expect(fs.statSync(path.join(dir, 'random.csv')).size).toBeGreaterThan(2 << 20);
    expectBitExact(texts, raw.columns.open);
    expect(Array.from(raw.time.subarray(0, 3))).toEqual([T, T + M, T + 2 * M]);
    expect(raw.line![texts.length - 1]).toBe(texts.length + 1);
  });
});

describe('odd but valid CSV files import exactly', () => {
  it('columns in any order, capitalized headers, BOM, CRLF, quotes, spaces, blank lines', () => {
    const body = ['Volume,Close,TIME,Low,High,Open', '1.5,101,1735689600000,99,102,100', '', ' 2.5 ,"102.5",1735689660000,100,103,101.25', '3,103,1735689720000,101,104,+102.5', ''].join('\r\n');
    const raw = readCandlesCsvRaw(write('odd.csv', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(body)])));
    expect(Array.from(raw.time)).toEqual([T, T + M, T + 2 * M]);
    expect(Array.from(raw.columns.open)).toEqual([100, 101.25, 102.5]);
    expect(Array.from(raw.columns.close)).toEqual([101, 102.5, 103]);
    expect(Array.from(raw.columns.volume)).toEqual([1.5, 2.5, 3]);
    expect(Array.from(raw.line!)).toEqual([2, 4, 5]);
  });

  it('ISO times with and without zones and offsets equal Date.parse', () => {
    const times = [
      '2025-01-01', '2025-01-02T00:00:00Z', '2025-01-03 01:02:03', '2025-01-04T01:02:03.5Z', '2025-01-05T01:02:03.123+05:30', '2025-01-06T23:59:59-0800',
      '2025-01-07T12:00', '2025-02-28T00:00:00z', '2025-01-29T00:00:00Z', '2024-02-29T10:00:00+01:00', '2025-03-01 00:00:00+00:00', '"2025-03-02T00:00:00Z"',
      '2025-03-03T00:00:00.123456Z', '1999-12-31T23:00:00-01:00',
    ];
    const expected = times.map((text) => {
      const t = text.replace(/^"(.*)"$/, '$1');
      const iso = /^\d{4}-\d{2}-\d{2}$/.test(t) ? `${t}T00:00:00Z` : /[zZ]|[+-]\d{2}:?\d{2}$/.test(t) ? t : `${t.replace(' ', 'T')}Z`;
      return Date.parse(iso);
    });
    expect(expected.every(Number.isFinite)).toBe(true);
    const lines = ['date,open,high,low,close,volume', ...times.map((t) => `${t},1,2,0.5,1.5,10`)];
    const raw = readCandlesCsvRaw(write('iso.csv', lines.join('\n')));
    expect(Array.from(raw.time)).toEqual(expected);
  });

  it('still refuses what it refused: bad cells, mixed time forms, short rows, with file:line', () => {
    const bad = (name: string, row: string): string => write(name, `time,open,high,low,close,volume\n${T},1,2,0.5,1.5,10\n${row}\n`);
    expect(() => readCandlesCsvRaw(bad('x.csv', `${T + M},1,2,0.5,1.5x,10`))).toThrow(/x\.csv:3: 'close' is not a number \('1\.5x'\)/);
    expect(() => readCandlesCsvRaw(bad('e.csv', `${T + M},1,2,,1.5,10`))).toThrow(/e\.csv:3: 'low' is not a number/);
    expect(() => readCandlesCsvRaw(bad('m.csv', `2025-01-01T00:01:00Z,1,2,0.5,1.5,10`))).toThrow(/m\.csv:3: time .* mixes epoch numbers and dates/);
    expect(() => readCandlesCsvRaw(bad('s.csv', `${T + M},1,2,0.5`))).toThrow(/s\.csv:3: row has 4 cell\(s\), expected at least 6/);
    const data = path.join(dir, 'store-refuse');
    const key: StoreKey = { exchange: 'x', market: 'spot', symbol: 'BTC/USDT', timeframe: '1m' };
    expect(() => importCandlesFiles([bad('inf.csv', `${T + M},1,2,0.5,Infinity,10`)], key, { dataDir: data })).toThrow(DataError);
    expect(() => importCandlesFiles([bad('hi.csv', `${T + M},1,1.2,0.5,1.5,10`)], key, { dataDir: data })).toThrow(/hi\.csv:3 .*high 1\.2 is below max\(open, close\)/);
    expect(fs.existsSync(storeFile(key, data))).toBe(false);
    const report = importCandlesFiles([bad('drop.csv', `${T + M},1,2,0.5,-1.5,10`)], key, { dataDir: data, repair: 'drop' });
    expect(report.repaired.rows).toBe(1);
    expect(readStore(key, data)!.length).toBe(1);
  });
});

describe('Arrow store read: columns are views of the file bytes', () => {
  const candles = generateSyntheticCandles({ seed: 5, bars: 3_000, timeframe: '1m' });

  it('reads the values written (time converted in place), byte for byte the same file as before', () => {
    const file = path.join(dir, 'c.arrow');
    writeArrowFile(file, candles);
    expect(Buffer.compare(fs.readFileSync(file), Buffer.from(frameToArrowBytes(candles, 'file')))).toBe(0);
    const raw = readArrowFileRaw(file);
    expect(Array.from(raw.time)).toEqual(Array.from(candles.time));
    for (const name of candles.names) expect(Array.from(raw.columns[name])).toEqual(Array.from(candles.column(name)));
  });

  it('columns are independent: writing into one changes no other column and no later read', () => {
    const key: StoreKey = { exchange: 'x', market: 'spot', symbol: 'ETH/USDT', timeframe: '1m' };
    const data = path.join(dir, 'store-views');
    mergeIntoStore(key, candles, data);
    const first = readStore(key, data)!;
    const names = first.names;
    for (const name of names) expect(first.column(name).byteOffset % 8).toBe(0);
    // disjoint byte ranges
    const ranges = [first.time, ...names.map((n) => first.column(n))].map((c) => [c.byteOffset, c.byteOffset + c.byteLength]).sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < ranges.length; i++) expect(ranges[i][0]).toBeGreaterThanOrEqual(ranges[i - 1][1]);
    first.column('close').fill(-1);
    first.time[0] = 0;
    for (const name of names.filter((n) => n !== 'close')) expect(Array.from(first.column(name))).toEqual(Array.from(candles.column(name)));
    const second = readStore(key, data)!;
    expect(Array.from(second.column('close'))).toEqual(Array.from(candles.column('close')));
    expect(second.time[0]).toBe(candles.time[0]);
    // a frame read from the store is written back (merge) with its own values, not its neighbours'
    mergeIntoStore(key, second, data);
    expect(Array.from(readStore(key, data)!.column('open'))).toEqual(Array.from(candles.column('open')));
  });
});
