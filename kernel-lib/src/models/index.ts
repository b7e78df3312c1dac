export type { Matrix, Segment, TrainingData, ModelContext, Artifact, FittedModel, ModelStream } from './model';
export { classificationMetrics, rocAuc, type ClassificationMetrics, type ClassMetrics } from './classification-metrics';
export { regressionMetrics, type RegressionMetrics } from './regression-metrics';
export { measureInference, assertFeatureNames, type InferenceTimings } from './inference';
export {
  xgboostClassifier,
  xgboostRegressor,
  xgboostClassifierParams,
  xgboostRegressorParams,
  balancedWeights,
  featureImportance,
  XgboostModel,
  type FeatureImportance,
  type XgboostClassifierParams,
  type XgboostRegressorParams,
  type XgboostClassifierModel,
  type XgboostRegressorModel,
} from './xgboost/xgboost-model';
export { Booster, DMatrix, libxgboostVersion } from './xgboost/libxgboost';
export { compileXgboostTrees, type CompiledTrees } from './xgboost/compiled-trees';
export { xgboostJsonToOnnx } from './onnx/tree-ensemble';
export { OnnxSession } from './onnx/onnx-session';
export * as neural from './neural';
export { lstmClassifier, lstmRegressor, tcnClassifier, tcnRegressor, nbeatsClassifier, nbeatsRegressor, deepar, NeuralSequenceModel, loadTf } from './neural';
export type { ModelRef, ResolvedModel } from './model';
export * as ensemble from './ensemble';
export { ensembleClassifier, ensembleRegressor, EnsembleModel } from './ensemble';
export * as arima from './arima';
export { arimaRegressor, arimaClassifier, fitSarimax, KalmanFilter, type SarimaxOrder, type SarimaxFit } from './arima';
