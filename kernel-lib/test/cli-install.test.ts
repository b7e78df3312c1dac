import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../src/cli/main';
import { cli, ROOT } from './helpers';

/**
 * What a new user meets first: the `candlelab` command after `npm start` on a fresh clone, npm's
 * output, and a lock file that installs on every platform.
 */

const readJson = (file: string) => JSON.parse(fs.readFileSync(path.join(ROOT, file), 'utf8'));

/** Every command path of the CLI: [], ['run'], ['data'], ['data', 'fetch'], … */
function commandPaths(command: Command, prefix: string[] = []): string[][] {
  return [prefix, ...command.commands.flatMap((child) => commandPaths(child, [...prefix, child.name()]))];
}

describe('the candlelab command on a fresh clone', () => {
  it("links a committed file: npm creates a workspace bin link only when its target exists at install time", () => {
    const manifest = readJson('kernel-lib/package.json');
    const target = manifest.bin.candlelab;
    // dist/ is built after `npm install`, so a bin under dist/ is never linked on a fresh clone.
    expect(target).not.toMatch(/^(\.\/)?dist\//);
    expect(() => execFileSync('git', ['ls-files', '--error-unmatch', path.join('kernel-lib', target)], { cwd: ROOT, stdio: 'pipe' })).not.toThrow();
    expect(fs.statSync(path.join(ROOT, 'kernel-lib', target)).mode & 0o111).not.toBe(0);
    expect(manifest.files).toContain(target.split('/')[0]);
    // npm links from the lock's copy of the manifest: it must name the same file.
    expect(readJson('package-lock.json').packages['kernel-lib'].bin).toEqual(manifest.bin);
    expect(fs.realpathSync(path.join(ROOT, 'node_modules', '.bin', 'candlelab'))).toBe(fs.realpathSync(path.join(ROOT, 'kernel-lib', target)));
  });

  it('answers npx candlelab --version without any npm warning', async () => {
    const result = await cli(['--version']);
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toBe(readJson('kernel-lib/package.json').version);
    // e.g. `npm warn Unknown project config "onnxruntime-node-install"` from a custom .npmrc key
    expect(result.stderr).not.toMatch(/npm warn/i);
  });

  const paths = commandPaths(buildProgram());
  it(`has ${paths.length} commands, each answering --help through npx`, async () => {
    expect(paths.length).toBeGreaterThan(25);
    // three at a time: each npx call is mostly process start-up
    const queue = [...paths];
    const failures: string[] = [];
    const worker = async (): Promise<void> => {
      for (let command = queue.shift(); command; command = queue.shift()) {
        const result = await cli([...command, '--help']);
        if (result.status !== 0 || !/^Usage: candlelab/.test(result.stdout)) failures.push(`${command.join(' ')}: exit ${result.status} ${result.stderr.trim()}`);
      }
    };
    await Promise.all([worker(), worker(), worker()]);
    expect(failures).toEqual([]);
  });
});

describe('entry points', () => {
  it("'candlelab' is the library and 'candlelab/testing' its test tools (the fake exchange is not among the main exports)", () => {
    const requireFromProject = createRequire(path.join(ROOT, 'package.json'));
    const library = requireFromProject('candlelab');
    const testing = requireFromProject('candlelab/testing');
    expect(typeof library.runSpec).toBe('function');
    expect(typeof library.addCoins).toBe('function');
    expect(library.startFakeExchange).toBeUndefined();
    expect(library.data.exchange.startFakeExchange).toBeUndefined();
    expect(typeof testing.startFakeExchange).toBe('function');
  });
});

describe('package-lock.json', () => {
  const lock = readJson('package-lock.json');
  const packages: Record<string, { version?: string; optional?: boolean; os?: string[]; cpu?: string[]; optionalDependencies?: Record<string, string> }> = lock.packages;

  /** The lock entry Node would resolve `name` to from the package at `from` (walking up node_modules). */
  function resolveEntry(from: string, name: string): string | undefined {
    let dir = from;
    for (;;) {
      const candidate = dir ? `${dir}/node_modules/${name}` : `node_modules/${name}`;
      if (candidate in packages) return candidate;
      if (!dir) return undefined;
      const cut = dir.lastIndexOf('/node_modules/');
      dir = cut < 0 ? '' : dir.slice(0, cut);
    }
  }

  it('locks every optional platform package (rollup, esbuild, …), so npm ci works on macOS and Windows too', () => {
    const missing: string[] = [];
    for (const [at, entry] of Object.entries(packages)) {
      for (const name of Object.keys(entry.optionalDependencies ?? {})) if (!resolveEntry(at, name)) missing.push(`${at} → ${name}`);
    }
    expect(missing).toEqual([]);
    // The natives a user on another platform needs most often are all there.
    const platforms = new Set(Object.values(packages).filter((e) => e.optional && e.os && e.cpu).map((e) => `${e.os![0]}-${e.cpu![0]}`));
    for (const platform of ['linux-x64', 'linux-arm64', 'darwin-x64', 'darwin-arm64', 'win32-x64']) expect(platforms).toContain(platform);
  });
});
