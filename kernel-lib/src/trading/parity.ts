import * as fs from 'node:fs';
import * as path from 'node:path';
import { isoTime, timeframeMs } from '../frame/frame';
import { runEngine, type EngineResult, type EngineTrade, type Fill } from '../backtest/engine';
import { computePlannedFeatures } from '../features/compute-features';
import { withSideTables } from '../data/load-candles';
import { strategyOutput } from '../plugins/define';
import type { SpecInput } from '../spec/spec';
import { featureMatrix } from '../validation/split';
import { outputColumns } from '../models/model';
import type { WorkspaceOverrides } from '../workspace';
import { readSession, type SessionRecord } from './session-outputs';
import { readJsonLines } from './session-log';
import { ConfigError } from '../errors';
import { resolveTradingSetup } from './session-setup';

/**
 * `candlelab parity <paper-run>`: backtest exactly the candles a paper session saw, with the same model,
 * strategy and settings, through the batch path (features over the whole series, one batch prediction,
 * the strategy's batch form, runEngine's replay), and list every difference from what the session did.
 * A difference is explained when its cause is known and expected (the session is still holding a
 * position the backtest closes at its last candle, a decision on the last candle the backtest never
 * takes); anything else is a defect in one of the two paths.
 */

export type ParityDifference = {
  kind: 'fill' | 'trade' | 'target' | 'equity' | 'signal' | 'position';
  time: string;
  detail: string;
  /** Why it is expected, when it is; absent for an unexplained difference. */
  explained?: string;
};

export type ParityReport = {
  dir: string;
  candles: number;
  liveCandles: number;
  missedCandles: number;
  /** Largest |session − batch| over the model's outputs (streamed vs batch features, float32 predictions). */
  predictionDifference: number;
  fills: { session: number; backtest: number; matched: number };
  trades: { session: number; backtest: number; matched: number };
  /** Units held after each candle: the session's (equity.csv) against the replay's (its fills summed). */
  positions: { bars: number; matched: number };
  differences: ParityDifference[];
  unexplained: number;
  backtest: EngineResult;
  /**
   * A live or dry-run session: the exchange's fills beside the simulated venue's, per decision (how far
   * assumed fills are from real ones). Absent for paper sessions.
   */
  execution?: ExecutionComparison;
};

/** Exchange fills against the simulated fills of the same decisions. */
export type ExecutionComparison = {
  kind: 'live' | 'dry-run';
  /** Decisions the exchange filled (sent orders with fills). */
  executed: number;
  /** Of those, how many the simulated venue also filled at that time. */
  paired: number;
  /** Exchange average price vs simulated price, in bps against the trader (positive: the exchange was worse). */
  priceBps: { mean: number; worst: number } | null;
  /** Exchange quantity / simulated quantity, mean over the pairs. */
  quantityRatio: number | null;
  rows: Array<{ time: string; side: string; exchangePrice: number; simulatedPrice: number | null; exchangeQuantity: number; simulatedQuantity: number | null; priceBps: number | null }>;
};

const close = (a: number, b: number, tolerance = 1e-9): boolean => a === b || Math.abs(a - b) <= tolerance * Math.max(1, Math.abs(a), Math.abs(b));

