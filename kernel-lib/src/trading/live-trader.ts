import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Exchange } from 'ccxt';
import { ConfigError, TradingError } from '../errors';
import { createExchange, resolveMarket, oneLine, type ExchangeConnection } from '../data/exchange/ccxt-client';
import type { RetryPolicy } from '../data/exchange/retry';
import { ExchangeVenue, OrderRejectedError, type VenueFill } from './exchange-venue';
import { applyFilters, floorToStep, marketFilters, type MarketFilters } from './filters';
import { loadApiKeys, type KeySource } from './keys';
import { clientOrderId, newSessionId } from './order-ids';
import { capOrder, capPosition, dailyLossBreach, DAY_MS, killFilePath, rampFraction, recentOrders, validateRails, type TradingRails } from './rails';
import { reconcile, settle, type ReconcileReport } from './reconcile';
import { Redactor } from './redact';
import { appendJournal, applyFills, loadState, saveState, type OrderRecord, type TradingState } from './state';

export type LiveTraderOptions = {
  /** How to reach the exchange (ccxt id, apiUrl, timeout); spot is implied. */
  connection: ExchangeConnection;
  /** Unified spot symbol, e.g. 'BTC/USDT'. */
  symbol: string;
  /** Where state.json, journal.jsonl and the KILL file live (one folder per bot). */
  stateDir: string;
  rails?: TradingRails;
  /** true: log what would be sent and simulate the fill; no keys, no signed request. */
  dryRun: boolean;
  /** Where live keys come from (environment or a 0600 key file); ignored in dry-run. */
  keys?: KeySource;
  /** Every log line (already redacted). Default: stderr. */
  logger?: (line: string) => void;
  /** 'market' (default), or 'limit' at the decision price moved by `limitOffset` in the trade's favour. */
  orderType?: 'market' | 'limit';
  /** Limit price offset as a fraction (0.001 = buy 0.1 % below, sell 0.1 % above the decision price). */
  limitOffset?: number;
  /** Dry-run starting balances when the state is new (default 10 000 quote, 0 base). */
  dryRunBalances?: { base?: number; quote?: number };
  /** Dry-run fee fraction, charged in the received asset like Binance (default 0.001). */
  dryRunFee?: number;
  /** Flatten when the KILL file appears (default false: cancel and block only). */
  flattenOnKillFile?: boolean;
  /** Retry policy of reads and order lookups. */
  retry?: RetryPolicy;
  /** Wall clock for the orders-per-minute window (default Date.now). */
  now?: () => number;
  /** Called after the kill switch acted (an alert, a notebook), with why and what it did. */
  onKill?: (kill: { reason: string; cancelled: number; flatten?: DecisionRecord }) => void;
};

/** A strategy's decision at a candle close. */
export type Decision = {
  /** Candle time (epoch ms); UTC days for the daily loss limit are counted on it. */
  time: number;
  /** Target exposure, −1..1 of the allowed capital; spot cannot short, so below 0 means flat. */
  target: number;
  /** The price the decision was made at (the candle close). */
  price: number;
  reasoning?: string;
  /**
   * The most quote capital to size against (a session given --cash passes its simulated equity): the
   * target applies to min(account equity, capital). Default: the account's equity.
   */
  capital?: number;
};

/** What a decision led to. */
export type DecisionRecord = {
  time: number;
  action: 'sent' | 'skipped' | 'dry-run' | 'blocked' | 'rejected';
  reason: string;
  order?: { clientOrderId: string; side: 'buy' | 'sell'; type: 'market' | 'limit'; amount: number; price?: number; status: OrderRecord['status'] };
  fills: VenueFill[];
  /** Base units held after the decision. */
  position: number;
  /** Quote + base × price after the decision. */
  equity: number;
};

export type KillResult = { cancelled: number; flatten?: DecisionRecord };

export type TraderStatus = {
  mode: 'live' | 'dry-run';
  symbol: string;
  sessionId: string;
  balances: { base: number; quote: number };
  position: number;
  openOrders: string[];
  killed?: { at: number; reason: string };
  haltedToday?: string;
  rampFraction: number;
  nextSeq: number;
  lastCandleTime?: number;
};

