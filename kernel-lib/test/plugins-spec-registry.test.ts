import * as fs from 'node:fs';
import { loadSearchSpace } from '../src/runner/tune-space';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { PluginRegistry, loadPluginModule } from '../src/plugins/registry';
import { corePlugin, createRegistry } from '../src/plugins/core-plugin';
import { defineFeature, definePlugin } from '../src/plugins/define';
import { applyOverrides, loadSpec, parseSpec } from '../src/spec/spec';
import { ModelRegistry } from '../src/registry/model-registry';
import type { Artifact, FittedModel } from '../src/models/model';
import { ConfigError, PluginError, RegistryError } from '../src/errors';
import { ROOT, tempDir } from './helpers';

const dir = tempDir('registry');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const myFeature = defineFeature({
  id: 'acme/ones',
  version: '1.0.0',
  doc: 'A column of ones.',
  params: z.object({ scale: z.number().default(1) }),
  lookback: () => 0,
  outputs: () => ['ones'],
  compute: (candles, p) => ({ ones: new Float64Array(candles.length).fill(p.scale) }),
});
const acme = definePlugin({ id: '@acme/plugin', version: '1.0.0', features: [myFeature] });

describe('plugin registry', () => {
  it('registers the built-ins through the plugin API and resolves by id', () => {
    const registry = createRegistry();
    expect(registry.listPlugins().map((p) => p.id)).toEqual(['core']);
    expect(registry.resolve('feature', 'core/rsi').id).toBe('core/rsi');
    expect(registry.list('model').map((m) => m.id)).toEqual(expect.arrayContaining(['core/xgboost', 'core/lstm', 'core/lstm-regressor', 'core/tcn', 'core/tcn-regressor']));
  });

  it('treats registering the same plugin again as a no-op (re-run notebook cells)', () => {
    const registry = createRegistry([acme]);
    expect(() => registry.register(acme)).not.toThrow();
    expect(registry.list('feature').filter((f) => f.id === 'acme/ones')).toHaveLength(1);
  });

  it('refuses a different definition under the same kind/id@version, naming both plugins', () => {
    const impostor = definePlugin({ id: '@other/plugin', version: '1.0.0', features: [{ ...myFeature }] });
    expect(() => createRegistry([acme, impostor])).toThrow(/feature\/acme\/ones@1.0.0 is defined by both plugin '@acme\/plugin' and plugin '@other\/plugin'/);
  });

  it('answers an unknown id with the nearest match and the registered ids', () => {
    expect(() => createRegistry().resolve('feature', 'core/rsii')).toThrow(PluginError);
    expect(() => createRegistry().resolve('feature', 'core/rsii')).toThrow(/did you mean 'core\/rsi'\?.*registered features: .*core\/atr/);
  });

  it('answers an unknown param with the nearest one', () => {
    expect(() => createRegistry().resolveWithParams('feature', { id: 'core/rsi', params: { periode: 3 } })).toThrow(/unknown param 'periode' \(did you mean 'period'\?\)/);
  });

  it('picks the highest version unless one is pinned', () => {
    const v2 = { ...myFeature, version: '2.0.0' };
    const registry = new PluginRegistry().register(acme).register(definePlugin({ id: '@acme/plugin-v2', version: '2.0.0', features: [v2] }));
    expect(registry.resolve('feature', 'acme/ones').version).toBe('2.0.0');
    expect(registry.resolve('feature', 'acme/ones', '1.0.0').version).toBe('1.0.0');
    expect(() => registry.resolve('feature', 'acme/ones', '3.0.0')).toThrow(/no version 3.0.0; registered: 1.0.0, 2.0.0/);
  });

  it('requires namespaced ids', () => {
    const bad = definePlugin({ id: 'bad', version: '1.0.0', features: [{ ...myFeature, id: 'ones' }] });
    expect(() => new PluginRegistry().register(bad)).toThrow(/must be namespaced/);
  });

  it('loads plugin packages by name, with a clear error for a missing one', () => {
    const example = loadPluginModule('@candlelab/plugin-example', ROOT);
    expect(example.id).toBe('@candlelab/plugin-example');
    expect(example.features?.map((f) => f.id)).toEqual(['example/zscore', 'example/sentiment-change']);
    expect(example.sources?.map((s) => s.id)).toEqual(['example/sentiment']);
    expect(() => loadPluginModule('@nobody/not-installed', ROOT)).toThrow(/plugin package '@nobody\/not-installed' is not installed.*npm install/);
  });

  it('keeps no module-level state: two registries are independent', () => {
    const a = createRegistry([acme]);
    const b = createRegistry();
    expect(a.list('feature').some((f) => f.id === 'acme/ones')).toBe(true);
    expect(b.list('feature').some((f) => f.id === 'acme/ones')).toBe(false);
    expect(corePlugin.features?.length).toBeGreaterThan(0);
  });
});

