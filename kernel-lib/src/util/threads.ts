import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** The cores this process may use (os.availableParallelism where Node has it), at least 1. */
export function availableCores(): number {
  try {
    return Math.max(1, typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length);
  } catch {
    return 1;
  }
}

/**
 * A worker thread's script, by its path under dist/ (e.g. 'data/csv-worker.js'): beside the calling
 * module when it runs from dist, or dist's copy when it runs from src (vitest, which runs the source
 * while a worker needs JavaScript). `override` (an env variable's value) names another one: tests of
 * worker failures.
 */
export function workerScript(moduleDir: string, distPath: string, override?: string): string {
  if (override) return override;
  const beside = path.join(moduleDir, path.basename(distPath));
  return fs.existsSync(beside) ? beside : path.resolve(moduleDir, '..', '..', 'dist', distPath);
}

/** A thread count from an env variable: a positive integer, or undefined (unset, or not a count). */
export function threadsFromEnv(value: string | undefined): number | undefined {
  const count = Number(value);
  return value !== undefined && value !== '' && Number.isInteger(count) && count > 0 ? count : undefined;
}
