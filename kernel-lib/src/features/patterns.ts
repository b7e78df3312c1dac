import { z } from 'zod';
import type { Candles } from '../frame/frame';
import { defineFeature } from '../plugins/define';

/**
 * Candle and chart patterns, detected at bar close from bars ≤ t only.
 *
 * Values: +1 bullish, −1 bearish, 0 none (the doji column is 1/0). Chart patterns fire on the bar whose
 * close breaks the pattern's line (neckline, trendline, flag range) — the moment a trader would act —
 * and keep their value for `hold` bars. They are built on causal pivots: a swing high at bar j is known
 * only at bar j + pivotBars, when the bars on its right have closed.
 */

// ─── candle patterns ────────────────────────────────────────────────────────────────────────────────

export type CandlePatternOptions = {
  /** A body at most this fraction of the bar's range is a doji. */
  dojiBody: number;
  /** A pin bar's long shadow is at least this many bodies (and the other shadow ≤ 25% of the range). */
  pinShadow: number;
};

export const CANDLE_PATTERN_COLUMNS = ['candle_engulfing', 'candle_pin', 'candle_doji', 'candle_star'] as const;

/** Engulfing (±1), pin bar (hammer +1, shooting star −1), doji (1) and morning/evening star (±1). */
export function candlePatterns(candles: Candles, options: CandlePatternOptions): Record<(typeof CANDLE_PATTERN_COLUMNS)[number], Float64Array> {
  const open = candles.column('open');
  const high = candles.column('high');
  const low = candles.column('low');
  const close = candles.column('close');
  const n = candles.length;
  const engulfing = new Float64Array(n);
  const pin = new Float64Array(n);
  const doji = new Float64Array(n);
  const star = new Float64Array(n);
  for (let t = 0; t < n; t++) {
    const range = high[t] - low[t];
    const body = Math.abs(close[t] - open[t]);
    const upperShadow = high[t] - Math.max(open[t], close[t]);
    const lowerShadow = Math.min(open[t], close[t]) - low[t];
    doji[t] = range > 0 && body <= options.dojiBody * range ? 1 : 0;
    if (range > 0 && body > 0) {
      if (lowerShadow >= options.pinShadow * body && upperShadow <= 0.25 * range) pin[t] = 1;
      else if (upperShadow >= options.pinShadow * body && lowerShadow <= 0.25 * range) pin[t] = -1;
    }
    if (t < 1) {
      engulfing[t] = NaN;
      star[t] = NaN;
      continue;
    }
    const prevBody = Math.abs(close[t - 1] - open[t - 1]);
    if (close[t - 1] < open[t - 1] && close[t] > open[t] && open[t] <= close[t - 1] && close[t] >= open[t - 1] && body > prevBody) engulfing[t] = 1;
    else if (close[t - 1] > open[t - 1] && close[t] < open[t] && open[t] >= close[t - 1] && close[t] <= open[t - 1] && body > prevBody) engulfing[t] = -1;
    if (t < 2) {
      star[t] = NaN;
      continue;
    }
    // first bar: a long body; middle: a small body; last: closes past the middle of the first body
    const firstBody = Math.abs(close[t - 2] - open[t - 2]);
    const firstRange = high[t - 2] - low[t - 2];
    const middleBody = Math.abs(close[t - 1] - open[t - 1]);
    const firstMid = (open[t - 2] + close[t - 2]) / 2;
    if (firstRange > 0 && firstBody >= 0.6 * firstRange && middleBody <= 0.3 * firstBody) {
      if (close[t - 2] < open[t - 2] && close[t] > open[t] && close[t] > firstMid) star[t] = 1;
      else if (close[t - 2] > open[t - 2] && close[t] < open[t] && close[t] < firstMid) star[t] = -1;
    }
  }
  return { candle_engulfing: engulfing, candle_pin: pin, candle_doji: doji, candle_star: star };
}

// ─── pivots ─────────────────────────────────────────────────────────────────────────────────────────

export type Pivot = { index: number; price: number; type: 'high' | 'low' };

/**
 * Causal swing points, alternating high/low. At bar t the candidate is j = t − k: a high pivot when
 * high[j] is above the k highs before it and not below the k after it (a low pivot mirrored). A second
 * pivot of the same kind replaces the last one only when it is more extreme. `onBar(t, pivots)` sees the
 * pivots known at the close of bar t.
 */
export function walkPivots(high: Float64Array, low: Float64Array, k: number, onBar: (t: number, pivots: readonly Pivot[]) => void): void {
  const pivots: Pivot[] = [];
  const push = (p: Pivot) => {
    const last = pivots[pivots.length - 1];
    if (last && last.type === p.type) {
      if (p.type === 'high' ? p.price > last.price : p.price < last.price) pivots[pivots.length - 1] = p;
    } else pivots.push(p);
  };
  for (let t = 0; t < high.length; t++) {
    const j = t - k;
    if (j >= k) {
      let isHigh = true;
      let isLow = true;
      for (let i = j - k; i <= j + k && (isHigh || isLow); i++) {
        if (i === j) continue;
        if (i < j ? high[i] >= high[j] : high[i] > high[j]) isHigh = false;
        if (i < j ? low[i] <= low[j] : low[i] < low[j]) isLow = false;
      }
      // an outside bar can be both: keep the side that continues the alternation
      if (isHigh && isLow) {
        const last = pivots[pivots.length - 1];
        if (last?.type === 'high') push({ index: j, price: low[j], type: 'low' });
        else push({ index: j, price: high[j], type: 'high' });
      } else if (isHigh) push({ index: j, price: high[j], type: 'high' });
      else if (isLow) push({ index: j, price: low[j], type: 'low' });
    }
    onBar(t, pivots);
  }
}

