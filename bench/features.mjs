#!/usr/bin/env node
// Feature benchmark (printed figures, not a test). Run: npm run bench, or node bench/features.mjs [rows] [--rounds N] [--sections 1,2,3,4]
//   1. 50 standard features over 1M 1m candles: candlelab's computeFeatures against the same 50
//      columns written in pandas/numpy (Debian's python3-pandas), on the same candles, each side in its own
//      process, alternated round by round (best of N, with the spread). Two figures each: the first run in
//      a fresh process (every column written into memory never touched before: page faults) and the best
//      later run (candlelab: columns reused through a ColumnArena; pandas: memory its allocator freed).
//      candlelab's first run four ways: as it runs by default (columns on huge pages, faulted in ahead on a
//      spare core, the features shared by the cores), and on one thread (a run given an arena stays on one):
//      as it is, without prefault (CANDLELAB_PREFAULT=0) and without huge pages (CANDLELAB_HUGE_PAGES=0).
//      Peak memory (maxRSS) of both after one run. The last values of every column are compared.
//   2. Where the time goes: per feature, allocation + first touch of its columns against the compute.
//   3. Scaling: rows/s over 10^5, 10^6, 10^7 rows.
//   4. RSI and EMA kernels against a tight hand-written Float64Array loop (the practical limit).
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { STANDARD_FEATURES } from './standard-features.mjs';
import { root, cl, now, fmt, best } from './lib.mjs';

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const at = args.indexOf(name);
  return at < 0 ? fallback : Number(args[at + 1]);
};
const TAIL = 2000;
const META = { exchange: 'synthetic', symbol: 'BTC/USDT', timeframe: '1m', source: 'synthetic:seed=7' };

/** Candles from the bench's file: six float64 columns one after another (time, open, high, low, close, volume). */
function readCandles(file, rows) {
  const raw = new Float64Array(fs.readFileSync(file).buffer.slice(0));
  const column = (k) => raw.slice(k * rows, (k + 1) * rows);
  return cl.Frame.fromColumns(column(0), { open: column(1), high: column(2), low: column(3), close: column(4), volume: column(5) }, META);
}

function writeCandles(candles, file) {
  const rows = candles.length;
  const raw = new Float64Array(6 * rows);
  raw.set(candles.time, 0);
  ['open', 'high', 'low', 'close', 'volume'].forEach((name, k) => raw.set(candles.column(name), (k + 1) * rows));
  fs.writeFileSync(file, new Uint8Array(raw.buffer));
}

const maxRssMb = () => process.resourceUsage().maxRSS / 1024;
const sameBits = (a, b) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

// ---- child: one side's measurements in a process of its own ----
if (args[0] === '--child') {
  const [, mode, file, rowsArg, repeatArg, outFile] = args;
  const rows = Number(rowsArg);
  const repeat = Number(repeatArg);
  const candles = readCandles(file, rows);
  const registry = cl.createRegistry();
  const compute = (arena) => cl.features.computeFeatures(candles, STANDARD_FEATURES, registry, arena ? { arena } : {});
  // warm-up on 2,000 rows (compiles the kernels, loads what the registry loads lazily; touches little memory)
  cl.features.computeFeatures(candles.slice(0, Math.min(rows, 2000)), STANDARD_FEATURES, registry);
  const report = (value) => fs.writeFileSync(outFile, JSON.stringify(value));
  if (mode === 'scale') {
    // one arena: its first run writes into new memory, the next ones reuse its columns
    const arena = new cl.features.ColumnArena(rows);
    let t = now();
    compute(arena);
    const firstMs = now() - t;
    const rssFirst = maxRssMb();
    const reusedMs = best(() => compute(arena), repeat);
    report({ firstMs, reusedMs, rssFirst });
  } else if (mode === 'ours') {
    const rssLoaded = maxRssMb();
    let t = now();
    const first = compute();
    const firstMs = now() - t;
    const threads = cl.features.lastFeatureRunThreads().threads;
    const rssFirst = maxRssMb();
    // later runs: every column from an arena kept across runs (no new memory), and fresh arenas in this warm process
    const arena = new cl.features.ColumnArena(rows);
    let reused;
    const reusedMs = best(() => (reused = compute(arena)), repeat);
    let identical = first.names.every((name) => sameBits(first.frame.column(name), reused.frame.column(name)));
    const freshWarmMs = best(() => compute(), Math.max(1, repeat - 1));
    const tail = Object.fromEntries(first.names.map((name) => [name, Array.from(first.frame.column(name).subarray(rows - TAIL), (v) => (Number.isNaN(v) ? null : v))]));
    report({ firstMs, threads, reusedMs, freshWarmMs, rssLoaded, rssFirst, identical, names: first.names, arena: arena.stats, tail });
  } else if (mode === 'stages') {
    // per feature: compute into new columns (kept alive, so no run reuses freed memory), then again into the same columns
    const context = cl.features.featureContext(registry, '1m');
    const planned = cl.features.planFeatures(STANDARD_FEATURES, registry, context);
    const groups = new Map();
    for (const feature of planned) groups.set(feature.definition.id, [...(groups.get(feature.definition.id) ?? []), feature]);
    const keep = [];
    const stages = [];
    for (const [id, features] of groups) {
      const arena = new cl.features.ColumnArena(rows);
      let t = now();
      keep.push(cl.features.computePlannedFeatures(candles, features, context, arena));
      const freshMs = now() - t;
      const reusedMs = best(() => cl.features.computePlannedFeatures(candles, features, context, arena), repeat);
      stages.push({ id, outputs: features.reduce((sum, f) => sum + f.outputs.length, 0), held: arena.stats.held, freshMs, reusedMs });
    }
    // one 8-byte column of `rows` values written into new memory, and into the same memory again
    const touch = [];
    for (let r = 0; r < 5; r++) {
      const source = candles.column('close');
      let t = now();
      const fresh = new Float64Array(rows);
      for (let i = 0; i < rows; i++) fresh[i] = source[i];
      const freshMs = now() - t;
      t = now();
      for (let i = 0; i < rows; i++) fresh[i] = source[i] * 0.5;
      touch.push({ freshMs, reusedMs: now() - t });
      keep.push(fresh);
    }
    report({ stages, touch });
  }
  process.exit(0);
}

