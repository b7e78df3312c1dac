import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateSyntheticCandles } from '../src/data/synthetic';
import { Frame, OHLCV_COLUMNS, type Candles } from '../src/frame/frame';
import { computePlannedFeatures, featureContext, planFeatures } from '../src/features/compute-features';
import { createFeatureStream, type FeatureStream } from '../src/features/streaming/create-feature-stream';
import { defaultStreamMargin, trailingBufferStream } from '../src/features/streaming/trailing-buffer-stream';
import type { StreamCandle } from '../src/features/streaming/streaming-feature';
import { createRegistry } from '../src/plugins/core-plugin';
import type { DefinitionRef } from '../src/plugins/registry';

const base = generateSyntheticCandles({ seed: 11, bars: 3000 });
// Deterministic microstructure columns for core/funding and core/open-interest (they read them from the data).
const n = base.length;
const fundingRate = Float64Array.from({ length: n }, (_, i) => 1e-4 * Math.sin(i / 37));
const openInterest = Float64Array.from({ length: n }, (_, i) => 1e6 * (2 + Math.sin(i / 91)));
const candles = base.withColumns({ funding_rate: fundingRate, open_interest: openInterest }) as unknown as Candles;
const columnNames = candles.names;
const registry = createRegistry();
const context = featureContext(registry, candles.meta.timeframe);

function candleAt(i: number): StreamCandle {
  const candle: Record<string, number> = { time: candles.time[i] };
  for (const name of columnNames) candle[name] = candles.column(name)[i];
  return candle as StreamCandle;
}

/**
 * Not streamed here: core/cross-asset reads another symbol's series from the data store (no store in a
 * unit test). core/garch and core/arima-forecast (fitted features) run with their defaults, outside a run
 * (expanding refits), here too; their fixed fits are checked below. Every other built-in feature runs with its default params, except
 * core/interaction, which has no defaults (it names two columns).
 */
const SKIPPED = new Set(['core/cross-asset']);
const PARAMS: Record<string, Record<string, unknown>> = { 'core/interaction': { a: 'close', b: 'volume', op: 'ratio' } };

/** Twins: 1e-9 relative (in fact bit-identical: the twins replay the batch loops' arithmetic). */
const TWIN_TOLERANCE = 1e-9;
/** The fallback once its buffer is full: recursive kernels over the truncated buffer converge to within this (relative, or absolute below 1). */
const BUFFER_TOLERANCE = 1e-6;

const close = (a: number, b: number, tolerance: number) => Math.abs(a - b) <= tolerance * Math.max(1, Math.abs(b));

/** Stream every candle; rows of values in the stream's output order. */
function streamAll(stream: FeatureStream, from = 0, to = n): number[][] {
  const rows: number[][] = [];
  for (let i = from; i < to; i++) {
    const row = stream.update(candleAt(i));
    rows.push(stream.outputs.map((name) => row[name]));
  }
  return rows;
}

const features = registry.list('feature').filter((d) => !SKIPPED.has(d.id));

describe('streaming twins and the trailing-buffer fallback agree with the batch compute', () => {
  it('covers the built-in features', () => {
    expect(features.length).toBeGreaterThan(25);
  });

  for (const definition of features) {
    const path = definition.stream ? 'twin' : 'buffer';
    it(`${definition.id} (${path})`, () => {
      const planned = planFeatures([{ id: definition.id, params: PARAMS[definition.id] ?? {} }], registry, context);
      const batch = computePlannedFeatures(candles, planned, context);
      const stream = createFeatureStream(planned, context, { meta: candles.meta });
      expect(stream.features[0].path).toBe(path);
      expect([...stream.outputs]).toEqual(batch.names);
      const lookback = definition.lookback(planned[0].params, context);
      expect(stream.features[0].stream.requiredInputs).toBe(lookback);
      const rows = streamAll(stream);
      // the fallback is exact until its buffer is full (the feature is causal), then converges
      const exactUntil = path === 'twin' ? n : lookback + 1 + defaultStreamMargin(lookback);
      let compared = 0;
      batch.names.forEach((name, k) => {
        const expected = batch.frame.column(name);
        for (let i = 0; i < n; i++) {
          const got = rows[i][k];
          const want = expected[i];
          if (Number.isNaN(want) || Number.isNaN(got)) {
            // the NaN warm-up (and any NaN the batch has) sits at the same rows
            expect(Number.isNaN(got), `${name} row ${i}: stream ${got}, batch ${want}`).toBe(Number.isNaN(want));
            continue;
          }
          const ok = close(got, want, i < exactUntil ? TWIN_TOLERANCE : BUFFER_TOLERANCE);
          if (!ok) expect.fail(`${name} row ${i}: stream ${got}, batch ${want} (${path})`);
          compared++;
        }
      });
      expect(compared).toBeGreaterThan(0);
    });
  }

  it('the fallback refuses a feature fitted on the training rows (core/garch, core/arima-forecast), naming the remedy', () => {
    for (const id of ['core/garch', 'core/arima-forecast']) {
      const [planned] = planFeatures([{ id }], registry, context);
      expect(() => trailingBufferStream(planned.definition, planned.params, context)).toThrow(new RegExp(`${id.replace('/', '\\/')} is fitted on the run's training rows.*stream\\(\\) twin`));
    }
  });
});

