export { arimaRegressor, arimaClassifier, arimaModels, arimaParams, arimaOrder, ARIMA_VERSION, type ArimaParams } from './arima-model';
export { fitSarimax, searchOrders, bfgs, constrainStationary, unconstrainStationary, type SarimaxFit, type SarimaxFitOptions, type OrderCandidate } from './sarimax-fit';
export {
  KalmanFilter,
  logLikelihood,
  stateSpaceSystem,
  parameterCount,
  parameterNames,
  parameterVector,
  parametersFromVector,
  discreteLyapunov,
  DIFFUSE_VARIANCE,
  type SarimaxOrder,
  type SarimaxParameters,
  type SarimaxData,
  type StateSpaceSystem,
  type KalmanState,
} from './state-space';
