import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../errors';
import { ModelRegistry, parseModelStage, type ModelVersion, type VersionSelector } from '../registry/model-registry';
import type { FittedModel } from '../models/model';
import type { PlannedFeature } from '../features/compute-features';
import { createRunContext, type RunContext } from '../runner/stages';
import { applyOverrides, singleDataSource, type SpecInput } from '../spec/spec';
import { openWorkspace, type WorkspaceOverrides } from '../workspace';

/** What a paper or live session trades with: the spec resolved into a plan, and the registry's model. */
export type TradingSetup = {
  context: RunContext;
  model: FittedModel;
  version: ModelVersion;
};

/** `name`, `name@staging`, `name@production`, `name@3` → name and version selector (default: production). */
export function parseModelReference(text: string): { name: string; selector: VersionSelector } {
  const at = text.lastIndexOf('@');
  if (at < 0) return { name: text, selector: { stage: 'production' } };
  const name = text.slice(0, at);
  const which = text.slice(at + 1);
  if (!name || !which) throw new ConfigError(`--model '${text}' must look like name, name@stage or name@version (e.g. quickstart-BTC-USDT-1h@production)`);
  if (/^\d+$/.test(which)) return { name, selector: { version: Number(which) } };
  return { name, selector: { stage: parseModelStage(which) } };
}

/** What a session reads from the run.json of the run that registered its model. */
type RegisteringRun = { spec: SpecInput; coins?: Array<{ coin: string; model?: { name: string } }> };

/**
 * A multi-coin run's spec narrowed to the coin a registered model trades: that coin's data entry, no
 * `models` section. A per-coin or fine-tuned model names its coin; the universal model predicts every
 * coin, so `symbol` picks one (else a one-line error lists them).
 */
export function coinSpec(run: RegisteringRun, modelName: string, symbol?: string): SpecInput {
  const entries = run.spec.data as unknown as Array<{ symbol?: string }>;
  const coins = (run.coins ?? []).filter((c) => c.model?.name === modelName).map((c) => c.coin);
  let coin: string | undefined;
  if (symbol !== undefined) {
    if (!entries.some((e) => e.symbol === symbol)) throw new ConfigError(`--symbol ${symbol} is not a coin of the multi-coin run that registered ${modelName}; its coins: ${entries.map((e) => e.symbol).join(', ')}`);
    if (coins.length === 1 && coins[0] !== symbol) throw new ConfigError(`${modelName} was trained for ${coins[0]}, not ${symbol}; drop --symbol or pick the model of ${symbol}`);
    coin = symbol;
  } else if (coins.length === 1) coin = coins[0];
  else throw new ConfigError(`${modelName} is the universal model of a multi-coin run (coins ${entries.map((e) => e.symbol).join(', ')}); pass --symbol to choose the coin to trade`);
  const { models: _models, ...rest } = run.spec as SpecInput & { models?: unknown };
  return { ...rest, data: entries.find((e) => e.symbol === coin) } as SpecInput;
}

/**
 * Resolve a session's spec and model, once, at the boundary:
 *   - a spec file: its plan, and its registered model (`model.name`, else `<name>-<symbol>-<timeframe>`) in
 *     production, unless `model` names another;
 *   - only a model: the spec of the run that registered that version (runs/<runId>/run.json).
 */
