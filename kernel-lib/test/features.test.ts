import { describe, expect, it } from 'vitest';
import { ADX, ATR, BollingerBands, CCI, DX, EMA, MACD, OBV, ROC, RSI, SMA, StochasticOscillator, WilliamsR, WMA } from 'trading-signals';
import { generateSyntheticCandles } from '../src/data/synthetic';
import { rollingExtremes, rollingMoments, atrKernel, bollingerKernel, cciKernel, directionalKernel, emaKernel, macdKernel, obvKernel, rocKernel, rsiKernel, smaKernel, returnsKernel, stochasticKernel, trendSlopeKernel, volatilityKernel, vwapKernel, williamsRKernel, wmaKernel, zScoreKernel } from '../src/features/kernels';
import { computeFeatures } from '../src/features/compute-features';
import { resampleCandles } from '../src/features/resample';

const H = 3_600_000;
import { createRegistry } from '../src/plugins/core-plugin';
import { directionLabels, BUY, HOLD, SELL } from '../src/labels/direction';
import { splitChronological } from '../src/validation/split';
import { ConfigError, NotEnoughDataError } from '../src/errors';

const candles = generateSyntheticCandles({ seed: 11, bars: 3000 });
const close = candles.column('close');
const high = candles.column('high');
const low = candles.column('low');

/** Relative agreement to 1e-9 wherever the reference has a value; our kernel must have one there too. */
function expectAgreement(ours: Float64Array, reference: Array<number | null>, from: number): void {
  let compared = 0;
  for (let i = from; i < ours.length; i++) {
    const expected = reference[i];
    if (expected === null || expected === undefined) continue;
    expect(Number.isFinite(ours[i]), `row ${i} should have a value`).toBe(true);
    expect(Math.abs(ours[i] - expected)).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(expected)));
    compared++;
  }
  expect(compared).toBeGreaterThan(ours.length - 100);
}

function streamed<T>(make: () => { update(x: T, replace: boolean): unknown; isStable: boolean }, inputs: T[], pick: (r: any) => number = (r) => r as number) {
  const indicator = make();
  return inputs.map((input) => {
    const result = indicator.update(input, false);
    return indicator.isStable && result !== null && result !== undefined ? pick(result) : null;
  });
}

