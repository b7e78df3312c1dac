import type { Exchange } from 'ccxt';
import { DataError } from '../../errors';
import { isTransient, oneLine } from './ccxt-client';

/** How transient failures are retried. */
export type RetryPolicy = {
  /** Attempts after the first (default 8). */
  retries?: number;
  /** First backoff delay in ms, doubled per attempt (default 500). */
  baseDelayMs?: number;
  /** Backoff cap in ms (default 30 000); a longer Retry-After is still honoured. */
  maxDelayMs?: number;
  /** Called before each wait (logging, tests). */
  onRetry?: (info: { attempt: number; delayMs: number; error: string }) => void;
};

/** Backoff before retry `attempt` (1-based): base × 2^(attempt−1), capped. */
export function backoffDelay(attempt: number, policy: RetryPolicy = {}): number {
  const base = policy.baseDelayMs ?? 500;
  return Math.min(policy.maxDelayMs ?? 30_000, base * 2 ** (attempt - 1));
}

/**
 * The Retry-After of the exchange's last response in ms (seconds or an HTTP date), when the last error
 * was a rate limit (429) or an IP ban (418).
 */
export function retryAfterMs(exchange: Exchange | undefined, error: unknown, now = Date.now()): number | undefined {
  if (!exchange) return undefined;
  const headers = (exchange.last_response_headers ?? {}) as Record<string, string | undefined>;
  const value = headers['Retry-After'] ?? headers['retry-after'];
  if (value === undefined) return undefined;
  const message = error instanceof Error ? error.message : '';
  const ccxtError = error as { constructor?: { name?: string } };
  const limited = /RateLimitExceeded|DDoSProtection/.test(ccxtError.constructor?.name ?? '') || /\b(429|418)\b/.test(message);
  if (!limited) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - now) : undefined;
}

/**
 * Run `call`, retrying transient failures (network errors, timeouts, 429/418, 5xx, malformed pages)
 * with exponential backoff, or the server's Retry-After when it sent one. Other errors pass through.
 * After the last retry the error says where to resume.
 */
export async function withRetry<T>(what: string, call: () => Promise<T>, policy: RetryPolicy = {}, exchange?: Exchange): Promise<T> {
  const retries = policy.retries ?? 8;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (!isTransient(error)) throw error;
      if (attempt > retries) {
        throw new DataError(`${what} failed ${attempt} times (last: ${oneLine(error)}); check the connection and run the same command again to resume`, { cause: error });
      }
      const delayMs = Math.max(backoffDelay(attempt, policy), retryAfterMs(exchange, error) ?? 0);
      policy.onRetry?.({ attempt, delayMs, error: oneLine(error) });
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}
