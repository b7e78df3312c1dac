import { describe, expect, it } from 'vitest';
import { generateSyntheticCandles } from '../src/data/synthetic';
import { ColumnArena } from '../src/features/column-arena';
import { computeFeatures } from '../src/features/compute-features';
import {
  atrKernel,
  emaKernel,
  obvKernel,
  returnsKernel,
  rollingMoments,
  rsiKernel,
  smaKernel,
  trendSlopeKernel,
  volatilityKernel,
  vwapKernel,
  wilderKernel,
  wmaKernel,
  zScoreKernel,
} from '../src/features/kernels';
import { createRegistry } from '../src/plugins/core-plugin';
import type { Candles } from '../src/frame/frame';

// the bench's 50 standard features, and variants with other outputs and params
const FEATURES = [
  { id: 'core/returns', params: { periods: [1, 2, 4, 8, 16, 32, 64] } },
  { id: 'core/returns', params: { periods: [1, 4, 16], log: true } },
  ...[7, 14, 28].map((period) => ({ id: 'core/rsi', params: { period } })),
  ...[10, 20, 50, 100, 200].map((period) => ({ id: 'core/ema', params: { period } })),
  ...[10, 20, 50, 100, 200].map((period) => ({ id: 'core/sma', params: { period } })),
  { id: 'core/wma', params: { period: 20 } },
  { id: 'core/macd', params: {} },
  { id: 'core/bollinger', params: { period: 20 } },
  { id: 'core/bollinger', params: { period: 50 } },
  { id: 'core/atr', params: {} },
  { id: 'core/stochastic', params: {} },
  { id: 'core/williams-r', params: {} },
  { id: 'core/cci', params: {} },
  { id: 'core/roc', params: {} },
  { id: 'core/obv', params: {} },
  { id: 'core/adx', params: {} },
  { id: 'core/vwap', params: {} },
  { id: 'core/volume', params: {} },
  { id: 'core/trend-slope', params: {} },
  { id: 'core/volatility', params: {} },
  { id: 'core/candle-shape', params: {} },
  { id: 'core/ema', params: { period: 30, output: 'level' } },
  { id: 'core/sma', params: { period: 30, output: 'level' } },
  { id: 'core/macd', params: { fast: 5, slow: 13, signal: 4, normalize: false } },
  { id: 'core/atr', params: { period: 7, normalize: false } },
  { id: 'core/obv', params: { output: 'raw' } },
  { id: 'core/stochastic', params: { kPeriod: 5, kSlowing: 1, dPeriod: 2 } },
  { id: 'core/higher-timeframe', params: { timeframe: '4h', feature: { id: 'core/adx', params: {} } } },
  { id: 'core/interaction', params: { a: 'rsi_14', b: 'volume_z_24', op: 'ratio' } },
];

const candles = generateSyntheticCandles({ seed: 5, bars: 4000 });
const other = generateSyntheticCandles({ seed: 6, bars: 4000 });
const registry = createRegistry();

/** The same candles with a flat stretch (zero ranges, zero volume): the kernels' flat branches. */
function withFlatStretch(source: Candles): Candles {
  const columns: Record<string, Float64Array> = {};
  for (const name of ['open', 'high', 'low', 'close', 'volume'] as const) {
    const values = Float64Array.from(source.column(name));
    for (let i = 1000; i < 1400; i++) values[i] = name === 'volume' ? (i < 1200 ? 0 : 5) : 100;
    columns[name] = values;
  }
  return source.withColumns(columns) as Candles;
}

function bits(values: Float64Array): Buffer {
  return Buffer.from(values.buffer, values.byteOffset, values.byteLength);
}

