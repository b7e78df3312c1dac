export { splitChronological, featureMatrix, trainingSegment, type ChronologicalSplit, type SegmentRange, type SplitFractions } from './split';
export {
  purgeAndEmbargo,
  parseLength,
  addLength,
  embargoRows,
  rowAtOrAfter,
  rowCount,
  describeFold,
  MIN_FOLD_ROWS,
  type RowRange,
  type SplitIndex,
  type ValidationFold,
  type BacktestPath,
  type Split,
  type Length,
} from './splitter';
export { walkForwardSplit, walkForwardSplitter, walkForwardParams, type WalkForwardParams } from './walk-forward';
export { purgedKFoldSplit, purgedKFoldSplitter, purgedKFoldParams, purgedFolds, contiguousBlocks, type PurgedKFoldParams } from './purged-kfold';
export { cpcvSplit, cpcvSplitter, cpcvParams, binomial, combinations, type CpcvParams } from './cpcv';
export { coreSplitters } from './core-splitters';
export {
  probabilityOfBacktestOverfitting,
  pathProbabilityOfBacktestOverfitting,
  deflatedSharpe,
  probabilisticSharpe,
  expectedMaxSharpe,
  normalCdf,
  normalQuantile,
  returnMoments,
  type BacktestOverfitting,
  type PathOverfitting,
  type DeflatedSharpe,
} from './overfitting';
