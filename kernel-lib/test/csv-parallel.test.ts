import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { lastCsvParseThreads, readCandlesCsvRaw, writeCandlesCsv, type CsvReadOptions } from '../src/data/csv-file';
import { type RawCandles } from '../src/data/raw-candles';
import { generateSyntheticCandles } from '../src/data/synthetic';
import { fileWriter, tempDir } from './helpers';

// The workers run kernel-lib/dist/data/csv-worker.js (vitest runs the sources, a worker thread cannot):
// these tests need `npm run build` after a change to csv-file.ts, like the job pool's tests.
const dir = tempDir('csv-parallel');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const write = fileWriter(dir);
const T = Date.UTC(2025, 0, 1);
const M = 60_000;
// Small parts so that files of a few MB take the parallel path (the first part always holds the first 1 MB read).
const SMALL: CsvReadOptions = { minBytesPerThread: 64 << 10 };

/** Parse on one thread and on `threads`; expect the parallel path taken and every value and line the same. */
function expectSameAsOneThread(file: string, threads: number[] = [2, 3, 4], options: CsvReadOptions = {}): RawCandles {
  const one = readCandlesCsvRaw(file, {}, { ...options, threads: 1 });
  expect(lastCsvParseThreads()).toBe(1);
  for (const count of threads) {
    const many = readCandlesCsvRaw(file, {}, { ...SMALL, ...options, threads: count });
    expect(lastCsvParseThreads(), `threads ${count}`).toBe(count);
    expectSameRows(many, one);
  }
  return one;
}

function expectSameRows(actual: RawCandles, expected: RawCandles): void {
  expect(actual.time.length).toBe(expected.time.length);
  const differ: string[] = [];
  const columns: [string, ArrayLike<number>, ArrayLike<number>][] = [
    ['time', actual.time, expected.time],
    ['line', actual.line!, expected.line!],
    ...(['open', 'high', 'low', 'close', 'volume'] as const).map((name): [string, ArrayLike<number>, ArrayLike<number>] => [name, actual.columns[name], expected.columns[name]]),
  ];
  for (const [name, a, b] of columns) {
    for (let i = 0; i < b.length; i++) if (!Object.is(a[i], b[i])) differ.push(`${name}[${i}]: ${a[i]} vs ${b[i]}`);
  }
  expect(differ.slice(0, 5)).toEqual([]);
}

