export { lstmClassifier, lstmRegressor, tcnClassifier, tcnRegressor, nbeatsClassifier, nbeatsRegressor, deepar, neuralModels, NeuralSequenceModel, NEURAL_MODEL_VERSION, NEURAL_FILES, type TargetScale } from './neural-model';
export {
  lstmClassifierParams,
  lstmRegressorParams,
  tcnClassifierParams,
  tcnRegressorParams,
  nbeatsClassifierParams,
  deeparParamsSchema,
  type DeeparParams,
  nbeatsRegressorParams,
  type NbeatsClassifierParams,
  type NbeatsRegressorParams,
  type LstmClassifierParams,
  type LstmRegressorParams,
  type TcnClassifierParams,
  type TcnRegressorParams,
} from './params';
export { loadTf, requestedBackend, TF_BACKEND_CHOICES, type Tf, type TfRuntime, type TfBackendName, type TfBackendChoice } from './tf';
export { buildNetwork, type Network, type NetworkShape } from './architectures';
export { crossEntropy, meanSquaredError, classificationLoss, regressionLoss, predictWindows, trainNetwork, augmentBatch, type Objective, type EpochRecord, type TrainingResult } from './training';
export { DistributionHead, studentTQuantile, studentTCdf, logGamma, type DistributionName } from './distributions';
export { coinEmbeddingParams, coinEmbeddingWeights, coinEmbeddingBranch, type CoinEmbeddingParams } from './coin-embedding';
