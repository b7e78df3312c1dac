#!/usr/bin/env node
// Data store benchmarks (printed figures, not tests). Run: node bench/store.mjs (part of npm run bench)
//   1. the Arrow store, 10M 1m candles: write (mergeIntoStore) and read (readStore) against a plain fs write+fsync
//      and read of the same bytes, run alternately, best of N with the spread; the read-back is compared value by value
//   2. CSV import, 2M rows: readCandlesCsvRaw (the parse: on the available cores, at most 4 threads, and on one
//      thread) and the whole import against pandas.read_csv on the same file, alternately; the parsed values are
//      compared with pandas' (round_trip parser) bit for bit
// First-touch page faults dominate on some VMs: both the fresh-buffer and the reused-buffer figures are printed.
// Env: BENCH_STORE_BARS (10,000,000), BENCH_CSV_ROWS (2,000,000), BENCH_REPEAT (3), CANDLELAB_PYTHON.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cl, now, fmt } from './lib.mjs';

const BARS = Number(process.env.BENCH_STORE_BARS ?? 10_000_000);
const CSV_ROWS = Number(process.env.BENCH_CSV_ROWS ?? 2_000_000);
const REPEAT = Math.max(1, Number(process.env.BENCH_REPEAT ?? 3));
const PYTHON = process.env.CANDLELAB_PYTHON ?? '/usr/bin/python3';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'candlelab-bench-store-'));
const key = { exchange: 'bench', market: 'spot', symbol: 'BTC/USDT', timeframe: '1m' };
const COLUMNS = ['open', 'high', 'low', 'close', 'volume'];

