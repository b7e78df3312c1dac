import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readNotebook } from '../src/notebook/run-notebook';
import { cli, exec, ROOT, tempDir } from './helpers';

const dir = tempDir('notebook-runner');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A small TypeScript notebook of code cells (a markdown title first). */
function notebook(name: string, cells: string[]): string {
  const file = path.join(dir, `${name}.ipynb`);
  const content = {
    cells: [
      { cell_type: 'markdown', id: 'title', metadata: {}, source: `# ${name}` },
      ...cells.map((source, i) => ({ cell_type: 'code', id: `cell-${i + 1}`, metadata: {}, source, outputs: [], execution_count: null })),
    ],
    metadata: { kernelspec: { name: 'tslab', display_name: 'TypeScript', language: 'typescript' } },
    nbformat: 4,
    nbformat_minor: 5,
  };
  fs.writeFileSync(file, JSON.stringify(content));
  return file;
}

describe('candlelab notebook failures', () => {
  it('a failing cell: exit 1, JSON with the cell index, the partial notebook with an error banner, and its HTML', async () => {
    const file = notebook('failing', ['const a: number = 40;\nconsole.log(`a is ${a}`);', "throw new Error('boom in cell two');", "console.log('never printed');"]);
    const out = path.join(dir, 'failing.out.ipynb');
    const html = path.join(dir, 'failing.html');
    const result = await cli(['notebook', file, '--out', out, '--html', html, '--json']);
    expect(result.status).toBe(1);
    const outcome = JSON.parse(result.stdout);
    expect(outcome).toMatchObject({ ok: false, cellIndex: 2, cellId: 'cell-2', timedOut: false, output: out, html });
    expect(outcome.error).toMatch(/boom in cell two/);
    expect(result.stderr.trim()).toMatch(/^candlelab: error: cell 2 of .*failing\.ipynb failed: .*boom in cell two; the executed notebook \(error banner on top\) is at .*failing\.out\.ipynb$/);
    const executed = readNotebook(out);
    const banner = executed.cells[0];
    expect(banner.cell_type).toBe('markdown');
    expect(banner.metadata?.tags).toEqual(['candlelab-error']);
    const bannerText = Array.isArray(banner.source) ? banner.source.join('') : banner.source;
    expect(bannerText).toMatch(/execution failed at cell 2/);
    expect(bannerText).toMatch(/boom in cell two/);
    // below the banner: the notebook as run; cell 1 printed, cell 2 holds the error, cell 3 never ran
    expect(JSON.stringify(executed.cells[1 + 1].outputs)).toContain('a is 40');
    expect(JSON.stringify(executed.cells[2 + 1].outputs)).toContain('boom in cell two');
    expect(executed.cells[3 + 1].outputs).toEqual([]);
    const page = fs.readFileSync(html, 'utf8');
    expect(page).toMatch(/^<!DOCTYPE html>/i);
    expect(page).toContain('execution failed at cell 2');
    expect(page).toContain('a is 40');
    expect(fs.readdirSync(dir).filter((name) => name.includes('.partial-'))).toEqual([]);
  });

  it('--timeout: a cell running longer fails the run, naming the cell and the limit', async () => {
    const file = notebook('slow', ["console.log('quick cell');", 'await new Promise((resolve) => setTimeout(resolve, 60_000));', "console.log('after');"]);
    const out = path.join(dir, 'slow.out.ipynb');
    const started = performance.now();
    const result = await cli(['notebook', file, '--out', out, '--timeout', '3', '--json']);
    expect(performance.now() - started).toBeLessThan(55_000);
    expect(result.status).toBe(1);
    const outcome = JSON.parse(result.stdout);
    expect(outcome).toMatchObject({ ok: false, cellIndex: 2, timedOut: true });
    expect(outcome.error).toBe('CellTimeoutError: cell 2 ran longer than the time limit of 3 s per cell and was stopped');
    expect(result.stderr).toMatch(/candlelab: error: cell 2 of .*slow\.ipynb failed: CellTimeoutError: cell 2 ran longer than the time limit of 3 s/);
    const executed = readNotebook(out);
    expect(executed.cells[0].metadata?.tags).toEqual(['candlelab-error']);
    expect(JSON.stringify(executed.cells[1 + 1].outputs)).toContain('quick cell');
    expect(executed.cells[3 + 1].outputs).toEqual([]);
  });

  it('--timeout must be a positive number of seconds', async () => {
    const result = await cli(['notebook', path.join(dir, 'any.ipynb'), '--timeout', '0']);
    expect(result.status).toBe(1);
    expect(result.stderr.trim()).toBe('candlelab: error: --timeout 0: give the seconds a cell may run, a number above 0 (e.g. --timeout 600)');
  });
});

