import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { corePlugin, createRegistry } from '../src/plugins/core-plugin';
import { defineFeature, defineLabeler, defineModel, definePlugin, defineSource, defineStrategy, type Plugin } from '../src/plugins/define';
import { checkFeature, checkLabeler, checkModel, checkPlugin, checkSource, checkStrategy, ContractError } from '../src/testing/contracts';
import { scaffoldPlugin, loadPluginFolder } from '../src/plugins/scaffold';
import { generateSyntheticCandles } from '../src/data/synthetic';
import { writeArrowFile } from '../src/data/arrow-file';
import { mergeIntoStore } from '../src/data/store';
import { createRunContext, loadCandles, buildFeatures } from '../src/runner/stages';
import { runSpec } from '../src/runner/run-spec';
import { parseSpec } from '../src/spec/spec';
import { startFakeExchange, type FakeExchange } from '../src/testing';
import type { Candles } from '../src/frame/frame';
import type { FittedModel, Matrix } from '../src/models/model';
import { cli, exec, ROOT, tempDir, workspaceEnv } from './helpers';
import { executeStageNotebook, plotlyCharts } from './notebook-helpers';

const dir = tempDir('plugin-authoring');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const H = 3_600_000;

describe('the built-ins keep the plugin contract (the suites plugin authors run)', () => {
  const registry = createRegistry();
  const reference = path.join(dir, 'eth.arrow');
  writeArrowFile(reference, generateSyntheticCandles({ seed: 12, bars: 3000, symbol: 'ETH/USDT' }));
  const params: Record<string, Record<string, unknown>> = { 'core/cross-asset': { reference: { path: reference } } };

  for (const definition of corePlugin.features ?? []) {
    it(`feature ${definition.id}`, () => {
      const result = checkFeature(definition, { params: params[definition.id], registry });
      expect(result.checks).toContain('causal on prefixes');
    });
  }
  for (const definition of corePlugin.labelers ?? []) {
    it(`labeler ${definition.id}`, () => {
      expect(checkLabeler(definition).checks).toContain('no label without its future (prefixes)');
    });
  }
  for (const definition of corePlugin.strategies ?? []) {
    it(`strategy ${definition.id}`, () => {
      expect(checkStrategy(definition).checks).toEqual(expect.arrayContaining(['targets on a prefix = the full run’s', 'incremental = batch, across a snapshot']));
    });
  }
  for (const definition of corePlugin.models ?? []) {
    it(`model ${definition.id}`, async () => {
      expect((await checkModel(definition, { registry })).checks).toEqual([
        'predictions shaped rows × outputs',
        'save → load = same predictions',
        'seeded: same seed, same predictions',
        'no look-ahead (prefix predictions)',
      ]);
    });
  }

  it('every built-in source: sample, file, store, and exchange (downloaded from the fake exchange in prepare)', async () => {
    const byId = new Map((corePlugin.sources ?? []).map((d) => [d.id, d]));
    expect([...byId.keys()].sort()).toEqual(['core/exchange', 'core/file', 'core/sample', 'core/store']);
    expect((await checkSource(byId.get('core/sample')!, { params: { bars: 500 }, context: { dataDir: path.join(dir, 'sources') } })).checks).toContain('repeatable');
    const file = path.join(dir, 'btc.arrow');
    writeArrowFile(file, generateSyntheticCandles({ seed: 4, bars: 400 }));
    expect((await checkSource(byId.get('core/file')!, { params: { path: file } })).checks).toContain('candles the loader accepts');
    const storeDir = path.join(dir, 'store-data');
    mergeIntoStore({ exchange: 'binance', market: 'spot', symbol: 'BTC/USDT', timeframe: '1h' }, generateSyntheticCandles({ seed: 5, bars: 300 }), storeDir);
    expect((await checkSource(byId.get('core/store')!, { params: { exchange: 'binance', market: 'spot' }, context: { dataDir: storeDir } })).checks).toContain('repeatable');
    const candles = generateSyntheticCandles({ seed: 6, bars: 240, start: '2023-03-01T00:00:00Z' });
    const fake = await startFakeExchange({ datasets: [{ market: 'spot', symbol: 'BTC/USDT', timeframe: '1h', candles }] });
    try {
      const exchangeDir = path.join(dir, 'exchange-data');
      const result = await checkSource(byId.get('core/exchange')!, { params: { start: '2023-03-01', apiUrl: fake.url }, context: { dataDir: exchangeDir } });
      expect(result.checks).toEqual(['prepares', 'candles the loader accepts', 'repeatable']);
      expect(fs.existsSync(path.join(exchangeDir, 'binance', 'spot', 'BTC-USDT', '1h.arrow'))).toBe(true);
    } finally {
      await fake.close();
    }
  });
});

