export * from './kernels';
export * from './core-features';
export { computeFeatures, type FeatureSet } from './compute-features';
export * from './more-features';