describe('indicator kernels agree with trading-signals (reference, 1e-9 relative)', () => {
  const prices = Array.from(close);

  it('EMA, SMA', () => {
    expectAgreement(emaKernel(close, 20), streamed(() => new EMA(20), prices), 0);
    expectAgreement(smaKernel(close, 50), streamed(() => new SMA(50), prices), 0);
  });

  it('RSI (Wilder)', () => {
    expectAgreement(rsiKernel(close, 14), streamed(() => new RSI(14), prices), 0);
  });

  it('MACD line, signal and histogram', () => {
    const ours = macdKernel(close, 12, 26, 9);
    const indicator = new MACD(new EMA(12), new EMA(26), new EMA(9));
    const results = prices.map((p) => indicator.update(p, false));
    const signalStart = 26 - 1 + 9 - 1;
    expectAgreement(ours.macd, results.map((r) => r?.macd ?? null), 0);
    expectAgreement(ours.signal, results.map((r, i) => (i >= signalStart ? r!.signal : null)), 0);
    expectAgreement(ours.histogram, results.map((r, i) => (i >= signalStart ? r!.histogram : null)), 0);
    // Before the signal EMA has seen `signal` values it is warm-up, not a value.
    expect(Number.isNaN(ours.signal[signalStart - 1])).toBe(true);
  });

  it('Bollinger bands', () => {
    const ours = bollingerKernel(close, 20, 2);
    const indicator = new BollingerBands(20, 2);
    const results = prices.map((p) => indicator.update(p, false));
    expectAgreement(ours.upper, results.map((r) => r?.upper ?? null), 0);
    expectAgreement(ours.middle, results.map((r) => r?.middle ?? null), 0);
    expectAgreement(ours.lower, results.map((r) => r?.lower ?? null), 0);
  });

  it('ATR (Wilder)', () => {
    const bars = prices.map((_, i) => ({ high: high[i], low: low[i], close: close[i] }));
    expectAgreement(atrKernel(high, low, close, 14), streamed(() => new ATR(14), bars), 0);
  });

  const bars = prices.map((_, i) => ({ high: high[i], low: low[i], close: close[i], open: close[i], volume: candles.column('volume')[i] }));

  it('WMA, ROC', () => {
    expectAgreement(wmaKernel(close, 20), streamed(() => new WMA(20), prices), 0);
    expectAgreement(rocKernel(close, 10), streamed(() => new ROC(10), prices), 0);
  });

  it('Stochastic %K and %D', () => {
    const ours = stochasticKernel(high, low, close, 14, 3, 3);
    const indicator = new StochasticOscillator({ kPeriod: 14, kSlowingPeriod: 3, dPeriod: 3 });
    const results = bars.map((b) => indicator.update(b, false));
    expectAgreement(ours.k, results.map((r) => r?.stochK ?? null), 0);
    expectAgreement(ours.d, results.map((r) => r?.stochD ?? null), 0);
  });

  it('Williams %R, CCI', () => {
    expectAgreement(williamsRKernel(high, low, close, 14), streamed(() => new WilliamsR(14), bars), 0);
    expectAgreement(cciKernel(high, low, close, 20), streamed(() => new CCI(20), bars), 0);
  });

  it('OBV (accumulated from the first bar)', () => {
    expectAgreement(obvKernel(close, candles.column('volume')), streamed(() => new OBV(2), bars), 0);
  });

  it('DX and ADX (Wilder)', () => {
    const ours = directionalKernel(high, low, close, 14);
    expectAgreement(ours.dx, streamed(() => new DX(14), bars), 0);
    expectAgreement(ours.adx, streamed(() => new ADX(14), bars), 0);
  });

  it('VWAP, z-score, volatility and trend slope by definition', () => {
    const volume = candles.column('volume');
    const vwap = vwapKernel(high, low, close, volume, 24);
    let pv = 0, v = 0;
    for (let j = 100; j < 124; j++) {
      pv += ((high[j] + low[j] + close[j]) / 3) * volume[j];
      v += volume[j];
    }
    expect(vwap[123]).toBeCloseTo(pv / v, 9);
    const window = Array.from(volume.subarray(77, 101));
    const mean = window.reduce((a, b) => a + b) / 24;
    const sd = Math.sqrt(window.reduce((a, b) => a + (b - mean) ** 2, 0) / 23);
    expect(zScoreKernel(volume, 24)[100]).toBeCloseTo((volume[100] - mean) / sd, 9);
    const logs = Array.from({ length: 24 }, (_, k) => Math.log(close[77 + k] / close[76 + k]));
    const lm = logs.reduce((a, b) => a + b) / 24;
    expect(volatilityKernel(close, 24)[100]).toBeCloseTo(Math.sqrt(logs.reduce((a, b) => a + (b - lm) ** 2, 0) / 23), 12);
    const exact = Float64Array.from({ length: 30 }, (_, i) => 100 * Math.exp(0.002 * i));
    expect(trendSlopeKernel(exact, 10)[29]).toBeCloseTo(0.002 * 9, 12);
  });

  it('sliding-window kernels equal their two-pass definitions at every row (large levels, flats, NaN holes)', () => {
    // a large level with a small spread (OBV-like), flat stretches and NaN holes: the hard cases for sliding sums
    const n = 20_000;
    const values = Float64Array.from({ length: n }, (_, i) => 1e9 + 1000 * Math.sin(i / 7) + ((i * 7919) % 101));
    values.fill(1e9 + 5, 3000, 3100);
    values[5000] = NaN;
    values[12_345] = NaN;
    for (const window of [5, 24, 100]) {
      const { mean, m2 } = rollingMoments(values, window);
      for (let i = 0; i < n; i++) {
        const w = Array.from(values.subarray(Math.max(0, i - window + 1), i + 1));
        if (i < window - 1 || w.some(Number.isNaN)) {
          expect(Number.isNaN(mean[i]) && Number.isNaN(m2[i])).toBe(true);
          continue;
        }
        const mu = w.reduce((a, b) => a + b, 0) / window;
        const exact = w.reduce((a, b) => a + (b - mu) ** 2, 0);
        expect(Math.abs(mean[i] - mu)).toBeLessThanOrEqual(1e-12 * Math.abs(mu));
        expect(Math.abs(m2[i] - exact)).toBeLessThanOrEqual(1e-9 * Math.max(exact, 1e-6));
      }
      const z = zScoreKernel(values, window);
      for (let i = 3100 - 1; i >= 3000 + window - 1 && i < 3100; i--) expect(z[i]).toBe(0); // flat windows
    }
    // trend slope and rolling extremes against their plain definitions on 1h candles
    const slope = trendSlopeKernel(close, 24);
    const { highest, lowest } = rollingExtremes(high, low, 14);
    for (let i = 0; i < close.length; i++) {
      if (i < 23) expect(Number.isNaN(slope[i])).toBe(true);
      else {
        const ys = Array.from({ length: 24 }, (_, k) => Math.log(close[i - 23 + k]));
        const my = ys.reduce((a, b) => a + b, 0) / 24;
        const b = ys.reduce((a, y, k) => a + (k - 11.5) * (y - my), 0) / ys.reduce((a, _, k) => a + (k - 11.5) ** 2, 0);
        expect(Math.abs(slope[i] - b * 23)).toBeLessThanOrEqual(1e-9 * Math.max(1e-3, Math.abs(b * 23)));
      }
      if (i >= 13) {
        expect(highest[i]).toBe(Math.max(...high.subarray(i - 13, i + 1)));
        expect(lowest[i]).toBe(Math.min(...low.subarray(i - 13, i + 1)));
      } else expect(Number.isNaN(highest[i])).toBe(true);
    }
  });

  it('returns by hand', () => {
    const r = returnsKernel(Float64Array.from([100, 110, 99]), 1);
    expect(Number.isNaN(r[0])).toBe(true);
    expect(r[1]).toBeCloseTo(0.1, 15);
    expect(r[2]).toBeCloseTo(-0.1, 15);
  });
});