/**
 * Spot trading of one symbol with safety rails. `open` loads the persisted state and reconciles it with
 * the exchange (failing closed on anything unexplained); `onDecision` turns a target exposure into at
 * most one order. Every change is persisted before and after an order leaves, so a crash at any point
 * is settled by the next `open`. Everything logged, thrown or written is redacted of the API key and
 * secret.
 */
export class LiveTrader {
  private queue: Promise<unknown> = Promise.resolve();
  private lastPrice?: number;

  private constructor(
    private readonly options: LiveTraderOptions,
    private readonly state: TradingState,
    readonly venue: ExchangeVenue,
    readonly filters: MarketFilters,
    /** The session's redactor (knows the key and secret): wrap process output with it (`wrapProcessOutput`). */
    readonly redactor: Redactor,
    readonly reconciliation: ReconcileReport | undefined,
  ) {}

  /** Load or create the state, connect, reconcile (live), and check the kill file. */
  static async open(options: LiveTraderOptions): Promise<LiveTrader> {
    const redactor = new Redactor();
    const log = makeLog(options, redactor);
    let exchange: Exchange | undefined;
    try {
      validateRails(options.rails ?? {});
      if (options.limitOffset !== undefined && !(options.limitOffset >= 0 && options.limitOffset < 0.5)) {
        throw new ConfigError(`limitOffset is ${options.limitOffset}; give a fraction between 0 and 0.5`);
      }
      // Keys are read only for live trading: dry-run must work, and stay unsigned, without them.
      const keys = options.dryRun ? undefined : loadApiKeys(options.keys);
      if (keys) redactor.add(keys.apiKey, keys.secret);
      exchange = createExchange({ ...options.connection, market: 'spot' });
      // Spot only: margin pair lists are a signed sapi call ccxt would otherwise make on loading markets.
      exchange.options.fetchMargins = false;
      if (keys) {
        exchange.apiKey = keys.apiKey;
        exchange.secret = keys.secret;
      }
      const { market } = await resolveMarket(exchange, 'spot', options.symbol);
      const filters = marketFilters(market);
      const mode = options.dryRun ? 'dry-run' : 'live';
      let state = loadState(options.stateDir);
      const fresh = state === undefined;
      if (state && state.mode !== mode) {
        throw new ConfigError(`${options.stateDir} holds a ${state.mode} session; use another state folder for ${mode} trading`);
      }
      if (state && state.symbol !== market.symbol) {
        throw new ConfigError(`${options.stateDir} holds a ${state.symbol} session, not ${market.symbol}; use one state folder per symbol`);
      }
      state ??= {
        version: 1,
        mode,
        exchange: exchange.id,
        symbol: market.symbol,
        base: market.base,
        quote: market.quote,
        sessionId: newSessionId(),
        nextSeq: 1,
        balances: options.dryRun ? { base: options.dryRunBalances?.base ?? 0, quote: options.dryRunBalances?.quote ?? 10_000 } : { base: 0, quote: 0 },
        orders: {},
        orderTimes: [],
        tradeCount: 0,
        createdAt: Date.now(),
      };
      const venue = new ExchangeVenue(exchange, market.symbol, { retry: options.retry, log });
      const report = options.dryRun ? undefined : await reconcile(venue, state, { stateDir: options.stateDir, fresh, log });
      saveState(options.stateDir, state, redactor);
      const trader = new LiveTrader(options, state, venue, filters, redactor, report);
      trader.journal({ event: 'open', mode, fresh, balances: state.balances, reconciliation: report });
      log(`${mode} ${market.symbol}: ${fresh ? 'new' : 'resumed'} session ${state.sessionId}, ${state.balances.base} ${state.base} and ${state.balances.quote} ${state.quote}${state.kill ? `; kill switch set (${state.kill.reason})` : ''}`);
      await trader.checkKillFile();
      return trader;
    } catch (error) {
      closeExchange(exchange);
      log(`error: ${oneLine(error)}`);
      throw redactor.redactError(error);
    }
  }

