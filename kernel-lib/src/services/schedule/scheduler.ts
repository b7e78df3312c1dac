import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Cron } from 'croner';
import { CandlelabError, ConfigError, didYouMean } from '../../errors';
import { acquireStoreLock, type StoreLock } from '../../data/store-lock';
import { openWorkspace, workspaceStart, type Workspace, type WorkspaceOverrides } from '../../workspace';
import { NO_ALERTS, type AlertEvent, type AlertSink } from '../alerts/types';
import { systemClock, type SchedulerClock } from './clock';
import type { JobKindDefinition, JobResult, JobRunContext, JobRunner } from './job-runner';
import { retrainJobKind } from './retrain-job';
import { reportJobKind } from './report-job';
import { appendHistory, readHistory, readScheduleState, schedulePaths, updateScheduleState, type HistoryEntry, type JobTrigger, type SchedulePaths } from './run-history';
import { cronOf, loadSchedule, type JobKind, type LoadedSchedule, type ScheduledJob } from './schedule-config';

/**
 * Each job kind's runner and start-up check. A new kind (e.g. `report`) adds its schema to `jobSchema`
 * and its definition here; the scheduler itself never looks at `kind`.
 */
export const JOB_KINDS: { [K in JobKind]: JobKindDefinition<Extract<ScheduledJob, { kind: K }>> } = {
  retrain: retrainJobKind,
  report: reportJobKind,
};

/** What the scheduler reports as it goes (tests wait on these; the CLI prints them). */
export type SchedulerEvent =
  | { type: 'job-started'; job: string; trigger: JobTrigger; scheduledFor: number }
  | { type: 'job-finished'; job: string; entry: HistoryEntry }
  | { type: 'skipped-overlap'; job: string; entry: HistoryEntry }
  | { type: 'caught-up'; job: string; missed: number; scheduledFor: number }
  | { type: 'catch-up-skipped'; job: string; missed: number; scheduledFor: number };

export type SchedulerOptions = {
  /** Where time comes from (default: the wall clock). */
  clock?: SchedulerClock;
  /** Where promotion, keep, skip and error alerts go (default: nowhere). */
  alerts?: AlertSink;
  /** Overrides of the workspace folders (default: the workspace of the working folder or the schedule's). */
  workspace?: WorkspaceOverrides;
  log?: (line: string) => void;
  /** Run every job through this instead of its kind's runner, skipping the kinds' start-up checks (tests: hold a run open, fail on purpose). */
  runJob?: JobRunner;
  onEvent?: (event: SchedulerEvent) => void;
  /** false: no catch-up at start for any job (the CLI's --no-catch-up); default: each job's `catchUp`. */
  catchUp?: boolean;
};

export interface Scheduler {
  readonly schedule: LoadedSchedule;
  readonly workspace: Workspace;
  /** history.jsonl, state.json and the job locks. */
  readonly paths: SchedulePaths;
  /** Catch up missed jobs (once each), then run every job at its cron times until `stop`. */
  start(): Promise<void>;
  /** Stop scheduling and wait for the running jobs to finish. */
  stop(): Promise<void>;
  /** Run a job now (outside its cron times); resolves with its history entry (failed runs too). */
  runNow(jobName: string): Promise<HistoryEntry>;
  /** The recorded runs, oldest first. */
  history(): HistoryEntry[];
}

/** Cron times due up to `now`: the latest one and how many there were (capped, so a year of minutes stays cheap). */
function dueTimes(cron: Cron, after: number, now: number, cap = 100_000): { latest: number; count: number } | undefined {
  let latest: number | undefined;
  let count = 0;
  for (let next = cron.nextRun(new Date(after)); next && next.getTime() <= now && count < cap; next = cron.nextRun(next)) {
    latest = next.getTime();
    count++;
  }
  return latest === undefined ? undefined : { latest, count };
}

const oneLine = (error: unknown): string => (error instanceof Error ? error.message : String(error)).split('\n')[0];

/**
 * A scheduler over a schedule file or a loaded schedule. Nothing runs until `start` (or `runNow`).
 * Overlap: a job still running is not started again, neither here nor by another scheduler process
 * (a per-job lock file, taken without waiting); the refused start is recorded as `skipped-overlap`.
 */
