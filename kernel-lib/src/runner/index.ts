export * from './stages';
export * from './run-record';
export * from './run-spec';
export * from './multi-coin';
export * from './add-coins';
export * from './run-plan';