  /** Turn a target exposure into an order (or a reason not to); see `DecisionRecord`. */
  onDecision(decision: Decision): Promise<DecisionRecord> {
    return this.serial(() => this.decide(decision));
  }

  /**
   * The kill switch: block new entries (persisted, so it survives a restart; decisions that only reduce
   * the position still go through), cancel every open order of the symbol and, with `flatten`, sell the
   * position. Cleared only by `resetKill`.
   */
  kill(options: { flatten?: boolean; reason?: string } = {}): Promise<KillResult> {
    return this.serial(() => this.doKill(options.flatten ?? false, options.reason ?? 'kill switch called'));
  }

  /** Clear the kill switch (and remove the KILL file). */
  resetKill(): Promise<void> {
    return this.serial(async () => {
      fs.rmSync(killFilePath(this.options.stateDir), { force: true });
      const was = this.state.kill;
      delete this.state.kill;
      this.persist();
      this.journal({ event: 'reset-kill', was });
      this.log(`kill switch reset${was ? ` (was: ${was.reason})` : ''}; trading resumes`);
    });
  }

  /** Kill (cancel, block; flatten when asked) on a signal, e.g. 'SIGUSR2'; returns the uninstaller. */
  killOnSignal(signal: NodeJS.Signals, options: { flatten?: boolean } = {}): () => void {
    const handler = (): void => {
      this.kill({ flatten: options.flatten, reason: `signal ${signal}` }).catch((error) => this.log(`kill on ${signal} failed: ${oneLine(error)}`));
    };
    process.on(signal, handler);
    return () => process.off(signal, handler);
  }

  /**
   * Act on the KILL file the moment it appears (not only at the next decision, which may be an hour
   * away): fs.watch on the state folder. Returns the uninstaller.
   */
  watchKillFile(): () => void {
    const file = killFilePath(this.options.stateDir);
    const watcher = fs.watch(this.options.stateDir, (_event, name) => {
      if (name !== path.basename(file) || !fs.existsSync(file)) return;
      this.serial(() => this.checkKillFile()).catch((error) => this.log(`kill file ${file}: ${oneLine(error)}`));
    });
    return () => watcher.close();
  }

  status(): TraderStatus {
    const s = this.state;
    const time = s.lastCandleTime ?? s.startedAt ?? 0;
    return {
      mode: s.mode,
      symbol: s.symbol,
      sessionId: s.sessionId,
      balances: { ...s.balances },
      position: s.balances.base,
      openOrders: Object.values(s.orders)
        .filter((o) => o.status === 'open')
        .map((o) => o.clientOrderId),
      killed: s.kill ? { ...s.kill } : undefined,
      haltedToday: s.day?.halted,
      rampFraction: rampFraction(this.options.rails?.rampUp, { days: s.startedAt === undefined ? 0 : (time - s.startedAt) / DAY_MS, trades: s.tradeCount }),
      nextSeq: s.nextSeq,
      lastCandleTime: s.lastCandleTime,
    };
  }

