export * from './kernels';
export * from './core-features';
export { computeFeatures, type FeatureSet } from './compute-features';
export * from './more-features';
export { resampleCandles, alignToBase, timeframeRatio } from './resample';
export { featureContext } from './compute-features';
export { tradingSignalsFeature, tradingSignalsIndicators } from './trading-signals-feature';
export * from './model-features';
export * from './patterns';
