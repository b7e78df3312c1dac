import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, didYouMean } from '../errors';
import { readArrowFile } from '../data/arrow-file';
import { valueChanges } from '../registry/model-registry';
import { valueAt } from './tune-space';
import { writeFileAtomic } from '../util/atomic';
import { escapeHtml, formatValue, recordsTable, renderHtmlReport } from '../report/html-report';
import { periodWinners } from '../report/prediction-sections';
import type { RunRecord } from './run-record';

/** A run folder as `compare` reads it: run.json and the equity series from backtest.arrow. */
export type ComparedRun = { id: string; dir: string; record: RunRecord; time: Float64Array; equity: Float64Array };

/**
 * Resolve a run named by id (a folder under the runs dir) or by the path of its folder; an unknown name
 * fails naming the runs dir and the nearest id.
 */
export function resolveRunDir(name: string, runsDir: string): string {
  const candidates = [path.resolve(name), path.join(runsDir, name)];
  for (const dir of candidates) if (fs.existsSync(path.join(dir, 'run.json'))) return dir;
  const ids = fs.existsSync(runsDir) ? fs.readdirSync(runsDir).filter((id) => fs.existsSync(path.join(runsDir, id, 'run.json'))) : [];
  throw new ConfigError(
    `run '${name}' not found: no run.json in ${path.join(runsDir, name)}${didYouMean(name, ids)}; name a run by its id (a folder of ${runsDir}, ${ids.length} there) or its folder path`,
  );
}

export function readComparedRun(dir: string): ComparedRun {
  let record: RunRecord;
  try {
    record = JSON.parse(fs.readFileSync(path.join(dir, 'run.json'), 'utf8')) as RunRecord;
  } catch (error) {
    throw new ConfigError(`${path.join(dir, 'run.json')} is not readable run JSON (${(error as Error).message}); re-run the spec`);
  }
  if ((record as { coins?: unknown }).coins) throw new ConfigError(`${dir} is a multi-coin run; compare takes single-coin runs for now (its report.html has the per-coin table and the portfolio)`);
  if (!record.runId || !record.metrics?.backtest) throw new ConfigError(`${dir} is not a candlelab run folder (run.json has no runId/metrics); compare takes 'candlelab run' folders`);
  const series = readArrowFile(path.join(dir, 'backtest.arrow'));
  return { id: record.runId, dir, record, time: series.time, equity: series.column('equity') };
}

/** Spec leaves that differ between any of the runs, with each run's value ('—' where absent). */
export function specDifferences(specs: readonly unknown[]): Array<{ path: string; values: unknown[] }> {
  const paths = [...new Set(specs.slice(1).flatMap((spec) => valueChanges(specs[0], spec).map((c) => c.path)))].sort();
  return paths.map((p) => ({ path: p, values: specs.map((spec) => valueAt(spec, p)) }));
}

const pct = (x: number | null | undefined): string => (x === null || x === undefined || !Number.isFinite(x) ? '—' : `${(100 * x).toFixed(2)}%`);

/** Each run's return per calendar period from its equity (period end over the previous period's end). */
export function runPeriodWinners(runs: readonly ComparedRun[]): ReturnType<typeof periodWinners> {
  // one time axis: every bar time of any run; a run's step return is 0 where it has no bar
  const times = [...new Set(runs.flatMap((r) => Array.from(r.time)))].sort((a, b) => a - b);
  const index = new Map(times.map((t, i) => [t, i]));
  const series = runs.map((run, k) => {
    const returns = new Float64Array(times.length).fill(NaN);
    for (let i = 1; i < run.time.length; i++) returns[index.get(run.time[i])!] = run.equity[i] / run.equity[i - 1] - 1;
    return { name: `${k + 1}: ${run.id}`, returns };
  });
  return periodWinners(times, series);
}

