import * as fs from 'node:fs';
import * as path from 'node:path';
import { CandlelabError } from '../errors';

/**
 * A run's log (run.log): progress, warnings, errors and debug detail, one timestamped line each, written
 * as the run goes. Until the run folder exists it lives at <runs>/.running-<name>-<time>-<pid>.log; a
 * finished run copies it into runs/<run-id>/run.log, a failed run moves it to
 * runs/<name>-<time>-failed/run.log with the error as its last line.
 */
export class RunLog {
  readonly file: string;
  private fd: number | undefined;

  private constructor(
    readonly runsDir: string,
    private readonly stem: string,
    private readonly echo: (line: string) => void,
  ) {
    fs.mkdirSync(runsDir, { recursive: true });
    this.file = path.join(runsDir, `.running-${stem}-${process.pid}.log`);
    this.fd = fs.openSync(this.file, 'a');
  }

  /** Open a log for a run of spec `name`; `echo` also gets every debug line (--verbose prints them). */
  static open(runsDir: string, name: string, clock: Date, echo: (line: string) => void = () => {}): RunLog {
    const stamp = clock.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
    return new RunLog(runsDir, `${name}-${stamp}`, echo);
  }

  /** Append one line (written through at once, so a crash keeps everything before it). */
  write(level: 'info' | 'progress' | 'warning' | 'error' | 'debug', text: string): void {
    if (this.fd === undefined) return;
    const lines = text.split('\n').filter((l) => l.trim());
    for (const line of lines) fs.writeSync(this.fd, `${new Date().toISOString()} ${level.padEnd(8)} ${line}\n`);
    if (level === 'debug') for (const line of lines) this.echo(`debug: ${line}`);
  }

  /** Everything written so far. */
  text(): string {
    return fs.readFileSync(this.file, 'utf8');
  }

  /** The run folder has its copy: remove the running file. */
  finish(): void {
    this.close();
    fs.rmSync(this.file, { force: true });
  }

  /** The run failed: the error goes last, the log moves to runs/<name>-<time>-failed/run.log (returned). */
  fail(error: unknown): string {
    // a known error is its one-line message; anything else is a bug, so its stack goes in too
    this.write('error', error instanceof CandlelabError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error));
    this.close();
    let dir = path.join(this.runsDir, `${this.stem}-failed`);
    for (let n = 2; fs.existsSync(dir); n++) dir = path.join(this.runsDir, `${this.stem}-failed-${n}`);
    fs.mkdirSync(dir);
    const target = path.join(dir, 'run.log');
    fs.renameSync(this.file, target);
    return target;
  }

  private close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
}
