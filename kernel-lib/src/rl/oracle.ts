import { ConfigError } from '../errors';
import type { EnvironmentCosts } from './trading-env';

/** The best return any short/flat/long policy can make on known prices, and the targets that make it. */
export type OracleResult = {
  /** Final equity / initial equity − 1. */
  readonly totalReturn: number;
  /** The target decided at each bar's close (rows − 1 decisions; the last bar only closes). */
  readonly targets: Float64Array;
};

/**
 * The exact optimum over discrete policies (targets −1, 0, 1) with the environment's costs, by dynamic
 * programming. With equity-fraction sizing and proportional costs, every trade multiplies the equity it
 * starts with by a factor that depends only on its side, entry fill and exit fill, and flat bars keep it:
 * the best log-equity at each fill row is a longest path over trades, O(rows²). Fills are at the next
 * bar's open (fill 'next-open'); whatever is open closes at the last bar's close, as in the engine.
 */
export function oraclePolicy(open: Float64Array, close: Float64Array, costs: EnvironmentCosts): OracleResult {
  if (costs.fill !== 'next-open') throw new ConfigError(`oraclePolicy models fills at the next open; got fill '${costs.fill}'`);
  if (costs.commission.kind !== 'rate') throw new ConfigError('oraclePolicy needs a proportional commission (bps), not a fixed fee per fill');
  if (costs.exclusive) throw new ConfigError('oraclePolicy assumes exclusive: false');
  const n = close.length;
  const c = costs.commission.rate;
  const s = costs.slippage;
  const f = costs.fraction;
  const sides = costs.allowShort ? [1, -1] : [1];
  // equity factor of one trade: entry fill at price pe, exit fill at price px (the environment's arithmetic in closed form)
  const factor = (side: number, pe: number, px: number): number =>
    side > 0 ? 1 - f + (f * px * (1 - s) * (1 - c)) / (pe * (1 + s) * (1 + c)) : 1 + (f * (1 - c)) / (1 + c) - (f * px * (1 + s)) / (pe * (1 - s));
  // best[j]: best log-equity, flat, just before the fills at row j's open (fill rows 1 … n − 1)
  const best = new Float64Array(n).fill(-Infinity);
  const from = new Int32Array(n).fill(-1);
  const side = new Int8Array(n);
  best[1] = 0;
  for (let j = 2; j < n; j++) {
    best[j] = best[j - 1];
    from[j] = -1;
    for (let i = 1; i < j; i++) {
      for (const d of sides) {
        const g = factor(d, open[i], open[j]);
        if (g > 0 && best[i] + Math.log(g) > best[j]) {
          best[j] = best[i] + Math.log(g);
          from[j] = i;
          side[j] = d;
        }
      }
    }
  }
  // the end: stay flat, or hold a trade entered at some row's open until the last close
  let final = best[n - 1];
  let lastEntry = -1;
  let lastSide = 0;
  for (let i = 1; i < n; i++) {
    for (const d of sides) {
      const g = factor(d, open[i], close[n - 1]);
      if (g > 0 && best[i] + Math.log(g) > final) {
        final = best[i] + Math.log(g);
        lastEntry = i;
        lastSide = d;
      }
    }
  }
  // walk back: the target decided at row t is the side held over fill row t + 1
  const targets = new Float64Array(n - 1);
  let j = n - 1;
  if (lastEntry >= 0) {
    for (let r = lastEntry; r < n; r++) targets[r - 1] = lastSide;
    j = lastEntry;
  }
  while (j > 1) {
    if (from[j] < 0) {
      j--;
      continue;
    }
    const i = from[j];
    for (let r = i; r < j; r++) targets[r - 1] = side[j];
    j = i;
  }
  return { totalReturn: Math.exp(final) - 1, targets };
}
