import * as path from 'node:path';
import type { Command } from 'commander';
import { ConfigError } from '../errors';
import { openWorkspace } from '../workspace';
import { loadPluginFolder, PLUGIN_KINDS, scaffoldPlugin, type PluginKind } from '../plugins/scaffold';
import { checkPlugin, type PluginCheckEntry } from '../testing/contracts';
import { collect } from './option-parsers';

/** `candlelab plugin new` and `candlelab plugin test` (also reachable as `plugins new|test`). */
export function registerPluginCommands(plugins: Command): void {
  plugins
    .command('new')
    .description('scaffold a plugin package: TypeScript source with one definition, its contract test, build and test scripts, a README')
    .argument('<name>', 'npm package name, e.g. my-features or @acme/funding')
    .option('--kind <kind>', `what it defines: ${PLUGIN_KINDS.join(' | ')}`, 'feature')
    .option('--dir <folder>', 'write it here (default: <workspace>/plugins/<name>, an npm workspace; outside, it links this candlelab)')
    .action((name: string, options: { kind: string; dir?: string }) => {
      if (!PLUGIN_KINDS.includes(options.kind as PluginKind)) throw new ConfigError(`--kind ${options.kind} is not a plugin kind; use one of ${PLUGIN_KINDS.join(', ')}`);
      const result = scaffoldPlugin({ name, kind: options.kind as PluginKind, dir: options.dir, workspaceRoot: openWorkspace().root });
      const shown = path.relative(process.cwd(), result.dir) || '.';
      console.log(`wrote ${options.kind} plugin ${name} (${result.id}) → ${shown}`);
      for (const file of result.files) console.log(`  ${file}`);
      console.log(result.inWorkspace ? `linked node_modules/${name} → ${shown} (npm install keeps it linked)` : `linked ${path.relative(process.cwd(), result.linked[0])} → this candlelab`);
      console.log(`next: npx candlelab plugin test ${shown}   (builds it, then runs the contract suites)`);
    });

  plugins
    .command('test')
    .description("run the contract suites on a plugin package's definitions (builds a stale dist/ first); exits 1 if any fails")
    .argument('<dir>', 'the plugin package folder (with package.json)')
    .option('--only <id>', 'check only this definition id (repeatable)', collect, [])
    .option('--json', 'print the results as JSON')
    .action(async (dir: string, options: { only: string[]; json?: boolean }) => {
      const log = (line: string) => process.stderr.write(line + '\n');
      const { plugin } = loadPluginFolder(dir, log);
      const print = (entry: PluginCheckEntry) => {
        if (options.json) return;
        const head = `${entry.ok ? 'ok  ' : 'FAIL'} ${entry.kind} ${entry.id} (${entry.seconds.toFixed(2)} s)`;
        console.log(entry.ok ? `${head}: ${entry.checks.join('; ')}` : `${head}\n     ${entry.error}`);
      };
      const entries = await checkPlugin(plugin, { only: options.only.length ? options.only : undefined, onEntry: print });
      if (options.only.length && entries.length === 0) throw new ConfigError(`no definition of plugin ${plugin.id} has id ${options.only.join(', ')}`);
      const failed = entries.filter((entry) => !entry.ok);
      if (options.json) console.log(JSON.stringify({ plugin: plugin.id, version: plugin.version, ok: failed.length === 0, definitions: entries }, null, 2));
      else console.log(`${plugin.id}@${plugin.version}: ${entries.length - failed.length} of ${entries.length} definition(s) keep the contract${failed.length ? `; failing: ${failed.map((e) => e.id).join(', ')}` : ''}`);
      if (entries.length === 0) throw new ConfigError(`plugin ${plugin.id} defines nothing the contract suites check (features, labelers, models, strategies, sources)`);
      if (failed.length) process.exitCode = 1;
    });
}
