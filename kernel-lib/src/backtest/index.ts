export { backtestSettingsSchema, parseBacktestSettings, commissionModel, slippageModel, type BacktestSettings, type BacktestSettingsInput, type CommissionModel, type SlippageModel, type SizingRule, type ExitRules, type RiskSettings } from './settings';
export { runEngine, barLength, type EngineAsset, type EngineResult, type EngineTrade, type Sleeve, type Order, type Fill, type SignalRecord, type RiskEvent, type BarContext, type FundingSeries } from './engine';
export { analyzeBacktest, classifyRegimes, drawdownSeries, sharpeOfReturns, type PerformanceMetrics, type RegimeBreakdown, type BacktestReport } from './metrics';
export { backtestTargets, sweepTargets, priceArrays, type SweepResult, type VectorizedCosts, type PriceArrays } from './vectorized';
export { RollingTail, rollingDeviation, historicalVar, portfolioVolatility } from './risk';
export { runStrategyBacktest, backtestStrategyOutput, type StrategyBacktest, type StrategyBacktestInput } from './strategy-backtest';
export { createEngineKernel, EngineBuffers, type EngineKernel, type KernelState, type KernelOptions, type Decision, type OpenTrade, type PendingOrder } from './kernel';
