import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, DataError } from '../errors';
import { Frame, isoTime, timeframeMs, type Candles } from '../frame/frame';
import { createEngineKernel, type EngineKernel, type KernelState } from '../backtest/kernel';
import { parseBacktestSettings, type BacktestSettings } from '../backtest/settings';
import type { EngineTrade, Fill, RiskEvent, SignalRecord } from '../backtest/engine';
import { createExchange, resolveMarket, type ExchangeConnection, type MarketKind } from '../data/exchange/ccxt-client';
import { exchangeNow, parseTime, type TimeInput } from '../data/exchange/fetch-candles';
import { streamCandles, type StreamEvent } from '../data/exchange/stream-candles';
import { sideTableColumns, sideTableJoin } from '../data/load-candles';
import { withRetry, type RetryPolicy } from '../data/exchange/retry';
import { createFeatureStream, type FeatureStream } from '../features/streaming/create-feature-stream';
import type { StreamState } from '../features/streaming/streaming-feature';
import type { IncrementalStrategy } from '../plugins/define';
import { stepStrategy, strategyBufferBars } from '../strategy/incremental';
import { tradesCsv } from '../runner/run-record';
import type { WorkspaceOverrides } from '../workspace';
import { singleDataSource, type SpecInput } from '../spec/spec';
import { SessionLog } from './session-log';
import { ModelFeed, type ModelFeedState } from './model-feed';
import { replayCandles } from './replay';
import { marketFilters } from './filters';
import type { MarketInterface } from 'ccxt';
import { checkSessionFeatures, parseModelReference, resolveTradingSetup, type TradingSetup } from './session-setup';
import { ModelRegistry } from '../registry/model-registry';
import { NO_ALERTS, type AlertSink } from '../services/alerts/types';
import { parseSessionCandles, writeSessionOutputs } from './session-outputs';

/**
 * A paper-trading session: closed candles from the exchange's stream (backfilled after a start or a
 * disconnect) → streaming features → the registry's model → the strategy's incremental form → the
 * stepping engine kernel with its simulated venue. Every candle, decision, signal, fill and trade is
 * appended to the session folder as it happens, and the whole state is saved after each candle, so a
 * restart (even after SIGKILL) continues exactly where the last saved candle left off.
 *
 * Which candles trade: the ones that close after the session started. The ones before are history
 * (they warm up features and strategy, target flat). After a restart, the candles that closed while the
 * session was down are 'missed': the engine sees them (stops and limit orders work as on an exchange)
 * but no new decision is taken on them; the strategy's state still follows them.
 */

export type PaperSessionOptions = ExchangeConnection & {
  /** Spec file; its registered model (production) unless `model` names one. */
  spec?: string;
  /** Registry model: name, name@stage or name@version. */
  model?: string;
  /** Default: the spec's symbol and timeframe. */
  symbol?: string;
  timeframe?: string;
  /** Starting cash (default: the spec's backtest.initialCash). */
  cash?: number;
  /** Order latency in ms (see BacktestSettings.latencyMs). */
  latencyMs?: number;
  /** Cap each fill at this share of the previous bar's volume. */
  maxParticipation?: number;
  /** Stop after this many candles that close after the start (this invocation). */
  maxCandles?: number;
  /** Stop at the first candle that closes at or after this time. */
  until?: TimeInput;
  /** History candles before the first tradable one (default: 2 × the warm-up the features and strategy need, + 100). */
  warmup?: number;
  /** The session folder: resumed when it holds a session, else created (default runs/paper-<model>-<time>). */
  dir?: string;
  workspace?: WorkspaceOverrides;
  /** `--set path=value` overrides of the spec. */
  overrides?: readonly string[];
  signal?: AbortSignal;
  /** Progress lines (default: stderr). */
  log?: (line: string) => void;
  onEvent?: (event: SessionEvent) => void;
  /**
   * Live trading: each live candle's decision also goes to this executor (an exchange through
   * LiveTrader, dry-run or live); the session's engine keeps the simulated book beside it.
   */
  executor?: (session: { dir: string; symbol: string; connection: ExchangeConnection }) => Promise<SessionExecutor>;
  /** What the executor will be, known before it is made (it names the session kind). */
  executorKind?: SessionExecutor['kind'];
  reconnect?: RetryPolicy;
  retry?: RetryPolicy;
  /**
   * Where fills, risk-monitor actions, model swaps and errors are alerted (services/alerts; default:
   * nowhere). Sending never blocks or stops trading.
   */
  alerts?: AlertSink;
};

