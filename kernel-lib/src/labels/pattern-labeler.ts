import { z } from 'zod';
import { defineLabeler } from '../plugins/define';
import {
  CANDLE_PATTERN_COLUMNS,
  CHART_PATTERN_COLUMNS,
  candlePatternParams,
  candlePatterns,
  chartPatternLookback,
  chartPatternParams,
  chartPatterns,
} from '../features/patterns';

const PATTERNS = [...CANDLE_PATTERN_COLUMNS, ...CHART_PATTERN_COLUMNS] as const;
export type PatternName = (typeof PATTERNS)[number];

/** Directional patterns are BEARISH/NONE/BULLISH; the doji (no direction) is NONE/DOJI. */
export const PATTERN_CLASSES = ['BEARISH', 'NONE', 'BULLISH'] as const;

/**
 * A pattern column as a classification target. bars = 0: the pattern at this bar (a recognizer target;
 * no lookahead). bars > 0: the first pattern event in the next `bars` bars (t+1 … t+bars), NONE if none;
 * NaN where those bars are past the end, and on the detector's warm-up rows.
 */
export function patternTarget(events: Float64Array, bars: number, directional: boolean): Float64Array {
  const n = events.length;
  const out = new Float64Array(n).fill(NaN);
  const classOf = (v: number) => (directional ? v + 1 : v); // −1/0/+1 → 0/1/2; 0/1 → 0/1
  for (let t = 0; t + bars < n; t++) {
    if (!Number.isFinite(events[t])) continue; // inside the detector's warm-up: no label
    if (bars === 0) {
      out[t] = classOf(events[t]);
      continue;
    }
    let value = 0;
    let known = true;
    for (let i = t + 1; i <= t + bars; i++) {
      if (!Number.isFinite(events[i])) {
        known = false;
        break;
      }
      if (events[i] !== 0) {
        value = events[i];
        break;
      }
    }
    if (known) out[t] = classOf(value);
  }
  return out;
}

export const patternLabeler = defineLabeler({
  id: 'core/pattern',
  version: '1.0.0',
  doc: 'A candle or chart pattern as a class target: at this bar (bars=0) or the first one in the next `bars` bars; BEARISH/NONE/BULLISH (doji: NONE/DOJI).',
  task: 'classification',
  params: z.object({
    pattern: z.enum(PATTERNS).default('chart_double'),
    bars: z.number().int().min(0).max(10_000).default(10),
    candle: candlePatternParams.default({}),
    chart: chartPatternParams.default({}),
  }),
  horizon: (p) => p.bars,
  lookback: (p) => ((CANDLE_PATTERN_COLUMNS as readonly string[]).includes(p.pattern) ? 2 : chartPatternLookback(p.chart)),
  label: (candles, p) => {
    const isCandle = (CANDLE_PATTERN_COLUMNS as readonly string[]).includes(p.pattern);
    const columns: Record<string, Float64Array> = isCandle ? candlePatterns(candles, p.candle) : chartPatterns(candles, p.chart);
    const directional = p.pattern !== 'candle_doji';
    return { target: patternTarget(columns[p.pattern], p.bars, directional), classes: directional ? [...PATTERN_CLASSES] : ['NONE', 'DOJI'] };
  },
});
