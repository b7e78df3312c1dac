import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateSyntheticCandles } from '../src/data/synthetic';
import { writeArrowFile } from '../src/data/arrow-file';
import { writeCandlesCsv } from '../src/data/csv-file';
import { mergeIntoStore } from '../src/data/store';
import { crossAssetKernel, referenceCloses } from '../src/features/cross-asset';
import { computeFeatures } from '../src/features/compute-features';
import { resampleCandles } from '../src/features/resample';
import { createRegistry } from '../src/plugins/core-plugin';
import type { Candles } from '../src/frame/frame';
import { tempDir } from './helpers';

const dir = tempDir('cross-asset');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const H = 3_600_000;

const btc = generateSyntheticCandles({ seed: 21, bars: 2000 });
const eth = generateSyntheticCandles({ seed: 22, bars: 2000, symbol: 'ETH/USDT', startPrice: 2000 });

/** Pearson correlation, the textbook way. */
function pearson(a: number[], b: number[]): number {
  const ma = a.reduce((s, v) => s + v, 0) / a.length;
  const mb = b.reduce((s, v) => s + v, 0) / b.length;
  let num = 0;
  let da = 0;
  let db = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - ma) * (b[i] - mb);
    da += (a[i] - ma) ** 2;
    db += (b[i] - mb) ** 2;
  }
  return num / Math.sqrt(da * db);
}

describe('cross-asset kernel', () => {
  it('spread, ratio, ratio z-score, correlation and beta against a direct computation', () => {
    const close = btc.column('close');
    const ref = eth.column('close');
    const window = 20;
    const horizon = 3;
    const out = crossAssetKernel(close, ref, window, horizon);
    const lr = (s: Float64Array, t: number) => Math.log(s[t] / s[t - 1]);
    for (const t of [window, 100, 1234, 1999]) {
      expect(out.spread[t]).toBeCloseTo(close[t] / close[t - horizon] - ref[t] / ref[t - horizon], 14);
      expect(out.ratio[t]).toBe(close[t] / ref[t]);
      const xs = Array.from({ length: window }, (_, k) => lr(close, t - window + 1 + k));
      const ys = Array.from({ length: window }, (_, k) => lr(ref, t - window + 1 + k));
      expect(out.corr[t]).toBeCloseTo(pearson(xs, ys), 12);
      const my = ys.reduce((s, v) => s + v, 0) / window;
      const mx = xs.reduce((s, v) => s + v, 0) / window;
      const beta = xs.reduce((s, x, k) => s + (x - mx) * (ys[k] - my), 0) / ys.reduce((s, y) => s + (y - my) ** 2, 0);
      expect(out.beta[t]).toBeCloseTo(beta, 12);
      const logs = Array.from({ length: window }, (_, k) => Math.log(close[t - window + 1 + k] / ref[t - window + 1 + k]));
      const m = logs.reduce((s, v) => s + v, 0) / window;
      const sd = Math.sqrt(logs.reduce((s, v) => s + (v - m) ** 2, 0) / (window - 1));
      // the kernel's rolling sums round differently from this two-pass formula, at ~1e-10
      expect(out.ratioZ[t]).toBeCloseTo((logs[window - 1] - m) / sd, 9);
    }
    expect(Number.isNaN(out.corr[window - 1])).toBe(true); // the first return is at row 1
    // a series against itself: correlation and beta 1, spread 0, ratio 1
    const self = crossAssetKernel(close, close, window, horizon);
    expect(self.corr[500]).toBeCloseTo(1, 12);
    expect(self.beta[500]).toBeCloseTo(1, 12);
    expect(self.spread[500]).toBe(0);
    expect(self.ratioZ[500]).toBe(0);
  });
});