/** What a session reports as it goes (for the terminal, notebooks and tests). */
export type SessionEvent =
  | { kind: 'started'; dir: string; resumed: boolean; startTime: number }
  | { kind: 'candle'; time: number; mode: CandleMode; decision?: CandleDecision; fills: Fill[]; equity: number; position: number; timings: CandleTimings; executed?: object }
  | { kind: 'stream'; event: StreamEvent }
  | { kind: 'model-switch'; time: number; from: number; to: number; reason: string }
  | { kind: 'stopped'; dir: string; reason: string };

export type CandleMode = 'history' | 'live' | 'missed';

/** Where a live session's decisions are executed (LiveTrader implements it). */
export type SessionExecutor = {
  readonly kind: 'live' | 'dry-run';
  /**
   * `target` is the kernel's book as an exposure: the position it will hold once this candle's orders
   * fill (after sizing, stop-loss / take-profit exits and risk monitors), × the close / its equity.
   * `capital` (when the session's --cash caps the capital used) is the kernel's equity: the exchange
   * sizes against at most that much.
   */
  onDecision(decision: { time: number; target: number; price: number; reasoning?: string; capital?: number }): Promise<object>;
};

/** Where a candle's handling time goes (ms): features, model, strategy + engine (the order is placed), logs + state on disk. */
export type CandleTimings = { features: number; predict: number; decide: number; persist: number; total: number };

/** One decision per candle: the S6 signal record plus what fed it. */
export type CandleDecision = SignalRecord & { mode: CandleMode; target: number; prediction: number[] | null };

export type SessionResult = { dir: string; candles: number; liveCandles: number; fills: number; trades: number; equity: number; position: number; stopReason: string };

/** The session's description (session.json): what parity and a resume need to reproduce it. */
export type SessionInfo = {
  format: 1;
  /** paper: the simulated venue only; live / dry-run: decisions also executed through LiveTrader. */
  kind: 'paper' | 'live' | 'dry-run';
  createdAt: string;
  startTime: number;
  exchange: string;
  market: MarketKind;
  symbol: string;
  timeframe: string;
  spec: unknown;
  model: { name: string; version: number; modelId: string; classes?: string[]; featureNames: string[] };
  /**
   * The registry stage the session follows (started by name, name@production or a spec): when another
   * version enters that stage (a promotion, a rollback), the session swaps to it at its next candle.
   * Absent when a version was pinned (name@3).
   */
  follow?: 'production' | 'staging';
  strategy: { id: string; version: string; params: unknown };
  settings: BacktestSettings;
  sleeve: string;
  /**
   * Live / dry-run: the session was given --cash, so the exchange sizes against at most the kernel's
   * equity (which starts at that cash), not the whole account.
   */
  capCapital?: boolean;
  warmupRows: number;
  requiredInputs: number;
};

type SavedState = {
  format: 1;
  /** The model version deciding now (differs from session.json's after a swap). */
  modelVersion?: number;
  rows: number;
  lastTime: number;
  heldTarget: number;
  kernel: KernelState;
  features: StreamState;
  strategy: unknown;
  /** The model's trailing feature rows (sequence models) or its stream's state; absent in older sessions. */
  model?: ModelFeedState;
  written: { fills: number; trades: number; signals: number; riskEvents: number };
  status: 'running' | 'stopped';
};

export const SESSION_LOGS = {
  'candles.csv': 'time,open,high,low,close,volume,mode,source\n',
  'decisions.jsonl': '',
  'signals.jsonl': '',
  'fills.jsonl': '',
  'risk-events.jsonl': '',
  'trades.csv': tradesCsv([]),
  'equity.csv': 'time,equity,cash,position_value,position\n',
  'orders.jsonl': '',
  'models.jsonl': '',
} as const;

