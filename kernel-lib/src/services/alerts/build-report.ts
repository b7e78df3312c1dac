import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../../errors';
import { escapeHtml } from '../../report/html-report';
import { analyzeBacktest, type PerformanceMetrics } from '../../backtest/metrics';
import { parseBacktestSettings, type BacktestSettingsInput } from '../../backtest/settings';
import { readSession, type SessionRecord } from '../../trading/session-outputs';
import { lineChartPng } from './line-chart-png';
import type { AlertEvent } from './types';

export type ReportPeriod = 'daily' | 'weekly';

export type BuildReportOptions = {
  period: ReportPeriod;
  /** The end of the period (epoch ms). Default: the session's last saved candle, so a report is reproducible. */
  now?: number;
};

/** The numbers a report states, for notebooks and tests (the event carries them as text and HTML). */
export type ReportFigures = {
  from: number;
  to: number;
  equity: number;
  cash: number;
  position: number;
  positionValue: number;
  initialCash: number;
  periodPnl: number;
  totalPnl: number;
  maxDrawdown: number;
  signals: { LONG: number; SHORT: number; FLAT: number };
  fills: number;
  tradesClosed: number;
  tradesPnl: number;
  /**
   * The session's metrics from its start to `to`, computed from its equity, fills and trades so far
   * (a running session has no final summary yet); from summary.json only when they cannot be computed.
   */
  metrics: Partial<PerformanceMetrics>;
  /** Where `metrics` came from. */
  metricsSource: 'session' | 'summary.json' | 'none';
};

const HEADLINE = ['totalReturn', 'sharpe', 'sortino', 'maxDrawdown', 'winRate', 'numTrades'] as const;

/**
 * Metrics of a session up to row `last` (its candle closing at or before the report's end), as a
 * backtest of the same rows would state them: equity, fills and trades so far.
 */
function sessionMetrics(session: SessionRecord, last: number, to: number): PerformanceMetrics | undefined {
  if (last < 1 || session.candles.length < last + 1) return undefined;
  const { result, info } = session;
  const rows = last + 1;
  const cut = (series: Float64Array): Float64Array => series.subarray(0, rows);
  const settings = parseBacktestSettings(info.settings as BacktestSettingsInput, `${info.kind} session settings`);
  const upTo = {
    ...result,
    time: cut(result.time),
    equity: cut(result.equity),
    cash: cut(result.cash),
    positionValue: cut(result.positionValue),
    grossExposure: cut(result.grossExposure),
    valueAtRisk: cut(result.valueAtRisk),
    conditionalValueAtRisk: cut(result.conditionalValueAtRisk),
    fills: result.fills.filter((f) => f.time <= to),
    trades: result.trades.filter((t) => t.exitTime <= to),
    signals: result.signals.filter((s) => Date.parse(s.time) <= to),
    riskEvents: result.riskEvents,
    settings,
  };
  return analyzeBacktest(upTo, [{ symbol: info.symbol, candles: session.candles.slice(0, rows) }]).metrics;
}

const PERIOD_MS: Record<ReportPeriod, number> = { daily: 86_400_000, weekly: 7 * 86_400_000 };
const CHART_CID = 'equity-chart';

const iso = (t: number): string => new Date(t).toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
const money = (x: number): string => x.toFixed(2);
const signed = (x: number): string => (x >= 0 ? '+' : '') + x.toFixed(2);
const pct = (x: number): string => (x >= 0 ? '+' : '') + (100 * x).toFixed(2) + '%';

/**
 * A daily or weekly report of a paper/live session folder as an alert event: parameters (model, strategy,
 * market), P&L over the period and since the start, equity and position now, the period's signals and
 * fills, metrics, and an equity chart (PNG, attached; inline in the e-mail by cid, a photo on Telegram).
 */
