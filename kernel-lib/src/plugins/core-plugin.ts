import { coreFeatures } from '../features/core-features';
import { moreFeatures } from '../features/more-features';
import { modelFeatures } from '../features/model-features';
import { patternFeatures } from '../features/patterns';
import { crossAssetFeature } from '../features/cross-asset';
import { arimaForecastFeature } from '../features/arima-forecast';
import { directionLabeler } from '../labels/direction';
import { extraLabelers } from '../labels/core-labelers';
import { patternLabeler } from '../labels/pattern-labeler';
import { xgboostClassifier, xgboostRegressor } from '../models/xgboost/xgboost-model';
import { neuralModels } from '../models/neural/neural-model';
import { ensembleModels } from '../models/ensemble/ensemble-model';
import { arimaModels } from '../models/arima/arima-model';
import { rlModels } from '../rl/rl-model';
import { coreStrategies } from '../strategy/core-strategies';
import { coreSplitters } from '../validation/core-splitters';
import { coreSources } from '../data/sources';
import { definePlugin, type Plugin } from './define';
import { PluginRegistry, loadPluginModule } from './registry';

export const CORE_PLUGIN_VERSION = '0.1.0';

/** The built-ins, registered through the same plugin API third-party plugins use. */
export const corePlugin = definePlugin({
  id: 'core',
  version: CORE_PLUGIN_VERSION,
  features: [...coreFeatures, ...moreFeatures, ...modelFeatures, ...patternFeatures, crossAssetFeature, arimaForecastFeature],
  labelers: [directionLabeler, ...extraLabelers, patternLabeler],
  models: [xgboostClassifier, xgboostRegressor, ...neuralModels, ...ensembleModels, ...arimaModels, ...rlModels],
  strategies: coreStrategies,
  splitters: coreSplitters,
  sources: coreSources,
});

/**
 * A registry holding the built-ins plus the given plugins: plugin objects, or package names resolved
 * from `fromDir` (default: the current folder).
 */
export function createRegistry(plugins: ReadonlyArray<Plugin | string> = [], fromDir: string = process.cwd()): PluginRegistry {
  const registry = new PluginRegistry().register(corePlugin);
  for (const plugin of plugins) registry.register(typeof plugin === 'string' ? loadPluginModule(plugin, fromDir) : plugin);
  return registry;
}