/** A list mixing twins, the fallback (core/seed-interactions: recursive kernels inside), and a feature reading earlier columns. */
const MIXED: DefinitionRef[] = [
  { id: 'core/returns' },
  { id: 'core/rsi' },
  { id: 'core/macd' },
  { id: 'core/bollinger' },
  { id: 'core/stochastic' },
  { id: 'core/adx' },
  { id: 'core/obv' },
  { id: 'core/trend-slope' },
  { id: 'core/seed-interactions' },
  { id: 'core/interaction', params: { a: 'rsi_14', b: 'ret_1' } },
];

describe('snapshot / restore and replace', () => {
  const planned = planFeatures(MIXED, registry, context);

  it('a stream restored from a JSON snapshot continues exactly like an uninterrupted one', () => {
    const whole = streamAll(createFeatureStream(planned, context));
    const first = createFeatureStream(planned, context);
    streamAll(first, 0, 1500);
    const saved = JSON.parse(JSON.stringify(first.snapshot()));
    const resumed = createFeatureStream(planned, context);
    resumed.restore(saved);
    const rest = streamAll(resumed, 1500, n);
    expect(rest).toEqual(whole.slice(1500));
    // and a snapshot does not fit a different feature list
    const other = createFeatureStream(planFeatures([{ id: 'core/rsi' }], registry, context), context);
    expect(() => other.restore(saved)).toThrow(/same feature list/);
  });

  it('replace(): a provisional candle revised to the final one gives the values of the final one alone', () => {
    const direct = createFeatureStream(planned, context);
    const revised = createFeatureStream(planned, context);
    for (let i = 0; i < 1200; i++) {
      const final = candleAt(i);
      const provisional = { ...final, close: final.close * 1.01, high: final.high * 1.02, low: final.low * 0.99, volume: final.volume / 2 };
      const expected = direct.update(final);
      revised.update(provisional);
      if (i % 3 === 0) revised.replace({ ...provisional, close: final.close * 0.98 }); // revised more than once
      expect(revised.replace(final)).toEqual(expected);
    }
  });

  it('replace() before any update is an error', () => {
    expect(() => createFeatureStream(planned, context).replace(candleAt(0))).toThrow(/needs a candle added by update/);
  });
});

describe('createFeatureStream over the quickstart spec', () => {
  it('equals computePlannedFeatures row by row, same columns in the same order', () => {
    const spec = JSON.parse(fs.readFileSync(path.join(__dirname, '../../specs/quickstart.json'), 'utf8')) as { features: DefinitionRef[] };
    const planned = planFeatures(spec.features, registry, context);
    const batch = computePlannedFeatures(candles, planned, context);
    const stream = createFeatureStream(planned, context);
    expect([...stream.outputs]).toEqual(batch.names);
    expect(stream.features.every((f) => f.path === 'twin')).toBe(true);
    expect(stream.requiredInputs).toBe(batch.lookback);
    const rows = streamAll(stream);
    for (let i = 0; i < n; i++) {
      const expected = batch.names.map((name) => batch.frame.column(name)[i]);
      // bit-identical: toEqual treats NaN as equal to NaN
      expect(rows[i], `row ${i}`).toEqual(expected);
    }
  });
});

/**
 * core/higher-timeframe on base timeframes that divide the higher one many times. The trailing buffer it
 * used to stream through keeps at most lookback + 5,000 base candles: on 1m data that is only a few dozen
 * 1h or 4h bars, too few for the inner RSI's Wilder average to forget its start, so its values were off.
 * The twin builds the higher bars as they close and must equal the batch on every candle, also when the
 * data starts inside a higher bar (the dropped first bucket) and when candles are missing (a bucket closed
 * by a later candle instead of its own last one).
 */
