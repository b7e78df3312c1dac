import type * as TfModule from '@tensorflow/tfjs';
import { ConfigError, ModelError } from '../../errors';

/** The TensorFlow.js namespace (tfjs, or tfjs-node / tfjs-node-gpu, which re-export it). */
export type Tf = typeof TfModule;

/** A tfjs backend candlelab can run on, fastest first. */
export type TfBackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';
/** What a model param or `CANDLELAB_TF_BACKEND` may ask for: one backend, or `auto` (the fastest that works). */
export type TfBackendChoice = 'auto' | TfBackendName;

export const TF_BACKEND_CHOICES: readonly TfBackendChoice[] = ['auto', 'tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];
const AUTO_ORDER: readonly TfBackendName[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

/** The package each backend comes from. */
const PACKAGES: Record<TfBackendName, string> = {
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  tensorflow: '@tensorflow/tfjs-node',
  wasm: '@tensorflow/tfjs-backend-wasm',
  cpu: '@tensorflow/tfjs',
};

/** A ready tfjs: the namespace to use and the backend it runs on. */
export type TfRuntime = {
  readonly tf: Tf;
  readonly backend: TfBackendName;
  /** The package that provided the backend. */
  readonly package: string;
  /** Why faster backends were passed over (empty when the first choice worked). */
  readonly skipped: readonly string[];
};

// tfjs keeps one engine per process, so the backend in use is process state: remembered here so the
// choice is made (and printed) once, not per model.
let current: { choice: TfBackendChoice; runtime: TfRuntime } | undefined;
let lastPrinted: string | undefined;

/**
 * The backend asked for: an explicit model param wins, then `CANDLELAB_TF_BACKEND`, then `auto`.
 */
export function requestedBackend(param: TfBackendChoice = 'auto', env: NodeJS.ProcessEnv = process.env): TfBackendChoice {
  if (param !== 'auto') return param;
  const fromEnv = env.CANDLELAB_TF_BACKEND?.trim();
  if (!fromEnv) return 'auto';
  if (!(TF_BACKEND_CHOICES as readonly string[]).includes(fromEnv)) {
    throw new ConfigError(`CANDLELAB_TF_BACKEND=${fromEnv} is not a tfjs backend; use one of ${TF_BACKEND_CHOICES.join(', ')}`);
  }
  return fromEnv as TfBackendChoice;
}

/** Run `action` with tfjs's own console notices (the "install the node backend" banner, orthogonal-size warnings) filtered out. */
export function withoutTfNotices<T>(action: () => T): T {
  const original = console.warn;
  const originalLog = console.log;
  const noisy = (args: unknown[]): boolean => {
    const text = String(args[0] ?? '');
    return /install our node backend|looks like you are running TensorFlow\.js in Node|^=+$|Orthogonal initializer is being called/i.test(text.trim());
  };
  console.warn = (...args: unknown[]) => void (noisy(args) ? undefined : original(...args));
  console.log = (...args: unknown[]) => void (noisy(args) ? undefined : originalLog(...args));
  try {
    return action();
  } finally {
    console.warn = original;
    console.log = originalLog;
  }
}

/** The real package name behind `pkg` as installed (differs for an npm alias), or undefined when not installed. */
function installedName(pkg: string): string | undefined {
  try {
    return (require(`${pkg}/package.json`) as { name?: string }).name;
  } catch {
    return undefined;
  }
}

async function tryBackend(name: TfBackendName): Promise<TfRuntime | string> {
  const pkg = PACKAGES[name];
  if (name === 'tensorflow' || name === 'tensorflow-gpu') {
    // danfojs-node's tfjs-node is overridden with an alias of plain @tensorflow/tfjs (no native
    // addon), which npm may hoist to this name: requiring it would not give a native backend, and
    // an alias of another tfjs version would put a second tfjs core into the process.
    const installed = installedName(pkg);
    if (installed && installed !== pkg) return `${pkg} is an alias of ${installed} (no native addon)`;
    let tf: Tf;
    try {
      tf = require(pkg) as Tf;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      return code === 'MODULE_NOT_FOUND' ? `${pkg} is not installed` : `${pkg} failed to load (${(error as Error).message.split('\n')[0]})`;
    }
    await tf.ready();
    // The native addon registers the 'tensorflow' backend; anything else means it did not load.
    if (tf.getBackend() !== 'tensorflow' && !(await tf.setBackend('tensorflow').catch(() => false))) {
      return `${pkg} loaded but its native backend did not start`;
    }
    return { tf, backend: name, package: pkg, skipped: [] };
  }
  const tf = require('@tensorflow/tfjs') as Tf;
  if (name === 'wasm') {
    try {
      require(pkg);
    } catch (error) {
      return `${pkg} failed to load (${(error as Error).message.split('\n')[0]})`;
    }
  }
  const ok = await withoutTfNotices(() => tf.setBackend(name)).catch(() => false);
  await tf.ready();
  // tfjs silently stays on the previous backend when initialization fails: check what it reports.
  if (!ok || tf.getBackend() !== name) return `${name} backend did not initialize (tfjs reports '${tf.getBackend()}')`;
  return { tf, backend: name, package: pkg, skipped: [] };
}

/**
 * Load tfjs and pick its backend: with `auto`, @tensorflow/tfjs-node-gpu, then @tensorflow/tfjs-node
 * (each accepted only when tfjs then reports the native 'tensorflow' backend), then the wasm backend,
 * then the pure-JavaScript cpu backend. A named backend must work or this throws. The choice is printed
 * to stderr once (and again whenever it changes).
 */
export async function loadTf(param: TfBackendChoice = 'auto', print: (line: string) => void = (line) => process.stderr.write(line + '\n')): Promise<TfRuntime> {
  const choice = requestedBackend(param);
  if (current && (current.choice === choice || (choice !== 'auto' && current.runtime.backend === choice))) {
    // Another user of the process-wide engine may have switched it: switch back when needed.
    const { tf, backend } = current.runtime;
    const engineName = backend === 'tensorflow-gpu' ? 'tensorflow' : backend;
    if (tf.getBackend() !== engineName) await withoutTfNotices(() => tf.setBackend(engineName));
    return current.runtime;
  }
  const order = choice === 'auto' ? AUTO_ORDER : [choice];
  const skipped: string[] = [];
  for (const name of order) {
    const result = await tryBackend(name);
    if (typeof result === 'string') {
      skipped.push(`${name}: ${result}`);
      continue;
    }
    const runtime: TfRuntime = { ...result, skipped };
    current = { choice, runtime };
    const line = `tfjs backend: ${runtime.backend} (${runtime.package})${skipped.length ? ` — skipped ${skipped.join('; ')}` : ''}`;
    if (line !== lastPrinted) {
      lastPrinted = line;
      print(line);
    }
    return runtime;
  }
  if (choice === 'auto') throw new ModelError(`no tfjs backend works (${skipped.join('; ')}); reinstall @tensorflow/tfjs`);
  throw new ModelError(
    `tfjs backend '${choice}' is not available (${skipped.join('; ')}); install ${PACKAGES[choice]} or use backend 'auto' (CANDLELAB_TF_BACKEND=auto)`,
  );
}