/** Run (or resume) a paper session until `maxCandles`, `until`, or the abort signal. */
export async function runPaperSession(options: PaperSessionOptions): Promise<SessionResult> {
  const log = options.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const resumedInfo = options.dir && fs.existsSync(path.join(options.dir, 'session.json')) ? (JSON.parse(fs.readFileSync(path.join(options.dir, 'session.json'), 'utf8')) as SessionInfo) : undefined;
  // after a model swap the state names the version deciding now
  const resumedVersion = resumedInfo ? (SessionLog.readState<SavedState>(options.dir!)?.modelVersion ?? resumedInfo.model.version) : undefined;
  const setup = resumedInfo
    ? resumedVersion !== resumedInfo.model.version
      ? // a swapped-in version decides with its own run's spec (features, strategy)
        await resolveTradingSetup({ model: `${resumedInfo.model.name}@${resumedVersion}`, workspace: options.workspace })
      : await resolveTradingSetup({ spec: resumedInfo.spec as SpecInput, model: `${resumedInfo.model.name}@${resumedVersion}`, workspace: options.workspace })
    : await resolveTradingSetup({ spec: options.spec, model: options.model, workspace: options.workspace, overrides: options.overrides, symbol: options.symbol });
  const followed = options.model ? parseModelReference(options.model).selector : { stage: 'production' as const };
  const { context, model, version } = setup;
  const plan = context.plan;
  const market: MarketKind = resumedInfo?.market ?? options.market ?? 'spot';
  const specData = singleDataSource(context.spec, 'a paper or live session');
  const symbol = resumedInfo?.symbol ?? options.symbol ?? specData.symbol;
  const timeframe = resumedInfo?.timeframe ?? options.timeframe ?? specData.timeframe;
  if (!resumedInfo && timeframe !== specData.timeframe) {
    throw new ConfigError(`the model was trained on ${specData.timeframe} candles; a session on ${timeframe} would feed it features it never saw (use --timeframe ${specData.timeframe})`);
  }
  const step = timeframeMs(timeframe);
  const connection: ExchangeConnection = { exchange: options.exchange ?? resumedInfo?.exchange ?? 'binance', market, apiUrl: options.apiUrl, timeoutMs: options.timeoutMs, rateLimitMs: options.rateLimitMs };
  const exchange = createExchange(connection);
  // before anything is written or connected: features a one-symbol stream (plus the store's side tables) cannot feed
  try {
    checkSessionFeatures(plan.features, resumedInfo?.kind ?? options.executorKind ?? 'paper', sideTableColumns({ exchange: exchange.id, market, symbol, timeframe }, context.workspace.dataDir));
  } catch (error) {
    model.dispose();
    throw error;
  }
  const { market: marketInfo } = await withRetry(`${exchange.id} loadMarkets`, () => resolveMarket(exchange, market, symbol, timeframe), options.retry, exchange);
  const now = await exchangeNow(exchange, options.retry);

  // ——— resolve once: settings with the exchange's rules, the session folder ———
  const info: SessionInfo =
    resumedInfo ??
    (() => {
      const rules = marketRules(marketInfo);
      const settings = parseBacktestSettings({
        ...plan.backtest,
        ...(options.cash !== undefined ? { initialCash: options.cash } : {}),
        ...(options.latencyMs !== undefined ? { latencyMs: options.latencyMs } : {}),
        ...(options.maxParticipation !== undefined ? { maxParticipation: options.maxParticipation } : {}),
        ...rules,
        // a spot account cannot be short
        ...(market === 'spot' ? { allowShort: false } : {}),
      });
      const features = createFeatureStream(plan.features, plan.featureContext, { meta: { symbol, timeframe } });
      const strategyWarmup = strategyBufferBars(plan.strategy.definition, plan.strategy.params);
      const needed = Math.max(features.requiredInputs, plan.strategy.definition.lookback === undefined ? 0 : strategyWarmup);
      return {
        format: 1,
        kind: options.executorKind ?? 'paper',
        createdAt: new Date().toISOString(),
        startTime: now,
        exchange: exchange.id,
        market,
        symbol,
        timeframe,
        spec: context.spec,
        model: { name: version.name, version: version.version, modelId: version.modelId, classes: version.classes, featureNames: version.featureNames },
        ...('stage' in followed && followed.stage !== 'archived' ? { follow: followed.stage } : {}),
        strategy: { id: plan.strategy.definition.id, version: plan.strategy.definition.version, params: plan.strategy.params },
        settings,
        sleeve: plan.strategy.definition.id,
        ...(options.executorKind && options.cash !== undefined ? { capCapital: true } : {}),
        warmupRows: options.warmup ?? 2 * needed + 100,
        requiredInputs: features.requiredInputs,
      } satisfies SessionInfo;
    })();
  const dir = options.dir ?? path.join(context.workspace.runsDir, `${info.kind}-${version.name}-${isoTime(now).replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}`);

  if (resumedInfo && resumedInfo.kind !== (options.executorKind ?? 'paper')) {
    throw new ConfigError(`${dir} is a ${resumedInfo.kind} session; resume it with candlelab ${resumedInfo.kind === 'paper' ? 'paper' : `live${resumedInfo.kind === 'live' ? ' --live' : ''}`} --dir ${dir}`);
  }
  if (options.executor && info.market !== 'spot') throw new ConfigError('live trading is spot only for now; use --market spot');
  const executor = options.executor ? await options.executor({ dir, symbol: info.symbol, connection }) : undefined;
  const alerts = options.alerts ?? NO_ALERTS;
  const session = new PaperSession(setup, info, dir, log, options.onEvent, executor, alerts);
  const resumed = session.open(resumedInfo !== undefined);
  options.onEvent?.({ kind: 'started', dir, resumed, startTime: info.startTime });
  log(`${resumed ? 'resuming' : 'starting'} ${info.kind} session ${dir}: ${info.symbol} ${info.timeframe} on ${info.exchange} (${info.market}), model ${info.model.name} v${info.model.version}, strategy ${info.strategy.id}`);

  // ——— the stream ———
  const until = options.until !== undefined ? parseTime(options.until, 'until') : Infinity;
  const maxCandles = options.maxCandles ?? Infinity;
  const controller = new AbortController();
  const abort = (): void => controller.abort();
  options.signal?.addEventListener('abort', abort);
  let stopReason = 'stream ended';
  let live = 0;
  try {
    const backfillFrom = session.rows > 0 ? session.lastTime + step : info.startTime - (info.warmupRows + 1) * step;
    const stream = streamCandles({
      ...connection,
      symbol: info.symbol,
      timeframe: info.timeframe,
      dataDir: context.workspace.dataDir,
      backfillFrom,
      signal: controller.signal,
      reconnect: options.reconnect,
      retry: options.retry,
      onEvent: (event) => {
        options.onEvent?.({ kind: 'stream', event });
        if (event.kind === 'disconnected') log(`stream disconnected (${event.error}); reconnecting in ${event.delayMs} ms`);
        else if (event.kind === 'subscribed') log(`streaming ${info.symbol} ${info.timeframe} (${event.mode})`);
        else if (event.candles > 0) log(`backfilled ${event.candles} candle(s) through REST up to ${isoTime(event.to)}`);
      },
    });
    for await (const candle of stream) {
      if (candle.time + step > until) {
        stopReason = `reached --until ${isoTime(until)}`;
        break;
      }
      const mode: CandleMode = candle.time + step <= info.startTime ? 'history' : candle.time + step <= now && resumed ? 'missed' : 'live';
      await session.process(candle, mode, candle.source);
      // candles that closed while the session was down are caught up, not counted
      if (mode === 'live' && ++live >= maxCandles) {
        stopReason = `processed ${live} candle(s) (--max-candles)`;
        break;
      }
    }
    if (controller.signal.aborted) stopReason = 'stopped by signal';
  } catch (error) {
    stopReason = `error: ${(error as Error).message.split('\n')[0]}`;
    await alerts.send({ kind: 'error', title: `${info.kind} ${info.symbol}: the session stopped on an error`, text: `${(error as Error).message}\nsession: ${dir}\nresume it with --dir ${dir} once the cause is fixed`, source: `${info.kind} ${dir}` });
    throw error;
  } finally {
    options.signal?.removeEventListener('abort', abort);
    session.close(stopReason);
  }
  options.onEvent?.({ kind: 'stopped', dir, reason: stopReason });
  return { ...session.summary(), liveCandles: live, stopReason };
}

