import * as path from 'node:path';
import type { Command } from 'commander';
import { parseGridArg, parseRandomArg, runSweep, type SweepParam } from '../runner/sweep';
import { DEFAULT_QUEUE_NAME, runRedisWorker } from '../jobs/redis-queue';
import { createJobRunner, DEFAULT_ATTEMPTS, type JobRunner } from '../jobs/run-jobs';
import { collect, positiveInt } from './option-parsers';
import { untilStopped } from './until-stopped';

/** The options every command that fans out jobs takes: --jobs, --queue, --queue-name, --attempts. */
export function addJobOptions(command: Command, jobsHelp: string): Command {
  return command
    .option('--jobs <n>', jobsHelp, positiveInt('--jobs'))
    .option('--queue <redis-url>', 'send the jobs to BullMQ workers instead (redis://host:port[/db]; start them with candlelab worker --queue …)')
    .option('--queue-name <name>', `the BullMQ queue (default ${DEFAULT_QUEUE_NAME}; workers must use the same)`)
    .option('--attempts <n>', `attempts per job before it is recorded as failed (default ${DEFAULT_ATTEMPTS}; errors in the spec or data fail at once)`, positiveInt('--attempts'));
}

/** The runner a command's job options ask for, or undefined when they ask for none (this process). */
export async function jobRunnerFromOptions(options: { jobs?: number; queue?: string; queueName?: string; attempts?: number }, localSize: (jobs: number) => number = (jobs) => jobs): Promise<JobRunner | undefined> {
  if (!options.queue && (options.jobs === undefined || options.jobs <= 1)) return undefined;
  return createJobRunner({ jobs: options.queue ? undefined : localSize(options.jobs!), queue: options.queue, queueName: options.queueName, attempts: options.attempts });
}

/** A Ctrl-C handler for commands that fan out jobs: the first cancels cleanly, the second quits. */
export function cancelOnSigint(name: string): { signal: AbortSignal; dispose: () => void } {
  const abort = new AbortController();
  const onSignal = () => {
    if (abort.signal.aborted) process.exit(130);
    process.stderr.write(`${name}: cancelling (queued jobs are dropped, running ones finish; Ctrl-C again to quit now)\n`);
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: abort.signal,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}

export function registerJobCommands(program: Command): void {
  const sweep = program
    .command('sweep')
    .summary('run a spec over a grid or random sample of params, in parallel')
    .description(
      'run a spec over a grid (--grid path=v1,v2,…) or a seeded random sample (--random path=low:high --samples N) of parameter values; ' +
        'each point is a job on local worker processes (--jobs, default: the cores) or BullMQ workers (--queue); features and models are computed ' +
        'once per distinct data, features, labels and model (the stage cache), finished points are reused on a second run; writes results.csv, ' +
        'results.arrow, summary.json and report.html (heatmap for two params, parallel coordinates beyond) into <runs>/sweep-<name>/',
    )
    .argument('<spec.json>', 'the spec to sweep')
    .option('--grid <path=v1,v2,…>', 'a grid parameter: every listed value (repeatable; the points are the product)', collect, [])
    .option('--random <path=low:high[:int|:log|:int-log]>', 'a random parameter: uniform draws in the range (repeatable)', collect, [])
    .option('--samples <n>', 'random sweeps: how many points (default 20)', positiveInt('--samples'))
    .option('--seed <n>', 'random sweeps: the seed of the draws (default: the spec seed)', positiveInt('--seed'))
    .option('--metric <name>', 'the metric the report colors by (default sharpe)')
    .option('--set <path=value>', 'override a spec field for every point (repeatable)', collect, [])
    .option('--out <dir>', 'where the results go (default: <runs>/sweep-<spec name>)')
    .option('--runs-dir <dir>', 'where run folders go (default: <workspace>/runs)')
    .option('--data-dir <dir>', 'the data store (default: <workspace>/data)')
    .option('--json', 'print the summary as JSON on stdout');
  addJobOptions(sweep, 'local worker processes (default: the machine\'s cores)').action(async (specFile: string, options) => {
    const params: SweepParam[] = [...(options.grid as string[]).map(parseGridArg), ...(options.random as string[]).map(parseRandomArg)];
    const stop = cancelOnSigint('sweep');
    try {
      const result = await runSweep(specFile, {
        params,
        samples: options.samples,
        seed: options.seed,
        metric: options.metric,
        overrides: options.set,
        outDir: options.out,
        jobs: options.jobs,
        queue: options.queue,
        queueName: options.queueName,
        attempts: options.attempts,
        workspace: { runsDir: options.runsDir, dataDir: options.dataDir },
        signal: stop.signal,
      });
      const relative = (p: string) => path.relative(process.cwd(), p) || '.';
      const metric = options.metric ?? 'sharpe';
      if (options.json) {
        console.log(JSON.stringify({ outDir: result.outDir, files: result.files, points: result.rows.length, computed: result.computed, reused: result.reused, failed: result.failed, seconds: result.seconds, runner: result.runner, best: result.best ?? null }, null, 2));
      } else {
        console.log(`sweep: ${result.rows.length} points (${result.computed} computed, ${result.reused} reused, ${result.failed} failed) in ${result.seconds.toFixed(1)} s on ${result.runner}`);
        if (result.best) console.log(`  best ${metric}: ${result.best.metrics![metric]} at point ${result.best.point} ${JSON.stringify(result.best.params)}`);
        for (const row of result.rows.filter((r) => r.error).slice(0, 5)) console.log(`  point ${row.point} failed: ${row.error}`);
        console.log(`  results:  ${relative(result.files.csv)}  ${relative(result.files.arrow)}`);
        console.log(`  report:   ${relative(result.files.report)}`);
      }
      if (result.failed) process.exitCode = 1;
    } finally {
      stop.dispose();
    }
  });

  program
    .command('worker')
    .summary('take jobs from a BullMQ queue (sweeps, trials, windows, coins)')
    .description(
      'a BullMQ worker: takes jobs that sweep/tune/run/coin add --queue send, on this or any machine, until Ctrl-C (it finishes its running jobs first). ' +
        'Workers read the data and write results through the workspace paths the jobs name, so every worker machine needs the workspace at the same path (a shared mount)',
    )
    .requiredOption('--queue <redis-url>', 'the Redis of the queue: redis://host:port[/db]')
    .option('--queue-name <name>', `the BullMQ queue (default ${DEFAULT_QUEUE_NAME})`)
    .option('--concurrency <n>', 'jobs at once, each in its own process', positiveInt('--concurrency'), 1)
    .option('--lock-duration <ms>', 'how long a job\'s lock lasts; a killed worker\'s job is taken up again after it (default 30000)', positiveInt('--lock-duration'))
    .option('--stalled-interval <ms>', 'how often to look for stalled jobs of killed workers (default 30000)', positiveInt('--stalled-interval'))
    .action(async (options) => {
      const abort = new AbortController();
      void untilStopped().then(() => {
        abort.abort();
        // A second Ctrl-C quits without waiting for the running jobs (BullMQ gives them to another worker).
        void untilStopped().then(() => process.exit(130));
      });
      const { processed, failed } = await runRedisWorker({
        url: options.queue,
        name: options.queueName,
        concurrency: options.concurrency,
        lockDurationMs: options.lockDuration,
        stalledIntervalMs: options.stalledInterval,
        signal: abort.signal,
      });
      process.stderr.write(`worker: stopped after ${processed} jobs (${failed} failed attempts)\n`);
    });
}
