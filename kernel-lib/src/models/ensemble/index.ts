export {
  ensembleClassifier,
  ensembleRegressor,
  ensembleModels,
  ensembleClassifierParams,
  ensembleRegressorParams,
  ensembleWeights,
  meanLogLoss,
  rootMeanSquaredError,
  EnsembleModel,
  ENSEMBLE_FILE,
  ENSEMBLE_VERSION,
  type EnsembleClassifierParams,
  type EnsembleRegressorParams,
  type StackingDiagnostics,
} from './ensemble-model';
export { purgedFolds, MIN_FOLD_TRAIN_ROWS, type Fold, type OofScheme, type FoldRange as RowRange } from '../../validation/purged-kfold';
export { fitLogistic, predictLogistic, fitRidge, predictRidge, standardization, type LogisticModel, type RidgeModel, type Standardization } from './linear';
