import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../../errors';
import { buildReport } from '../alerts/build-report';
import type { JobKindDefinition } from './job-runner';
import type { ReportJob } from './schedule-config';

/** The session folder of a report job (relative to the schedule file). */
function sessionDir(job: ReportJob, baseDir: string): string {
  return path.resolve(baseDir, job.session);
}

/**
 * A report job: the session's daily or weekly report (buildReport), sent to the scheduler's alert
 * channels as a 'report' event. The scheduler records the run and alerts on a failure.
 */
export const reportJobKind: JobKindDefinition<ReportJob> = {
  check(job, schedule) {
    const dir = sessionDir(job, schedule.baseDir);
    if (!fs.existsSync(path.join(dir, 'session.json'))) {
      throw new ConfigError(`job '${job.name}': ${dir} holds no paper or live session (no session.json); point "session" at a folder made by candlelab paper or live`);
    }
  },
  async run(job, context) {
    const dir = sessionDir(job, context.schedule.baseDir);
    const report = buildReport(dir, { period: job.period });
    const { figures: _figures, ...event } = report;
    context.log(`${job.name}: ${event.title}`);
    return { outcome: 'completed', details: { reason: `${job.period} report of ${dir} sent` }, alert: { ...event, source: `schedule ${job.name}` } };
  },
};
