#!/usr/bin/env node
// Feature benchmark (printed figures, not a test). Run: npm run bench, or node bench/features.mjs [rows]
//   1. 50 standard features over 1M 1m candles: candlelab's computeFeatures against the same 50
//      columns written in pandas/numpy (Debian's python3-pandas), run side by side from this script on
//      the same candles; the last values of every column are compared, so both did the same work.
//   2. RSI and EMA kernels against a tight hand-written Float64Array loop (the practical limit).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { STANDARD_FEATURES } from './standard-features.mjs';
import { root, cl, now, fmt, best } from './lib.mjs';


const ROWS = Number(process.argv[2] ?? 1_000_000);
const REPEAT = 3;
const TAIL = 2000;


console.log(`candlelab features bench · node ${process.version} · ${os.cpus().length} × ${os.cpus()[0].model}`);
let t = now();
const candles = cl.data.generateSyntheticCandles({ seed: 7, timeframe: '1m', bars: ROWS });
console.log(`   ${fmt(ROWS, 0)} synthetic 1m candles generated in ${fmt(now() - t, 0)} ms`);

// 1. 50 features, candlelab vs pandas
{
  const registry = cl.createRegistry();
  let set;
  const tsMs = best(() => (set = cl.features.computeFeatures(candles, STANDARD_FEATURES, registry)));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'candlelab-bench-features-'));
  const file = path.join(dir, 'candles.f64');
  const raw = new Float64Array(6 * ROWS);
  ['open', 'high', 'low', 'close', 'volume'].forEach((name, k) => raw.set(candles.column(name), (k + 1) * ROWS));
  raw.set(candles.time, 0);
  fs.writeFileSync(file, new Uint8Array(raw.buffer));
  const python = spawnSync('/usr/bin/python3', [path.join(root, 'bench', 'python', 'features_pandas.py'), file, String(ROWS), String(REPEAT), String(TAIL)], { encoding: 'utf8', maxBuffer: 1 << 28 });
  fs.rmSync(dir, { recursive: true, force: true });
  console.log(`\n1. ${set.names.length} standard features over ${fmt(ROWS, 0)} 1m candles (best of ${REPEAT})`);
  console.log(`   candlelab computeFeatures: ${fmt(tsMs, 0)} ms (${fmt(ROWS / tsMs / 1000, 2)} M rows/s, ${fmt((ROWS * set.names.length) / tsMs / 1000, 0)} M values/s)`);
  if (python.status !== 0) {
    const missing = /No module named '(pandas|numpy)'/.exec(python.stderr ?? '');
    console.log(missing ? `   pandas: not installed — apt-get install python3-pandas` : `   pandas run failed: ${(python.stderr || python.error?.message || '').trim().split('\n').pop()}`);
  } else {
    const result = JSON.parse(python.stdout.trim().split('\n').pop());
    console.log(`   pandas ${result.pandas} / numpy ${result.numpy}:  ${fmt(result.ms, 0)} ms  → candlelab is ${fmt(result.ms / tsMs, 2)}× pandas' speed`);
    // same work: the last TAIL values of every column agree (pandas' ewm seeds differently; the seed is forgotten long before the tail)
    let agree = 0;
    const worst = [];
    for (const name of set.names) {
      const ours = set.frame.column(name).subarray(ROWS - TAIL);
      const theirs = result.tail[name];
      if (!theirs) {
        worst.push(`${name}: missing on the pandas side`);
        continue;
      }
      let maxError = 0;
      for (let i = 0; i < TAIL; i++) {
        if (theirs[i] === null) continue;
        maxError = Math.max(maxError, Math.abs(ours[i] - theirs[i]) / Math.max(1e-3, Math.abs(theirs[i])));
      }
      if (maxError <= 1e-6) agree++;
      else {
        // where pandas' one-pass rolling std rounds, compare both against exact two-pass windows
        const exact = result.exact[name];
        const off = (values) => (exact ? Math.max(...exact.map((e, i) => Math.abs(values[i] - e) / Math.max(1e-3, Math.abs(e)))) : NaN);
        worst.push(`${name}: ${maxError.toExponential(1)}${exact ? ` (vs exact two-pass: candlelab ${off(ours).toExponential(1)}, pandas ${off(theirs).toExponential(1)})` : ''}`);
      }
    }
    console.log(`   agreement: ${agree} of ${set.names.length} columns equal pandas' to 1e-6 (relative) over the last ${TAIL} rows`);
    for (const line of worst) console.log(`     ${line}`);
  }
}

// The practical limit: the least a single-pass kernel must do, with arguments in registers.
function tightEma(close, period) {
  const n = close.length;
  const out = new Float64Array(n);
  const w = 2 / (period + 1);
  const keep = 1 - w;
  let e = close[0];
  for (let i = 0; i < n; i++) out[i] = e = close[i] * w + e * keep;
  return out;
}
function tightRsi(close, period) {
  const n = close.length;
  const out = new Float64Array(n);
  let gain = 0;
  let loss = 0;
  for (let i = 1; i < n; i++) {
    const change = close[i] - close[i - 1];
    gain += ((change > 0 ? change : 0) - gain) / period;
    loss += ((change < 0 ? -change : 0) - loss) / period;
    out[i] = 100 - 100 / (1 + gain / loss);
  }
  return out;
}
function copyLoop(close) {
  const n = close.length;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = close[i];
  return out;
}

// 2. RSI and EMA against a tight loop: the fastest a single-pass Float64Array kernel can be here.
{
  const close = candles.column('close');
  const n = close.length;
  const copy = () => copyLoop(close);
  console.log(`\n2. kernels against a tight Float64Array loop, ${fmt(n, 0)} values (M values/s, best of 5)`);
  const copyMs = best(copy, 5);
  for (const [name, kernel, tight] of [
    ['EMA(20)', () => cl.features.emaKernel(close, 20), () => tightEma(close, 20)],
    ['RSI(14)', () => cl.features.rsiKernel(close, 14), () => tightRsi(close, 14)],
  ]) {
    const kernelMs = best(kernel, 5);
    const tightMs = best(tight, 5);
    console.log(`   ${name.padEnd(8)} kernel ${fmt(n / kernelMs / 1000).padStart(6)}   tight loop ${fmt(n / tightMs / 1000).padStart(6)}   kernel/limit ${fmt(tightMs / kernelMs * 100, 0)}%`);
  }
  console.log(`   (a plain read+write copy: ${fmt(n / copyMs / 1000)} M values/s)`);
}
