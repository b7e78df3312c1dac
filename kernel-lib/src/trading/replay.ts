import type { Candles } from '../frame/frame';
import type { FeatureStream } from '../features/streaming/create-feature-stream';
import type { StreamCandle } from '../features/streaming/streaming-feature';
import type { FittedModel, Matrix } from '../models/model';
import type { IncrementalStrategy, StrategyDecision } from '../plugins/define';

const OHLCV = new Set(['open', 'high', 'low', 'close', 'volume']);

/** What a replay gives per candle: the features, the model's output (past the warm-up) and the strategy's decision. */
export type ReplayedCandles = {
  features: Array<Record<string, number>>;
  predictions: Array<Float32Array | undefined>;
  decisions: Array<StrategyDecision | undefined>;
};

/**
 * Feed candles through a plan's feature stream and a strategy's incremental form, as a session does one
 * candle at a time, but with the model scoring every row past the features' warm-up in one batch. The
 * stream and the strategy are left standing after the last candle (a session swapping models continues
 * from there; the prediction endpoint reads the last decision). The strategy follows every candle it can
 * see: all of them, or those with a prediction when it needs one.
 */
export async function replayCandles(
  candles: Candles,
  parts: { features: FeatureStream; strategy: IncrementalStrategy; model: FittedModel; needsPredictions: boolean; score?: (X: Matrix) => Float32Array | Promise<Float32Array> },
): Promise<ReplayedCandles> {
  const { features, strategy, model } = parts;
  const n = candles.length;
  const [open, high, low, close, volume] = (['open', 'high', 'low', 'close', 'volume'] as const).map((c) => candles.column(c));
  const time = candles.time;
  const names = model.featureNames;
  const first = features.requiredInputs;
  const predicted = Math.max(0, n - first);
  const values = new Float32Array(predicted * names.length);
  const rows: Array<Record<string, number>> = new Array(n);
  // Columns beyond OHLCV (the store's funding and open interest) go into each streamed candle too.
  const extra = candles.names.filter((name) => !OHLCV.has(name)).map((name) => [name, candles.column(name as 'close')] as const);
  for (let i = 0; i < n; i++) {
    const candle: Record<string, number> = { time: time[i], open: open[i], high: high[i], low: low[i], close: close[i], volume: volume[i] };
    for (const [name, column] of extra) candle[name] = column[i];
    const row = features.update(candle as StreamCandle);
    rows[i] = row;
    if (i >= first) for (let k = 0; k < names.length; k++) values[(i - first) * names.length + k] = row[names[k]];
  }
  const matrix = { values, rows: predicted, cols: names.length };
  const output = predicted === 0 ? new Float32Array(0) : await (parts.score ?? ((X: Matrix) => model.predict(X)))(matrix);
  const width = predicted > 0 ? output.length / predicted : 0;
  const predictions: Array<Float32Array | undefined> = new Array(n);
  const decisions: Array<StrategyDecision | undefined> = new Array(n);
  for (let i = 0; i < n; i++) {
    const prediction = i >= first ? output.subarray((i - first) * width, (i - first + 1) * width) : undefined;
    predictions[i] = prediction;
    if (!parts.needsPredictions || prediction) {
      decisions[i] = strategy.next({ bar: { time: time[i], open: open[i], high: high[i], low: low[i], close: close[i], volume: volume[i] }, prediction, features: rows[i] });
    }
  }
  return { features: rows, predictions, decisions };
}
