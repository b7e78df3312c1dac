import * as fs from 'node:fs';
import * as path from 'node:path';
import { Frame, type Candles } from '../frame/frame';
import { ConfigError } from '../errors';
import type { EngineResult, EngineTrade, Fill, RiskEvent, SignalRecord } from '../backtest/engine';
import { analyzeBacktest } from '../backtest/metrics';
import { writeArrowFile } from '../data/arrow-file';
import { backtestSeriesFrame } from '../runner/run-record';
import { backtestSections } from '../report/backtest-sections';
import { escapeHtml, keyValueTable, renderHtmlReport } from '../report/html-report';
import { writeFileAtomic } from '../util/atomic';
import type { CandleMode, SessionInfo } from './paper-session';

/** A session folder read back: its description, candles (with their mode), series and records. */
export type SessionRecord = {
  info: SessionInfo;
  candles: Candles;
  modes: CandleMode[];
  /** One decision target per candle (null where the session was down and kept its target). */
  targets: Array<number | null>;
  predictions: Array<number[] | null>;
  /** Units held after each candle (equity.csv's position column). */
  positions: Float64Array;
  result: EngineResult;
};

/** Read a paper session folder (the logs up to the last saved candle). */
export function readSession(dir: string): SessionRecord {
  for (const file of ['session.json', 'state.json']) {
    if (!fs.existsSync(path.join(dir, file))) throw new ConfigError(`${dir} holds no paper or live session (no ${file}); give the folder candlelab paper or live wrote (it printed it)`);
  }
  const info = JSON.parse(fs.readFileSync(path.join(dir, 'session.json'), 'utf8')) as SessionInfo;
  const state = JSON.parse(fs.readFileSync(path.join(dir, 'state.json'), 'utf8')) as { rows: number; logOffsets: Record<string, number> };
  // only what the saved state covers (a crash may have left a partial line after it)
  const read = (file: string): string => fs.readFileSync(path.join(dir, file)).subarray(0, state.logOffsets[file]).toString('utf8');
  const { candles, modes } = parseSessionCandles(read('candles.csv'), info);
  const decisions = read('decisions.jsonl').split('\n').filter(Boolean).map((line) => JSON.parse(line) as { target: number | null; prediction: number[] | null });
  const equityLines = read('equity.csv').split('\n').slice(1).filter(Boolean).map((line) => line.split(',').map(Number));
  const series = (k: number): Float64Array => Float64Array.from(equityLines, (row) => row[k]);
  const equity = series(1);
  const positionValue = series(3);
  const jsonLines = <T>(file: string): T[] => read(file).split('\n').filter(Boolean).map((line) => JSON.parse(line) as T);
  const result: EngineResult = {
    time: series(0),
    equity,
    cash: series(2),
    positionValue,
    grossExposure: Float64Array.from(equity, (e, i) => (e > 0 ? Math.abs(positionValue[i]) / e : NaN)),
    valueAtRisk: new Float64Array(equity.length).fill(NaN),
    conditionalValueAtRisk: new Float64Array(equity.length).fill(NaN),
    fills: jsonLines<Fill & { time: string }>('fills.jsonl').map((f) => ({ ...f, time: Date.parse(f.time) })),
    trades: parseTradesCsv(read('trades.csv')),
    signals: jsonLines<SignalRecord>('signals.jsonl'),
    riskEvents: jsonLines<RiskEvent>('risk-events.jsonl'),
    settings: info.settings,
  };
  return { info, candles, modes, targets: decisions.map((d) => d.target), predictions: decisions.map((d) => d.prediction), positions: series(4), result };
}

