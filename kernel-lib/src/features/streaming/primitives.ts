import { EXACT_EVERY } from '../kernels';

/**
 * One-step versions of the batch kernels' loops (kernels.ts), over plain state objects so a stream can
 * be copied, persisted and restored. Each step performs the same floating-point operations in the same
 * order as the batch loop, so a twin built from them gives bit-identical values, not merely close ones.
 */

/** EMA with weight 2/(period+1) seeded with the first value, as `emaKernel`; NaN for the first period − 1 values. */
export type EmaState = { period: number; seen: number; previous: number };
export const emaState = (period: number): EmaState => ({ period, seen: 0, previous: NaN });
export function emaStep(s: EmaState, price: number): number {
  const weight = 2 / (s.period + 1);
  s.previous = s.seen === 0 ? price * weight + price * (1 - weight) : price * weight + s.previous * (1 - weight);
  return s.seen++ >= s.period - 1 ? s.previous : NaN;
}

/** The same EMA without the warm-up mask (MACD's fast and slow lines, `emaUnmasked` in kernels.ts). */
export function emaUnmaskedStep(s: EmaState, price: number): number {
  const weight = 2 / (s.period + 1);
  s.previous = price * weight + (s.seen === 0 ? price : s.previous) * (1 - weight);
  s.seen++;
  return s.previous;
}

/** Wilder's smoothing (`wilderKernel`): the simple mean of the first `period` values, then previous + (x − previous)/period. */
export type WilderState = { period: number; seen: number; seedSum: number; previous: number };
export const wilderState = (period: number): WilderState => ({ period, seen: 0, seedSum: 0, previous: NaN });
export function wilderStep(s: WilderState, value: number): number {
  const count = ++s.seen;
  if (count < s.period) {
    s.seedSum += value;
    return NaN;
  }
  if (count === s.period) {
    s.seedSum += value;
    s.previous = s.seedSum / s.period;
  } else {
    s.previous = (value - s.previous) * (1 / s.period) + s.previous;
  }
  return s.previous;
}

/** The last `size` values, oldest overwritten first; `at(k)` is the value k steps back (0 = newest). */
export type RingState = { size: number; values: number[]; seen: number };
export const ringState = (size: number): RingState => ({ size, values: new Array<number>(size).fill(NaN), seen: 0 });
/** Push a value; returns the value it overwrote (NaN while the ring is filling). */
export function ringPush(r: RingState, value: number): number {
  const slot = r.seen % r.size;
  const old = r.values[slot];
  r.values[slot] = value;
  r.seen++;
  return old;
}
/** The value `back` steps before the newest (0 = newest); NaN if not yet seen. */
export function ringAt(r: RingState, back: number): number {
  const index = r.seen - 1 - back;
  return index < 0 || back >= r.size ? NaN : r.values[index % r.size];
}

/** Simple moving average with a running sum (`smaKernel`, `smaFrom`): add the new value, then drop the oldest. */
export type SmaState = { period: number; sum: number; ring: RingState };
export const smaState = (period: number): SmaState => ({ period, sum: 0, ring: ringState(period) });
export function smaStep(s: SmaState, value: number): number {
  const leaving = ringPush(s.ring, value);
  s.sum += value;
  if (s.ring.seen > s.period) s.sum -= leaving;
  return s.ring.seen >= s.period ? s.sum / s.period : NaN;
}

/**
 * Mean and sum of squared deviations of the trailing window (`rollingMoments`): a sliding Welford update
 * with the batch kernel's exact two-pass recomputation every EXACT_EVERY rows and on near-flat windows.
 */
export type MomentsState = { window: number; ring: RingState; nans: number; mean: number; m2: number; since: number };
export const momentsState = (window: number): MomentsState => ({ window, ring: ringState(window), nans: 0, mean: 0, m2: 0, since: EXACT_EVERY });
export function momentsStep(s: MomentsState, x: number): { mean: number; m2: number } {
  const { window, ring } = s;
  const i = ring.seen;
  const y = ringPush(ring, x);
  if (x !== x) s.nans++;
  if (i >= window && y !== y) s.nans--;
  if (i < window - 1) return { mean: NaN, m2: NaN };
  if (s.nans > 0) {
    s.since = EXACT_EVERY;
    return { mean: NaN, m2: NaN };
  }
  let exact = s.since >= EXACT_EVERY;
  if (!exact) {
    const next = s.mean + (x - y) / window;
    s.m2 += (x - y) * (x - next + y - s.mean);
    s.mean = next;
    s.since++;
    exact = s.m2 <= 1e-9 * window * s.mean * s.mean;
  }
  if (exact) {
    // two passes over the window, oldest first (the batch kernel's order)
    let sum = 0;
    for (let back = window - 1; back >= 0; back--) sum += ringAt(ring, back);
    const mean = sum / window;
    let m2 = 0;
    for (let back = window - 1; back >= 0; back--) m2 += (ringAt(ring, back) - mean) * (ringAt(ring, back) - mean);
    s.mean = mean;
    s.m2 = m2;
    s.since = 0;
  }
  return { mean: s.mean, m2: s.m2 };
}

/** z-score against the trailing window with the sample deviation (`zScoreKernel`); 0 when flat. */
export function zScoreStep(s: MomentsState, x: number): number {
  const { mean, m2 } = momentsStep(s, x);
  if (Number.isNaN(m2)) return NaN;
  const deviation = Math.sqrt(m2 / (s.window - 1));
  return deviation > 0 ? (x - mean) / deviation : 0;
}

/** Highest and lowest value over the ring's full window; NaN until it is full (`rollingExtremes`). */
export function ringExtremes(highs: RingState, lows: RingState): { highest: number; lowest: number } {
  if (highs.seen < highs.size) return { highest: NaN, lowest: NaN };
  let highest = -Infinity;
  let lowest = Infinity;
  for (let k = 0; k < highs.size; k++) {
    if (highs.values[k] > highest) highest = highs.values[k];
    if (lows.values[k] < lowest) lowest = lows.values[k];
  }
  return { highest, lowest };
}
