import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { ConfigError, PluginError } from '../errors';
import { writeFileAtomic } from '../util/atomic';
import { loadPluginModule } from './registry';
import type { Plugin } from './define';
import { indexSource, PLUGIN_KINDS, readmeSource, testSource, type PluginKind } from './scaffold-templates';

export { PLUGIN_KINDS, type PluginKind } from './scaffold-templates';

/** The folder of the candlelab package itself (kernel-lib/), which a plugin outside a workspace links to. */
const CANDLELAB_DIR = path.resolve(__dirname, '..', '..');

export type ScaffoldOptions = {
  /** npm package name: `my-plugin` or `@acme/funding`. */
  name: string;
  kind?: PluginKind;
  /** Where to write it (default: <workspace>/plugins/<name without scope>). */
  dir?: string;
  /** The workspace root (its plugins/ folder is an npm workspace). */
  workspaceRoot: string;
};

export type ScaffoldResult = { dir: string; files: string[]; id: string; inWorkspace: boolean; linked: string[] };

const PACKAGE_NAME = /^(@[a-z0-9][a-z0-9._-]*\/)?[a-z0-9][a-z0-9._-]*$/;

/**
 * Write a plugin package: TypeScript source with one definition of `kind`, a vitest file running its
 * contract suite, package.json (build and test scripts), tsconfig.json and a README. Inside the
 * workspace's plugins/ it is linked into node_modules at once (as npm install would), so a spec can
 * name it; outside, its node_modules/candlelab links this candlelab, so it builds and tests offline.
 * Refuses a folder that already has files.
 */
export function scaffoldPlugin(options: ScaffoldOptions): ScaffoldResult {
  const kind = options.kind ?? 'feature';
  if (!PLUGIN_KINDS.includes(kind)) throw new ConfigError(`--kind ${kind} is not a plugin kind; use one of ${PLUGIN_KINDS.join(', ')}`);
  if (!PACKAGE_NAME.test(options.name)) throw new ConfigError(`plugin name '${options.name}' is not an npm package name; use lowercase letters, digits and - (e.g. my-features or @acme/funding)`);
  const short = options.name.replace(/^@[^/]+\//, '');
  const dir = path.resolve(options.dir ?? path.join(options.workspaceRoot, 'plugins', short));
  if (fs.existsSync(dir) && fs.readdirSync(dir).length > 0) throw new ConfigError(`${dir} already exists and is not empty; pick another name or --dir`);
  const inWorkspace = path.dirname(dir) === path.join(options.workspaceRoot, 'plugins');
  // Ids are namespaced by the package's short name: my-features/roc.
  const names = { packageName: options.name, namespace: short, name: { feature: 'roc', labeler: 'forward-return', model: 'nearest-centroid', strategy: 'threshold', source: 'reading' }[kind] };
  const packageJson = {
    name: options.name,
    version: '0.1.0',
    description: `candlelab plugin: one ${kind} (${names.namespace}/${names.name})`,
    license: 'MIT',
    type: 'commonjs',
    main: 'dist/index.js',
    types: 'dist/index.d.ts',
    files: ['dist'],
    scripts: { build: 'tsc -p .', test: 'candlelab plugin test . && vitest run --root .' },
    keywords: ['candlelab-plugin'],
    peerDependencies: { candlelab: '*' },
    devDependencies: { typescript: '5.9', vitest: '3.2' },
  };
  const tsconfig = {
    compilerOptions: { target: 'ES2022', module: 'commonjs', moduleResolution: 'node', strict: true, declaration: true, esModuleInterop: true, skipLibCheck: true, rootDir: 'src', outDir: 'dist' },
    include: ['src'],
  };
  const files: Record<string, string> = {
    'package.json': JSON.stringify(packageJson, null, 2) + '\n',
    'tsconfig.json': JSON.stringify(tsconfig, null, 2) + '\n',
    'src/index.ts': indexSource(kind, names),
    'test/plugin.test.ts': testSource(kind, names),
    'README.md': readmeSource(kind, names, inWorkspace),
    '.gitignore': 'dist/\nnode_modules/\n',
  };
  for (const [name, text] of Object.entries(files)) writeFileAtomic(path.join(dir, name), text);
  const linked: string[] = [];
  if (inWorkspace) {
    // What npm install does for a workspace: node_modules/<name> → plugins/<name>.
    linked.push(link(path.join(options.workspaceRoot, 'node_modules', options.name), dir));
  } else {
    linked.push(link(path.join(dir, 'node_modules', 'candlelab'), CANDLELAB_DIR));
  }
  return { dir, files: Object.keys(files), id: `${names.namespace}/${names.name}`, inWorkspace, linked };
}

function link(at: string, target: string): string {
  fs.mkdirSync(path.dirname(at), { recursive: true });
  if (!fs.existsSync(at)) fs.symlinkSync(path.relative(path.dirname(at), target), at, 'dir');
  return at;
}

/** Newest modification time of the TypeScript sources and tsconfig.json under `dir` (not node_modules, dist/ or tests). */
function newestSource(dir: string): number {
  let latest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.') || ['node_modules', 'dist', 'test'].includes(entry.name)) continue;
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) latest = Math.max(latest, newestSource(file));
    else if (/\.ts$|^tsconfig\.json$/.test(entry.name) && !entry.name.endsWith('.d.ts')) latest = Math.max(latest, fs.statSync(file).mtimeMs);
  }
  return latest;
}

/**
 * Load the plugin of a package folder for `candlelab plugin test`: when it has TypeScript sources
 * (tsconfig.json) and dist/ is missing or older than them, build it first with the TypeScript compiler
 * found from the folder (or from candlelab's own install). Returns the plugin and whether it was built.
 */
export function loadPluginFolder(dirArg: string, log: (line: string) => void = () => {}): { plugin: Plugin; built: boolean; dir: string } {
  const dir = path.resolve(dirArg);
  const manifest = path.join(dir, 'package.json');
  if (!fs.existsSync(manifest)) throw new ConfigError(`${dir} has no package.json; give a plugin package folder (candlelab plugin new makes one)`);
  let built = false;
  if (fs.existsSync(path.join(dir, 'tsconfig.json'))) {
    const sources = newestSource(dir);
    const main = JSON.parse(fs.readFileSync(manifest, 'utf8')).main ?? 'index.js';
    const output = path.join(dir, main);
    if (!fs.existsSync(output) || fs.statSync(output).mtimeMs < sources) {
      let tsc: string;
      try {
        tsc = require.resolve('typescript/bin/tsc', { paths: [dir, CANDLELAB_DIR, process.cwd()] });
      } catch {
        throw new PluginError(`${dir}: dist/ is missing or stale and no TypeScript compiler was found; run npm install then npm run build in ${dir}`);
      }
      log(`building ${dir} (tsc -p)`);
      const result = spawnSync(process.execPath, [tsc, '-p', dir], { encoding: 'utf8' });
      if (result.status !== 0) {
        const first = `${result.stdout}${result.stderr}`.split('\n').find((line) => line.includes('error')) ?? `tsc exited with ${result.status}`;
        throw new PluginError(`${dir} does not build: ${first.trim()}`);
      }
      built = true;
    }
  }
  return { plugin: loadPluginModule(dir, dir), built, dir };
}