/** A session's candles.csv text → the candles (a frame) and each candle's mode. */
export function parseSessionCandles(text: string, info: Pick<SessionInfo, 'symbol' | 'timeframe' | 'exchange'>): { candles: Candles; modes: CandleMode[] } {
  const lines = text.split('\n').slice(1).filter(Boolean);
  const n = lines.length;
  const columns = { time: new Float64Array(n), open: new Float64Array(n), high: new Float64Array(n), low: new Float64Array(n), close: new Float64Array(n), volume: new Float64Array(n) };
  const modes: CandleMode[] = [];
  lines.forEach((line, i) => {
    const parts = line.split(',');
    columns.time[i] = Number(parts[0]);
    columns.open[i] = Number(parts[1]);
    columns.high[i] = Number(parts[2]);
    columns.low[i] = Number(parts[3]);
    columns.close[i] = Number(parts[4]);
    columns.volume[i] = Number(parts[5]);
    modes.push(parts[6] as CandleMode);
  });
  const { time, ...ohlcv } = columns;
  return { candles: Frame.fromColumns(time, ohlcv, { symbol: info.symbol, timeframe: info.timeframe, exchange: info.exchange, source: 'paper session' }), modes };
}

/** trades.csv (tradesCsv's format) back into trades. */
export function parseTradesCsv(text: string): EngineTrade[] {
  return text
    .split('\n')
    .slice(1)
    .filter(Boolean)
    .map((line) => {
      const [sleeve, asset, side, entryTime, entryPrice, exitTime, exitPrice, units, pnl, returnPct, bars, fees, funding, slippageCost, exitReason] = line.split(',');
      return {
        sleeve, asset, side: side as EngineTrade['side'], entryTime: Date.parse(entryTime), entryPrice: Number(entryPrice), exitTime: Date.parse(exitTime), exitPrice: Number(exitPrice),
        units: Number(units), pnl: Number(pnl), returnPct: Number(returnPct), bars: Number(bars), fees: Number(fees), funding: Number(funding), slippageCost: Number(slippageCost),
        exitReason: exitReason as EngineTrade['exitReason'],
      };
    });
}

/**
 * The backtest's layout beside the logs: backtest.arrow (the series), signals.json, report.html and
 * summary.json, rewritten (atomically) whenever a session stops.
 */
export function writeSessionOutputs(dir: string, stopReason: string): void {
  const session = readSession(dir);
  const { info, candles, result } = session;
  const summary: Record<string, unknown> = {
    stoppedAt: new Date().toISOString(),
    stopReason,
    candles: candles.length,
    liveCandles: session.modes.filter((m) => m === 'live').length,
    missedCandles: session.modes.filter((m) => m === 'missed').length,
    fills: result.fills.length,
    trades: result.trades.length,
    equity: result.equity.length ? result.equity[result.equity.length - 1] : info.settings.initialCash,
  };
  writeFileAtomic(path.join(dir, 'signals.json'), JSON.stringify(result.signals, null, 2) + '\n');
  if (candles.length >= 2) {
    const assets = [{ symbol: info.symbol, candles }];
    const report = analyzeBacktest(result, assets);
    summary.metrics = report.metrics;
    const frame = backtestSeriesFrame({ assets, result, report, targets: new Float64Array(0) });
    const temp = path.join(dir, `.backtest.arrow.tmp-${process.pid}`);
    writeArrowFile(temp, frame);
    fs.renameSync(temp, path.join(dir, 'backtest.arrow'));
    const overview = keyValueTable([
      ['market', `${info.symbol} ${info.timeframe} on ${info.exchange} (${info.market})`],
      ['model', `${info.model.name} v${info.model.version} (${info.model.modelId})`],
      ['strategy', `${info.strategy.id} ${JSON.stringify(info.strategy.params)}`],
      ['started', new Date(info.startTime).toISOString()],
      ['candles', `${candles.length} (${summary.liveCandles} live, ${summary.missedCandles} missed while down, the rest history)`],
      ['stopped', `${summary.stoppedAt}: ${stopReason}`],
    ]);
    const html = renderHtmlReport(`paper session ${path.basename(dir)}`, [
      { title: 'Paper session', html: `${overview}<p>Check it against a backtest of the same candles: <code>candlelab parity ${escapeHtml(dir)}</code></p>` },
      ...backtestSections({ assets, result, report }),
    ]);
    writeFileAtomic(path.join(dir, 'report.html'), html);
  }
  writeFileAtomic(path.join(dir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
}
