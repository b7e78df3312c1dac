/**
 * An example candlelab plugin: a data source, two features and a strategy, written exactly as a
 * third-party plugin would be (the built-ins use the same definePlugin API). `candlelab plugin test
 * plugins/example` runs the contract suites on it; `candlelab plugin new` scaffolds a package like it.
 */
import { defineFeature, definePlugin, defineSource, defineStrategy, features, strategy, z } from 'candlelab';

const HOUR = 3_600_000;
/** Where the index's history starts: every value is computed from here, so a value never depends on the span asked for. */
const ORIGIN = Date.UTC(2015, 0, 1);

/**
 * A market-sentiment index (0 = fear, 100 = greed), as a sentiment provider publishes one: a reading
 * every `everyHours`, published `delayMinutes` after the hour it describes. Seeded and synthetic here
 * (no network in an example); a real source would read a provider's API or a file the same way. Its
 * rows carry their publication time as `knownAt`, so a bar sees a reading only after it was published.
 */
export const sentimentSource = defineSource({
  id: 'example/sentiment',
  version: '1.0.0',
  doc: 'A seeded market-sentiment index (0–100) published every `everyHours` with a `delayMinutes` lag: a column source for data.side.',
  provides: 'columns',
  params: z.object({
    everyHours: z.number().int().min(1).max(24).default(4),
    delayMinutes: z.number().int().min(0).max(1440).default(15),
    seed: z.number().int().min(0).default(1),
    column: z.string().regex(/^\w+$/).default('sentiment'),
  }),
  outputs: (p) => [p.column],
  load: (p, context) => {
    const times = context.barTimes ?? new Float64Array();
    const step = p.everyHours * HOUR;
    const end = times.length ? times[times.length - 1] + 24 * HOUR : ORIGIN;
    const first = times.length ? Math.max(ORIGIN, times[0] - 7 * 24 * HOUR) : ORIGIN;
    const knownAt: number[] = [];
    const values: number[] = [];
    // An AR(1) walk from the origin, seeded per reading: the k-th reading is the same whatever span is loaded.
    let state = 0;
    for (let k = 0, t = ORIGIN; t < end; k++, t += step) {
      state = 0.97 * state + 0.25 * noise(p.seed, k);
      if (t >= first) {
        knownAt.push(t + step + p.delayMinutes * 60_000); // a reading describes [t, t + step) and is published after it
        values.push(50 + 50 * Math.tanh(state));
      }
    }
    return { knownAt: Float64Array.from(knownAt), columns: { [p.column]: Float64Array.from(values) } };
  },
});

/** A deterministic standard-ish normal from (seed, k): a hash, then Box-Muller. */
function noise(seed: number, k: number): number {
  const hash = (x: number): number => {
    let h = (x ^ 0x9e3779b9) >>> 0;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
    return ((h ^ (h >>> 16)) >>> 0) / 4_294_967_296;
  };
  const u = Math.max(1e-12, hash(seed * 1_000_003 + 2 * k));
  const v = hash(seed * 1_000_003 + 2 * k + 1);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** The change of a side column (the sentiment index by default) over `window` bars. */
export const sentimentChangeFeature = defineFeature({
  id: 'example/sentiment-change',
  version: '1.0.0',
  doc: "Change of the data's sentiment column over `window` bars (join example/sentiment with data.side).",
  params: z.object({ window: z.number().int().min(1).default(24), column: z.string().default('sentiment') }),
  inputs: (p) => [p.column],
  lookback: (p) => p.window,
  outputs: (p) => [`${p.column}_change_${p.window}`],
  compute: (candles, p) => {
    const values = candles.column(p.column as 'close');
    const out = new Float64Array(values.length).fill(NaN);
    for (let i = p.window; i < values.length; i++) out[i] = values[i] - values[i - p.window];
    return { [`${p.column}_change_${p.window}`]: out };
  },
});

/** How far the close is from its rolling mean, in rolling standard deviations (population). */
export const zscoreFeature = defineFeature({
  id: 'example/zscore',
  version: '1.0.0',
  doc: 'Rolling z-score of the close: (close - mean) / standard deviation over `window` bars.',
  params: z.object({ window: z.number().int().min(2).default(48) }),
  lookback: (p) => p.window - 1,
  outputs: (p) => [`zscore_${p.window}`],
  compute: (candles, p) => {
    const close = candles.column('close');
    const out = new Float64Array(close.length).fill(NaN);
    for (let i = p.window - 1; i < close.length; i++) {
      let sum = 0;
      for (let j = i - p.window + 1; j <= i; j++) sum += close[j];
      const mean = sum / p.window;
      let squares = 0;
      for (let j = i - p.window + 1; j <= i; j++) squares += (close[j] - mean) ** 2;
      const deviation = Math.sqrt(squares / p.window);
      out[i] = deviation > 0 ? (close[i] - mean) / deviation : 0;
    }
    return { [`zscore_${p.window}`]: out };
  },
});

/**
 * Long when the classifier's P(BUY) clears a threshold and the close is above its simple moving
 * average (trade with the trend only). Flat while the average warms up.
 */
export const trendFilteredStrategy = defineStrategy({
  id: 'example/trend-filtered',
  version: '1.0.0',
  doc: 'Long when P(BUY) > threshold and close > SMA(trendWindow); flat otherwise.',
  needs: { predictions: true, task: 'classification' },
  params: z.object({
    threshold: z.number().min(0).max(1).default(0.45),
    trendWindow: z.number().int().min(2).default(100),
  }),
  targets: (input, p) => {
    const buy = strategy.classProbability(input, 'BUY');
    const close = input.candles.column('close');
    const trend = features.smaKernel(close, p.trendWindow);
    const out = new Float64Array(close.length);
    for (let i = 0; i < close.length; i++) out[i] = buy[i] > p.threshold && close[i] > trend[i] ? 1 : 0;
    return out;
  },
});

export default definePlugin({
  id: '@candlelab/plugin-example',
  version: '0.1.0',
  sources: [sentimentSource],
  features: [zscoreFeature, sentimentChangeFeature],
  strategies: [trendFilteredStrategy],
});
