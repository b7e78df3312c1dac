import type { LoadedSpec, SpecInput } from '../spec/spec';
import type { JobRunner } from '../jobs/run-jobs';
import { remoteWindows } from '../jobs/run-windows';
import { writeRun, type RunRecord, type RunResults } from './run-record';
import { backtestPath, splitValidation, timeLastModel, trainFolds, validationEvaluation, validationRecord, validatedSegments, type FoldResult, type RemoteFolds, type ValidationSplit } from './validation-run';
import type { LabelSet, RunContext } from './stages';
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
export async function runSpec(source: string | LoadedSpec | SpecInput, options: RunContextOptions & { windows?: JobRunner } = {}): Promise<SpecRun> {
  const context = createRunContext(source, options);
  await prepareData(context);
  // Validated runs with a runner: the windows before the last are fitted as jobs (local processes or BullMQ).
  const results = await runStages(context, options.windows ? { remoteFolds: remoteWindows(options.windows, context) } : {});
  try {
    const record = await writeRun(context, results);
    return { record, results, runDir: `${context.workspace.runsDir}/${record.runId}` };
  } finally {
    results.trained.model.dispose();
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
  const candles = loadCandles(context);
  const quality = checkCandles(candles);
  const features = buildFeatures(context, candles);
  const labels = buildLabels(context, candles);
  if (context.plan.validation) return runValidatedStages(context, { candles, quality, features, labels }, hooks);
  const split = splitData(context, candles, features, labels);
  const trained = await trainModel(context, features, labels, split);
  try {
    const predictions = await predictRows(trained.model, features, split);
    const evaluation = evaluateRun(predictions, labels, split);
    const strategy = runStrategy(context, candles, features, predictions, split);
    const backtest = backtestStrategy(context, candles, strategy);
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
