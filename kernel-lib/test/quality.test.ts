import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Frame, type Candles } from '../src/frame/frame';
import { generateSyntheticCandles } from '../src/data/synthetic';
import { writeArrowFile } from '../src/data/arrow-file';
import { readCandlesCsvRaw } from '../src/data/csv-file';
import { checkQuality } from '../src/quality/check-quality';
import { applyMissingDataPolicy } from '../src/quality/missing-data';
import { alignFrames, resampleCandles } from '../src/features/resample';
import { createRunContext, checkCandles, loadCandles } from '../src/runner/stages';
import { SeededRng } from '../src/util/rng';
import { cli, tempDir } from './helpers';

const dir = tempDir('quality');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const H = 3_600_000;
const M = 60_000;
const iso = (ms: number): string => new Date(ms).toISOString();

/** Hourly candles from [hour, close] pairs: open = previous close (first: close), high/low ±1, volume 10. */
function bars(rows: Array<[number, number]>, timeframe = '1h'): Candles {
  const close = Float64Array.from(rows, (r) => r[1]);
  const open = Float64Array.from(rows, (r, i) => (i === 0 ? r[1] : rows[i - 1][1]));
  return Frame.fromColumns(
    Float64Array.from(rows, (r) => r[0] * H),
    { open, high: Float64Array.from(close, (c, i) => Math.max(c, open[i]) + 1), low: Float64Array.from(close, (c, i) => Math.min(c, open[i]) - 1), close, volume: Float64Array.from(rows, () => 10) },
    { symbol: 'BTC/USDT', timeframe },
  );
}

/** 100 hourly bars with a gentle, never-constant wobble (so MAD > 0): a clean baseline. */
function wobble(n = 100): Array<[number, number]> {
  return Array.from({ length: n }, (_, i) => [i, 100 + Math.sin(i / 3) * 0.5 + (i % 7) * 0.05] as [number, number]);
}

