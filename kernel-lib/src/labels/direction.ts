import { z } from 'zod';
import { defineLabeler } from '../plugins/define';

/** Class ids of the direction labels. */
export const DIRECTION_CLASSES = ['SELL', 'HOLD', 'BUY'] as const;
export const SELL = 0;
export const HOLD = 1;
export const BUY = 2;

/**
 * SELL/HOLD/BUY by the return from this bar's close to the close `bars` bars later against a symmetric
 * threshold. The last `bars` rows have no future close: their label is NaN (masked, never filled).
 */
export function directionLabels(close: Float64Array, bars: number, threshold: number): Float64Array {
  const out = new Float64Array(close.length).fill(NaN);
  for (let i = 0; i + bars < close.length; i++) {
    const forward = close[i + bars] / close[i] - 1;
    out[i] = forward > threshold ? BUY : forward < -threshold ? SELL : HOLD;
  }
  return out;
}

export const directionLabeler = defineLabeler({
  id: 'core/direction',
  version: '1.0.0',
  doc: 'SELL/HOLD/BUY by the return over the next `bars` bars against a threshold (seed defaults: 5 bars, 0.5%).',
  task: 'classification',
  params: z.object({
    bars: z.number().int().positive().default(5),
    threshold: z.number().positive().max(1).default(0.005),
  }),
  horizon: (p) => p.bars,
  label: (candles, p) => ({ target: directionLabels(candles.column('close'), p.bars, p.threshold), classes: [...DIRECTION_CLASSES] }),
});
