import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../errors';
import { applyOverrides, loadSpec, parseSpec } from '../spec/spec';
import { createStudy, type Study } from '../tuning/study';
import type { FrozenTrial } from '../tuning/frozen-trial';
import { paramImportances } from '../tuning/importance';
import { intermediateValuesFigure, optimizationHistoryFigure, parallelCoordinateFigure, paramImportancesFigure, paretoFrontFigure, type StudyResults } from '../tuning/views';
import { deflatedSharpe, pathProbabilityOfBacktestOverfitting, probabilityOfBacktestOverfitting, returnMoments, type BacktestOverfitting, type DeflatedSharpe, type PathOverfitting } from '../validation/overfitting';
import { writeFileAtomic } from '../util/atomic';
import { canonicalJson, sha256Hex } from '../util/hash';
import { keyValueTable, recordsTable, renderHtmlReport } from '../report/html-report';
import type { Figure } from '../report/charts';
import { openWorkspace, workspaceStart, type WorkspaceOverrides } from '../workspace';
import { resolveRunPlan } from './run-plan';
import { createRunContext, prepareData } from './stages';
import { loadSearchSpace, parseObjectives, suggestSpace, type RunObjective, type SearchSpace } from './tune-space';
import { createPruner, createSampler, type PrunerName, type SamplerName } from './tune-choices';
import { runTrial, type TrialOutcome, type TrialRequest } from './trial-run';
import { createJobRunner, type JobRunner } from '../jobs/run-jobs';
import { jobHash, type Job } from '../jobs/job';

export type TuneOptions = {
  /** The search space file (see tune-space.ts) or a parsed space. */
  space: string | SearchSpace;
  /** Complete or pruned trials the study should have (a resumed study counts the ones it already has; failed trials are retried). */
  trials: number;
  /** Start no trial after this many seconds. */
  timeoutSec?: number;
  /** Trials in parallel, each in its own process (default 1: in this process); with `queue`, trials in flight (default 4). */
  jobs?: number;
  /** `redis://host:port[/db]`: the trials run on BullMQ workers (`candlelab worker`); the study journal must be on a path they share. */
  queue?: string;
  queueName?: string;
  /** Attempts per trial job when a worker process dies (default 2). */
  attempts?: number;
  /** `--objective` text: metric[,metric…] (see parseObjectives). */
  objective?: string;
  sampler?: SamplerName;
  pruner?: PrunerName;
  /** Default: the spec's name. */
  studyName?: string;
  /** The journal file (default: <out>/study.journal); an existing study of that name is continued. */
  storage?: string;
  /** Where the results go (default: <runs>/tune-<study>). */
  outDir?: string;
  /** `--set` overrides applied to the spec before the trial's. */
  overrides?: readonly string[];
  workspace?: WorkspaceOverrides;
  /** Seed of the sampler (default: the spec's seed). */
  seed?: number;
  log?: (line: string) => void;
  signal?: AbortSignal;
};

export type TuneResult = {
  studyName: string;
  outDir: string;
  objectives: RunObjective[];
  trials: FrozenTrial[];
  best: FrozenTrial[];
  bestSpecFile: string;
  /** Probability of backtest overfitting across the completed trials' accounts (CSCV), when there are enough. */
  overfitting?: BacktestOverfitting;
  /** Probability of backtest overfitting across the CPCV backtest paths (path × trial Sharpe matrix), for a spec with several paths. */
  pathOverfitting?: PathOverfitting;
  /** Deflated Sharpe of the best trial's account, given how many trials were tried. */
  deflatedSharpe?: DeflatedSharpe;
  importances?: Record<string, number>;
};

/**
 * `candlelab tune`: search a spec's parameters with an Optuna-style study. The parent process owns the
 * sampler (so parallel trials see each other through the constant liar) and asks each trial's
 * parameters; each trial runs in a worker process (`--jobs`) that reports intermediate values to the
 * shared journal and prunes itself; the parent tells the outcome. Writes the best parameters as a
 * ready spec, a trials table, the study journal and an HTML report with the study's views, PBO and the
 * deflated Sharpe ratio.
 */