/**
 * The exchange's lot step, tick and minimum order value as engine settings, from the same filters live
 * orders are checked against (`marketFilters`: Binance's own filters when the market carries them).
 */
export function marketRules(market: MarketInterface): { units: 'whole'; lotSize: number; tickSize: number; minNotional?: number } {
  const filters = marketFilters(market);
  return { units: 'whole', lotSize: filters.stepSize, tickSize: filters.tickSize, ...(filters.minNotional > 0 ? { minNotional: filters.minNotional } : {}) };
}

/** One session's moving parts: kernel, features, model and strategy, and its folder. */
class PaperSession {
  readonly kernel: EngineKernel;
  features: FeatureStream;
  strategy: IncrementalStrategy;
  /** The model fed row by row: its trailing window (sequence models) or its stream. */
  feed: ModelFeed;
  readonly log: SessionLog;
  rows = 0;
  lastTime = -Infinity;
  heldTarget = 0;
  private written = { fills: 0, trades: 0, signals: 0, riskEvents: 0 };
  private classes: string[] | undefined;
  private needsPredictions: boolean;
  private requiredInputs: number;
  /** The registry the session follows (when it follows a stage), and the stage file's last stamp. */
  private readonly registry: ModelRegistry | undefined;
  private stageStamp = '';
  /** The store's side-table values of a bar (none when the store holds no side tables for the symbol). */
  private readonly sideColumns: (time: number) => Record<string, number>;