export async function paperParity(dir: string, options: { workspace?: WorkspaceOverrides } = {}): Promise<ParityReport> {
  const session = readSession(dir);
  const { info, candles, modes } = session;
  const swaps = readJsonLines<{ time: string; from: number; to: number }>(path.join(dir, 'models.jsonl'));
  if (swaps.length) {
    throw new ConfigError(`${dir} swapped models (${swaps.map((s) => `v${s.from} → v${s.to} at ${s.time}`).join(', ')}); parity backtests one model over the whole session, so it cannot reproduce this one`);
  }
  const setup = await resolveTradingSetup({ spec: info.spec as SpecInput, model: `${info.model.name}@${info.model.version}`, workspace: options.workspace });
  const plan = setup.context.plan;
  const n = candles.length;

  // ——— the batch path: features, one batch of predictions, the strategy's targets ———
  // with the store's side tables (funding, open interest) joined as the session joined them to each bar
  const withSide = withSideTables(candles, { exchange: info.exchange, market: info.market, symbol: info.symbol, timeframe: info.timeframe }, setup.context.workspace.dataDir);
  const features = computePlannedFeatures(withSide, plan.features, plan.featureContext);
  const names = setup.model.featureNames;
  const width = outputColumns(setup.model).length;
  const predictions = new Float32Array(n * width).fill(NaN);
  const first = Math.min(n, info.requiredInputs);
  if (n > first) predictions.set(await setup.model.predict(featureMatrix(features.frame.select([...names]), first, n)), first * width);
  const needsPredictions = plan.strategy.definition.needs.predictions;
  const output = strategyOutput(plan.strategy.definition.targets({ candles, features: features.frame, predictions: needsPredictions ? predictions : undefined, classes: setup.model.classes ? [...setup.model.classes] : undefined }, plan.strategy.params));
  // what the session decided with, row by row: history flat, warm-up flat, missed candles keep the target
  const targets = new Float64Array(n);
  let predictionDifference = 0;
  const differences: ParityDifference[] = [];
  for (let i = 0; i < n; i++) {
    const logged = session.predictions[i];
    if (logged) for (let k = 0; k < width; k++) predictionDifference = Math.max(predictionDifference, Math.abs(logged[k] - predictions[i * width + k]));
    let target = modes[i] === 'history' || (needsPredictions && i < info.requiredInputs) ? 0 : output.targets[i];
    if (modes[i] === 'missed') target = i > 0 ? targets[i - 1] : 0;
    if (target < 0 && !info.settings.allowShort) target = 0;
    targets[i] = target;
    const decided = session.targets[i];
    if (modes[i] !== 'missed' && decided !== null && decided !== target) {
      differences.push({ kind: 'target', time: isoTime(candles.time[i]), detail: `session decided ${decided}, batch ${target} (prediction ${JSON.stringify(logged)} vs ${JSON.stringify(Array.from(predictions.subarray(i * width, (i + 1) * width)))})` });
    }
  }
  const backtest = runEngine(
    [{ symbol: info.symbol, candles }],
    [{ name: info.sleeve, targets: { [info.symbol]: targets }, confidence: output.confidence ? { [info.symbol]: output.confidence } : undefined, reasoning: output.reasoning ? { [info.symbol]: output.reasoning } : undefined }],
    info.settings,
  );

  // ——— compare ———
  const sessionResult = session.result;
  const lastClose = n > 0 ? candles.time[n - 1] : NaN;
  const openAtEnd = sessionResult.trades.length < backtest.trades.length && backtest.trades[backtest.trades.length - 1]?.exitReason === 'end';
  const fills = compareFills(sessionResult.fills, backtest.fills, differences, openAtEnd);
  const trades = compareTrades(sessionResult.trades, backtest.trades, differences);
  // signals: the backtest never decides on its last candle
  const sessionSignals = sessionResult.signals.map((s) => `${s.time} ${s.signal}`);
  const backtestSignals = new Set(backtest.signals.map((s) => `${s.time} ${s.signal}`));
  const lastCloseIso = n > 0 ? isoTime(lastClose + timeframeMs(info.timeframe)) : '';
  for (const signal of sessionSignals) {
    if (backtestSignals.has(signal)) continue;
    differences.push({ kind: 'signal', time: signal.split(' ')[0], detail: `session signal ${signal} not in the backtest`, explained: signal.startsWith(lastCloseIso) ? 'a decision on the last candle: a backtest never decides on its last bar (there is no next bar to fill at)' : undefined });
  }
  const sessionSignalSet = new Set(sessionSignals);
  for (const signal of backtest.signals) if (!sessionSignalSet.has(`${signal.time} ${signal.signal}`)) differences.push({ kind: 'signal', time: signal.time, detail: `backtest signal ${signal.signal} not in the session` });
  // equity at every candle but the last (where the backtest pays to close what the session still holds)
  for (let i = 0; i < Math.min(sessionResult.equity.length, backtest.equity.length) - 1; i++) {
    if (!close(sessionResult.equity[i], backtest.equity[i])) {
      differences.push({ kind: 'equity', time: isoTime(backtest.time[i]), detail: `equity ${sessionResult.equity[i]} in the session, ${backtest.equity[i]} in the backtest` });
      break; // the first one says it; the rest follow from it
    }
  }
  const positions = comparePositions(session.positions, sessionResult.time, backtest, differences);
  // a decision at a close fills at the next bar's open, recorded at that bar's close (or at the same close)
  const fillDelay = info.settings.fill === 'close' ? 0 : timeframeMs(info.timeframe);
  const execution = info.kind === 'paper' ? undefined : compareExecution(dir, info.kind, sessionResult.fills, fillDelay);
  return {
    execution,
    dir: path.resolve(dir),
    candles: n,
    liveCandles: modes.filter((m) => m === 'live').length,
    missedCandles: modes.filter((m) => m === 'missed').length,
    predictionDifference,
    fills,
    trades,
    positions,
    differences,
    unexplained: differences.filter((d) => !d.explained).length,
    backtest,
  };
}

