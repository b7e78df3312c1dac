/**
 * Trading: paper sessions on the stepping engine's simulated venue (paper-session.ts, parity.ts) and
 * live (and dry-run) spot trading with safety rails: keys from the environment or a 0600 file, secrets
 * redacted everywhere, exchange filters, deterministic client order ids, orders never resent blindly,
 * reconciliation that fails closed, limits, capital ramp-up and a persistent kill switch.
 */
export { runPaperSession, marketRules, SESSION_LOGS, type PaperSessionOptions, type SessionEvent, type SessionResult, type SessionInfo, type CandleMode, type CandleTimings, type CandleDecision } from './paper-session';
export { paperParity, type ParityReport, type ParityDifference } from './parity';
export { readSession, writeSessionOutputs, parseTradesCsv, type SessionRecord } from './session-outputs';
export { resolveTradingSetup, parseModelReference, type TradingSetup } from './session-setup';
export { replayCandles, type ReplayedCandles } from './replay';
export { SessionLog } from './session-log';
export { LiveTrader, type LiveTraderOptions, type Decision, type DecisionRecord, type KillResult, type TraderStatus } from './live-trader';
export { confirmLive, LIVE_CONFIRM_ENV, type ConfirmLiveOptions } from './confirm';
export { loadApiKeys, API_KEY_ENV, API_SECRET_ENV, type ApiKeys, type KeySource } from './keys';
export { Redactor, REDACTED } from './redact';
export { marketFilters, applyFilters, floorToStep, ceilToStep, type MarketFilters, type FilteredOrder } from './filters';
export { clientOrderId, newSessionId, orderIdPrefix, isCandlelabOrderId, CLIENT_ORDER_ID } from './order-ids';
export { ExchangeVenue, OrderRejectedError, normalizeOrder, normalizeFill, type OrderIntent, type VenueOrder, type VenueFill, type VenueBalances, type PlaceResult, type ExchangeVenueOptions } from './exchange-venue';
export { validateRails, rampFraction, dailyLossBreach, recentOrders, capPosition, capOrder, killFilePath, KILL_FILE, DAY_MS, type TradingRails, type RampStep } from './rails';
export { loadState, saveState, appendJournal, fillDelta, applyFills, STATE_FILE, JOURNAL_FILE, type TradingState, type OrderRecord } from './state';
export { reconcile, settle, type ReconcileReport } from './reconcile';
