import type { PathBacktest, ValidationRecord } from '../runner/validation-run';
import type { Figure } from './charts';
import { keyValueTable, recordsTable, type ReportSection } from './html-report';

const BASE_LAYOUT = { margin: { l: 60, r: 60, t: 40, b: 40 }, height: 380, legend: { orientation: 'h', y: -0.15 } };
const PALETTE = ['#2b6cb0', '#2f855a', '#c05621', '#6b46c1', '#b83280', '#2c7a7b', '#975a16', '#c53030'];

/** The model's headline metric on a fold: ROC-AUC (classification) or RMSE (regression). */
function headline(metrics: ValidationRecord['windows'][number]['metrics']['test']): { name: string; value: number | null } {
  return 'rocAucMacro' in metrics ? { name: 'test ROC-AUC', value: metrics.rocAucMacro } : { name: 'test RMSE', value: metrics.rmse };
}

/**
 * Per window: the model's test metric and the window's traded return and Sharpe, side by side, so a
 * researcher sees whether the edge holds in every window or comes from one.
 */
export function windowMetricsFigure(record: ValidationRecord, title = 'Metrics per window'): Figure {
  const x = record.windows.map((w) => `w${w.index} ${w.testStart.slice(0, 10)}`);
  const metric = headline(record.windows[0].metrics.test);
  const data: Figure['data'] = [
    { type: 'bar', name: metric.name, x, y: record.windows.map((w) => headline(w.metrics.test).value), marker: { color: '#2b6cb0' }, yaxis: 'y', offsetgroup: 'model' },
  ];
  if (record.windows.some((w) => w.metrics.trading)) {
    data.push({ type: 'bar', name: 'window return (%)', x, y: record.windows.map((w) => (w.metrics.trading ? 100 * w.metrics.trading.totalReturn : null)), marker: { color: '#2f855a' }, yaxis: 'y2', offsetgroup: 'return' });
    data.push({ type: 'scatter', mode: 'lines+markers', name: 'window Sharpe', x, y: record.windows.map((w) => w.metrics.trading?.sharpe ?? null), line: { color: '#c05621' }, yaxis: 'y3' });
  }
  return {
    data,
    layout: {
      ...BASE_LAYOUT,
      title: { text: title },
      barmode: 'group',
      xaxis: { domain: [0, 0.9], title: { text: 'window (test start)' } },
      // ROC-AUC lives near 0.5: a zero-based axis would hide the differences between windows
      yaxis: { title: { text: metric.name }, ...(metric.name === 'test ROC-AUC' ? { range: aucRange(record) } : {}) },
      yaxis2: { title: { text: 'return %' }, overlaying: 'y', side: 'right' },
      yaxis3: { title: { text: 'Sharpe' }, overlaying: 'y', side: 'right', position: 0.97, anchor: 'free' },
    },
  };
}

function aucRange(record: ValidationRecord): [number, number] {
  const values = record.windows.map((w) => headline(w.metrics.test).value).filter((v): v is number => v !== null);
  return [Math.min(0.45, ...values.map((v) => v - 0.02)), Math.max(0.55, ...values.map((v) => v + 0.02))];
}

/** The stitched account's equity with each window's traded stretch shaded and labelled: which model traded when. */
export function stitchedEquityFigure(record: ValidationRecord, path: PathBacktest, title = 'Out-of-sample equity (stitched windows)'): Figure {
  const x = Array.from(path.backtest.result.time);
  const pieces = record.paths[0].pieces;
  return {
    data: [
      { type: 'scattergl', mode: 'lines', name: 'strategy', x, y: Array.from(path.backtest.result.equity), line: { color: '#1a202c' } },
      { type: 'scattergl', mode: 'lines', name: 'buy and hold', x, y: Array.from(path.backtest.report.buyHoldEquity), line: { color: '#a0aec0', dash: 'dot' } },
    ],
    layout: {
      ...BASE_LAYOUT,
      title: { text: title },
      xaxis: { type: 'date', title: { text: 'time (UTC)' } },
      yaxis: { title: { text: 'equity' } },
      shapes: pieces.map((p, i) => ({ type: 'rect', xref: 'x', yref: 'paper', x0: p.from, x1: p.to, y0: 0, y1: 1, fillcolor: PALETTE[p.fold % PALETTE.length], opacity: 0.08 + 0.04 * (i % 2), line: { width: 0 } })),
      annotations: pieces.map((p) => ({ xref: 'x', yref: 'paper', x: p.from, y: 1, xanchor: 'left', yanchor: 'bottom', text: `model ${p.fold}`, showarrow: false, font: { size: 10 } })),
    },
  };
}

