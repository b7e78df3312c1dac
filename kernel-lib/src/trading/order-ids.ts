import * as crypto from 'node:crypto';

/**
 * Client order ids: `cl<sessionId>-<seq>`. Binance accepts 1–36 characters of [a-zA-Z0-9-_]; a
 * session id is 10 lowercase alphanumerics, so ids stay short for any realistic sequence. The sequence
 * is persisted before an order is sent, so a restart never reuses an id (a reused id would either be
 * refused as a duplicate or, worse, be mistaken for the earlier order during reconciliation).
 */

/** Every candlelab client order id: cl<session>-<seq>. */
export const CLIENT_ORDER_ID = /^cl([a-z0-9]{10})-(\d+)$/;

/** A new random session id (10 characters of [a-z0-9]). */
export function newSessionId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = crypto.randomBytes(10);
  return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join('');
}

/** The prefix of a session's client order ids. */
export function orderIdPrefix(sessionId: string): string {
  return `cl${sessionId}-`;
}

/** The client order id of order `seq` of a session. */
export function clientOrderId(sessionId: string, seq: number): string {
  if (!/^[a-z0-9]{10}$/.test(sessionId)) throw new Error(`session id '${sessionId}' is not 10 characters of [a-z0-9]`);
  if (!Number.isSafeInteger(seq) || seq < 1) throw new Error(`order sequence ${seq} is not a positive integer`);
  const id = `${orderIdPrefix(sessionId)}${seq}`;
  if (id.length > 36) throw new Error(`client order id ${id} is longer than Binance's 36 characters`);
  return id;
}

/** Whether `id` looks like any candlelab session's client order id. */
export function isCandlelabOrderId(id: string | undefined): boolean {
  return id !== undefined && CLIENT_ORDER_ID.test(id);
}
