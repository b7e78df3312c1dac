export { runPaperSession, marketRules, SESSION_LOGS, type PaperSessionOptions, type SessionEvent, type SessionResult, type SessionInfo, type CandleMode, type CandleTimings, type DecisionRecord } from './paper-session';
export { paperParity, type ParityReport, type ParityDifference } from './parity';
export { readSession, writeSessionOutputs, parseTradesCsv, type SessionRecord } from './session-outputs';
export { resolveTradingSetup, parseModelReference, type TradingSetup } from './session-setup';
export { SessionLog } from './session-log';
