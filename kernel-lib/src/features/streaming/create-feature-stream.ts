import { PluginError } from '../../errors';
import type { FrameMeta } from '../../frame/frame';
import type { FeatureContext } from '../../plugins/define';
import type { PlannedFeature } from '../compute-features';
import type { StreamCandle, StreamingFeature, StreamState } from './streaming-feature';
import { trailingBufferStream } from './trailing-buffer-stream';

/** Every feature of a run plan, streamed together: one row of all feature columns per closed candle. */
export type FeatureStream = {
  /** The feature columns, named and ordered as `computePlannedFeatures` names them. */
  readonly outputs: readonly string[];
  /** The plan's warm-up: rows before every feature has a value (the largest planned lookback). */
  readonly requiredInputs: number;
  /** Each planned feature's stream, and whether it is a twin or the trailing-buffer fallback. */
  readonly features: ReadonlyArray<{ id: string; stream: StreamingFeature; path: 'twin' | 'buffer' }>;
  update(candle: StreamCandle): Record<string, number>;
  /** Revise the last candle (the forming bar) in every feature. */
  replace(candle: StreamCandle): Record<string, number>;
  snapshot(): StreamState;
  restore(state: StreamState): void;
};

export type FeatureStreamOptions = {
  /** Candles the fallback keeps beyond each feature's lookback (default: `defaultStreamMargin`). */
  margin?: number;
  /** The series the fallback's frames describe (symbol, timeframe), for features that read them. */
  meta?: FrameMeta;
  /** Closed candles only, never `replace`: the streams skip the state copy a revision needs (faster). */
  closedOnly?: boolean;
};

/**
 * Stream the features of a run plan (`planFeatures`): each through its twin (`definition.stream`) when
 * it has one, otherwise through `trailingBufferStream`. Features with `inputs` see the candle plus the
 * columns made by the features before them, as in `computePlannedFeatures`.
 */
export function createFeatureStream(planned: readonly PlannedFeature[], context: FeatureContext, options: FeatureStreamOptions = {}): FeatureStream {
  const features = planned.map((feature) => {
    const { definition, params } = feature;
    const stream = definition.stream ? definition.stream(params, context) : trailingBufferStream(definition, params, context, options.margin, options.meta);
    if (options.closedOnly) stream.disableRevisions?.();
    if (stream.outputs.join('\u0000') !== feature.outputs.join('\u0000')) {
      throw new PluginError(`the stream of feature ${definition.id} makes [${stream.outputs.join(', ')}] but the definition declares [${feature.outputs.join(', ')}]; its stream() must declare the same outputs`);
    }
    return { id: definition.id, stream, path: definition.stream ? ('twin' as const) : ('buffer' as const), needsColumns: feature.inputs.length > 0 };
  });
  const outputs = planned.flatMap((f) => f.outputs);

  const advance = (candle: StreamCandle, method: 'update' | 'replace'): Record<string, number> => {
    const row: Record<string, number> = {};
    for (const { stream, needsColumns } of features) {
      const values = stream[method](needsColumns ? { ...candle, ...row } : candle);
      for (const name of stream.outputs) row[name] = values[name];
    }
    return row;
  };

  return {
    outputs,
    // a fitted twin with a fixed fit warms up until the fit's last row, past its declared lookback
    requiredInputs: Math.max(0, ...planned.map((f) => f.lookback), ...features.map((f) => f.stream.requiredInputs)),
    features: features.map(({ id, stream, path }) => ({ id, stream, path })),
    update: (candle) => advance(candle, 'update'),
    replace: (candle) => advance(candle, 'replace'),
    snapshot: () => ({ kind: 'feature-stream', version: 1, data: { features: features.map((f) => f.stream.snapshot()) } }),
    restore: (state) => {
      const saved = (state.data as { features?: StreamState[] }).features;
      if (state.kind !== 'feature-stream' || !Array.isArray(saved) || saved.length !== features.length) {
        throw new PluginError(`cannot restore this state (${state.kind}, ${Array.isArray(saved) ? saved.length : 'no'} features) into a stream of ${features.length} features; restore a snapshot of the same feature list`);
      }
      features.forEach((f, k) => f.stream.restore(saved[k]));
    },
  };
}
