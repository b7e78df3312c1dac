import { createHash, randomBytes } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NotebookError, didYouMean } from '../errors';
import { writeFileAtomic } from '../util/atomic';

/**
 * Run a notebook headless, papermill-style: `-p name=value` values are injected in a new cell right
 * after the cell tagged `parameters`; cells run in order through the tslab kernel under Jupyter's own
 * client (nbclient); the first failing cell stops the run, and the executed notebook is written either way.
 */

type NotebookCell = { cell_type: string; id?: string; source: string | string[]; metadata?: { tags?: string[] }; outputs?: unknown[]; execution_count?: number | null };
type Notebook = { cells: NotebookCell[]; metadata: Record<string, any>; nbformat: number; nbformat_minor: number };

export type ParameterType = 'number' | 'string' | 'boolean' | 'json';

/** A parameter declared in the `parameters` cell: `const name[: type] = value;`. */
export type DeclaredParameter = { name: string; type: ParameterType; defaultSource: string };

export type NotebookRunOptions = {
  /** name → value as typed on the command line (`-p name=value`). */
  parameters?: Record<string, string>;
  /** Where the executed notebook goes (default: <name>.executed.ipynb beside the input). */
  output?: string;
  /** Seconds a single cell may run. */
  timeoutSeconds?: number;
  /** Also export the executed notebook (with the error banner when a cell failed) as HTML here (nbconvert). */
  html?: string;
  /** Python with nbclient (default: $CANDLELAB_PYTHON, /usr/bin/python3, python3). */
  python?: string;
  /** Kernel name (default: tslab, provided by candlelab itself). */
  kernel?: string;
  /** Called with the driver's stderr (kernel start-up messages) line by line. */
  log?: (line: string) => void;
};

export type NotebookRunResult = {
  ok: boolean;
  output: string;
  /** The HTML export, when asked for. */
  html?: string;
  cells: number;
  /** The failing cell's index in the notebook as run (injected parameters counted; the error banner not). */
  failedCell?: number;
  /** Its nbformat cell id. */
  failedCellId?: string;
  /** The cell ran past the time limit. */
  timedOut?: boolean;
  error?: string;
};

function sourceText(cell: NotebookCell): string {
  return Array.isArray(cell.source) ? cell.source.join('') : cell.source;
}

export function readNotebook(file: string): Notebook {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new NotebookError(`notebook ${file} not found; pass the path of an .ipynb file`);
  }
  try {
    const notebook = JSON.parse(text) as Notebook;
    if (!Array.isArray(notebook.cells)) throw new Error('no cells');
    return notebook;
  } catch (error) {
    throw new NotebookError(`${file} is not a valid notebook (${(error as Error).message}); open and re-save it in Jupyter`);
  }
}

