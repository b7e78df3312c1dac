// What every benchmark script shares: the repository root, the built library, timing and number format.
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const require = createRequire(path.join(root, 'package.json'));
/** The built candlelab library (npm run build / set-up builds it). */
export const cl = require('candlelab');
export const now = () => performance.now();
/** A number with `d` decimals and thousands separators. */
export const fmt = (n, d = 1) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

/** Best of `repeat` runs, in ms (the least disturbed measurement). */
export function best(fn, repeat = 3) {
  let min = Infinity;
  for (let i = 0; i < repeat; i++) {
    const t = now();
    fn();
    min = Math.min(min, now() - t);
  }
  return min;
}
