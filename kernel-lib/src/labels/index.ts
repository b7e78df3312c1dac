export { directionLabels, directionLabeler, DIRECTION_CLASSES, SELL, HOLD, BUY } from './direction';
export * from './core-labelers';
export * from './pattern-labeler';