// ---- parent ----
const ROWS = Number(args.find((a, i) => /^\d+$/.test(a) && !args[i - 1]?.startsWith('--')) ?? 1_000_000);
const ROUNDS = flag('--rounds', 3);
const SECTIONS = args.includes('--sections') ? args[args.indexOf('--sections') + 1].split(',').map(Number) : [1, 2, 3, 4];
const ROWS_SECTIONS = new Set(SECTIONS); // which sections run
const REPEAT = 3;
const self = fileURLToPath(import.meta.url);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'candlelab-bench-features-'));
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));

function child(command, argv, outFile, env) {
  const result = spawnSync(command, argv, { encoding: 'utf8', maxBuffer: 1 << 28, ...(env ? { env: { ...process.env, ...env } } : {}) });
  if (result.status !== 0) return { error: (result.stderr || result.error?.message || '').trim().split('\n').slice(-3).join(' ') };
  return JSON.parse(outFile ? fs.readFileSync(outFile, 'utf8') : result.stdout.trim().split('\n').pop());
}
const ours = (mode, file, rows, repeat = REPEAT, env) => {
  const outFile = path.join(dir, `${mode}-${rows}.json`);
  return child(process.execPath, [self, '--child', mode, file, String(rows), String(repeat), outFile], outFile, env);
};
const pandas = (file, rows) => child('/usr/bin/python3', [path.join(root, 'bench', 'python', 'features_pandas.py'), file, String(rows), String(REPEAT), String(TAIL)]);
const spread = (values) => `${fmt(Math.min(...values), 0)}–${fmt(Math.max(...values), 0)} ms, spread ${fmt(((Math.max(...values) - Math.min(...values)) / Math.min(...values)) * 100, 0)}%`;

console.log(`candlelab features bench · node ${process.version} · ${os.cpus().length} × ${os.cpus()[0].model} · ${fmt(os.totalmem() / 2 ** 30, 0)} GiB`);
let t = now();
const candles = cl.data.generateSyntheticCandles({ seed: 7, timeframe: '1m', bars: ROWS });
const file = path.join(dir, `candles-${ROWS}.f64`);
writeCandles(candles, file);
console.log(`   ${fmt(ROWS, 0)} synthetic 1m candles generated in ${fmt(now() - t, 0)} ms`);

