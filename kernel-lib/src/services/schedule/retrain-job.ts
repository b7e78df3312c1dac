import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, RegistryError } from '../../errors';
import { fetchCandles, type FetchCandlesResult } from '../../data/exchange/fetch-candles';
import { readStore } from '../../data/store';
import { isoTime } from '../../frame/frame';
import { ModelRegistry, type ModelVersion } from '../../registry/model-registry';
import { runSpec } from '../../runner/run-spec';
import { pick } from '../../runner/run-record';
import { backtestStrategy, createRunContext, evaluateRun, predictRows, runStrategy, type RunContext } from '../../runner/stages';
import type { RunResults } from '../../runner/run-record';
import { loadSpec, singleDataSource, type Spec } from '../../spec/spec';
import type { JobKindDefinition, JobResult, JobRunContext, JobRunner } from './job-runner';
import type { RetrainJob } from './schedule-config';

/** The outcome of comparing a candidate with production on one metric. */
export type RetrainDecision = { promote: boolean; reason: string; candidateValue: number | null; productionValue: number | null };

/** A number at a dotted path of a metrics object (arrays of named records by name), or undefined. */
export function metricAt(metrics: Record<string, unknown>, dotted: string): number | undefined {
  let node: unknown = metrics;
  for (const part of dotted.split('.')) {
    if (Array.isArray(node)) node = node.find((item) => item && typeof item === 'object' && (item as { name?: unknown }).name === part) ?? node[Number(part)];
    else if (node && typeof node === 'object') node = (node as Record<string, unknown>)[part];
    else return undefined;
  }
  return typeof node === 'number' ? node : undefined;
}

/** Numeric metric paths of a version, for "the metric does not exist" errors. */
function metricPaths(value: unknown, prefix = '', out: string[] = []): string[] {
  if (typeof value === 'number' && prefix) out.push(prefix);
  else if (value && typeof value === 'object' && !Array.isArray(value)) {
    for (const [key, item] of Object.entries(value)) metricPaths(item, prefix ? `${prefix}.${key}` : key, out);
  }
  return out;
}

/**
 * Decide on a candidate: no production version → promote; else the candidate must beat production by
 * more than `margin` in the declared direction. A NaN candidate value never wins.
 */
export function decidePromotion(compare: RetrainJob['compare'], candidate: ModelVersion, production: ModelVersion | undefined): RetrainDecision {
  const candidateValue = metricAt(candidate.metrics, compare.metric);
  if (candidateValue === undefined) {
    // the headline groups first (backtest, walk-forward), per-class numbers left out
    const order = (p: string): number => ['backtest.', 'validation.', 'valid.', 'test.'].findIndex((prefix) => p.startsWith(prefix)) >>> 0;
    const all = metricPaths(candidate.metrics).filter((p) => !p.includes('perClass') && !p.includes('flags'));
    const known = all.sort((a, b) => order(a) - order(b)).slice(0, 16);
    throw new ConfigError(`compare.metric '${compare.metric}' is not a number in ${candidate.name} v${candidate.version}'s metrics; use one of: ${known.join(', ')}${all.length > known.length ? ', …' : ''}`);
  }
  if (!production) return { promote: true, reason: 'no production version yet', candidateValue, productionValue: null };
  const productionValue = metricAt(production.metrics, compare.metric);
  const name = compare.metric;
  if (productionValue === undefined || Number.isNaN(productionValue)) {
    return { promote: false, reason: `production v${production.version} has no ${name}; compare by hand (candlelab registry compare)`, candidateValue, productionValue: productionValue ?? null };
  }
  if (Number.isNaN(candidateValue)) return { promote: false, reason: `candidate ${name} is NaN`, candidateValue, productionValue };
  const better = compare.direction === 'higher' ? candidateValue > productionValue + compare.margin : candidateValue < productionValue - compare.margin;
  const sign = compare.direction === 'higher' ? '>' : '<';
  const bound = compare.direction === 'higher' ? productionValue + compare.margin : productionValue - compare.margin;
  const margin = compare.margin ? ` (production ${fmt(productionValue)} ${compare.direction === 'higher' ? '+' : '−'} margin ${compare.margin})` : '';
  return better
    ? { promote: true, reason: `${name} ${fmt(candidateValue)} ${sign} ${fmt(bound)}${margin}`, candidateValue, productionValue }
    : { promote: false, reason: `${name} ${fmt(candidateValue)} is not ${sign} ${fmt(bound)}${margin}`, candidateValue, productionValue };
}

/** Five significant digits, no trailing zeros (0.3, 1.2, 0.51234). */
const fmt = (x: number): string => (Number.isFinite(x) ? String(Number(x.toPrecision(5))) : String(x));