  constructor(
    private setup: TradingSetup,
    readonly info: SessionInfo,
    readonly dir: string,
    private readonly print: (line: string) => void,
    private readonly onEvent?: (event: SessionEvent) => void,
    private readonly executor?: SessionExecutor,
    private readonly alerts: AlertSink = NO_ALERTS,
  ) {
    const plan = setup.context.plan;
    this.kernel = createEngineKernel([{ symbol: info.symbol, candles: emptyCandles(info.symbol, info.timeframe) }], [{ name: info.sleeve }], info.settings, { stepping: true });
    this.features = createFeatureStream(plan.features, plan.featureContext, { meta: { symbol: info.symbol, timeframe: info.timeframe }, closedOnly: true });
    this.classes = setup.model.classes ? [...setup.model.classes] : undefined;
    this.strategy = stepStrategy(plan.strategy.definition, plan.strategy.params, { classes: this.classes });
    this.feed = new ModelFeed(setup.model);
    this.needsPredictions = plan.strategy.definition.needs.predictions;
    this.requiredInputs = this.features.requiredInputs;
    this.log = new SessionLog(dir, SESSION_LOGS);
    this.registry = info.follow ? new ModelRegistry(setup.context.workspace.modelsDir) : undefined;
    this.sideColumns = sideTableJoin({ exchange: info.exchange, market: info.market, symbol: info.symbol, timeframe: info.timeframe }, setup.context.workspace.dataDir);
    // no stamp yet: the first tradable candle compares the stage's version with the deciding one (a
    // promotion made while the session was down is picked up on resume)
  }

  /**
   * Before a tradable candle: when the followed stage holds another version now (a promotion or a
   * rollback), load it, replay the session's candles through its features and strategy (so they stand
   * where a session started with it would), and decide with it from this candle on. Logged in
   * models.jsonl. A version that cannot be loaded leaves the current one deciding (logged).
   */
  private async followRegistry(time: number): Promise<void> {
    if (!this.registry) return;
    const stamp = this.registry.stageStamp(this.info.model.name);
    if (stamp === this.stageStamp) return;
    this.stageStamp = stamp;
    const current = this.setup.version.version;
    let next: number;
    try {
      next = this.registry.resolve(this.info.model.name, { stage: this.info.follow! }).version;
    } catch (error) {
      this.print(`model: ${(error as Error).message}; ${this.info.model.name} v${current} keeps deciding`);
      return;
    }
    if (next === current) return;
    let setup: TradingSetup;
    try {
      setup = await resolveTradingSetup({ model: `${this.info.model.name}@${next}`, workspace: { ...this.setup.context.workspace } });
      if (setup.context.plan.timeframe !== this.info.timeframe) throw new ConfigError(`v${next} was trained on ${setup.context.plan.timeframe} candles, the session trades ${this.info.timeframe}`);
      checkSessionFeatures(setup.context.plan.features, this.info.kind, sideTableColumns({ exchange: this.info.exchange, market: this.info.market, symbol: this.info.symbol, timeframe: this.info.timeframe }, setup.context.workspace.dataDir));
    } catch (error) {
      this.print(`model: ${this.info.follow} is now ${this.info.model.name} v${next} but it cannot trade here (${(error as Error).message}); v${current} keeps deciding`);
      return;
    }
    const plan = setup.context.plan;
    const features = createFeatureStream(plan.features, plan.featureContext, { meta: { symbol: this.info.symbol, timeframe: this.info.timeframe }, closedOnly: true });
    const classes = setup.model.classes ? [...setup.model.classes] : undefined;
    const strategy = stepStrategy(plan.strategy.definition, plan.strategy.params, { classes });
    const needsPredictions = plan.strategy.definition.needs.predictions;
    // the new version's features and strategy over the candles so far (one batched prediction)
    const replayed = await replayCandles(this.withSideColumns(this.kernel.candles(0)), { features, strategy, model: setup.model, needsPredictions });
    // the new model's window (or stream) stands where the replay's batch prediction left it
    const feed = new ModelFeed(setup.model);
    const names = setup.model.featureNames;
    feed.prime(replayed.features.slice(features.requiredInputs).map((row) => Float32Array.from(names, (name) => row[name])));
    this.setup.model.dispose(); // nothing decides with the old version any more
    this.setup = setup;
    this.features = features;
    this.strategy = strategy;
    this.feed = feed;
    this.classes = classes;
    this.needsPredictions = needsPredictions;
    this.requiredInputs = features.requiredInputs;
    const last = this.registry.history(this.info.model.name).at(-1);
    const reason = last && last.version === next ? `${last.action} at ${last.at}` : `${this.info.follow} changed`;
    this.log.add('models.jsonl', JSON.stringify({ time: isoTime(time), from: current, to: next, stage: this.info.follow, reason, replayed: replayed.features.length }));
    this.print(`model: ${this.info.model.name} ${this.info.follow} is now v${next} (was v${current}; ${reason}); deciding with v${next} from the candle closing ${isoTime(time + timeframeMs(this.info.timeframe))}`);
    this.onEvent?.({ kind: 'model-switch', time, from: current, to: next, reason });
    void this.alerts.send({ kind: 'model-switch', title: `${this.info.kind} ${this.info.symbol}: model ${this.info.model.name} v${current} → v${next}`, text: `${this.info.follow} is now v${next} (${reason}); the session decides with it from the candle closing ${isoTime(time + timeframeMs(this.info.timeframe))}.`, source: `${this.info.kind} ${this.dir}` });
  }