/** The compare page: metrics side by side, equity overlaid (as return), per-period winner, spec diff. */
export function compareRunsHtml(runs: readonly ComparedRun[]): string {
  const label = (k: number): string => `${k + 1}: ${runs[k].id}`;
  const metrics = runs.map((run, k) => {
    const r = run.record;
    const m = r.metrics.backtest;
    const test = r.metrics.classification?.test;
    const regression = r.metrics.regression?.test;
    return {
      run: label(k),
      data: `${r.data.symbol} ${r.data.timeframe}`,
      traded: `${r.strategy.segment.from.slice(0, 10)} … ${r.strategy.segment.to.slice(0, 10)}`,
      model: r.model.id,
      strategy: r.strategy.id,
      'total return': pct(m.totalReturn),
      'buy and hold': pct(m.buyHoldReturn),
      Sharpe: m.sharpe,
      'max drawdown': pct(m.maxDrawdown),
      trades: m.numTrades,
      'win rate': pct(m.winRate),
      'profit factor': m.profitFactor,
      'test accuracy': test ? pct(test.accuracy) : '—',
      'test macro F1': test ? test.macroF1 : regression ? `MAE ${formatValue(regression.mae)}` : '—',
      fingerprint: r.fingerprint.slice(0, 12),
    };
  });
  const winners = runPeriodWinners(runs);
  const winnerRows = winners.map((w) => {
    const row: Record<string, unknown> = { period: w.period };
    w.values.forEach((v) => (row[v.name] = pct(v.return)));
    row.winner = w.winner;
    return row;
  });
  const tally = runs.map((_, k) => `${escapeHtml(label(k))} ${winners.filter((w) => w.winner === label(k)).length}`).join(', ');
  const diff = specDifferences(runs.map((r) => r.record.spec));
  const diffRows = diff.map((d) => {
    const row: Record<string, unknown> = { 'spec field': d.path };
    d.values.forEach((v, k) => (row[label(k)] = v === undefined ? '—' : JSON.stringify(v)));
    return row;
  });
  return renderHtmlReport(`candlelab compare: ${runs.map((r) => r.id).join(' vs ')}`, [
    { title: 'Metrics', html: `<div data-section="compare-metrics">${recordsTable(metrics, 100)}</div><p>Each run's own traded segment; numbers from its run.json (open its report.html for the detail).</p>` },
    {
      title: 'Equity',
      html: '<p>Each run\'s account as a return on its initial cash, at bar close times (runs on different segments sit side by side in time).</p>',
      figures: [
        {
          data: runs.map((run, k) => ({ type: 'scattergl', mode: 'lines', name: label(k), x: Array.from(run.time), y: Array.from(run.equity, (e) => e / run.equity[0] - 1) })),
          layout: { margin: { l: 60, r: 20, t: 40, b: 40 }, height: 420, legend: { orientation: 'h', y: -0.15 }, title: { text: 'Equity (return on initial cash)' }, xaxis: { type: 'date', title: { text: 'time (UTC)' } }, yaxis: { title: { text: 'return' }, tickformat: '.1%' } },
        },
      ],
    },
    {
      title: 'Winner per period',
      html: `<p>Each run's account return per calendar period (periods where a run did not trade count as 0%); the winner has the highest. Periods won: ${tally}.</p><div data-section="compare-winners">${recordsTable(winnerRows, 200)}</div>`,
    },
    {
      title: 'Spec differences',
      html: diffRows.length
        ? `<div data-section="compare-spec-diff">${recordsTable(diffRows, 500)}</div>`
        : '<p data-section="compare-spec-diff">The specs are identical (differences come from the data, the code or the clock).</p>',
    },
  ]);
}

/** Compare runs into one HTML page; returns its path. Needs two or more distinct runs. */
export function compareRuns(names: readonly string[], options: { runsDir: string; out?: string }): { out: string; runs: ComparedRun[] } {
  if (names.length < 2) throw new ConfigError(`compare needs two or more runs, got ${names.length}; e.g. candlelab compare <run-id> <run-id>`);
  const dirs = names.map((name) => resolveRunDir(name, options.runsDir));
  const seen = new Set<string>();
  for (const [k, dir] of dirs.entries()) {
    if (seen.has(dir)) throw new ConfigError(`run '${names[k]}' is named twice; compare distinct runs`);
    seen.add(dir);
  }
  const runs = dirs.map(readComparedRun);
  const out = path.resolve(options.out ?? path.join(options.runsDir, 'compare', `${runs.map((r) => r.id.slice(-8)).join('-')}.html`));
  if (!/\.html?$/i.test(out)) throw new ConfigError(`--out ${out}: use an .html file name`);
  writeFileAtomic(out, compareRunsHtml(runs));
  return { out, runs };
}