describe('checkQuality: each defect with its first timestamp', () => {
  it('finds nothing in clean data, or in three years of the synthetic market (fat tails are not outliers)', () => {
    expect(checkQuality(bars(wobble())).issues).toEqual([]);
    expect(checkQuality(generateSyntheticCandles({ seed: 42 })).issues).toEqual([]);
  });

  it('reports broken OHLC, non-positive prices, negative volume and NaN/Infinity as errors', () => {
    const base = bars(wobble());
    const cols = Object.fromEntries(base.names.map((n) => [n, base.column(n).slice()])) as Record<'open' | 'high' | 'low' | 'close' | 'volume', Float64Array>;
    cols.high[10] = cols.open[10] - 0.5; // high below open
    cols.low[12] = Math.max(cols.open[12], cols.close[12]) + 0.1; // low above the body
    cols.low[20] = -1; // non-positive price
    cols.volume[30] = -3; // negative volume
    cols.close[40] = NaN;
    cols.volume[41] = Infinity;
    const report = checkQuality(Frame.fromColumns(base.time, cols, base.meta) as Candles);
    const byKind = Object.fromEntries(report.issues.map((i) => [i.kind, i]));
    expect(report.ok).toBe(false);
    expect(byKind['ohlc-inconsistent']).toMatchObject({ count: 2, severity: 'error', first: [iso(10 * H), iso(12 * H)] });
    expect(byKind['non-positive-price']).toMatchObject({ count: 1, first: [iso(20 * H)] });
    expect(byKind['negative-volume']).toMatchObject({ count: 1, first: [iso(30 * H)] });
    expect(byKind['non-finite']).toMatchObject({ count: 2, first: [iso(40 * H), iso(41 * H)] });
  });

  it('reports duplicate and backward times in raw file rows (which a Frame cannot hold)', () => {
    const file = path.join(dir, 'disorder.csv');
    const lines = wobble(30).map(([h, c]) => `${h * H + 1_700_000_000_000 - (1_700_000_000_000 % H)},${c},${c + 1},${c - 1},${c},10`);
    lines.splice(10, 0, lines[9]); // row 10 repeats row 9
    [lines[20], lines[21]] = [lines[21], lines[20]]; // rows out of order
    fs.writeFileSync(file, `time,open,high,low,close,volume\n${lines.join('\n')}\n`);
    const raw = readCandlesCsvRaw(file, { timeframe: '1h' });
    const report = checkQuality(raw);
    const byKind = Object.fromEntries(report.issues.map((i) => [i.kind, i]));
    expect(byKind.duplicate).toMatchObject({ count: 1, severity: 'error', first: [iso(raw.time[10])] });
    expect(byKind['non-monotonic']).toMatchObject({ count: 1, severity: 'error', first: [iso(raw.time[21])] });
    expect(report.ok).toBe(false);
  });

  it('reports gaps as warnings with the missing bar count', () => {
    const rows = wobble().filter(([h]) => !(h >= 50 && h < 53) && h !== 70);
    const gap = checkQuality(bars(rows)).issues.find((i) => i.kind === 'gap')!;
    expect(gap).toEqual({ kind: 'gap', count: 2, severity: 'warning', first: [iso(53 * H), iso(71 * H)], detail: '4 bar(s) missing, longest gap 3 bar(s)' });
  });

  it('flags a bad tick (return outlier) and an absurdly wide bar (range outlier) by robust z-score', () => {
    const rows = wobble();
    rows[60] = [60, 150]; // a 50% spike and back: two return outliers (up at 60, down at 61)
    const report = checkQuality(bars(rows));
    const byKind = Object.fromEntries(report.issues.map((i) => [i.kind, i]));
    expect(byKind['outlier-return']).toMatchObject({ count: 2, severity: 'warning', first: [iso(60 * H), iso(61 * H)] });
    expect(report.ok).toBe(true);

    const wide = bars(wobble());
    const high = wide.column('high').slice();
    high[33] = 140; // a wick 40% above the body
    const rangeReport = checkQuality(wide.withColumns({ high }) as Candles);
    expect(rangeReport.issues.map((i) => [i.kind, i.count, i.first[0]])).toEqual([['outlier-range', 1, iso(33 * H)]]);
    // The threshold is an option: with z > 1e6 nothing is an outlier.
    expect(checkQuality(bars(rows), { outlierZ: 1e6 }).issues).toEqual([]);
  });

  it('candlelab data check reports defects of a file as stored, with exit code 1 on errors', async () => {
    const file = path.join(dir, 'check.csv');
    const lines = wobble(30).map(([h, c]) => `${Date.UTC(2024, 0, 1) + h * H},${c},${c + 1},${c - 1},${c},10`);
    lines.splice(5, 0, lines[4]);
    fs.writeFileSync(file, `time,open,high,low,close,volume\n${lines.join('\n')}\n`);
    const result = await cli(['data', 'check', file, '--timeframe', '1h']);
    expect(result.status).toBe(1);
    expect(result.stdout).toMatch(/31 rows, .*: NOT USABLE/);
    expect(result.stdout).toMatch(/error duplicate: 1, first at 2024-01-01T04:00:00.000Z/);
  });
});

