import { describe, expect, it } from 'vitest';
import { Frame, type Candles } from '../src/frame/frame';
import { generateSyntheticCandles } from '../src/data/synthetic';
import { candlePatterns, chartPatterns, walkPivots, type ChartPatternOptions, type Pivot } from '../src/features/patterns';
import { patternTarget } from '../src/labels/pattern-labeler';
import { createRegistry } from '../src/plugins/core-plugin';
import { parseParams } from '../src/plugins/registry';
import { hourlyBars } from './helpers';

/** Candles whose closes follow straight lines between waypoints [bar, price]; open = previous close. */
function pathCandles(waypoints: Array<[number, number]>): Candles {
  const last = waypoints[waypoints.length - 1][0];
  const close = new Float64Array(last + 1);
  for (let w = 1; w < waypoints.length; w++) {
    const [b0, p0] = waypoints[w - 1];
    const [b1, p1] = waypoints[w];
    for (let b = b0; b <= b1; b++) close[b] = p0 + ((p1 - p0) * (b - b0)) / (b1 - b0);
  }
  const open = close.map((c, i) => (i === 0 ? c : close[i - 1]));
  return Frame.fromColumns(
    Float64Array.from(close, (_, i) => i * 3_600_000),
    {
      open,
      high: close.map((c, i) => Math.max(c, open[i]) * 1.001),
      low: close.map((c, i) => Math.min(c, open[i]) * 0.999),
      close,
      volume: new Float64Array(close.length).fill(1000),
    },
    { symbol: 'TEST/USDT', timeframe: '1h' },
  ) as Candles;
}

/** The same path mirrored around a level: tops become bottoms. */
const mirror = (waypoints: Array<[number, number]>): Array<[number, number]> => waypoints.map(([b, p]) => [b, 240 - p]);

const options: ChartPatternOptions = { pivotBars: 3, tolerance: 0.02, minDepth: 0.02, maxBars: 50, converge: 0.2, poleBars: 10, poleMin: 0.05, flagBars: 10, maxRetrace: 0.5, hold: 1 };

const events = (values: Float64Array) => Array.from(values).flatMap((v, t) => (Number.isFinite(v) && v !== 0 ? [[t, v]] : []));

describe('candle patterns', () => {
  it('engulfing, pin bars, doji and stars by hand', () => {
    const candles = hourlyBars([
      [105, 106, 99, 100], // 0 bearish
      [99.5, 107, 99, 106], // 1 bullish engulfing of 0
      [106, 106.2, 100, 105.8], // 2 hammer: long lower shadow, tiny body near the top
      [105.8, 112, 105.7, 106], // 3 shooting star: long upper shadow
      [106, 108, 104, 106.1], // 4 doji (body 0.1 of range 4)
      [106.1, 106.5, 95.9, 96.5], // 5 long bearish body
      [96.4, 97.5, 95.5, 96.6], // 6 small body (not engulfing: 5 is larger)
      [96.7, 103, 96.6, 102.8], // 7 closes above the middle of 5's body: morning star
    ]);
    const p = candlePatterns(candles, { dojiBody: 0.1, pinShadow: 2 });
    expect(events(p.candle_engulfing)).toEqual([[1, 1], [5, -1]]); // 5 engulfs the doji; 7 follows a bullish bar
    expect(events(p.candle_pin)).toEqual([[2, 1], [3, -1]]);
    expect(events(p.candle_doji)).toEqual([[2, 1], [3, 1], [4, 1], [6, 1]]); // pins with tiny bodies are dragonfly/gravestone dojis
    expect(events(p.candle_star)).toEqual([[7, 1]]);
    expect(Number.isNaN(p.candle_engulfing[0]) && Number.isNaN(p.candle_star[1])).toBe(true);
    // mirrored prices mirror the directional patterns
    const flipped = hourlyBars([[105, 106, 99, 100], [99.5, 107, 99, 106]].map((r) => [200 - r[0], 200 - r[2], 200 - r[1], 200 - r[3]]));
    expect(events(candlePatterns(flipped, { dojiBody: 0.1, pinShadow: 2 }).candle_engulfing)).toEqual([[1, -1]]);
  });
});

