export type { Matrix, Segment, TrainingData, ModelContext, Artifact, FittedModel } from './model';
export { classificationMetrics, type ClassificationMetrics } from './classification-metrics';
export { xgboostClassifier, xgboostClassifierParams, balancedWeights, type XgboostClassifierParams, type XgboostClassifierModel } from './xgboost/xgboost-classifier';
export { Booster, DMatrix, libxgboostVersion } from './xgboost/libxgboost';
export { xgboostJsonToOnnx } from './onnx/tree-ensemble';
export { OnnxSession } from './onnx/onnx-session';
export * as neural from './neural';
export { lstmClassifier, lstmRegressor, tcnClassifier, tcnRegressor, NeuralSequenceModel, loadTf } from './neural';
