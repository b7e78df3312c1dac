import { Worker } from 'node:worker_threads';
import koffi from 'koffi';
import { availableCores, workerScript } from './threads';

/**
 * Fault in the pages of new, large arrays on a spare core while this thread goes on writing them.
 *
 * The first write to a page of new memory costs a page fault, and on a virtual machine (where the host
 * takes back freed memory) faults cost more than the arithmetic that fills the pages: an engine run into
 * fresh memory spent ~0.5 s of its ~1.2 s there. A helper thread asks the kernel to map the pages ahead
 * of the writer with madvise(MADV_POPULATE_WRITE) (Linux 5.14+), in 2 MB chunks, in the order a loop
 * writing all the arrays row by row reaches them: the first chunk of each, then the second of each...
 * Populating changes no value: it maps the zero-filled pages the writer's own faults would map.
 *
 * The helper is one worker thread, started at the first request and left idle between them. It never
 * keeps the process alive, not even with a request out: a process that is done exits. Nothing happens
 * for arrays below 4 MB, on one core, off Linux, where the helper or libc cannot be loaded (the writer
 * faults its pages itself, as without it), on threads that called prefaultOff (candlelab's own compute
 * workers: their core is not spare), or with CANDLELAB_PREFAULT=0. The promise settles when the helper
 * has done the request (tests wait for it); callers need not.
 */
export function prefault(arrays: readonly ArrayBufferView[]): Promise<void> {
  const ranges: Array<[bigint, bigint]> = [];
  for (const array of arrays) {
    if (array.byteLength < MIN_BYTES) continue;
    try {
      const address = BigInt(koffi.address(array) as bigint | number);
      const start = (address + PAGE - 1n) & ~(PAGE - 1n);
      const end = (address + BigInt(array.byteLength)) & ~(PAGE - 1n);
      if (end > start) ranges.push([start, end]);
    } catch {
      // no address to give: the writer faults these pages itself
    }
  }
  if (ranges.length === 0) return Promise.resolve();
  const worker = helper();
  if (!worker) return Promise.resolve();
  const id = nextRequest++;
  const request: PrefaultRequest = { id, ranges, chunk: CHUNK };
  return new Promise<void>((resolve) => {
    pending.set(id, resolve);
    try {
      worker.postMessage(request);
    } catch {
      settle(id);
    }
  });
}

/** No prefault requests from this thread (a compute worker: the core it would use is not spare). */
export function prefaultOff(): void {
  off = true;
}

/** What the helper gets: page-aligned [start, end) address ranges, populated chunk by chunk across them. */
export type PrefaultRequest = { id: number; ranges: Array<[bigint, bigint]>; chunk: bigint };

/** The helper's side: populate each request's ranges, then answer its id. */
export function runPrefaultWorker(port: { on(event: 'message', listener: (request: PrefaultRequest) => void): void; postMessage(id: number): void }): void {
  const madvise = koffi.load('libc.so.6').func('int madvise(uintptr_t addr, size_t length, int advice)') as (address: bigint, length: bigint, advice: number) => number;
  port.on('message', ({ id, ranges, chunk }) => {
    for (let offset = 0n, more = true; more; offset += chunk) {
      more = false;
      for (const [start, end] of ranges) {
        const from = start + offset;
        if (from >= end) continue;
        more = true;
        // a failure (an old kernel, a range freed meanwhile) leaves those pages to the writer's faults
        madvise(from, from + chunk < end ? chunk : end - from, MADV_POPULATE_WRITE);
      }
    }
    port.postMessage(id);
  });
}

/** numpy's threshold for huge pages, used here too: smaller arrays cost little to fault in. */
const MIN_BYTES = 4 << 20;
const PAGE = 4096n;
/** One huge page: the helper holds the address-space lock for at most this much work at a time. */
const CHUNK = 2n << 20n;
const MADV_POPULATE_WRITE = 23;

let off = false;
let worker: Worker | null | undefined;
let nextRequest = 0;
const pending = new Map<number, () => void>();

function settle(id: number): void {
  const resolve = pending.get(id);
  if (!resolve) return;
  pending.delete(id);
  resolve();
}

/** The helper thread, started once; null when prefaulting is off or impossible here. */
function helper(): Worker | null {
  if (worker !== undefined) return off ? null : worker;
  if (off || process.platform !== 'linux' || process.env.CANDLELAB_PREFAULT === '0' || availableCores() < 2) return null;
  try {
    const started = new Worker(workerScript(__dirname, 'util/prefault-worker.js', process.env.CANDLELAB_PREFAULT_WORKER));
    started.on('message', (id: number) => settle(id));
    // a helper that fails stops prefaulting; what it had not done, the writers fault themselves
    const stop = (): void => {
      worker = null;
      for (const id of [...pending.keys()]) settle(id);
    };
    started.on('error', stop);
    started.on('exit', stop);
    started.unref(); // after the listeners: attaching a 'message' listener refs the worker again
    worker = started;
  } catch {
    worker = null;
  }
  return worker;
}
