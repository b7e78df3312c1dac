import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../../util/atomic';
import type { Redactor } from '../../trading/redact';
import type { AlertEvent } from './types';

/**
 * The disk queue: one JSON file per (event, channel) delivery under <queueDir>/<channel>/, named so that
 * name order is send order. A sender claims a file by renaming it to `<name>.sending-<pid>` (rename is
 * atomic, so exactly one sender wins; <pid> also carries the process's start time), deletes it after success, or writes its attempt count back and
 * renames it to its queued name after failure. Claims of dead processes are renamed back (reclaimed).
 */

/** An event as stored: attachments as base64. */
type StoredEvent = Omit<AlertEvent, 'attachments'> & { attachments?: Array<{ filename: string; contentType: string; content: string; cid?: string }> };

export type StoredDelivery = {
  format: 1;
  channel: string;
  event: StoredEvent;
  createdAt: string;
  attempts: number;
  /** Parts of a multi-part delivery already delivered (a Telegram report's message, then its photo). */
  partsDone: number;
  lastError?: string;
};

/** A delivery this process holds (claimed). */
export type ClaimedDelivery = { file: string; claimPath: string; delivery: StoredDelivery; event: AlertEvent };

const CLAIM = /\.sending-(\d+)-([0-9a-z]+)$/;

/**
 * This process: its pid and when it started. A pid alone is not enough: a container restarted after a
 * crash often gets the same pid, and must not mistake its predecessor's claims for its own.
 */
const INCARNATION = Math.floor(performance.timeOrigin).toString(36);
const HELD_SUFFIX = '.held.json';

/** Was this queued delivery over its channel's rate limit (to be sent in a digest)? */
export const isHeld = (file: string): boolean => file.endsWith(HELD_SUFFIX);

export function encodeEvent(event: AlertEvent): StoredEvent {
  return { ...event, attachments: event.attachments?.map((a) => ({ ...a, content: a.content.toString('base64') })) };
}

export function decodeEvent(stored: StoredEvent): AlertEvent {
  return { ...stored, attachments: stored.attachments?.map((a) => ({ ...a, content: Buffer.from(a.content, 'base64') })) };
}

/** Is a process with this id alive? (EPERM: alive, owned by someone else.) */
function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Is the process that wrote a claim or lock still running? (Ours only if it is this incarnation.) */
function ownerAlive(pid: number, incarnation: string): boolean {
  return pid === process.pid ? incarnation === INCARNATION : processAlive(pid);
}

export class DeliveryQueue {
  private counter = 0;
  constructor(
    readonly dir: string,
    private readonly redactor: Redactor,
  ) {}

  private channelDir(channel: string): string {
    return path.join(this.dir, channel);
  }

  /**
   * Persist a delivery (atomically, redacted) and return its file name. `held`: over the channel's rate
   * limit when it happened, so it goes out in a digest.
   */
  add(channel: string, event: AlertEvent, now: number, held = false): string {
    // time first (orders across processes), then a per-queue counter (orders within one millisecond)
    const name = `${String(now).padStart(15, '0')}-${String(this.counter++).padStart(8, '0')}-${process.pid}-${randomBytes(3).toString('hex')}${held ? HELD_SUFFIX : '.json'}`;
    const delivery: StoredDelivery = { format: 1, channel, event: encodeEvent(event), createdAt: new Date(now).toISOString(), attempts: 0, partsDone: 0 };
    writeFileAtomic(path.join(this.channelDir(channel), name), this.redactor.redact(JSON.stringify(delivery)));
    return name;
  }

  /** Queued (unclaimed) delivery names of a channel, in send order. */
  queued(channel: string): string[] {
    const dir = this.channelDir(channel);
    if (!fs.existsSync(dir)) return [];
    return fs.readdirSync(dir).filter((f) => f.endsWith('.json') && !f.startsWith('.')).sort();
  }

  /** Names claimed by some process (in flight). */
  claimed(channel: string): string[] {
    const dir = this.channelDir(channel);
    return fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => CLAIM.test(f)) : [];
  }

  /** Take a queued delivery for this process; undefined when another sender took it first. */
  claim(channel: string, file: string): ClaimedDelivery | undefined {
    const from = path.join(this.channelDir(channel), file);
    const claimPath = `${from}.sending-${process.pid}-${INCARNATION}`;
    try {
      fs.renameSync(from, claimPath);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    const delivery = JSON.parse(fs.readFileSync(claimPath, 'utf8')) as StoredDelivery;
    return { file, claimPath, delivery, event: decodeEvent(delivery.event) };
  }

  /** Record progress in the claimed file (survives a crash between the parts of a delivery). */
  saveProgress(claimed: ClaimedDelivery): void {
    writeFileAtomic(claimed.claimPath, this.redactor.redact(JSON.stringify(claimed.delivery)));
  }

  /** Delivered: the file goes. */
  done(claimed: ClaimedDelivery): void {
    fs.rmSync(claimed.claimPath, { force: true });
  }

  /** Not delivered (yet): write attempts and the redacted error, then put it back under its queued name. */
  release(claimed: ClaimedDelivery): void {
    this.saveProgress(claimed);
    fs.renameSync(claimed.claimPath, path.join(this.channelDir(claimed.delivery.channel), claimed.file));
  }

  /**
   * Become the one sender of a channel (so deliveries leave in order even with several processes or sinks
   * on one queue): a lock file created exclusively, holding the owner. A dead process's lock is broken.
   * False when a live sender holds it.
   */
  lockChannel(channel: string, owner: string): boolean {
    const lock = path.join(this.channelDir(channel), '.lock');
    fs.mkdirSync(this.channelDir(channel), { recursive: true });
    for (let tries = 0; tries < 2; tries++) {
      try {
        fs.writeFileSync(lock, JSON.stringify({ pid: process.pid, incarnation: INCARNATION, owner }), { flag: 'wx' });
        return true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      let holder: { pid: number; incarnation: string } | undefined;
      try {
        holder = JSON.parse(fs.readFileSync(lock, 'utf8'));
      } catch {
        // released meanwhile, or written but not yet filled: try again / leave it to its writer
        if (!fs.existsSync(lock)) continue;
        return false;
      }
      if (!holder || ownerAlive(holder.pid, holder.incarnation)) return false;
      fs.rmSync(lock, { force: true });
    }
    return false;
  }

  unlockChannel(channel: string, owner: string): void {
    const lock = path.join(this.channelDir(channel), '.lock');
    try {
      if ((JSON.parse(fs.readFileSync(lock, 'utf8')) as { owner: string }).owner === owner) fs.rmSync(lock, { force: true });
    } catch {
      // already gone
    }
  }

  /** Put back the claims of processes that died mid-delivery. Returns how many. */
  reclaimStale(channels: readonly string[]): number {
    let count = 0;
    for (const channel of channels) {
      for (const name of this.claimed(channel)) {
        const [, pid, incarnation] = CLAIM.exec(name)!;
        if (ownerAlive(Number(pid), incarnation)) continue;
        try {
          fs.renameSync(path.join(this.channelDir(channel), name), path.join(this.channelDir(channel), name.replace(CLAIM, '')));
          count++;
        } catch (error) {
          // another process reclaimed it first
          if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        }
      }
    }
    return count;
  }
}
