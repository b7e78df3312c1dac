export { fitScaler, transform, type FittedScaler, type ScalerKind } from './scalers';
export { SequenceWindows, augmentWindow, type AugmentOptions } from './sequences';