  /** Create the folder, or load a saved session: its candles into the kernel, then every state. */
  open(resume: boolean): boolean {
    const saved = resume ? SessionLog.readState<SavedState>(this.dir) : undefined;
    if (!saved) {
      if (fs.existsSync(path.join(this.dir, 'state.json'))) throw new ConfigError(`${this.dir} already holds a session; resume it with --dir ${this.dir} and no spec, or choose another folder`);
      fs.mkdirSync(this.dir, { recursive: true });
      fs.writeFileSync(path.join(this.dir, 'session.json'), JSON.stringify(this.info, null, 2) + '\n');
      this.log.open();
      return false;
    }
    this.log.open(saved.logOffsets);
    // the candles the state has processed, back into the kernel (the state holds no bars)
    const { candles } = parseSessionCandles(fs.readFileSync(path.join(this.dir, 'candles.csv'), 'utf8'), this.info);
    if (candles.length < saved.rows) throw new DataError(`${this.dir}/candles.csv has ${candles.length} candles but the state has processed ${saved.rows}; the folder is damaged`);
    const [open, high, low, close, volume] = (['open', 'high', 'low', 'close', 'volume'] as const).map((name) => candles.column(name));
    for (let i = 0; i < saved.rows; i++) this.kernel.appendBar(0, { time: candles.time[i], open: open[i], high: high[i], low: low[i], close: close[i], volume: volume[i] });
    this.kernel.restore(saved.kernel);
    this.features.restore(saved.features);
    this.strategy.restore(saved.strategy);
    this.feed.restore(saved.model);
    this.rows = saved.rows;
    this.lastTime = saved.lastTime;
    this.heldTarget = saved.heldTarget;
    this.written = { ...saved.written };
    // the kernel's records restart empty after a restore; count from there
    this.recordBase = { ...saved.written };
    return true;
  }
  private recordBase = { fills: 0, trades: 0, signals: 0, riskEvents: 0 };

  /** Candles with the store's side-table columns joined as `process` joins them to each bar. */
  private withSideColumns(candles: Candles): Candles {
    const rows = Array.from(candles.time, (time) => this.sideColumns(time));
    const names = Object.keys(rows[0] ?? {});
    if (names.length === 0) return candles;
    return candles.withColumns(Object.fromEntries(names.map((name) => [name, Float64Array.from(rows, (row) => row[name] ?? NaN)]))) as Candles;
  }

