import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataError } from '../../errors';
import { isoTime, timeframeMs } from '../../frame/frame';
import { readStore } from '../../data/store';

/**
 * The served-prediction log: one JSON line per answer in <runsDir>/served/<model>.jsonl, so the versions
 * of an A/B split can be compared later on what they actually answered (`candlelab registry compare
 * --served`). A switch of the served versions is logged in the same file.
 *
 * Durability (the log is append-only; the server is its one writer per model):
 * - Lines are buffered and written in batches (a write per request would cost more than the prediction):
 *   at most every `flushMs` (default 200 ms) or 512 lines, and at `close`. A batch is whole lines only,
 *   handed to the OS in one append (O_APPEND; a short write is continued until the batch is out).
 * - fsync policy: after each batch an fdatasync is started in the background (one at a time, so a slow
 *   disk never blocks a request), and `close` syncs before it returns. So a crash of the process loses at
 *   most the answers of the last `flushMs`; a crash of the machine at most those of the last batch or two.
 * - A crash in the middle of an append can leave a torn last line (no newline). Reading ignores it;
 *   opening the log for appending cuts it off first, so new lines never glue onto a torn one.
 */
export type ServedRecord = {
  kind: 'prediction';
  at: string;
  model: string;
  version: number;
  arm: string;
  /** A short sha256 of the client key (sticky A/B), when one was given: the key itself is not logged. */
  client?: string;
  symbol: string;
  timeframe: string;
  /** Close time of the predicted candle. */
  time: string;
  signal: 'LONG' | 'SHORT' | 'FLAT';
  confidence: number | null;
  entry: number;
  prediction: number[];
  latencyMs: number;
};

export type ServedSwitch = { kind: 'switch'; at: string; model: string; from: Array<{ version: number; weight: number }>; to: Array<{ version: number; weight: number }> };

export function servedLogFile(runsDir: string, model: string): string {
  return path.join(runsDir, 'served', `${model}.jsonl`);
}

export class ServedLog {
  private buffer: Array<[model: string, line: string]> = [];
  private readonly files = new Map<string, { fd: number; syncing: boolean; dirty: boolean }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly runsDir: string,
    private readonly flushMs = 200,
  ) {}

  add(record: ServedRecord | ServedSwitch): void {
    this.buffer.push([record.model, JSON.stringify(record)]);
    if (this.buffer.length >= 512) this.flush();
    else if (!this.timer) this.timer = setTimeout(() => this.flush(), this.flushMs);
  }

  /** Append the buffered lines to their files (whole lines, one append per file), then start a background fdatasync. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.buffer.length === 0) return;
    const byModel = new Map<string, string[]>();
    for (const [model, line] of this.buffer) {
      (byModel.get(model) ?? byModel.set(model, []).get(model)!).push(line);
    }
    this.buffer = [];
    for (const [model, lines] of byModel) {
      const file = this.file(model);
      writeAll(file.fd, Buffer.from(lines.join('\n') + '\n'));
      this.sync(file);
    }
  }

  /** fdatasync in the background, one at a time per file; lines written meanwhile get the next one. */
  private sync(file: { fd: number; syncing: boolean; dirty: boolean }): void {
    if (file.syncing) return void (file.dirty = true);
    file.syncing = true;
    file.dirty = false;
    fs.fdatasync(file.fd, () => {
      file.syncing = false;
      if (file.dirty && [...this.files.values()].includes(file)) this.sync(file);
    });
  }

  private file(model: string): { fd: number; syncing: boolean; dirty: boolean } {
    let file = this.files.get(model);
    if (!file) {
      const name = servedLogFile(this.runsDir, model);
      fs.mkdirSync(path.dirname(name), { recursive: true });
      const fd = fs.openSync(name, 'a+');
      cutTornTail(fd);
      file = { fd, syncing: false, dirty: false };
      this.files.set(model, file);
    }
    return file;
  }

  /** Write everything, sync it to disk and close the files. */
  async close(): Promise<void> {
    this.flush();
    const files = [...this.files.values()];
    this.files.clear();
    for (const file of files) {
      fs.fdatasyncSync(file.fd);
      fs.closeSync(file.fd);
    }
  }
}

/** Write a buffer completely (a short write continues where it stopped). */
function writeAll(fd: number, data: Buffer): void {
  let done = 0;
  while (done < data.length) done += fs.writeSync(fd, data, done, data.length - done);
}

/** A log that does not end in a newline ends in a torn line (a crash mid-append): truncate it to its last whole line. */
function cutTornTail(fd: number): void {
  const size = fs.fstatSync(fd).size;
  if (size === 0) return;
  const chunk = Buffer.alloc(64 * 1024);
  let end = size;
  while (end > 0) {
    const start = Math.max(0, end - chunk.length);
    const read = fs.readSync(fd, chunk, 0, end - start, start);
    const newline = chunk.subarray(0, read).lastIndexOf(0x0a);
    if (newline >= 0) {
      if (start + newline + 1 !== size) fs.ftruncateSync(fd, start + newline + 1);
      return;
    }
    end = start;
  }
  fs.ftruncateSync(fd, 0);
}

