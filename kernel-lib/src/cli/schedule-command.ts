import type { Command } from 'commander';
import { NO_ALERTS } from '../services/alerts/types';
import { openAlerts } from '../services/alerts/open-alerts';
import { withRedactedOutput } from './alert-commands';
import { loadSchedule } from '../services/schedule/schedule-config';
import { createScheduler } from '../services/schedule/scheduler';
import { formatHistoryEntry, formatHistoryTable, readHistory, schedulePaths } from '../services/schedule/run-history';
import { openWorkspace, workspaceStart } from '../workspace';
import { ConfigError } from '../errors';

const SCHEDULE_SHAPE =
  '{"jobs": [{"name": "retrain-btc", "cron": "0 3 * * *", "timezone": "UTC", "kind": "retrain", "spec": "specs/quickstart.json", ' +
  '"set": ["model.params.rounds=200"], "refresh": {"apiUrl": "…"} | false, "compare": {"metric": "backtest.sharpe", "direction": "higher", "margin": 0.05}, ' +
  '"warmStart": false, "catchUp": true}, {"name": "daily-report", "cron": "0 8 * * *", "kind": "report", "session": "runs/paper-…", "period": "daily"}]}';

/**
 * `candlelab schedule <schedule.json>`: run the schedule's jobs at their cron times until Ctrl-C;
 * `candlelab schedule history <schedule.json>`: the runs so far.
 */
export function registerScheduleCommand(program: Command): void {
  const schedule = program
    .command('schedule')
    .summary('retrain models on a cron schedule, promoting only better ones')
    .description(
      'run the jobs of a schedule file at their cron times until Ctrl-C (which waits for a running job, then exits 0). ' +
        'A retrain job refreshes its data (optional), retrains its spec (walk-forward when the spec has "validation"), registers the model as staging, ' +
        'and promotes it when it beats production on the declared metric by the margin; otherwise production stays. ' +
        'A report job sends a paper or live session\'s daily or weekly report (parameters, metrics, signals, P&L, equity chart) to the --alerts channels. ' +
        'Runs missed while the machine was off run once at start (catch-up). History: <runs>/schedule/<file name>/history.jsonl. ' +
        `Schedule shape: ${SCHEDULE_SHAPE}`,
    )
    .argument('<schedule.json>', 'the schedule file (spec paths in it are relative to it)')
    .option('--once <job>', 'run this job once now and exit (exit code 1 if it failed)')
    .option('--run-now <job>', 'run this job now, then keep running the schedule')
    .option('--no-catch-up', 'do not run jobs whose scheduled times passed while the scheduler was not running')
    .option('--alerts <alerts.json>', 'where promotion, keep and error alerts go (Telegram, Slack, e-mail)')
    .option('--runs-dir <dir>', 'where run folders and the schedule history go (default: <workspace>/runs)')
    .option('--models-dir <dir>', 'the model registry (default: <workspace>/models)')
    .option('--data-dir <dir>', 'the data store (default: <workspace>/data)')
    .action(async (file: string, options) => {
      if (options.once && options.runNow) throw new ConfigError('--once and --run-now exclude each other; pick one');
      // channels and credentials are checked now, not at the first alert
      const service = options.alerts ? openAlerts(options.alerts, { log: (line) => console.error(`alerts: ${line}`) }) : undefined;
      const alerts = service ?? NO_ALERTS;
      // from here on nothing printed or thrown carries a webhook URL, bot token or SMTP password
      await withRedactedOutput(service?.config.redactor, async () => {
        const scheduler = createScheduler(loadSchedule(file), {
          alerts,
          workspace: { runsDir: options.runsDir, modelsDir: options.modelsDir, dataDir: options.dataDir },
          catchUp: options.catchUp,
          log: (line) => console.error(line),
          onEvent: (event) => {
            if (event.type === 'job-finished' || event.type === 'skipped-overlap') console.log(formatHistoryEntry(event.entry));
          },
        });
        if (options.once) {
          const entry = await scheduler.runNow(options.once);
          await scheduler.stop();
          if (entry.outcome === 'failed' || entry.outcome === 'skipped-overlap') process.exitCode = 1;
          await alerts.close();
          return;
        }
        let stopRequested!: () => void;
        let stopping = false;
        const stopped = new Promise<void>((resolve) => (stopRequested = resolve));
        const onSignal = (): void => {
          console.error('schedule: stopping (waiting for running jobs)');
          stopping = true;
          stopRequested();
        };
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        try {
          console.error(`schedule: ${scheduler.schedule.schedule.jobs.map((j) => `${j.name} (${j.cron} ${j.timezone})`).join(', ')}; history in ${scheduler.paths.history}; Ctrl-C stops`);
          // a run by hand first, so the catch-up of the same job does not collide with it
          if (options.runNow) await Promise.race([scheduler.runNow(options.runNow), stopped]);
          if (!stopping) {
            await scheduler.start();
            await stopped;
          }
        } finally {
          await scheduler.stop();
          await alerts.close();
          process.removeListener('SIGINT', onSignal);
          process.removeListener('SIGTERM', onSignal);
        }
      });
    });

  schedule
    .command('history')
    .description('print the runs of a schedule: when each was due, how it ended, the versions and metric values')
    .argument('<schedule.json>', 'the schedule file')
    .option('--runs-dir <dir>', 'where the schedule history is (default: <workspace>/runs)')
    .option('--json', 'print the entries as JSON')
    .action((file: string, options) => {
      const loaded = loadSchedule(file);
      const workspace = openWorkspace({ runsDir: options.runsDir }, workspaceStart(loaded.baseDir));
      const entries = readHistory(schedulePaths(workspace.runsDir, loaded.name).history);
      console.log(options.json ? JSON.stringify(entries, null, 2) : formatHistoryTable(entries));
    });
}
