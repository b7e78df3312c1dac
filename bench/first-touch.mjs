#!/usr/bin/env node
// First-touch memory benchmark (printed figures, not a test). Run: node bench/first-touch.mjs [repeats]
// What a pass over fresh memory costs against the same pass over memory already touched, taken apart:
//   - one pass (out[i] = x[i] · c) over 1M and 10M floats into a new Float64Array, and into a reused one;
//   - allocation alone (new Float64Array(n), never written), first touch alone (one write per 4 KiB page
//     of a new array), compute alone (the pass into a reused array): ms, M floats/s, and the minor page
//     faults the process took (process.resourceUsage().minorPageFault before and after);
//   - memory bandwidth: copying one reused 80 MB buffer into another (TypedArray.set, a memcpy), so the
//     "memory-bound limit" of a single-pass kernel is named with the right figure.
// New arrays are kept alive until the case ends (as a pipeline keeps its columns), so each one is memory
// the allocator had to get from the kernel; a last case drops each array at once to show what recycling gives.
import * as os from 'node:os';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { now, fmt } from './lib.mjs';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');
const REPEATS = Math.max(3, Number(process.argv[2] ?? 7));
const PAGE = 4096;
const faults = () => process.resourceUsage().minorPageFault;
const failures = [];

/** `repeats` timed calls of fn (after a gc, so no collection lands inside): ms and page faults of each. */
function measure(fn, repeats, { keep = true } = {}) {
  const held = [];
  const ms = [];
  const pageFaults = [];
  gc();
  for (let r = 0; r < repeats; r++) {
    const f0 = faults();
    const t = now();
    const result = fn();
    ms.push(now() - t);
    pageFaults.push(faults() - f0);
    if (keep) held.push(result);
  }
  held.length = 0;
  gc();
  return { ms, pageFaults, best: Math.min(...ms), median: median(ms), worst: Math.max(...ms), faults: median(pageFaults) };
}
const median = (values) => [...values].sort((a, b) => a - b)[values.length >> 1];

console.log(`candlelab first-touch bench · node ${process.version} · ${os.cpus().length} × ${os.cpus()[0].model} · ${os.release()} · best of ${REPEATS}`);
let thp = 'unknown';
try {
  thp = (await import('node:fs')).readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8').trim();
} catch {}
console.log(`transparent huge pages: ${thp}; page ${PAGE} B`);

const summary = {};
for (const n of [1_000_000, 10_000_000]) {
  const repeats = n > 1_000_000 ? Math.max(3, Math.ceil(REPEATS / 2)) : REPEATS;
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) x[i] = 100 + Math.sin(i * 1e-3);
  const reused = new Float64Array(n).fill(1);
  const pass = (out) => {
    for (let i = 0; i < n; i++) out[i] = x[i] * 1.0000001;
    return out;
  };
  const touch = (out) => {
    for (let i = 0; i < n; i += PAGE / 8) out[i] = 1;
    return out;
  };
  // warm-up: the loops compiled before timing
  for (let w = 0; w < 3; w++) pass(reused);
  touch(reused);
  const fresh = measure(() => pass(new Float64Array(n)), repeats);
  const reuse = measure(() => pass(reused), repeats, { keep: false });
  const alloc = measure(() => new Float64Array(n), repeats);
  const firstTouch = measure(() => touch(new Float64Array(n)), repeats);
  const recycled = measure(() => pass(new Float64Array(n)), repeats, { keep: false });
  const pages = Math.ceil((8 * n) / PAGE);
  // the same values either way
  const a = pass(new Float64Array(n));
  const b = pass(reused);
  let same = true;
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) same = false;
  if (!same) failures.push(`${n}: the fresh and reused passes differ`);
  const mps = (ms) => fmt(n / ms / 1000, 1);
  const row = (label, m, withRate = true) =>
    console.log(`   ${label.padEnd(42)} ${fmt(m.best, 2).padStart(8)} ms ${fmt(m.median, 2).padStart(8)} ms ${`${fmt(m.best, 2)}–${fmt(m.worst, 2)}`.padStart(16)} ${withRate ? `${mps(m.best).padStart(8)} M/s` : ' '.repeat(12)} ${String(m.faults).padStart(7)}`);
  console.log(`\n${n.toLocaleString('en-US')} floats (${fmt((8 * n) / 2 ** 20, 0)} MiB, ${pages.toLocaleString('en-US')} pages of 4 KiB), ${repeats} runs each`);
  console.log(`   ${''.padEnd(42)} ${'best'.padStart(11)} ${'median'.padStart(11)} ${'spread'.padStart(16)} ${'(best)'.padStart(12)} ${'faults'.padStart(7)} (median per run)`);
  row('pass into a new Float64Array (kept)', fresh);
  row('pass into a reused Float64Array', reuse);
  row('  allocation alone (never written)', alloc, false);
  row('  first touch alone (one write per page)', firstTouch, false);
  row('  compute alone (= the reused pass)', reuse);
  row('pass into a new array, dropped at once', recycled);
  const perFault = firstTouch.faults > 0 ? (1000 * firstTouch.best) / firstTouch.faults : NaN;
  const parts = alloc.best + firstTouch.best + reuse.best;
  console.log(`   new / reused: ${fmt(fresh.best / reuse.best, 1)}×; of the new-array pass, allocation ${fmt((100 * alloc.best) / parts, 0)} %, first touch ${fmt((100 * firstTouch.best) / parts, 0)} %, compute ${fmt((100 * reuse.best) / parts, 0)} % (the parts sum to ${fmt(parts, 2)} ms against ${fmt(fresh.best, 2)} ms measured)`);
  console.log(`   one page fault costs ${Number.isFinite(perFault) ? fmt(perFault, 2) : 'n/a'} µs here (${fmt(firstTouch.faults / pages, 2)} faults per 4 KiB page: ${firstTouch.faults / pages < 0.5 ? 'huge pages or recycled memory' : 'one per page'})`);
  // dropped at once: whether the allocator hands the freed pages back (no faults, only zeroing) or gets new ones
  const recycledRuns = recycled.pageFaults.map((f, i) => [f, recycled.ms[i]]).filter(([f]) => f < pages / 2);
  const faultedRuns = recycled.pageFaults.map((f, i) => [f, recycled.ms[i]]).filter(([f]) => f >= pages / 2);
  const bestOf = (runs) => (runs.length ? `${fmt(Math.min(...runs.map(([, ms]) => ms)), 2)} ms` : 'none');
  console.log(`   dropped at once: ${recycledRuns.length} of ${repeats} runs got recycled memory from the allocator (no faults, only zeroing; best ${bestOf(recycledRuns)}),`);
  console.log(`   ${faultedRuns.length} got fresh pages from the kernel (best ${bestOf(faultedRuns)}): when a new array is cheap depends on the allocator and the GC`);
  summary[n] = { fresh, reuse, alloc, firstTouch, perFault };
}

