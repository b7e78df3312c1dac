import type { Command } from 'commander';
import { ConfigError } from '../errors';
import { ModelRegistry, MODEL_STAGES, parseModelStage, type TrafficArm, type VersionComparison } from '../registry/model-registry';
import { compareServed, type ServedComparison } from '../services/serve/served-log';
import { openWorkspace } from '../workspace';
import { positiveInt } from './option-parsers';
import { openAlerts } from '../services/alerts/open-alerts';
import { withRedactedOutput } from './alert-commands';

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

/** `production=90` or `7=10` → a traffic arm. */
function parseArm(text: string): TrafficArm {
  const match = /^(production|\d+)=(\d*\.?\d+)$/.exec(text.trim());
  if (!match) throw new ConfigError(`split arm '${text}' must look like production=90 or 7=10 (version=weight)`);
  return { version: match[1] === 'production' ? 'production' : Number(match[1]), weight: Number(match[2]) };
}

/** The served comparison as aligned text lines. */
export function formatServedComparison(c: ServedComparison): string[] {
  const pct = (x: number | null, digits = 1) => (x === null ? '—' : `${(100 * x).toFixed(digits)}%`);
  const lines = [`${c.model}: ${c.requests} served prediction(s)${c.since ? ` since ${c.since}` : ''}, ${c.switches} version switch(es); outcomes over ${c.horizon} bar(s) from the store`];
  lines.push(`  ${'version'.padEnd(8)} ${'arms'.padEnd(18)} ${'requests'.padStart(9)} ${'share'.padStart(7)} ${'LONG'.padStart(6)} ${'SHORT'.padStart(6)} ${'FLAT'.padStart(6)} ${'conf'.padStart(6)} ${'p50 ms'.padStart(7)} ${'p99 ms'.padStart(7)} ${'scored'.padStart(7)} ${'hit'.padStart(7)} ${'mean ret'.padStart(9)}`);
  for (const v of c.versions) {
    lines.push(
      `  ${`v${v.version}`.padEnd(8)} ${v.arms.join(',').padEnd(18)} ${String(v.requests).padStart(9)} ${pct(v.share).padStart(7)} ${String(v.signals.LONG).padStart(6)} ${String(v.signals.SHORT).padStart(6)} ${String(v.signals.FLAT).padStart(6)} ${(v.meanConfidence === null ? '—' : v.meanConfidence.toFixed(3)).padStart(6)} ${v.latencyP50Ms.toFixed(2).padStart(7)} ${v.latencyP99Ms.toFixed(2).padStart(7)} ${String(v.scored).padStart(7)} ${pct(v.hitRate).padStart(7)} ${pct(v.meanSignedReturn, 3).padStart(9)}`,
    );
  }
  if (c.versions.length === 0) lines.push('  no predictions in this period');
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
    .option('--alerts <alerts.json>', "alert the promotion to this alerts file's channels")
    .action(async (name: string, version: string, stage: string, options) => {
      const models = openRegistry(options);
      const target = parseModelStage(stage);
      const alerts = options.alerts ? openAlerts(options.alerts) : undefined;
      await withRedactedOutput(alerts?.config.redactor, async () => {
        const before = models.stageState(name).production;
        const promoted = models.promote(name, versionArg(version), target);
        const archived = target === 'production' && before !== null && before !== promoted.version ? `; v${before} archived` : '';
        const line = `${name} v${promoted.version} → ${promoted.stage}${archived}`;
        console.log(line);
        await alerts?.send({ kind: 'promotion', title: `model ${line}`, text: `${line}. Sessions and servers following ${promoted.stage} switch at their next candle or request.`, source: 'candlelab registry promote' });
        await alerts?.close();
      });
    });

  registry
    .command('rollback')
    .description('return production to the previous production version (the current one is archived)')
    .argument('<name>', 'model name')
    .option('--models-dir <dir>', MODELS_DIR_HELP)
    .option('--alerts <alerts.json>', "alert the rollback to this alerts file's channels")
    .action(async (name: string, options) => {
      const models = openRegistry(options);
      const alerts = options.alerts ? openAlerts(options.alerts) : undefined;
      await withRedactedOutput(alerts?.config.redactor, async () => {
        const current = models.stageState(name).production;
        const restored = models.rollback(name);
        const line = `${name}: production v${current} → v${restored.version} (v${current} archived)`;
        console.log(line);
        await alerts?.send({ kind: 'rollback', title: `model ${line}`, text: `${line}. Sessions and servers following production switch back at their next candle or request.`, source: 'candlelab registry rollback' });
        await alerts?.close();
      });
    });

  registry
    .command('compare')
    .description('compare two versions (metric differences and percent change, params, features, data fingerprint), or with --served what each version answered through candlelab serve')
    .argument('<name>', 'model name')
    .argument('[a]', 'version number')
    .argument('[b]', 'version number')
    .option('--served', "compare the versions on their served predictions (runs/served/<name>.jsonl): share, signals, confidence, latency, and the store's outcome over --horizon bars")
    .option('--horizon <bars>', 'with --served: bars after the predicted candle that score a LONG/SHORT answer', positiveInt('--horizon'), 1)
    .option('--since <date>', 'with --served: only predictions served from this time')
    .option('--json', 'print the comparison as JSON')
    .option('--models-dir <dir>', MODELS_DIR_HELP)
    .action((name: string, a: string | undefined, b: string | undefined, options) => {
      if (options.served) {
        const workspace = openWorkspace();
        const comparison = compareServed(workspace.runsDir, name, { horizon: options.horizon, since: options.since, dataDir: workspace.dataDir });
        const versions = [a, b].filter((v): v is string => v !== undefined).map((v) => versionArg(v));
        if (versions.length) comparison.versions = comparison.versions.filter((v) => versions.includes(v.version));
        if (options.json) console.log(JSON.stringify(comparison, null, 2));
        else for (const line of formatServedComparison(comparison)) console.log(line);
        return;
      }
      if (a === undefined || b === undefined) throw new ConfigError('give two versions to compare (candlelab registry compare <name> <a> <b>), or --served');
      const comparison = openRegistry(options).compare(name, versionArg(a), versionArg(b));
      if (options.json) console.log(JSON.stringify(comparison, null, 2));
      else for (const line of formatComparison(comparison)) console.log(line);
    });

  registry
    .command('split')
    .description('split served traffic between versions by weight (A/B), e.g. production=90 7=10; a running candlelab serve applies it from its next request')
    .argument('<name>', 'model name')
    .argument('[arms...]', "version=weight pairs; 'production' follows the production stage")
    .option('--clear', 'remove the split: everything goes to production')
    .option('--models-dir <dir>', MODELS_DIR_HELP)
    .action((name: string, arms: string[], options) => {
      const models = openRegistry(options);
      if (options.clear && arms.length) throw new ConfigError('give arms or --clear, not both');
      if (options.clear || arms.length) models.setSplit(name, options.clear ? [] : arms.map(parseArm));
      const split = models.split(name);
      const production = models.stageState(name).production;
      if (split.length === 0) console.log(`${name}: no split; production${production === null ? ' (none yet)' : ` v${production}`} answers every request`);
      else {
        const total = split.reduce((sum, arm) => sum + arm.weight, 0);
        console.log(`${name}: ${split.map((arm) => `${arm.version === 'production' ? `production (v${production})` : `v${arm.version}`} ${((100 * arm.weight) / total).toFixed(1)}%`).join(', ')}`);
      }
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
        if (e.action === 'split') console.log(`${e.at} split ${e.split?.length ? e.split.map((arm) => `${arm.version === 'production' ? 'production' : `v${arm.version}`}=${arm.weight}`).join(' ') : 'cleared'}`);
        else console.log(`${e.at} ${e.action} v${e.version} ${e.from ?? '—'} → ${e.to ?? 'removed'}${e.archived !== undefined ? ` (v${e.archived} archived)` : ''}`);
      }
      const production = models.stageState(name).production;
      console.log(`production: ${production === null ? 'none' : `v${production}`}`);
    });
}