/** The registry name a spec's model is registered under (as defaultModelName, before the data is loaded). */
function expectedModelName(context: RunContext): string {
  const { spec } = context;
  const data = singleDataSource(spec, 'a retrain job');
  return spec.model.name ?? `${spec.name}-${data.symbol}-${data.timeframe}`.replace(/[^\w.-]+/g, '-');
}

/** The production version of `name`, or undefined (no such model, or none in production). */
function productionVersion(registry: ModelRegistry, name: string): ModelVersion | undefined {
  if (!registry.names().includes(name)) return undefined;
  return registry.list(name).find((v) => v.stage === 'production');
}

/** What a retrain needs of its spec: registration on, and store data when it refreshes. */
function checkRetrainSpec(job: RetrainJob, spec: Spec): void {
  if (!spec.register) throw new ConfigError(`job '${job.name}': spec ${job.spec} has "register": false; a retrain job needs its model registered, remove that field`);
  const data = singleDataSource(spec, `job '${job.name}'`);
  if (job.refresh !== false && data.source !== 'store') {
    throw new ConfigError(`job '${job.name}': refresh needs a spec whose data.source is "store" (it is "${data.source}"); set "refresh": false or point the spec at the store`);
  }
}

/** Bring the spec's store data up to date (only what the store lacks is downloaded). */
async function refreshData(job: RetrainJob, context: RunContext, run: JobRunContext): Promise<FetchCandlesResult> {
  const refresh = job.refresh || {};
  const data = singleDataSource(context.spec, `job '${job.name}'`);
  if (data.source !== 'store') throw new ConfigError(`job '${job.name}': refresh needs store data`); // checked by checkRetrainSpec
  const stored = readStore({ exchange: data.exchange, market: data.market, symbol: data.symbol, timeframe: data.timeframe }, run.workspace.dataDir);
  const from = data.start ?? (stored && stored.length ? isoTime(stored.time[0]) : undefined);
  if (from === undefined) {
    throw new ConfigError(`job '${job.name}': refresh does not know where the data starts (the store has none and the spec has no data.start); set data.start in the spec`);
  }
  return fetchCandles({
    exchange: refresh.exchange ?? data.exchange,
    market: data.market,
    symbol: data.symbol,
    timeframe: data.timeframe,
    from,
    ...(data.end ? { to: data.end } : {}),
    ...(refresh.apiUrl ? { apiUrl: refresh.apiUrl } : {}),
    dataDir: run.workspace.dataDir,
    progress: 'quiet',
  });
}

/**
 * One retrain: refresh the data (when asked) → run the spec through the runner (walk-forward when the
 * spec has `validation`; the model is registered as staging) → compare with production on the declared
 * metric → promote, or keep the candidate in staging. The alert carries both values, versions and why.
 */
export const runRetrainJob: JobRunner<RetrainJob> = async (job, run): Promise<JobResult> => {
  const specFile = path.resolve(run.schedule.baseDir, job.spec);
  const workspace = { root: run.workspace.root, dataDir: run.workspace.dataDir, modelsDir: run.workspace.modelsDir, runsDir: run.workspace.runsDir };
  // validate the spec and resolve its plugins before anything is downloaded or trained
  const context = createRunContext(specFile, { overrides: job.set, workspace, log: run.log });
  checkRetrainSpec(job, context.spec);
  const notes: string[] = [];

  if (job.refresh !== false) {
    const fetched = await refreshData(job, context, run);
    notes.push(`data refreshed: ${fetched.added} new candles (${fetched.total} stored)`);
  }

  const registry = new ModelRegistry(run.workspace.modelsDir, { clock: run.now });
  const expectedName = expectedModelName(context);
  const overrides = [...job.set];
  if (job.warmStart) {
    const production = productionVersion(registry, expectedName);
    const model = context.plan.model.definition;
    if (!production) {
      notes.push('warm start not applied: no production version to continue from');
    } else if (production.modelId !== model.id) {
      notes.push(`warm start not applied: production v${production.version} is ${production.modelId}, the spec trains ${model.id}`);
    } else {
      const folder = registry.artifactDir(expectedName, production.version);
      // a model supports warm start when its params declare `initModel` (e.g. core/xgboost): declared, not guessed from the id
      const probe = model.params.safeParse({ ...((context.spec.model.params as object) ?? {}), initModel: folder });
      if (probe.success && (probe.data as { initModel?: string }).initModel) {
        overrides.push(`model.params.initModel=${JSON.stringify(folder)}`);
        notes.push(`warm start from production v${production.version}`);
      } else {
        notes.push(`warm start not applied: model ${model.id} has no initModel param`);
      }
    }
  }

  const { record, results } = await runSpec(specFile, { overrides, workspace, clock: run.now, progress: 'quiet', log: run.log });
  const registered = record.model.registered;
  if (!registered) throw new RegistryError(`job '${job.name}': run ${record.runId} registered no model; the spec must keep "register": true`);
  const candidate = registry.get(registered.name, registered.version);
  const production = productionVersion(registry, registered.name);
  // production re-scored on the candidate's test rows when that is fair, so both are judged on the same data
  const rescored = production ? await rescoreProduction(registry, production, results, context, workspace.runsDir) : undefined;
  if (rescored?.note) notes.push(rescored.note);
  const decision = decidePromotion(job.compare, candidate, production && rescored?.metrics ? { ...production, metrics: rescored.metrics } : production);
  if (decision.promote) registry.promote(registered.name, registered.version, 'production');

  const versions = `${registered.name} v${registered.version}` + (production ? ` vs production v${production.version}` : '');
  const values = `${job.compare.metric}: candidate ${show(decision.candidateValue)}, production ${show(decision.productionValue)}`;
  const outcome = decision.promote ? 'promoted' : 'kept';
  const title = decision.promote
    ? `${job.name}: promoted ${registered.name} v${registered.version} to production`
    : `${job.name}: kept production${production ? ` v${production.version}` : ''}; ${registered.name} v${registered.version} stays in staging`;
  const text = [title, versions, values, `reason: ${decision.reason}`, `run: ${record.runId}`, ...notes].join('\n');
  return {
    outcome,
    details: {
      runId: record.runId,
      model: registered.name,
      candidate: registered.version,
      production: production?.version ?? null,
      metric: job.compare.metric,
      candidateValue: decision.candidateValue,
      productionValue: decision.productionValue,
      reason: decision.reason,
      ...(notes.length ? { notes } : {}),
    },
    alert: { kind: decision.promote ? 'promotion' : 'schedule', title, text, at: run.now().toISOString(), source: `schedule ${job.name}` },
  };
};

