export { lstmClassifier, lstmRegressor, tcnClassifier, tcnRegressor, nbeatsClassifier, nbeatsRegressor, neuralModels, NeuralSequenceModel, NEURAL_MODEL_VERSION, NEURAL_FILES, type TargetScale } from './neural-model';
export {
  lstmClassifierParams,
  lstmRegressorParams,
  tcnClassifierParams,
  tcnRegressorParams,
  nbeatsClassifierParams,
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
export { crossEntropy, meanSquaredError, classificationLoss, regressionLoss, predictWindows, trainNetwork, type EpochRecord, type TrainingResult } from './training';