  async process(candle: { time: number; open: number; high: number; low: number; close: number; volume: number }, mode: CandleMode, source: string): Promise<void> {
    const bar = { time: candle.time, open: candle.open, high: candle.high, low: candle.low, close: candle.close, volume: candle.volume };
    if (mode !== 'history') await this.followRegistry(bar.time);
    const started = performance.now();
    const row = this.rows;
    // the store's side tables (funding, open interest) as of this bar, as a spec run joins them
    const featureRow = this.features.update({ ...bar, ...this.sideColumns(bar.time) });
    const featured = performance.now();
    let prediction: number[] | null = null;
    if (row >= this.requiredInputs) {
      const names = this.setup.model.featureNames;
      const values = new Float32Array(names.length);
      names.forEach((name, k) => (values[k] = featureRow[name]));
      // over the model's trailing rows (a sequence model's window), as the backtest's batch prediction sees them
      prediction = Array.from(await this.feed.next(values));
    }
    const predicted = performance.now();
    // the strategy follows every candle it can see (its state must match the batch form's)
    let decided: { target: number; confidence?: number; reasoning: string } | undefined;
    if (!this.needsPredictions || prediction) decided = this.strategy.next({ bar, prediction: prediction ?? undefined, features: featureRow });
    let target: number;
    let reasoning: string;
    if (mode === 'history') {
      target = 0;
      reasoning = 'history: the candle closed before the session started';
    } else if (!decided) {
      target = 0;
      reasoning = `warming up: ${row + 1} of ${this.requiredInputs} candles the features need`;
    } else {
      target = decided.target;
      reasoning = decided.reasoning;
    }
    if (target < 0 && !this.info.settings.allowShort) target = 0;
    // a missed candle keeps the target held before it
    if (mode === 'missed') target = this.heldTarget;
    this.kernel.appendBar(0, bar);
    if (mode !== 'missed') this.kernel.decide(this.info.sleeve, 0, { target, confidence: decided?.confidence, reasoning });
    this.heldTarget = target;
    while (this.kernel.step());
    const decidedAt = performance.now();
    // A live session makes the exchange follow the kernel's book, not the strategy's raw target: the
    // position the kernel will hold once this candle's orders fill (sized, after stop-loss / take-profit
    // exits and risk monitors that flatten or block), as an exposure of the kernel's equity. LiveTrader
    // scales it to the account (capped by the kernel's equity when --cash was given) and skips a candle
    // it has already handled, so a candle processed again after a crash sends nothing twice.
    const closeTime = bar.time + timeframeMs(this.info.timeframe);
    let executed: object | undefined;
    if (mode === 'live' && this.executor) {
      const bookEquity = this.kernel.equity();
      const planned = this.kernel.plannedPosition(this.info.sleeve, 0);
      const exposure = bookEquity > 0 ? (planned * bar.close) / bookEquity : 0;
      const book = `book: ${planned.toPrecision(6)} units = exposure ${exposure.toFixed(4)} of equity ${bookEquity.toFixed(2)} (strategy target ${target})`;
      executed = await this.executor.onDecision({ time: closeTime, target: exposure, price: bar.close, reasoning: `${reasoning}; ${book}`, ...(this.info.capCapital ? { capital: bookEquity } : {}) });
    }
    this.rows = row + 1;
    this.lastTime = bar.time;

    // ——— log what happened, then save the state: this candle is done ———
    const quote = this.kernel.quote(0, target);
    const direction = Math.sign(target);
    const decision: CandleDecision = {
      time: isoTime(closeTime),
      asset: this.info.symbol,
      sleeve: this.info.sleeve,
      signal: direction > 0 ? 'LONG' : direction < 0 ? 'SHORT' : 'FLAT',
      confidence: mode !== 'missed' && decided?.confidence !== undefined && Number.isFinite(decided.confidence) ? decided.confidence : null,
      ...quote,
      reasoning: mode === 'missed' ? `missed: the candle closed while the session was down (kept the previous target)` : reasoning,
      mode,
      target,
      prediction,
    };
    this.log.add('candles.csv', [bar.time, bar.open, bar.high, bar.low, bar.close, bar.volume, mode, source].join(','));
    this.log.add('decisions.jsonl', JSON.stringify({ ...decision, target: mode === 'missed' ? null : target }));
    const records = this.kernel.records();
    const newFills = this.drain('fills', records.fills, 'fills.jsonl', (f: Fill) => JSON.stringify({ ...f, time: isoTime(f.time) }));
    this.drain('signals', records.signals, 'signals.jsonl', (s: SignalRecord) => JSON.stringify(s));
    const newRisk = this.drain('riskEvents', records.riskEvents, 'risk-events.jsonl', (e: RiskEvent) => JSON.stringify(e));
    this.drain('trades', records.trades, 'trades.csv', (t: EngineTrade) => tradesCsv([t]).split('\n')[1]);
    const equity = this.kernel.equity();
    const cash = this.kernel.cash();
    const position = this.kernel.position(this.info.sleeve, 0);
    if (executed) this.log.add('orders.jsonl', JSON.stringify(executed));
    this.log.add('equity.csv', [closeTime, equity, cash, equity - cash, position].join(','));
    this.log.commit({
      format: 1,
      modelVersion: this.setup.version.version,
      rows: this.rows,
      lastTime: this.lastTime,
      heldTarget: this.heldTarget,
      kernel: this.kernel.snapshot(),
      features: this.features.snapshot(),
      strategy: this.strategy.snapshot(),
      model: this.feed.snapshot(),
      written: this.written,
      status: 'running',
    } satisfies Omit<SavedState, never>);
    const done = performance.now();
    if (mode !== 'history') this.alert(newFills, newRisk, executed as { action?: string; reason?: string; fills?: Array<{ side: string; amount: number; price: number }> } | undefined);
    const timings: CandleTimings = { features: featured - started, predict: predicted - featured, decide: decidedAt - predicted, persist: done - decidedAt, total: done - started };
    this.onEvent?.({ kind: 'candle', time: bar.time, mode, decision, fills: newFills, equity, position, timings, ...(executed ? { executed } : {}) });
    if (mode !== 'history') {
      const fills = newFills.map((f) => `${f.side} ${f.quantity.toPrecision(6)} @ ${f.price.toPrecision(8)} (${f.type})`).join('; ');
      const sent = executed as { action?: string; reason?: string } | undefined;
      this.print(`${isoTime(closeTime)} ${mode.padEnd(6)} close ${bar.close}  ${decision.signal.padEnd(5)} ${decision.confidence === null ? '' : `p=${decision.confidence.toFixed(3)} `}position ${position.toPrecision(6)} equity ${equity.toFixed(2)}${fills ? `  filled: ${fills}` : ''}${sent ? `  ${this.executor!.kind}: ${sent.action} (${sent.reason})` : ''}`);
    }
  }

