// The XGBoost models live in xgboost-model.ts (classifier and regressor share the training code).
export * from './xgboost-model';
