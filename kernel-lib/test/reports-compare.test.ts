import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, hourlyBars, listDir, ROOT, tempDir, workspaceEnv } from './helpers';
import { calendarPeriods, dashboardHorizons, periodWinners, signalRealization, type PredictionReportInput } from '../src/report/prediction-sections';
import { quickSpec } from '../src/runner/quick-spec';
import { loadSpec } from '../src/spec/spec';

const dir = tempDir('reports');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const env = workspaceEnv(dir);

type Summary = { runId: string; runDir: string; report: string; log: string };
let ensemble: Summary;
let single: Summary;
let ensembleRun: { stderr: string };

/** A section of a report: the HTML from its <h2> to the next one. */
function section(html: string, title: string): string {
  const start = html.indexOf(`<h2>${title}</h2>`);
  expect(start, `no section '${title}'`).toBeGreaterThan(0);
  const end = html.indexOf('<h2>', start + 4);
  return html.slice(start, end < 0 ? undefined : end);
}

/** The plotly figures a report embeds (the JSON the page passes to Plotly.newPlot). */
function figures(html: string): Array<{ data: Array<Record<string, unknown>>; layout: Record<string, any> }> {
  const match = /var figures = (\[.*?\]);\n/s.exec(html);
  expect(match).not.toBeNull();
  return JSON.parse(match![1]).map((f: { figure: unknown }) => f.figure);
}

beforeAll(async () => {
  // --quick keeps both runs small: 3000 bars, 20 boosting rounds per member
  const a = await cli(['run', 'specs/ensemble.json', '--quick', '--verbose', '--json', '--progress', 'quiet'], env);
  expect(a.status, a.stderr).toBe(0);
  ensemble = JSON.parse(a.stdout);
  ensembleRun = a;
  const b = await cli(['run', 'specs/quickstart.json', '--quick', '--json', '--progress', 'quiet'], env);
  expect(b.status, b.stderr).toBe(0);
  single = JSON.parse(b.stdout);
}, 240_000);

describe('run report: the model sections', () => {
  it('an ensemble run shows predictions over price, realized against predicted, members per period and the signal dashboard', () => {
    const html = fs.readFileSync(ensemble.report, 'utf8');
    const traces = figures(html).flatMap((f) => f.data.map((d) => String(d.name)));
    // predictions over price: the close and one probability line per class
    expect(section(html, 'Predictions over price')).toMatch(/probability of each class/);
    expect(traces).toEqual(expect.arrayContaining(['BTC/USDT close', 'P(SELL)', 'P(HOLD)', 'P(BUY)']));
    const probabilities = figures(html).find((f) => f.data.some((d) => d.name === 'P(BUY)'))!;
    const buy = probabilities.data.find((d) => d.name === 'P(BUY)')!.y as number[];
    const record = JSON.parse(fs.readFileSync(path.join(ensemble.runDir, 'run.json'), 'utf8'));
    expect(buy).toHaveLength(record.strategy.segment.bars);
    expect(buy.every((p) => p >= 0 && p <= 1)).toBe(true);
    // realized against predicted: a rolling hit rate with values in [0, 1]
    expect(section(html, 'Realized against predicted')).toMatch(/trailing window of \d+ bars/);
    const hit = figures(html).flatMap((f) => f.data).find((d) => String(d.name).startsWith('hit rate (rolling'))!;
    const rates = (hit.y as Array<number | null>).filter((v): v is number => v !== null);
    expect(rates.length).toBeGreaterThan(100);
    expect(rates.every((v) => v >= 0 && v <= 1)).toBe(true);
    // members: both members and the ensemble, per period, with a winner each
    const members = section(html, 'Which model wins when (ensemble members)');
    const table = /<div data-section="member-winners">(.*?)<\/div>/s.exec(members)![1];
    for (const column of ['member 0 (core/xgboost) hit rate', 'member 1 (core/xgboost) return', 'ensemble hit rate', 'winner (return)']) expect(table).toContain(`<th>${column}</th>`);
    const rows = table.split('<tr>').slice(2);
    expect(rows.length).toBeGreaterThanOrEqual(2); // 450 hourly bars: three weeks or more
    for (const row of rows) expect(row).toMatch(/<td>(member [01] \(core\/xgboost\)|ensemble|tie)<\/td><\/tr>/);
    expect(traces).toEqual(expect.arrayContaining(['member 0 (core/xgboost)', 'member 1 (core/xgboost)', 'ensemble']));
    // signal × horizon: every class at 1, 3, 5, 10 and 20 bars (label horizon 5), with counts
    const dashboard = section(html, 'Signal × horizon × realization');
    for (const horizon of ['1 bar (1h)', '3 bars (3h)', '5 bars (5h)', '10 bars (10h)', '20 bars (20h)']) expect(dashboard).toContain(`<td>${horizon}</td>`);
    const counted = [...dashboard.matchAll(/<tr><td>(SELL|HOLD|BUY)<\/td><td>5 bars \(5h\)<\/td><td>(\d+)<\/td>/g)];
    expect(counted.reduce((sum, m) => sum + Number(m[2]), 0)).toBe(record.strategy.segment.bars - 5);
    const heatmap = figures(html).find((f) => f.data[0].type === 'heatmap' && String(f.layout.title.text).startsWith('Mean forward return'))!;
    expect(heatmap.data[0].x).toHaveLength(5);
  });

  it('a single model says there is nothing to compare member by member', () => {
    const html = fs.readFileSync(single.report, 'utf8');
    expect(section(html, 'Which model wins when (ensemble members)')).toMatch(/not an ensemble/);
    expect(section(html, 'Signal × horizon × realization')).toMatch(/data-section="signal-dashboard"/);
  });
});

