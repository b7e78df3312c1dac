import type { Candles } from '../frame/frame';
import type { EngineTrade } from '../backtest/engine';
import type { StrategyBacktest } from '../backtest/strategy-backtest';
import type { ClassificationMetrics } from '../models/classification-metrics';

/** A plotly.js figure as plain JSON: what Plotly.newPlot takes and notebooks render. */
export type Figure = {
  data: Array<Record<string, unknown>>;
  layout: Record<string, unknown>;
};

const BASE_LAYOUT = {
  margin: { l: 60, r: 20, t: 40, b: 40 },
  height: 380,
  legend: { orientation: 'h', y: -0.15 },
};

const timeAxis = { type: 'date', title: { text: 'time (UTC)' } };

/** Close price with the trades' entries and exits marked. */
export function priceWithSignalsFigure(candles: Candles, trades: readonly EngineTrade[], title = 'Price and trades'): Figure {
  const entriesLong = trades.filter((t) => t.side === 'long');
  const entriesShort = trades.filter((t) => t.side === 'short');
  return {
    data: [
      { type: 'scattergl', mode: 'lines', name: `${candles.meta.symbol} close`, x: Array.from(candles.time), y: Array.from(candles.column('close')), line: { width: 1, color: '#4a5568' } },
      {
        type: 'scattergl', mode: 'markers', name: 'long entry', x: entriesLong.map((t) => t.entryTime), y: entriesLong.map((t) => t.entryPrice),
        marker: { symbol: 'triangle-up', size: 9, color: '#2f855a' },
      },
      {
        type: 'scattergl', mode: 'markers', name: 'short entry', x: entriesShort.map((t) => t.entryTime), y: entriesShort.map((t) => t.entryPrice),
        marker: { symbol: 'triangle-down', size: 9, color: '#c53030' },
      },
      {
        type: 'scattergl', mode: 'markers', name: 'exit', x: trades.map((t) => t.exitTime), y: trades.map((t) => t.exitPrice),
        marker: { symbol: 'x', size: 7, color: '#2b6cb0' },
      },
    ],
    layout: { ...BASE_LAYOUT, title: { text: title }, xaxis: timeAxis, yaxis: { title: { text: 'price' } } },
  };
}

/** Strategy equity against buy-and-hold on the same bars (at bar close times). */
export function equityFigure(backtest: Pick<StrategyBacktest, 'result' | 'report'>, title = 'Equity'): Figure {
  const x = Array.from(backtest.result.time);
  return {
    data: [
      { type: 'scattergl', mode: 'lines', name: 'strategy', x, y: Array.from(backtest.result.equity), line: { color: '#2b6cb0' } },
      { type: 'scattergl', mode: 'lines', name: 'buy and hold', x, y: Array.from(backtest.report.buyHoldEquity), line: { color: '#a0aec0', dash: 'dot' } },
    ],
    layout: { ...BASE_LAYOUT, title: { text: title }, xaxis: timeAxis, yaxis: { title: { text: 'equity' } } },
  };
}

/** Drawdown from the running peak, in percent. */
export function drawdownFigure(backtest: Pick<StrategyBacktest, 'result' | 'report'>, title = 'Drawdown'): Figure {
  return {
    data: [
      {
        type: 'scatter', mode: 'lines', name: 'drawdown', x: Array.from(backtest.result.time), y: Array.from(backtest.report.drawdown, (d) => -100 * d),
        fill: 'tozeroy', line: { color: '#c53030', width: 1 },
      },
    ],
    layout: { ...BASE_LAYOUT, title: { text: title }, xaxis: timeAxis, yaxis: { title: { text: '% below peak' } } },
  };
}

/** Confusion matrix (rows: true class, columns: predicted class) with counts in the cells. */
export function confusionMatrixFigure(metrics: ClassificationMetrics, title = 'Confusion matrix'): Figure {
  const names = metrics.perClass.map((c) => c.name);
  const largest = Math.max(1, ...metrics.confusion.flat());
  const annotations = metrics.confusion.flatMap((row, i) =>
    row.map((count, j) => ({
      x: names[j], y: names[i], text: String(count), showarrow: false,
      font: { color: count > largest / 2 ? '#ffffff' : '#1a202c' },
    })),
  );
  return {
    data: [{ type: 'heatmap', x: names, y: names, z: metrics.confusion, colorscale: [[0, '#f7fbff'], [1, '#08306b']], zmin: 0, showscale: true }],
    layout: {
      ...BASE_LAYOUT,
      height: 360,
      title: { text: title },
      xaxis: { title: { text: 'predicted' } },
      yaxis: { title: { text: 'true' }, autorange: 'reversed' },
      annotations,
    },
  };
}

/**
 * Training and validation loss per boosting round (or per epoch: `step`). A history whose points also
 * carry a `loss` (an RL agent's learning curve: mean reward per bar, train and valid) plots the loss on
 * a second axis.
 */
export function trainingCurveFigure(history: Array<{ round: number; train: number; valid: number; loss?: number }>, metric = 'log-loss', step = 'round'): Figure {
  const withLoss = history.some((h) => typeof h.loss === 'number');
  return {
    data: [
      { type: 'scatter', mode: 'lines', name: 'train', x: history.map((h) => h.round), y: history.map((h) => h.train) },
      { type: 'scatter', mode: 'lines', name: 'valid', x: history.map((h) => h.round), y: history.map((h) => h.valid) },
      ...(withLoss ? [{ type: 'scatter', mode: 'lines', name: 'loss', line: { dash: 'dot' }, yaxis: 'y2', x: history.map((h) => h.round), y: history.map((h) => h.loss ?? null) }] : []),
    ],
    layout: {
      ...BASE_LAYOUT,
      title: { text: `Training curve (${metric})` },
      xaxis: { title: { text: step } },
      yaxis: { title: { text: metric } },
      ...(withLoss ? { yaxis2: { title: { text: 'loss' }, overlaying: 'y', side: 'right' }, margin: { ...BASE_LAYOUT.margin, r: 60 } } : {}),
    },
  };
}

/** A portfolio's combined equity with each sleeve's (coin's) equity beneath it. */
export function portfolioEquityFigure(portfolio: { time: Float64Array; equity: Float64Array; sleeves: ReadonlyArray<{ name: string; equity: Float64Array }> }, title = 'Portfolio equity (equal weight)'): Figure {
  const x = Array.from(portfolio.time);
  return {
    data: [
      { type: 'scattergl', mode: 'lines', name: 'portfolio', x, y: Array.from(portfolio.equity), line: { color: '#2b6cb0', width: 2 } },
      ...portfolio.sleeves.map((s) => ({ type: 'scattergl', mode: 'lines', name: s.name, x, y: Array.from(s.equity), line: { width: 1 } })),
    ],
    layout: { ...BASE_LAYOUT, title: { text: title }, xaxis: timeAxis, yaxis: { title: { text: 'equity' } } },
  };
}
