import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { acquireStoreLock, type StoreLock } from '../../data/store-lock';
import { DataError } from '../../errors';
import type { FrozenTrial } from '../frozen-trial';
import { InMemoryStorage, type StorageRecord } from './in-memory';

export type JournalFileStorageOptions = {
  /** Wall clock for trial times and heartbeats (default Date.now). */
  clock?: () => number;
  /** Give up waiting for the journal's lock after this long (default 120 s). */
  lockTimeoutMs?: number;
  /**
   * A RUNNING trial owned by a process on another host is stale when its last heartbeat is older than
   * this (default 300 s; only trials that recorded heartbeats, see `optimize({ heartbeatIntervalSec })`).
   */
  heartbeatGraceSec?: number;
};

/** Written after a line torn by a crash, so replay knows the unparseable line before it is expected. */
type RepairRecord = { op: 'repair'; tornBytes: number; time: number };

const NEWLINE = 0x0a;

/**
 * A study journal: an append-only file, one JSON event per line (create study, create trial, set
 * param, report, set user / system attr, set state with values, heartbeat), replayed on open.
 *
 * Several processes can share one journal. Every write takes an exclusive lock file
 * (`<journal>.lock`, O_EXCL, taken over when its pid is dead), reads what the others appended, checks
 * its condition (the next trial number, a WAITING trial not yet taken, a RUNNING trial not yet
 * finished), appends the line and fsyncs it before releasing the lock. So trial numbers are unique
 * and every acknowledged event survives a crash.
 *
 * A crash in the middle of an append leaves a torn last line (no newline). Readers leave such a tail
 * alone (a writer may still be writing it); the next writer, which holds the lock and so knows no
 * one is writing, ends it with a newline and a `repair` record. Replay skips exactly the unparseable
 * lines followed by a repair record: earlier records are never lost and real corruption still throws.
 *
 * Stale trials (RUNNING, left by a killed process) are judged by the owner's pid when the owner ran on
 * this host (`kill(pid, 0)` fails), and by heartbeat age for owners on other hosts.
 */
export class JournalFileStorage extends InMemoryStorage {
  readonly path: string;
  private readonly lockTimeoutMs: number;
  private readonly heartbeatGraceMs: number;
  /** Bytes of the file taken in (always just after a newline). */
  private offset = 0;
  /** Line number (1-based) of an unparseable line still waiting for its repair record. */
  private tornLine: number | undefined;
  private linesRead = 0;
  private lock: StoreLock | undefined;
  private transactionDepth = 0;
  private appendFd: number | undefined;

  constructor(file: string, options: JournalFileStorageOptions = {}) {
    super({ clock: options.clock });
    this.path = path.resolve(file);
    this.lockTimeoutMs = options.lockTimeoutMs ?? 120_000;
    this.heartbeatGraceMs = (options.heartbeatGraceSec ?? 300) * 1000;
    fs.mkdirSync(path.dirname(this.path), { recursive: true });
    fs.closeSync(fs.openSync(this.path, 'a'));
    this.refresh();
  }

  /** Take in the lines other processes appended since the last call. */
  override refresh(): void {
    const size = fs.statSync(this.path).size;
    if (size === this.offset) return;
    if (size < this.offset) throw new DataError(`journal ${this.path} shrank from ${this.offset} to ${size} bytes; it was truncated or replaced while in use`);
    const buffer = Buffer.alloc(size - this.offset);
    const fd = fs.openSync(this.path, 'r');
    try {
      let read = 0;
      while (read < buffer.length) {
        const n = fs.readSync(fd, buffer, read, buffer.length - read, this.offset + read);
        if (n === 0) break;
        read += n;
      }
    } finally {
      fs.closeSync(fd);
    }
    const end = buffer.lastIndexOf(NEWLINE);
    if (end < 0) return; // only a partial line so far
    this.offset += end + 1;
    for (const line of buffer.subarray(0, end).toString('utf8').split('\n')) {
      this.linesRead++;
      if (line.length === 0) continue;
      let record: StorageRecord | RepairRecord;
      try {
        record = JSON.parse(line) as StorageRecord | RepairRecord;
      } catch {
        if (this.tornLine !== undefined) throw this.corrupt(this.tornLine);
        this.tornLine = this.linesRead;
        continue;
      }
      if (record.op === 'repair') {
        this.tornLine = undefined;
        continue;
      }
      if (this.tornLine !== undefined) throw this.corrupt(this.tornLine);
      this.apply(record);
    }
  }

  /** Every other process must see RUNNING trials of dead processes as stale too: pid on this host, heartbeat age elsewhere. */
  override staleTrials(studyId: number): readonly FrozenTrial[] {
    const stale = [...super.staleTrials(studyId)];
    const host = os.hostname();
    const now = this.clock();
    for (const trial of this.getAllTrials(studyId, ['RUNNING'])) {
      const { owner, time } = this.lastSignOfLife(trial.trialId);
      if (owner && owner.host !== host && time !== undefined && now - time > this.heartbeatGraceMs) stale.push(trial);
    }
    return stale.sort((a, b) => a.number - b.number);
  }

  protected override transaction<T>(body: () => T): T {
    if (this.transactionDepth > 0) return body();
    this.lock = acquireStoreLock(this.path, { timeoutMs: this.lockTimeoutMs });
    this.transactionDepth++;
    try {
      this.refresh();
      this.repairTornTail();
      return body();
    } finally {
      this.transactionDepth--;
      if (this.appendFd !== undefined) {
        fs.closeSync(this.appendFd);
        this.appendFd = undefined;
      }
      this.lock.release();
      this.lock = undefined;
    }
  }

  protected override commit(record: StorageRecord): void {
    const bytes = this.append(JSON.stringify(record) + '\n');
    this.offset += bytes;
    this.apply(record);
  }

  /** Append and fsync, holding the lock; returns the bytes written. */
  private append(text: string): number {
    if (!this.lock) throw new DataError(`journal ${this.path}: write outside the lock (a bug in candlelab)`);
    this.lock.assertHeld();
    if (this.appendFd === undefined) this.appendFd = fs.openSync(this.path, 'a');
    const bytes = Buffer.from(text, 'utf8');
    fs.writeSync(this.appendFd, bytes);
    fs.fsyncSync(this.appendFd);
    return bytes.length;
  }

  /** With the lock held, bytes after the last newline can only come from a writer that crashed. */
  private repairTornTail(): void {
    const torn = fs.statSync(this.path).size - this.offset;
    if (torn <= 0) return;
    const repair: RepairRecord = { op: 'repair', tornBytes: torn, time: this.clock() };
    this.append('\n' + JSON.stringify(repair) + '\n');
    // The torn line (now ended) and its repair record come back through the normal replay path.
    this.refresh();
  }

  private corrupt(line: number): DataError {
    return new DataError(`journal ${this.path} line ${line} is not valid JSON and is not a line torn by a crash; restore the file from a backup or cut the line out`);
  }
}
