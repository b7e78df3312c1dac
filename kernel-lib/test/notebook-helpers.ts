import * as fs from 'node:fs';
import * as path from 'node:path';
import { expect } from 'vitest';
import { exec, ROOT, workspaceEnv } from './helpers';

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

/**
 * Execute a stage notebook with `jupyter nbconvert --execute` in its own workspace folder; returns its
 * outputs (none may be an error), their HTML, and what it printed.
 */
export async function executeStageNotebook(notebook: string, dir: string, folder: string): Promise<{ outputs: any[]; html: string; printed: string }> {
  const out = path.join(dir, folder);
  const result = await exec('jupyter', ['nbconvert', '--to', 'notebook', '--execute', path.join(ROOT, 'notebooks', notebook), '--output-dir', out, '--output', 'executed'], workspaceEnv(out));
  expect(result.status, result.stderr).toBe(0);
  const executed = JSON.parse(fs.readFileSync(path.join(out, 'executed.ipynb'), 'utf8'));
  const outputs = executed.cells.flatMap((c: any) => c.outputs ?? []);
  expect(outputs.filter((o: any) => o.output_type === 'error')).toEqual([]);
  const html = outputs.map((o: any) => [].concat(o.data?.['text/html'] ?? []).join('')).join('\n');
  return { outputs, html, printed: printed(path.join(out, 'executed.ipynb')) };
}

export const plotlyCharts = (outputs: any[]): number => outputs.filter((o: any) => o.data?.['application/vnd.plotly.v1+json']).length;

