import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { declaredParameters, injectParameters, readNotebook } from '../src/notebook/run-notebook';
import { cli, exec, listDir, ROOT, tempDir, workspaceEnv } from './helpers';
import { executeStageNotebook, nbconvertExecute, plotlyCharts, printed } from './notebook-helpers';

const dir = tempDir('notebook');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const QUICKSTART = path.join(ROOT, 'notebooks', '00-quickstart.ipynb');

function fingerprintPrinted(file: string): string {
  const match = /fingerprint: ([0-9a-f]{64})/.exec(printed(file));
  expect(match, `no fingerprint printed in ${file}`).not.toBeNull();
  return match![1];
}

/** The fingerprint in the single run.json of a runs folder. */
function fingerprintOnDisk(runsDir: string): string {
  const runs = listDir(runsDir).filter((name) => !name.startsWith('.'));
  expect(runs).toHaveLength(1);
  return JSON.parse(fs.readFileSync(path.join(runsDir, runs[0], 'run.json'), 'utf8')).fingerprint;
}

describe('notebook, runner and spec give identical results', () => {
  it('quickstart: jupyter nbconvert --execute = candlelab notebook = candlelab run (same fingerprint)', async () => {
    // 1. Real Jupyter, as a user runs it (the kernel inherits the folders from the environment).
    const viaJupyterEnv = workspaceEnv(path.join(dir, 'jupyter'));
    const jupyter = await nbconvertExecute(QUICKSTART, path.join(dir, 'jupyter'), viaJupyterEnv);
    expect(jupyter.status, jupyter.stderr).toBe(0);
    const viaJupyter = fingerprintPrinted(path.join(dir, 'jupyter', 'executed.ipynb'));
    expect(fingerprintOnDisk(viaJupyterEnv.CANDLELAB_RUNS_DIR)).toBe(viaJupyter);

    // 2. The headless runner.
    const viaRunnerEnv = workspaceEnv(path.join(dir, 'runner'));
    const runnerOut = path.join(dir, 'runner', 'executed.ipynb');
    const runner = await cli(['notebook', QUICKSTART, '--out', runnerOut], viaRunnerEnv);
    expect(runner.status, runner.stderr).toBe(0);
    expect(runner.stdout).toMatch(/executed 21 cells/);
    const viaRunner = fingerprintPrinted(runnerOut);
    expect(fingerprintOnDisk(viaRunnerEnv.CANDLELAB_RUNS_DIR)).toBe(viaRunner);

    // 3. The spec, headless.
    const viaSpecEnv = workspaceEnv(path.join(dir, 'spec'));
    const spec = await cli(['run', 'specs/quickstart.json', '--json', '--progress', 'quiet'], viaSpecEnv);
    expect(spec.status, spec.stderr).toBe(0);
    const viaSpec = JSON.parse(spec.stdout).fingerprint;

    expect(viaRunner).toBe(viaJupyter);
    expect(viaSpec).toBe(viaJupyter);
    // The notebook showed its tables and charts inline.
    const executed = JSON.parse(fs.readFileSync(runnerOut, 'utf8'));
    const mimeTypes = new Set(executed.cells.flatMap((c: any) => c.outputs ?? []).flatMap((o: any) => Object.keys(o.data ?? {})));
    expect(mimeTypes).toContain('application/vnd.plotly.v1+json');
    expect(mimeTypes).toContain('text/html');
  });

  it('parameters: -p set=[...] in the notebook equals --set in candlelab run', async () => {
    const override = 'strategy.params.buyThreshold=0.4';
    const notebookEnv = workspaceEnv(path.join(dir, 'param-notebook'));
    const out = path.join(dir, 'param-notebook', 'executed.ipynb');
    const runner = await cli(['notebook', QUICKSTART, '-p', `set=${JSON.stringify([override])}`, '--out', out], notebookEnv);
    expect(runner.status, runner.stderr).toBe(0);
    const executed = readNotebook(out);
    const injected = executed.cells.findIndex((cell) => cell.metadata?.tags?.includes('injected-parameters'));
    expect(injected).toBe(2); // right after the parameters cell
    const specRun = await cli(['run', 'specs/quickstart.json', '--set', override, '--json', '--progress', 'quiet'], workspaceEnv(path.join(dir, 'param-spec')));
    expect(specRun.status, specRun.stderr).toBe(0);
    expect(fingerprintPrinted(out)).toBe(JSON.parse(specRun.stdout).fingerprint);
  });
});

describe('candlelab notebook errors', () => {
  it('stops at the first failing cell, names its index, and still writes the executed notebook', async () => {
    const env = workspaceEnv(path.join(dir, 'failing'));
    const out = path.join(dir, 'failing', 'executed.ipynb');
    const result = await cli(['notebook', QUICKSTART, '-p', 'specPath=../specs/missing.json', '--out', out], env);
    expect(result.status).toBe(1);
    // cells: 0 markdown, 1 parameters, 2 injected parameters, 3 set-up (fails: the spec does not exist)
    expect(result.stderr).toMatch(/candlelab: error: cell 3 of .*00-quickstart\.ipynb failed: .*spec file \.\.\/specs\/missing\.json not found/);
    const executed = readNotebook(out);
    // the saved notebook starts with the error banner, so the cells as run sit one further down
    expect(executed.cells[0].metadata?.tags).toEqual(['candlelab-error']);
    expect(JSON.stringify(executed.cells[3 + 1].outputs)).toMatch(/missing\.json not found/);
    expect(executed.cells[4 + 1].outputs ?? []).toEqual([]); // nothing ran after the failure
    expect(listDir(env.CANDLELAB_RUNS_DIR)).toEqual([]);
  });

  it('rejects an undeclared parameter with the declared ones listed', async () => {
    const result = await cli(['notebook', QUICKSTART, '-p', 'spec_path=x']);
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toMatch(/^candlelab: error: -p spec_path: the parameters cell declares no 'spec_path' \(did you mean 'specPath'\?\); it declares: specPath, set$/);
  });

  it('rejects a value of the wrong type', async () => {
    const result = await cli(['notebook', QUICKSTART, '-p', 'set=not json']);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/-p set=not json: set takes a JSON value/);
  });

  it('reports a missing notebook file', async () => {
    const result = await cli(['notebook', path.join(dir, 'nope.ipynb')]);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/notebook .*nope\.ipynb not found/);
  });
});

