import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import koffi from 'koffi';
import { describe, expect, it } from 'vitest';
import { prefault } from '../src/util/prefault';
import { newLargeFloat64Arrays } from '../src/util/huge-pages';

/** Where the helper can work: Linux 5.14+ (MADV_POPULATE_WRITE) with a spare core (this machine kind). */
const [major, minor] = os.release().split('.').map(Number);
const SUPPORTED = process.platform === 'linux' && (major > 5 || (major === 5 && minor >= 14)) && os.availableParallelism() >= 2;

const mincore = process.platform === 'linux' ? koffi.load('libc.so.6').func('int mincore(uintptr_t addr, size_t length, _Out_ uint8_t *vec)') : undefined;

/** The share of the whole 4 KB pages inside `array` that are mapped (resident), from mincore. */
function residentShare(array: ArrayBufferView): number {
  const address = BigInt(koffi.address(array) as bigint | number);
  const start = (address + 4095n) & ~4095n;
  const end = (address + BigInt(array.byteLength)) & ~4095n;
  const pages = Number((end - start) / 4096n);
  const vec = new Uint8Array(pages);
  expect(mincore!(start, end - start, vec)).toBe(0);
  let resident = 0;
  for (const flag of vec) resident += flag & 1;
  return resident / pages;
}

const dist = (file: string) => JSON.stringify(path.resolve(__dirname, '../dist/util', file));
/** A child process that allocates 64 MB, asks for prefault, waits, and prints the resident share. */
const child = (env: Record<string, string>, before = '') => {
  const script = `
    const koffi = require('koffi');
    const { prefault, prefaultOff } = require(${dist('prefault.js')});
    ${before}
    const a = new Float64Array(8 << 20);
    const mincore = koffi.load('libc.so.6').func('int mincore(uintptr_t addr, size_t length, _Out_ uint8_t *vec)');
    const alive = setInterval(() => {}, 1000); // the helper never keeps a process alive: this child waits for it
    prefault([a]).then(() => {
      clearInterval(alive);
      const address = (BigInt(koffi.address(a)) + 4095n) & ~4095n;
      const vec = new Uint8Array((64 << 20) / 4096 - 1);
      mincore(address, BigInt(vec.length * 4096), vec);
      console.log(JSON.stringify({ share: vec.reduce((s, f) => s + (f & 1), 0) / vec.length, zeros: a.every((v) => v === 0) }));
    });`;
  const run = spawnSync(process.execPath, ['-e', script], { cwd: path.resolve(__dirname, '..'), encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  return JSON.parse(run.stdout) as { share: number; zeros: boolean };
};

describe.runIf(SUPPORTED)('prefault: new arrays faulted in on a spare core', () => {
  it('maps every whole page of the arrays, changes no value, and keeps what was written before', async () => {
    const [a, b] = newLargeFloat64Arrays(2, 4 << 20); // 32 MB each, asked for by newLargeFloat64Arrays itself
    const c = new Float64Array(6 << 20);
    for (let i = 0; i < 1000; i++) c[i] = i + 0.25; // written before: the first page is mapped already
    expect(residentShare(c)).toBeLessThan(0.05); // untouched memory is not mapped yet
    await prefault([a, b, c]);
    for (const array of [a, b, c]) expect(residentShare(array)).toBe(1);
    expect(a.every((v) => v === 0) && b.every((v) => v === 0)).toBe(true);
    for (let i = 0; i < 1000; i++) expect(c[i]).toBe(i + 0.25);
    expect(c.subarray(1000).every((v) => v === 0)).toBe(true);
  });

  it('a part of an array (the rows a parse expects): only that part', async () => {
    const column = new Float64Array(4 << 20);
    await prefault([column.subarray(0, 1 << 20)]);
    expect(residentShare(column.subarray(0, 1 << 20))).toBe(1);
    expect(residentShare(column.subarray(2 << 20))).toBeLessThan(0.05);
  });

  it('nothing for small arrays: the promise settles at once', async () => {
    const small = new Float64Array(1000);
    await expect(prefault([small])).resolves.toBeUndefined();
    await expect(prefault([])).resolves.toBeUndefined();
  });

  it('many requests at once all settle, with their pages mapped', async () => {
    const arrays = Array.from({ length: 12 }, () => new Float64Array(1 << 20));
    await Promise.all(arrays.map((array) => prefault([array])));
    for (const array of arrays) expect(residentShare(array)).toBe(1);
  });

  it('in a process of its own: done by default, not with CANDLELAB_PREFAULT=0, nor on a thread that called prefaultOff', () => {
    expect(child({})).toEqual({ share: 1, zeros: true });
    const off = child({ CANDLELAB_PREFAULT: '0' });
    expect(off.share).toBeLessThan(0.05);
    expect(off.zeros).toBe(true);
    expect(child({}, 'prefaultOff();').share).toBeLessThan(0.05);
  });

  it('never keeps a process alive: one that asks and is done exits at once', () => {
    const script = `require(${dist('prefault.js')}).prefault([new Float64Array(32 << 20)]); console.log('asked');`;
    const began = Date.now();
    const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000 });
    expect(run.stdout.trim()).toBe('asked');
    expect(run.status).toBe(0); // null when the timeout had to kill it
    expect(Date.now() - began).toBeLessThan(20_000);
  });

  it('a helper that cannot start or dies: the promise still settles, values unchanged (the writer faults its pages itself)', () => {
    const missing = child({ CANDLELAB_PREFAULT_WORKER: path.resolve(__dirname, 'no-such-prefault-worker.js') });
    expect(missing.zeros).toBe(true);
    expect(missing.share).toBeLessThan(0.05);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'candlelab-prefault-'));
    for (const body of ["throw new Error('helper boom');", 'process.exit(3);']) {
      const script = path.join(dir, 'helper.js');
      fs.writeFileSync(script, body);
      const failed = child({ CANDLELAB_PREFAULT_WORKER: script });
      expect(failed.zeros).toBe(true);
      expect(failed.share).toBeLessThan(0.05);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
