import { ConfigError } from '../errors';
import { drawdownSeries, sharpeOfReturns } from './metrics';

/** One sleeve of a portfolio: its equity at its own bar-close times and the cash it started with. */
export type PortfolioSleeve = { name: string; time: Float64Array; equity: Float64Array; initialCash: number };

export type PortfolioMetrics = {
  initialCash: number;
  finalEquity: number;
  totalReturn: number;
  /** Mean / standard deviation of per-step returns of the combined equity × √periodsPerYear. */
  sharpe: number;
  maxDrawdown: number;
  periodsPerYear: number;
};

export type EqualWeightPortfolio = {
  /** The union of the sleeves' times, increasing. */
  time: Float64Array;
  /** Sum of the sleeves' equity at each time. */
  equity: Float64Array;
  /** Each sleeve's equity at each union time (its last value at or before it; its initial cash before it starts). */
  sleeves: Array<{ name: string; equity: Float64Array }>;
  drawdown: Float64Array;
  metrics: PortfolioMetrics;
};

/**
 * Coins run together, each with its own share of the cash (the caller backtests each coin with 1/N
 * of it): their equity curves summed on the union of their timestamps, a sleeve carrying its last
 * value forward and holding its cash before its first bar. Sharpe and drawdown use the backtest's
 * own helpers.
 */
export function equalWeightPortfolio(sleeves: readonly PortfolioSleeve[], periodsPerYear: number): EqualWeightPortfolio {
  if (!sleeves.length) throw new ConfigError('a portfolio needs at least one sleeve (coin)');
  for (const s of sleeves) {
    if (s.time.length !== s.equity.length) throw new ConfigError(`sleeve ${s.name} has ${s.time.length} times but ${s.equity.length} equity values`);
  }
  const time = Float64Array.from(new Set(sleeves.flatMap((s) => Array.from(s.time)))).sort();
  const equity = new Float64Array(time.length);
  const aligned = sleeves.map((s) => {
    const out = new Float64Array(time.length);
    let row = -1;
    for (let i = 0; i < time.length; i++) {
      while (row + 1 < s.time.length && s.time[row + 1] <= time[i]) row++;
      out[i] = row < 0 ? s.initialCash : s.equity[row];
      equity[i] += out[i];
    }
    return { name: s.name, equity: out };
  });
  const initialCash = sleeves.reduce((sum, s) => sum + s.initialCash, 0);
  const returns = new Float64Array(Math.max(0, equity.length - 1));
  for (let i = 1; i < equity.length; i++) returns[i - 1] = equity[i - 1] > 0 ? equity[i] / equity[i - 1] - 1 : 0;
  const drawdown = drawdownSeries(equity);
  const finalEquity = equity.length ? equity[equity.length - 1] : initialCash;
  return {
    time,
    equity,
    sleeves: aligned,
    drawdown,
    metrics: {
      initialCash,
      finalEquity,
      totalReturn: finalEquity / initialCash - 1,
      sharpe: sharpeOfReturns(returns, periodsPerYear),
      maxDrawdown: drawdown.reduce((m, d) => Math.max(m, d), 0),
      periodsPerYear,
    },
  };
}