describe('missing-data policies (hand-computed)', () => {
  // Hours 0, 1, 2 then a gap of two bars (3, 4), then hour 5. Closes 10, 12, 11, …, 20.
  const gapped = bars([[0, 10], [1, 12], [2, 11], [5, 20]]);
  const closes = (c: Candles) => Array.from(c.column('close'));

  it('ffill: flat bars at the last close, volume 0, marked filled', () => {
    const { candles, report } = applyMissingDataPolicy(gapped, 'ffill');
    expect(Array.from(candles.time, (t) => t / H)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(closes(candles)).toEqual([10, 12, 11, 11, 11, 20]);
    expect(Array.from(candles.column('open')).slice(3, 5)).toEqual([11, 11]);
    expect(Array.from(candles.column('volume'))).toEqual([10, 10, 10, 0, 0, 10]);
    expect(Array.from((candles as Frame).column('filled'))).toEqual([0, 0, 0, 1, 1, 0]);
    expect(report).toEqual({ policy: 'ffill', invalidRows: 0, filled: 2, dropped: 0, gaps: 1 });
  });

  it('interpolate: linear in time between the closes around the gap (11 → 20 over 3 h)', () => {
    const { candles } = applyMissingDataPolicy(gapped, 'interpolate');
    expect(closes(candles)).toEqual([10, 12, 11, 14, 17, 20]);
    // open = previous close, high/low = max/min of open and close
    expect(Array.from(candles.column('open')).slice(3, 5)).toEqual([11, 14]);
    expect(Array.from(candles.column('high')).slice(3, 5)).toEqual([14, 17]);
    expect(Array.from(candles.column('low')).slice(3, 5)).toEqual([11, 14]);
  });

  it('regression: OLS of close on time over the last bars before the gap, extrapolated (causal)', () => {
    // Fit on (0,10), (1,12), (2,11): slope 0.5, mean 11 at t=1 → 12 at t=3, 12.5 at t=4.
    const { candles } = applyMissingDataPolicy(gapped, 'regression');
    expect(closes(candles)).toEqual([10, 12, 11, 12, 12.5, 20]);
    // With more history only the last 5 bars count: 0..4 rising by 1, then a jump at 5 and 6 → fit on 2..6.
    const long = bars([[0, 10], [1, 11], [2, 12], [3, 13], [4, 14], [5, 30], [6, 30], [8, 1]]);
    // Points (2,12) (3,13) (4,14) (5,30) (6,30): mean t 4, mean c 19.8, sxy = 2·7.8+1·6.8+0+1·10.2+2·10.2 = 53, sxx = 10 → 19.8 + 5.3·3 = 35.7
    expect(closes(applyMissingDataPolicy(long, 'regression').candles)[7]).toBeCloseTo(35.7, 10);
  });

  it('NaN rows count as missing; drop removes them; leading ones are dropped by every policy', () => {
    const base = bars([[0, 10], [1, 12], [2, 11], [3, 13]]);
    const close = base.column('close').slice();
    close[0] = NaN;
    close[2] = NaN;
    const withNaN = base.withColumns({ close }) as Candles;
    const dropped = applyMissingDataPolicy(withNaN, 'drop');
    expect(Array.from(dropped.candles.time, (t) => t / H)).toEqual([1, 3]);
    expect(dropped.report).toEqual({ policy: 'drop', invalidRows: 2, filled: 0, dropped: 2, gaps: 1 });
    const filled = applyMissingDataPolicy(withNaN, 'ffill');
    expect(Array.from(filled.candles.time, (t) => t / H)).toEqual([1, 2, 3]);
    expect(closes(filled.candles)).toEqual([12, 12, 13]);
    expect(filled.report).toMatchObject({ invalidRows: 2, filled: 1, dropped: 1 });
  });

  it('the spec policy is applied in the data stage and shows in the quality report', () => {
    const file = path.join(dir, 'gapped.arrow');
    writeArrowFile(file, bars([...wobble(40).filter(([h]) => h !== 20 && h !== 21)]));
    const base = { features: [{ id: 'core/rsi' }], label: { id: 'core/direction' }, model: { id: 'core/xgboost' }, strategy: { id: 'core/probability-threshold' } };
    const context = createRunContext({ ...base, data: { source: 'file', path: file, missing: 'ffill' } } as never, { log: () => undefined, workspace: { dataDir: path.join(dir, 'd') } });
    const candles = loadCandles(context);
    expect(candles.length).toBe(40);
    const quality = checkCandles(candles);
    expect(quality.issues).toEqual([{ kind: 'filled', count: 2, first: [iso(20 * H), iso(21 * H)], severity: 'warning', detail: 'rows made by the missing-data policy (volume 0)' }]);
    // Without the field nothing changes: the gap stays and is reported.
    const plain = loadCandles(createRunContext({ ...base, data: { source: 'file', path: file } } as never, { log: () => undefined, workspace: { dataDir: path.join(dir, 'd') } }));
    expect(plain.length).toBe(38);
    expect(checkCandles(plain).issues.map((i) => i.kind)).toEqual(['gap']);
  });
});

describe('resampling and alignment', () => {
  /** Random-walk 1m candles (seeded), n bars from a UTC midnight. */
  function minutes(n: number, seed: number, start = Date.UTC(2024, 0, 1)): Candles {
    const rng = new SeededRng(seed);
    const close = new Float64Array(n);
    const open = new Float64Array(n);
    let price = 100;
    for (let i = 0; i < n; i++) {
      open[i] = price;
      price *= Math.exp(0.001 * rng.normal());
      close[i] = price;
    }
    const high = Float64Array.from(close, (c, i) => Math.max(c, open[i]) * (1 + 0.0005 * rng.uniform()));
    const low = Float64Array.from(close, (c, i) => Math.min(c, open[i]) * (1 - 0.0005 * rng.uniform()));
    const volume = Float64Array.from(close, () => Math.round(rng.uniform() * 100));
    return Frame.fromColumns(Float64Array.from(close, (_, i) => start + i * M), { open, high, low, close, volume }, { symbol: 'BTC/USDT', timeframe: '1m' }) as Candles;
  }

  it('1m → 5m/15m/1h/4h/1d aggregates open/high/low/close/volume per UTC bucket', () => {
    const base = minutes(3 * 1440, 1);
    for (const [timeframe, size] of [['5m', 5], ['15m', 15], ['1h', 60], ['4h', 240], ['1d', 1440]] as const) {
      const { candles } = resampleCandles(base, timeframe, 'keep');
      expect(candles.length).toBe((3 * 1440) / size);
      for (const k of [0, candles.length - 1]) {
        const from = k * size;
        const slice = (name: 'open' | 'high' | 'low' | 'close' | 'volume') => Array.from(base.column(name).subarray(from, from + size));
        expect(candles.time[k]).toBe(base.time[from]);
        expect(candles.column('open')[k]).toBe(slice('open')[0]);
        expect(candles.column('high')[k]).toBe(Math.max(...slice('high')));
        expect(candles.column('low')[k]).toBe(Math.min(...slice('low')));
        expect(candles.column('close')[k]).toBe(slice('close')[size - 1]);
        expect(candles.column('volume')[k]).toBe(slice('volume').reduce((a, b) => a + b, 0));
      }
    }
  });

  it("'edges' drops buckets cut by the data's start or end, keeps whole ones", () => {
    const cut = minutes(3 * 60 + 30, 2, Date.UTC(2024, 0, 1, 0, 20)); // 00:20 … 03:49
    expect(Array.from(resampleCandles(cut, '1h', 'edges').candles.time, (t) => new Date(t).getUTCHours())).toEqual([1, 2]);
    expect(resampleCandles(cut, '1h', 'keep').candles.length).toBe(4);
  });

  it('a 4h bar reaches 1h rows only after it closed; another symbol at the same timeframe joins its own row', () => {
    const hourly = resampleCandles(minutes(24 * 60, 3), '1h', 'keep').candles;
    const fourHour = resampleCandles(hourly, '4h', 'keep').candles;
    const eth = hourly.withMeta({ symbol: 'ETH/USDT' });
    const aligned = alignFrames(hourly, [{ frame: fourHour.select(['close']), prefix: '4h_' }, { frame: eth.select(['close']), prefix: 'eth_' }]);
    const c4 = aligned.column('4h_close' as never);
    // Rows 00:00 … 02:00 close before the first 4h bar (00:00–04:00) does: NaN. Row 03:00 closes at 04:00: it sees it.
    expect(Array.from(c4.subarray(0, 3)).every(Number.isNaN)).toBe(true);
    expect(c4[3]).toBe(fourHour.column('close')[0]);
    expect(c4[6]).toBe(fourHour.column('close')[0]);
    expect(c4[7]).toBe(fourHour.column('close')[1]);
    expect(Array.from(aligned.column('eth_close' as never))).toEqual(Array.from(hourly.column('close')));
  });

  it('property: aligning a prefix of the data equals the prefix of aligning all of it (random series, random cuts)', () => {
    const rng = new SeededRng(7);
    for (let trial = 0; trial < 25; trial++) {
      const n = 600 + Math.floor(rng.uniform() * 2400);
      const base1m = minutes(n, 100 + trial);
      const other1m = minutes(n, 200 + trial).withMeta({ symbol: 'ETH/USDT' });
      const build = (rows: number): Frame => {
        const base = base1m.slice(0, rows);
        // The higher bars come from the prefix itself, so the last one may still be forming: it must not leak.
        const inputs: Array<{ frame: Frame; prefix: string }> = (['15m', '1h', '4h'] as const).map((tf) => ({ frame: resampleCandles(base, tf, 'keep').candles.select(['close', 'high']), prefix: `${tf}_` }));
        inputs.push({ frame: resampleCandles(other1m.slice(0, rows), '5m', 'keep').candles.select(['close']), prefix: 'eth5m_' });
        return alignFrames(base.select(['close']), inputs);
      };
      const whole = build(n);
      for (let cut = 0; cut < 4; cut++) {
        const rows = 1 + Math.floor(rng.uniform() * (n - 1));
        const prefix = build(rows);
        for (const name of whole.names) {
          expect(Array.from(prefix.column(name)), `trial ${trial}, cut ${rows}, ${name}`).toEqual(Array.from(whole.column(name).subarray(0, rows)));
        }
      }
    }
  });
});