// 1. 50 features, candlelab vs pandas, alternated
if (ROWS_SECTIONS.has(1)) {
  const rounds = [];
  for (let r = 0; r < ROUNDS; r++) {
    rounds.push({
      ours: ours('ours', file, ROWS, REPEAT),
      oneThread: ours('scale', file, ROWS, 1, { CANDLELAB_FEATURE_THREADS: '1' }),
      plain: ours('scale', file, ROWS, 1, { CANDLELAB_HUGE_PAGES: '0' }),
      noPrefault: ours('scale', file, ROWS, 1, { CANDLELAB_PREFAULT: '0' }),
      pandas: pandas(file, ROWS),
    });
  }
  const o = rounds.map((r) => r.ours).filter((r) => !r.error);
  const p = rounds.map((r) => r.pandas).filter((r) => !r.error);
  const names = o[0]?.names ?? [];
  console.log(`\n1. ${names.length} standard features over ${fmt(ROWS, 0)} 1m candles (${ROUNDS} alternated rounds, each side in its own process; best of ${ROUNDS} and the range)`);
  if (!o.length) console.log(`   candlelab run failed: ${rounds[0].ours.error}`);
  if (!p.length) {
    const error = rounds[0].pandas.error ?? '';
    console.log(/No module named '(pandas|numpy)'/.test(error) ? `   pandas: not installed — apt-get install python3-pandas` : `   pandas run failed: ${error}`);
  }
  if (o.length) {
    const first = o.map((x) => x.firstMs);
    const reused = o.map((x) => x.reusedMs);
    const warm = o.map((x) => x.freshWarmMs);
    const firstOf = (key) => rounds.map((r) => r[key]).filter((x) => !x.error).map((x) => x.firstMs);
    const oneThread = firstOf('oneThread');
    const plain = firstOf('plain');
    const noPrefault = firstOf('noPrefault');
    console.log(`   candlelab, first run in a fresh process (new memory; columns on huge pages, ${o[0].threads} threads): ${fmt(Math.min(...first), 0)} ms (${spread(first)}) · ${fmt(ROWS / Math.min(...first) / 1000, 2)} M rows/s`);
    if (oneThread.length) console.log(`     the same on 1 thread (CANDLELAB_FEATURE_THREADS=1):        ${fmt(Math.min(...oneThread), 0)} ms (${spread(oneThread)})`);
    if (noPrefault.length) console.log(`     on 1 thread without prefault (CANDLELAB_PREFAULT=0):       ${fmt(Math.min(...noPrefault), 0)} ms (${spread(noPrefault)}) · the writer faults every new page itself`);
    if (plain.length) console.log(`     on 1 thread without huge pages (CANDLELAB_HUGE_PAGES=0):   ${fmt(Math.min(...plain), 0)} ms (${spread(plain)}) · every 4 KB page faulted on its own`);
    console.log(`   candlelab, columns reused (ColumnArena, 1 thread), best of ${REPEAT}: ${fmt(Math.min(...reused), 0)} ms (${spread(reused)}) · ${fmt(ROWS / Math.min(...reused) / 1000, 2)} M rows/s`);
    console.log(`   candlelab, new columns per run in a warm process:    ${fmt(Math.min(...warm), 0)} ms (${spread(warm)})`);
    console.log(`   reused arena (1 thread) gives the same values as the first run (new memory, threads), bit for bit: ${o.every((x) => x.identical) ? 'yes' : 'NO'} · arena holds ${o[0].arena.held} columns (${fmt(o[0].arena.bytes / 2 ** 20, 0)} MiB) for ${names.length} outputs`);
    if (p.length) {
      const pFirst = p.map((x) => x.runs[0]);
      const pBest = p.map((x) => x.ms);
      console.log(`   pandas ${p[0].pandas} / numpy ${p[0].numpy} (numpy asks for huge pages itself), first run in its process: ${fmt(Math.min(...pFirst), 0)} ms (${spread(pFirst)})`);
      console.log(`   pandas, best of ${REPEAT} runs (later runs reuse freed memory):  ${fmt(Math.min(...pBest), 0)} ms (${spread(pBest)})`);
      const ratio = (key, field) => rounds.map((r) => (r[key].error || r.pandas.error ? '—' : fmt(r.pandas.runs[0] / r[key][field], 2) + '×')).join(', ');
      console.log(`   → first runs (new memory both): candlelab ${fmt(Math.min(...pFirst) / Math.min(...first), 2)}× pandas' speed; best runs (reused memory both): ${fmt(Math.min(...pBest) / Math.min(...reused), 2)}× (aim ≥ 3×)`);
      console.log(`     per round, first runs against pandas' first run in the same round: ${ratio('ours', 'firstMs')} (1 thread: ${ratio('oneThread', 'firstMs')}; 1 thread without prefault: ${ratio('noPrefault', 'firstMs')}; 1 thread without huge pages: ${ratio('plain', 'firstMs')})`);
      console.log(`     per round, best runs: ${rounds.map((r) => (r.ours.error || r.pandas.error ? '—' : fmt(r.pandas.ms / r.ours.reusedMs, 2) + '×')).join(', ')}`);
      const oLoaded = Math.min(...o.map((x) => x.rssLoaded));
      const oPeak = Math.min(...o.map((x) => x.rssFirst));
      const pLoaded = Math.min(...p.map((x) => x.maxrss_loaded_kb / 1024));
      const pPeak = Math.min(...p.map((x) => x.maxrss_first_kb / 1024));
      console.log(`   peak memory (maxRSS) after one run: candlelab ${fmt(oPeak, 0)} MiB (${fmt(oPeak - oLoaded, 0)} over the loaded candles), pandas ${fmt(pPeak, 0)} MiB (${fmt(pPeak - pLoaded, 0)} over its loaded DataFrame); the ${names.length} output columns alone are ${fmt((names.length * ROWS * 8) / 2 ** 20, 0)} MiB`);

      // same work: the last TAIL values of every column agree (pandas' ewm seeds differently; the seed is forgotten long before the tail)
      const result = p[p.length - 1];
      const theirsTail = result.tail;
      const oursTail = o[o.length - 1].tail;
      let agree = 0;
      const worst = [];
      for (const name of names) {
        const mine = oursTail[name].map((v) => (v === null ? NaN : v));
        const theirs = theirsTail[name];
        if (!theirs) {
          worst.push(`${name}: missing on the pandas side`);
          continue;
        }
        let maxError = 0;
        for (let i = 0; i < TAIL; i++) {
          if (theirs[i] === null) continue;
          maxError = Math.max(maxError, Math.abs(mine[i] - theirs[i]) / Math.max(1e-3, Math.abs(theirs[i])));
        }
        if (maxError <= 1e-6) agree++;
        else {
          // where pandas' one-pass rolling std rounds, compare both against exact two-pass windows
          const exact = result.exact[name];
          const off = (values) => (exact ? Math.max(...exact.map((e, i) => Math.abs(values[i] - e) / Math.max(1e-3, Math.abs(e)))) : NaN);
          worst.push(`${name}: ${maxError.toExponential(1)}${exact ? ` (vs exact two-pass: candlelab ${off(mine).toExponential(1)}, pandas ${off(theirs).toExponential(1)})` : ''}`);
        }
      }
      console.log(`   agreement: ${agree} of ${names.length} columns equal pandas' to 1e-6 (relative) over the last ${TAIL} rows`);
      for (const line of worst) console.log(`     ${line}`);
    }
  }
}

