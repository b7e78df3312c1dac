import type { AlertEvent } from '../alerts/types';
import type { Workspace } from '../../workspace';
import type { HistoryEntry, JobOutcome, JobTrigger } from './run-history';
import type { LoadedSchedule, ScheduledJob } from './schedule-config';

/** What a job runner is given for one run. */
export type JobRunContext = {
  schedule: LoadedSchedule;
  workspace: Workspace;
  /** The cron time this run stands for (epoch ms). */
  scheduledFor: number;
  trigger: JobTrigger;
  /** The scheduler's clock, as a Date (run ids, registry stage history). */
  now: () => Date;
  /** Aborted when the scheduler is stopped; a runner may finish its current step first. */
  signal: AbortSignal;
  log: (line: string) => void;
};

/**
 * What a finished run reports: its outcome (never `failed` or `skipped-overlap`: a runner throws to
 * fail, the scheduler records overlaps), the history fields it fills, and the alert to send.
 */
export type JobResult = {
  outcome: Exclude<JobOutcome, 'failed' | 'skipped-overlap'>;
  details?: Partial<Omit<HistoryEntry, 'job' | 'kind' | 'trigger' | 'scheduledFor' | 'startedAt' | 'finishedAt' | 'outcome'>>;
  alert?: AlertEvent;
};

/** Runs one kind of job. Each kind composes its own alert; the scheduler never branches on `kind`. */
export type JobRunner<J extends ScheduledJob = ScheduledJob> = (job: J, context: JobRunContext) => Promise<JobResult>;

/**
 * A job kind: how it runs, and an optional check made once when the scheduler is created (a missing or
 * invalid spec fails at start, not at 03:00). Throws a ConfigError naming the job.
 */
export type JobKindDefinition<J extends ScheduledJob = ScheduledJob> = {
  run: JobRunner<J>;
  check?: (job: J, schedule: LoadedSchedule) => void;
};