export async function tuneSpec(specFile: string, options: TuneOptions): Promise<TuneResult> {
  const log = options.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const loaded = loadSpec(specFile, options.overrides ?? []);
  const workspace = openWorkspace(options.workspace, workspaceStart(loaded.baseDir));
  // The spec resolved once into its plan (the trials vary it, each resolving its own spec once).
  const context = createRunContext(loaded, { workspace: { ...options.workspace, root: workspace.root }, progress: 'quiet', log });
  const { plan, registry } = context;
  // Downloads (the exchange source) happen once, before any trial reads the data.
  await prepareData(context);
  const space = typeof options.space === 'string' ? loadSearchSpace(options.space) : options.space;
  const objectives = parseObjectives(options.objective, { validated: !!plan.validation, task: plan.label.definition.task, severalPaths: plan.validation?.definition.severalPaths });
  if (!plan.validation && objectives.some((o) => o.path.startsWith('backtest.'))) {
    log(`warning: the objective reads the test segment's backtest; selecting on it overfits the test segment. Add a "validation" section (walk-forward) to tune on out-of-sample windows.`);
  }
  const rawSpec = applyOverrides(JSON.parse(fs.readFileSync(loaded.file, 'utf8')), options.overrides ?? []);
  // Every path of the space must be a spec field its plugin accepts: resolve the spec with each bound now, not after a trial.
  for (const [name, spec] of Object.entries(space)) {
    for (const sample of spec.type === 'categorical' ? spec.choices : [spec.low, spec.high]) {
      try {
        resolveRunPlan(parseSpec(applyOverrides(rawSpec, [`${name}=${JSON.stringify(sample)}`])), registry, { baseDir: loaded.baseDir, dataDir: workspace.dataDir });
      } catch (error) {
        throw new ConfigError(`space entry '${name}' = ${JSON.stringify(sample)}: ${(error as Error).message}`);
      }
    }
  }
  const studyName = options.studyName ?? loaded.spec.name;
  const outDir = path.resolve(options.outDir ?? path.join(workspace.runsDir, `tune-${studyName}`));
  fs.mkdirSync(path.join(outDir, 'returns'), { recursive: true });
  const storage = path.resolve(options.storage ?? path.join(outDir, 'study.journal'));
  const seed = options.seed ?? loaded.spec.seed;
  const samplerName = options.sampler ?? (objectives.length > 1 ? 'nsga2' : 'tpe');
  const prunerName: PrunerName = objectives.length > 1 ? 'none' : (options.pruner ?? 'median');
  const study = createStudy({
    directions: objectives.map((o) => o.direction),
    sampler: createSampler(samplerName, space, seed),
    pruner: createPruner(prunerName),
    storage,
    studyName,
    seed,
    loadIfExists: true,
  });
  // A study continues only with the spec, space and objectives it was made with: its trials' values
  // would mean something else otherwise.
  const identity = sha256Hex(canonicalJson({ spec: loaded.spec, space, objectives }));
  const identityFile = path.join(path.dirname(storage), `${path.basename(storage)}.${studyName}.identity`);
  if (fs.existsSync(identityFile) && fs.readFileSync(identityFile, 'utf8').trim() !== identity && study.trials.length > 0) {
    throw new ConfigError(`study '${studyName}' in ${storage} was made for another spec, space or objective; pass --study <new name> (or --out <new folder>) to start a new study`);
  }
  writeFileAtomic(identityFile, identity + '\n');
  const jobs = Math.max(1, options.jobs ?? (options.queue ? 4 : 1));
  // The target counts trials that ran to the end (complete or pruned); failed ones are retried, up to
  // as many failures in this call as trials asked for, so a spec that always fails stops.
  const finishedCount = () => study.getTrials(['COMPLETE', 'PRUNED']).length;
  const failedBefore = study.getTrials(['FAIL']).length;
  const failedNow = () => study.getTrials(['FAIL']).length - failedBefore;
  const already = finishedCount();
  if (already) log(`tune: continuing study '${studyName}' (${already} finished trials in ${path.relative(process.cwd(), storage) || storage})`);
  log(`tune: ${options.trials} trials of ${Object.keys(space).length} params, ${samplerName} sampler, ${prunerName} pruner, ${jobs} job(s); objective ${objectives.map((o) => `${o.name} (${o.direction})`).join(', ')}`);

  const runner = options.queue || jobs > 1 ? await createJobRunner({ jobs: options.queue ? undefined : jobs, queue: options.queue, queueName: options.queueName, attempts: options.attempts, log }) : undefined;
  // Stopping drops trial jobs not yet started (for BullMQ: removed from Redis); they count as failed and are retried on resume.
  const onAbort = () => void runner?.cancel();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const started = Date.now();
  const inFlight = new Set<Promise<void>>();
  const mayStart = () =>
    !options.signal?.aborted &&
    finishedCount() + inFlight.size < options.trials &&
    failedNow() < Math.max(3, options.trials) &&
    (options.timeoutSec === undefined || (Date.now() - started) / 1000 < options.timeoutSec) &&
    !(study.sampler.isExhausted?.(study) ?? false);
  const runOne = async (): Promise<void> => {
    const trial = study.ask();
    const { params, overrides } = suggestSpace(trial, space, rawSpec);
    const request: TrialRequest = {
      specFile: loaded.file,
      overrides: [...(options.overrides ?? []), ...overrides],
      workspace: { ...options.workspace, root: workspace.root },
      objectives,
      study: { storage, studyName, trialNumber: trial.number, pruner: prunerName, seed },
    };
    const outcome = await (runner ? runTrialJob(runner, { kind: 'trial', request, workspace }) : runTrial(request));
    const finished =
      outcome.state === 'COMPLETE' ? study.tell(trial, objectives.length === 1 ? outcome.values[0] : outcome.values)
      : outcome.state === 'PRUNED' ? study.tell(trial, 'PRUNED')
      : study.tell(trial, 'FAIL', outcome.error);
    if (outcome.state === 'COMPLETE' && outcome.returns) {
      writeFileAtomic(path.join(outDir, 'returns', `${trial.number}.f64`), new Uint8Array(Float64Array.from(outcome.returns).buffer));
    }
    if (outcome.state === 'COMPLETE' && outcome.pathSharpes) {
      writeFileAtomic(path.join(outDir, 'returns', `${trial.number}.paths.json`), JSON.stringify(outcome.pathSharpes) + '\n');
    }
    progressLine(log, study, finished, params, outcome, options.trials, started);
  };
  try {
    while (mayStart()) {
      const job = runOne().finally(() => inFlight.delete(job));
      inFlight.add(job);
      if (inFlight.size >= jobs) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    await runner?.close();
  }
  return writeTuneResults(study, { outDir, objectives, rawSpec, baseFile: loaded.file, log });
}

/** One line per finished trial: n/N, its outcome, the best so far, pruned and failed counts. */
function progressLine(log: (line: string) => void, study: Study, finished: FrozenTrial, params: Record<string, unknown>, outcome: TrialOutcome, total: number, started: number): void {
  const all = study.getTrials(['COMPLETE', 'PRUNED', 'FAIL']);
  const pruned = all.filter((t) => t.state === 'PRUNED').length;
  const failed = all.filter((t) => t.state === 'FAIL').length;
  let best = '';
  if (study.directions.length === 1 && all.some((t) => t.state === 'COMPLETE')) best = `best ${format(study.bestValue)} (trial ${study.bestTrial.number})`;
  else if (study.directions.length > 1) best = `Pareto front ${study.bestTrials.length}`;
  const what =
    outcome.state === 'COMPLETE' ? `value ${outcome.values.map(format).join(', ')}`
    : outcome.state === 'PRUNED' ? `pruned at step ${outcome.step ?? '?'}`
    : `failed: ${outcome.error}`;
  const shown = Object.entries(params).map(([k, v]) => `${k.split('.').pop()}=${typeof v === 'number' ? format(v) : JSON.stringify(v)}`).join(' ');
  log(`trial ${all.length}/${total} #${finished.number} ${what} · ${best} · ${pruned} pruned, ${failed} failed · ${((Date.now() - started) / 1000).toFixed(0)} s · ${shown}`);
}

function format(x: number): string {
  return Math.abs(x) >= 1000 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(3) : Number(x.toPrecision(5)).toString();
}

/** A trial as a job (local worker process or BullMQ worker); a job that could not run is a failed trial. */
async function runTrialJob(runner: JobRunner, job: Extract<Job, { kind: 'trial' }>): Promise<TrialOutcome> {
  const outcome = await runner.run(job, jobHash(job));
  return outcome.ok ? (outcome.result as TrialOutcome) : { state: 'FAIL', error: outcome.error };
}

const CSCV_METHOD = "CSCV (combinatorially symmetric cross-validation) over the completed trials' stitched out-of-sample accounts, cut into blocks";
const CPCV_PATHS_METHOD =
  'across the CPCV backtest paths (López de Prado): per path, the trial with the best mean Sharpe over the other paths (in sample) ranked by its Sharpe on that path (out of sample); PBO = share of paths where it ranks at or below the median';

/** Write the best spec, trials.csv, summary.json and report.html; compute PBO, the deflated Sharpe and importances. */
function writeTuneResults(study: Study, context: { outDir: string; objectives: RunObjective[]; rawSpec: unknown; baseFile: string; log: (line: string) => void }): TuneResult {
  const { outDir, objectives } = context;
  const trials = [...study.trials];
  const complete = trials.filter((t) => t.state === 'COMPLETE');
  if (complete.length === 0) {
    const reasons = [...new Set(trials.filter((t) => t.state === 'FAIL').map((t) => String(t.systemAttrs.fail_reason ?? 'unknown')))].slice(0, 3);
    throw new ConfigError(`no trial completed (${trials.length} trials: ${trials.filter((t) => t.state === 'PRUNED').length} pruned, ${trials.filter((t) => t.state === 'FAIL').length} failed${reasons.length ? `: ${reasons.join('; ')}` : ''}); check the spec and the space`);
  }
  const best = study.directions.length === 1 ? [study.bestTrial] : study.bestTrials;
  // the best trial's parameters on the base spec: a spec ready for candlelab run
  const bestOverrides = Object.entries(best[0].params).map(([name, value]) => `${name}=${JSON.stringify(value)}`);
  const bestSpec = applyOverrides(context.rawSpec, bestOverrides) as Record<string, unknown>;
  parseSpec(bestSpec, 'the best spec');
  const bestSpecFile = path.join(outDir, 'best-spec.json');
  writeFileAtomic(bestSpecFile, JSON.stringify(rebaseDataPath(bestSpec, context.baseFile, outDir), null, 2) + '\n');

  // PBO across the trials' accounts (same bars: aligned on the common tail) and the best's deflated Sharpe
  const returns = new Map<number, Float64Array>();
  for (const t of complete) {
    const file = path.join(outDir, 'returns', `${t.number}.f64`);
    if (fs.existsSync(file)) {
      const bytes = fs.readFileSync(file);
      returns.set(t.number, new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)));
    }
  }
  let overfitting: BacktestOverfitting | undefined;
  let deflated: DeflatedSharpe | undefined;
  if (returns.size >= 2) {
    const length = Math.min(...[...returns.values()].map((r) => r.length));
    const aligned = [...returns.values()].map((r) => r.subarray(r.length - length));
    const blocks = Math.min(16, 2 * Math.floor(length / 64));
    if (blocks >= 2) overfitting = probabilityOfBacktestOverfitting(aligned, blocks);
    const sharpes = aligned.map((r) => {
      const m = returnMoments(r);
      return m.std > 0 ? m.mean / m.std : 0;
    });
    const mean = sharpes.reduce((a, b) => a + b, 0) / sharpes.length;
    const variance = sharpes.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, sharpes.length - 1);
    const bestReturns = returns.get(best[0].number);
    if (bestReturns) deflated = deflatedSharpe(bestReturns, returns.size, variance);
  }
  // PBO across the CPCV paths: each trial's Sharpe on every backtest path (path × trial matrix)
  let pathOverfitting: PathOverfitting | undefined;
  const pathSharpes = new Map<number, number[]>();
  for (const t of complete) {
    const file = path.join(outDir, 'returns', `${t.number}.paths.json`);
    if (fs.existsSync(file)) pathSharpes.set(t.number, (JSON.parse(fs.readFileSync(file, 'utf8')) as Array<number | null>).map((v) => (v === null ? NaN : v)));
  }
  const pathCounts = new Set([...pathSharpes.values()].map((s) => s.length));
  if (pathSharpes.size >= 2 && pathCounts.size === 1 && [...pathCounts][0] >= 2) {
    const columns = [...pathSharpes.values()];
    const matrix = columns[0].map((_, p) => columns.map((c) => c[p]));
    try {
      pathOverfitting = pathProbabilityOfBacktestOverfitting(matrix);
    } catch {
      pathOverfitting = undefined; // fewer than 2 trials with a finite Sharpe on every path
    }
  }
  const directions = study.directions;
  let importances: Record<string, number> | undefined;
  try {
    if (complete.length >= 2) importances = paramImportances(trials, directions, directions.length > 1 ? { target: (t) => t.values![0] } : {});
  } catch {
    importances = undefined; // a space of one constant parameter has nothing to rank
  }

  const paramNames = [...new Set(trials.flatMap((t) => Object.keys(t.params)))];
  const header = ['number', 'state', ...objectives.map((o) => o.name), ...paramNames, 'duration_s'];
  const rows = trials.map((t) => [
    t.number,
    t.state,
    ...objectives.map((_, i) => (t.values ? t.values[i] : '')),
    ...paramNames.map((name) => (name in t.params ? JSON.stringify(t.params[name]) : '')),
    t.datetimeStart && t.datetimeComplete ? (Date.parse(t.datetimeComplete) - Date.parse(t.datetimeStart)) / 1000 : '',
  ]);
  writeFileAtomic(path.join(outDir, 'trials.csv'), [header, ...rows].map((r) => r.map(csvCell).join(',')).join('\n') + '\n');

  const summary = {
    studyName: study.studyName,
    objectives,
    trials: { total: trials.length, complete: complete.length, pruned: trials.filter((t) => t.state === 'PRUNED').length, failed: trials.filter((t) => t.state === 'FAIL').length },
    best: best.map((t) => ({ number: t.number, values: t.values, params: t.params })),
    bestSpec: 'best-spec.json',
    ...(overfitting ? { probabilityOfBacktestOverfitting: { method: CSCV_METHOD, pbo: overfitting.pbo, blocks: overfitting.blocks, splits: overfitting.splits } } : {}),
    ...(pathOverfitting ? { pathProbabilityOfBacktestOverfitting: { method: CPCV_PATHS_METHOD, pbo: pathOverfitting.pbo, paths: pathOverfitting.paths, trials: pathOverfitting.trials, logits: pathOverfitting.logits, chosenTrials: pathOverfitting.chosen.map((c) => [...pathSharpes.keys()][c]) } } : {}),
    ...(deflated ? { deflatedSharpe: deflated } : {}),
    ...(importances ? { importances, importanceMethod: "mean decrease in impurity over a seeded random forest (Optuna's MeanDecreaseImpurityImportanceEvaluator, not fANOVA; see tuning/importance.ts)" } : {}),
  };
  writeFileAtomic(path.join(outDir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');

  const results: StudyResults = { trials, directions, studyName: study.studyName };
  const figures: Figure[] = [];
  const targetName = objectives.map((o) => o.name);
  if (directions.length === 1) {
    figures.push(optimizationHistoryFigure(results, { targetName: targetName[0] }));
    if (trials.some((t) => Object.keys(t.intermediateValues).length)) figures.push(intermediateValuesFigure(results));
    figures.push(parallelCoordinateFigure(results, { targetName: targetName[0] }));
  } else {
    figures.push(optimizationHistoryFigure(results, { target: (t) => t.values![0], targetName: targetName[0] }));
    figures.push(parallelCoordinateFigure(results, { target: (t) => t.values![0], targetName: targetName[0] }));
    if (directions.length === 2) figures.push(paretoFrontFigure(results, { targetNames: [targetName[0], targetName[1]] }));
  }
  if (importances) figures.push(paramImportancesFigure(results, directions.length > 1 ? { target: (t) => t.values![0] } : {}));
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const html = renderHtmlReport(`candlelab tune ${study.studyName}`, [
    {
      title: 'Study',
      html: keyValueTable([
        ['objective', objectives.map((o) => `${o.name} (${o.direction}; ${o.path})`).join(', ')],
        ['trials', `${summary.trials.total}: ${summary.trials.complete} complete, ${summary.trials.pruned} pruned, ${summary.trials.failed} failed`],
        ['best', best.map((t) => `#${t.number}: ${t.values?.map(format).join(', ')} — ${JSON.stringify(t.params)}`).join('<br>')],
        [
          'probability of backtest overfitting',
          overfitting ? `${pct(overfitting.pbo)} (CSCV over ${returns.size} trials' accounts, ${overfitting.blocks} blocks, ${overfitting.splits} splits; above 50% the in-sample winner is worse than the median out of sample)` : 'needs 2+ completed trials',
        ],
        ...(pathOverfitting
          ? ([['probability of backtest overfitting across the CPCV paths', `${pct(pathOverfitting.pbo)} (${CPCV_PATHS_METHOD}; ${pathOverfitting.paths} paths, ${pathOverfitting.trials} trials)`]] as Array<[string, string]>)
          : []),
        ['deflated Sharpe of the best trial', deflated ? `P(true Sharpe > ${deflated.benchmark.toFixed(4)} per bar, the expected best of ${deflated.trials} skill-less trials) = ${deflated.probability.toFixed(3)}` : 'needs 2+ completed trials'],
        ['best spec', 'best-spec.json (run it with candlelab run)'],
      ]),
      figures,
    },
    { title: 'Trials', html: recordsTable(trials.map((t) => ({ trial: t.number, state: t.state, ...Object.fromEntries(objectives.map((o, i) => [o.name, t.values?.[i] ?? ''])), ...t.params }))) },
  ]);
  writeFileAtomic(path.join(outDir, 'report.html'), html);
  return { studyName: study.studyName, outDir, objectives, trials, best, bestSpecFile, overfitting, pathOverfitting, deflatedSharpe: deflated, importances };
}

/** The best spec lives in the tune folder: a relative data file path is rewritten so it still points at the same file. */
function rebaseDataPath(spec: Record<string, unknown>, baseFile: string, outDir: string): Record<string, unknown> {
  const data = spec.data as { source?: string; path?: string } | undefined;
  if (data?.source !== 'file' || !data.path || path.isAbsolute(data.path)) return spec;
  const absolute = path.resolve(path.dirname(baseFile), data.path);
  return { ...spec, data: { ...data, path: path.relative(outDir, absolute) } };
}

function csvCell(value: unknown): string {
  const text = String(value);
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
