import * as fs from 'node:fs';
import * as path from 'node:path';
import { DataError } from '../../errors';
import { acquireStoreLock } from '../../data/store-lock';
import { writeFileAtomic } from '../../util/atomic';

/**
 * What became of one scheduled start. Retrain jobs end `promoted` or `kept`; other kinds end
 * `completed`; any job can end `failed`, and a start refused because the job was still running (here or
 * in another scheduler process) is `skipped-overlap`.
 */
export type JobOutcome = 'promoted' | 'kept' | 'completed' | 'failed' | 'skipped-overlap';

/** Why a run started: its cron time, a catch-up after downtime, or by hand (`runNow`, `--once`). */
export type JobTrigger = 'schedule' | 'catch-up' | 'run-now';

/** One line of history.jsonl. Times are ISO. */
export type HistoryEntry = {
  job: string;
  kind: string;
  trigger: JobTrigger;
  /** The cron time this run stands for (a catch-up: the latest missed one; by hand: when asked). */
  scheduledFor: string;
  /** Catch-up: how many scheduled times were missed (the run happens once for all of them). */
  missed?: number;
  startedAt: string;
  finishedAt: string;
  outcome: JobOutcome;
  /** The spec run (runs/<runId>/). */
  runId?: string;
  /** The registered model and its candidate / production versions. */
  model?: string;
  candidate?: number;
  production?: number | null;
  metric?: string;
  candidateValue?: number | null;
  productionValue?: number | null;
  /** Why the candidate was promoted or kept. */
  reason?: string;
  /** Remarks that are not errors, e.g. "warm start not applied: …". */
  notes?: string[];
  /** A failure's one-line message. */
  error?: string;
};

/** state.json: each job's last scheduled time (what catch-up compares against). */
export type ScheduleState = {
  format: 1;
  jobs: Record<string, { lastScheduled: string; lastOutcome?: JobOutcome; lastFinished?: string }>;
};

/** Where a schedule keeps its history, state and job locks: <runsDir>/schedule/<schedule name>/. */
export type SchedulePaths = { dir: string; history: string; state: string; lock: (job: string) => string };

export function schedulePaths(runsDir: string, scheduleName: string): SchedulePaths {
  const dir = path.join(runsDir, 'schedule', scheduleName);
  return {
    dir,
    history: path.join(dir, 'history.jsonl'),
    state: path.join(dir, 'state.json'),
    // acquireStoreLock adds ".lock"
    lock: (job) => path.join(dir, 'locks', job),
  };
}

/**
 * Append one entry. One write(2) of one line with O_APPEND: concurrent schedulers' lines never
 * interleave, and a crash loses at most the line being written.
 */
export function appendHistory(file: string, entry: HistoryEntry): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.appendFileSync(file, JSON.stringify(entry) + '\n');
}

/** Every entry, oldest first. A torn last line (a crash mid-write) is ignored; a damaged line elsewhere is an error. */
export function readHistory(file: string): HistoryEntry[] {
  if (!fs.existsSync(file)) return [];
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const entries: HistoryEntry[] = [];
  lines.forEach((line, i) => {
    if (!line.trim()) return;
    try {
      entries.push(JSON.parse(line) as HistoryEntry);
    } catch {
      if (i === lines.length - 1) return;
      throw new DataError(`${file}:${i + 1} is not a history line; remove or repair that line`);
    }
  });
  return entries;
}

export function readScheduleState(file: string): ScheduleState {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return { format: 1, jobs: {} };
  }
  try {
    const state = JSON.parse(text) as ScheduleState;
    if (state.format !== 1 || typeof state.jobs !== 'object') throw new Error('unknown format');
    return state;
  } catch (error) {
    throw new DataError(`${file} is not a schedule state file (${(error as Error).message}); delete it (catch-up then starts afresh)`);
  }
}

/** Read-modify-write state.json under its lock (several scheduler processes may share it); atomic replace. */
export function updateScheduleState(file: string, change: (state: ScheduleState) => void): ScheduleState {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const lock = acquireStoreLock(file, { timeoutMs: 30_000, staleMs: 120_000 });
  try {
    const state = readScheduleState(file);
    change(state);
    lock.assertHeld();
    writeFileAtomic(file, JSON.stringify(state, null, 2) + '\n');
    return state;
  } finally {
    lock.release();
  }
}

const formatValue = (value: number | null | undefined): string => (value === null || value === undefined ? '—' : Number.isInteger(value) ? String(value) : value.toFixed(4));

/** The history as a fixed-width table (one row per run), for `candlelab schedule history`. */
export function formatHistoryTable(entries: readonly HistoryEntry[]): string {
  if (entries.length === 0) return 'no runs yet';
  const header = ['job', 'scheduled for', 'trigger', 'outcome', 'model', 'candidate', 'production', 'metric', 'cand.', 'prod.', 'detail'];
  const rows = entries.map((e) => [
    e.job,
    e.scheduledFor.replace(/\.\d+Z$/, 'Z'),
    e.trigger + (e.missed ? ` (${e.missed} missed)` : ''),
    e.outcome,
    e.model ?? '—',
    e.candidate !== undefined ? `v${e.candidate}` : '—',
    e.production !== undefined && e.production !== null ? `v${e.production}` : '—',
    e.metric ?? '—',
    formatValue(e.candidateValue),
    formatValue(e.productionValue),
    [e.error ?? e.reason ?? '', ...(e.notes ?? [])].filter(Boolean).join('; '),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** One run as one line, as the CLI prints it when the run ends. */
export function formatHistoryEntry(e: HistoryEntry): string {
  const versions = e.candidate !== undefined ? ` ${e.model} v${e.candidate}${e.production !== undefined && e.production !== null ? ` vs production v${e.production}` : ''}` : '';
  const values = e.metric ? ` ${e.metric} ${formatValue(e.candidateValue)} vs ${formatValue(e.productionValue)}` : '';
  const detail = [e.error ?? e.reason ?? '', ...(e.notes ?? [])].filter(Boolean).join('; ');
  return `${e.finishedAt} ${e.job} (${e.trigger}${e.missed ? `, ${e.missed} missed` : ''}, due ${e.scheduledFor}): ${e.outcome}${versions}${values}${detail ? ` — ${detail}` : ''}`;
}