describe('causal pivots', () => {
  it('a swing point is known exactly pivotBars bars after it, alternating high/low', () => {
    const candles = pathCandles([[0, 100], [10, 120], [20, 105], [30, 121], [40, 95]]);
    const seen: Array<{ t: number; pivots: Pivot[] }> = [];
    walkPivots(candles.column('high'), candles.column('low'), 3, (t, pivots) => seen.push({ t, pivots: pivots.map((p) => ({ ...p })) }));
    const at = (t: number) => seen[t].pivots.map((p) => `${p.type}@${p.index}`);
    expect(at(12)).toEqual([]);
    expect(at(13)).toEqual(['high@10']);
    expect(at(22)).toEqual(['high@10']);
    expect(at(23)).toEqual(['high@10', 'low@20']);
    expect(at(33)).toEqual(['high@10', 'low@20', 'high@30']);
  });
});

describe('chart patterns', () => {
  const firstCloseBelow = (candles: Candles, from: number, level: (t: number) => number) => {
    const close = candles.column('close');
    for (let t = from; t < close.length; t++) if (close[t] < level(t)) return t;
    return -1;
  };

  it('double top fires −1 once, on the first close below the neckline; mirrored it is a double bottom (+1)', () => {
    const path: Array<[number, number]> = [[0, 100], [10, 120], [20, 105], [30, 120.5], [45, 90]];
    const candles = pathCandles(path);
    const neck = candles.column('low')[20];
    const t = firstCloseBelow(candles, 31, () => neck);
    expect(events(chartPatterns(candles, options).chart_double)).toEqual([[t, -1]]);
    expect(events(chartPatterns(pathCandles(mirror(path)), options).chart_double)).toEqual([[t, 1]]);
    // tops 10% apart are not a double top
    expect(events(chartPatterns(pathCandles([[0, 100], [10, 120], [20, 105], [30, 132], [50, 90]]), options).chart_double)).toEqual([]);
  });

  it('head and shoulders fires −1 on the sloped neckline break; the inverse fires +1', () => {
    const path: Array<[number, number]> = [[0, 100], [8, 115], [16, 105], [26, 125], [36, 105.5], [46, 115.5], [60, 90]];
    const candles = pathCandles(path);
    const low = candles.column('low');
    const neck = (t: number) => low[16] + ((low[36] - low[16]) * (t - 16)) / 20;
    const t = firstCloseBelow(candles, 47, neck);
    expect(t).toBeGreaterThan(46);
    expect(events(chartPatterns(candles, options).chart_head_shoulders)).toEqual([[t, -1]]);
    expect(events(chartPatterns(pathCandles(mirror(path)), options).chart_head_shoulders)).toEqual([[t, 1]]);
    // a "head" no higher than the shoulders is no pattern
    expect(events(chartPatterns(pathCandles([[0, 100], [8, 115], [16, 105], [26, 116], [36, 105.5], [46, 115.5], [60, 90]]), options).chart_head_shoulders)).toEqual([]);
  });

  it('a converging triangle fires on the side its close breaks', () => {
    const path: Array<[number, number]> = [[0, 100], [10, 130], [20, 105], [30, 125], [40, 110], [55, 140]];
    const candles = pathCandles(path);
    const high = candles.column('high');
    const close = candles.column('close');
    const upper = (t: number) => high[10] + ((high[30] - high[10]) * (t - 10)) / 20;
    let t = 44;
    while (close[t] <= upper(t)) t++;
    expect(events(chartPatterns(candles, options).chart_triangle)).toEqual([[t, 1]]);
    // broken downwards instead
    const down = pathCandles([[0, 100], [10, 130], [20, 105], [30, 125], [40, 110], [44, 116], [60, 90]]);
    const fired = events(chartPatterns(down, options).chart_triangle);
    expect(fired).toHaveLength(1);
    expect(fired[0][1]).toBe(-1);
    // widening swings are not a triangle
    expect(events(chartPatterns(pathCandles([[0, 100], [10, 120], [20, 105], [30, 130], [40, 95], [55, 140]]), options).chart_triangle)).toEqual([]);
  });

  it('a flag: pole, tight drift against it, then a close beyond the flag range', () => {
    const candles = pathCandles([[0, 100], [20, 100.5], [30, 115], [40, 112], [41, 118], [55, 118.5]]);
    expect(events(chartPatterns(candles, options).chart_flag)).toEqual([[41, 1]]);
    const bear = pathCandles(mirror([[0, 100], [20, 100.5], [30, 115], [40, 112], [41, 118], [55, 118.5]]));
    expect(events(chartPatterns(bear, options).chart_flag)).toEqual([[41, -1]]);
    // a retracement deeper than half the pole is no flag
    expect(events(chartPatterns(pathCandles([[0, 100], [20, 100.5], [30, 115], [40, 106], [41, 118], [55, 118.5]]), options).chart_flag)).toEqual([]);
  });

  it('hold keeps an event for that many bars; warm-up rows are NaN', () => {
    const candles = pathCandles([[0, 100], [10, 120], [20, 105], [30, 120.5], [45, 90]]);
    const once = chartPatterns(candles, options).chart_double;
    const held = chartPatterns(candles, { ...options, hold: 3 }).chart_double;
    const [[t]] = events(once);
    expect(Array.from(held.subarray(t - 1, t + 4))).toEqual([0, -1, -1, -1, 0]);
    expect(Array.from(held.subarray(0, 20)).every(Number.isNaN)).toBe(true); // max(2·3, 10 + 10)
  });

  it('on a random market every pattern occurs, and a prefix never changes past events (causal)', () => {
    const candles = generateSyntheticCandles({ seed: 4, bars: 6000 });
    const full = chartPatterns(candles, { ...options, pivotBars: 5, poleMin: 0.03 });
    for (const [name, values] of Object.entries(full)) expect(events(values).length, name).toBeGreaterThan(0);
    for (const cut of [1000, 3333, 4999]) {
      const prefix = chartPatterns(candles.slice(0, cut), { ...options, pivotBars: 5, poleMin: 0.03 });
      for (const [name, values] of Object.entries(prefix)) expect(Array.from(values), name).toEqual(Array.from(full[name as keyof typeof full].subarray(0, cut)));
    }
  });
});

