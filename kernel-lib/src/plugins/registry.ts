import { createRequire } from 'node:module';
import * as path from 'node:path';
import type { z } from 'zod';
import { PluginError, ConfigError, didYouMean } from '../errors';
import { parseConfig } from '../util/parse-config';
import type {
  AnyDefinition,
  DefinitionKind,
  FeatureDefinition,
  LabelerDefinition,
  ModelDefinition,
  Plugin,
  StrategyDefinition,
  SplitterDefinition,
  SourceDefinition,
} from './define';

type ByKind = {
  feature: FeatureDefinition;
  labeler: LabelerDefinition;
  model: ModelDefinition;
  strategy: StrategyDefinition;
  splitter: SplitterDefinition;
  source: SourceDefinition;
};

type Entry = { definition: AnyDefinition; pluginId: string };

/** A reference to a definition in a spec: its id, optionally pinned to a version, and raw params. */
export type DefinitionRef = { id: string; version?: string; params?: Record<string, unknown> };

/**
 * Resolves features, labelers, models and strategies by id. Keys are `kind/id@version`. Registering
 * the same definition object again is a no-op (notebook cells get re-run); a different definition
 * under the same key is an error naming both plugins. No module-level state: create one per run.
 */
export class PluginRegistry {
  private readonly entries = new Map<string, Entry>();
  private readonly plugins = new Map<string, Plugin>();

  register(plugin: Plugin): this {
    if (!plugin || typeof plugin.id !== 'string' || typeof plugin.version !== 'string') {
      throw new PluginError('a plugin must be made with definePlugin({ id, version, ... })');
    }
    const known = this.plugins.get(plugin.id);
    if (known === plugin) return this;
    if (known && known.version !== plugin.version) {
      throw new PluginError(`plugin '${plugin.id}' is registered twice, as ${known.version} and ${plugin.version}; load one version`);
    }
    const definitions: AnyDefinition[] = [
      ...(plugin.features ?? []),
      ...(plugin.labelers ?? []),
      ...(plugin.models ?? []),
      ...(plugin.strategies ?? []),
      ...(plugin.splitters ?? []),
      ...(plugin.sources ?? []),
    ];
    for (const definition of definitions) {
      const key = `${definition.kind}/${definition.id}@${definition.version}`;
      const existing = this.entries.get(key);
      if (existing && existing.definition !== definition) {
        throw new PluginError(`${key} is defined by both plugin '${existing.pluginId}' and plugin '${plugin.id}'; rename one id`);
      }
      if (!/^(@[\w.-]+\/|[\w.-]+\/)[\w.-]+$/.test(definition.id)) {
        throw new PluginError(`${definition.kind} id '${definition.id}' of plugin '${plugin.id}' must be namespaced, like 'core/rsi' or '@acme/funding-skew'`);
      }
      this.entries.set(key, { definition, pluginId: plugin.id });
    }
    this.plugins.set(plugin.id, plugin);
    return this;
  }

  /** The plugins registered, in registration order. */
  listPlugins(): Plugin[] {
    return [...this.plugins.values()];
  }

  /** Every definition of a kind (all versions). */
  list<K extends DefinitionKind>(kind: K): Array<ByKind[K] & { pluginId: string }> {
    return [...this.entries.values()]
      .filter((entry) => entry.definition.kind === kind)
      .map((entry) => ({ ...entry.definition, pluginId: entry.pluginId }) as unknown as ByKind[K] & { pluginId: string });
  }

  /** The definition of `kind` with this id (the highest version unless one is given). */
  resolve<K extends DefinitionKind>(kind: K, id: string, version?: string): ByKind[K] {
    const candidates = [...this.entries.values()].filter((entry) => entry.definition.kind === kind && entry.definition.id === id);
    if (candidates.length === 0) {
      const ids = [...new Set(this.list(kind).map((definition) => definition.id))].sort();
      throw new PluginError(
        `unknown ${kind} '${id}'${didYouMean(id, ids)}; registered ${kind}s: ${ids.join(', ') || 'none'} (load the plugin that defines it with "plugins" in the spec)`,
      );
    }
    if (version !== undefined) {
      const match = candidates.find((entry) => entry.definition.version === version);
      if (!match) {
        throw new PluginError(`${kind} '${id}' has no version ${version}; registered: ${candidates.map((e) => e.definition.version).join(', ')}`);
      }
      return match.definition as ByKind[K];
    }
    candidates.sort((a, b) => compareSemver(b.definition.version, a.definition.version));
    return candidates[0].definition as ByKind[K];
  }

  /** Resolve a spec reference and validate its params against the definition's schema. */
  resolveWithParams<K extends DefinitionKind>(kind: K, ref: DefinitionRef): { definition: ByKind[K]; params: any } {
    const definition = this.resolve(kind, ref.id, ref.version);
    return { definition, params: parseParams(definition, ref.params ?? {}) };
  }
}

/** Validate raw params against a definition's zod schema; unknown keys get a "did you mean". */
export function parseParams(definition: AnyDefinition, raw: Record<string, unknown>): any {
  const schema = definition.params;
  const shape = objectShape(schema);
  if (shape) {
    const known = Object.keys(shape);
    for (const key of Object.keys(raw)) {
      if (!known.includes(key)) {
        throw new ConfigError(
          `${definition.kind} ${definition.id}: unknown param '${key}'${didYouMean(key, known)}; its params are: ${known.join(', ') || 'none'}`,
        );
      }
    }
  }
  return parseConfig(schema, raw, `${definition.kind} ${definition.id}`, { field: 'param' });
}

/**
 * The keys of an object schema, looking through refine/default/optional wrappers. Duck-typed, so a
 * plugin built against another copy of zod is checked the same way.
 */
function objectShape(schema: z.ZodTypeAny): Record<string, unknown> | undefined {
  let node: any = schema;
  for (let depth = 0; node && depth < 10; depth++) {
    if (node.shape && typeof node.shape === 'object') return node.shape;
    node = node._def?.schema ?? node._def?.innerType;
  }
  return undefined;
}

function compareSemver(a: string, b: string): number {
  const pa = a.split(/[.-]/).map((part) => Number(part));
  const pb = b.split(/[.-]/).map((part) => Number(part));
  for (let i = 0; i < 3; i++) if ((pa[i] || 0) !== (pb[i] || 0)) return (pa[i] || 0) - (pb[i] || 0);
  return 0;
}

/**
 * Load plugins by npm package name (or a path starting with ./ or /), resolved from `fromDir` as
 * Node resolves a require there. The module's default export, or its `plugin` export, or the module
 * itself must be a plugin made with definePlugin.
 */
export function loadPluginModule(name: string, fromDir: string): Plugin {
  const requireFrom = createRequire(path.join(path.resolve(fromDir), 'package.json'));
  let loaded: any;
  try {
    loaded = requireFrom(name);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'MODULE_NOT_FOUND' && String((error as Error).message).includes(`'${name}'`)) {
      throw new PluginError(`plugin package '${name}' is not installed (looked from ${fromDir}); run npm install ${name}`);
    }
    throw new PluginError(`plugin '${name}' failed to load: ${(error as Error).message}`, { cause: error });
  }
  const plugin: unknown = loaded?.default?.id ? loaded.default : loaded?.plugin?.id ? loaded.plugin : loaded;
  if (!plugin || typeof (plugin as Plugin).id !== 'string' || typeof (plugin as Plugin).version !== 'string') {
    throw new PluginError(`'${name}' does not export a plugin; export definePlugin({ id, version, ... }) as default`);
  }
  return plugin as Plugin;
}
