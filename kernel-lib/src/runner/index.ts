export * from './stages';
export * from './run-record';
export * from './run-spec';