// ─── chart patterns ─────────────────────────────────────────────────────────────────────────────────

export type ChartPatternOptions = {
  /** Bars on each side of a swing point; it is known this many bars after it. */
  pivotBars: number;
  /** Relative tolerance for "equal" levels (the two tops, the two shoulders, a flat triangle side). */
  tolerance: number;
  /** Minimum relative depth of a pattern (tops above the neckline, head above the shoulders). */
  minDepth: number;
  /** A breakout counts only within this many bars of the pattern's last pivot. */
  maxBars: number;
  /** A triangle's width at its last pivot is at most (1 − converge) × its width at the first. */
  converge: number;
  /** Flag: the pole's bars and minimum relative move, the flag's bars and its maximum retracement of the pole. */
  poleBars: number;
  poleMin: number;
  flagBars: number;
  maxRetrace: number;
  /** Bars an event keeps its value (1 = only the breakout bar). */
  hold: number;
};

export const CHART_PATTERN_COLUMNS = ['chart_double', 'chart_head_shoulders', 'chart_triangle', 'chart_flag'] as const;

const relDiff = (a: number, b: number) => Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b));

/** The rows before which a chart pattern cannot be known (the first pivot, or the first pole + flag). */
export function chartPatternLookback(o: Pick<ChartPatternOptions, 'pivotBars' | 'poleBars' | 'flagBars'>): number {
  return Math.max(2 * o.pivotBars, o.poleBars + o.flagBars);
}

/**
 * Double top/bottom (±1 on the neckline break), head-and-shoulders and its inverse (∓1 on the neckline
 * break), converging triangles (±1 on the side broken) and flags (±1 on the break of the flag's range).
 */
