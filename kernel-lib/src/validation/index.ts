export { splitChronological, featureMatrix, trainingSegment, type ChronologicalSplit, type SegmentRange, type SplitFractions } from './split';