export function buildReport(dir: string, options: BuildReportOptions): AlertEvent & { figures: ReportFigures } {
  if (options.period !== 'daily' && options.period !== 'weekly') throw new ConfigError(`report period '${String(options.period)}' is unknown; use daily or weekly`);
  if (!fs.existsSync(path.join(dir, 'session.json'))) {
    const hint = fs.existsSync(path.join(dir, 'run.json')) ? ' (run folders are not reported yet; open their report.html)' : '';
    throw new ConfigError(`${dir} holds no paper or live session (no session.json)${hint}; give the folder candlelab paper or live wrote`);
  }
  const session = readSession(dir);
  const { info, result, positions } = session;
  const rows = result.equity.length;
  if (rows === 0) throw new ConfigError(`${dir} has no equity rows yet; report once the session has traded a candle`);
  const to = options.now ?? result.time[rows - 1];
  const from = to - PERIOD_MS[options.period];
  const initialCash = info.settings.initialCash;
  // the last row at or before a time (-1: none)
  const rowAt = (t: number): number => {
    let k = -1;
    for (let i = 0; i < rows && result.time[i] <= t; i++) k = i;
    return k;
  };
  const last = rowAt(to);
  if (last < 0) throw new ConfigError(`the session in ${dir} starts after ${iso(to)}; give a later --now or wait for candles`);
  const startRow = rowAt(from);
  const equity = result.equity[last];
  const equityAtStart = startRow >= 0 ? result.equity[startRow] : initialCash;
  let peak = -Infinity;
  let maxDrawdown = 0;
  for (let i = 0; i <= last; i++) {
    peak = Math.max(peak, result.equity[i]);
    maxDrawdown = Math.max(maxDrawdown, peak > 0 ? (peak - result.equity[i]) / peak : 0);
  }
  const inPeriod = (t: number): boolean => t > from && t <= to;
  const signals = result.signals.filter((s) => inPeriod(Date.parse(s.time)));
  const fills = result.fills.filter((f) => inPeriod(f.time));
  const trades = result.trades.filter((t) => inPeriod(t.exitTime));
  const counts = { LONG: 0, SHORT: 0, FLAT: 0 };
  for (const s of signals) counts[s.signal]++;
  const figures: ReportFigures = {
    from,
    to,
    equity,
    cash: result.cash[last],
    position: positions[last],
    positionValue: result.positionValue[last],
    initialCash,
    periodPnl: equity - equityAtStart,
    totalPnl: equity - initialCash,
    maxDrawdown,
    signals: counts,
    fills: fills.length,
    tradesClosed: trades.length,
    tradesPnl: trades.reduce((sum, t) => sum + t.pnl, 0),
    metrics: {},
    metricsSource: 'none',
  };
  // latest metrics: computed from the session so far (a running session has no summary.json metrics yet)
  let metrics: Partial<PerformanceMetrics> = {};
  let metricsSource: ReportFigures['metricsSource'] = 'none';
  try {
    const computed = sessionMetrics(session, last, to);
    if (computed) (metrics = computed), (metricsSource = 'session');
  } catch {
    // settings a newer or older version wrote: fall back to what the session wrote when it stopped
  }
  const summaryFile = path.join(dir, 'summary.json');
  if (metricsSource === 'none' && fs.existsSync(summaryFile)) {
    metrics = (JSON.parse(fs.readFileSync(summaryFile, 'utf8')) as { metrics?: Partial<PerformanceMetrics> }).metrics ?? {};
    metricsSource = Object.keys(metrics).length ? 'summary.json' : 'none';
  }
  figures.metrics = metrics;
  figures.metricsSource = metricsSource;
  const headline = HEADLINE.filter((k) => typeof metrics[k] === 'number').map((k) => `${k} ${(metrics[k] as number).toFixed(k === 'numTrades' ? 0 : 3)}`);

  const name = `${info.kind} ${info.symbol} ${info.timeframe}`;
  const lastSignals = signals.slice(-5).map((s) => `${s.time.slice(0, 16).replace('T', ' ')} ${s.signal}${s.confidence === null ? '' : ` (${s.confidence.toFixed(2)})`}`);
  const lastFills = fills.slice(-5).map((f) => `${iso(f.time)} ${f.side} ${f.quantity} @ ${money(f.price)}`);
  const parameters: Array<[string, string]> = [
    ['market', `${info.symbol} ${info.timeframe} on ${info.exchange} (${info.market})`],
    ['model', `${info.model.name} v${info.model.version}`],
    ['strategy', `${info.strategy.id} ${JSON.stringify(info.strategy.params)}`],
    ['period', `${iso(from)} … ${iso(to)}`],
  ];
  const figuresRows: Array<[string, string]> = [
    ['equity', money(equity)],
    ['period P&L', `${signed(figures.periodPnl)} (${pct(figures.periodPnl / equityAtStart)})`],
    ['P&L since start', `${signed(figures.totalPnl)} (${pct(figures.totalPnl / initialCash)})`],
    ['position', `${figures.position} (value ${money(figures.positionValue)}, cash ${money(figures.cash)})`],
    ['max drawdown', `${(100 * maxDrawdown).toFixed(2)}%`],
    ['signals', `${signals.length}: LONG ${counts.LONG} · SHORT ${counts.SHORT} · FLAT ${counts.FLAT}`],
    ['fills', String(fills.length)],
    ['trades closed', `${trades.length} (P&L ${signed(figures.tradesPnl)})`],
  ];
  if (headline.length) figuresRows.push([metricsSource === 'session' ? 'metrics since start' : 'metrics (when it last stopped)', headline.join(', ')]);

  const text = [
    ...parameters.map(([k, v]) => `${k}: ${v}`),
    ...figuresRows.map(([k, v]) => `${k}: ${v}`),
    ...(lastSignals.length ? ['last signals:', ...lastSignals.map((s) => `  ${s}`)] : []),
    ...(lastFills.length ? ['last fills:', ...lastFills.map((f) => `  ${f}`)] : []),
  ].join('\n');
  const table = (pairs: Array<[string, string]>): string =>
    `<table>${pairs.map(([k, v]) => `<tr><th style="text-align:left;padding-right:1em">${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('')}</table>`;
  const list = (title: string, items: string[]): string => (items.length ? `<h3>${escapeHtml(title)}</h3><ul>${items.map((i) => `<li>${escapeHtml(i)}</li>`).join('')}</ul>` : '');
  // the chart has no axis labels: its scale is stated under it
  const shown = result.equity.subarray(0, last + 1);
  const chartCaption = `${iso(result.time[0])} … ${iso(result.time[last])}: equity ${money(shown[0])} → ${money(equity)} (low ${money(shown.reduce((a, b) => Math.min(a, b), Infinity))}, high ${money(shown.reduce((a, b) => Math.max(a, b), -Infinity))}); dotted: the first value`;
  const title = `${name} ${options.period} report: equity ${money(equity)} (${signed(figures.periodPnl)} this period)`;
  const html =
    `<!doctype html><html><body style="font-family:sans-serif">` +
    `<h2>${escapeHtml(title)}</h2>${table(parameters)}<h3>Figures</h3>${table(figuresRows)}` +
    `<h3>Equity</h3><img src="cid:${CHART_CID}" alt="equity chart" width="640" height="240">` +
    `<p style="color:#666">${escapeHtml(chartCaption)}</p>` +
    list('Last signals', lastSignals) +
    list('Last fills', lastFills) +
    `</body></html>`;
  const chart = lineChartPng(shown);
  return {
    kind: 'report',
    title,
    text,
    html,
    attachments: [{ filename: 'equity.png', contentType: 'image/png', content: chart, cid: CHART_CID }],
    at: new Date(to).toISOString(),
    source: `${info.kind} ${dir}`,
    figures,
  };
}

/** The report's HTML as a standalone file: the inline chart becomes a data: URI. */
export function reportHtmlFile(report: AlertEvent): string {
  let html = report.html ?? `<pre>${escapeHtml(report.text)}</pre>`;
  for (const a of report.attachments ?? []) {
    if (a.cid) html = html.split(`cid:${a.cid}`).join(`data:${a.contentType};base64,${a.content.toString('base64')}`);
  }
  return html;
}
