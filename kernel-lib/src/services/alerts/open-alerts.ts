import { randomBytes } from 'node:crypto';
import type { WorkspaceOverrides } from '../../workspace';
import { channelsFor, loadAlertsConfig, type AlertsConfig, type AlertsConfigInput, type RateLimit, type ResolvedChannel } from './config';
import { deliverToChannel, DeliveryError, type DeliveryProgress, type FetchFunction } from './channels';
import { DeliveryQueue, isHeld, type ClaimedDelivery } from './delivery-queue';
import type { AlertEvent, AlertSink } from './types';

/** The time seam: epoch ms. */
export type AlertsClock = { now(): number };

export type OpenAlertsOptions = {
  /** Where the default queue folder goes (<workspace root>/alerts-queue) when alerts.json names none. */
  workspace?: WorkspaceOverrides;
  clock?: AlertsClock;
  /** Receives one redacted line per failed attempt and per queued delivery (default: stderr). */
  log?: (line: string) => void;
  /** The fetch Telegram and Slack go through (default: global fetch). */
  fetch?: FetchFunction;
  /** Where "env:NAME" credentials are read (default: process.env). */
  env?: Record<string, string | undefined>;
  /** How often queued deliveries that failed are tried again (default 60 000 ms; the timer is unref'd). */
  flushIntervalMs?: number;
  /** Override alerts.json's in-process retry policy (tests make it fast). */
  retry?: Partial<AlertsConfig['retry']>;
};

export type ChannelStats = {
  type: ResolvedChannel['type'];
  /** Deliveries waiting on disk (not claimed by anyone). */
  queued: number;
  /** Delivered by this sink since it opened (a digest counts each alert in it). */
  delivered: number;
  /** Messages sent that were rate-limit digests. */
  digests: number;
  failedAttempts: number;
  /** The last attempt's error (redacted); cleared by a success. */
  lastError?: string;
};

export type AlertsStats = { queueDir: string; channels: Record<string, ChannelStats> };

/** The sink producers get from openAlerts. */
export type AlertsService = AlertSink & { stats(): AlertsStats; readonly config: AlertsConfig };

/**
 * Token bucket: `perMinute` tokens per window, starting full. A fault loop drains it; what comes after
 * waits for the next token and goes out as one digest.
 */
