import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { DataError } from '../errors';

/**
 * An exclusive lock file for writers of one store file: `<file>.lock`, created with O_EXCL and holding
 * `{pid, host, token, since}`. A lock whose process is gone (same host) or that is older than
 * `staleMs` (another host, or unreadable) is taken over: it is renamed aside (only one contender can
 * rename it), and restored if the renamed lock turns out to be a live one.
 */
export type StoreLockOptions = {
  /** Give up after this long (default 120 s). */
  timeoutMs?: number;
  /** A lock older than this with no live process behind it is stale (default 10 min). */
  staleMs?: number;
};

type LockContent = { pid: number; host: string; token: string; since: number };

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

/** Block the thread for `ms` (the store API is synchronous; writers only wait on each other). */
function sleepSync(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readLock(lockFile: string): { content?: LockContent; mtimeMs: number } | undefined {
  try {
    const stat = fs.statSync(lockFile);
    let content: LockContent | undefined;
    try {
      content = JSON.parse(fs.readFileSync(lockFile, 'utf8')) as LockContent;
    } catch {
      content = undefined; // being written, or written by a crashed process
    }
    return { content, mtimeMs: stat.mtimeMs };
  } catch {
    return undefined;
  }
}

function isStale(lock: { content?: LockContent; mtimeMs: number }, staleMs: number, now: number): boolean {
  const { content } = lock;
  if (content && content.host === os.hostname() && typeof content.pid === 'number') return !processAlive(content.pid);
  // Unreadable lock (a crash between create and write) or another host: judge by age.
  return now - lock.mtimeMs > (content ? staleMs : Math.min(staleMs, 30_000));
}

/** A held lock: `assertHeld` before committing, `release` when done. */
export type StoreLock = { file: string; assertHeld: () => void; release: () => void };

/** Take the writer lock of `target` (a store file), waiting for other writers. */
export function acquireStoreLock(target: string, options: StoreLockOptions = {}): StoreLock {
  const lockFile = `${target}.lock`;
  const timeoutMs = options.timeoutMs ?? 120_000;
  const staleMs = options.staleMs ?? 600_000;
  const token = randomBytes(8).toString('hex');
  const content: LockContent = { pid: process.pid, host: os.hostname(), token, since: Date.now() };
  const started = Date.now();
  let wait = 2;
  for (;;) {
    try {
      const fd = fs.openSync(lockFile, 'wx');
      try {
        fs.writeSync(fd, JSON.stringify(content));
      } finally {
        fs.closeSync(fd);
      }
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const existing = readLock(lockFile);
    if (existing && isStale(existing, staleMs, Date.now())) {
      takeOverStaleLock(lockFile, existing.content?.token);
      continue;
    }
    if (Date.now() - started > timeoutMs) {
      const holder = existing?.content ? ` (pid ${existing.content.pid} on ${existing.content.host})` : '';
      throw new DataError(`store file ${target} is locked by another writer${holder} for over ${Math.round(timeoutMs / 1000)} s; wait, or delete ${lockFile} if no candlelab process is writing`);
    }
    sleepSync(wait + Math.random() * wait);
    wait = Math.min(wait * 2, 100);
  }
  const assertHeld = (): void => {
    const now = readLock(lockFile);
    if (now?.content?.token !== token) {
      throw new DataError(`lost the writer lock of ${target} (taken over as stale); nothing was written, retry the merge`);
    }
  };
  const release = (): void => {
    const now = readLock(lockFile);
    if (now?.content?.token === token) fs.rmSync(lockFile, { force: true });
  };
  return { file: lockFile, assertHeld, release };
}

/** Move a stale lock aside; if what was moved is not the lock judged stale (a race), put it back. */
function takeOverStaleLock(lockFile: string, staleToken: string | undefined): void {
  const aside = `${lockFile}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    fs.renameSync(lockFile, aside);
  } catch {
    return; // someone else moved or released it first
  }
  const moved = readLock(aside);
  if (staleToken !== undefined && moved?.content && moved.content.token !== staleToken) {
    // A live writer's fresh lock: restore it unless yet another lock appeared meanwhile.
    try {
      fs.linkSync(aside, lockFile);
    } catch {
      // another writer holds a newer lock; the displaced writer will notice in assertHeld
    }
  }
  fs.rmSync(aside, { force: true });
}
