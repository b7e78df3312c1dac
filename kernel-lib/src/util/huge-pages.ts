import * as fs from 'node:fs';
import koffi from 'koffi';
import { prefault } from './prefault';

/**
 * Large columns on transparent huge pages, as numpy asks for its arrays of 4 MB and more.
 *
 * Writing into memory for the first time costs a page fault per 4 KB page, and on virtual machines a
 * fault costs more than the arithmetic that fills the page (a first run of the 50 standard features
 * spends most of its time there). Linux backs a region marked MADV_HUGEPAGE with 2 MB pages: one fault
 * instead of 512. Most distributions set transparent huge pages to `madvise` (only regions that ask
 * get them), so this asks, through libc's madvise (koffi, which candlelab already loads for libxgboost).
 *
 * Call it on a new array before anything is written into it: the advice applies to the pages not yet
 * touched. It changes nothing about values. It does nothing for small arrays, off Linux, when the
 * kernel has huge pages off (or always on: nothing to ask), when libc cannot be called, or with
 * CANDLELAB_HUGE_PAGES=0.
 */
export function adviseHugePages(array: ArrayBufferView): void {
  if (array.byteLength < MIN_BYTES) return;
  const advise = adviser();
  if (!advise) return;
  try {
    const address = BigInt(koffi.address(array) as bigint | number);
    const start = (address + PAGE - 1n) & ~(PAGE - 1n);
    const end = (address + BigInt(array.byteLength)) & ~(PAGE - 1n);
    if (end > start) advise(start, end - start, MADV_HUGEPAGE);
  } catch {
    // advice only: the array works the same without it
  }
}

/** A new Float64Array of `length` zeros, on huge pages when it is large (see adviseHugePages). */
export function newLargeFloat64Array(length: number): Float64Array {
  const array = new Float64Array(length);
  adviseHugePages(array);
  return array;
}

/**
 * `count` new Float64Arrays of `length` zeros each, on huge pages when large, whose pages a spare core
 * faults in while the caller goes on writing them row by row (see prefault).
 */
export function newLargeFloat64Arrays(count: number, length: number): Float64Array[] {
  const arrays = Array.from({ length: count }, () => newLargeFloat64Array(length));
  prefault(arrays);
  return arrays;
}

/** numpy's threshold: smaller arrays hold no whole 2 MB page worth asking for. */
const MIN_BYTES = 4 << 20;
const PAGE = 4096n;
const MADV_HUGEPAGE = 14;

type Madvise = (address: bigint, length: bigint, advice: number) => number;
let madvise: Madvise | null | undefined;

/** libc's madvise, once per thread, or null where asking makes no sense or cannot be done. */
function adviser(): Madvise | null {
  if (madvise !== undefined) return madvise;
  madvise = null;
  try {
    if (process.platform !== 'linux' || process.env.CANDLELAB_HUGE_PAGES === '0') return null;
    if (!/\[madvise\]/.test(fs.readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8'))) return null;
    madvise = koffi.load('libc.so.6').func('int madvise(uintptr_t addr, size_t length, int advice)') as Madvise;
  } catch {
    madvise = null;
  }
  return madvise;
}
