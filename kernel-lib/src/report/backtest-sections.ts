import type { StrategyBacktest } from '../backtest/strategy-backtest';
import { drawdownFigure, equityFigure, priceWithSignalsFigure } from './charts';
import { keyValueTable, recordsTable, type ReportSection } from './html-report';

const pct = (x: number | null): string => (x === null ? '—' : `${(100 * x).toFixed(2)}%`);

/**
 * The report sections of a backtest: metrics, regimes, price with trades (one chart per asset), equity,
 * drawdown, the trade log, signals and the risk monitors' log.
 */
export function backtestSections(backtest: Pick<StrategyBacktest, 'assets' | 'result' | 'report'>): ReportSection[] {
  const { result, report } = backtest;
  const m = report.metrics;
  return [
    {
      title: 'Backtest metrics',
      html:
        `<div class="grid"><div>${keyValueTable([
          ['total return', pct(m.totalReturn)],
          ['buy and hold return', pct(m.buyHoldReturn)],
          ['CAGR', pct(m.cagr)],
          ['annualized volatility', pct(m.annualVolatility)],
          ['Sharpe', m.sharpe],
          ['Sortino', m.sortino],
          ['Calmar', m.calmar],
          ['max drawdown', pct(m.maxDrawdown)],
          ['longest drawdown', `${m.maxDrawdownBars} bars (${m.maxDrawdownDays.toFixed(1)} days)`],
        ])}</div><div>${keyValueTable([
          ['trades', m.numTrades],
          ['win rate', pct(m.winRate)],
          ['profit factor', m.profitFactor],
          ['expectancy (cash / trade)', m.expectancy],
          ['average trade', m.averageTradeBars === null ? null : `${m.averageTradeBars.toFixed(1)} bars (${m.averageTradeHours!.toFixed(1)} h)`],
          ['exposure time', pct(m.exposure)],
          ['fees', m.totalFees],
          ['slippage', m.totalSlippage],
          ['funding', m.totalFunding],
          ['final equity', m.finalEquity],
        ])}</div></div>`,
    },
    {
      title: 'By market regime (trailing trend)',
      html: recordsTable(
        report.regimes.map((r) => ({ regime: r.regime, bars: r.bars, 'strategy return': pct(r.strategyReturn), 'buy and hold return': pct(r.buyHoldReturn), sharpe: r.sharpe })),
      ),
    },
    {
      title: 'Price and trades',
      figures: backtest.assets.map((asset) =>
        priceWithSignalsFigure(asset.candles, result.trades.filter((t) => t.asset === asset.symbol), `${asset.symbol}: price and trades`),
      ),
    },
    { title: 'Equity and drawdown', figures: [equityFigure(backtest), drawdownFigure(backtest)] },
    {
      title: 'Trades',
      html: recordsTable(
        result.trades.map((t) => ({
          ...(backtest.assets.length > 1 ? { asset: t.asset, strategy: t.sleeve } : {}),
          side: t.side, entry: new Date(t.entryTime).toISOString(), 'entry price': t.entryPrice, exit: new Date(t.exitTime).toISOString(),
          'exit price': t.exitPrice, units: t.units, pnl: t.pnl, 'return %': 100 * t.returnPct, bars: t.bars, fees: t.fees, reason: t.exitReason,
        })),
        100,
      ),
    },
    {
      title: 'Signals',
      html: recordsTable(
        result.signals.map((s) => ({ time: s.time, signal: s.signal, confidence: s.confidence, entry: s.entry, 'stop loss': s.stop_loss, 'take profit': s.take_profit, 'risk/reward': s.risk_reward, reasoning: s.reasoning })),
        50,
      ),
    },
    { title: 'Risk monitor log', html: recordsTable(result.riskEvents.map((e) => ({ ...e })), 100) },
  ];
}