// 2. Where the time goes, per feature: new columns (allocation + first-touch page faults + compute) against reused ones (compute)
if (ROWS_SECTIONS.has(2)) {
  const result = ours('stages', file, ROWS);
  console.log(`\n2. where the time goes, per feature over ${fmt(ROWS, 0)} rows (ms; new columns = allocation + first touch + compute, reused = compute)`);
  if (result.error) console.log(`   failed: ${result.error}`);
  else {
    const touchFresh = Math.min(...result.touch.map((x) => x.freshMs));
    const touchReused = Math.min(...result.touch.map((x) => x.reusedMs));
    console.log(`   one pass of ${fmt(ROWS, 0)} floats into a new Float64Array: ${fmt(touchFresh, 1)} ms; into the same array again: ${fmt(touchReused, 2)} ms (best of 5)`);
    let fresh = 0;
    let reused = 0;
    let held = 0;
    for (const stage of result.stages) {
      fresh += stage.freshMs;
      reused += stage.reusedMs;
      held += stage.held;
      console.log(`   ${stage.id.padEnd(18)} ${String(stage.outputs).padStart(2)} outputs, ${String(stage.held).padStart(2)} columns  new ${fmt(stage.freshMs, 1).padStart(6)}  reused ${fmt(stage.reusedMs, 1).padStart(6)}  first touch ${fmt(Math.max(0, stage.freshMs - stage.reusedMs), 1).padStart(6)}`);
    }
    console.log(`   total: ${held} columns (outputs and scratch, one arena per feature here) · new ${fmt(fresh, 0)} ms · reused ${fmt(reused, 0)} ms → allocation and first touch ${fmt(((fresh - reused) / fresh) * 100, 0)}% of a run into new memory`);
  }
}

