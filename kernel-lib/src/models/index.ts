export type { Matrix, Segment, TrainingData, ModelContext, Artifact, FittedModel } from './model';
export { classificationMetrics, type ClassificationMetrics } from './classification-metrics';
export { xgboostClassifier, xgboostClassifierParams, balancedWeights, type XgboostClassifierParams, type XgboostClassifierModel } from './xgboost/xgboost-classifier';
export { Booster, DMatrix, libxgboostVersion } from './xgboost/libxgboost';
export { xgboostJsonToOnnx } from './onnx/tree-ensemble';
export { OnnxSession } from './onnx/onnx-session';