// Every registered feature's warm-up, outputs and causality: the contract suite (plugin-authoring.test.ts).
describe('features by property', () => {
  it('a higher-timeframe value reaches a base row only after its bar has closed (property)', () => {
    const registry = createRegistry();
    const set = computeFeatures(candles, [{ id: 'core/higher-timeframe', params: { timeframe: '4h', feature: { id: 'core/rsi', params: { period: 6 } } } }], registry);
    const aligned = set.frame.column('rsi_6_4h');
    const { candles: higher, closeTime } = resampleCandles(candles, '4h');
    const inner = rsiKernel(higher.column('close'), 6);
    for (let r = 0; r < candles.length; r++) {
      const baseClose = candles.time[r] + H;
      // the latest 4h bar closed by this base bar's close, computed only from 1h bars up to it
      let j = -1;
      while (j + 1 < closeTime.length && closeTime[j + 1] <= baseClose) j++;
      expect(Number.isNaN(aligned[r]) ? NaN : aligned[r]).toBe(j >= 0 ? inner[j] : NaN);
    }
    // 4h bars are whole: the 1h bars in each bucket aggregate to it
    const k = 10;
    const rows = Array.from({ length: 4 }, (_, i) => 4 + 4 * k + i); // bucket k+1 (bucket 0 is dropped)
    expect(higher.column('high')[k]).toBe(Math.max(...rows.map((i) => candles.column('high')[i])));
    expect(higher.column('volume')[k]).toBeCloseTo(rows.reduce((sum, i) => sum + candles.column('volume')[i], 0), 6);
    expect(() => computeFeatures(candles, [{ id: 'core/higher-timeframe', params: { timeframe: '90m' } }], registry)).toThrow(/whole multiple/);
  });

  it('any trading-signals indicator by name: closes or candles, object results as columns', () => {
    const registry = createRegistry();
    const set = computeFeatures(candles, [
      { id: 'core/trading-signals', params: { indicator: 'RSI', args: [14] } },
      { id: 'core/trading-signals', params: { indicator: 'KeltnerChannels', args: [20, 2] } },
      { id: 'core/trading-signals', params: { indicator: 'MFI', args: [14] } },
      { id: 'core/trading-signals', params: { indicator: 'DonchianChannels', args: [20] } },
    ], registry);
    expect(set.names).toEqual(expect.arrayContaining(['ts_rsi_14', 'ts_mfi_14', 'ts_keltnerchannels_20_2_upper', 'ts_keltnerchannels_20_2_lower', 'ts_donchianchannels_20_upper']));
    // through the adapter, RSI equals the kernel (both are trading-signals' definition)
    const viaAdapter = set.frame.column('ts_rsi_14');
    const kernel = rsiKernel(close, 14);
    for (let i = 0; i < close.length; i++) {
      if (Number.isNaN(kernel[i])) expect(Number.isNaN(viaAdapter[i])).toBe(true);
      else expect(viaAdapter[i]).toBeCloseTo(kernel[i], 9);
    }
    expect(() => computeFeatures(candles, [{ id: 'core/trading-signals', params: { indicator: 'TEMMA' } }], registry)).toThrow(/no indicator 'TEMMA' \(did you mean 'TEMA'\?\)/);
  });

  it('interactions read columns made earlier, and inherit their warm-up', () => {
    const registry = createRegistry();
    const set = computeFeatures(candles, [{ id: 'core/rsi' }, { id: 'core/bollinger' }, { id: 'core/interaction', params: { a: 'rsi_14', b: 'bb_pctb_20', op: 'product' } }], registry);
    const product = set.frame.column('rsi_14_x_bb_pctb_20');
    for (let i = 19; i < 40; i++) expect(product[i]).toBe(set.frame.column('rsi_14')[i] * set.frame.column('bb_pctb_20')[i]);
    expect(set.lookback).toBe(19);
    expect(() => computeFeatures(candles, [{ id: 'core/interaction', params: { a: 'rsi_14', b: 'close' } }], registry)).toThrow(/needs column 'rsi_14', which neither the data nor an earlier feature provides/);
  });

  it('are computed together with declared names and the largest lookback', () => {
    const registry = createRegistry();
    const set = computeFeatures(candles, [{ id: 'core/rsi', params: { period: 14 } }, { id: 'core/macd' }], registry);
    expect(set.names).toEqual(['rsi_14', 'macd_12_26_9', 'macd_signal_12_26_9', 'macd_hist_12_26_9']);
    expect(set.lookback).toBe(26 - 1 + 9 - 1);
    expect(set.frame.length).toBe(candles.length);
  });

  it('reject bad params with the param named', () => {
    const registry = createRegistry();
    expect(() => computeFeatures(candles, [{ id: 'core/rsi', params: { period: 1 } }], registry)).toThrow(/param 'period'/);
    expect(() => computeFeatures(candles, [{ id: 'core/macd', params: { fast: 30, slow: 26 } }], registry)).toThrow(/fast < slow/);
    expect(() => computeFeatures(candles, [{ id: 'core/rsi' }, { id: 'core/rsi' }], registry)).toThrow(/'rsi_14' is produced twice/);
  });
});

