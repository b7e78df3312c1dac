import { parseSpec } from '../spec/spec';
import { canonicalJson } from '../util/hash';
import { createRunContext, type RunContext } from '../runner/stages';
import { runTrial } from '../runner/trial-run';
import { runSpec } from '../runner/run-spec';
import { SWEEP_BACKTEST_METRICS, sweepPointMetrics, windowFold } from '../runner/cached-stages';
import { encodeValue, type Job, type JobSpec, type RunJobResult, type SweepPointResult, type WindowJobResult } from './job';
import { createStageCache, stageCacheDir, type StageCache } from './stage-cache';

/**
 * Run one job in this process and give its result as JSON-safe data (typed arrays encoded). The same
 * function runs in-process, in a local worker process and on a BullMQ worker. The stage cache lives as
 * long as the process: a worker process keeps features and predictions between jobs.
 */
export async function executeJob(job: Job, caches: Map<string, StageCache> = processCaches): Promise<unknown> {
  const cacheOf = (cacheDir: string) => {
    let cache = caches.get(cacheDir);
    if (!cache) caches.set(cacheDir, (cache = createStageCache(stageCacheDir(cacheDir))));
    return cache;
  };
  switch (job.kind) {
    case 'trial': {
      return await runTrial(job.request);
    }
    case 'sweep-point': {
      const metrics = await sweepPointMetrics(jobContext(job), cacheOf(job.workspace.cacheDir), job.dataFingerprint);
      const result: SweepPointResult = { point: job.point, metrics };
      return result;
    }
    case 'window': {
      const { result, model } = await windowFold(jobContext(job), cacheOf(job.workspace.cacheDir), job.fold, job.dataFingerprint);
      model.dispose();
      const encoded: WindowJobResult = { fold: encodeValue(result) };
      return encoded;
    }
    case 'run': {
      const run = await runSpec({ spec: parseSpec(job.spec), file: '', baseDir: job.baseDir }, { workspace: job.workspace, progress: 'quiet', log: () => {} });
      const metrics = run.record.metrics.backtest as unknown as Record<string, unknown>;
      const result: RunJobResult = {
        runId: run.record.runId,
        runDir: run.runDir,
        fingerprint: run.record.fingerprint,
        metrics: Object.fromEntries(SWEEP_BACKTEST_METRICS.map((name) => [name, typeof metrics[name] === 'number' ? (metrics[name] as number) : null])),
        testAccuracy: run.record.metrics.classification?.test.accuracy ?? null,
      };
      return result;
    }
  }
}

const processCaches = new Map<string, StageCache>();

/** Run contexts this process resolved, by job spec (a few, most recent last). */
const processContexts = new Map<string, RunContext>();
const KEPT_CONTEXTS = 8;

/**
 * The run context of a job's spec: its own workspace folders, quiet. Resolved once per process: the
 * window jobs of one walk-forward run share their spec, so a worker process parses the spec and
 * resolves its plan (plugin lookups, params parsing) once, not once per fold.
 */
export function jobContext(job: JobSpec): RunContext {
  const key = canonicalJson({ spec: job.spec, baseDir: job.baseDir, workspace: job.workspace });
  let context = processContexts.get(key);
  if (context) {
    processContexts.delete(key); // most recently used last
  } else {
    context = createRunContext({ spec: parseSpec(job.spec), file: '', baseDir: job.baseDir }, { workspace: job.workspace, progress: 'quiet', log: () => {} });
    if (processContexts.size >= KEPT_CONTEXTS) processContexts.delete(processContexts.keys().next().value!);
  }
  processContexts.set(key, context);
  return context;
}