describe('the contract suites catch what they promise to', () => {
  const base = { version: '1.0.0', doc: 'a deliberately broken definition', params: z.object({}) };

  it('a look-ahead feature: the message names the feature, the row and the column', () => {
    const peek = defineFeature({
      ...base,
      id: 'bad/next-close',
      lookback: () => 0,
      outputs: () => ['next_close'],
      compute: (candles) => {
        const close = candles.column('close');
        return { next_close: Float64Array.from(close, (_, i) => close[Math.min(i + 1, close.length - 1)]) };
      },
    });
    expect(() => checkFeature(peek)).toThrow(ContractError);
    expect(() => checkFeature(peek)).toThrow(/^feature bad\/next-close looks ahead: column next_close at row 699 is [\d.]+ with all 2000 rows but [\d.]+ with the first 700; row t may use rows ≤ t only$/);
    // a feature normalised by the whole series looks ahead at every row
    const global = defineFeature({ ...base, id: 'bad/global-z', lookback: () => 0, outputs: () => ['z'], compute: (c) => {
      const close = c.column('close');
      const mean = close.reduce((a, b) => a + b, 0) / close.length;
      return { z: Float64Array.from(close, (v) => v - mean) };
    } });
    expect(() => checkFeature(global)).toThrow(/bad\/global-z looks ahead: column z at row 0 /);
  });

  it('a wrong warm-up, undeclared outputs', () => {
    const late = defineFeature({ ...base, id: 'bad/warmup', lookback: () => 3, outputs: () => ['x'], compute: (c) => ({ x: Float64Array.from(c.column('close'), (v, i) => (i < 5 ? NaN : v)) }) });
    expect(() => checkFeature(late)).toThrow(/declares a warm-up of 3 rows but column x's first value is at row 5/);
    const extra = defineFeature({ ...base, id: 'bad/outputs', lookback: () => 0, outputs: () => ['x'], compute: (c) => ({ x: c.column('close').slice(), y: c.column('close').slice() }) });
    expect(() => checkFeature(extra)).toThrow(/compute returned columns \[x, y\] but outputs\(\) declares \[x\]/);
    const empty = defineFeature({ ...base, id: 'bad/empty', lookback: () => 0, outputs: () => ['x', 'none'], compute: (c) => ({ x: c.column('close').slice(), none: new Float64Array(c.length).fill(NaN) }) });
    expect(() => checkFeature(empty)).toThrow(/declares a warm-up of 0 rows but column none's first value is at row 2000/);
  });

  it('a labeler that fills rows without their future', () => {
    const filled = defineLabeler({ ...base, id: 'bad/filled', task: 'classification', horizon: () => 3, label: (c) => {
      const close = c.column('close');
      const target = Float64Array.from(close, (v, i) => (close[Math.min(i + 3, close.length - 1)] > v ? 0 : 1));
      return { target, classes: ['UP', 'DOWN'] };
    } });
    expect(() => checkLabeler(filled)).toThrow(/labeler bad\/filled fills a label without its future: row 447 of the first 450 rows is [01], but 3 bars after it are not in the data/);
  });

  it('a strategy that decides with the next bar', () => {
    const peek = defineStrategy({ ...base, id: 'bad/next-bar', needs: { predictions: false }, targets: (input) => {
      const close = input.candles.column('close');
      return Float64Array.from(close, (v, i) => (i + 1 < close.length && close[i + 1] > v ? 1 : 0));
    } });
    expect(() => checkStrategy(peek)).toThrow(/strategy bad\/next-bar looks ahead: its target at bar \d+ is [01] with all 1500 bars but [01] with the first \d+/);
  });

  it('a model that reads the next row, and one that does not save what it learned', async () => {
    const fitted = (shift: number, bias: number): FittedModel => ({
      modelId: 'bad/model', modelVersion: '1.0.0', task: 'regression', featureNames: ['f0'], info: {},
      predict: async (X: Matrix) => Float32Array.from({ length: X.rows }, (_, r) => X.values[Math.min(r + shift, X.rows - 1) * X.cols] + bias),
      save: async (target: string) => (fs.mkdirSync(target, { recursive: true }), []),
      dispose: () => {},
    });
    const ahead = defineModel({ ...base, id: 'bad/ahead', task: 'regression', fit: async () => fitted(1, 0), load: async () => fitted(1, 0) });
    await expect(checkModel(ahead)).rejects.toThrow(/model bad\/ahead looks ahead: its prediction for row 99 is .* when later rows are given/);
    const forgetful = defineModel({ ...base, id: 'bad/forgetful', task: 'regression', fit: async () => fitted(0, 0.5), load: async () => fitted(0, 0) });
    await expect(checkModel(forgetful)).rejects.toThrow(/fit → save → load changes predictions: row 0, output 0/);
  });

  it('a column source that revises history (normalised over the span it is asked for)', async () => {
    const revising = defineSource({ ...base, id: 'bad/revising', provides: 'columns', outputs: () => ['x'], load: (_p, context) => {
      const times = context.barTimes!;
      const knownAt = Float64Array.from(times, (t) => t + H);
      const raw = Float64Array.from(times, (t) => Math.sin(t / 1e7));
      const mean = raw.reduce((a, b) => a + b, 0) / raw.length;
      return { knownAt, columns: { x: raw.map((v) => v - mean) } };
    } });
    await expect(checkSource(revising)).rejects.toThrow(/source bad\/revising revises history \(loaded for the first 600 bars\): column x at row 0/);
  });
});

/** A plugin with a candle source (a seeded market by its own rules) and a column source, defined in a notebook cell or a test. */
const marketSource = defineSource({
  id: 'test/market',
  version: '1.0.0',
  doc: 'seeded candles',
  provides: 'candles',
  params: z.object({ seed: z.number().int().default(3), bars: z.number().int().default(1500), broken: z.boolean().default(false) }),
  load: (p) => {
    const candles = generateSyntheticCandles({ seed: p.seed, bars: p.bars });
    if (!p.broken) return candles;
    const high = candles.column('high').slice();
    high[10] = candles.column('low')[10] / 2;
    return candles.withColumns({ high }) as Candles;
  },
});
const fundingSource = defineSource({
  id: 'test/funding',
  version: '1.0.0',
  doc: 'a funding print every 8 hours, published at the end of its period',
  provides: 'columns',
  params: z.object({}),
  outputs: () => ['funding_rate'],
  load: (_p, context) => {
    const times = context.barTimes!;
    const knownAt: number[] = [];
    const values: number[] = [];
    for (let t = Math.floor(times[0] / (8 * H)) * 8 * H; t <= times[times.length - 1] + H; t += 8 * H) {
      knownAt.push(t + 8 * H);
      values.push(1e-4 * Math.sin(t / (50 * H)));
    }
    return { knownAt: Float64Array.from(knownAt), columns: { funding_rate: Float64Array.from(values) } };
  },
});
const sourcesPlugin: Plugin = definePlugin({ id: 'test-sources', version: '1.0.0', sources: [marketSource, fundingSource] });

describe('sources in a spec', () => {
  const spec = {
    name: 'plugin-source',
    data: { source: 'test/market', seed: 4, bars: 1200, side: [{ id: 'test/funding' }] },
    features: [{ id: 'core/rsi' }, { id: 'core/funding', params: { window: 6 } }],
    label: { id: 'core/direction' },
    model: { id: 'core/xgboost', params: { rounds: 20 } },
    strategy: { id: 'core/probability-threshold' },
    register: false,
  };

  it('a plugin candle source and a column source: params validated, candles loaded, columns joined causally', () => {
    const context = createRunContext(spec as never, { plugins: [sourcesPlugin], workspace: { dataDir: path.join(dir, 'spec-data') }, log: () => {} });
    expect(context.plan.source.definition.id).toBe('test/market');
    expect(context.plan.source.params).toEqual({ seed: 4, bars: 1200, broken: false });
    expect(context.plan.side.map((s) => s.definition.id)).toEqual(['test/funding']);
    const candles = loadCandles(context);
    expect(candles.length).toBe(1200);
    expect([candles.meta.symbol, candles.meta.timeframe]).toEqual(['BTC/USDT', '1h']);
    const funding = candles.column('funding_rate' as 'close');
    const firstPeriod = Math.floor(candles.time[0] / (8 * H)) * 8 * H;
    let seen = 0;
    for (let i = 0; i < candles.length; i++) {
      // the latest print known strictly before the bar's close: knownAt = period start + 8h < time + 1h
      const period = Math.floor((candles.time[i] - 7 * H - 1) / (8 * H)) * 8 * H;
      if (period < firstPeriod) expect(Number.isNaN(funding[i]), `bar ${i}`).toBe(true);
      else {
        expect(funding[i], `bar ${i}`).toBe(1e-4 * Math.sin(period / (50 * H)));
        seen++;
      }
    }
    expect(seen).toBeGreaterThan(1150);
    const features = buildFeatures(context, candles);
    expect(features.names).toContain('funding_ma_6');
  });

  it('refuses what does not fit: an unknown source, a column source as data.source, impossible plugin candles', () => {
    expect(() => parseSpec({ ...spec, data: { source: 'ftp' } })).toThrow(/'data.source' is not a data source: use sample, file, store, exchange, or a plugin's source id like '@acme\/onchain'/);
    expect(() => createRunContext({ ...spec, data: { source: 'test/markte' } } as never, { plugins: [sourcesPlugin] })).toThrow(/unknown source 'test\/markte' \(did you mean 'test\/market'\?\)/);
    expect(() => createRunContext({ ...spec, data: { source: 'test/funding' } } as never, { plugins: [sourcesPlugin] })).toThrow(/data.source 'test\/funding' provides columns, not candles; list it under data.side/);
    expect(() => createRunContext({ ...spec, data: { source: 'test/market', sede: 1 } } as never, { plugins: [sourcesPlugin] })).toThrow(/source test\/market: unknown param 'sede' \(did you mean 'seed'\?\)/);
    const broken = createRunContext({ ...spec, data: { source: 'test/market', broken: true } } as never, { plugins: [sourcesPlugin], workspace: { dataDir: path.join(dir, 'spec-data') }, log: () => {} });
    expect(() => loadCandles(broken)).toThrow(/test\/market.*2021-01-01T10:00:00/);
  });

  it('the exchange source in a spec: candlelab run downloads the range from the (fake) exchange, then trains on it', async () => {
    const candles = generateSyntheticCandles({ seed: 8, bars: 2000, start: '2023-01-01T00:00:00Z' });
    const fake: FakeExchange = await startFakeExchange({ datasets: [{ market: 'spot', symbol: 'BTC/USDT', timeframe: '1h', candles }] });
    try {
      const specFile = path.join(dir, 'exchange-spec.json');
      const exchangeSpec = { ...spec, name: 'exchange-source', data: { source: 'exchange', exchange: 'binance', market: 'spot', symbol: 'BTC/USDT', timeframe: '1h', start: '2023-01-01', end: '2023-03-01', apiUrl: fake.url }, features: [{ id: 'core/rsi' }, { id: 'core/returns' }] };
      fs.writeFileSync(specFile, JSON.stringify(exchangeSpec));
      const env = workspaceEnv(path.join(dir, 'exchange-run'));
      const result = await cli(['run', specFile, '--json', '--progress', 'quiet'], env);
      expect(result.status, result.stderr).toBe(0);
      expect(result.stderr).toMatch(/binance\/spot\/BTC-USDT\/1h: 1416 new candles, 1416 stored/);
      const summary = JSON.parse(result.stdout);
      const record = JSON.parse(fs.readFileSync(path.join(summary.runDir, 'run.json'), 'utf8'));
      expect(record.data.rows).toBe(1416); // 59 days of hourly bars
      expect(record.data.source).toBe('binance/spot/BTC-USDT/1h');
      // a second run reads the store; the download resumes with nothing new
      const again = await cli(['run', specFile, '--json', '--progress', 'quiet'], env);
      expect(again.status, again.stderr).toBe(0);
      expect(again.stderr).toMatch(/0 new candles, 1416 stored/);
      expect(JSON.parse(again.stdout).fingerprint).toBe(summary.fingerprint);
    } finally {
      await fake.close();
    }
  });

  it('a run with the example plugin: its sentiment source joined as a column, its feature reading it', async () => {
    const result = await runSpec('specs/example-plugin.json', { overrides: ['model.params.rounds=20', 'data.bars=3000'], workspace: { runsDir: path.join(dir, 'example-runs'), modelsDir: path.join(dir, 'example-models'), dataDir: path.join(dir, 'example-data') }, progress: 'quiet', log: () => {} });
    expect(result.record.features.map((f: { id: string }) => f.id)).toContain('example/sentiment-change');
    expect(result.record.features.find((f: { id: string }) => f.id === 'example/sentiment-change')!.outputs).toEqual(['sentiment_change_24']);
  });
});

describe('candlelab plugin new / plugin test', () => {
  for (const kind of ['feature', 'labeler', 'model', 'strategy', 'source'] as const) {
    it(`scaffolds a ${kind} plugin outside the workspace that builds and keeps its contract`, async () => {
      const target = path.join(dir, `outside-${kind}`);
      const made = await cli(['plugin', 'new', `my-${kind}s`, '--kind', kind, '--dir', target]);
      expect(made.status, made.stderr).toBe(0);
      expect(made.stdout).toMatch(new RegExp(`wrote ${kind} plugin my-${kind}s \\(my-${kind}s/[\\w-]+\\)`));
      for (const file of ['package.json', 'tsconfig.json', 'src/index.ts', 'test/plugin.test.ts', 'README.md']) expect(fs.existsSync(path.join(target, file)), file).toBe(true);
      expect(fs.realpathSync(path.join(target, 'node_modules', 'candlelab'))).toBe(fs.realpathSync(path.join(ROOT, 'kernel-lib')));
      const tested = await cli(['plugin', 'test', target, '--json']);
      expect(tested.status, tested.stderr + tested.stdout).toBe(0);
      expect(tested.stderr).toMatch(/building .* \(tsc -p\)/);
      const report = JSON.parse(tested.stdout);
      expect(report.ok).toBe(true);
      expect(report.definitions).toHaveLength(1);
      expect(report.definitions[0].kind).toBe(kind);
      expect(report.definitions[0].checks.length).toBeGreaterThanOrEqual(3);
      if (kind === 'feature') {
        // built once: a second run finds dist/ fresh
        const again = await cli(['plugin', 'test', target]);
        expect(again.status).toBe(0);
        expect(again.stderr).not.toMatch(/building/);
        expect(again.stdout).toMatch(/1 of 1 definition\(s\) keep the contract/);
      }
    });
  }

  it("a scaffold's own vitest file runs green", async () => {
    const target = scaffoldPlugin({ name: 'vitest-model', kind: 'model', dir: path.join(dir, 'vitest-model'), workspaceRoot: ROOT }).dir;
    fs.symlinkSync(path.join(ROOT, 'node_modules', 'vitest'), path.join(target, 'node_modules', 'vitest'), 'dir');
    const run = await exec(process.execPath, [path.join(ROOT, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--root', '.'], { NO_COLOR: '1', FORCE_COLOR: '0' }, target);
    expect(run.status, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/Tests\s+2 passed/);
  });

  it('inside a workspace: written to plugins/<name>, linked into node_modules, loadable by name from a spec', () => {
    const root = path.join(dir, 'workspace');
    fs.mkdirSync(path.join(root, 'node_modules'), { recursive: true });
    fs.writeFileSync(path.join(root, 'package.json'), JSON.stringify({ name: 'w', private: true, workspaces: ['plugins/*'] }));
    fs.symlinkSync(path.join(ROOT, 'kernel-lib'), path.join(root, 'node_modules', 'candlelab'), 'dir'); // as npm install would
    const made = scaffoldPlugin({ name: '@acme/signals', kind: 'strategy', workspaceRoot: root });
    expect(made.dir).toBe(path.join(root, 'plugins', 'signals'));
    expect(made.inWorkspace).toBe(true);
    expect(fs.realpathSync(path.join(root, 'node_modules', '@acme', 'signals'))).toBe(made.dir);
    const { plugin, built } = loadPluginFolder(made.dir);
    expect(built).toBe(true);
    expect(createRegistry(['@acme/signals'], root).resolve('strategy', 'signals/threshold').id).toBe('signals/threshold');
    expect(plugin.id).toBe('@acme/signals');
    expect(() => scaffoldPlugin({ name: '@acme/signals', kind: 'strategy', workspaceRoot: root })).toThrow(/already exists and is not empty/);
    expect(() => scaffoldPlugin({ name: 'Bad Name', workspaceRoot: root })).toThrow(/is not an npm package name/);
  });

  it('fails a plugin with a look-ahead feature, naming the feature, the row and the column (exit 1)', async () => {
    const target = path.join(dir, 'peek');
    fs.mkdirSync(target, { recursive: true });
    fs.writeFileSync(path.join(target, 'package.json'), JSON.stringify({ name: 'peek', version: '0.1.0', main: 'index.js' }));
    fs.writeFileSync(
      path.join(target, 'index.js'),
      `const { defineFeature, definePlugin, z } = require(${JSON.stringify(path.join(ROOT, 'kernel-lib'))});
const ok = defineFeature({ id: 'peek/ok', version: '1.0.0', doc: 'close', params: z.object({}), lookback: () => 0, outputs: () => ['c'], compute: (c) => ({ c: c.column('close').slice() }) });
const peek = defineFeature({ id: 'peek/next-high', version: '1.0.0', doc: 'the next high', params: z.object({}), lookback: () => 0, outputs: () => ['next_high'],
  compute: (c) => { const h = c.column('high'); return { next_high: Float64Array.from(h, (v, i) => h[Math.min(i + 1, h.length - 1)]) }; } });
module.exports = definePlugin({ id: 'peek', version: '0.1.0', features: [ok, peek] });
`,
    );
    const result = await cli(['plugin', 'test', target]);
    expect(result.status).toBe(1);
    expect(result.stdout).toMatch(/^ok {3}feature peek\/ok/m);
    expect(result.stdout).toMatch(/FAIL feature peek\/next-high .*\n\s+feature peek\/next-high looks ahead: column next_high at row 699 is [\d.]+ with all 2000 rows but [\d.]+ with the first 700/);
    expect(result.stdout).toMatch(/peek@0.1.0: 1 of 2 definition\(s\) keep the contract; failing: peek\/next-high/);
  });

  it('the example plugin keeps its contract through the CLI, and bad folders get one-line errors', async () => {
    const example = await cli(['plugin', 'test', 'plugins/example']);
    expect(example.status, example.stderr).toBe(0);
    expect(example.stdout).toMatch(/ok {3}source example\/sentiment .*point in time/);
    expect(example.stdout).toMatch(/4 of 4 definition\(s\) keep the contract/);
    const missing = await cli(['plugin', 'test', path.join(dir, 'nothing-here')]);
    expect(missing.status).toBe(1);
    expect(missing.stderr.trim()).toMatch(/^candlelab: error: .*nothing-here has no package.json; give a plugin package folder \(candlelab plugin new makes one\)$/);
    const kind = await cli(['plugin', 'new', 'x', '--kind', 'indicator', '--dir', path.join(dir, 'x')]);
    expect(kind.status).toBe(1);
    expect(kind.stderr).toMatch(/--kind indicator is not a plugin kind; use one of feature, labeler, model, strategy, source/);
  });

  it('checkPlugin collects every outcome instead of stopping at the first', async () => {
    const entries = await checkPlugin(definePlugin({ id: 'mixed', version: '1.0.0', sources: [fundingSource], strategies: corePlugin.strategies!.slice(0, 2) }));
    expect(entries.map((e) => [e.kind, e.ok])).toEqual([['source', true], ['strategy', true], ['strategy', true]]);
  });
});

describe('notebook 12-plugin-authoring', () => {
  it('runs in real Jupyter: the contract passes a good feature, names a look-ahead one, joins a source, checks a scaffold', async () => {
    const { outputs, html, printed: text } = await executeStageNotebook('12-plugin-authoring.ipynb', dir, 'notebook');
    expect(html).toMatch(/notebook\/range-position.*causal on prefixes.*passed/s);
    expect(text).toMatch(/contract: feature notebook\/centred-mean looks ahead: column centred_mean_5 at row 698 is [\d.]+ with all 2000 rows but [\d.]+ with the first 700/);
    expect(html).toMatch(/notebook\/funding-pressure.*point in time: no revised rows, causal join.*passed/s);
    expect(html).toMatch(/not yet published|0\.\d{4}/);
    expect(html).toMatch(/funding_pressure_x_range_position_24/);
    expect(text).toMatch(/1 of 1 definition\(s\) keep the contract/);
    expect(plotlyCharts(outputs)).toBeGreaterThanOrEqual(1);
  });
});
