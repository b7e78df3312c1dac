import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../util/atomic';

/**
 * Finished jobs' results, one file per content hash under <workspace>/cache/jobs/ (the workspace's cacheDir). Writes are atomic
 * renames of identical content, so a job that finishes twice (a worker killed after finishing, a
 * redelivered job, two machines racing) still leaves exactly one result. Failures are not stored: a
 * failed job is tried again by the next submission.
 */
export type ResultStore = {
  readonly dir: string;
  get(hash: string): unknown | undefined;
  has(hash: string): boolean;
  /** Store a result; an existing one is kept unless `replace` (a run job made again). */
  put(hash: string, result: unknown, options?: { replace?: boolean }): void;
};

/** <cacheDir>/jobs: the workspace's job results (cacheDir defaults to <root>/cache). */
export function jobResultsDir(cacheDir: string): string {
  return path.join(cacheDir, 'jobs');
}

export function openResultStore(dir: string): ResultStore {
  const file = (hash: string) => path.join(dir, hash.slice(0, 2), `${hash}.json`);
  return {
    dir,
    has: (hash) => fs.existsSync(file(hash)),
    get(hash) {
      let text: string;
      try {
        text = fs.readFileSync(file(hash), 'utf8');
      } catch {
        return undefined;
      }
      return (JSON.parse(text) as { result: unknown }).result;
    },
    put(hash, result, options = {}) {
      if (!options.replace && fs.existsSync(file(hash))) return;
      writeFileAtomic(file(hash), JSON.stringify({ hash, result }) + '\n');
    },
  };
}
