export * from './define';
export { PluginRegistry, parseParams, loadPluginModule, type DefinitionRef } from './registry';
export { corePlugin, createRegistry, CORE_PLUGIN_VERSION } from './core-plugin';
export { describeParams, formatParams, type ParamDescription } from './describe';
export { scaffoldPlugin, loadPluginFolder, PLUGIN_KINDS, type PluginKind, type ScaffoldOptions, type ScaffoldResult } from './scaffold';