// Memory bandwidth: reused 256 MB buffers (beyond any cache): memcpy, a write-only fill, and the one-pass kernel.
{
  const n = 32_000_000;
  const src = new Float64Array(n).fill(2);
  const dst = new Float64Array(n).fill(1);
  const passBig = (out) => {
    for (let i = 0; i < n; i++) out[i] = src[i] * 1.0000001;
    return out;
  };
  passBig(dst);
  const copy = measure(() => dst.set(src), REPEATS, { keep: false });
  const fill = measure(() => dst.fill(3), REPEATS, { keep: false });
  const kernel = measure(() => passBig(dst), REPEATS, { keep: false });
  if (dst[n - 1] !== 2 * 1.0000001) failures.push('the 32M pass wrote wrong values');
  const gbs = (bytes, ms) => fmt(bytes / ms / 1e6, 1);
  const line = (label, m, bytes) => console.log(`   ${label.padEnd(52)} ${fmt(m.best, 2).padStart(8)} ms ${`${fmt(m.best, 2)}–${fmt(m.worst, 2)}`.padStart(16)} ${gbs(bytes, m.best).padStart(6)} GB/s ${fmt(n / m.best / 1000, 0).padStart(6)} M floats/s`);
  console.log(`\nmemory bandwidth: reused ${fmt((8 * n) / 1e6, 0)} MB buffers (far beyond the caches), best (spread) of ${REPEATS}`);
  line('copy (TypedArray.set = memcpy, 16 B moved per float)', copy, 16 * n);
  line('write only (fill, 8 B per float)', fill, 8 * n);
  line('one-pass kernel out[i] = x[i]·c (16 B per float)', kernel, 16 * n);
  const pass10 = summary[10_000_000].reuse.best;
  const pass1 = summary[1_000_000].reuse.best;
  console.log(`   the one-pass kernel reaches ${fmt((100 * copy.best) / kernel.best, 0)} % of memcpy's rate at 32M floats; the same pass into reused arrays ran at`);
  console.log(`   ${gbs(16 * 10_000_000, pass10)} GB/s at 10M floats and ${gbs(16 * 1_000_000, pass1)} GB/s at 1M (16 MB, within the caches) above`);
  const fresh1 = summary[1_000_000].fresh.best;
  console.log(`\nwhat the figures mean`);
  console.log(`   the memory-bound limit of a single-pass kernel is the pass into reused arrays: ${fmt(1_000_000 / pass1 / 1000, 0)} M floats/s at 1M (cached),`);
  console.log(`   ${fmt(n / kernel.best / 1000, 0)} M/s beyond the caches (memcpy: ${gbs(16 * n, copy.best)} GB/s).`);
  console.log(`   a pass into a new array here runs at ${fmt(1_000_000 / fresh1 / 1000, 1)} M/s: that is the cost of first-touch page faults (${fmt(summary[1_000_000].perFault, 2)} µs each on this machine),`);
  const cheap = 0.5; // µs per fault: typical of bare-metal Linux (the trap and zeroing a 4 KiB page); run this bench to see yours
  const pages1 = Math.ceil(8_000_000 / PAGE);
  console.log(`   not memory bandwidth. On a machine with cheap page faults (~${cheap} µs each, typical of bare-metal Linux; huge pages make`);
  console.log(`   them rarer still) a new 8 MB column costs ~${fmt((pages1 * cheap) / 1000, 1)} ms more than a reused one instead of ${fmt(fresh1 - pass1, 1)} ms here, so reusing buffers`);
  console.log(`   gains far less there: ratios against peers that allocate (pandas, numpy) depend on this per-fault cost.`);
  console.log(`   Compare the per-fault cost above with yours before reading such ratios.`);
}

console.log(`\nchecks: ${failures.length ? `FAILED — ${failures.join('; ')}` : 'the new-array and reused-array passes give the same values; the 32M pass wrote the right values'}`);
console.log('(figures from a noisy 2-core machine: remeasure on a quiet one)');
if (failures.length) process.exitCode = 1;