/** Two views share memory when they are on one buffer and their byte ranges overlap. */
function overlap(a: Float64Array, b: Float64Array): boolean {
  return a.buffer === b.buffer && a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

describe('feature columns from an arena', () => {
  for (const [label, data] of [
    ['synthetic candles', candles],
    ['candles with a flat stretch', withFlatStretch(candles)],
  ] as const) {
    it(`a reused arena (holding another run's values) gives the values of new memory, bit for bit: ${label}`, () => {
      const fresh = computeFeatures(data, FEATURES, registry);
      const arena = new ColumnArena(data.length);
      // fill every column of the arena with another run's values, and then with garbage
      computeFeatures(other, FEATURES, registry, { arena });
      const dirty = computeFeatures(other, FEATURES, registry, { arena });
      for (const name of dirty.names) dirty.frame.column(name).fill(12345.678);
      const reused = computeFeatures(data, FEATURES, registry, { arena });
      expect(reused.names).toEqual(fresh.names);
      for (const name of fresh.names) expect(bits(reused.frame.column(name)).equals(bits(fresh.frame.column(name))), name).toBe(true);
      // the run took its columns from the arena (the same arrays as the dirty run)
      expect(reused.frame.column('rsi_14')).toBe(dirty.frame.column('rsi_14'));
    });
  }

  it('no output column shares memory with another, nor with the candles', () => {
    const arena = new ColumnArena(candles.length);
    for (const set of [computeFeatures(candles, FEATURES, registry), computeFeatures(candles, FEATURES, registry, { arena })]) {
      const columns = [...set.names.map((name) => set.frame.column(name)), ...candles.names.map((name) => candles.column(name)), candles.time];
      expect(set.names.length).toBeGreaterThan(60);
      for (let a = 0; a < columns.length; a++) {
        for (let b = a + 1; b < columns.length; b++) expect(overlap(columns[a], columns[b]), `${a} and ${b}`).toBe(false);
      }
    }
  });

  it('an arena of another length is refused; the arena counts the outputs it handed out', () => {
    expect(() => computeFeatures(candles, FEATURES, registry, { arena: new ColumnArena(candles.length - 1) })).toThrow(/arena holds/);
    const arena = new ColumnArena(candles.length);
    const set = computeFeatures(candles, FEATURES.slice(0, 3), registry, { arena });
    expect(arena.stats.outputs).toBe(set.names.length);
  });

  it('kernels given a dirty output array equal the kernels allocating their own', () => {
    const close = candles.column('close');
    const [high, low, volume] = (['high', 'low', 'volume'] as const).map((name) => candles.column(name));
    const dirty = () => new Float64Array(close.length).fill(-7);
    const pairs: Array<[string, Float64Array, Float64Array]> = [
      ['ema', emaKernel(close, 20, 5), emaKernel(close, 20, 5, dirty())],
      ['sma', smaKernel(close, 20), smaKernel(close, 20, dirty())],
      ['wilder', wilderKernel(close, 14, 3), wilderKernel(close, 14, 3, dirty())],
      ['rsi', rsiKernel(close, 14), rsiKernel(close, 14, dirty())],
      ['returns', returnsKernel(close, 8, true), returnsKernel(close, 8, true, dirty())],
      ['wma', wmaKernel(close, 20), wmaKernel(close, 20, dirty())],
      ['atr', atrKernel(high, low, close, 14), atrKernel(high, low, close, 14, dirty())],
      ['obv', obvKernel(close, volume), obvKernel(close, volume, dirty())],
      ['vwap', vwapKernel(high, low, close, volume, 24), vwapKernel(high, low, close, volume, 24, dirty())],
      ['zscore', zScoreKernel(volume, 24), zScoreKernel(volume, 24, dirty())],
      ['trend slope', trendSlopeKernel(close, 24), trendSlopeKernel(close, 24, dirty())],
      ['volatility', volatilityKernel(close, 24), volatilityKernel(close, 24, dirty())],
      ['moments', rollingMoments(close, 50).m2, rollingMoments(close, 50, dirty(), dirty()).m2],
    ];
    for (const [name, fresh, reused] of pairs) expect(bits(reused).equals(bits(fresh)), name).toBe(true);
    // Wilder's average in place over its input gives what it gives into another array
    const inPlace = Float64Array.from(close);
    expect(bits(wilderKernel(inPlace, 14, 3, inPlace)).equals(bits(wilderKernel(close, 14, 3)))).toBe(true);
  });
});
