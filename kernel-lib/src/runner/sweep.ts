import * as fs from 'node:fs';
import * as path from 'node:path';
import { Float64, Table, Utf8, tableToIPC, vectorFromArray, type Vector } from 'apache-arrow';
import { ConfigError } from '../errors';
import { applyOverrides, loadSpec, parseLooseValue, parseSpec, type LoadedSpec, type SpecInput } from '../spec/spec';
import { openWorkspace, workspaceStart, type WorkspaceOverrides } from '../workspace';
import { createRegistry } from '../plugins/core-plugin';
import { canonicalJson } from '../util/hash';
import { writeFileAtomic } from '../util/atomic';
import { SeededRng } from '../util/rng';
import { floatDistribution, intDistribution, type Distribution } from '../tuning/distributions';
import { sampleUniform } from '../tuning/samplers/random';
import { keyValueTable, recordsTable, renderHtmlReport } from '../report/html-report';
import type { Figure } from '../report/charts';
import type { ProgressMode } from '../util/progress';
import { createJobRunner, runJobs, type JobRunner, type JobRunnerOptions } from '../jobs/run-jobs';
import { jobResultsDir, openResultStore } from '../jobs/result-store';
import type { Job, SweepPointResult } from '../jobs/job';
import { resolveRunPlan } from './run-plan';
import { createRunContext, dataFingerprint, loadCandles, prepareData } from './stages';
import { splitTopLevel } from './backtest-run';

/**
 * `candlelab sweep`: one spec over a grid or a random sample of parameter values. Every point is a
 * job (jobs/): in local worker processes by default, on BullMQ workers with `--queue`. The stage cache
 * computes features and trains the model once per distinct data, features, labels and model, so a
 * sweep over strategy or backtest params only re-runs the strategy and the engine. Writes a results
 * table (results.csv and results.arrow, one row per point in point order, byte-identical however many
 * workers ran it), summary.json and report.html (a heatmap for two params, parallel coordinates beyond).
 */

export type SweepParam = { path: string; values: unknown[] } | { path: string; distribution: Distribution };

/** `--grid path=v1,v2,…` (values read as JSON when they parse, else strings). */
export function parseGridArg(text: string): SweepParam {
  const eq = text.indexOf('=');
  if (eq <= 0 || eq === text.length - 1) throw new ConfigError(`--grid ${text}: use path=v1,v2,…, e.g. --grid strategy.params.threshold=0.4,0.5,0.6`);
  const values = splitTopLevel(text.slice(eq + 1)).map((v) => parseLooseValue(v.trim()));
  if (new Set(values.map((v) => canonicalJson(v))).size !== values.length) throw new ConfigError(`--grid ${text}: a value is repeated`);
  return { path: text.slice(0, eq), values };
}

/** `--random path=low:high[:int|:log|:int-log]`: uniform draws (integers, or uniform in log space). */
export function parseRandomArg(text: string): SweepParam {
  const eq = text.indexOf('=');
  const parts = eq > 0 ? text.slice(eq + 1).split(':') : [];
  const low = Number(parts[0]);
  const high = Number(parts[1]);
  const kind = parts[2] ?? 'float';
  if (eq <= 0 || parts.length < 2 || parts.length > 3 || !Number.isFinite(low) || !Number.isFinite(high) || !['float', 'int', 'log', 'int-log'].includes(kind)) {
    throw new ConfigError(`--random ${text}: use path=low:high[:int|:log|:int-log], e.g. --random strategy.params.threshold=0.3:0.7`);
  }
  const name = text.slice(0, eq);
  const log = kind === 'log' || kind === 'int-log';
  const distribution = kind.startsWith('int') ? intDistribution(name, low, high, { log }) : floatDistribution(name, low, high, { log });
  return { path: name, distribution };
}