/** The parameters declared in the notebook's `parameters` cell, with their types. */
export function declaredParameters(notebook: Notebook): { cellIndex: number; parameters: DeclaredParameter[] } | undefined {
  const cellIndex = notebook.cells.findIndex((cell) => cell.cell_type === 'code' && cell.metadata?.tags?.includes('parameters'));
  if (cellIndex < 0) return undefined;
  const parameters: DeclaredParameter[] = [];
  const pattern = /^\s*(?:export\s+)?(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*(?::\s*([^=]+?))?\s*=\s*(.+?);?\s*(?:\/\/.*)?$/;
  for (const line of sourceText(notebook.cells[cellIndex]).split('\n')) {
    const match = pattern.exec(line);
    if (!match) continue;
    const [, name, annotation, value] = match;
    const declared = annotation?.trim();
    const type: ParameterType =
      declared === 'number' || declared === 'string' || declared === 'boolean'
        ? declared
        : declared
          ? 'json'
          : /^-?\d/.test(value) ? 'number' : /^['"`]/.test(value) ? 'string' : /^(true|false)$/.test(value) ? 'boolean' : 'json';
    parameters.push({ name, type, defaultSource: value });
  }
  return { cellIndex, parameters };
}

/** Turn a command-line value into a TypeScript literal of the declared type, or explain why not. */
export function parameterLiteral(parameter: DeclaredParameter, raw: string): string {
  switch (parameter.type) {
    case 'number': {
      const value = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(value)) throw new NotebookError(`-p ${parameter.name}=${raw}: ${parameter.name} is a number (default ${parameter.defaultSource}); pass e.g. -p ${parameter.name}=0.5`);
      return String(value);
    }
    case 'boolean':
      if (raw !== 'true' && raw !== 'false') throw new NotebookError(`-p ${parameter.name}=${raw}: ${parameter.name} is a boolean; pass true or false`);
      return raw;
    case 'string':
      return JSON.stringify(raw);
    case 'json':
      try {
        return JSON.stringify(JSON.parse(raw));
      } catch {
        throw new NotebookError(`-p ${parameter.name}=${raw}: ${parameter.name} takes a JSON value (default ${parameter.defaultSource}); quote it as JSON`);
      }
  }
}

/** The notebook with an injected-parameters cell after the `parameters` cell (a copy; input untouched). */
export function injectParameters(notebook: Notebook, values: Record<string, string>, file = 'notebook'): Notebook {
  const names = Object.keys(values);
  const copy: Notebook = JSON.parse(JSON.stringify(notebook));
  // A previous injection (re-running an executed notebook) is replaced, not stacked.
  copy.cells = copy.cells.filter((cell) => !cell.metadata?.tags?.includes('injected-parameters'));
  if (names.length === 0) return copy;
  const declared = declaredParameters(copy);
  if (!declared) throw new NotebookError(`${file} has no cell tagged 'parameters'; tag one in Jupyter (View → Cell Toolbar → Tags) to accept -p`);
  const lines = ['// Parameters injected by candlelab notebook'];
  for (const name of names) {
    const parameter = declared.parameters.find((p) => p.name === name);
    if (!parameter) {
      const known = declared.parameters.map((p) => p.name);
      throw new NotebookError(`-p ${name}: the parameters cell declares no '${name}'${didYouMean(name, known)}; it declares: ${known.join(', ') || 'nothing'}`);
    }
    lines.push(`const ${name} = ${parameterLiteral(parameter, values[name])};`);
  }
  copy.cells.splice(declared.cellIndex + 1, 0, {
    cell_type: 'code',
    id: 'injected-parameters',
    metadata: { tags: ['injected-parameters'] },
    source: lines.join('\n') + '\n',
    outputs: [],
    execution_count: null,
  });
  return copy;
}

/** Python with nbclient; throws with the install command when there is none. */
function findPython(preferred?: string): string {
  const candidates = [preferred, process.env.CANDLELAB_PYTHON, '/usr/bin/python3', 'python3'].filter((c): c is string => !!c);
  for (const candidate of candidates) {
    const probe = spawnSync(candidate, ['-c', 'import nbclient, nbformat'], { stdio: 'ignore' });
    if (probe.status === 0) return candidate;
  }
  throw new NotebookError('no Python with nbclient found; install it with: sudo apt-get install python3-nbclient jupyter-nbconvert (or set CANDLELAB_PYTHON)');
}

/**
 * A private Jupyter data folder holding a `tslab` kernel spec that starts this installation's tslab
 * with this Node.js, so the runner works whether or not the user installed the kernel.
 */
export function ensureKernelSpec(kernel = 'tslab'): string {
  // tslab with a narrower type-check program (see tslab-kernel.ts); from sources under vitest, the built file
  const launcher = path.join(__dirname, '..', '..', 'dist', 'notebook', 'tslab-kernel.js');
  // one folder per installation: two checkouts running notebooks at once never swap kernels
  const dir = path.join(os.tmpdir(), `candlelab-jupyter-${process.getuid?.() ?? 'user'}-${createHash('sha256').update(launcher).digest('hex').slice(0, 8)}`);
  const spec = {
    argv: [process.execPath, launcher, '--config-path', '{connection_file}'],
    display_name: 'TypeScript (tslab)',
    language: 'typescript',
  };
  writeFileAtomic(path.join(dir, 'kernels', kernel, 'kernel.json'), JSON.stringify(spec, null, 1) + '\n');
  return dir;
}

/** The message of a tslab error in a cell's outputs (tslab reports errors on stderr). */
function errorMessageOf(cell: NotebookCell | undefined): string | undefined {
  for (const output of (cell?.outputs ?? []) as Array<{ output_type: string; name?: string; text?: string | string[]; ename?: string; evalue?: string }>) {
    if (output.output_type === 'error') return `${output.ename}: ${output.evalue}`;
    if (output.output_type === 'stream' && output.name === 'stderr') {
      const text = Array.isArray(output.text) ? output.text.join('') : output.text ?? '';
      const line = text.split('\n').find((l) => /^\w*(Error|Exception)\b.*:/.test(l.trim()) || /^\d+:\d+ - /.test(l.trim()));
      if (line) return line.trim();
    }
  }
  return undefined;
}

/** The reason in a failed driver's stderr: its own message, or a Python traceback's last line. */
function driverFailure(stderrTail: string[]): string {
  const own = stderrTail.filter((line) => /did not start|died while starting/.test(line)).pop();
  const traceback = stderrTail.filter((line) => /^[\w.]*(Error|Exception|Exit)\b.*/.test(line)).pop();
  const reason = own ?? traceback ?? stderrTail[stderrTail.length - 1];
  return reason ? `: ${reason}` : '';
}

/** Execute a notebook headless. Resolves with the outcome; a failing cell is reported, not thrown. */
export async function runNotebook(file: string, options: NotebookRunOptions = {}): Promise<NotebookRunResult> {
  const input = path.resolve(file);
  const notebook = injectParameters(readNotebook(input), options.parameters ?? {}, file);
  const output = path.resolve(options.output ?? input.replace(/\.ipynb$/, '') + '.executed.ipynb');
  const python = findPython(options.python);
  const jupyterPath = ensureKernelSpec(options.kernel ?? 'tslab');
  const prepared = path.join(os.tmpdir(), `candlelab-nb-${process.pid}-${randomBytes(4).toString('hex')}.ipynb`);
  fs.writeFileSync(prepared, JSON.stringify(notebook));
  fs.mkdirSync(path.dirname(output), { recursive: true });
  const driver = path.join(__dirname, '..', '..', 'python', 'run_notebook.py');
  const partial = `${output}.partial-${process.pid}`;
  const html = options.html ? path.resolve(options.html) : undefined;
  if (html) fs.mkdirSync(path.dirname(html), { recursive: true });
  const htmlPartial = html && `${html}.partial-${process.pid}`;
  try {
    const { code, stdout, stderrTail } = await new Promise<{ code: number; stdout: string; stderrTail: string[] }>((resolve, reject) => {
      const child = spawn(
        python,
        [driver, prepared, partial, '--kernel', options.kernel ?? 'tslab', '--cwd', path.dirname(input), '--timeout', String(options.timeoutSeconds ?? 1800), ...(htmlPartial ? ['--html', htmlPartial] : [])],
        { env: { ...process.env, JUPYTER_PATH: [jupyterPath, process.env.JUPYTER_PATH].filter(Boolean).join(path.delimiter) }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stdout = '';
      const stderrTail: string[] = []; // the driver's last words, for the error when it writes nothing
      child.stdout.on('data', (chunk) => (stdout += chunk));
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (chunk: string) => {
        for (const line of chunk.split('\n')) {
          if (!line.trim()) continue;
          options.log?.(line);
          stderrTail.push(line.trim());
          if (stderrTail.length > 40) stderrTail.shift();
        }
      });
      child.on('error', reject);
      child.on('close', (exitCode) => resolve({ code: exitCode ?? 1, stdout, stderrTail }));
    });
    const outcome = JSON.parse(stdout.trim().split('\n').pop() || '{}') as { ok?: boolean; setup?: string; cells?: number; failedCell?: number; cellId?: string; ename?: string; evalue?: string; message?: string; timeout?: boolean };
    if (outcome.setup) throw new NotebookError(`${outcome.setup}; install it with: sudo apt-get install python3-nbclient jupyter-nbconvert`);
    if (!fs.existsSync(partial)) throw new NotebookError(`the notebook driver exited with code ${code} without writing ${output}${driverFailure(stderrTail)}`);
    fs.renameSync(partial, output);
    if (html) {
      if (!fs.existsSync(htmlPartial!)) throw new NotebookError(`the notebook driver exited with code ${code} without writing ${html}; check that jupyter-nbconvert is installed (sudo apt-get install jupyter-nbconvert)`);
      fs.renameSync(htmlPartial!, html);
    }
    const exported = html ? { html } : {};
    if (outcome.ok) return { ok: true, output, ...exported, cells: outcome.cells ?? notebook.cells.length };
    const executed = readNotebook(output);
    const failed = outcome.failedCell ?? -1;
    // +1: the error banner sits on top of the saved notebook
    const message = (outcome.evalue && (outcome.message ?? `${outcome.ename}: ${outcome.evalue}`)) || errorMessageOf(executed.cells[failed + 1]) || outcome.ename || 'unknown error';
    return { ok: false, output, ...exported, cells: notebook.cells.length, failedCell: failed, ...(outcome.cellId ? { failedCellId: outcome.cellId } : {}), timedOut: !!outcome.timeout, error: message };
  } finally {
    fs.rmSync(prepared, { force: true });
    fs.rmSync(partial, { force: true });
    if (htmlPartial) fs.rmSync(htmlPartial, { force: true });
  }
}