describe('parameter injection', () => {
  it('reads the declared parameters and their types', async () => {
    const declared = declaredParameters(readNotebook(QUICKSTART));
    expect(declared?.cellIndex).toBe(1);
    expect(declared?.parameters.map((p) => [p.name, p.type])).toEqual([
      ['specPath', 'string'],
      ['set', 'json'],
    ]);
  });

  it('injects typed literals after the parameters cell and replaces an earlier injection', async () => {
    const notebook = readNotebook(QUICKSTART);
    const once = injectParameters(notebook, { specPath: "it's.json" });
    const twice = injectParameters(once, { set: '["a=1"]' });
    const injected = twice.cells.filter((c) => c.metadata?.tags?.includes('injected-parameters'));
    expect(injected).toHaveLength(1);
    expect(injected[0].source).toContain('const set = ["a=1"];');
    expect(once.cells[2].source).toContain(`const specPath = "it's.json";`);
    expect(notebook.cells.some((c) => c.metadata?.tags?.includes('injected-parameters'))).toBe(false);
  });
});

describe('the stage notebooks', () => {
  it('01-validation-and-tuning runs in real Jupyter: windows, stitched account, CPCV paths, a pruned study, PBO', async () => {
    const { outputs, html, printed: text } = await executeStageNotebook('01-validation-and-tuning.ipynb', dir, 'validation');
    expect(html).toMatch(/4 windows/);
    expect(html).toMatch(/Stitched out-of-sample account/);
    expect(html).toMatch(/CPCV N=6, k=2/);
    expect(plotlyCharts(outputs)).toBeGreaterThanOrEqual(9);
    expect(text).toMatch(/PBO \d+\.\d% over 70 splits; deflated Sharpe P = \d\.\d{3}/);
    // the rest of issue 11: expanding windows, purged k-fold, PBO across CPCV paths, samplers on a
    // conditional space, the pruners, NSGA-II's Pareto front, the journal reopened and continued
    expect(html).toMatch(/4 expanding windows/);
    expect(html).toMatch(/Purged 5-fold, embargo 2%/);
    expect(text).toMatch(/PBO across 5 CPCV paths: \d+\.\d% \(6 settings\)/);
    expect(html).toMatch(/Samplers on the conditional space/);
    expect(html).toMatch(/Pruners: compute spent and best value/);
    expect(html).toMatch(/Pareto front \(\d+ of 24 trials\)/);
    expect(html).toMatch(/Parameter importance \(mean decrease in impurity, not fANOVA\)/);
    expect(text).toMatch(/journal: 5 trials after reopening, 10 after continuing; best -?\d+\.\d{3} \(trial \d+\); \d+ records/);
    // the sweep section: 12 points on 2 worker processes, one model trained for all of them
    expect(text).toMatch(/12 points: 12 computed, 0 reused, 0 failed, [\d.]+ s on 2 local worker processes/);
    expect(html).toMatch(/Sweep results/);
    expect(html).toMatch(/"type":"heatmap"|heatmap/);
  });

  it('02-paper-trading runs in real Jupyter: a registered model paper-trades the fake exchange, and parity finds no unexplained difference', async () => {
    const { outputs, html, printed: text } = await executeStageNotebook('02-paper-trading.ipynb', dir, 'paper');
    expect(html).toMatch(/<th>live<\/th><td>150<\/td>/);
    expect(html).toMatch(/Fills on the simulated venue/);
    expect(plotlyCharts(outputs)).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/parity: 0 unexplained difference\(s\)/);
    expect(text).toMatch(/endpoint: v\d+ answered (LONG|SHORT|FLAT); too few candles → candles: 5 candle\(s\) given but the model needs at least \d+/);
    expect(html).toMatch(/POST \/api\/predict/);
  });

  it('every committed notebook equals what its generator script writes (a stale notebook fails here)', async () => {
    // Each scripts/make-*-notebook.py names its notebook as its default output; every notebook has one.
    const scripts = listDir(path.join(ROOT, 'scripts')).filter((name) => /^make-.*-notebook\.py$/.test(name));
    const pairs = scripts.map((script) => {
      const source = fs.readFileSync(path.join(ROOT, 'scripts', script), 'utf8');
      const match = /"notebooks\/([\w.-]+\.ipynb)"/.exec(source);
      expect(match, `${script} names no default "notebooks/NN-name.ipynb" output`).not.toBeNull();
      return [script, match![1]] as const;
    });
    const notebooks = listDir(path.join(ROOT, 'notebooks')).filter((name) => name.endsWith('.ipynb'));
    expect(pairs.map(([, notebook]) => notebook).sort()).toEqual(notebooks);
    for (const [script, notebook] of pairs) {
      const out = path.join(dir, `generated-${notebook}`);
      const made = await exec('python3', [path.join(ROOT, 'scripts', script), out]);
      expect(made.status, made.stderr).toBe(0);
      expect(fs.readFileSync(path.join(ROOT, 'notebooks', notebook), 'utf8'), `notebooks/${notebook} is stale: run python3 scripts/${script}`).toBe(fs.readFileSync(out, 'utf8'));
    }
  });
});