describe('the signal dashboard and period winners, by hand', () => {
  it('forward returns per signal and horizon', () => {
    // closes 100, 101, 102, 101, 100: BUY at rows 0 and 1, SELL at row 2
    const candles = hourlyBars([100, 101, 102, 101, 100].map((c) => [c, c, c, c]));
    const input: PredictionReportInput = {
      candles, start: 0, end: 3, columns: ['SELL', 'HOLD', 'BUY'],
      values: Float32Array.from([0.1, 0.1, 0.8, 0.2, 0.1, 0.7, 0.6, 0.3, 0.1]),
      target: new Float64Array(5).fill(NaN), task: 'classification', horizon: 2,
    };
    expect(dashboardHorizons(2)).toEqual([1, 2, 4, 8]);
    const cells = signalRealization(input, [1, 2]);
    const buy1 = cells.find((c) => c.signal === 'BUY' && c.horizon === 1)!;
    expect(buy1.count).toBe(2);
    expect(buy1.mean).toBeCloseTo((0.01 + 1 / 101) / 2, 12);
    expect(buy1.hitRate).toBe(1);
    const sell2 = cells.find((c) => c.signal === 'SELL' && c.horizon === 2)!;
    expect(sell2).toMatchObject({ count: 1, hitRate: 1, shareUp: 0 });
    expect(sell2.mean).toBeCloseTo(100 / 102 - 1, 12);
    expect(cells.find((c) => c.signal === 'HOLD' && c.horizon === 1)).toMatchObject({ count: 0, mean: null, hitRate: null });
  });

  it('winners per calendar period, ties named', () => {
    const day = 86_400_000;
    expect(calendarPeriods(Date.UTC(2024, 0, 10), Date.UTC(2024, 5, 1)).map((p) => p.label).slice(0, 2)).toEqual(['2024-01', '2024-02']);
    const time = [Date.UTC(2024, 0, 1), Date.UTC(2024, 0, 2), Date.UTC(2024, 0, 3) + day];
    const winners = periodWinners(time, [
      { name: 'a', returns: Float64Array.from([0.01, 0.0, 0.0]) },
      { name: 'b', returns: Float64Array.from([0.0, 0.02, 0.0]) },
    ]);
    expect(winners.map((w) => [w.period, w.winner])).toEqual([['2024-01-01', 'a'], ['2024-01-02', 'b'], ['2024-01-04', 'tie']]);
  });
});

