export { SteppedStream, encodeState, decodeState, copyState, type StreamingFeature, type StreamCandle, type StreamState } from './streaming-feature';
export { trailingBufferStream, defaultStreamMargin } from './trailing-buffer-stream';
export { createFeatureStream, type FeatureStream, type FeatureStreamOptions } from './create-feature-stream';
export * as streamingTwins from './twins';