describe('pattern targets', () => {
  it('bars = 0 is the pattern at the bar; bars > 0 the first event ahead, NaN past the end', () => {
    const e = Float64Array.from([NaN, 0, 0, 1, 0, -1, 0, 0]);
    expect(Array.from(patternTarget(e, 0, true))).toEqual([NaN, 1, 1, 2, 1, 0, 1, 1]);
    expect(Array.from(patternTarget(e, 2, true))).toEqual([NaN, 2, 2, 0, 0, 1, NaN, NaN]); // no label inside the warm-up
    expect(Array.from(patternTarget(Float64Array.from([0, 1, 0]), 1, false))).toEqual([1, 0, NaN]);
  });

  it('the core/pattern labeler labels a chart pattern ahead and a candle pattern in place', () => {
    const registry = createRegistry();
    const candles = generateSyntheticCandles({ seed: 4, bars: 3000 });
    const labeler = registry.resolve('labeler', 'core/pattern');
    const ahead = labeler.label(candles, parseParams(labeler, { pattern: 'chart_double', bars: 24 }));
    expect(ahead.classes).toEqual(['BEARISH', 'NONE', 'BULLISH']);
    const detected = chartPatterns(candles, parseParams(labeler, {}).chart).chart_double;
    for (let t = 20; t + 24 < candles.length; t++) {
      const next = detected.subarray(t + 1, t + 25).find((v) => v !== 0) ?? 0;
      expect(ahead.target[t]).toBe(next + 1);
    }
    expect(Array.from(ahead.target.subarray(candles.length - 24)).every(Number.isNaN)).toBe(true);
    const doji = labeler.label(candles, parseParams(labeler, { pattern: 'candle_doji', bars: 0 }));
    expect(doji.classes).toEqual(['NONE', 'DOJI']);
    expect(Array.from(doji.target)).toEqual(Array.from(candlePatterns(candles, { dojiBody: 0.1, pinShadow: 2 }).candle_doji));
    expect(labeler.horizon(parseParams(labeler, { bars: 24 }))).toBe(24);
  });
});