function compareFills(session: readonly Fill[], backtest: readonly Fill[], out: ParityDifference[], openAtEnd: boolean): { session: number; backtest: number; matched: number } {
  let matched = 0;
  const count = Math.max(session.length, backtest.length);
  for (let k = 0; k < count; k++) {
    const s = session[k];
    const b = backtest[k];
    if (!s) {
      const end = b.type === 'end' && openAtEnd;
      out.push({ kind: 'fill', time: isoTime(b.time), detail: `backtest fill ${b.side} ${b.quantity} @ ${b.price} (${b.type}) not in the session`, explained: end ? 'the backtest closes the open position at its last candle; the session still holds it' : undefined });
      continue;
    }
    if (!b) {
      out.push({ kind: 'fill', time: isoTime(s.time), detail: `session fill ${s.side} ${s.quantity} @ ${s.price} (${s.type}) not in the backtest` });
      continue;
    }
    const problems: string[] = [];
    if (s.time !== b.time) problems.push(`time ${isoTime(s.time)} vs ${isoTime(b.time)}`);
    if (s.side !== b.side || s.type !== b.type) problems.push(`${s.side} ${s.type} vs ${b.side} ${b.type}`);
    if (!close(s.quantity, b.quantity)) problems.push(`quantity ${s.quantity} vs ${b.quantity}`);
    if (!close(s.price, b.price)) problems.push(`price ${s.price} vs ${b.price}`);
    if (!close(s.commission, b.commission)) problems.push(`commission ${s.commission} vs ${b.commission}`);
    if (problems.length) out.push({ kind: 'fill', time: isoTime(s.time), detail: `fill ${k + 1}: ${problems.join('; ')}` });
    else matched++;
  }
  return { session: session.length, backtest: backtest.length, matched };
}

function compareTrades(session: readonly EngineTrade[], backtest: readonly EngineTrade[], out: ParityDifference[]): { session: number; backtest: number; matched: number } {
  let matched = 0;
  for (let k = 0; k < Math.max(session.length, backtest.length); k++) {
    const s = session[k];
    const b = backtest[k];
    if (!s) {
      out.push({ kind: 'trade', time: isoTime(b.entryTime), detail: `backtest trade ${b.side} ${isoTime(b.entryTime)} → ${isoTime(b.exitTime)} (${b.exitReason}) not closed in the session`, explained: b.exitReason === 'end' && k === backtest.length - 1 ? 'still open in the session; the backtest closes it at its last candle' : undefined });
      continue;
    }
    if (!b) {
      out.push({ kind: 'trade', time: isoTime(s.entryTime), detail: `session trade ${s.side} ${isoTime(s.entryTime)} → ${isoTime(s.exitTime)} not in the backtest` });
      continue;
    }
    const problems: string[] = [];
    if (s.entryTime !== b.entryTime || s.exitTime !== b.exitTime) problems.push(`times ${isoTime(s.entryTime)}→${isoTime(s.exitTime)} vs ${isoTime(b.entryTime)}→${isoTime(b.exitTime)}`);
    if (!close(s.entryPrice, b.entryPrice) || !close(s.exitPrice, b.exitPrice)) problems.push(`prices ${s.entryPrice}→${s.exitPrice} vs ${b.entryPrice}→${b.exitPrice}`);
    if (!close(s.pnl, b.pnl)) problems.push(`pnl ${s.pnl} vs ${b.pnl}`);
    if (s.exitReason !== b.exitReason) problems.push(`exit ${s.exitReason} vs ${b.exitReason}`);
    if (problems.length) out.push({ kind: 'trade', time: isoTime(s.entryTime), detail: `trade ${k + 1}: ${problems.join('; ')}` });
    else matched++;
  }
  return { session: session.length, backtest: backtest.length, matched };
}