export function createScheduler(source: string | LoadedSchedule, options: SchedulerOptions = {}): Scheduler {
  const schedule = typeof source === 'string' ? loadSchedule(source) : source;
  const clock = options.clock ?? systemClock;
  const alerts = options.alerts ?? NO_ALERTS;
  const log = options.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const workspace = openWorkspace(options.workspace, workspaceStart(schedule.baseDir));
  const paths = schedulePaths(workspace.runsDir, schedule.name);
  const jobs = new Map(schedule.schedule.jobs.map((job) => [job.name, job]));
  const crons = new Map(schedule.schedule.jobs.map((job) => [job.name, cronOf(job)]));
  const kindOf = (job: ScheduledJob): JobKindDefinition => JOB_KINDS[job.kind] as JobKindDefinition;
  // fail at start, not at the first cron time: specs exist and suit their jobs
  if (!options.runJob) for (const job of jobs.values()) kindOf(job).check?.(job, schedule);
  const running = new Map<string, Promise<HistoryEntry>>();
  const all = new Set<Promise<HistoryEntry>>();
  let controller = new AbortController();
  let loops: Promise<void>[] = [];
  const emit = (event: SchedulerEvent): void => {
    try {
      options.onEvent?.(event);
    } catch (error) {
      // a listener's bug must not leave a job locked or a run unrecorded
      log(`schedule: onEvent threw on ${event.type} (${oneLine(error)})`);
    }
  };
  const iso = (ms: number): string => new Date(ms).toISOString();

  const send = async (event: AlertEvent): Promise<void> => {
    try {
      await alerts.send(event);
    } catch (error) {
      // a sink must not throw; if one does, the scheduler still goes on
      log(`schedule: alert not sent (${oneLine(error)})`);
    }
  };

  /** The job's cross-process lock, or the reason it is held. */
  const tryLock = (job: ScheduledJob): StoreLock | string => {
    const target = paths.lock(job.name);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    try {
      return acquireStoreLock(target, { timeoutMs: 0, staleMs: 24 * 3_600_000 });
    } catch (error) {
      if (error instanceof CandlelabError && error.code === 'DATA') return `another scheduler process is running it (${target}.lock)`;
      throw error;
    }
  };

  const record = (entry: HistoryEntry, remember: boolean): void => {
    appendHistory(paths.history, entry);
    updateScheduleState(paths.state, (state) => {
      const previous = state.jobs[entry.job]?.lastScheduled;
      // a run by hand stands for no cron time: catch-up still counts from the last scheduled one;
      // a long run finishing after a later skipped time must not move the mark back
      const latest = previous !== undefined && Date.parse(previous) > Date.parse(entry.scheduledFor) ? previous : entry.scheduledFor;
      state.jobs[entry.job] = {
        lastScheduled: remember ? latest : (previous ?? entry.scheduledFor),
        lastOutcome: entry.outcome,
        lastFinished: entry.finishedAt,
      };
    });
  };

  const skip = (job: ScheduledJob, scheduledFor: number, trigger: JobTrigger, why: string): HistoryEntry => {
    const now = iso(clock.now());
    const entry: HistoryEntry = { job: job.name, kind: job.kind, trigger, scheduledFor: iso(scheduledFor), startedAt: now, finishedAt: now, outcome: 'skipped-overlap', reason: why };
    record(entry, trigger !== 'run-now');
    log(`schedule: ${job.name} at ${iso(scheduledFor)} skipped: ${why}`);
    void send({ kind: 'schedule', title: `${job.name}: skipped the run due at ${iso(scheduledFor)}`, text: `${job.name}: skipped the run due at ${iso(scheduledFor)}: ${why}`, at: now, source: `schedule ${job.name}` });
    emit({ type: 'skipped-overlap', job: job.name, entry });
    return entry;
  };

  /** Start one run of `job` unless it is running; resolves with its history entry (rejects only when the history cannot be written). */
  const launch = (job: ScheduledJob, scheduledFor: number, trigger: JobTrigger, missed?: number): Promise<HistoryEntry> => {
    try {
      return startRun(job, scheduledFor, trigger, missed);
    } catch (error) {
      return Promise.reject(error);
    }
  };

  const startRun = (job: ScheduledJob, scheduledFor: number, trigger: JobTrigger, missed?: number): Promise<HistoryEntry> => {
    if (running.has(job.name)) return Promise.resolve(skip(job, scheduledFor, trigger, 'the previous run is still going'));
    const lock = tryLock(job);
    if (typeof lock === 'string') return Promise.resolve(skip(job, scheduledFor, trigger, lock));
    const startedAt = iso(clock.now());
    emit({ type: 'job-started', job: job.name, trigger, scheduledFor });
    log(`schedule: ${job.name} started (${trigger}${missed ? `, ${missed} missed` : ''}, due ${iso(scheduledFor)})`);
    const context: JobRunContext = { schedule, workspace, scheduledFor, trigger, now: () => new Date(clock.now()), signal: controller.signal, log };
    const runner = options.runJob ?? kindOf(job).run;
    // registered as running before the runner is called, so even a runner that fails at once is seen
    let settle!: (entry: HistoryEntry) => void;
    let reject!: (error: unknown) => void;
    const run = new Promise<HistoryEntry>((resolve, fail) => ((settle = resolve), (reject = fail)));
    running.set(job.name, run);
    all.add(run);
    const done = (): void => {
      running.delete(job.name);
      all.delete(run);
    };
    void (async (): Promise<void> => {
      let result: JobResult | undefined;
      let failure: unknown;
      try {
        result = await runner(job, context);
      } catch (error) {
        failure = error;
      } finally {
        lock.release();
      }
      const base = { job: job.name, kind: job.kind, trigger, scheduledFor: iso(scheduledFor), ...(missed ? { missed } : {}), startedAt, finishedAt: iso(clock.now()) };
      const entry: HistoryEntry = result ? { ...base, outcome: result.outcome, ...result.details } : { ...base, outcome: 'failed', error: oneLine(failure) };
      record(entry, trigger !== 'run-now');
      const alert: AlertEvent | undefined = result
        ? result.alert
        : { kind: 'error', title: `${job.name} failed`, text: `${job.name} (${trigger}, due ${iso(scheduledFor)}) failed: ${oneLine(failure)}`, at: entry.finishedAt, source: `schedule ${job.name}` };
      if (alert) await send(alert);
      log(`schedule: ${job.name} ${entry.outcome}${entry.reason ? `: ${entry.reason}` : ''}${entry.error ? `: ${entry.error}` : ''}`);
      // no longer running when listeners hear of it: they may start the job again at once
      done();
      emit({ type: 'job-finished', job: job.name, entry });
      settle(entry);
    })().catch((error) => {
      done();
      reject(error);
    });
    return run;
  };

  /** One job's timeline: sleep to the next cron time, start the run (not awaited), repeat. */
  const loop = async (job: ScheduledJob, from: number, signal: AbortSignal): Promise<void> => {
    const cron = crons.get(job.name)!;
    let cursor = from;
    while (!signal.aborted) {
      const next = cron.nextRun(new Date(cursor));
      if (!next) return;
      await clock.sleepUntil(next.getTime(), signal);
      if (signal.aborted) return;
      // woken late (suspend, a long previous run of the event loop): the times passed meanwhile run once
      const due = dueTimes(cron, cursor, clock.now()) ?? { latest: next.getTime(), count: 1 };
      cursor = due.latest;
      void launch(job, due.latest, 'schedule', due.count > 1 ? due.count - 1 : undefined).catch((error) => log(`schedule: ${job.name}: ${oneLine(error)}`));
    }
  };

  return {
    schedule,
    workspace,
    paths,
    async start() {
      if (loops.length) throw new ConfigError('the scheduler is already started; stop it first');
      controller = new AbortController();
      const now = clock.now();
      const state = readScheduleState(paths.state);
      for (const job of jobs.values()) {
        const last = state.jobs[job.name]?.lastScheduled;
        if (last === undefined) {
          // first start: from now on, downtime is measured against this moment
          updateScheduleState(paths.state, (s) => {
            s.jobs[job.name] ??= { lastScheduled: iso(now) };
          });
          continue;
        }
        const due = dueTimes(crons.get(job.name)!, Date.parse(last), now);
        if (!due) continue;
        if (job.catchUp && options.catchUp !== false) {
          emit({ type: 'caught-up', job: job.name, missed: due.count, scheduledFor: due.latest });
          void launch(job, due.latest, 'catch-up', due.count).catch((error) => log(`schedule: ${job.name}: ${oneLine(error)}`));
        } else {
          log(`schedule: ${job.name} missed ${due.count} scheduled time(s) up to ${iso(due.latest)}; catch-up is off`);
          updateScheduleState(paths.state, (s) => {
            s.jobs[job.name] = { ...s.jobs[job.name], lastScheduled: iso(due.latest) };
          });
          emit({ type: 'catch-up-skipped', job: job.name, missed: due.count, scheduledFor: due.latest });
        }
      }
      loops = [...jobs.values()].map((job) => loop(job, now, controller.signal));
    },
    async stop() {
      controller.abort();
      await Promise.all(loops);
      loops = [];
      await Promise.allSettled([...all]);
    },
    runNow(jobName) {
      const job = jobs.get(jobName);
      if (!job) {
        const names = [...jobs.keys()];
        return Promise.reject(new ConfigError(`no job named '${jobName}' in the schedule${didYouMean(jobName, names)}; jobs: ${names.join(', ')}`));
      }
      return launch(job, clock.now(), 'run-now');
    },
    history: () => readHistory(paths.history),
  };
}