describe('core/higher-timeframe streams exactly at any timeframe ratio', () => {
  /** Synthetic candles of `timeframe`, starting `offset` bars in, without the rows `drop` names. */
  function series(timeframe: string, bars: number, offset: number, drop: (i: number) => boolean = () => false): Candles {
    const all = generateSyntheticCandles({ seed: 5, bars: bars + offset, timeframe }).slice(offset) as Candles;
    const keep = Array.from({ length: all.length }, (_, i) => i).filter((i) => !drop(i));
    const pick = (values: Float64Array) => Float64Array.from(keep, (i) => values[i]);
    return Frame.fromColumns(pick(all.time), Object.fromEntries(OHLCV_COLUMNS.map((c) => [c, pick(all.column(c))])), all.meta) as Candles;
  }

  function parity(data: Candles, ref: DefinitionRef): { compared: number; path: string } {
    const ctx = featureContext(registry, data.meta.timeframe);
    const planned = planFeatures([ref], registry, ctx);
    const batch = computePlannedFeatures(data, planned, ctx);
    const stream = createFeatureStream(planned, ctx, { meta: data.meta });
    expect([...stream.outputs]).toEqual(batch.names);
    let compared = 0;
    for (let i = 0; i < data.length; i++) {
      const candle: Record<string, number> = { time: data.time[i] };
      for (const name of OHLCV_COLUMNS) candle[name] = data.column(name)[i];
      const row = stream.update(candle as StreamCandle);
      for (const name of batch.names) {
        const want = batch.frame.column(name)[i];
        const got = row[name];
        if (Number.isNaN(want) || Number.isNaN(got)) {
          if (Number.isNaN(want) !== Number.isNaN(got)) expect.fail(`${name} row ${i}: stream ${got}, batch ${want}`);
          continue;
        }
        if (!close(got, want, TWIN_TOLERANCE)) expect.fail(`${name} row ${i}: stream ${got}, batch ${want}`);
        compared++;
      }
    }
    return { compared, path: stream.features[0].path };
  }

  const rsiOn = (timeframe: string, period = 14): DefinitionRef => ({ id: 'core/higher-timeframe', params: { timeframe, feature: { id: 'core/rsi', params: { period } } } });

  it('1m candles, RSI on 1h and on 4h (past the 5,000-candle margin the trailing buffer had)', () => {
    const data = series('1m', 14_000, 0);
    for (const ref of [rsiOn('1h'), rsiOn('4h')]) {
      const { compared, path } = parity(data, ref);
      expect(path).toBe('twin');
      expect(compared).toBeGreaterThan(9_000);
    }
  });

  it('1m candles starting inside an hour, with missing candles (a bucket without its last minute, a whole hour gone)', () => {
    // drop the last minute of some hours and all of another: those buckets close on a later candle
    const data = series('1m', 9_000, 37, (i) => (i + 37) % 60 === 59 && (i + 37) % 7 === 3 || (i >= 4_000 && i < 4_060));
    expect(data.time[0] % 3_600_000).not.toBe(0);
    const { compared } = parity(data, rsiOn('1h', 9));
    expect(compared).toBeGreaterThan(7_000);
  });

  it('1h candles, RSI and MACD on 1d, starting inside a day', () => {
    const data = series('1h', 8_000, 5);
    expect(parity(data, rsiOn('1d')).compared).toBeGreaterThan(7_000);
    expect(parity(data, { id: 'core/higher-timeframe', params: { timeframe: '1d', feature: { id: 'core/macd' } } }).compared).toBeGreaterThan(3 * 7_000);
  });

  it('snapshot / restore and replace of the forming bar', () => {
    const data = series('1m', 3_000, 11);
    const ctx = featureContext(registry, '1m');
    const planned = planFeatures([rsiOn('1h', 5)], registry, ctx);
    const at = (i: number) => ({ time: data.time[i], open: data.column('open')[i], high: data.column('high')[i], low: data.column('low')[i], close: data.column('close')[i], volume: data.column('volume')[i] }) as StreamCandle;
    const direct = createFeatureStream(planned, ctx);
    const whole = Array.from({ length: data.length }, (_, i) => direct.update(at(i)));
    const first = createFeatureStream(planned, ctx);
    const revised = createFeatureStream(planned, ctx);
    for (let i = 0; i < 1_789; i++) {
      first.update(at(i));
      revised.update({ ...at(i), close: at(i).close * 1.03, high: at(i).high * 1.05 });
      expect(revised.replace(at(i))).toEqual(whole[i]);
    }
    const resumed = createFeatureStream(planned, ctx);
    resumed.restore(JSON.parse(JSON.stringify(first.snapshot())));
    for (let i = 1_789; i < data.length; i++) expect(resumed.update(at(i))).toEqual(whole[i]);
  });
});

/**
 * The fitted features' twins (core/garch, core/arima-forecast): after a fit, O(1) per candle (GARCH's
 * variance recursion, ARIMA's Kalman filter with the fitted coefficients), equal to the batch within 1e-9
 * relative — with the batch's expanding refits (a session: no run rows), and with a fixed fit from the
 * params or the run's rows (values from the fit's last row on: the batch's earlier rows use parameters
 * fitted on later rows, which no stream can know yet).
 */
