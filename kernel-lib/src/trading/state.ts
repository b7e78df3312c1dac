import * as fs from 'node:fs';
import * as path from 'node:path';
import { TradingError } from '../errors';
import type { VenueFill } from './exchange-venue';
import type { Redactor } from './redact';

/** One order the bot created, from before it was sent to its end. */
export type OrderRecord = {
  clientOrderId: string;
  side: 'buy' | 'sell';
  type: 'market' | 'limit';
  amount: number;
  price?: number;
  /**
   * sending: persisted before the request, no answer seen yet (a crash leaves it so: reconciliation
   * looks it up); unknown: the answer was lost and the lookup failed; not-sent: the exchange does not
   * have it.
   */
  status: 'sending' | 'unknown' | 'open' | 'filled' | 'canceled' | 'rejected' | 'not-sent';
  exchangeId?: string;
  filled: number;
  /** Trade ids already applied to the balances (a fill is applied once). */
  appliedFills: string[];
  /** Decision time (candle time) that created it. */
  time: number;
  reason?: string;
};

/** The bot's persisted state: everything needed to resume after a crash without double-sending. */
export type TradingState = {
  version: 1;
  mode: 'live' | 'dry-run';
  exchange: string;
  symbol: string;
  base: string;
  quote: string;
  /** Client order ids are cl<sessionId>-<seq>. */
  sessionId: string;
  /** The next order's sequence number; advanced and persisted before the order leaves. */
  nextSeq: number;
  /** Total balances (free + locked) of base and quote as of the last change. */
  balances: { base: number; quote: number };
  orders: Record<string, OrderRecord>;
  lastCandleTime?: number;
  /** Time of the latest fill applied (exchange time). */
  lastFillTime?: number;
  /** Set by the kill switch; blocks new entries until reset, across restarts. */
  kill?: { at: number; reason: string };
  /** The current UTC day: its start, the equity then, and why trading stopped for it. */
  day?: { start: number; startEquity: number; halted?: string };
  /** Wall-clock times of orders sent in the last minutes (the orders-per-minute window). */
  orderTimes: number[];
  /** Time of the first decision (capital ramp-up by days). */
  startedAt?: number;
  /** Orders that filled (capital ramp-up by trades). */
  tradeCount: number;
  createdAt: number;
};

export const STATE_FILE = 'state.json';
export const JOURNAL_FILE = 'journal.jsonl';
/** Finished orders kept in the state (older ones stay in the journal). */
const KEEP_FINISHED = 200;

/** The state in `dir`, or undefined when there is none yet. */
export function loadState(dir: string): TradingState | undefined {
  const file = path.join(dir, STATE_FILE);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new TradingError(`cannot read ${file} (${(error as Error).message}); check the state folder's permissions`, { cause: error });
  }
  try {
    const state = JSON.parse(text) as TradingState;
    if (state.version !== 1) throw new Error(`version ${String(state.version)}`);
    return state;
  } catch (error) {
    throw new TradingError(`${file} is not a valid trading state (${(error as Error).message}); nothing was sent; restore it, or move it away to start fresh from the exchange's balances`, { cause: error });
  }
}

/**
 * Persist the state atomically: write a temp file, fsync it, rename over the old one, fsync the folder.
 * A crash leaves either the old or the new state, never half of one.
 */
export function saveState(dir: string, state: TradingState, redactor: Redactor): void {
  const finished = Object.values(state.orders).filter((o) => o.status !== 'sending' && o.status !== 'unknown' && o.status !== 'open');
  if (finished.length > KEEP_FINISHED) {
    for (const o of finished.slice(0, finished.length - KEEP_FINISHED)) delete state.orders[o.clientOrderId];
  }
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, STATE_FILE);
  const temp = `${file}.tmp-${process.pid}`;
  const fd = fs.openSync(temp, 'w', 0o600);
  try {
    fs.writeSync(fd, redactor.redact(JSON.stringify(state, null, 2) + '\n'));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(temp, file);
  try {
    const dirFd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(dirFd);
    } finally {
      fs.closeSync(dirFd);
    }
  } catch {
    // Some platforms cannot fsync a folder; the rename is still atomic.
  }
}

/** Append one event to the journal (JSON lines, redacted). */
export function appendJournal(dir: string, event: Record<string, unknown>, redactor: Redactor): void {
  fs.mkdirSync(dir, { recursive: true });
  redactor.appendFileSync(path.join(dir, JOURNAL_FILE), JSON.stringify(event) + '\n');
}

/** How a fill moves the base and quote totals (the fee is charged in the asset it names). */
export function fillDelta(state: Pick<TradingState, 'base' | 'quote'>, fill: VenueFill): { base: number; quote: number } {
  const feeBase = fill.feeCurrency === state.base ? fill.fee : 0;
  const feeQuote = fill.feeCurrency === state.quote ? fill.fee : 0;
  return fill.side === 'buy' ? { base: fill.amount - feeBase, quote: -fill.cost - feeQuote } : { base: -fill.amount - feeBase, quote: fill.cost - feeQuote };
}

/** Apply an order's fills not applied yet; returns how many were new. */
export function applyFills(state: TradingState, record: OrderRecord, fills: VenueFill[]): number {
  let applied = 0;
  for (const fill of fills) {
    const key = fill.tradeId || `${fill.orderId}:${fill.time}:${fill.amount}`;
    if (record.appliedFills.includes(key)) continue;
    const delta = fillDelta(state, fill);
    state.balances.base = round(state.balances.base + delta.base);
    state.balances.quote = round(state.balances.quote + delta.quote);
    record.appliedFills.push(key);
    state.lastFillTime = Math.max(state.lastFillTime ?? 0, fill.time);
    applied++;
  }
  return applied;
}

/** Round away float noise (exchanges keep 8 decimals). */
export function round(x: number): number {
  return Number(x.toFixed(10));
}
