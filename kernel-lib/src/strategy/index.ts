export { probabilityThreshold, buyAndHold, classProbability, coreStrategies } from './core-strategies';