describe('spec validation', () => {
  const minimal = {
    data: { source: 'sample' },
    features: [{ id: 'core/rsi' }],
    label: { id: 'core/direction' },
    model: { id: 'core/xgboost' },
    strategy: { id: 'core/probability-threshold' },
  };

  it('fills defaults', () => {
    const spec = parseSpec(minimal);
    expect(spec.split).toEqual({ train: 0.7, valid: 0.15, test: 0.15 });
    expect(spec.backtest).toMatchObject({ initialCash: 10_000, commissionBps: 10, slippageBps: 5, fill: 'next-open', exclusive: false, leverage: 1 });
    expect(spec.backtest.sizing).toEqual({ kind: 'equity-fraction', fraction: 1 });
    expect(spec.data).toMatchObject({ symbol: 'BTC/USDT', timeframe: '1h', bars: 26_280 });
  });

  it('names the offending field', () => {
    expect(() => parseSpec({ ...minimal, features: [] })).toThrow(/'features' needs at least one feature/);
    expect(() => parseSpec({ ...minimal, backtest: { commissionBps: 'ten' } })).toThrow(/'backtest.commissionBps' expected number, received string/);
    expect(() => parseSpec({ ...minimal, data: { source: 'sample', timeframe: 'hourly' } })).toThrow(/'data.timeframe' must look like 1m/);
    expect(() => parseSpec({ ...minimal, data: { source: 'ftp' } })).toThrow(/'data.source' is not a data source: use sample, file, store, exchange, or a plugin's source id/);
  });

  it('suggests the nearest field for an unknown one', () => {
    expect(() => parseSpec({ ...minimal, strategi: {} })).toThrow(/unknown field 'strategi' \(did you mean 'strategy'\?\)/);
    expect(() => parseSpec({ ...minimal, backtest: { comissionBps: 3 } })).toThrow(/unknown field 'backtest.comissionBps' \(did you mean 'commissionBps'\?\)/);
  });

  it('applies --set overrides, parsing JSON values', () => {
    const raw = applyOverrides(minimal, ['strategy.params.buyThreshold=0.6', 'features.0.params.period=21', 'name=tuned', 'features.1.id=core/atr']);
    const spec = parseSpec(raw);
    expect(spec.strategy.params).toEqual({ buyThreshold: 0.6 });
    expect(spec.features[0].params).toEqual({ period: 21 });
    expect(spec.features[1].id).toBe('core/atr');
    expect(spec.name).toBe('tuned');
    expect(() => applyOverrides(minimal, ['nonsense'])).toThrow(/must look like path=value/);
  });

  it('reports unreadable and malformed spec files', () => {
    expect(() => loadSpec(path.join(dir, 'none.json'))).toThrow(ConfigError);
    const broken = path.join(dir, 'broken.json');
    fs.writeFileSync(broken, '{ "name": ');
    expect(() => loadSpec(broken)).toThrow(/broken\.json is not valid JSON/);
  });

  it('the shipped specs and search spaces are valid', () => {
    const specs = fs.readdirSync(path.join(ROOT, 'specs')).filter((file) => file.endsWith('.json'));
    expect(specs).toContain('walk-forward.json');
    for (const file of specs) expect(() => loadSpec(path.join(ROOT, 'specs', file))).not.toThrow();
    for (const file of fs.readdirSync(path.join(ROOT, 'specs', 'spaces'))) expect(() => loadSearchSpace(path.join(ROOT, 'specs', 'spaces', file))).not.toThrow();
  });
});

/** A fitted model stand-in: the registry only needs save() and the descriptive fields. */
function fakeModel(label: string, delayMs = 0): FittedModel {
  return {
    modelId: 'test/fake',
    modelVersion: '1.0.0',
    task: 'classification',
    featureNames: ['a', 'b'],
    classes: ['SELL', 'HOLD', 'BUY'],
    info: {},
    predict: async () => new Float32Array(0),
    async save(target: string): Promise<Artifact[]> {
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      fs.mkdirSync(target, { recursive: true });
      fs.writeFileSync(path.join(target, 'weights.txt'), label);
      return [{ path: 'weights.txt', kind: 'weights', sha256: '', bytes: label.length }];
    },
    dispose() {},
  };
}

const request = (model: FittedModel, runId: string) => ({
  name: 'btc-direction',
  createdAt: '2026-01-01T00:00:00.000Z',
  params: {},
  label: {},
  metrics: { test: { accuracy: 0.5 } },
  dataFingerprint: 'd',
  specHash: 's',
  runId,
  codeVersion: '0.1.0',
  model,
});

describe('model registry', () => {
  it('numbers versions, records metrics and artifacts, lists and shows them', async () => {
    const registry = new ModelRegistry(path.join(dir, 'models-a'));
    const v1 = await registry.register(request(fakeModel('one'), 'run-1'));
    const v2 = await registry.register(request(fakeModel('two'), 'run-2'));
    expect([v1.version, v2.version]).toEqual([1, 2]);
    expect(registry.names()).toEqual(['btc-direction']);
    expect(registry.list('btc-direction').map((v) => v.runId)).toEqual(['run-1', 'run-2']);
    expect(registry.get('btc-direction')).toMatchObject({ version: 2, stage: 'staging', featureNames: ['a', 'b'], metrics: { test: { accuracy: 0.5 } } });
    expect(fs.readFileSync(path.join(registry.artifactDir('btc-direction', 1), 'weights.txt'), 'utf8')).toBe('one');
    expect(() => registry.get('btc-direction', 7)).toThrow(/has no version 7; versions: 1, 2/);
    expect(() => registry.get('eth')).toThrow(RegistryError);
  });

  it('loses nothing when registrations run concurrently', async () => {
    const registry = new ModelRegistry(path.join(dir, 'models-b'));
    const versions = await Promise.all(Array.from({ length: 8 }, (_, i) => registry.register(request(fakeModel(`m${i}`, (7 - i) * 3), `run-${i}`))));
    expect(versions.map((v) => v.version).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const stored = registry.list('btc-direction');
    expect(stored.map((v) => v.runId).sort()).toEqual(Array.from({ length: 8 }, (_, i) => `run-${i}`).sort());
    for (const v of stored) {
      expect(fs.readFileSync(path.join(registry.artifactDir('btc-direction', v.version), 'weights.txt'), 'utf8')).toBe(`m${v.runId.slice(4)}`);
    }
  });

  it('stays readable after a crash mid-write (a leftover temp folder is ignored)', async () => {
    const registry = new ModelRegistry(path.join(dir, 'models-c'));
    await registry.register(request(fakeModel('ok'), 'run-ok'));
    const crashed = path.join(dir, 'models-c', 'btc-direction', 'versions', '.tmp-999-dead');
    fs.mkdirSync(crashed);
    fs.writeFileSync(path.join(crashed, 'weights.txt'), 'half');
    expect(registry.list('btc-direction').map((v) => v.version)).toEqual([1]);
    expect((await registry.register(request(fakeModel('next'), 'run-next'))).version).toBe(2);
  });

  it('writes nothing when saving the model fails', async () => {
    const registry = new ModelRegistry(path.join(dir, 'models-d'));
    const failing = { ...fakeModel('x'), save: async () => Promise.reject(new Error('disk full')) };
    await expect(registry.register(request(failing, 'run-x'))).rejects.toThrow('disk full');
    expect(fs.readdirSync(path.join(dir, 'models-d', 'btc-direction', 'versions'))).toEqual([]);
    expect(registry.names()).toEqual([]);
  });
});