export function chartPatterns(candles: Candles, o: ChartPatternOptions): Record<(typeof CHART_PATTERN_COLUMNS)[number], Float64Array> {
  const high = candles.column('high');
  const low = candles.column('low');
  const close = candles.column('close');
  const n = candles.length;
  const events = {
    chart_double: new Float64Array(n),
    chart_head_shoulders: new Float64Array(n),
    chart_triangle: new Float64Array(n),
    chart_flag: new Float64Array(n),
  };
  // the anchor pivot of the last event of each pattern: one event per formation
  const fired = { double: -1, hs: -1, triangle: -1 };
  const crossedBelow = (t: number, level: number, prevLevel: number) => close[t] < level && close[t - 1] >= prevLevel;
  const crossedAbove = (t: number, level: number, prevLevel: number) => close[t] > level && close[t - 1] <= prevLevel;

  walkPivots(high, low, o.pivotBars, (t, pivots) => {
    if (t < 1 || pivots.length < 3) return;
    const last = pivots.length - 1;

    // double top / bottom: the last three pivots are top, neckline, top (or mirrored)
    {
      const [a, neck, b] = [pivots[last - 2], pivots[last - 1], pivots[last]];
      if (fired.double !== b.index && t - b.index <= o.maxBars && relDiff(a.price, b.price) <= o.tolerance) {
        if (b.type === 'high' && Math.min(a.price, b.price) >= neck.price * (1 + o.minDepth) && crossedBelow(t, neck.price, neck.price)) {
          events.chart_double[t] = -1;
          fired.double = b.index;
        } else if (b.type === 'low' && Math.max(a.price, b.price) <= neck.price * (1 - o.minDepth) && crossedAbove(t, neck.price, neck.price)) {
          events.chart_double[t] = 1;
          fired.double = b.index;
        }
      }
    }

    // head and shoulders: shoulder, neck, head, neck, shoulder; the neckline through the two necks
    if (pivots.length >= 5) {
      const [ls, n1, head, n2, rs] = pivots.slice(last - 4);
      if (fired.hs !== rs.index && t - rs.index <= o.maxBars && relDiff(ls.price, rs.price) <= o.tolerance) {
        const neckAt = (x: number) => n1.price + ((n2.price - n1.price) * (x - n1.index)) / (n2.index - n1.index);
        if (rs.type === 'high' && head.price >= Math.max(ls.price, rs.price) * (1 + o.minDepth) && Math.min(ls.price, rs.price) > Math.max(n1.price, n2.price) && crossedBelow(t, neckAt(t), neckAt(t - 1))) {
          events.chart_head_shoulders[t] = -1;
          fired.hs = rs.index;
        } else if (rs.type === 'low' && head.price <= Math.min(ls.price, rs.price) * (1 - o.minDepth) && Math.max(ls.price, rs.price) < Math.min(n1.price, n2.price) && crossedAbove(t, neckAt(t), neckAt(t - 1))) {
          events.chart_head_shoulders[t] = 1;
          fired.hs = rs.index;
        }
      }
    }

    // converging triangle: two highs not rising, two lows not falling, the width shrinking
    if (pivots.length >= 4) {
      const four = pivots.slice(last - 3);
      const highs = four.filter((p) => p.type === 'high');
      const lows = four.filter((p) => p.type === 'low');
      const anchor = four[3].index;
      if (fired.triangle !== anchor && t - anchor <= o.maxBars) {
        const line = (p: Pivot, q: Pivot) => (x: number) => p.price + ((q.price - p.price) * (x - p.index)) / (q.index - p.index);
        const upper = line(highs[0], highs[1]);
        const lower = line(lows[0], lows[1]);
        const notRising = highs[1].price <= highs[0].price * (1 + o.tolerance);
        const notFalling = lows[1].price >= lows[0].price * (1 - o.tolerance);
        const first = four[0].index;
        const widthFirst = upper(first) - lower(first);
        const widthLast = upper(anchor) - lower(anchor);
        const widthNow = upper(t) - lower(t);
        if (notRising && notFalling && widthFirst > 0 && widthLast <= (1 - o.converge) * widthFirst && widthNow > 0) {
          if (crossedAbove(t, upper(t), upper(t - 1))) {
            events.chart_triangle[t] = 1;
            fired.triangle = anchor;
          } else if (crossedBelow(t, lower(t), lower(t - 1))) {
            events.chart_triangle[t] = -1;
            fired.triangle = anchor;
          }
        }
      }
    }
  });

  // flags: a pole of `poleBars`, then `flagBars` of tight range, then a close beyond that range
  const span = o.poleBars + o.flagBars;
  let lastFlag = -Infinity;
  for (let t = span; t < n; t++) {
    const s = t - o.flagBars; // the pole's last bar and the flag's first
    const pole = close[s] - close[s - o.poleBars];
    if (Math.abs(pole) < o.poleMin * close[s - o.poleBars]) continue;
    let top = -Infinity;
    let bottom = Infinity;
    for (let i = s; i < t; i++) {
      if (high[i] > top) top = high[i];
      if (low[i] < bottom) bottom = low[i];
    }
    const height = Math.abs(pole);
    if (top - bottom > o.maxRetrace * height || t - lastFlag <= o.flagBars) continue;
    if (pole > 0 && bottom >= close[s] - o.maxRetrace * height && close[t] > top) {
      events.chart_flag[t] = 1;
      lastFlag = t;
    } else if (pole < 0 && top <= close[s] + o.maxRetrace * height && close[t] < bottom) {
      events.chart_flag[t] = -1;
      lastFlag = t;
    }
  }

  const lookback = chartPatternLookback(o);
  for (const values of Object.values(events)) {
    if (o.hold > 1) {
      // keep each event for `hold` bars, a later event taking over
      let value = 0;
      let left = 0;
      for (let t = 0; t < n; t++) {
        if (values[t] !== 0) {
          value = values[t];
          left = o.hold;
        }
        values[t] = left-- > 0 ? value : 0;
      }
    }
    values.fill(NaN, 0, Math.min(lookback, n));
  }
  return events;
}

// ─── features ───────────────────────────────────────────────────────────────────────────────────────

export const candlePatternParams = z.object({
  dojiBody: z.number().positive().max(1).default(0.1),
  pinShadow: z.number().positive().default(2),
});

export const chartPatternParams = z.object({
  pivotBars: z.number().int().min(1).max(500).default(5),
  tolerance: z.number().min(0).max(1).default(0.02),
  minDepth: z.number().min(0).max(1).default(0.02),
  maxBars: z.number().int().min(1).default(50),
  converge: z.number().min(0).max(1).default(0.2),
  poleBars: z.number().int().min(1).default(10),
  poleMin: z.number().positive().default(0.05),
  flagBars: z.number().int().min(2).default(10),
  maxRetrace: z.number().positive().max(1).default(0.5),
  hold: z.number().int().min(1).default(1),
});

export const candlePatternsFeature = defineFeature({
  id: 'core/candle-patterns',
  version: '1.0.0',
  doc: 'Candle patterns at bar close: engulfing ±1, pin bar (hammer +1 / shooting star −1), doji 1, morning/evening star ±1.',
  params: candlePatternParams,
  lookback: () => 2,
  outputs: () => [...CANDLE_PATTERN_COLUMNS],
  compute: (candles, p) => candlePatterns(candles, p),
});

export const chartPatternsFeature = defineFeature({
  id: 'core/chart-patterns',
  version: '1.0.0',
  doc: 'Chart patterns on causal pivots, ±1 on the breakout bar: double top/bottom, head-and-shoulders (inverse), converging triangles, flags.',
  params: chartPatternParams,
  lookback: (p) => chartPatternLookback(p),
  outputs: () => [...CHART_PATTERN_COLUMNS],
  compute: (candles, p) => chartPatterns(candles, p),
});

export const patternFeatures = [candlePatternsFeature, chartPatternsFeature];
