import * as path from 'node:path';
import { Option, type Command } from 'commander';
import { tuneSpec } from '../runner/tune-spec';
import { PRUNER_NAMES, SAMPLER_NAMES, type PrunerName, type SamplerName } from '../runner/tune-choices';
import { collect, positiveInt } from './option-parsers';


/** `candlelab tune`: hyperparameter search over a spec (see runner/tune-spec.ts). */
export function registerTuneCommand(program: Command): void {
  program
    .command('tune')
    .summary('search a spec\'s parameters with TPE')
    .description(
      'search a spec\'s parameters with an Optuna-style study: a search space over spec paths, any run metric as the objective ' +
        '(default: the walk-forward out-of-sample Sharpe when the spec has "validation", else the validation log-loss or RMSE), ' +
        'trials in parallel processes, weak trials pruned on their intermediate values; writes the best params as a ready spec ' +
        '(best-spec.json), trials.csv, summary.json (with PBO and the deflated Sharpe) and report.html into <runs>/tune-<study>/',
    )
    .argument('<spec.json>', 'the spec to tune (add a "validation" section to tune on walk-forward windows)')
    .requiredOption('--space <space.json>', 'the search space: {"model.params.maxDepth": {"type": "int", "low": 2, "high": 8}, ...} (see README)')
    .requiredOption('--trials <n>', 'finished trials the study should have (a continued study counts its earlier ones)', positiveInt('--trials'))
    .option('--timeout <seconds>', 'start no trial after this many seconds', positiveInt('--timeout'))
    .option('--jobs <n>', 'trials in parallel, each in its own process (default 1); with --queue, trials in flight (default 4)', positiveInt('--jobs'))
    .option('--queue <redis-url>', 'run the trials on BullMQ workers (redis://host:port[/db]; candlelab worker --queue …); the study journal must be on a path the workers share')
    .option('--queue-name <name>', 'the BullMQ queue (default candlelab)')
    .option('--attempts <n>', 'attempts per trial when its worker process dies (default 2)', positiveInt('--attempts'))
    .option('--objective <metric[,metric…]>', 'run metrics to optimize, e.g. sharpe, maxDrawdown:min, logLoss, validation.outOfSample.backtest.sortino (several: NSGA-II, Pareto front)')
    .option('--study <name>', 'the study name (default: the spec name)')
    .option('--storage <file>', 'the journal file (default: <out>/study.journal); an existing study is continued')
    .addOption(new Option('--sampler <name>', 'the sampler (default tpe; nsga2 for several objectives)').choices([...SAMPLER_NAMES]))
    .addOption(new Option('--pruner <name>', 'the pruner').choices([...PRUNER_NAMES]).default('median'))
    .option('--seed <n>', 'the sampler seed (default: the spec seed)', (text) => Number(text))
    .option('--out <dir>', 'where the results go (default: <runs>/tune-<study>)')
    .option('--set <path=value>', 'override a spec field for every trial (repeatable)', collect, [])
    .option('--runs-dir <dir>', 'where run folders go (default: <workspace>/runs)')
    .option('--data-dir <dir>', 'the data store (default: <workspace>/data)')
    .option('--json', 'print the summary as JSON on stdout')
    .action(async (specFile: string, options) => {
      const abort = new AbortController();
      const onSignal = () => {
        if (abort.signal.aborted) process.exit(130);
        process.stderr.write('tune: stopping after the running trials (Ctrl-C again to quit now)\n');
        abort.abort();
      };
      process.on('SIGINT', onSignal);
      try {
        const result = await tuneSpec(specFile, {
          space: options.space,
          trials: options.trials,
          timeoutSec: options.timeout,
          jobs: options.jobs,
          queue: options.queue,
          queueName: options.queueName,
          attempts: options.attempts,
          objective: options.objective,
          sampler: options.sampler as SamplerName | undefined,
          pruner: options.pruner as PrunerName,
          studyName: options.study,
          storage: options.storage,
          outDir: options.out,
          overrides: options.set,
          seed: options.seed,
          workspace: { runsDir: options.runsDir, dataDir: options.dataDir },
          signal: abort.signal,
        });
        const summary = {
          study: result.studyName,
          outDir: result.outDir,
          bestSpec: result.bestSpecFile,
          report: path.join(result.outDir, 'report.html'),
          objectives: result.objectives,
          trials: {
            total: result.trials.length,
            complete: result.trials.filter((t) => t.state === 'COMPLETE').length,
            pruned: result.trials.filter((t) => t.state === 'PRUNED').length,
            failed: result.trials.filter((t) => t.state === 'FAIL').length,
          },
          best: result.best.map((t) => ({ number: t.number, values: t.values, params: t.params })),
          probabilityOfBacktestOverfitting: result.overfitting?.pbo ?? null,
          pathProbabilityOfBacktestOverfitting: result.pathOverfitting?.pbo ?? null,
          deflatedSharpe: result.deflatedSharpe ?? null,
          importances: result.importances ?? null,
        };
        if (options.json) {
          console.log(JSON.stringify(summary, null, 2));
          return;
        }
        const relative = (p: string) => path.relative(process.cwd(), p) || '.';
        console.log(`tune ${summary.study}: ${summary.trials.total} trials (${summary.trials.complete} complete, ${summary.trials.pruned} pruned, ${summary.trials.failed} failed)`);
        for (const best of summary.best.slice(0, 5)) console.log(`  best #${best.number}: ${result.objectives.map((o, i) => `${o.name} ${best.values?.[i]}`).join(', ')}  ${JSON.stringify(best.params)}`);
        if (result.overfitting) console.log(`  probability of backtest overfitting: ${(100 * result.overfitting.pbo).toFixed(1)}% (CSCV, ${result.overfitting.blocks} blocks)`);
        if (result.pathOverfitting) console.log(`  probability of backtest overfitting across the CPCV paths: ${(100 * result.pathOverfitting.pbo).toFixed(1)}% (${result.pathOverfitting.paths} paths, ${result.pathOverfitting.trials} trials)`);
        if (result.deflatedSharpe) console.log(`  deflated Sharpe of the best trial: P = ${result.deflatedSharpe.probability.toFixed(3)} (against the best of ${result.deflatedSharpe.trials} skill-less trials)`);
        console.log(`  best spec:    ${relative(summary.bestSpec)}   (candlelab run ${relative(summary.bestSpec)})`);
        console.log(`  report:       ${relative(summary.report)}`);
      } finally {
        process.off('SIGINT', onSignal);
      }
    });
}
