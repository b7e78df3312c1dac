import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readNotebook } from '../src/notebook/run-notebook';
import { cli, tempDir } from './helpers';

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
