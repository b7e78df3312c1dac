import { describe, expect, it } from 'vitest';
import { Frame } from '../src/frame/frame';
import { generateSyntheticCandles } from '../src/data/synthetic';
import { computeFeatures } from '../src/features/compute-features';
import { fitGarch, fixedEmbedding, haarDenoiseLast } from '../src/features/model-features';
import { createRegistry } from '../src/plugins/core-plugin';
import { SeededRng } from '../src/util/rng';

describe('GARCH(1,1)', () => {
  it('recovers the parameters of a simulated GARCH process by maximum likelihood', () => {
    const rng = new SeededRng(11);
    const [omega, alpha, beta] = [0.05, 0.1, 0.85];
    const returns = new Float64Array(20_000);
    let sigma2 = omega / (1 - alpha - beta);
    for (let t = 0; t < returns.length; t++) {
      returns[t] = Math.sqrt(sigma2) * rng.normal();
      sigma2 = omega + alpha * returns[t] ** 2 + beta * sigma2;
    }
    const fit = fitGarch(returns);
    expect(fit.alpha).toBeGreaterThan(0.07);
    expect(fit.alpha).toBeLessThan(0.13);
    expect(fit.beta).toBeGreaterThan(0.8);
    expect(fit.beta).toBeLessThan(0.9);
    expect(fit.omega / (1 - fit.alpha - fit.beta)).toBeCloseTo(omega / (1 - alpha - beta), 0);
  });

  it('fits on the training rows only: changing later rows changes no value up to the end of the fit', () => {
    const candles = generateSyntheticCandles({ seed: 3, bars: 2000 });
    const registry = createRegistry();
    const params = { fitRows: 1400 };
    const base = computeFeatures(candles, [{ id: 'core/garch', params }], registry).frame.column('garch_vol');
    const close = candles.column('close').slice();
    for (let i = 1500; i < 2000; i++) close[i] *= 1 + 0.05 * Math.sin(i); // rewrite the future
    const changed = Frame.fromColumns(candles.time, { ...Object.fromEntries(candles.names.map((n) => [n, candles.column(n)])), close }, candles.meta);
    const other = computeFeatures(changed as never, [{ id: 'core/garch', params }], registry).frame.column('garch_vol');
    for (let i = 0; i < 1500; i++) expect(other[i]).toBe(base[i]);
    // and it is a volatility: positive, near the realized per-bar deviation
    expect(base.subarray(1).every((v) => v > 0)).toBe(true);
  });
});

describe('GARCH outside a run (candlelab features) uses no future rows', () => {
  it('refits on an expanding window: every prefix gives the same values as the full series', () => {
    const candles = generateSyntheticCandles({ seed: 4, bars: 1600 });
    const registry = createRegistry();
    const params = { minFitRows: 200, refitEvery: 300 };
    const full = computeFeatures(candles, [{ id: 'core/garch', params }], registry).frame.column('garch_vol');
    for (const length of [450, 1001, 1400]) {
      const prefix = computeFeatures(candles.slice(0, length), [{ id: 'core/garch', params }], registry).frame.column('garch_vol');
      expect(Array.from(prefix)).toEqual(Array.from(full.subarray(0, length)));
    }
    expect(Number.isNaN(full[199])).toBe(true);
    expect(full[200]).toBeGreaterThan(0);
  });

  it('in a run, fits on the rows the runner gives (several blocks: one likelihood)', () => {
    const candles = generateSyntheticCandles({ seed: 4, bars: 1600 });
    const registry = createRegistry();
    const given = (fitRows: Array<{ start: number; end: number }>) =>
      computeFeatures(candles, [{ id: 'core/garch' }], registry, { fitRows }).frame.column('garch_vol');
    const a = given([{ start: 0, end: 800 }]);
    const b = given([{ start: 0, end: 400 }, { start: 1200, end: 1600 }]);
    expect(a[900]).not.toBe(b[900]);
    expect(Number.isFinite(a[300])).toBe(true);
  });
});

describe('wavelet denoising', () => {
  it('reconstructs exactly when there is nothing to threshold, and reduces noise otherwise', () => {
    const smooth = Float64Array.from({ length: 64 }, (_, i) => Math.floor(i / 2)); // constant pairs: zero finest details
    expect(haarDenoiseLast(smooth, 1)).toBeCloseTo(smooth[63], 12);
    const rng = new SeededRng(2);
    let errorRaw = 0;
    let errorDenoised = 0;
    for (let trial = 0; trial < 50; trial++) {
      // a causal smoother lags a fast signal; on a slow one, it must remove noise
      const clean = Float64Array.from({ length: 64 }, (_, i) => Math.sin((i + 7 * trial) / 60));
      const noisy = Float64Array.from(clean, (v) => v + 0.3 * rng.normal());
      errorRaw += (noisy[63] - clean[63]) ** 2;
      errorDenoised += (haarDenoiseLast(noisy, 3) - clean[63]) ** 2;
    }
    expect(errorDenoised).toBeLessThan(errorRaw);
  });
});

describe('coin identity, funding and open interest', () => {
  const candles = generateSyntheticCandles({ seed: 1, bars: 300, symbol: 'ETH/USDT' });

  it('one-hot over the universe and a fixed embedding', () => {
    const set = computeFeatures(candles, [{ id: 'core/coin-identity', params: { coins: ['btc', 'eth', 'sol'], dims: 3 } }], createRegistry());
    expect([...set.frame.column('coin_BTC').subarray(0, 2), set.frame.column('coin_ETH')[5], set.frame.column('coin_SOL')[7]]).toEqual([0, 0, 1, 0]);
    expect(set.frame.column('coin_emb_1')[0]).toBe(fixedEmbedding('ETH', 3)[1]);
    expect(fixedEmbedding('ETH', 3)).toEqual(fixedEmbedding('ETH', 3));
    expect(fixedEmbedding('ETH', 3)).not.toEqual(fixedEmbedding('BTC', 3));
    expect(() => computeFeatures(candles, [{ id: 'core/coin-identity', params: { coins: ['BTC'] } }], createRegistry())).toThrow(/base asset ETH is not in coins \[BTC\]/);
  });

  it('funding level (carried forward), average and change; open-interest change; a clear error without the data', () => {
    const funding = new Float64Array(300).fill(NaN);
    for (let i = 0; i < 300; i += 8) funding[i] = 0.0001 * (1 + (i % 24) / 8);
    const oi = Float64Array.from({ length: 300 }, (_, i) => 1000 + i);
    const frame = candles.withColumns({ funding_rate: funding, open_interest: oi });
    const set = computeFeatures(frame as never, [{ id: 'core/funding', params: { window: 8 } }, { id: 'core/open-interest', params: { bars: 10 } }], createRegistry());
    const level = set.frame.column('funding_level');
    expect(level[9]).toBe(funding[8]); // carried forward from the last funding time
    expect(set.frame.column('funding_ma_8')[15]).toBeCloseTo(Array.from(level.subarray(8, 16)).reduce((a, b) => a + b) / 8, 15);
    expect(set.frame.column('funding_change')[8]).toBe(funding[8] - funding[0]);
    expect(set.frame.column('oi_change_10')[20]).toBeCloseTo(1020 / 1010 - 1, 12);
    expect(() => computeFeatures(candles, [{ id: 'core/funding' }], createRegistry())).toThrow(/needs column 'funding_rate', which neither the data nor an earlier feature provides/);
  });
});
