import { PluginError } from '../../errors';
import { Frame, OHLCV_COLUMNS, type Candles, type FrameMeta } from '../../frame/frame';
import type { FeatureContext, FeatureDefinition } from '../../plugins/define';
import { SteppedStream, type StreamingFeature } from './streaming-feature';

/**
 * The default margin of candles kept beyond a feature's lookback: 20 × lookback, at least 200 and at
 * most 5,000. Windowed kernels need no margin (their last row only reads `lookback` rows back); recursive
 * ones (EMA, Wilder) forget their start geometrically, by (1 − 1/period) per bar for Wilder's average, so
 * 20 lookbacks leave an error of about e^−20 ≈ 2e−9 of the level. The cap bounds the per-update cost.
 */
export function defaultStreamMargin(lookback: number): number {
  return Math.min(5_000, Math.max(200, 20 * lookback));
}

type BufferState = { time: number[]; columns: Record<string, number[]> };

/**
 * A stream for any feature without a twin: it keeps the last `lookback + margin` candles and recomputes
 * the batch `compute` over them on each update, returning the last row. Until the buffer is full the
 * values equal the batch ones exactly (the feature is causal); after that, windowed kernels still match
 * exactly but recursive ones (EMA-type smoothing, cumulative sums) over the truncated buffer only
 * converge to the batch value, so compare them to a tolerance. Features fitted on the run's training
 * rows (`fittedOnLeadingRows`) cannot be streamed this way and are refused.
 */
export function trailingBufferStream(
  definition: FeatureDefinition,
  params: unknown,
  context: FeatureContext,
  margin?: number,
  meta: FrameMeta = { symbol: 'STREAM', timeframe: context.timeframe },
): StreamingFeature {
  if (definition.fittedOnLeadingRows) {
    throw new PluginError(`feature ${definition.id} is fitted on the run's training rows and has no streaming twin; it cannot be recomputed over a trailing buffer (give it a stream() twin that holds the fitted parameters)`);
  }
  const lookback = definition.lookback(params, context);
  const capacity = lookback + 1 + (margin ?? defaultStreamMargin(lookback));
  const outputs = definition.outputs(params, context);
  const columns = [...OHLCV_COLUMNS, ...(definition.inputs?.(params) ?? [])];
  const initial: BufferState = { time: [], columns: Object.fromEntries(columns.map((c) => [c, []])) };
  return new SteppedStream<BufferState>({
    kind: `${definition.id}@${definition.version} ${JSON.stringify(params)} buffer ${capacity}`,
    outputs,
    requiredInputs: lookback,
    initial,
    step: (buffer, candle) => {
      buffer.time.push(candle.time);
      for (const name of columns) {
        const value = candle[name];
        if (typeof value !== 'number') throw new PluginError(`feature ${definition.id} needs column '${name}' in each streamed candle (got ${JSON.stringify(value)} at ${candle.time})`);
        buffer.columns[name].push(value);
      }
      if (buffer.time.length > capacity) {
        buffer.time.shift();
        for (const name of columns) buffer.columns[name].shift();
      }
      const frame = Frame.fromColumns(
        Float64Array.from(buffer.time),
        Object.fromEntries(columns.map((name) => [name, Float64Array.from(buffer.columns[name])])),
        meta,
      ) as Candles;
      const computed = definition.compute(frame, params, context);
      const last = buffer.time.length - 1;
      return Object.fromEntries(outputs.map((name) => [name, computed[name][last]]));
    },
  });
}
