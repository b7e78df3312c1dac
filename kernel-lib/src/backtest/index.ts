export { runBacktest, drawdownSeries, sharpeRatio, validateBacktestSettings, type BacktestSettings, type BacktestResult, type BacktestMetrics, type Trade } from './backtest';
