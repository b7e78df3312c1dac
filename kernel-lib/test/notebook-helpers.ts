import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect } from 'vitest';
import { exec, ROOT, workspaceEnv, type CliResult } from './helpers';

type Cell = { cell_type: string; source: string[] | string; outputs?: Array<{ output_type: string; text?: string[] | string }> };

/** The text a notebook's cells printed (stdout/stderr streams), joined. */
export function printed(file: string): string {
  const notebook = JSON.parse(fs.readFileSync(file, 'utf8')) as { cells: Cell[] };
  return notebook.cells
    .flatMap((cell) => cell.outputs ?? [])
    .filter((output) => output.output_type === 'stream')
    .map((output) => (Array.isArray(output.text) ? output.text.join('') : output.text ?? ''))
    .join('');
}

/** Jupyter's own words when a kernel dies or hangs before it answered its first request. */
const KERNEL_START_FAILURE = /Kernel died before replying to kernel_info|Kernel didn't respond in \d+ seconds|Address already in use/;

/**
 * `jupyter nbconvert --to notebook --execute`, as a user runs it. Jupyter picks a kernel's ports, frees them,
 * and the kernel binds them later, so a busy machine can lose them to another process in between
 * (jupyter_client#276, #487; `candlelab notebook` retries for the same reason). Only that failure, before
 * any cell ran, is retried here, at most twice; every other failure is returned as it is.
 */
export async function nbconvertExecute(notebook: string, outputDir: string, env: Record<string, string>): Promise<CliResult> {
  for (let attempt = 1; ; attempt++) {
    const result = await exec('jupyter', ['nbconvert', '--to', 'notebook', '--execute', notebook, '--output-dir', outputDir, '--output', 'executed'], env);
    if (result.status === 0 || attempt === 3 || !KERNEL_START_FAILURE.test(result.stderr)) return result;
  }
}

/**
 * Execute a stage notebook with `jupyter nbconvert --execute` in its own workspace folder; returns its
 * outputs (none may be an error), their HTML, and what it printed.
 */
export async function executeStageNotebook(notebook: string, dir: string, folder: string): Promise<{ outputs: any[]; html: string; printed: string }> {
  const out = path.join(dir, folder);
  const result = await nbconvertExecute(path.join(ROOT, 'notebooks', notebook), out, workspaceEnv(out));
  expect(result.status, result.stderr).toBe(0);
  const executed = JSON.parse(fs.readFileSync(path.join(out, 'executed.ipynb'), 'utf8'));
  const outputs = executed.cells.flatMap((c: any) => c.outputs ?? []);
  expect(outputs.filter((o: any) => o.output_type === 'error')).toEqual([]);
  const html = outputs.map((o: any) => [].concat(o.data?.['text/html'] ?? []).join('')).join('\n');
  return { outputs, html, printed: printed(path.join(out, 'executed.ipynb')) };
}

export const plotlyCharts = (outputs: any[]): number => outputs.filter((o: any) => o.data?.['application/vnd.plotly.v1+json']).length;