  /** Release the connection (the state is already on disk). */
  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
    closeExchange(this.venue.exchange);
  }

  // ---- internals ----

  private serial<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task, task).catch((error: unknown) => {
      this.log(`error: ${oneLine(error)}`);
      throw this.redactor.redactError(error);
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private log(line: string): void {
    makeLog(this.options, this.redactor)(line);
  }

  private persist(): void {
    saveState(this.options.stateDir, this.state, this.redactor);
  }

  private journal(event: Record<string, unknown>): void {
    appendJournal(this.options.stateDir, { at: new Date().toISOString(), ...event }, this.redactor);
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  /** The KILL file appeared: kill once (the flag then persists). */
  private async checkKillFile(): Promise<void> {
    if (!this.state.kill && fs.existsSync(killFilePath(this.options.stateDir))) {
      await this.doKill(this.options.flattenOnKillFile ?? false, `kill file ${killFilePath(this.options.stateDir)}`);
    }
  }

  private async decide(d: Decision): Promise<DecisionRecord> {
    if (!Number.isFinite(d.time) || !Number.isFinite(d.target) || !(d.price > 0)) {
      throw new ConfigError(`decision needs a finite time and target and a positive price (got time ${d.time}, target ${d.target}, price ${d.price})`);
    }
    if (d.capital !== undefined && !(d.capital >= 0)) throw new ConfigError(`decision capital is ${d.capital}; give a non-negative amount or leave it out`);
    const s = this.state;
    this.lastPrice = d.price;
    const result = (action: DecisionRecord['action'], reason: string, extra: Partial<DecisionRecord> = {}): DecisionRecord => {
      const record: DecisionRecord = { time: d.time, action, reason, fills: [], position: s.balances.base, equity: this.equity(d.price), ...extra };
      this.journal({ event: 'decision', decision: d, ...record });
      this.log(`${new Date(d.time).toISOString()} target ${d.target}: ${action}: ${reason}`);
      return record;
    };
    if (s.lastCandleTime !== undefined && d.time <= s.lastCandleTime) return result('skipped', `candle ${new Date(d.time).toISOString()} already processed`);
    await this.checkKillFile();

    // Own orders still open (limit orders) are cancelled and settled first: each decision re-targets.
    if (s.mode === 'live') await this.settleOpenOrders(true);

    const dayStart = Math.floor(d.time / DAY_MS) * DAY_MS;
    if (s.day?.start !== dayStart) s.day = { start: dayStart, startEquity: this.equity(d.price) };
    s.startedAt ??= d.time;
    const finish = (record: DecisionRecord): DecisionRecord => {
      s.lastCandleTime = d.time;
      this.persist();
      return { ...record, position: s.balances.base, equity: this.equity(d.price) };
    };
    if (s.day.halted) return finish(result('blocked', s.day.halted));
    const breach = dailyLossBreach(this.options.rails ?? {}, s.day.startEquity, this.equity(d.price), s.quote);
    if (breach) {
      s.day.halted = breach;
      return finish(result('blocked', breach));
    }

    const rails = this.options.rails ?? {};
    const fraction = rampFraction(rails.rampUp, { days: (d.time - s.startedAt) / DAY_MS, trades: s.tradeCount });
    const notes: string[] = [];
    const target = Math.max(-1, Math.min(1, d.target));
    if (target < 0) notes.push('spot cannot short: negative target means flat');
    const capital = Math.min(this.equity(d.price), d.capital ?? Infinity);
    const allowed = fraction * capital;
    const capped = capPosition(rails, (Math.max(0, target) * allowed) / d.price, d.price, s.base);
    if (capped.reason) notes.push(capped.reason);
    const delta = capped.position - s.balances.base;
    const side: 'buy' | 'sell' = delta > 0 ? 'buy' : 'sell';
    let amount = Math.abs(delta);
    if (side === 'sell') amount = Math.min(amount, s.balances.base);
    // Keep 0.2 % of the quote back on buys: the fill price may move from the decision price.
    else amount = Math.min(amount, (s.balances.quote * 0.998) / d.price);
    const order = capOrder(rails, amount, d.price);
    if (order.reason) notes.push(order.reason);
    const type = this.options.orderType ?? 'market';
    const offset = type === 'limit' ? (this.options.limitOffset ?? 0) : 0;
    const filtered = applyFilters(this.filters, { side, amount: order.amount, price: d.price * (side === 'buy' ? 1 - offset : 1 + offset) });
    const context = `target ${target} × ${fraction} of ${capital < this.equity(d.price) ? `capital ${round2(capital)} (equity ${round2(this.equity(d.price))})` : `equity ${round2(this.equity(d.price))}`} ${s.quote} → ${round8(capped.position)} ${s.base}, holding ${round8(s.balances.base)}`;
    if (!filtered.ok) return finish(result('skipped', `${filtered.reason}; ${context}${notes.length ? '; ' + notes.join('; ') : ''}`));
    if (s.kill && side === 'buy') return finish(result('blocked', `kill switch set (${s.kill.reason}); no new entries until resetKill`));

    const recent = recentOrders(s.orderTimes, this.now());
    if (rails.maxOrdersPerMinute !== undefined && recent.length >= rails.maxOrdersPerMinute) {
      s.orderTimes = recent;
      return finish(result('blocked', `max ${rails.maxOrdersPerMinute} orders per minute reached; ${side} ${filtered.amount} ${s.base} not sent`));
    }
    const outcome = await this.send({ side, amount: filtered.amount, type, price: type === 'limit' ? filtered.price : undefined }, d.price, d.time, recent);
    return finish(result(outcome.action, [outcome.reason, context, ...notes].join('; '), { order: outcome.order, fills: outcome.fills }));
  }

  /**
   * Send one order (or simulate it in dry-run). The order record and the advanced sequence are
   * persisted before the request leaves: a crash mid-request is settled by the next reconciliation.
   */
  private async send(
    intent: { side: 'buy' | 'sell'; amount: number; type: 'market' | 'limit'; price?: number },
    marketPrice: number,
    time: number,
    recent: number[],
  ): Promise<{ action: DecisionRecord['action']; reason: string; order: NonNullable<DecisionRecord['order']>; fills: VenueFill[] }> {
    const s = this.state;
    const id = clientOrderId(s.sessionId, s.nextSeq);
    const record: OrderRecord = { clientOrderId: id, ...intent, status: 'sending', filled: 0, appliedFills: [], time };
    s.nextSeq++;
    s.orders[id] = record;
    s.orderTimes = [...recent, this.now()];
    this.persist();
    const what = `${intent.side} ${intent.amount} ${s.base} ${intent.type}${intent.price !== undefined ? ' at ' + intent.price : ''} (${id})`;
    const summary = (): NonNullable<DecisionRecord['order']> => ({ clientOrderId: id, side: intent.side, type: intent.type, amount: intent.amount, price: intent.price, status: record.status });

    if (s.mode === 'dry-run') {
      const price = intent.price !== undefined && (intent.side === 'buy' ? intent.price < marketPrice : intent.price > marketPrice) ? undefined : marketPrice;
      if (price === undefined) {
        // A limit order away from the price would rest; the dry run does not simulate resting orders.
        record.status = 'canceled';
        this.persist();
        return { action: 'dry-run', reason: `would send ${what}; it would rest below/above the price, not simulated`, order: summary(), fills: [] };
      }
      const fee = this.options.dryRunFee ?? 0.001;
      const cost = intent.amount * price;
      const fill: VenueFill = {
        tradeId: `dry-${id}`,
        orderId: id,
        side: intent.side,
        price,
        amount: intent.amount,
        cost,
        fee: intent.side === 'buy' ? intent.amount * fee : cost * fee,
        feeCurrency: intent.side === 'buy' ? s.base : s.quote,
        time,
      };
      applyFills(s, record, [fill]);
      record.status = 'filled';
      record.filled = intent.amount;
      s.tradeCount++;
      this.persist();
      return { action: 'dry-run', reason: `would send ${what}; simulated fill at ${price}`, order: summary(), fills: [fill] };
    }

    try {
      const placed = await this.venue.placeOrder({ clientOrderId: id, ...intent });
      settle(s, record, placed.order);
      this.persist();
      const recovered = placed.recovered ? ' (answer lost; found by client order id)' : '';
      return { action: 'sent', reason: `sent ${what}: ${record.status}, filled ${record.filled}${recovered}`, order: summary(), fills: placed.order.fills };
    } catch (error) {
      if (error instanceof OrderRejectedError) {
        record.status = 'rejected';
        record.reason = error.message;
        this.persist();
        return { action: 'rejected', reason: error.message, order: summary(), fills: [] };
      }
      // The order's fate is unknown: keep it so, persisted; the next open reconciles it.
      record.status = 'unknown';
      record.reason = oneLine(error);
      this.persist();
      throw error instanceof TradingError ? error : new TradingError(`order ${id}: ${oneLine(error)}; its status is unknown; restart to reconcile`, { cause: error });
    }
  }

  /** Settle the state's open (or unknown) orders with the exchange; with `cancel`, cancel them first. */
  private async settleOpenOrders(cancel: boolean): Promise<number> {
    const open = Object.values(this.state.orders).filter((o) => o.status === 'open' || o.status === 'unknown');
    let cancelled = 0;
    for (const record of open) {
      if (cancel && record.status === 'open' && (await this.venue.cancelOrder(record.clientOrderId))) cancelled++;
      const found = await this.venue.lookupOrder(record.clientOrderId);
      if (found) settle(this.state, record, found);
      else record.status = 'not-sent';
    }
    if (open.length > 0) this.persist();
    return cancelled;
  }

  private async doKill(flatten: boolean, reason: string): Promise<KillResult> {
    const s = this.state;
    // The block is persisted first: it holds even if cancelling fails halfway.
    s.kill = { at: this.now(), reason };
    this.persist();
    this.log(`KILL: ${reason}; cancelling open orders${flatten ? ' and flattening' : ''}; new entries blocked until resetKill`);
    let cancelled = 0;
    if (s.mode === 'live') {
      cancelled = await this.venue.cancelAll();
      await this.settleOpenOrders(false);
    } else {
      for (const o of Object.values(s.orders)) if (o.status === 'open') o.status = 'canceled';
    }
    let flattenRecord: DecisionRecord | undefined;
    if (flatten && s.balances.base > 0) {
      const ticker = this.lastPrice ?? (await this.tickerPrice());
      const filtered = applyFilters(this.filters, { side: 'sell', amount: floorToStep(s.balances.base, this.filters.stepSize), price: ticker ?? 0 });
      const time = s.lastCandleTime ?? 0;
      if (ticker === undefined) {
        flattenRecord = { time, action: 'skipped', reason: 'no price known to flatten at', fills: [], position: s.balances.base, equity: NaN };
      } else if (!filtered.ok) {
        flattenRecord = { time, action: 'skipped', reason: `not flattened: ${filtered.reason}`, fills: [], position: s.balances.base, equity: this.equity(ticker) };
      } else {
        const outcome = await this.send({ side: 'sell', amount: filtered.amount, type: 'market' }, ticker, time, recentOrders(s.orderTimes, this.now()));
        flattenRecord = { time, action: outcome.action, reason: `flatten: ${outcome.reason}`, order: outcome.order, fills: outcome.fills, position: s.balances.base, equity: this.equity(ticker) };
      }
      this.log(flattenRecord.reason);
    }
    this.persist();
    this.journal({ event: 'kill', reason, cancelled, flatten: flattenRecord });
    this.options.onKill?.({ reason, cancelled, flatten: flattenRecord });
    return { cancelled, flatten: flattenRecord };
  }

  /** The exchange's last price, for flattening before any decision arrived. */
  private async tickerPrice(): Promise<number | undefined> {
    if (this.state.mode !== 'live') return undefined;
    try {
      const ticker = await this.venue.exchange.fetchTicker(this.state.symbol);
      return ticker.last ?? undefined;
    } catch {
      return undefined;
    }
  }

  private equity(price: number): number {
    return this.state.balances.quote + this.state.balances.base * price;
  }
}

function makeLog(options: LiveTraderOptions, redactor: Redactor): (line: string) => void {
  const sink = options.logger ?? ((line: string) => process.stderr.write(line + '\n'));
  return (line) => sink(redactor.redact(line));
}

function closeExchange(exchange: Exchange | undefined): void {
  // createExchange gives plain-http endpoints a keep-alive agent; its idle sockets would hold the process.
  const agent = (exchange as unknown as { httpAgent?: { destroy(): void } } | undefined)?.httpAgent;
  agent?.destroy();
}

const round2 = (x: number): number => Number(x.toFixed(2));
const round8 = (x: number): number => Number(x.toFixed(8));
