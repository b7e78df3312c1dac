import { ConfigError } from '../errors';
import { loadStudy, type Study } from '../tuning/study';
import { Trial, TrialPruned } from '../tuning/trial';
import type { WorkspaceOverrides } from '../workspace';
import { createRunContext } from './stages';
import { runStages, type FoldProgress } from './run-spec';
import { backtestPath, equityReturns, stitchPath, type FoldResult } from './validation-run';
import { classificationMetrics } from '../models/classification-metrics';
import { regressionMetrics } from '../models/regression-metrics';
import { objectiveValue, objectiveView, valueAt, type RunObjective } from './tune-space';
import { createPruner, type PrunerName } from './tune-choices';

/**
 * One tuning trial: the spec with the trial's overrides through every stage (nothing written or
 * registered), its objective values, and intermediate values for the pruner on the way:
 * - a walk-forward spec reports, after each window, the objective on the stitched account so far
 *   (step = window), so a weak trial stops after its first windows;
 * - a spec without validation reports the model's validation loss after each boosting round or epoch
 *   (step = round) when the objective is that loss (logLoss, rmse, mae on the validation segment);
 * - otherwise nothing is reported and nothing is pruned.
 */
export type TrialRequest = {
  specFile: string;
  /** The base `--set` overrides, then the trial's. */
  overrides: string[];
  workspace: WorkspaceOverrides;
  objectives: RunObjective[];
  /** The shared study, for reporting and pruning (absent: no pruning). */
  study?: { storage: string; studyName: string; trialNumber: number; pruner: PrunerName; seed: number };
};

export type TrialOutcome =
  | {
      state: 'COMPLETE';
      values: number[];
      returns?: number[];
      /** Per backtest path, its Sharpe (CPCV has several paths): the tuner's PBO across paths. */
      pathSharpes?: number[];
      summary: Record<string, unknown>;
    }
  | { state: 'PRUNED'; step?: number }
  | { state: 'FAIL'; error: string };

const studies = new Map<string, Study>();

/** The study's running trial, through this process's copy of the study (journal re-read first). */
function trialHandle(request: NonNullable<TrialRequest['study']>): { study: Study; trial: Trial } {
  const key = `${request.storage}\n${request.studyName}`;
  let study = studies.get(key);
  if (!study) {
    study = loadStudy({ storage: request.storage, studyName: request.studyName, pruner: createPruner(request.pruner), seed: request.seed });
    studies.set(key, study);
  }
  study.storage.refresh();
  const frozen = study.getTrials().find((t) => t.number === request.trialNumber);
  if (!frozen) throw new ConfigError(`trial ${request.trialNumber} is not in study '${request.studyName}'`);
  return { study, trial: new Trial(study, frozen) };
}

/** Run one trial in this process. Errors become a FAIL outcome with the one-line message. */
export async function runTrial(request: TrialRequest): Promise<TrialOutcome> {
  try {
    return await runTrialStages(request);
  } catch (error) {
    return { state: 'FAIL', error: error instanceof Error ? error.message : String(error) };
  }
}

async function runTrialStages(request: TrialRequest): Promise<TrialOutcome> {
  const handle = request.study && request.objectives.length === 1 ? trialHandle(request.study) : undefined;
  const trial = handle?.trial;
  const objective = request.objectives[0];
  let lastStep: number | undefined;
  const report = (value: number, step: number): void => {
    if (!handle || !Number.isFinite(value)) return;
    lastStep = step;
    handle.trial.report(value, step);
    handle.study.storage.refresh(); // the other processes' trials, for the pruner
    if (handle.trial.shouldPrune()) throw new TrialPruned(`pruned at step ${step}`);
  };
  const lossObjective = /^(classification|regression)\.valid\.(logLoss|rmse|mae)$/.test(objective.path);
  try {
    const context = createRunContext(request.specFile, {
      overrides: request.overrides,
      workspace: request.workspace,
      progress: 'quiet',
      log: () => {},
      ...(trial && lossObjective ? { reportValidation: (step: number, loss: number, fold?: number) => fold === undefined && report(loss, step) } : {}),
    });
    const results = await runStages(context, {
      ...(trial && context.plan.validation?.definition.forwardOnly ? { onFold: (done, run) => report(prefixObjective(run, objective, done), done.length - 1) } : {}),
    });
    try {
      const view = objectiveView(results);
      const values = request.objectives.map((o) => objectiveValue(o, view));
      const backtest = results.backtest.report.metrics;
      return {
        state: 'COMPLETE',
        values,
        returns: Array.from(equityReturns(results.backtest)),
        ...(results.validation && results.validation.record.paths.length > 1 ? { pathSharpes: results.validation.record.paths.map((p) => p.metrics.sharpe) } : {}),
        summary: {
          totalReturn: backtest.totalReturn,
          sharpe: backtest.sharpe,
          maxDrawdown: backtest.maxDrawdown,
          numTrades: backtest.numTrades,
          ...(results.validation ? { windows: results.validation.record.windows.length } : {}),
        },
      };
    } finally {
      results.trained.model.dispose();
    }
  } catch (error) {
    if (error instanceof TrialPruned) return { state: 'PRUNED', step: lastStep };
    return { state: 'FAIL', error: error instanceof Error ? error.message : String(error) };
  }
}

/** The objective on the walk-forward account of the windows fitted so far (a prefix of the final account). */
function prefixObjective(run: FoldProgress, objective: RunObjective, done: FoldResult[]): number {
  const pieces = run.split.paths[0].pieces.filter((p) => p.fold <= done[done.length - 1].fold.index);
  if (objective.path.startsWith('validation.outOfSample.backtest.')) {
    const path = backtestPath(run.context, run.candles, run.features, { folds: done }, { pieces });
    const value = valueAt(path.backtest.report.metrics, objective.path.slice('validation.outOfSample.backtest.'.length));
    return typeof value === 'number' ? value : NaN;
  }
  if (objective.path.startsWith('validation.outOfSample.model.')) {
    const predictions = stitchPath({ folds: done }, { pieces });
    const target = run.labels.target.subarray(predictions.start, predictions.start + predictions.rows);
    const metrics = run.labels.classes ? classificationMetrics(predictions.values, target, run.labels.classes) : regressionMetrics(predictions.values, target);
    const value = valueAt(metrics, objective.path.slice('validation.outOfSample.model.'.length));
    return typeof value === 'number' ? value : NaN;
  }
  return NaN;
}