/**
 * The position after each candle: the session's recorded one against the replay's (its fills summed up
 * to each bar close). A run of consecutive bars with the same pair of positions is one difference. The
 * last candle differs when the backtest closes there what the session still holds: explained.
 */
function comparePositions(session: Float64Array, sessionTime: Float64Array, backtest: EngineResult, out: ParityDifference[]): { bars: number; matched: number } {
  const bars = Math.min(session.length, backtest.time.length);
  const replay = new Float64Array(bars);
  let held = 0;
  let k = 0;
  const fills = backtest.fills;
  for (let i = 0; i < bars; i++) {
    while (k < fills.length && fills[k].time <= backtest.time[i]) {
      held += (fills[k].side === 'buy' ? 1 : -1) * fills[k].quantity;
      k++;
    }
    replay[i] = held;
  }
  const last = bars - 1;
  const endFill = fills.length > 0 && fills[fills.length - 1].type === 'end';
  let matched = 0;
  let run: { from: number; to: number; session: number; replay: number } | undefined;
  const flush = (): void => {
    if (!run) return;
    const span = run.from === run.to ? `the candle closing ${isoTime(backtest.time[run.from])}` : `${run.to - run.from + 1} candles closing ${isoTime(backtest.time[run.from])} → ${isoTime(backtest.time[run.to])}`;
    const explained = run.from === last && endFill && Math.abs(run.replay) <= 1e-9 ? 'the backtest closes the open position at its last candle; the session still holds it' : undefined;
    out.push({ kind: 'position', time: isoTime(backtest.time[run.from]), detail: `position ${run.session} in the session, ${run.replay} in the backtest, after ${span}`, explained });
    run = undefined;
  };
  for (let i = 0; i < bars; i++) {
    const same = close(session[i], replay[i], 1e-9) || Math.abs(session[i] - replay[i]) <= 1e-12;
    const timeDiffers = sessionTime[i] !== backtest.time[i];
    if (same && !timeDiffers) {
      matched++;
      flush();
      continue;
    }
    if (run && run.to === i - 1 && run.session === session[i] && run.replay === replay[i] && i !== last) run.to = i;
    else {
      flush();
      run = { from: i, to: i, session: session[i], replay: replay[i] };
    }
  }
  flush();
  return { bars, matched };
}

export type { SessionRecord };

/** orders.jsonl's exchange fills beside the simulated venue's fill at the same time. */
function compareExecution(dir: string, kind: 'live' | 'dry-run', simulated: readonly Fill[], fillDelay: number): ExecutionComparison {
  const file = path.join(dir, 'orders.jsonl');
  const records = fs.existsSync(file)
    ? fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as { time: number; action: string; fills?: Array<{ side: 'buy' | 'sell'; price: number; amount: number; cost: number }> })
    : [];
  const rows: ExecutionComparison['rows'] = [];
  for (const record of records) {
    const fills = record.fills ?? [];
    if (fills.length === 0) continue;
    const amount = fills.reduce((sum, f) => sum + f.amount, 0);
    const price = fills.reduce((sum, f) => sum + f.cost, 0) / amount;
    const side = fills[0].side;
    const twin = simulated.find((f) => f.time === record.time + fillDelay && f.side === side);
    const direction = side === 'buy' ? 1 : -1;
    rows.push({
      time: isoTime(record.time), side, exchangePrice: price, simulatedPrice: twin?.price ?? null, exchangeQuantity: amount, simulatedQuantity: twin?.quantity ?? null,
      priceBps: twin ? (direction * (price - twin.price) / twin.price) * 10_000 : null,
    });
  }
  const paired = rows.filter((r) => r.priceBps !== null);
  const bps = paired.map((r) => r.priceBps!);
  return {
    kind,
    executed: rows.length,
    paired: paired.length,
    priceBps: bps.length ? { mean: bps.reduce((a, b) => a + b, 0) / bps.length, worst: Math.max(...bps) } : null,
    quantityRatio: paired.length ? paired.reduce((sum, r) => sum + r.exchangeQuantity / r.simulatedQuantity!, 0) / paired.length : null,
    rows,
  };
}