/** best and spread ((worst − best) / best) of a list of ms */
const stat = (ms) => ({ best: Math.min(...ms), spread: (Math.max(...ms) - Math.min(...ms)) / Math.min(...ms) });
const show = (ms, mb) => {
  const s = stat(ms);
  return `${fmt(s.best / 1000, 3)} s${mb ? ` (${fmt(mb / (s.best / 1000))} MB/s)` : ''}, spread ${fmt(s.spread * 100, 0)}%`;
};
function time(fn) {
  const t = now();
  const value = fn();
  return [now() - t, value];
}
/** every value equal, NaN-aware, -0 ≠ 0 */
function sameValues(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

try {
  console.log(`\ncandlelab store bench · ${BARS.toLocaleString('en-US')} synthetic 1m candles · best of ${REPEAT}, run alternately with the plain-fs peer`);
  console.log('   (figures from a noisy machine mean little on their own: compare the ratios, remeasure on a quiet one)');
  let [ms, candles] = time(() => cl.data.generateSyntheticCandles({ seed: 11, bars: BARS, timeframe: '1m' }));
  console.log(`   (data generated in ${fmt(ms / 1000)} s)`);

  // 1. Arrow store
  const file = cl.data.storeFile(key, dir);
  const copy = path.join(dir, 'copy.arrow');
  const w = { ours: [], plain: [] };
  const r = { ours: [], plain: [], reused: [] };
  let bytes = 0;
  let reused;
  let readOk = true;
  for (let k = 0; k < REPEAT; k++) {
    fs.rmSync(file, { force: true });
    w.ours.push(time(() => cl.data.mergeIntoStore(key, candles, dir))[0]);
    bytes = fs.statSync(file).size;
    const raw = fs.readFileSync(file);
    w.plain.push(
      time(() => {
        const fd = fs.openSync(copy, 'w');
        fs.writeFileSync(fd, raw);
        fs.fsyncSync(fd);
        fs.closeSync(fd);
      })[0],
    );
    const [readMs, back] = time(() => cl.data.readStore(key, dir));
    r.ours.push(readMs);
    r.plain.push(time(() => fs.readFileSync(file))[0]);
    reused ??= Buffer.allocUnsafeSlow(bytes).fill(0);
    r.reused.push(
      time(() => {
        const fd = fs.openSync(file, 'r');
        for (let done = 0; done < bytes; ) done += fs.readSync(fd, reused, done, bytes - done, done);
        fs.closeSync(fd);
      })[0],
    );
    if (k === 0) readOk = back.length === BARS && sameValues(back.time, candles.time) && COLUMNS.every((c) => sameValues(back.column(c), candles.column(c)));
  }
  reused = undefined;
  const mb = bytes / 1e6;
  console.log(`\n1. Arrow store, ${fmt(mb)} MB file (${fmt(bytes / BARS, 0)} bytes/candle); read-back equal to what was written: ${readOk ? 'yes' : 'NO'}`);
  console.log(`   write (mergeIntoStore: checks, lock, encode, temp file + fsync + rename): ${show(w.ours, mb)}`);
  console.log(`   plain fs write + fsync of the same bytes:                                  ${show(w.plain, mb)}`);
  console.log(`   → write speed ${fmt(stat(w.plain).best / stat(w.ours).best, 2)}× a plain write (aim ≥ 0.5×)`);
  console.log(`   read  (readStore: file into new memory, columns as views, time in place): ${show(r.ours, mb)}`);
  console.log(`   plain fs read into a new buffer (first touch, like readStore):            ${show(r.plain, mb)}`);
  console.log(`   plain fs read into a reused buffer (no page faults):                      ${show(r.reused, mb)}`);
  console.log(`   → read speed ${fmt(stat(r.plain).best / stat(r.ours).best, 2)}× a plain read into new memory (aim 1×), ${fmt(stat(r.reused).best / stat(r.ours).best, 2)}× one into a reused buffer`);
  if (!readOk) throw new Error('store read back different data');
  fs.rmSync(copy, { force: true });

  // 2. CSV import against pandas.read_csv, same file
  const csv = path.join(dir, 'candles.csv');
  const part = candles.slice(0, CSV_ROWS);
  candles = undefined;
  cl.data.writeCandlesCsv(csv, part);
  const csvMb = fs.statSync(csv).size / 1e6;
  fs.readFileSync(csv); // warm the page cache for both readers alike
  const csvKey = { ...key, symbol: 'ETH/USDT' };
  const pandasScript = [
    'import sys, time, pandas as pd',
    't = time.perf_counter()',
    'df = pd.read_csv(sys.argv[1])',
    'print(len(df), (time.perf_counter() - t) * 1000)',
  ].join('\n');
  const c = { parse: [], parse1: [], import: [], pandas: [] };
  let parsed;
  let threads = 1;
  let pandasNote = '';
  for (let k = 0; k < REPEAT; k++) {
    const [parseMs, raw] = time(() => cl.data.readCandlesCsvRaw(csv));
    threads = cl.data.lastCsvParseThreads();
    c.parse.push(parseMs);
    parsed = raw;
    const [parse1Ms, raw1] = time(() => cl.data.readCandlesCsvRaw(csv, {}, { threads: 1 }));
    c.parse1.push(parse1Ms);
    for (const name of ['time', 'open', 'high', 'low', 'close', 'volume']) {
      const a = name === 'time' ? raw.time : raw.columns[name];
      const b = name === 'time' ? raw1.time : raw1.columns[name];
      for (let i = 0; i < CSV_ROWS; i++) if (!Object.is(a[i], b[i])) throw new Error(`CSV parse on ${threads} threads differs from one thread: ${name}[${i}]`);
    }
    const importDir = path.join(dir, `import-${k}`);
    const [importMs, report] = time(() => cl.data.importCandlesFiles([csv], csvKey, { dataDir: importDir }));
    c.import.push(importMs);
    fs.rmSync(importDir, { recursive: true, force: true });
    if (report.merge.total !== CSV_ROWS || raw.time.length !== CSV_ROWS) throw new Error('CSV import lost rows');
    const python = spawnSync(PYTHON, ['-c', pandasScript, csv], { encoding: 'utf8' });
    if (python.status !== 0) {
      pandasNote = (python.stderr || python.error?.message || '').trim().split('\n').pop();
      break;
    }
    const [rows, pandasMs] = python.stdout.trim().split(/\s+/).map(Number);
    if (rows !== CSV_ROWS) throw new Error(`pandas read ${rows} rows`);
    c.pandas.push(pandasMs);
  }
  // The output columns' first touch: the same 6 × rows writes into new arrays and into reused ones.
  const touch = (fresh) => {
    const arrays = fresh ? null : Array.from({ length: 6 }, () => new Float64Array(CSV_ROWS));
    return stat(
      Array.from({ length: REPEAT }, () =>
        time(() => {
          for (let a = 0; a < 6; a++) {
            const out = fresh ? new Float64Array(CSV_ROWS) : arrays[a];
            for (let i = 0; i < CSV_ROWS; i++) out[i] = i;
          }
        })[0],
      ),
    ).best;
  };
  const freshMs = touch(true);
  const reusedMs = touch(false);
  console.log(`\n2. CSV import, ${CSV_ROWS.toLocaleString('en-US')} rows (${fmt(csvMb)} MB)`);
  console.log(`   candlelab readCandlesCsvRaw (the parse on ${threads} thread${threads === 1 ? '' : 's'}):  ${show(c.parse, csvMb)}`);
  console.log(`   the same parse on 1 thread:                  ${show(c.parse1, csvMb)} (values equal bit for bit)`);
  console.log(`   candlelab data import (parse, checks, sort check, Arrow write): ${show(c.import)}`);
  console.log(`   (writing 6 columns of ${CSV_ROWS.toLocaleString('en-US')} floats: ${fmt(freshMs, 0)} ms into new arrays, ${fmt(reusedMs, 0)} ms into reused ones — the parse's first-touch share)`);
  if (c.pandas.length) {
    const pandasBest = stat(c.pandas).best;
    console.log(`   pandas.read_csv:                                ${show(c.pandas, csvMb)}`);
    console.log(`   → the parse on ${threads} thread${threads === 1 ? '' : 's'} takes ${fmt(stat(c.parse).best / pandasBest, 2)}× pandas' time (aim ≤ 0.5×), on 1 thread ${fmt(stat(c.parse1).best / pandasBest, 2)}×; the whole import ${fmt(stat(c.import).best / pandasBest, 2)}×`);
    // Values: pandas' round_trip float parser (correctly rounded) against ours, bit for bit; and its default parser.
    const dump = path.join(dir, 'pandas.f64');
    const check = spawnSync(
      PYTHON,
      ['-c', ['import sys, numpy as np, pandas as pd', 'a = pd.read_csv(sys.argv[1], float_precision=sys.argv[3])', "np.ascontiguousarray(a[['time','open','high','low','close','volume']].to_numpy(dtype='float64').T).tofile(sys.argv[2])"].join('\n'), csv, dump, 'round_trip'],
      { encoding: 'utf8' },
    );
    if (check.status === 0) {
      const values = new Float64Array(fs.readFileSync(dump).buffer.slice(0));
      const ours = [parsed.time, ...COLUMNS.map((name) => parsed.columns[name])];
      let differ = 0;
      ours.forEach((column, j) => {
        for (let i = 0; i < CSV_ROWS; i++) if (!Object.is(column[i], values[j * CSV_ROWS + i])) differ++;
      });
      spawnSync(PYTHON, ['-c', ['import sys, numpy as np, pandas as pd', 'a = pd.read_csv(sys.argv[1])', "np.ascontiguousarray(a[['time','open','high','low','close','volume']].to_numpy(dtype='float64').T).tofile(sys.argv[2])"].join('\n'), csv, dump]);
      const defaults = new Float64Array(fs.readFileSync(dump).buffer.slice(0));
      let differDefault = 0;
      ours.forEach((column, j) => {
        for (let i = 0; i < CSV_ROWS; i++) if (!Object.is(column[i], defaults[j * CSV_ROWS + i])) differDefault++;
      });
      console.log(`   values: ${differ === 0 ? 'all' : `NOT all (${differ} differ)`} ${(6 * CSV_ROWS).toLocaleString('en-US')} equal to pandas read_csv(float_precision='round_trip') bit for bit; pandas' default parser differs from both in ${differDefault.toLocaleString('en-US')} (its fast parser is not correctly rounded)`);
      if (differ !== 0) throw new Error('CSV parse differs from pandas round_trip');
    }
  } else {
    console.log(`   pandas peer skipped: ${PYTHON} with pandas not available (${pandasNote})`);
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
