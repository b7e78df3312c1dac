export { probabilityThreshold, returnThreshold, smaCrossover, rsiMeanReversion, buyAndHold, classProbability, predictedValue, coreStrategies } from './core-strategies';