describe('candlelab notebook --html', () => {
  it('exports the executed notebook with its outputs; --json reports both files', async () => {
    const file = notebook('fine', ['const rows = [1, 2, 3].map((x) => x * x);\nconsole.log(`squares ${rows.join(",")}`);']);
    const out = path.join(dir, 'fine.out.ipynb');
    const html = path.join(dir, 'pages', 'fine.html');
    const result = await cli(['notebook', file, '--out', out, '--html', html, '--json']);
    expect(result.status, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: true, output: out, html, cells: 2 });
    expect(fs.readFileSync(html, 'utf8')).toContain('squares 1,4,9');
    const executed = readNotebook(out);
    expect(executed.cells.some((cell) => cell.metadata?.tags?.includes('candlelab-error'))).toBe(false);
  });
});

describe('the notebook driver when the kernel fails to start', () => {
  // Jupyter picks the kernel's ports, frees them, and the kernel binds them later; another process can take
  // one in between (jupyter_client#276). A kernel that dies before any cell ran is started again with fresh
  // ports. These kernels stand in for it: one dies on its first start, one on every start.
  const driver = path.join(ROOT, 'kernel-lib', 'python', 'run_notebook.py');
  const launcher = path.join(ROOT, 'kernel-lib', 'dist', 'notebook', 'tslab-kernel.js');
  const jupyterPath = path.join(dir, 'jupyter');
  function kernelSpec(name: string, script: string): void {
    const spec = { argv: ['sh', '-c', script, 'sh', '{connection_file}'], display_name: name, language: 'typescript' };
    fs.mkdirSync(path.join(jupyterPath, 'kernels', name), { recursive: true });
    fs.writeFileSync(path.join(jupyterPath, 'kernels', name, 'kernel.json'), JSON.stringify(spec));
  }

  it('starts a new kernel when the first one dies before any cell ran, and runs every cell once', async () => {
    const marker = path.join(dir, 'died-once');
    kernelSpec('dies-once', `if [ ! -e '${marker}' ]; then touch '${marker}'; echo 'bind: Address already in use' >&2; exit 1; fi; exec '${process.execPath}' '${launcher}' --config-path "$1"`);
    const file = notebook('restart', ["console.log('ran ' + (globalThis as any).runs++);", "console.log('runs now ' + (globalThis as any).runs);"]);
    const input = JSON.parse(fs.readFileSync(file, 'utf8'));
    input.cells.splice(1, 0, { cell_type: 'code', id: 'init', metadata: {}, source: '(globalThis as any).runs = 1;', outputs: [], execution_count: null });
    fs.writeFileSync(file, JSON.stringify(input));
    const out = path.join(dir, 'restart.out.ipynb');
    const result = await exec('/usr/bin/python3', [driver, file, out, '--kernel', 'dies-once', '--cwd', dir], { JUPYTER_PATH: jupyterPath });
    expect(result.status, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout.trim().split('\n').pop()!)).toEqual({ ok: true, cells: 4 });
    expect(fs.existsSync(marker)).toBe(true);
    expect(result.stderr).toMatch(/starting a new one with fresh ports/);
    const executed = readNotebook(out);
    expect(JSON.stringify(executed.cells[2].outputs)).toContain('ran 1');
    expect(JSON.stringify(executed.cells[3].outputs)).toContain('runs now 2');
  });

  it('gives up after three starts and says so in one line (the CLI shows it)', async () => {
    kernelSpec('never-starts', "echo 'bind: Address already in use' >&2; exit 1");
    const file = notebook('never', ["console.log('never');"]);
    const out = path.join(dir, 'never.out.ipynb');
    const result = await exec('/usr/bin/python3', [driver, file, out, '--kernel', 'never-starts', '--cwd', dir], { JUPYTER_PATH: jupyterPath });
    expect(result.status).not.toBe(0);
    expect(result.stderr.match(/starting a new one with fresh ports/g)).toHaveLength(2);
    expect(result.stderr).toMatch(/the never-starts kernel did not start after 3 attempts: RuntimeError: Kernel died before replying to kernel_info/);
    expect(fs.existsSync(out)).toBe(false);
  });
});