const show = (x: number | null): string => (x === null ? '—' : fmt(x));

/**
 * Production's metrics on the candidate's own test rows (same candles, features, labels, strategy and
 * backtest settings; only the model differs), so a refresh that moved the test window does not compare
 * two different periods. Done only when it is fair and possible: a chronological spec, the same feature
 * columns, and a production model that saw nothing of that window in training or early stopping (its run's
 * validation segment ends before the candidate's test segment starts). Otherwise the versions' recorded
 * metrics are compared, and the note says why.
 */
async function rescoreProduction(
  registry: ModelRegistry,
  production: ModelVersion,
  results: RunResults,
  // the job's spec resolved (its strategy and backtest settings are the candidate's: only the model differs)
  context: RunContext,
  runsDir: string,
): Promise<{ metrics?: Record<string, unknown>; note: string }> {
  const recorded = `compared with production v${production.version}'s recorded metrics`;
  if (results.validation) return { note: `${recorded} (a walk-forward candidate is judged on its windows; production's earlier windows overlap its training data)` };
  const split = results.split;
  const runFile = path.join(runsDir, production.runId, 'run.json');
  let productionSplit: { valid: { to: string } } | undefined;
  try {
    productionSplit = (JSON.parse(fs.readFileSync(runFile, 'utf8')) as { split?: { valid: { to: string } } }).split;
  } catch {
    return { note: `${recorded} (its run ${production.runId} is not in ${runsDir})` };
  }
  if (!productionSplit?.valid?.to) return { note: `${recorded} (its run is a validated run)` };
  if (Date.parse(productionSplit.valid.to) > Date.parse(split.test.from)) {
    return { note: `${recorded} (it trained and early-stopped on data up to ${productionSplit.valid.to}, inside the candidate's test window from ${split.test.from})` };
  }
  if (production.featureNames.join('\u0000') !== results.features.names.join('\u0000')) return { note: `${recorded} (its features differ from the spec's)` };
  const model = await registry.loadModel(production.name, { version: production.version }, { plugins: context.registry });
  try {
    const predictions = await predictRows(model, results.features, split);
    const evaluation = evaluateRun(predictions, results.labels, split);
    const backtest = backtestStrategy(context, results.candles, runStrategy(context, results.candles, results.features, predictions, split));
    return {
      metrics: { test: pick(evaluation, 'test'), valid: pick(evaluation, 'valid'), backtest: backtest.report.metrics },
      note: `production v${production.version} re-scored on the candidate's test window (${split.test.from} → ${split.test.to})`,
    };
  } finally {
    model.dispose();
  }
}

/** The retrain kind: its runner, and a check at scheduler start that the spec loads and suits it. */
export const retrainJobKind: JobKindDefinition<RetrainJob> = {
  run: runRetrainJob,
  check: (job, schedule) => {
    let spec: Spec;
    try {
      spec = loadSpec(path.resolve(schedule.baseDir, job.spec), job.set).spec;
    } catch (error) {
      throw new ConfigError(`job '${job.name}': ${(error as Error).message}`, { cause: error });
    }
    checkRetrainSpec(job, spec);
  },
};