describe('candlelab compare', () => {
  it('writes one page with both runs: metrics, equity overlaid, winner per period, spec differences', async () => {
    const result = await cli(['compare', ensemble.runId, single.runId], env);
    expect(result.status, result.stderr).toBe(0);
    const out = /→ (.+\.html)$/m.exec(result.stdout)![1];
    const file = path.resolve(ROOT, out); // printed relative to the working folder (the CLI's cwd is ROOT)
    expect(path.dirname(file)).toBe(path.join(env.CANDLELAB_RUNS_DIR, 'compare'));
    const html = fs.readFileSync(file, 'utf8');
    const metrics = /<div data-section="compare-metrics">(.*?)<\/div>/s.exec(html)![1];
    for (const summary of [ensemble, single]) {
      const record = JSON.parse(fs.readFileSync(path.join(summary.runDir, 'run.json'), 'utf8'));
      expect(metrics).toContain(summary.runId);
      expect(metrics).toContain(`<td>${(100 * record.metrics.backtest.totalReturn).toFixed(2)}%</td>`);
      expect(metrics).toContain(`<td>${(100 * record.metrics.classification.test.accuracy).toFixed(2)}%</td>`);
    }
    const equity = figures(html).find((f) => f.layout.title.text === 'Equity (return on initial cash)')!;
    expect(equity.data.map((d) => d.name)).toEqual([`1: ${ensemble.runId}`, `2: ${single.runId}`]);
    expect((equity.data[0].y as number[])[0]).toBe(0);
    const winners = /<div data-section="compare-winners">(.*?)<\/div>/s.exec(html)![1];
    expect(winners.split('<tr>').length - 2).toBeGreaterThanOrEqual(2);
    const diff = /<div data-section="compare-spec-diff">(.*?)<\/div>/s.exec(html)![1];
    expect(diff).toMatch(/<td>model\.id<\/td><td>&quot;core\/ensemble&quot;<\/td><td>&quot;core\/xgboost&quot;<\/td>/);
    expect(diff).toMatch(/<td>name<\/td><td>&quot;ensemble-quick&quot;<\/td><td>&quot;quickstart-quick&quot;<\/td>/);
  });

  it('takes folder paths and --out', async () => {
    const out = path.join(dir, 'pages', 'side-by-side.html');
    const result = await cli(['compare', ensemble.runDir, single.runDir, '--out', out], env);
    expect(result.status, result.stderr).toBe(0);
    expect(fs.readFileSync(out, 'utf8')).toContain(single.runId);
  });

  it('an unknown run id, a single run, or one run twice: a one-line error', async () => {
    const unknown = await cli(['compare', ensemble.runId, 'quickstart-nope'], env);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr.trim()).toMatch(/^candlelab: error: run 'quickstart-nope' not found: no run\.json in .*quickstart-nope; name a run by its id \(a folder of .*runs, 2 there\) or its folder path$/);
    const one = await cli(['compare', ensemble.runId], env);
    expect(one.status).toBe(1);
    expect(one.stderr.trim()).toBe('candlelab: error: compare needs two or more runs, got 1; e.g. candlelab compare <run-id> <run-id>');
    const twice = await cli(['compare', ensemble.runId, ensemble.runDir], env);
    expect(twice.status).toBe(1);
    expect(twice.stderr).toMatch(/is named twice/);
  });
});