describe('reference alignment', () => {
  it('a same-timeframe reference file lines up row for row; a column, a CSV and a store entry give the same columns', () => {
    const arrowFile = path.join(dir, 'eth.arrow');
    const csvFile = path.join(dir, 'eth.csv');
    writeArrowFile(arrowFile, eth);
    writeCandlesCsv(csvFile, eth);
    expect(Array.from(referenceCloses(btc, { path: arrowFile }))).toEqual(Array.from(eth.column('close')));

    const registry = createRegistry();
    const viaFile = computeFeatures(btc, [{ id: 'core/cross-asset', params: { reference: { path: arrowFile }, name: 'eth' } }], registry);
    const viaCsv = computeFeatures(btc, [{ id: 'core/cross-asset', params: { reference: { path: csvFile }, name: 'eth' } }], registry);
    const withColumn = btc.withColumns({ eth_close: eth.column('close') }) as Candles;
    const viaColumn = computeFeatures(withColumn, [{ id: 'core/cross-asset', params: { reference: { column: 'eth_close' }, name: 'eth' } }], registry);
    const dataDir = path.join(dir, 'data');
    mergeIntoStore({ exchange: 'kraken', market: 'spot', symbol: 'ETH/USDT', timeframe: '1h' }, eth, dataDir);
    const previous = process.env.CANDLELAB_DATA_DIR;
    process.env.CANDLELAB_DATA_DIR = dataDir;
    let viaStore;
    try {
      viaStore = computeFeatures(btc, [{ id: 'core/cross-asset', params: { reference: { exchange: 'kraken', symbol: 'ETH/USDT' }, name: 'eth' } }], registry);
    } finally {
      if (previous === undefined) delete process.env.CANDLELAB_DATA_DIR;
      else process.env.CANDLELAB_DATA_DIR = previous;
    }
    expect(viaFile.names).toEqual(['x_eth_ret_spread_1', 'x_eth_ratio', 'x_eth_ratio_z_30', 'x_eth_corr_30', 'x_eth_beta_30']);
    for (const other of [viaCsv, viaColumn, viaStore]) {
      expect(other.names).toEqual(viaFile.names);
      for (const name of viaFile.names) expect(Array.from(other.frame.column(name))).toEqual(Array.from(viaFile.frame.column(name)));
    }
    // default names say what the reference is
    expect(computeFeatures(btc, [{ id: 'core/cross-asset', params: { reference: { path: arrowFile } } }], registry).names[0]).toBe('x_eth_ret_spread_1');
  });

  it('a 4h reference reaches 1h rows only after its bar closed; a gap repeats the last closed bar', () => {
    const { candles: eth4h } = resampleCandles(eth, '4h');
    const file = path.join(dir, 'eth4h.arrow');
    writeArrowFile(file, eth4h.withMeta({ timeframe: '4h' }));
    const aligned = referenceCloses(btc, { path: file, timeframe: '4h' });
    for (let r = 0; r < btc.length; r++) {
      const baseClose = btc.time[r] + H;
      let j = -1;
      while (j + 1 < eth4h.length && eth4h.time[j + 1] + 4 * H <= baseClose) j++;
      expect(Number.isNaN(aligned[r]) ? null : aligned[r]).toBe(j >= 0 ? eth4h.column('close')[j] : null);
    }
    // the timeframe of a file is inferred from its spacing when not given
    expect(Array.from(referenceCloses(btc, { path: file }))).toEqual(Array.from(aligned));
    // a reference with a hole: the rows inside it see the last bar that closed before it
    const holed = eth.slice(0, 500).withColumns({}) as Candles;
    const rest = eth.slice(510);
    const gapFile = path.join(dir, 'gap.csv');
    fs.writeFileSync(gapFile, ['time,open,high,low,close,volume', ...[holed, rest].flatMap((c) => Array.from(c.time, (t, i) => [t, ...(['open', 'high', 'low', 'close', 'volume'] as const).map((k) => c.column(k)[i])].join(',')))].join('\n'));
    const withGap = referenceCloses(btc, { path: gapFile, timeframe: '1h' });
    for (let r = 500; r < 510; r++) expect(withGap[r]).toBe(eth.column('close')[499]);
    expect(withGap[510]).toBe(eth.column('close')[510]);
  });

  it('missing references are one-line errors naming the fix', () => {
    const registry = createRegistry();
    expect(() => computeFeatures(btc, [{ id: 'core/cross-asset', params: { reference: { path: path.join(dir, 'nope.csv') } } }], registry)).toThrow(/does not exist; check reference.path/);
    expect(() => computeFeatures(btc, [{ id: 'core/cross-asset', params: { reference: { column: 'sol_close' } } }], registry)).toThrow(/needs column 'sol_close'/);
    const previous = process.env.CANDLELAB_DATA_DIR;
    process.env.CANDLELAB_DATA_DIR = path.join(dir, 'empty');
    try {
      expect(() => computeFeatures(btc, [{ id: 'core/cross-asset', params: { reference: { exchange: 'binance', symbol: 'SOL/USDT' } } }], registry)).toThrow(/not in the data store; fetch or import it first/);
    } finally {
      if (previous === undefined) delete process.env.CANDLELAB_DATA_DIR;
      else process.env.CANDLELAB_DATA_DIR = previous;
    }
    expect(() => computeFeatures(btc, [{ id: 'core/cross-asset', params: {} }], registry)).toThrow(/reference/);
  });
});