describe('fitted features stream: core/garch and core/arima-forecast', () => {
  const RELATIVE = 1e-9;
  const closes = candles.column('close');

  function check(ref: DefinitionRef, options: { fitRows?: Array<{ start: number; end: number }>; from?: number } = {}) {
    const ctx = featureContext(registry, candles.meta.timeframe, options.fitRows ? { fitRows: options.fitRows } : {});
    const planned = planFeatures([ref], registry, ctx);
    const batch = computePlannedFeatures(candles, planned, ctx);
    const stream = createFeatureStream(planned, ctx, { closedOnly: true });
    expect(stream.features[0].path).toBe('twin');
    const name = batch.names[0];
    const want = batch.frame.column(name);
    const from = options.from ?? 0;
    let compared = 0;
    for (let i = 0; i < n; i++) {
      const got = stream.update(candleAt(i))[name];
      if (i < from) {
        expect(Number.isNaN(got), `${name} row ${i} before the fit's last row`).toBe(true);
        continue;
      }
      if (Number.isNaN(want[i]) || Number.isNaN(got)) {
        if (Number.isNaN(want[i]) !== Number.isNaN(got)) expect.fail(`${name} row ${i}: stream ${got}, batch ${want[i]}`);
        continue;
      }
      if (!(Math.abs(got - want[i]) <= RELATIVE * Math.abs(want[i]))) expect.fail(`${name} row ${i}: stream ${got}, batch ${want[i]}`);
      compared++;
    }
    return { compared, stream: stream.features[0].stream };
  }

  it('core/garch with expanding refits (every 300 rows) equals the batch', () => {
    expect(check({ id: 'core/garch', params: { minFitRows: 120, refitEvery: 300 } }).compared).toBe(n - 120);
  });

  it('core/garch with a fixed fit: explicit fitRows, and the run\'s training rows (two segments)', () => {
    expect(check({ id: 'core/garch', params: { fitRows: 700 } }, { from: 699 }).compared).toBe(n - 699);
    expect(check({ id: 'core/garch' }, { fitRows: [{ start: 0, end: 600 }, { start: 900, end: 1400 }], from: 1399 }).compared).toBe(n - 1399);
  });

  it('core/arima-forecast with expanding refits on at most maxFitRows returns equals the batch, and keeps a bounded history', () => {
    const ref = { id: 'core/arima-forecast', params: { p: 2, q: 1, horizon: 3, minFitRows: 300, maxFitRows: 400, refitEvery: 700 } };
    const { compared, stream } = check(ref);
    expect(compared).toBe(n - 300);
    // O(1) memory too: the returns kept for the refits, not every candle
    const saved = stream.snapshot().data as { history: { values: number[] } };
    expect(saved.history.values.length).toBeLessThanOrEqual(2 * 401 + 64);
  });

  it('core/arima-forecast with a fixed fit: explicit fitRows (d = 1), and the run\'s training rows', () => {
    expect(check({ id: 'core/arima-forecast', params: { p: 1, d: 1, q: 1, trend: 'n', fitRows: 800 } }, { from: 799 }).compared).toBe(n - 799);
    expect(check({ id: 'core/arima-forecast' }, { fitRows: [{ start: 100, end: 700 }, { start: 1000, end: 1500 }], from: 1499 }).compared).toBe(n - 1499);
  });

  it('snapshot / restore mid-stream and replace() across a refit give the uninterrupted values', () => {
    const refs: DefinitionRef[] = [
      { id: 'core/garch', params: { minFitRows: 100, refitEvery: 150 } },
      { id: 'core/arima-forecast', params: { minFitRows: 200, maxFitRows: 250, refitEvery: 150 } },
    ];
    const planned = planFeatures(refs, registry, context);
    const direct = createFeatureStream(planned, context);
    const whole = Array.from({ length: 900 }, (_, i) => direct.update(candleAt(i)));
    const first = createFeatureStream(planned, context);
    const revised = createFeatureStream(planned, context);
    for (let i = 0; i < 500; i++) {
      first.update(candleAt(i));
      revised.update({ ...candleAt(i), close: closes[i] * 1.02 });
      expect(revised.replace(candleAt(i)), `row ${i}`).toEqual(whole[i]);
    }
    const resumed = createFeatureStream(planned, context);
    resumed.restore(JSON.parse(JSON.stringify(first.snapshot())));
    for (let i = 500; i < 900; i++) expect(resumed.update(candleAt(i)), `row ${i}`).toEqual(whole[i]);
  });
});
