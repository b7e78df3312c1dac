import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import koffi from 'koffi';
import { describe, expect, it } from 'vitest';
import { adviseHugePages, newLargeFloat64Array } from '../src/util/huge-pages';

const THP_MODE = /\[(\w+)\]/.exec(fs.existsSync('/sys/kernel/mm/transparent_hugepage/enabled') ? fs.readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8') : '')?.[1];
/** Whether the advice is given here: only where the kernel grants huge pages to regions that ask (mode madvise; this machine kind's). */
const ADVISED = process.platform === 'linux' && THP_MODE === 'madvise';
const marked = (flags: string[]) => flags.includes('hg');

/** The kernel's flags (smaps VmFlags) of the mapping holding `array`'s middle byte. */
function mappingFlags(array: ArrayBufferView): string[] {
  const address = BigInt(koffi.address(array) as bigint | number) + BigInt(array.byteLength >> 1);
  let inside = false;
  for (const line of fs.readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const range = /^([0-9a-f]+)-([0-9a-f]+) /.exec(line);
    if (range) inside = BigInt('0x' + range[1]) <= address && address < BigInt('0x' + range[2]);
    else if (inside && line.startsWith('VmFlags:')) return line.slice(8).trim().split(/\s+/);
  }
  throw new Error('no mapping holds the array');
}

describe('large columns on transparent huge pages', () => {
  it('marks a large new array for huge pages (VmFlags hg) where the kernel grants them on request, and leaves values alone', () => {
    const large = newLargeFloat64Array(8_000_000);
    expect(large.length).toBe(8_000_000);
    expect(large.every((v) => v === 0)).toBe(true);
    expect(marked(mappingFlags(large))).toBe(ADVISED);
    for (let i = 0; i < large.length; i++) large[i] = i * 0.5;
    expect(large[7_999_999]).toBe(3_999_999.5);
    // an array below 4 MB is not advised (no whole 2 MB page worth the call)
    const small = newLargeFloat64Array(1000);
    expect(small.length).toBe(1000);
    // a shared buffer (the features' candles copy) and a Buffer (a data file's bytes) take the same advice
    const shared = new Uint8Array(new SharedArrayBuffer(64 << 20));
    adviseHugePages(shared);
    expect(marked(mappingFlags(shared))).toBe(ADVISED);
    const bytes = Buffer.allocUnsafeSlow(64 << 20);
    adviseHugePages(bytes);
    expect(marked(mappingFlags(bytes))).toBe(ADVISED);
  });

  it('CANDLELAB_HUGE_PAGES=0 turns the advice off', () => {
    const script = `
      const { newLargeFloat64Array } = require(${JSON.stringify(path.resolve(__dirname, '../dist/util/huge-pages.js'))});
      const koffi = require('koffi');
      const fs = require('node:fs');
      const a = newLargeFloat64Array(8_000_000);
      const address = BigInt(koffi.address(a)) + 32_000_000n;
      let inside = false, flags = '';
      for (const line of fs.readFileSync('/proc/self/smaps', 'utf8').split('\\n')) {
        const range = /^([0-9a-f]+)-([0-9a-f]+) /.exec(line);
        if (range) inside = BigInt('0x' + range[1]) <= address && address < BigInt('0x' + range[2]);
        else if (inside && line.startsWith('VmFlags:')) flags = line;
      }
      console.log(flags);`;
    const run = (env: Record<string, string>) => spawnSync(process.execPath, ['-e', script], { cwd: path.resolve(__dirname, '..'), encoding: 'utf8', env: { ...process.env, ...env } });
    const off = run({ CANDLELAB_HUGE_PAGES: '0' });
    const on = run({});
    expect(off.stderr).toBe('');
    expect(off.stdout).toMatch(/^VmFlags:/);
    expect(off.stdout.split(/\s+/)).not.toContain('hg');
    expect(on.stdout.split(/\s+/).includes('hg')).toBe(ADVISED);
  });
});