/** Read a model's served log (a torn last line from a crash is skipped). */
export function readServedLog(runsDir: string, model: string): Array<ServedRecord | ServedSwitch> {
  const file = servedLogFile(runsDir, model);
  if (!fs.existsSync(file)) throw new DataError(`no served predictions for '${model}' in ${path.dirname(file)}; serve it first (candlelab serve --model ${model})`);
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  // the text after the last newline is a torn line (a crash mid-append; empty when the file ends cleanly): skipped
  lines.pop();
  const records: Array<ServedRecord | ServedSwitch> = [];
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    try {
      records.push(JSON.parse(line));
    } catch {
      throw new DataError(`${file}:${i + 1} is not a JSON line; the served log is damaged (only its last line may be torn by a crash)`);
    }
  });
  return records;
}

/** How one version did on what it served: counts, confidence, latency and, where the store has the next candles, outcomes. */
export type ServedVersionSummary = {
  version: number;
  arms: string[];
  requests: number;
  share: number;
  signals: { LONG: number; SHORT: number; FLAT: number };
  meanConfidence: number | null;
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** Predictions whose candle `horizon` bars later is in the store. */
  scored: number;
  /** LONG/SHORT answers whose direction matched the price move over the horizon. */
  hitRate: number | null;
  /** Mean of direction × return over the horizon for LONG/SHORT answers (what following the signal earned, before costs). */
  meanSignedReturn: number | null;
  first: string;
  last: string;
};

export type ServedComparison = { model: string; horizon: number; since?: string; requests: number; switches: number; versions: ServedVersionSummary[] };

/**
 * Compare the versions a model served: per version, its share of requests, its signals, latency, and
 * what following its LONG/SHORT answers would have earned over `horizon` bars, measured on the store's
 * candles (exchange/market default binance spot).
 */
export function compareServed(runsDir: string, model: string, options: { horizon?: number; since?: string; dataDir?: string; exchange?: string; market?: 'spot' | 'futures' } = {}): ServedComparison {
  const horizon = options.horizon ?? 1;
  const since = options.since ? Date.parse(options.since) : -Infinity;
  if (Number.isNaN(since)) throw new DataError(`--since '${options.since}' is not a date; use e.g. 2026-11-01 or 2026-11-01T12:00:00Z`);
  const records = readServedLog(runsDir, model);
  const predictions = records.filter((r): r is ServedRecord => r.kind === 'prediction' && Date.parse(r.at) >= since);
  const closes = new Map<string, { time: Float64Array; close: Float64Array; step: number } | undefined>();
  const series = (symbol: string, timeframe: string) => {
    const key = `${symbol} ${timeframe}`;
    if (!closes.has(key)) {
      const candles = options.dataDir ? readStore({ exchange: options.exchange ?? 'binance', market: options.market ?? 'spot', symbol, timeframe }, options.dataDir) : undefined;
      closes.set(key, candles ? { time: candles.time, close: candles.column('close'), step: timeframeMs(timeframe) } : undefined);
    }
    return closes.get(key);
  };
  const byVersion = new Map<number, ServedRecord[]>();
  for (const p of predictions) (byVersion.get(p.version) ?? byVersion.set(p.version, []).get(p.version)!).push(p);
  const versions = [...byVersion.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([version, list]): ServedVersionSummary => {
      const signals = { LONG: 0, SHORT: 0, FLAT: 0 };
      let confidenceSum = 0;
      let confidenceCount = 0;
      let scored = 0;
      let hits = 0;
      let signedSum = 0;
      let directional = 0;
      for (const p of list) {
        signals[p.signal]++;
        if (p.confidence !== null) (confidenceSum += p.confidence), confidenceCount++;
        const data = series(p.symbol, p.timeframe);
        if (!data) continue;
        // the predicted candle closes at p.time; its bar opens one step earlier
        const row = binarySearch(data.time, Date.parse(p.time) - data.step);
        if (row < 0 || row + horizon >= data.time.length) continue;
        scored++;
        const move = data.close[row + horizon] / data.close[row] - 1;
        const direction = p.signal === 'LONG' ? 1 : p.signal === 'SHORT' ? -1 : 0;
        if (direction !== 0) {
          directional++;
          signedSum += direction * move;
          if (Math.sign(move) === direction) hits++;
        }
      }
      const latencies = list.map((p) => p.latencyMs).sort((a, b) => a - b);
      const rank = (q: number) => latencies[Math.min(latencies.length - 1, Math.max(0, Math.ceil(q * latencies.length) - 1))];
      return {
        version,
        arms: [...new Set(list.map((p) => p.arm))],
        requests: list.length,
        share: list.length / predictions.length,
        signals,
        meanConfidence: confidenceCount ? confidenceSum / confidenceCount : null,
        latencyP50Ms: rank(0.5),
        latencyP99Ms: rank(0.99),
        scored,
        hitRate: directional ? hits / directional : null,
        meanSignedReturn: directional ? signedSum / directional : null,
        first: list[0].at,
        last: list[list.length - 1].at,
      };
    });
  return {
    model,
    horizon,
    ...(options.since ? { since: isoTime(since) } : {}),
    requests: predictions.length,
    switches: records.filter((r) => r.kind === 'switch' && Date.parse(r.at) >= since).length,
    versions,
  };
}

function binarySearch(values: Float64Array, target: number): number {
  let lo = 0;
  let hi = values.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (values[mid] === target) return mid;
    if (values[mid] < target) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}