export async function resolveTradingSetup(options: {
  spec?: string | SpecInput;
  model?: string;
  workspace?: WorkspaceOverrides;
  overrides?: readonly string[];
  /** A multi-coin run's universal model: the coin to trade (its data entry in the run's spec). */
  symbol?: string;
}): Promise<TradingSetup> {
  if (!options.spec && !options.model) throw new ConfigError('give a spec file or --model name[@stage]');
  const workspace = openWorkspace(options.workspace);
  const registry = new ModelRegistry(workspace.modelsDir);
  let context: RunContext;
  let reference: { name: string; selector: VersionSelector };
  if (options.spec) {
    // a spec object (a saved session's) resolves against this workspace
    const where = typeof options.spec === 'string' ? options.workspace : { ...options.workspace, root: workspace.root };
    const source = typeof options.spec === 'string' ? options.spec : (applyOverrides(options.spec, options.overrides ?? []) as SpecInput);
    context = createRunContext(source, { workspace: where, overrides: typeof options.spec === 'string' ? options.overrides : undefined, progress: 'quiet' });
    const spec = context.spec;
    reference = options.model
      ? parseModelReference(options.model)
      : { name: spec.model.name ?? `${spec.name}-${singleDataSource(spec, 'a trading session').symbol}-${singleDataSource(spec).timeframe}`.replace(/[^\w.-]+/g, '-'), selector: { stage: 'production' } };
  } else {
    reference = parseModelReference(options.model!);
    const version = registry.resolve(reference.name, reference.selector);
    const runFile = path.join(workspace.runsDir, version.runId, 'run.json');
    if (!fs.existsSync(runFile)) {
      throw new ConfigError(`${reference.name} v${version.version} was registered by run ${version.runId}, whose run.json is not in ${workspace.runsDir}; pass the spec file too (candlelab paper <spec.json> --model ${reference.name}@${version.version})`);
    }
    const run = JSON.parse(fs.readFileSync(runFile, 'utf8')) as RegisteringRun;
    const spec = Array.isArray(run.spec.data) ? coinSpec(run, reference.name, options.symbol) : run.spec;
    // --set applies to the run's spec too (a strategy threshold, backtest costs)
    context = createRunContext(applyOverrides(spec, options.overrides ?? []) as SpecInput, { workspace: { ...options.workspace, root: workspace.root }, progress: 'quiet' });
  }
  const version = registry.resolve(reference.name, reference.selector);
  const plan = context.plan;
  if (version.modelId !== plan.model.definition.id) {
    throw new ConfigError(`${reference.name} v${version.version} is a ${version.modelId} model but the spec trains ${plan.model.definition.id}; pass the spec that registered it`);
  }
  const model = await registry.loadModel(reference.name, { version: version.version }, { plugins: context.registry });
  return { context, model, version };
}

/**
 * Refuse, before a session starts, the features its one-symbol candle stream cannot feed: core/cross-asset
 * reads another symbol's candles (a store entry or a file nobody updates during the session, so its values
 * would silently go stale: the reference held at its last stored bar), and any feature reading a data
 * column (funding_rate, a reference column) that no earlier feature makes and the store's side tables for the
 * session's symbol do not hold (`sideColumns`: those are joined to each streamed candle), since the stream
 * carries OHLCV only. The error is one line naming the feature, the problem and the fix.
 */
export function checkSessionFeatures(features: readonly PlannedFeature[], kind: string, sideColumns: readonly string[] = []): void {
  const made = new Set<string>(['open', 'high', 'low', 'close', 'volume', ...sideColumns]);
  for (const { definition, params, inputs, outputs } of features) {
    if (definition.id === 'core/cross-asset') {
      const reference = (params as { reference: Record<string, unknown> }).reference;
      const what = 'column' in reference ? `the data column '${String(reference.column)}'` : 'path' in reference ? `the file ${String(reference.path)}` : `${String(reference.symbol)} from the data store`;
      throw new ConfigError(`core/cross-asset reads another symbol's candles (${what}), which a ${kind} session does not stream (it streams one symbol; the reference would go stale after the session starts); trade a model trained without core/cross-asset`);
    }
    const missing = inputs.filter((name) => !made.has(name));
    if (missing.length) {
      throw new ConfigError(`feature ${definition.id} reads the data column${missing.length > 1 ? 's' : ''} ${missing.map((m) => `'${m}'`).join(', ')}, which a ${kind} session's candle stream does not carry (OHLCV, plus the store's side tables for the symbol: none hold it); fetch it into the store (candlelab data fetch … --market futures stores funding and open interest) or trade a model trained without it`);
    }
    for (const name of outputs) made.add(name);
  }
}
