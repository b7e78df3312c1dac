import * as fs from 'node:fs';
import * as path from 'node:path';
import { Cron } from 'croner';
import { z } from 'zod';
import { ConfigError } from '../../errors';
import { parseConfig } from '../../util/parse-config';

/**
 * schedule.json: named jobs, each with a cron expression (croner syntax, 5 or 6 fields) in a time zone
 * and a `kind` that says what the job does. Jobs are a discriminated union on `kind`, so a new kind
 * (e.g. `report`) is one more schema in `jobSchema` and one more definition in `JOB_KINDS` (scheduler.ts).
 */

/** Fields every job kind has. */
const commonJobFields = {
  /** Names the job in history, alerts, locks and the CLI (`--once <name>`). */
  name: z.string().regex(/^[\w.-]+$/, 'may use letters, digits, _ . - only'),
  /** A cron expression, e.g. "0 3 * * *" (03:00 every day); seconds may lead as a 6th field. */
  cron: z.string().min(1),
  /** IANA time zone the cron expression is read in (default UTC). */
  timezone: z.string().min(1).default('UTC'),
  /** After downtime that missed one or more scheduled times, run the job once at start (default true). */
  catchUp: z.boolean().default(true),
};

/** How a retrain job decides whether the candidate replaces production. */
const compareSchema = z
  .object({
    /** A dotted path into the registry version's metrics, e.g. backtest.sharpe or validation.stitched.sharpe. */
    metric: z.string().min(1),
    /** Whether a higher or a lower value is better (default higher). */
    direction: z.enum(['higher', 'lower']).default('higher'),
    /** The candidate must beat production by more than this (absolute, in the metric's units; default 0). */
    margin: z.number().min(0).default(0),
  })
  .strict();

/** Refresh the spec's store data with the downloader (resumable: only what the store lacks) before training. */
const refreshSchema = z
  .object({
    /** Replace the exchange's hosts (a local stand-in such as the fake exchange). */
    apiUrl: z.string().url().optional(),
    /** The ccxt exchange id (default: the spec's data.exchange). */
    exchange: z.string().min(1).optional(),
  })
  .strict();

export const retrainJobSchema = z
  .object({
    ...commonJobFields,
    kind: z.literal('retrain'),
    /** The spec to retrain, relative to the schedule file. */
    spec: z.string().min(1),
    /** Spec overrides, as `--set path=value` elsewhere. */
    set: z.array(z.string().regex(/^[^=]+=/, 'must look like path=value')).default([]),
    /** Refresh the spec's data before training (needs a spec with data.source "store"); false or absent: no refresh. */
    refresh: z.union([refreshSchema, z.literal(false)]).default(false),
    compare: compareSchema,
    /** Continue from the production version's model (models with an `initModel` param, e.g. core/xgboost). */
    warmStart: z.boolean().default(false),
  })
  .strict();

/** Send a paper or live session's report (parameters, metrics, signals, P&L, equity chart) to the alert channels. */
export const reportJobSchema = z
  .object({
    ...commonJobFields,
    kind: z.literal('report'),
    /** The session folder, relative to the schedule file. */
    session: z.string().min(1),
    /** The period the report covers, ending at the session's last candle (default daily). */
    period: z.enum(['daily', 'weekly']).default('daily'),
  })
  .strict();

/** Every job kind. Add a kind here and give it a definition (runner, start-up check) in JOB_KINDS. */
export const jobSchema = z.discriminatedUnion('kind', [retrainJobSchema, reportJobSchema]);

export const scheduleSchema = z
  .object({
    jobs: z.array(jobSchema).min(1, 'needs at least one job'),
  })
  .strict();

export type RetrainJob = z.output<typeof retrainJobSchema>;
export type ReportJob = z.output<typeof reportJobSchema>;
export type ScheduledJob = z.output<typeof jobSchema>;
export type JobKind = ScheduledJob['kind'];
export type Schedule = z.output<typeof scheduleSchema>;
export type ScheduleInput = z.input<typeof scheduleSchema>;

/** A validated schedule and where it came from (spec paths are relative to `baseDir`). */
export type LoadedSchedule = {
  schedule: Schedule;
  /** The schedule file ('' for an in-memory schedule). */
  file: string;
  baseDir: string;
  /** Names the history folder: the file name without .json. */
  name: string;
};

/** The croner job of a schedule entry, paused: it only computes times (the scheduler runs nothing through it). */
export function cronOf(job: Pick<ScheduledJob, 'name' | 'cron' | 'timezone'>): Cron {
  try {
    const cron = new Cron(job.cron, { timezone: job.timezone, paused: true });
    // a bad time zone surfaces only when a time is computed
    cron.nextRun(new Date(0));
    return cron;
  } catch (error) {
    // croner's messages start with "CronPattern: " or name its option; keep the substance, name the job
    const message = (error as Error).message;
    const badZone = /timezone/i.test(message);
    const reason = badZone ? `unknown time zone` : message.replace(/^(CronPattern|CronOptions|CronDate|Cron): /, '').replace(/\.$/, '');
    const what = badZone ? `timezone '${job.timezone}'` : `cron '${job.cron}'`;
    throw new ConfigError(`job '${job.name}': ${what} is not valid (${reason}); use 5 fields like "0 3 * * *" (minute hour day month weekday) and an IANA zone like UTC or Europe/Berlin`);
  }
}

/**
 * Validate a schedule object: field errors name the job index and field; every cron expression and
 * time zone is checked with croner; job names must be unique.
 */
export function parseSchedule(raw: unknown, where = 'schedule'): Schedule {
  const schedule = parseConfig(scheduleSchema, raw, where);
  const seen = new Set<string>();
  for (const job of schedule.jobs) {
    if (seen.has(job.name)) throw new ConfigError(`${where}: job name '${job.name}' is used twice; give each job its own name`);
    seen.add(job.name);
    let cron: Cron;
    try {
      cron = cronOf(job);
    } catch (error) {
      throw new ConfigError(`${where}: ${(error as Error).message}`);
    }
    // a valid pattern that never fires (e.g. 30 February) would leave the job idle forever
    if (cron.nextRun(new Date(0)) === null) throw new ConfigError(`${where}: job '${job.name}': cron '${job.cron}' never fires; pick a date that exists`);
  }
  return schedule;
}

/** Read and validate a schedule file. */
export function loadSchedule(file: string): LoadedSchedule {
  const resolved = path.resolve(file);
  let text: string;
  try {
    text = fs.readFileSync(resolved, 'utf8');
  } catch {
    throw new ConfigError(`schedule file ${file} not found; pass the path of a schedule JSON like {"jobs": [{"name": "retrain", "cron": "0 3 * * *", "kind": "retrain", "spec": "specs/quickstart.json", "compare": {"metric": "backtest.sharpe"}}]}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`schedule file ${file} is not valid JSON: ${(error as Error).message}`);
  }
  return { schedule: parseSchedule(raw, `schedule ${file}`), file: resolved, baseDir: path.dirname(resolved), name: scheduleName(resolved) };
}

/** A schedule object used in-process (a notebook): spec paths relative to `baseDir`, history under `name`. */
export function defineSchedule(raw: ScheduleInput, options: { baseDir?: string; name?: string } = {}): LoadedSchedule {
  return { schedule: parseSchedule(raw), file: '', baseDir: path.resolve(options.baseDir ?? process.cwd()), name: options.name ?? 'schedule' };
}

function scheduleName(file: string): string {
  return path.basename(file).replace(/\.json$/i, '').replace(/[^\w.-]+/g, '-') || 'schedule';
}
