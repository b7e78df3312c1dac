import type { RunContext } from '../runner/stages';
import { dataFingerprint } from '../runner/stages';
import { storeCachedInputs } from '../runner/cached-stages';
import type { FoldResult, RemoteFolds } from '../runner/validation-run';
import { decodeValue, type Job, type WindowJobResult } from './job';
import { jobResultsDir, openResultStore } from './result-store';
import { runJobs, type JobRunner } from './run-jobs';
import { createStageCache, stageCacheDir } from './stage-cache';

/**
 * Walk-forward windows (any validated run's folds) as jobs: each fold before the last is a window job
 * on the runner (local processes or BullMQ), stored under its hash like every job result, so running
 * the same spec again reuses the windows already fitted. The run fits the last window itself and keeps
 * its model. Results are those of fitting the folds one after another in this process.
 */
export function remoteWindows(runner: JobRunner, context: RunContext): RemoteFolds {
  const store = openResultStore(jobResultsDir(context.workspace.cacheDir));
  // Once per run: the data fingerprint, and the run's features and labels written to the stage cache,
  // so the window workers read them instead of computing them again.
  let prepared: Promise<string> | undefined;
  return async (fold, run) => {
    prepared ??= (async () => {
      const fingerprint = dataFingerprint(run.candles);
      await storeCachedInputs(context, createStageCache(stageCacheDir(context.workspace.cacheDir)), { fingerprint, features: run.features, labels: run.labels });
      return fingerprint;
    })();
    const job: Job = { kind: 'window', fold: fold.index, spec: context.spec, baseDir: context.baseDir, workspace: context.workspace, dataFingerprint: await prepared };
    const [outcome] = (await runJobs(runner, [job], { store, progress: 'quiet' })).outcomes;
    if (!outcome.ok) throw new Error(`window ${fold.index}: ${outcome.error}`);
    return decodeValue<FoldResult>((outcome.result as WindowJobResult).fold);
  };
}