/** The points of a sweep, in order: the grid's product (first param slowest), or `samples` seeded random draws. */
export function sweepPoints(params: readonly SweepParam[], options: { samples?: number; seed?: number } = {}): Array<Record<string, unknown>> {
  if (params.length === 0) throw new ConfigError('a sweep needs at least one --grid or --random parameter');
  const names = params.map((p) => p.path);
  if (new Set(names).size !== names.length) throw new ConfigError(`a sweep parameter is given twice: ${names.join(', ')}`);
  const grid = params.filter((p): p is Extract<SweepParam, { values: unknown[] }> => 'values' in p);
  const random = params.filter((p): p is Extract<SweepParam, { distribution: Distribution }> => 'distribution' in p);
  if (grid.length && random.length) throw new ConfigError('use either --grid or --random in one sweep (a random sweep draws every parameter)');
  if (grid.length) {
    let points: Array<Record<string, unknown>> = [{}];
    for (const p of grid) points = points.flatMap((point) => p.values.map((value) => ({ ...point, [p.path]: value })));
    return points;
  }
  const samples = options.samples ?? 20;
  if (!Number.isInteger(samples) || samples < 1) throw new ConfigError(`--samples must be a positive integer, got ${samples}`);
  const rng = new SeededRng(options.seed ?? 42);
  return Array.from({ length: samples }, () => Object.fromEntries(random.map((p) => [p.path, sampleUniform(p.distribution, rng)])));
}

export type SweepOptions = JobRunnerOptions & {
  params: readonly SweepParam[];
  /** Random sweeps: how many points (default 20). */
  samples?: number;
  /** Random sweeps: the seed of the draws (default: the spec's seed). */
  seed?: number;
  /** `--set` overrides applied to every point. */
  overrides?: readonly string[];
  /** The metric the report's views color by (default sharpe). */
  metric?: string;
  /** Default: <runs>/sweep-<spec name>. */
  outDir?: string;
  workspace?: WorkspaceOverrides;
  /** A runner to use instead of creating one from `jobs`/`queue` (a notebook may pass createInProcessRunner()). */
  runner?: JobRunner;
  progress?: ProgressMode;
  signal?: AbortSignal;
  log?: (line: string) => void;
};

export type SweepRow = { point: number; params: Record<string, unknown>; metrics: Record<string, number | null> | null; error?: string; /** Failed points: how many attempts were made. */ attempts?: number };

export type SweepResult = {
  outDir: string;
  rows: SweepRow[];
  /** Column names of the results table. */
  columns: string[];
  files: { csv: string; arrow: string; summary: string; report: string };
  reused: number;
  computed: number;
  failed: number;
  seconds: number;
  runner: string;
  best?: SweepRow;
};

