#!/usr/bin/env node
// Data store benchmarks (printed figures, not tests). Run: npm run bench (or node bench/store.mjs)
//   1. write and read 10M 1m candles in the Arrow store: MB/s, and the ratio to a plain fs copy of the same bytes
//   2. import of a large CSV (2M rows of the seeded generator) against Python pandas.read_csv on the same file
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { root, cl, now, fmt } from './lib.mjs';

const BARS = Number(process.env.BENCH_STORE_BARS ?? 10_000_000);
const CSV_ROWS = Number(process.env.BENCH_CSV_ROWS ?? 2_000_000);
const PYTHON = process.env.CANDLELAB_PYTHON ?? '/usr/bin/python3';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'candlelab-bench-store-'));
const key = { exchange: 'bench', market: 'spot', symbol: 'BTC/USDT', timeframe: '1m' };

try {
  console.log(`\ncandlelab store bench · ${BARS.toLocaleString('en-US')} synthetic 1m candles`);
  let t = now();
  const candles = cl.data.generateSyntheticCandles({ seed: 11, bars: BARS, timeframe: '1m' });
  console.log(`   (data generated in ${fmt((now() - t) / 1000)} s)`);

  // 1. store write (merge into an empty key: lock, Arrow encode, temp file + fsync + rename) and read
  t = now();
  cl.data.mergeIntoStore(key, candles, dir);
  const writeMs = now() - t;
  const file = cl.data.storeFile(key, dir);
  const bytes = fs.statSync(file).size;
  const mb = bytes / 1e6;
  t = now();
  const back = cl.data.readStore(key, dir);
  const readMs = now() - t;
  if (back.length !== BARS || back.column('close')[BARS - 1] !== candles.column('close')[BARS - 1]) throw new Error('store read back different data');
  // The floor: the same bytes through plain fs calls (read; write with an fsync, like the store's).
  t = now();
  const raw = fs.readFileSync(file);
  const fsReadMs = now() - t;
  const copy = path.join(dir, 'copy.arrow');
  t = now();
  const fd = fs.openSync(copy, 'w');
  fs.writeFileSync(fd, raw);
  fs.fsyncSync(fd);
  fs.closeSync(fd);
  const fsWriteMs = now() - t;
  console.log(`\n1. Arrow store, ${fmt(mb)} MB file (${fmt(bytes / BARS, 0)} bytes/candle)`);
  console.log(`   write (mergeIntoStore): ${fmt(mb / (writeMs / 1000))} MB/s (${fmt(writeMs / 1000, 2)} s)   plain fs write+fsync: ${fmt(mb / (fsWriteMs / 1000))} MB/s → ratio ${fmt(writeMs / fsWriteMs, 2)}×`);
  console.log(`   read  (readStore):      ${fmt(mb / (readMs / 1000))} MB/s (${fmt(readMs / 1000, 2)} s)   plain fs read:        ${fmt(mb / (fsReadMs / 1000))} MB/s → ratio ${fmt(readMs / fsReadMs, 2)}×`);
  console.log(`   (a full fs copy, read + write: ${fmt(mb / ((fsReadMs + fsWriteMs) / 1000))} MB/s)`);

  // 2. CSV import against pandas.read_csv, same file
  const csv = path.join(dir, 'candles.csv');
  cl.data.writeCandlesCsv(csv, candles.slice(0, CSV_ROWS));
  const csvMb = fs.statSync(csv).size / 1e6;
  // Warm the page cache for both readers alike.
  fs.readFileSync(csv);
  const csvKey = { ...key, symbol: 'ETH/USDT' };
  t = now();
  const report = cl.data.importCandlesFiles([csv], csvKey, { dataDir: dir });
  const importMs = now() - t;
  t = now();
  const parsed = cl.data.readCandlesCsv(csv);
  const parseMs = now() - t;
  if (report.merge.total !== CSV_ROWS || parsed.length !== CSV_ROWS) throw new Error('CSV import lost rows');
  const script = [
    'import sys, time, pandas as pd',
    't = time.perf_counter()',
    'df = pd.read_csv(sys.argv[1])',
    'print(len(df), (time.perf_counter() - t) * 1000)',
  ].join('\n');
  const python = spawnSync(PYTHON, ['-c', script, csv], { encoding: 'utf8' });
  console.log(`\n2. CSV import, ${CSV_ROWS.toLocaleString('en-US')} rows (${fmt(csvMb)} MB)`);
  console.log(`   candlelab readCandlesCsv:          ${fmt(parseMs / 1000, 2)} s (${fmt(csvMb / (parseMs / 1000))} MB/s)`);
  console.log(`   candlelab data import (into store): ${fmt(importMs / 1000, 2)} s (parse + checks + sort check + Arrow write)`);
  if (python.status === 0) {
    const [rows, pandasMs] = python.stdout.trim().split(/\s+/).map(Number);
    if (rows !== CSV_ROWS) throw new Error(`pandas read ${rows} rows`);
    console.log(`   pandas.read_csv:                   ${fmt(pandasMs / 1000, 2)} s (${fmt(csvMb / (pandasMs / 1000))} MB/s)`);
    console.log(`   ratio: readCandlesCsv takes ${fmt(parseMs / pandasMs, 2)}× pandas' time; the whole import ${fmt(importMs / pandasMs, 2)}×`);
  } else {
    console.log(`   pandas peer skipped: ${PYTHON} with pandas not available (${(python.stderr || python.error?.message || '').trim().split('\n').pop()})`);
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
