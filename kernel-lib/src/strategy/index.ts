export { probabilityThreshold, returnThreshold, smaCrossover, rsiMeanReversion, buyAndHold, classProbability, predictedValue, coreStrategies } from './core-strategies';
export { stepStrategy, trailingBufferStrategy, strategyBufferBars, RollingSum, RollingRsi } from './incremental';
