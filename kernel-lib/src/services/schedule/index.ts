export * from './schedule-config';
export * from './clock';
export * from './run-history';
export * from './job-runner';
export * from './retrain-job';
export * from './scheduler';
