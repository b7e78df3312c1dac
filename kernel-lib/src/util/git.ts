import { execFileSync } from 'node:child_process';

/** The git commit of the checkout holding `dir`, and whether tracked files differ from it. */
export type GitRevision = { commit: string; dirty: boolean };

const cache = new Map<string, GitRevision | null>();

/**
 * The git revision of `dir` (undefined when git or the repository is not there), read once per
 * process and folder. Recorded with runs and model versions as part of their code version.
 */
export function gitRevision(dir: string): GitRevision | undefined {
  if (!cache.has(dir)) cache.set(dir, readRevision(dir));
  return cache.get(dir) ?? undefined;
}

function readRevision(dir: string): GitRevision | null {
  const git = (args: string[]): string =>
    execFileSync('git', args, { cwd: dir, stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000, encoding: 'utf8' }).trim();
  try {
    const commit = git(['rev-parse', 'HEAD']);
    if (!/^[0-9a-f]{40}$/.test(commit)) return null;
    let dirty = false;
    try {
      execFileSync('git', ['diff', '--quiet', 'HEAD', '--'], { cwd: dir, stdio: 'ignore', timeout: 5000 });
    } catch (error) {
      dirty = (error as { status?: number }).status === 1;
    }
    return { commit, dirty };
  } catch {
    return null;
  }
}
