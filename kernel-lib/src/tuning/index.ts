/**
 * Hyperparameter tuning with Optuna's design and names (camelCase): studies, trials, samplers (TPE,
 * random, grid, NSGA-II), pruners (median, successive halving, Hyperband), in-memory and journal-file
 * storages (several processes can share one journal), and plotly figures of the results.
 */
export { createStudy, loadStudy, Study, type CreateStudyOptions, type OptimizeOptions, type Objective, type TellResult, type EnqueueOptions, type CatchOption } from './study';
export { Trial, TrialPruned } from './trial';
export { lastStep, isFinished, type FrozenTrial, type TrialState, type StudyDirection, type StudyView } from './frozen-trial';
export {
  floatDistribution,
  intDistribution,
  categoricalDistribution,
  toInternal,
  toExternal,
  distributionContains,
  distributionsEqual,
  describeDistribution,
  type Distribution,
  type FloatDistribution,
  type IntDistribution,
  type CategoricalDistribution,
  type CategoricalChoice,
  type ParamValue,
  type NumericOptions,
} from './distributions';
export { dominates, paretoFront } from './pareto-front';
export type { Sampler } from './samplers/sampler';
export { TPESampler, defaultGamma, defaultWeights, intersectionSearchSpace, type TPESamplerOptions } from './samplers/tpe';
export { ParzenEstimator, type ParzenEstimatorParameters } from './samplers/parzen-estimator';
export { RandomSampler, type RandomSamplerOptions } from './samplers/random';
export { GridSampler } from './samplers/grid';
export { NSGAIISampler, nonDominatedSort, crowdingDistanceSort, type NSGAIISamplerOptions } from './samplers/nsga2';
export type { Pruner } from './pruners/pruner';
export { NopPruner } from './pruners/nop';
export { MedianPruner, PercentilePruner, type PercentilePrunerOptions } from './pruners/median';
export { SuccessiveHalvingPruner, type SuccessiveHalvingPrunerOptions } from './pruners/successive-halving';
export { HyperbandPruner, type HyperbandPrunerOptions } from './pruners/hyperband';
export type { Storage, StudyRecord, TrialTemplate } from './storage/storage';
export { InMemoryStorage, type InMemoryStorageOptions, type StorageRecord } from './storage/in-memory';
export { JournalFileStorage, type JournalFileStorageOptions } from './storage/journal-file';
export { paramImportances, type ParamImportanceOptions } from './importance';
export {
  optimizationHistoryFigure,
  intermediateValuesFigure,
  parallelCoordinateFigure,
  paramImportancesFigure,
  paretoFrontFigure,
  type StudyResults,
  type TargetOptions,
} from './views';
