export { probabilityThreshold, returnThreshold, quantileThreshold, smaCrossover, rsiMeanReversion, buyAndHold, classProbability, predictedValue, predictedColumn, coreStrategies } from './core-strategies';
export { stepStrategy, trailingBufferStrategy, strategyBufferBars, RollingSum, RollingRsi } from './incremental';
