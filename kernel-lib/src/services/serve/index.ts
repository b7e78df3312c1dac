export { createPredictionServer, type PredictionServer, type PredictionServerOptions } from './server';
export { createServedVersion, type ServedVersion, type PredictionAnswer, type PredictedSignal } from './predictor';
export { ServedModel, chooseArm, unitHash, describeArms, type ServedArm, type ServedModelOptions } from './served-model';
export { ServedLog, readServedLog, compareServed, servedLogFile, type ServedRecord, type ServedSwitch, type ServedComparison, type ServedVersionSummary } from './served-log';
export { parseRequestCandles, RequestError, type PredictRequest, type CandleInput } from './request';