class TokenBucket {
  private tokens: number;
  private last: number;
  constructor(
    private readonly limit: RateLimit,
    private readonly clock: AlertsClock,
  ) {
    this.tokens = limit.perMinute;
    this.last = clock.now();
  }
  private refill(): void {
    const now = this.clock.now();
    this.tokens = Math.min(this.limit.perMinute, this.tokens + ((now - this.last) * this.limit.perMinute) / this.limit.windowMs);
    this.last = now;
  }
  take(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
  msUntilToken(): number {
    this.refill();
    return Math.max(1, Math.ceil(((1 - this.tokens) * this.limit.windowMs) / this.limit.perMinute));
  }
}

/** One channel's serial sender: deliveries of a channel go one at a time, in queue order. */
type ChannelWorker = {
  channel: ResolvedChannel;
  bucket?: TokenBucket;
  running?: Promise<void>;
  /** Something was queued while running: drain again. */
  again: boolean;
  /** In-process retries ran out: wait for the flusher or flush() instead of hammering a channel that is down. */
  failed: boolean;
  stats: Omit<ChannelStats, 'queued'>;
};

const isResolved = (config: unknown): config is AlertsConfig => typeof config === 'object' && config !== null && 'redactor' in config;

/**
 * The digest that replaces alerts held by the rate limit: every distinct title once, in order of first
 * appearance, with how often and when it happened (a fault loop repeats one title thousands of times;
 * listing each would break chat message limits).
 */
export function digestEvent(events: readonly AlertEvent[]): AlertEvent {
  const groups = new Map<string, { count: number; first?: string; last?: string }>();
  for (const e of events) {
    const group = groups.get(e.title) ?? { count: 0, first: e.at };
    group.count++;
    group.last = e.at;
    groups.set(e.title, group);
  }
  const when = (at?: string): string => (at ? at.slice(0, 19).replace('T', ' ') : '');
  return {
    kind: events[0].kind,
    title: `${events.length} alerts held by the rate limit`,
    text: [...groups].map(([title, g]) => (g.count === 1 ? `• ${when(g.first)} ${title}` : `• ${when(g.first)} … ${when(g.last)} ${title} (×${g.count})`)).join('\n'),
    at: events[events.length - 1].at,
    source: 'alerts rate limit',
  };
}

/**
 * Open the alerts service: routes each event to its channels through a disk queue (a delivery is on disk
 * before anything is sent and leaves only after it arrived), with retries, rate-limit digests, and a
 * periodic flusher for what is still queued, including what earlier processes could not send.
 *
 * A trading loop calls `send` and moves on: it never throws and never waits for a channel.
 */
export function openAlerts(config: string | AlertsConfigInput | AlertsConfig, options: OpenAlertsOptions = {}): AlertsService {
  const resolved = isResolved(config) ? config : loadAlertsConfig(config, { workspace: options.workspace, env: options.env });
  const clock = options.clock ?? { now: () => Date.now() };
  const redact = (text: string): string => resolved.redactor.redact(text);
  const log = (line: string): void => (options.log ?? ((l: string) => process.stderr.write(l + '\n')))(redact(line));
  const retry = { ...resolved.retry, ...options.retry };
  const queue = new DeliveryQueue(resolved.queueDir, resolved.redactor);
  const fetchFn = options.fetch ?? fetch;
  let closed = false;
  // this sink's name on channel locks (several sinks may share a queue, even in one process)
  const owner = `${process.pid}-${randomBytes(6).toString('hex')}`;
  const sleepers = new Set<() => void>();

  const workers = new Map<string, ChannelWorker>();
  for (const channel of Object.values(resolved.channels)) {
    workers.set(channel.name, {
      channel,
      bucket: channel.rateLimit ? new TokenBucket(channel.rateLimit, clock) : undefined,
      again: false,
      failed: false,
      stats: { type: channel.type, delivered: 0, digests: 0, failedAttempts: 0 },
    });
  }

  /** Wait `ms`, cut short by close(). Real time: backoff is about the remote service, not the data's clock. */
  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        sleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      sleepers.add(wake);
    });

  /** Try one event on one channel with exponential backoff: the redacted error (none when delivered) and the tries made. */
  async function attempt(worker: ChannelWorker, event: AlertEvent, progress: DeliveryProgress, onProgress?: () => void): Promise<{ error?: string; tries: number }> {
    let lastError = '';
    let tries = 0;
    for (let i = 1; i <= retry.attempts; i++) {
      tries = i;
      const before = progress.partsDone;
      try {
        await deliverToChannel(worker.channel, event, progress, fetchFn);
        worker.stats.lastError = undefined;
        return { tries };
      } catch (error) {
        if (progress.partsDone !== before) onProgress?.();
        lastError = redact(error instanceof DeliveryError ? error.message : `${worker.channel.type}: ${(error as Error).message}`);
        worker.stats.failedAttempts++;
        worker.stats.lastError = lastError;
        if (i === retry.attempts || closed) break;
        const backoff = Math.min(retry.maxMs, retry.baseMs * 2 ** (i - 1));
        const wait = error instanceof DeliveryError && error.retryAfterMs !== undefined ? error.retryAfterMs : backoff;
        log(`alerts: ${worker.channel.name}: attempt ${i}/${retry.attempts} of "${event.title}" failed (${lastError}); retrying in ${wait} ms`);
        await sleep(wait);
        if (closed) break;
      }
    }
    return { error: lastError, tries };
  }

  /** Send one claimed delivery; false when it went back to the queue. */
  async function sendClaimed(worker: ChannelWorker, claimed: ClaimedDelivery): Promise<boolean> {
    const { error, tries } = await attempt(worker, claimed.event, claimed.delivery, () => queue.saveProgress(claimed));
    if (error === undefined) {
      queue.done(claimed);
      worker.stats.delivered++;
      return true;
    }
    claimed.delivery.attempts += tries;
    claimed.delivery.lastError = error;
    queue.release(claimed);
    log(`alerts: ${worker.channel.name}: "${claimed.event.title}" stays queued in ${queue.dir} (${error})`);
    return false;
  }

  /** Send what a channel has queued, in order, until empty or the channel fails; skipped while another sender drains it. */
  async function drain(worker: ChannelWorker): Promise<void> {
    const name = worker.channel.name;
    if (queue.queued(name).length === 0) return;
    if (!queue.lockChannel(name, owner)) return;
    try {
      await drainLocked(worker);
    } finally {
      queue.unlockChannel(name, owner);
    }
  }

  async function drainLocked(worker: ChannelWorker): Promise<void> {
    const name = worker.channel.name;
    while (!closed) {
      const names = queue.queued(name);
      if (names.length === 0) return;
      if (isHeld(names[0]) && worker.bucket) {
        // Held by the rate limit: at the next token, everything held from here on goes out as one message.
        if (!worker.bucket.take()) {
          await sleep(worker.bucket.msUntilToken());
          continue;
        }
        const held: string[] = [];
        for (const file of names) {
          if (!isHeld(file)) break;
          held.push(file);
        }
        const claims = held.map((file) => queue.claim(name, file)).filter((c): c is ClaimedDelivery => c !== undefined);
        if (claims.length === 0) continue;
        if (claims.length === 1) {
          if (!(await sendClaimed(worker, claims[0]))) return void (worker.failed = true);
          continue;
        }
        const { error, tries } = await attempt(worker, digestEvent(claims.map((c) => c.event)), { partsDone: 0 });
        if (error === undefined) {
          for (const c of claims) queue.done(c);
          worker.stats.delivered += claims.length;
          worker.stats.digests++;
          continue;
        }
        for (const c of claims) {
          c.delivery.attempts += tries;
          c.delivery.lastError = error;
          queue.release(c);
        }
        log(`alerts: ${name}: a digest of ${claims.length} alerts stays queued in ${queue.dir} (${error})`);
        worker.failed = true;
        return;
      }
      const claimed = queue.claim(name, names[0]);
      if (!claimed) continue; // another sender took it
      if (!(await sendClaimed(worker, claimed))) {
        worker.failed = true;
        return;
      }
    }
  }

  /** Start (or extend) a channel's drain. `retryFailed`: the flusher's and flush()'s call, which tries a failed channel again. */
  function kick(worker: ChannelWorker, retryFailed: boolean): Promise<void> {
    if (closed) return Promise.resolve();
    if (retryFailed) worker.failed = false;
    else if (worker.failed) return Promise.resolve();
    if (worker.running) {
      worker.again = true;
      return worker.running;
    }
    const run = async (): Promise<void> => {
      try {
        do {
          worker.again = false;
          await drain(worker);
        } while (worker.again && !closed && !worker.failed);
      } catch (error) {
        // a disk error: leave the files, say so, let the flusher try later
        worker.failed = true;
        log(`alerts: ${worker.channel.name}: queue error: ${(error as Error).message}`);
      } finally {
        worker.running = undefined;
      }
    };
    worker.running = run();
    return worker.running;
  }

  const flushAll = async (): Promise<void> => {
    if (closed) return;
    try {
      queue.reclaimStale([...workers.keys()]);
    } catch (error) {
      log(`alerts: could not reclaim stale deliveries in ${queue.dir}: ${(error as Error).message}`);
    }
    await Promise.all([...workers.values()].map((w) => kick(w, true)));
  };

  // What earlier processes left queued goes out now, in the background.
  void flushAll();
  const flusher = setInterval(() => void flushAll(), options.flushIntervalMs ?? 60_000);
  flusher.unref();

  return {
    config: resolved,
    async send(event: AlertEvent): Promise<void> {
      try {
        const stamped: AlertEvent = { ...event, at: event.at ?? new Date(clock.now()).toISOString() };
        const targets = channelsFor(resolved, event.kind);
        // The limit applies when the event happens (a fault loop), not when a channel comes back up.
        for (const name of targets) queue.add(name, stamped, clock.now(), workers.get(name)!.bucket?.take() === false);
        if (closed) return; // persisted: the next open sends it
        for (const name of targets) void kick(workers.get(name)!, false);
      } catch (error) {
        log(`alerts: could not queue "${event.title}": ${(error as Error).message}`);
      }
    },
    flush: flushAll,
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      clearInterval(flusher);
      for (const wake of [...sleepers]) wake();
      // in-flight requests finish (bounded by their timeout); failures go back to the queue
      await Promise.all([...workers.values()].map((w) => w.running));
    },
    stats(): AlertsStats {
      const channels: Record<string, ChannelStats> = {};
      for (const [name, w] of workers) channels[name] = { ...w.stats, queued: queue.queued(name).length };
      return { queueDir: queue.dir, channels };
    },
  };
}
