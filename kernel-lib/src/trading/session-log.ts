import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataError } from '../errors';
import { writeFileAtomic } from '../util/atomic';

/**
 * A session folder written crash-safely as it goes: append-only logs (CSV and JSON lines) plus one state
 * file replaced atomically after every candle. The state records each log's length in bytes, so after a
 * crash the logs are cut back to what the state knows, and the candles after it are processed again:
 * nothing is lost, nothing is written twice.
 */
export class SessionLog {
  private readonly fds = new Map<string, number>();
  private readonly lengths = new Map<string, number>();
  private pending = new Map<string, string[]>();

  constructor(
    readonly dir: string,
    /** Log files and the header line each starts with ('' for JSON lines). */
    private readonly files: Readonly<Record<string, string>>,
  ) {
    fs.mkdirSync(dir, { recursive: true });
  }

  /** Open every log: cut back to `offsets` (a resumed session) or start them with their headers. */
  open(offsets?: Readonly<Record<string, number>>): void {
    for (const [name, header] of Object.entries(this.files)) {
      const file = path.join(this.dir, name);
      if (offsets) {
        const size = fs.existsSync(file) ? fs.statSync(file).size : 0;
        const keep = offsets[name] ?? 0;
        if (size < keep) throw new DataError(`${file} has ${size} bytes but the session state recorded ${keep}: the folder was changed or truncated; start a new session (another --dir)`);
        const fd = fs.openSync(file, fs.existsSync(file) ? 'r+' : 'w+');
        fs.ftruncateSync(fd, keep);
        this.fds.set(name, fd);
        this.lengths.set(name, keep);
      } else {
        const fd = fs.openSync(file, 'w+');
        fs.writeSync(fd, header);
        this.fds.set(name, fd);
        this.lengths.set(name, Buffer.byteLength(header));
      }
    }
  }

  /** Queue a line (without its newline) for a log; written by `commit`. */
  add(name: string, line: string): void {
    if (!this.fds.has(name)) throw new Error(`unknown session log '${name}'`);
    let lines = this.pending.get(name);
    if (!lines) this.pending.set(name, (lines = []));
    lines.push(line);
  }

  /** Append the queued lines, flush them to disk, then replace the state file: the candle is done. */
  commit(state: object): void {
    for (const [name, lines] of this.pending) {
      const fd = this.fds.get(name)!;
      const bytes = Buffer.from(lines.map((line) => line + '\n').join(''));
      const at = this.lengths.get(name)!;
      fs.writeSync(fd, bytes, 0, bytes.length, at);
      fs.fsyncSync(fd);
      this.lengths.set(name, at + bytes.length);
    }
    this.pending = new Map();
    writeFileAtomic(path.join(this.dir, 'state.json'), JSON.stringify({ ...state, logOffsets: Object.fromEntries(this.lengths) }) + '\n');
  }

  close(): void {
    for (const fd of this.fds.values()) fs.closeSync(fd);
    this.fds.clear();
  }

  /** The saved state, or undefined for a new folder. */
  static readState<T>(dir: string): (T & { logOffsets: Record<string, number> }) | undefined {
    const file = path.join(dir, 'state.json');
    if (!fs.existsSync(file)) return undefined;
    return JSON.parse(fs.readFileSync(file, 'utf8')) as T & { logOffsets: Record<string, number> };
  }
}

/** The lines of a JSON-lines log, parsed. */
export function readJsonLines<T>(file: string): T[] {
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as T);
}