// 3. Scaling: rows/s over 10^5 … 10^7 rows (ours; fresh process per size)
if (ROWS_SECTIONS.has(3)) {
  console.log(`\n3. scaling: the 50 standard features over 10^5 … 10^7 rows (first run in a fresh process, and reused columns best of 2)`);
  const rates = new Map();
  for (const rows of [100_000, 1_000_000, 10_000_000]) {
    let sizeFile = file;
    if (rows !== ROWS) {
      sizeFile = path.join(dir, `candles-${rows}.f64`);
      writeCandles(cl.data.generateSyntheticCandles({ seed: 7, timeframe: '1m', bars: rows }), sizeFile);
    }
    const result = ours('scale', sizeFile, rows, 2);
    if (sizeFile !== file && fs.existsSync(sizeFile)) fs.rmSync(sizeFile);
    if (result.error) {
      console.log(`   ${fmt(rows, 0).padStart(10)} rows: failed (${result.error})`);
      continue;
    }
    rates.set(rows, rows / result.reusedMs);
    console.log(`   ${fmt(rows, 0).padStart(10)} rows: new memory ${fmt(result.firstMs, 0).padStart(6)} ms = ${fmt(rows / result.firstMs / 1000, 2).padStart(5)} M rows/s · reused ${fmt(result.reusedMs, 0).padStart(6)} ms = ${fmt(rows / result.reusedMs / 1000, 2).padStart(5)} M rows/s · peak ${fmt(result.rssFirst, 0)} MiB`);
  }

  if (rates.has(1_000_000) && rates.has(10_000_000)) {
    const loss = 1 - rates.get(10_000_000) / rates.get(1_000_000);
    console.log(`   10^6 → 10^7: reused-column throughput ${loss > 0 ? 'falls' : 'rises'} ${fmt(Math.abs(loss) * 100, 0)}%. Not linear where (measured per feature with --sections 2 at 10^7):`);
    console.log(`     · core/obv (about 33× the time for 10× the rows): OBV is a running sum whose level grows with the history, so the`);
    console.log(`       rolling z-score's accuracy guard (exact two-pass window when the spread is tiny against the level) fires on more rows`);
    console.log(`       (on these synthetic candles: 26% of rows at 10^6, 93% at 10^7; each costs 2 × 100 reads);`);
    console.log(`     · features writing many columns from one input (returns, EMA, SMA, candle shape: about 14–19×): at 10^6 an 8 MB input`);
    console.log(`       stays in the CPU cache between passes, at 10^7 (80 MB) every pass streams it from memory again.`);
    console.log(`     With new memory, first-touch page faults grow linearly with the bytes written (about 450 bytes per row: 50 outputs, a few scratch columns).`);
  }
}

// The practical limit: the least a single-pass kernel must do, with arguments in registers.
function tightEma(close, period, out) {
  const n = close.length;
  const w = 2 / (period + 1);
  const keep = 1 - w;
  let e = close[0];
  for (let i = 0; i < n; i++) out[i] = e = close[i] * w + e * keep;
  return out;
}
function tightRsi(close, period, out) {
  const n = close.length;
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

// 4. RSI and EMA against a tight loop, both writing into the same reused array (compute, not page faults).
if (ROWS_SECTIONS.has(4)) {
  const close = candles.column('close');
  const n = close.length;
  const out = new Float64Array(n).fill(0);
  console.log(`\n4. kernels against a tight Float64Array loop, ${fmt(n, 0)} values into a reused output (M values/s, best of 5)`);
  for (const [name, kernel, tight] of [
    ['EMA(20)', () => cl.features.emaKernel(close, 20, 0, out), () => tightEma(close, 20, out)],
    ['RSI(14)', () => cl.features.rsiKernel(close, 14, out), () => tightRsi(close, 14, out)],
  ]) {
    const kernelMs = best(kernel, 5);
    const tightMs = best(tight, 5);
    console.log(`   ${name.padEnd(8)} kernel ${fmt(n / kernelMs / 1000).padStart(6)}   tight loop ${fmt(n / tightMs / 1000).padStart(6)}   kernel/limit ${fmt((tightMs / kernelMs) * 100, 0)}%`);
  }
  const copyMs = best(() => {
    for (let i = 0; i < n; i++) out[i] = close[i];
  }, 5);
  const freshMs = best(() => {
    const fresh = new Float64Array(n);
    for (let i = 0; i < n; i++) fresh[i] = close[i];
  }, 5);
  console.log(`   (a plain copy into the reused array: ${fmt(n / copyMs / 1000)} M values/s; into a new array each time: ${fmt(n / freshMs / 1000)} M values/s)`);
}