describe('direction labels', () => {
  it('mark BUY/SELL/HOLD by the forward return against the threshold, NaN where the future is unknown', () => {
    const prices = Float64Array.from([100, 101, 100.2, 99, 100, 100]);
    const labels = directionLabels(prices, 2, 0.005);
    // 100→100.2 (+0.2%) HOLD; 101→99 (−2%) SELL; 100.2→100 HOLD; 99→100 (+1%) BUY; last two unknown
    expect(Array.from(labels.subarray(0, 4))).toEqual([HOLD, SELL, HOLD, BUY]);
    expect(Number.isNaN(labels[4]) && Number.isNaN(labels[5])).toBe(true);
  });
});

describe('chronological split', () => {
  it('is 70/15/15 after the warm-up, in time order, with the label horizon purged between segments', () => {
    const split = splitChronological(10_000, 100, 5, { train: 0.7, valid: 0.15, test: 0.15 });
    const usable = 10_000 - 100 - 5;
    expect(split.train.start).toBe(100);
    expect(split.train.end).toBe(100 + Math.floor(usable * 0.7) - 5);
    expect(split.valid.start).toBe(split.train.end + 5);
    expect(split.test.start).toBe(split.valid.end + 5);
    expect(split.test.end).toBe(10_000);
    // No train label (which looks 5 bars ahead) reaches a validation row.
    expect(split.train.end - 1 + 5).toBeLessThan(split.valid.start);
    expect(split.valid.end - 1 + 5).toBeLessThan(split.test.start);
  });

  it('refuses bad fractions and too little data', () => {
    expect(() => splitChronological(10_000, 0, 5, { train: 0.7, valid: 0.2, test: 0.2 })).toThrow(ConfigError);
    expect(() => splitChronological(250, 100, 5, { train: 0.7, valid: 0.15, test: 0.15 })).toThrow(NotEnoughDataError);
  });
});

describe('labels classes constants', () => {
  it('are SELL=0, HOLD=1, BUY=2', () => {
    expect([SELL, HOLD, BUY]).toEqual([0, 1, 2]);
  });
});