/** Run a sweep of a spec file, or of a spec object (a notebook's; relative data paths resolve from the working folder). */
export async function runSweep(source: string | SpecInput, options: SweepOptions): Promise<SweepResult> {
  const log = options.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const overrides = options.overrides ?? [];
  const loaded: LoadedSpec = typeof source === 'string' ? loadSpec(source, overrides) : { spec: parseSpec(applyOverrides(source, overrides)), file: '', baseDir: process.cwd() };
  const rawSpec = applyOverrides(typeof source === 'string' ? JSON.parse(fs.readFileSync(loaded.file, 'utf8')) : source, overrides);
  const workspace = openWorkspace(options.workspace, workspaceStart(loaded.baseDir));
  const registry = createRegistry(loaded.spec.plugins, workspace.root);
  const points = sweepPoints(options.params, { samples: options.samples, seed: options.seed ?? loaded.spec.seed });
  const metric = options.metric ?? 'sharpe';

  // Downloads (the exchange source) happen once, before any point reads the data.
  await prepareData(createRunContext(loaded, { workspace, progress: 'quiet', log: () => {} }));
  // Resolve every point now: a bad value fails in milliseconds, naming the point, before any job runs.
  const fingerprints = new Map<string, string>();
  const jobs: Job[] = points.map((params, point) => {
    const pointOverrides = Object.entries(params).map(([name, value]) => `${name}=${JSON.stringify(value)}`);
    const spec = applyOverrides(rawSpec, pointOverrides);
    let dataKey: string;
    try {
      const parsed = parseSpec(spec, `sweep point ${point}`);
      const plan = resolveRunPlan(parsed, registry, { baseDir: loaded.baseDir, dataDir: workspace.dataDir });
      dataKey = canonicalJson({ data: plan.data, missing: plan.missing ?? null });
      if (!fingerprints.has(dataKey)) {
        const context = createRunContext({ spec: parsed, file: loaded.file, baseDir: loaded.baseDir }, { workspace, progress: 'quiet', log: () => {} });
        fingerprints.set(dataKey, dataFingerprint(loadCandles(context)));
      }
    } catch (error) {
      throw new ConfigError(`sweep point ${point} (${pointOverrides.join(' ')}): ${(error as Error).message}`);
    }
    return {
      kind: 'sweep-point',
      point,
      params,
      spec,
      baseDir: loaded.baseDir,
      workspace,
      dataFingerprint: fingerprints.get(dataKey)!,
    };
  });

  const outDir = path.resolve(options.outDir ?? path.join(workspace.runsDir, `sweep-${loaded.spec.name}`));
  const runner = options.runner ?? (await createJobRunner({ ...options, log }));
  log(`sweep ${loaded.spec.name}: ${points.length} points of ${options.params.map((p) => p.path).join(', ')} on ${runner.description}`);
  let run;
  try {
    run = await runJobs(runner, jobs, { store: openResultStore(jobResultsDir(workspace.cacheDir)), label: 'sweep', progress: options.progress, signal: options.signal });
  } finally {
    await runner.close();
  }
  if (run.cancelled) {
    throw new ConfigError(`sweep cancelled: ${points.length - run.cancelled} of ${points.length} points finished and are kept; run the same command again to continue (finished points are reused)`);
  }
  const rows: SweepRow[] = jobs.map((_, i) => {
    const outcome = run.outcomes[i];
    return outcome.ok
      ? { point: i, params: points[i], metrics: (outcome.result as SweepPointResult).metrics }
      : { point: i, params: points[i], metrics: null, error: outcome.error, ...(outcome.attempts ? { attempts: outcome.attempts } : {}) };
  });
  const files = { csv: path.join(outDir, 'results.csv'), arrow: path.join(outDir, 'results.arrow'), summary: path.join(outDir, 'summary.json'), report: path.join(outDir, 'report.html') };
  const paramNames = options.params.map((p) => p.path);
  const metricNames = [...new Set(rows.flatMap((r) => (r.metrics ? Object.keys(r.metrics) : [])))];
  if (rows.some((r) => r.metrics) && !metricNames.includes(metric)) throw new ConfigError(`--metric ${metric}: not a sweep metric; use one of ${metricNames.join(', ')}`);
  const columns = ['point', ...paramNames, ...metricNames, 'error'];
  fs.mkdirSync(outDir, { recursive: true });
  writeFileAtomic(files.csv, resultsCsv(rows, paramNames, metricNames));
  writeFileAtomic(files.arrow, resultsArrow(rows, paramNames, metricNames));
  const ok = rows.filter((r) => r.metrics && r.metrics[metric] !== null && r.metrics[metric] !== undefined);
  const minimize = /drawdown|loss|rmse|mae|volatility/i.test(metric);
  const best = ok.length ? ok.reduce((a, b) => ((minimize ? b.metrics![metric]! < a.metrics![metric]! : b.metrics![metric]! > a.metrics![metric]!) ? b : a)) : undefined;
  const summary = {
    spec: loaded.file ? path.relative(outDir, loaded.file) : loaded.spec.name,
    params: options.params.map((p) => ('values' in p ? { path: p.path, grid: p.values } : { path: p.path, random: p.distribution })),
    points: points.length,
    ok: rows.length - run.failed,
    failed: run.failed,
    reused: run.reused,
    computed: run.computed,
    runner: runner.description,
    seconds: run.seconds,
    metric,
    ...(best ? { best: { point: best.point, params: best.params, [metric]: best.metrics![metric] } } : {}),
    failures: rows.filter((r) => r.error).map((r) => ({ point: r.point, params: r.params, error: r.error, attempts: r.attempts ?? null })),
  };
  writeFileAtomic(files.summary, JSON.stringify(summary, null, 2) + '\n');
  writeFileAtomic(files.report, renderHtmlReport(`candlelab sweep ${loaded.spec.name}`, [
    {
      title: 'Sweep',
      html: keyValueTable([
        ['spec', loaded.file || `${loaded.spec.name} (an object)`],
        ['points', `${points.length}: ${summary.ok} ok, ${run.failed} failed (${run.computed} computed, ${run.reused} reused)`],
        ['ran on', `${runner.description}, ${run.seconds.toFixed(1)} s`],
        ['best', best ? `point ${best.point}: ${metric} ${best.metrics![metric]} — ${JSON.stringify(best.params)}` : 'none'],
      ]),
      figures: sweepFigures(rows, options.params, metric),
    },
    { title: 'Results', html: recordsTable(rows.map((r) => ({ point: r.point, ...r.params, ...(r.metrics ?? {}), ...(r.error ? { error: r.error } : {}) })), 500) },
  ]));
  return { outDir, rows, columns, files, reused: run.reused, computed: run.computed, failed: run.failed, seconds: run.seconds, runner: runner.description, best };
}

