import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Where a project keeps its data store, model registry and run outputs. A project root is the nearest
 * folder (from the start folder upwards) whose package.json has a "candlelab" section; its fields
 * `dataDir`, `modelsDir`, `runsDir` and `cacheDir` (relative to the root) override the defaults data/,
 * models/, runs/ and cache/ (job results and the stage cache, see jobs/).
 * The environment variables CANDLELAB_DATA_DIR, CANDLELAB_MODELS_DIR, CANDLELAB_RUNS_DIR and CANDLELAB_CACHE_DIR override
 * those (for CI and scheduled jobs); explicit options override everything.
 */
export type Workspace = {
  readonly root: string;
  readonly dataDir: string;
  readonly modelsDir: string;
  readonly runsDir: string;
  readonly cacheDir: string;
};

export type WorkspaceOverrides = Partial<Omit<Workspace, 'root'>> & { root?: string };

export function findWorkspaceRoot(start: string): string | undefined {
  let dir = path.resolve(start);
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    if (fs.existsSync(manifest)) {
      try {
        if (JSON.parse(fs.readFileSync(manifest, 'utf8')).candlelab) return dir;
      } catch {
        // an unreadable package.json is not a workspace marker
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** Resolve the workspace for `start` (default: the current folder), applying explicit overrides. */
export function openWorkspace(overrides: WorkspaceOverrides = {}, start: string = process.cwd()): Workspace {
  const root = path.resolve(overrides.root ?? findWorkspaceRoot(start) ?? start);
  let settings: Record<string, string> = {};
  const manifest = path.join(root, 'package.json');
  if (fs.existsSync(manifest)) {
    try {
      settings = JSON.parse(fs.readFileSync(manifest, 'utf8')).candlelab ?? {};
    } catch {
      settings = {};
    }
  }
  const environment = { dataDir: 'CANDLELAB_DATA_DIR', modelsDir: 'CANDLELAB_MODELS_DIR', runsDir: 'CANDLELAB_RUNS_DIR', cacheDir: 'CANDLELAB_CACHE_DIR' } as const;
  const pick = (key: keyof typeof environment, fallback: string): string =>
    path.resolve(root, overrides[key] || process.env[environment[key]] || settings[key] || fallback);
  return { root, dataDir: pick('dataDir', 'data'), modelsDir: pick('modelsDir', 'models'), runsDir: pick('runsDir', 'runs'), cacheDir: pick('cacheDir', 'cache') };
}

/**
 * Where a run looks for its workspace: the working folder when it is inside one (a user standing in a
 * project runs `candlelab run ../elsewhere/spec.json` and expects that project's runs/ and models/),
 * else the spec's folder (a spec inside another project, run from outside any).
 */
export function workspaceStart(specDir: string, cwd: string = process.cwd()): string {
  return findWorkspaceRoot(cwd) !== undefined ? cwd : specDir;
}
