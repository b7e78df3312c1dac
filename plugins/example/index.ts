/**
 * An example candlelab plugin: one feature and one strategy, written exactly as a third-party plugin
 * would be (the built-ins use the same definePlugin API). Copy this folder to start your own.
 */
import { defineFeature, definePlugin, defineStrategy, features, strategy, z } from 'candlelab';

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
  features: [zscoreFeature],
  strategies: [trendFilteredStrategy],
});
