import type { Candles } from '../frame/frame';
import type { RunContext } from '../runner/stages';
import { dataFingerprint } from '../runner/stages';
import type { FoldResult, RemoteFolds } from '../runner/validation-run';
import { decodeValue, jobHash, type Job, type WindowJobResult } from './job';
import { jobResultsDir, openResultStore } from './result-store';
import type { JobRunner } from './run-jobs';

/**
 * Walk-forward windows (any validated run's folds) as jobs: each fold before the last is a window job
 * on the runner (local processes or BullMQ), stored under its hash like every job result, so running
 * the same spec again reuses the windows already fitted. The run fits the last window itself and keeps
 * its model. Results are those of fitting the folds one after another in this process.
 */
export function remoteWindows(runner: JobRunner, context: RunContext, options: { onWindow?: (fold: number, reused: boolean) => void } = {}): RemoteFolds {
  const store = openResultStore(jobResultsDir(context.workspace.cacheDir));
  let fingerprint: { candles: Candles; value: string } | undefined;
  return async (fold, candles) => {
    if (fingerprint?.candles !== candles) fingerprint = { candles, value: dataFingerprint(candles) };
    const { workspace } = context;
    const job: Job = {
      kind: 'window',
      fold: fold.index,
      spec: context.spec,
      baseDir: context.baseDir,
      workspace: { ...workspace },
      dataFingerprint: fingerprint.value,
    };
    const hash = jobHash(job);
    const found = store.get(hash);
    let result = found as WindowJobResult | undefined;
    if (result === undefined) {
      const outcome = await runner.run(job, hash);
      if (!outcome.ok) throw new Error(`window ${fold.index}: ${outcome.error}`);
      store.put(hash, outcome.result);
      result = outcome.result as WindowJobResult;
    }
    options.onWindow?.(fold.index, found !== undefined);
    return decodeValue<FoldResult>(result.fold);
  };
}
