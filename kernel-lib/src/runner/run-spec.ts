import type { LoadedSpec, SpecInput } from '../spec/spec';
import type { JobRunner } from '../jobs/run-jobs';
import { remoteWindows } from '../jobs/run-windows';
import { writeRun, type RunRecord, type RunResults } from './run-record';
import { specHash } from '../spec/spec';

const specHashOf = (context: RunContext): string => specHash(context.spec).slice(0, 16);
import { backtestPath, splitValidation, timeLastModel, trainFolds, validationEvaluation, validationRecord, validatedSegments, type FoldResult, type RemoteFolds, type ValidationSplit } from './validation-run';
import type { LabelSet, RunContext } from './stages';
import { debug } from './stages';
import { RunLog } from './run-log';
import { CandlelabError, ConfigError } from '../errors';
import type { Candles } from '../frame/frame';
import type { FeatureSet } from '../features/compute-features';
import {
  backtestStrategy,
  buildFeatures,
  buildLabels,
  checkCandles,
  createRunContext,
  evaluateRun,
  loadCandles,
  prepareData,
  predictRows,
  runStrategy,
  splitData,
  trainModel,
  type RunContextOptions,
} from './stages';

/** A finished spec run. `results.trained.model` has been disposed (its artifacts are in the run folder). */
export type SpecRun = { record: RunRecord; results: RunResults; runDir: string };

/**
 * Run a whole spec (`windows`: a job runner that fits a validated run's windows in parallel): the same stage calls, in the same order, as notebooks/00-quickstart.ipynb makes
 * one cell at a time. Writes runs/<run-id>/ and registers the model.
 */
export async function runSpec(
  source: string | LoadedSpec | SpecInput,
  options: RunContextOptions & { windows?: JobRunner; runLog?: { echo?: (line: string) => void; notes?: readonly string[] } } = {},
): Promise<SpecRun> {
  const base = createRunContext(source, options);
  if (base.plan.coins) throw new ConfigError(`spec ${base.spec.name} lists ${base.plan.coins.list.length} coins in data; run it with runCoinSpec (candlelab run does), or give data as one source`);
  // run.log (`candlelab run`): opened once the spec is valid; a spec that fails validation never ran.
  const runLog = options.runLog ? RunLog.open(base.workspace.runsDir, base.spec.name, new Date(), options.runLog.echo) : undefined;
  const context: RunContext = runLog
    ? {
        ...base,
        runLog,
        log: (line) => {
          runLog.write(/warn|never|flag|dominant|rare/i.test(line) ? 'warning' : 'info', line);
          base.log(line);
        },
      }
    : base;
  runLog?.write('info', `run ${base.spec.name}: spec ${typeof source === 'string' ? source : ('file' in source && source.file) || '(object)'}${options.overrides?.length ? `, --set ${options.overrides.join(' ')}` : ''}, spec hash ${specHashOf(base)}`);
  for (const note of options.runLog?.notes ?? []) runLog?.write('info', note);
  if (runLog) debug(context, `run log (while running): ${runLog.file}`);
  debug(context, `workspace ${base.workspace.root}; runs ${base.workspace.runsDir}; models ${base.workspace.modelsDir}; data ${base.workspace.dataDir}`);
  debug(context, `plan: model ${base.plan.model.definition.id}@${base.plan.model.definition.version} ${JSON.stringify(base.plan.model.params)}; strategy ${base.plan.strategy.definition.id}; lookback ${base.plan.lookback}, label horizon ${base.plan.label.horizon}`);
  try {
    await prepareData(context);
    // Validated runs with a runner: the windows before the last are fitted as jobs (local processes or BullMQ).
    const results = await runStages(context, options.windows ? { remoteFolds: remoteWindows(options.windows, context) } : {});
    try {
      const record = await writeRun(context, results);
      runLog?.finish();
      return { record, results, runDir: `${context.workspace.runsDir}/${record.runId}` };
    } finally {
      results.trained.model.dispose();
    }
  } catch (error) {
    if (!runLog) throw error;
    const file = runLog.fail(error);
    if (error instanceof CandlelabError) error.message += `; the run's log: ${file}`;
    throw error;
  }
}

/** Hooks into a run's stages (a tuner reports intermediate values through them). */
export type StageHooks = {
  /** Validated runs: after each fold is fitted, with the folds fitted so far (a prefix of the stitched account can be scored). */
  onFold?: (done: FoldResult[], run: FoldProgress) => void;
  /** Validated runs: fit the folds before the last elsewhere (worker processes or BullMQ, see jobs/run-windows.ts). */
  remoteFolds?: RemoteFolds;
};