/** CPCV: every path's equity, so the spread of outcomes is visible. */
export function pathEquityFigure(paths: readonly PathBacktest[], title = 'Backtest paths (CPCV)'): Figure {
  return {
    data: paths.map((p, i) => ({ type: 'scattergl', mode: 'lines', name: `path ${i}`, x: Array.from(p.backtest.result.time), y: Array.from(p.backtest.result.equity), line: { width: 1, color: PALETTE[i % PALETTE.length] } })),
    layout: { ...BASE_LAYOUT, title: { text: title }, xaxis: { type: 'date', title: { text: 'time (UTC)' } }, yaxis: { title: { text: 'equity' } } },
  };
}

/** The report's validation section: the method, a table of windows, the metrics per window, who traded when, and the paths. */
export function validationSections(record: ValidationRecord, paths: readonly PathBacktest[]): ReportSection[] {
  const pct = (x: number | undefined) => (x === undefined ? '' : `${(100 * x).toFixed(2)}%`);
  const oos = record.outOfSample;
  const summary: Array<[string, unknown]> = [
    ['method', `${record.method} ${JSON.stringify(record.params)}`],
    [`${record.foldName}s`, record.windows.length],
    ['out-of-sample rows', `${oos.rows} (${oos.from} … ${oos.to})`],
    ['out-of-sample return / Sharpe', `${pct(oos.backtest.totalReturn)} / ${oos.backtest.sharpe.toFixed(2)}`],
    ['backtest paths', record.paths.length],
  ];
  if (record.pathSummary) {
    const s = record.pathSummary;
    summary.push(
      ['path Sharpe mean ± std (min … max)', `${s.sharpeMean.toFixed(2)} ± ${s.sharpeStd.toFixed(2)} (${s.sharpeMin.toFixed(2)} … ${s.sharpeMax.toFixed(2)})`],
      ['paths with a positive Sharpe', pct(s.positiveShare)],
      ['deflated Sharpe of the best path', `P(true Sharpe > ${s.deflatedSharpe.benchmark.toFixed(4)} per bar) = ${s.deflatedSharpe.probability.toFixed(3)} over ${s.deflatedSharpe.trials} paths`],
    );
  }
  const rows = record.windows.map((w) => ({
    window: w.index,
    train: `${w.trainStart.slice(0, 16)} … ${w.trainEnd.slice(0, 16)}${w.trainRanges ? ` (${w.trainRanges.length} blocks)` : ''}`,
    test: `${w.testStart.slice(0, 16)} … ${w.testEnd.slice(0, 16)}${w.testGroups ? ` (groups ${w.testGroups.join(',')})` : ''}`,
    'train / valid / test rows': `${w.rows.train} / ${w.rows.valid} / ${w.rows.test}`,
    'purged / embargoed': `${w.rows.purged} / ${w.rows.embargoed}`,
    [headline(w.metrics.test).name]: headline(w.metrics.test).value,
    'window return': w.metrics.trading ? pct(w.metrics.trading.totalReturn) : '',
    'window Sharpe': w.metrics.trading?.sharpe ?? '',
    trades: w.metrics.trading?.trades ?? '',
  }));
  const figures = [windowMetricsFigure(record)];
  if (record.paths.length === 1) figures.push(stitchedEquityFigure(record, paths[0]));
  else figures.push(pathEquityFigure(paths));
  const sections: ReportSection[] = [{ title: 'Validation (refitted per window)', html: keyValueTable(summary) + recordsTable(rows), figures }];
  if (record.paths.length > 1) {
    sections.push({
      title: 'Backtest paths',
      html: recordsTable(record.paths.map((p) => ({ path: p.index, return: pct(p.metrics.totalReturn), Sharpe: p.metrics.sharpe, 'max drawdown': pct(p.metrics.maxDrawdown), trades: p.metrics.numTrades, 'P(Sharpe > 0)': p.probabilisticSharpe }))),
    });
  }
  return sections;
}