  /**
   * Alerts for this candle: the fills (the exchange's for a live or dry-run session, the simulated venue's
   * for paper), risk monitors acting, and orders the rails blocked or the exchange rejected.
   */
  private alert(fills: Fill[], risk: RiskEvent[], executed?: { action?: string; reason?: string; fills?: Array<{ side: string; amount: number; price: number }> }): void {
    const source = `${this.info.kind} ${this.dir}`;
    const who = `${this.info.kind} ${this.info.symbol}`;
    const traded = this.executor ? (executed?.fills ?? []).map((f) => `${f.side} ${f.amount} @ ${f.price}`) : fills.map((f) => `${f.side} ${f.quantity.toPrecision(6)} @ ${f.price.toPrecision(8)} (${f.type})`);
    if (traded.length) void this.alerts.send({ kind: 'fill', title: `${who}: ${traded.join('; ')}`, text: `${traded.join('\n')}\nposition ${this.kernel.position(this.info.sleeve, 0).toPrecision(6)}, equity ${this.kernel.equity().toFixed(2)} (simulated book)`, source });
    for (const e of risk) void this.alerts.send({ kind: 'risk', title: `${who}: ${e.monitor} ${e.action}`, text: `${e.time} ${e.monitor}: ${e.action}\n${e.detail}`, source });
    if (executed && (executed.action === 'blocked' || executed.action === 'rejected')) {
      void this.alerts.send({ kind: executed.action === 'rejected' ? 'error' : 'risk', title: `${who}: order ${executed.action}`, text: executed.reason ?? '', source });
    }
  }

  /** Queue a record kind's new entries for its log; returns them. */
  private drain<T>(kind: keyof SavedState['written'], all: readonly T[], file: string, line: (record: T) => string): T[] {
    const from = this.written[kind] - this.recordBase[kind];
    const fresh = all.slice(from);
    for (const record of fresh) this.log.add(file, line(record));
    this.written[kind] += fresh.length;
    return fresh;
  }

  summary(): Omit<SessionResult, 'liveCandles' | 'stopReason'> {
    return { dir: this.dir, candles: this.rows, fills: this.written.fills, trades: this.written.trades, equity: this.rows ? this.kernel.equity() : this.info.settings.initialCash, position: this.rows ? this.kernel.position(this.info.sleeve, 0) : 0 };
  }

  /** Close the logs and write the backtest-layout outputs (backtest.arrow, signals.json, report.html). */
  close(reason: string): void {
    this.log.close();
    writeSessionOutputs(this.dir, reason);
  }
}

function emptyCandles(symbol: string, timeframe: string): Candles {
  const none = new Float64Array(0);
  return Frame.fromColumns(none, { open: none, high: none, low: none, close: none, volume: none }, { symbol, timeframe });
}
