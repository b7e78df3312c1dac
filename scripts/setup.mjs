#!/usr/bin/env node
// Idempotent set-up, run in front of `npm start` and `npm test`: installs what is missing and does
// nothing else. Uses only Node's standard library (it runs before `npm install`).
//   1. Debian packages (libxgboost, Jupyter's nbconvert/nbclient, Chromium for the report check):
//      installed with apt-get when running as root, otherwise the exact command is printed.
//   2. npm packages (npm install, pinned by package-lock.json, on a fresh clone or when the lock changed).
//   3. The TypeScript build (kernel-lib and plugins; incremental).
//   4. The `tslab` Jupyter kernel spec, so Jupyter and VS Code can open the notebooks.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const quiet = process.argv.includes('--quiet');
const say = (line) => quiet || console.log(`setup: ${line}`);
const fail = (line) => {
  console.error(`setup: error: ${line}`);
  process.exit(1);
};

const APT_PACKAGES = [
  'libxgboost-dev', // XGBoost 1.7 shared library + C API, called through koffi
  'jupyter-nbconvert', // runs notebooks (the identity test uses it as a user would)
  'python3-nbclient', // Jupyter's client, used by `candlelab notebook`
  'python3-ipykernel', // Jupyter's kernel machinery
  'chromium', // headless check that report.html renders its charts
  'python3-pandas', // the Python peer the benchmarks compare against (bench/)
  'python3-xgboost', // Python's xgboost: the tests load our model.json with it; the training bench's peer
  'python3-optuna', // Optuna 3.1: the tuning bench's peer and the pruner fixtures' generator (tests need no Python)
  'python3-fastapi', // with uvicorn: the prediction endpoint bench's Python peer (bench/python/serve_fastapi.py)
  'python3-uvicorn',
  'python3-statsmodels', // statsmodels 0.13: the ARIMA test's reference likelihood/forecasts and bench/arima.mjs's peer
  'redis-server', // the BullMQ queue's Redis: tests and benches start their own on a free 127.0.0.1 port (--queue)
];

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: 'inherit', cwd: root, ...options });
  if (result.error) fail(`${command} could not start: ${result.error.message}`);
  if (result.status !== 0) fail(`${command} ${args.join(' ')} exited with code ${result.status}`);
}

function checkNode() {
  const major = Number(process.versions.node.split('.')[0]);
  if (major < 20) fail(`Node.js 20 or newer is needed, this is ${process.version}; install a current Node.js`);
}

function missingAptPackages() {
  const probe = spawnSync('dpkg-query', ['-W', '-f=${Package} ${Status}\\n', ...APT_PACKAGES], { encoding: 'utf8' });
  if (probe.error) return undefined; // not a Debian system
  const installed = new Set(
    probe.stdout
      .split('\n')
      .filter((line) => line.endsWith('install ok installed'))
      .map((line) => line.split(' ')[0]),
  );
  return APT_PACKAGES.filter((name) => !installed.has(name));
}

function ensureAptPackages() {
  const missing = missingAptPackages();
  if (missing === undefined) {
    say(`not a Debian/Ubuntu system: make sure these are installed: ${APT_PACKAGES.join(', ')}`);
    return;
  }
  if (missing.length === 0) return;
  const command = `apt-get install -y --no-install-recommends ${missing.join(' ')}`;
  if (process.getuid?.() !== 0) {
    fail(`missing system packages: ${missing.join(', ')}; run: sudo apt-get update && sudo ${command}`);
  }
  say(`installing system packages: ${missing.join(', ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  run('apt-get', ['update', '-qq'], { env });
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env });
}

/** Where npm links the `candlelab` command, and the committed file it must point at. */
const binLink = path.join(root, 'node_modules', '.bin', 'candlelab');
const binTarget = path.join(root, 'kernel-lib', 'bin', 'candlelab.js');

function binLinked() {
  try {
    return fs.realpathSync(binLink) === fs.realpathSync(binTarget);
  } catch {
    return false;
  }
}

function npmInstall(reason) {
  say(`${reason}: npm install (pinned by package-lock.json)`);
  // onnxruntime-node's install script downloads CUDA libraries (and fails offline). package.json's
  // allowScripts denies it on npm 11; this documented variable makes older npm skip it too.
  run('npm', ['install', '--no-audit', '--no-fund'], { env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' } });
}

function ensureNpmPackages() {
  const installedLock = path.join(root, 'node_modules', '.package-lock.json');
  const lock = path.join(root, 'package-lock.json');
  // `npm install` rather than `npm ci`: both install the locked versions, but `npm ci` rejects a lock
  // that lacks optional platform packages (e.g. rollup's macOS/Windows builds) which some registries
  // do not serve, while `npm install` skips them as the optional packages they are.
  if (!fs.existsSync(installedLock)) npmInstall('installing npm packages');
  else if (fs.statSync(lock).mtimeMs > fs.statSync(installedLock).mtimeMs) npmInstall('package-lock.json changed');
  // A checkout installed before the `candlelab` bin was a committed file has no (or a stale) link.
  else if (!binLinked()) npmInstall('the candlelab command is not linked');
  if (!binLinked()) fail(`npm did not link the candlelab command (${binLink} → ${binTarget}); run npm install and check its output`);
}

function build() {
  run(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-b', 'kernel-lib', 'plugins/example']);
}

/** Jupyter's per-user data folder (where kernel specs live). */
function jupyterDataDir() {
  const probe = spawnSync('jupyter', ['--data-dir'], { encoding: 'utf8' });
  if (!probe.error && probe.status === 0 && probe.stdout.trim()) return probe.stdout.trim();
  return process.env.JUPYTER_DATA_DIR ?? path.join(os.homedir(), '.local', 'share', 'jupyter');
}

/** The tslab kernel spec, pointing at this project's tslab and this Node.js. */
function ensureKernelSpec() {
  const file = path.join(jupyterDataDir(), 'kernels', 'tslab', 'kernel.json');
  const tslab = path.join(root, 'node_modules', 'tslab', 'bin', 'tslab');
  if (fs.existsSync(file)) {
    try {
      const argv = JSON.parse(fs.readFileSync(file, 'utf8')).argv ?? [];
      // Keep a working spec (tslab also delegates to the project-local tslab by itself).
      if (argv.length >= 2 && argv.slice(0, 2).every((p) => !path.isAbsolute(p) || fs.existsSync(p))) return;
    } catch {
      // unreadable: rewrite it below
    }
  }
  const spec = {
    argv: [process.execPath, tslab, 'kernel', '--config-path', '{connection_file}'],
    display_name: 'TypeScript (tslab)',
    language: 'typescript',
  };
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(spec, null, 1) + '\n');
  say(`installed the tslab Jupyter kernel spec → ${file}`);
}

checkNode();
ensureAptPackages();
ensureNpmPackages();
build();
ensureKernelSpec();
say('ready');