/** What a fold hook sees of the run besides the folds done. */
export type FoldProgress = { context: RunContext; candles: Candles; features: FeatureSet; labels: LabelSet; split: ValidationSplit };

/**
 * Every stage of a spec, nothing written or registered (tuning trials, sweeps). The caller disposes
 * `results.trained.model`.
 */
export async function runStages(context: RunContext, hooks: StageHooks = {}): Promise<RunResults> {
  if (context.plan.coins) throw new ConfigError(`spec ${context.spec.name} lists ${context.plan.coins.list.length} coins in data; tuning and sweeps run one coin, so give data as one source (runCoinSpec runs the coins)`);
  const timed = <T>(stage: string, work: () => T, describe: (result: Awaited<T>) => string): T => {
    const started = performance.now();
    const result = work();
    const report = (value: Awaited<T>): void => debug(context, `${stage}: ${describe(value)} (${(performance.now() - started).toFixed(0)} ms)`);
    if (result instanceof Promise) void result.then(report, () => {});
    else report(result as Awaited<T>);
    return result;
  };
  const candles = timed('data', () => loadCandles(context), (c) => `${c.length} bars of ${c.meta.symbol} ${c.meta.timeframe}`);
  const quality = timed('quality', () => checkCandles(candles), (q) => `${q.issues.length} issue(s)${q.issues.length ? ": " + q.issues.map((i) => `${i.severity} ${i.kind} ×${i.count}`).join("; ") : ""}`);
  const features = timed('features', () => buildFeatures(context, candles), (f) => `${f.names.length} columns, warm-up ${f.lookback} rows`);
  const labels = timed('labels', () => buildLabels(context, candles), (l) => `horizon ${l.horizon}${l.classes ? `, classes ${l.classes.join('/')}` : ', regression'}`);
  if (context.plan.validation) return runValidatedStages(context, { candles, quality, features, labels }, hooks);
  const split = timed('split', () => splitData(context, candles, features, labels), (s) => `train ${s.train.end - s.train.start}, valid ${s.valid.end - s.valid.start}, test ${s.test.end - s.test.start} rows`);
  const trained = await timed('train', () => trainModel(context, features, labels, split), (t) => `${t.definition.id} fitted in ${t.trainingMs.toFixed(0)} ms`);
  try {
    const predictions = await timed('predict', () => predictRows(trained.model, features, split), (p) => `${p.rows} rows × ${p.columns.length} outputs`);
    const evaluation = timed('evaluate', () => evaluateRun(predictions, labels, split), (e) => (e.task === 'regression' ? `test RMSE ${e.test.rmse}` : `test accuracy ${e.test.accuracy.toFixed(4)}`));
    const strategy = timed('strategy', () => runStrategy(context, candles, features, predictions, split), (s) => `${s.end - s.start} traded bars`);
    const backtest = timed('backtest', () => backtestStrategy(context, candles, strategy), (b) => `${b.result.trades.length} trades, total return ${b.report.metrics.totalReturn.toFixed(4)}`);
    return { candles, quality, features, labels, split, trained, predictions, evaluation, strategy, backtest };
  } catch (error) {
    trained.model.dispose();
    throw error;
  }
}

/**
 * A spec with `validation`: the splitter's folds, each fitted on its own training rows, the backtest
 * paths over the stitched out-of-sample predictions (one for walk-forward and k-fold, several for
 * CPCV), run.json's `validation` record; the last fold's model is the run's (registered) model.
 */
async function runValidatedStages(context: RunContext, stages: Pick<RunResults, 'candles' | 'quality' | 'features' | 'labels'>, hooks: StageHooks): Promise<RunResults> {
  const { candles, features, labels } = stages;
  const split = splitValidation(context, candles, features, labels);
  const training = await trainFolds(context, candles, features, labels, split, hooks.onFold && ((done) => hooks.onFold!(done, { context, candles, features, labels, split })), hooks.remoteFolds);
  try {
    const paths = split.paths.map((path) => backtestPath(context, candles, features, training, path));
    const record = validationRecord(candles, labels, split, training, paths);
    const predictions = await timeLastModel(training, features, paths[0].predictions);
    return {
      ...stages,
      split: validatedSegments(candles, split, training, paths[0]),
      trained: training.last,
      predictions,
      evaluation: validationEvaluation(labels, record, training),
      strategy: paths[0].strategy,
      backtest: paths[0].backtest,
      validation: { split, training, paths, record },
    };
  } catch (error) {
    training.last.model.dispose();
    throw error;
  }
}