describe('run.log, --verbose and --quick', () => {
  it('run.log holds the run: --quick changes, progress, stage detail, the end; it is an artifact', () => {
    const log = fs.readFileSync(ensemble.log, 'utf8');
    const lines = log.trim().split('\n');
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z info +run ensemble-quick: spec .*ensemble\.json/);
    expect(log).toMatch(/info +--quick: data\.bars: 8760 → 3000/);
    expect(log).toMatch(/info +--quick: model\.params\.members\.0\.params\.rounds: 150 → 20/);
    expect(log).toMatch(/progress +core\/ensemble \(stacking\): 12\/12 member 1/);
    expect(log).toMatch(/debug +train: core\/ensemble fitted in \d+ ms/);
    expect(log).toMatch(/debug +backtest: \d+ trades/);
    expect(lines.at(-1)).toMatch(new RegExp(`info +run ${ensemble.runId} written to`));
    const record = JSON.parse(fs.readFileSync(path.join(ensemble.runDir, 'run.json'), 'utf8'));
    expect(record.artifacts.map((a: { path: string }) => a.path)).toContain('run.log');
    expect(listDir(env.CANDLELAB_RUNS_DIR).filter((name) => name.startsWith('.running-'))).toEqual([]);
  });

  it('--quick: what it changed is printed and recorded; --verbose prints the debug lines', () => {
    expect(ensembleRun.stderr).toMatch(/^quick: data\.bars: 8760 → 3000$/m);
    expect(ensembleRun.stderr).toMatch(/^debug: train: core\/ensemble fitted in \d+ ms/m);
    const record = JSON.parse(fs.readFileSync(path.join(ensemble.runDir, 'run.json'), 'utf8'));
    expect(record.name).toBe('ensemble-quick');
    expect(record.data.rows).toBe(3000);
    expect(record.spec.model.params.members.map((m: any) => m.params.rounds)).toEqual([20, 20]);
    expect(record.model.registered.name).toBe('ensemble-quick-BTC-USDT-1h');
  });

  it('quickSpec caps rounds, epochs and early stopping wherever they are, and adds rounds to an xgboost without them', () => {
    const loaded = loadSpec(path.join(ROOT, 'specs', 'quickstart.json'), ['model.params={"maxDepth": 3, "earlyStoppingRounds": 50}']);
    const { loaded: quick, changes } = quickSpec(loaded);
    expect(quick.spec.model.params).toMatchObject({ rounds: 20, earlyStoppingRounds: 5, maxDepth: 3 });
    expect(changes).toEqual(['name: "quickstart" → "quickstart-quick"', 'data.bars: 26280 → 3000', 'model.params.rounds: (default) → 20', 'model.params.earlyStoppingRounds: 50 → 5']);
  });

  it('without --verbose no debug lines reach the terminal', async () => {
    const result = await cli(['run', 'specs/quickstart.json', '--quick', '--progress', 'quiet'], workspaceEnv(path.join(dir, 'quiet')));
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).not.toMatch(/debug:/);
    expect(result.stdout).toMatch(/^ {2}log: +.*quickstart-quick-.*\/run\.log$/m);
  });

  it('a failed run keeps its log, ending with the error, and the error line names it', async () => {
    const failing = workspaceEnv(path.join(dir, 'failing'));
    const spec = JSON.parse(fs.readFileSync(path.join(ROOT, 'specs', 'quickstart.json'), 'utf8'));
    spec.data = { source: 'file', path: 'nowhere.arrow', symbol: 'BTC/USDT', timeframe: '1h' };
    const file = path.join(dir, 'failing.json');
    fs.writeFileSync(file, JSON.stringify(spec));
    const result = await cli(['run', file, '--progress', 'quiet'], failing);
    expect(result.status).toBe(1);
    const error = result.stderr.trim().split('\n').filter((line) => /error/i.test(line));
    expect(error).toHaveLength(1);
    const logged = /; the run's log: (.+run\.log)$/.exec(error[0]);
    expect(logged, error[0]).not.toBeNull();
    expect(error[0]).toMatch(/^candlelab: error: data file .*nowhere\.arrow does not exist/);
    const runs = listDir(failing.CANDLELAB_RUNS_DIR);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatch(/^quickstart-\d{8}T\d{6}Z-failed$/);
    expect(logged![1]).toBe(path.join(failing.CANDLELAB_RUNS_DIR, runs[0], 'run.log'));
    const lines = fs.readFileSync(logged![1], 'utf8').trim().split('\n');
    expect(lines[0]).toMatch(/info +run quickstart: spec .*failing\.json/);
    expect(lines.at(-1)).toMatch(/ error +data file .*nowhere\.arrow does not exist; check the path/);
  });

  it('answers --help', async () => {
    for (const command of [['compare'], ['run'], ['notebook']]) {
      const help = await cli([...command, '--help']);
      expect(help.status).toBe(0);
      expect(help.stdout).toMatch(/^Usage: candlelab /);
    }
    const run = await cli(['run', '--help']);
    expect(run.stdout).toMatch(/--verbose/);
    expect(run.stdout).toMatch(/--quick/);
  });
});