/** `count` rows of text cells (prices with awkward decimals), as lines. */
function rowLines(count: number, time: (i: number) => string, seed = 1): string[] {
  let x = seed;
  const random = (): number => ((x = (x * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const open = 100 + random() * 50;
    const close = open + (random() - 0.5);
    lines.push(`${time(i)},${open},${Math.max(open, close) + random()},${Math.min(open, close) - random()},${close},${(random() * 1000).toFixed(4)}`);
  }
  return lines;
}

describe('CSV parse on several threads equals the one-thread parse', () => {
  it('a 13 MB synthetic file with the default split rule (2 threads, 4 MB parts)', () => {
    const worker = path.resolve(__dirname, '..', 'dist', 'data', 'csv-worker.js');
    expect(fs.existsSync(worker), `${worker} is missing: npm run build`).toBe(true);
    const file = path.join(dir, 'synthetic.csv');
    writeCandlesCsv(file, generateSyntheticCandles({ seed: 5, bars: 200_000, timeframe: '1m' }));
    expect(fs.statSync(file).size).toBeGreaterThan(12e6);
    const one = expectSameAsOneThread(file, [2], { minBytesPerThread: 4 << 20 });
    expect(one.time.length).toBe(200_000);
    expect(one.line![199_999]).toBe(200_001);
    // the same file without options: one thread below the 16 MB default per thread
    readCandlesCsvRaw(file);
    expect(lastCsvParseThreads()).toBe(1);
  });

  it('blank lines, whitespace lines and CRLF everywhere, so around every split point', () => {
    const rows = rowLines(60_000, (i) => String(T + i * M));
    const lines = ['time,open,high,low,close,volume'];
    rows.forEach((row, i) => {
      if (i % 7 === 3) lines.push('');
      if (i % 11 === 5) lines.push('  \t\r');
      lines.push(i % 3 === 0 ? `${row}\r` : row);
    });
    const file = write('blank-crlf.csv', lines.join('\n') + '\r\n\n');
    const one = expectSameAsOneThread(file);
    expect(one.time.length).toBe(60_000);
    // several split positions: parts of different sizes move the split points
    for (const minBytesPerThread of [200_000, 900_000, 1_500_000]) {
      const many = readCandlesCsvRaw(file, {}, { threads: 2, minBytesPerThread });
      expect(lastCsvParseThreads()).toBe(2);
      expectSameRows(many, one);
    }
  });

  it('a run of blank lines across the middle, a last part of only blank lines, no newline at the end', () => {
    const rows = rowLines(40_000, (i) => String(T + i * M), 2);
    const middle = [...rows.slice(0, 20_000), ...Array.from({ length: 200_000 }, (_, i) => (i % 2 ? '' : ' \r')), ...rows.slice(20_000)];
    const one = expectSameAsOneThread(write('blank-middle.csv', ['time,open,high,low,close,volume', ...middle].join('\n')));
    expect(one.line![20_000]).toBe(220_002);
    const tail = ['time,open,high,low,close,volume', ...rows, ...Array.from({ length: 800_000 }, () => '')];
    const raw = expectSameAsOneThread(write('blank-tail.csv', tail.join('\r\n')), [2]);
    expect(raw.time.length).toBe(40_000);
  });

  it('ISO times, epoch seconds (scaled once over the whole column), quoted cells', () => {
    const iso = rowLines(50_000, (i) => new Date(T + i * M).toISOString().replace(i % 2 ? 'Z' : '.000Z', i % 5 ? 'Z' : '+00:00'), 3);
    const raw = expectSameAsOneThread(write('iso.csv', ['date,open,high,low,close,volume', ...iso].join('\n')));
    expect(raw.time[49_999]).toBe(T + 49_999 * M);
    const seconds = rowLines(50_000, (i) => `"${(T + i * M) / 1000}"`, 4);
    const scaled = expectSameAsOneThread(write('seconds.csv', ['timestamp,open,high,low,close,volume', ...seconds].join('\n')));
    expect(scaled.time[49_999]).toBe(T + 49_999 * M);
  });

  it('Binance headerless dumps (ms and µs open times)', () => {
    const binance = (unit: number, seed: number): string[] =>
      rowLines(50_000, (i) => String((T + i * M) * unit), seed).map((row, i) => `${row},${T + i * M + 59_999},123.45,42,1.5,2.5,0`);
    const ms = expectSameAsOneThread(write('binance-ms.csv', binance(1, 5).join('\n') + '\n'));
    expect(ms.time[0]).toBe(T);
    expect(ms.line![0]).toBe(1);
    const us = expectSameAsOneThread(write('binance-us.csv', binance(1000, 6).join('\n') + '\n'));
    expect(us.time[49_999]).toBe(T + 49_999 * M);
  });
});

describe('an error in any part gives the one-thread message and line', () => {
  const header = 'time,open,high,low,close,volume';
  /** A 50,000-row file with `bad` in place of row `at` (0-based; line at + 2). */
  const withRow = (name: string, at: number, bad: (row: string) => string): string => {
    const rows = rowLines(50_000, (i) => String(T + i * M), 7);
    rows[at] = bad(rows[at]);
    return write(name, [header, ...rows].join('\n') + '\n');
  };
  const message = (file: string, options: CsvReadOptions): string => {
    try {
      readCandlesCsvRaw(file, {}, options);
    } catch (error) {
      return (error as Error).message;
    }
    return 'no error';
  };
  const expectSameError = (file: string, expected: RegExp): void => {
    const one = message(file, { threads: 1 });
    expect(one).toMatch(expected);
    for (const threads of [2, 3, 4]) expect(message(file, { ...SMALL, threads })).toBe(one);
  };

  it('a bad cell, a short row and an empty cell in the last part', () => {
    expectSameError(
      withRow('bad-cell.csv', 45_000, (row) => row.replace(/,([^,]*),([^,]*)$/, ',1.5x,$2')),
      /bad-cell\.csv:45002: 'close' is not a number \('1\.5x'\); fix or remove the row$/,
    );
    expectSameError(withRow('short.csv', 49_000, (row) => row.split(',').slice(0, 4).join(',')), /short\.csv:49002: row has 4 cell\(s\), expected at least 6/);
    expectSameError(withRow('empty.csv', 30_000, (row) => row.replace(/^([^,]*),([^,]*),([^,]*),([^,]*)/, '$1,$2,$3,')), /empty\.csv:30002: 'low' is not a number/);
  });

  it('an error in the first part, and errors in two parts: the first one', () => {
    const rows = rowLines(50_000, (i) => String(T + i * M), 8);
    rows[10] = rows[10].replace(/^([^,]*),/, '$1,abc');
    rows[40_000] = rows[40_000].replace(/^([^,]*),/, '$1,def');
    expectSameError(write('two-errors.csv', [header, ...rows].join('\n')), /two-errors\.csv:12: 'open' is not a number \('abc[^']*'\)/);
  });

  it('time forms mixed across parts, epoch units mixed across parts', () => {
    const rows = rowLines(50_000, (i) => (i < 40_000 ? String(T + i * M) : new Date(T + i * M).toISOString()), 9);
    expectSameError(write('mixed-forms.csv', [header, ...rows].join('\n')), /mixed-forms\.csv:40002: time '.*' mixes epoch numbers and dates in one column/);
    const isoFirst = rowLines(50_000, (i) => (i < 40_000 ? new Date(T + i * M).toISOString() : String(T + i * M)), 10);
    expectSameError(write('mixed-forms-2.csv', [header, ...isoFirst].join('\n')), /mixed-forms-2\.csv:40002: time .* mixes epoch numbers and dates/);
    const units = rowLines(50_000, (i) => String(i < 40_000 ? T + i * M : (T + i * M) / 1000), 11);
    expectSameError(write('mixed-units.csv', [header, ...units].join('\n')), /mixed-units\.csv: time values mix epoch units/);
  });

  it('a Binance open time of the wrong magnitude in the last part', () => {
    const rows = rowLines(50_000, (i) => String(i === 44_444 ? 123_456 : T + i * M), 12).map((row, i) => `${row},${T + i * M + 59_999},1,2,3,4,0`);
    expectSameError(write('binance-bad.csv', rows.join('\n')), /binance-bad\.csv:44445: open time 123456 is neither epoch milliseconds/);
  });
});

describe('a worker that fails: the one-thread parse', () => {
  const rows = rowLines(50_000, (i) => String(T + i * M), 13);
  const file = (): string => write('plain.csv', ['time,open,high,low,close,volume', ...rows].join('\n'));
  const withWorker = <R>(script: string | undefined, run: () => R): R => {
    const saved = process.env.CANDLELAB_CSV_WORKER;
    if (script === undefined) delete process.env.CANDLELAB_CSV_WORKER;
    else process.env.CANDLELAB_CSV_WORKER = script;
    try {
      return run();
    } finally {
      if (saved === undefined) delete process.env.CANDLELAB_CSV_WORKER;
      else process.env.CANDLELAB_CSV_WORKER = saved;
    }
  };

  it('a missing script, a failure posted, a script that throws, one that exits at once', () => {
    const csv = file();
    const one = readCandlesCsvRaw(csv, {}, { threads: 1 });
    const scripts = {
      missing: path.join(dir, 'no-such-worker.js'),
      failed: write('failed-worker.js', "const { workerData: d } = require('node:worker_threads'); d.port.postMessage({ ok: false, error: 'x' }); Atomics.store(d.done, 0, 1); Atomics.notify(d.done, 0);"),
      throws: write('throwing-worker.js', "throw new Error('worker boom');"),
      exits: write('exiting-worker.js', 'process.exit(3);'),
    };
    for (const [name, script] of Object.entries(scripts)) {
      const began = performance.now();
      const raw = withWorker(script, () => readCandlesCsvRaw(csv, {}, { ...SMALL, threads: 2 }));
      expect(lastCsvParseThreads(), name).toBe(1);
      expectSameRows(raw, one);
      // no answer: given up after 3 s + 4× the main part's time
      expect(performance.now() - began, name).toBeLessThan(8000);
    }
  });

  it('a command-line process that parses on two threads exits at once', () => {
    const csv = file();
    const dist = path.resolve(__dirname, '..', 'dist', 'data', 'csv-file.js');
    const script = `const c = require(${JSON.stringify(dist)}); const raw = c.readCandlesCsvRaw(${JSON.stringify(csv)}, {}, { threads: 2, minBytesPerThread: 65536 }); console.log(c.lastCsvParseThreads(), raw.time.length, raw.line[raw.line.length - 1]);`;
    const began = performance.now();
    const result = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect(result.stderr).toBe('');
    expect(result.stdout.trim()).toBe('2 50000 50001');
    expect(performance.now() - began).toBeLessThan(5000);
  });
});

describe('the reader around its 1 MB chunks (one byte kept free for the end-of-data newline)', () => {
  it('files of 1 MB ± a few bytes, with and without a last newline, end in a number or a comma', () => {
    const header = 'time,open,high,low,close,volume';
    const base = rowLines(45_000, (i) => String(T + i * M), 14);
    for (const size of [(1 << 20) - 3, (1 << 20) - 2, (1 << 20) - 1, 1 << 20, (1 << 20) + 1, (2 << 20) - 1, 2 << 20]) {
      for (const ending of ['', '\n', '\r\n', ',7']) {
        // rows up to about `size` bytes, then the last row padded with decimals to end exactly at `size`
        const lines = [header];
        let bytes = header.length + 1;
        let i = 0;
        while (bytes + base[i].length + 1 < size - 80) {
          lines.push(base[i]);
          bytes += base[i].length + 1;
          i++;
        }
        // the padding in the open cell (zeros), so that the last cell is a short number read by the fast path
        const short = `${T + i * M},1.,2,0.5,1.5,1.25`;
        const fill = size - bytes - short.length - ending.length;
        const last = `${T + i * M},1.${'0'.repeat(fill)},2,0.5,1.5,1.25`;
        const text = lines.join('\n') + '\n' + last + ending;
        expect(text.length).toBe(size);
        const raw = readCandlesCsvRaw(write(`edge-${size}-${ending.length}.csv`, text), {}, { threads: 1 });
        expect(raw.time.length).toBe(i + 1);
        expect([raw.columns.open[i], raw.columns.volume[i]]).toEqual([1, 1.25]);
        expect(raw.line![i]).toBe(i + 2);
      }
    }
  });
});
