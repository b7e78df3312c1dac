import type { Command } from 'commander';
import { ConfigError } from '../errors';
import { ModelRegistry, MODEL_STAGES, parseModelStage, type VersionComparison } from '../registry/model-registry';
import { openWorkspace } from '../workspace';

const MODELS_DIR_HELP = 'the model registry (default: <workspace>/models)';

/** A version argument as a number, or a one-line error. */
function versionArg(value: string, what = 'version'): number {
  if (!/^\d+$/.test(value)) throw new ConfigError(`${what} '${value}' must be a version number, e.g. 3`);
  return Number(value);
}

const openRegistry = (options: { modelsDir?: string }): ModelRegistry => new ModelRegistry(options.modelsDir ?? openWorkspace().modelsDir);

const signed = (x: number, digits = 4): string => (x >= 0 ? '+' : '') + x.toFixed(digits);

/** The comparison as aligned text lines. */
export function formatComparison(c: VersionComparison): string[] {
  const lines = [
    `${c.name}: v${c.a.version} [${c.a.stage}] ${c.a.model} (run ${c.a.runId})  →  v${c.b.version} [${c.b.stage}] ${c.b.model} (run ${c.b.runId})`,
    `data fingerprint: ${c.dataFingerprint.same ? `same (${c.dataFingerprint.a.slice(0, 12)}…)` : `${c.dataFingerprint.a.slice(0, 12)}… → ${c.dataFingerprint.b.slice(0, 12)}…`}`,
    `code: ${c.codeVersion.same ? `same (${c.codeVersion.a})` : `${c.codeVersion.a} → ${c.codeVersion.b}`}`,
    `features: ${c.features.added.length || c.features.removed.length || c.features.reordered ? [c.features.added.length ? `added ${c.features.added.join(', ')}` : '', c.features.removed.length ? `removed ${c.features.removed.join(', ')}` : '', c.features.reordered ? 'order changed' : ''].filter(Boolean).join('; ') : 'same'}`,
    `params: ${c.params.length ? c.params.map((p) => `${p.path} ${JSON.stringify(p.a)} → ${JSON.stringify(p.b)}`).join(', ') : 'same'}`,
    `label: ${c.label.length ? c.label.map((p) => `${p.path} ${JSON.stringify(p.a)} → ${JSON.stringify(p.b)}`).join(', ') : 'same'}`,
    'metrics (b − a, % change):',
  ];
  const width = Math.max(8, ...[...c.metrics, ...c.timings].map((m) => m.metric.length));
  const row = (m: VersionComparison['metrics'][number]): string => {
    const pct = m.percentChange === null ? '—' : `${signed(m.percentChange, 2)}%`;
    return `  ${m.metric.padEnd(width)}  ${m.a.toPrecision(6).padStart(12)}  ${m.b.toPrecision(6).padStart(12)}  ${signed(m.difference).padStart(12)}  ${pct.padStart(10)}`;
  };
  lines.push(...c.metrics.map(row));
  if (c.timings.length) lines.push('timings (wall time, b − a, % change):', ...c.timings.map(row));
  if (c.onlyInA.length) lines.push(`  only in v${c.a.version}: ${c.onlyInA.join(', ')}`);
  if (c.onlyInB.length) lines.push(`  only in v${c.b.version}: ${c.onlyInB.join(', ')}`);
  return lines;
}

/** `candlelab registry promote|rollback|compare|history`, added to the `registry` command group. */
export function registerRegistryCommands(registry: Command): void {
  registry
    .command('promote')
    .description(`move a version to a stage (${MODEL_STAGES.join(', ')}); promoting to production archives the previous production version`)
    .argument('<name>', 'model name')
    .argument('<version>', 'version number')
    .argument('<stage>', MODEL_STAGES.join(' | '))
    .option('--models-dir <dir>', MODELS_DIR_HELP)
    .action((name: string, version: string, stage: string, options) => {
      const models = openRegistry(options);
      const target = parseModelStage(stage);
      const before = models.stageState(name).production;
      const promoted = models.promote(name, versionArg(version), target);
      const archived = target === 'production' && before !== null && before !== promoted.version ? `; v${before} archived` : '';
      console.log(`${name} v${promoted.version} → ${promoted.stage}${archived}`);
    });

  registry
    .command('rollback')
    .description('return production to the previous production version (the current one is archived)')
    .argument('<name>', 'model name')
    .option('--models-dir <dir>', MODELS_DIR_HELP)
    .action((name: string, options) => {
      const models = openRegistry(options);
      const current = models.stageState(name).production;
      const restored = models.rollback(name);
      console.log(`${name}: production v${current} → v${restored.version} (v${current} archived)`);
    });

  registry
    .command('compare')
    .description('compare two versions: metric differences and percent change, params, features, data fingerprint')
    .argument('<name>', 'model name')
    .argument('<a>', 'version number')
    .argument('<b>', 'version number')
    .option('--json', 'print the comparison as JSON')
    .option('--models-dir <dir>', MODELS_DIR_HELP)
    .action((name: string, a: string, b: string, options) => {
      const comparison = openRegistry(options).compare(name, versionArg(a), versionArg(b));
      if (options.json) console.log(JSON.stringify(comparison, null, 2));
      else for (const line of formatComparison(comparison)) console.log(line);
    });

  registry
    .command('history')
    .description('the stage history of a model (promotions and rollbacks), oldest first')
    .argument('<name>', 'model name')
    .option('--models-dir <dir>', MODELS_DIR_HELP)
    .action((name: string, options) => {
      const models = openRegistry(options);
      const history = models.history(name);
      if (history.length === 0) console.log(`${name}: no stage changes yet (every version starts in staging)`);
      for (const e of history) {
        console.log(`${e.at} ${e.action} v${e.version} ${e.from ?? '—'} → ${e.to ?? 'removed'}${e.archived !== undefined ? ` (v${e.archived} archived)` : ''}`);
      }
      const production = models.stageState(name).production;
      console.log(`production: ${production === null ? 'none' : `v${production}`}`);
    });
}