function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'string' ? value : typeof value === 'number' ? String(value) : JSON.stringify(value);
  return /[",\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** The table as CSV: numbers in JavaScript's shortest round-trip form, so equal results give equal bytes. */
function resultsCsv(rows: readonly SweepRow[], paramNames: readonly string[], metricNames: readonly string[]): string {
  const lines = [['point', ...paramNames, ...metricNames, 'error'].map(csvCell).join(',')];
  for (const r of rows) lines.push([r.point, ...paramNames.map((n) => r.params[n]), ...metricNames.map((n) => r.metrics?.[n] ?? null), r.error ?? null].map(csvCell).join(','));
  return lines.join('\n') + '\n';
}

/** The table as an Arrow IPC file: numeric params and metrics as float64 (null where undefined), others as JSON text. */
function resultsArrow(rows: readonly SweepRow[], paramNames: readonly string[], metricNames: readonly string[]): Uint8Array {
  const columns: Record<string, Vector> = { point: vectorFromArray(rows.map((r) => r.point), new Float64()) };
  for (const name of paramNames) {
    const values = rows.map((r) => r.params[name]);
    columns[name] = values.every((v) => typeof v === 'number') ? vectorFromArray(values as number[], new Float64()) : vectorFromArray(values.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))), new Utf8());
  }
  for (const name of metricNames) columns[name] = vectorFromArray(rows.map((r) => r.metrics?.[name] ?? null), new Float64());
  columns.error = vectorFromArray(rows.map((r) => r.error ?? null), new Utf8());
  return tableToIPC(new Table(columns), 'file');
}

/** One param: the metric along it; two on a grid: a heatmap; otherwise parallel coordinates. */
export function sweepFigures(rows: readonly SweepRow[], params: readonly SweepParam[], metric: string): Figure[] {
  const ok = rows.filter((r) => r.metrics && typeof r.metrics[metric] === 'number');
  if (ok.length === 0) return [];
  const value = (r: SweepRow) => r.metrics![metric] as number;
  const label = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));
  const layout = { margin: { l: 70, r: 20, t: 40, b: 60 }, height: 420 };
  if (params.length === 1) {
    const name = params[0].path;
    const sorted = [...ok].sort((a, b) => (typeof a.params[name] === 'number' && typeof b.params[name] === 'number' ? (a.params[name] as number) - (b.params[name] as number) : 0));
    return [{ data: [{ type: 'scatter', mode: 'lines+markers', x: sorted.map((r) => label(r.params[name])), y: sorted.map(value), name: metric }], layout: { ...layout, title: { text: `${metric} by ${name}` }, xaxis: { title: { text: name } }, yaxis: { title: { text: metric } } } }];
  }
  if (params.length === 2 && params.every((p) => 'values' in p)) {
    const [xp, yp] = params as Array<Extract<SweepParam, { values: unknown[] }>>;
    const z = yp.values.map((yv) => xp.values.map((xv) => {
      const row = ok.find((r) => canonicalJson(r.params[xp.path]) === canonicalJson(xv) && canonicalJson(r.params[yp.path]) === canonicalJson(yv));
      return row ? value(row) : null;
    }));
    return [{
      data: [{ type: 'heatmap', x: xp.values.map(label), y: yp.values.map(label), z, colorscale: 'RdBu', zmid: metric === 'sharpe' || metric === 'totalReturn' ? 0 : undefined, colorbar: { title: { text: metric } }, hovertemplate: `${xp.path}=%{x}<br>${yp.path}=%{y}<br>${metric}=%{z}<extra></extra>` }],
      layout: { ...layout, title: { text: `${metric} over ${xp.path} × ${yp.path}` }, xaxis: { title: { text: xp.path }, type: 'category' }, yaxis: { title: { text: yp.path }, type: 'category' } },
    }];
  }
  const dimensions = params.map((p) => {
    const values = ok.map((r) => r.params[p.path]);
    if (values.every((v) => typeof v === 'number')) return { label: p.path, values };
    const choices = [...new Set(values.map(label))];
    return { label: p.path, values: values.map((v) => choices.indexOf(label(v))), tickvals: choices.map((_, i) => i), ticktext: choices };
  });
  const metricValues = ok.map(value);
  return [{
    data: [{ type: 'parcoords', dimensions: [...dimensions, { label: metric, values: metricValues }], line: { color: metricValues, colorscale: 'Viridis', showscale: true, colorbar: { title: { text: metric } } } }],
    layout: { ...layout, title: { text: `Parallel coordinates, colored by ${metric}` } },
  }];
}
