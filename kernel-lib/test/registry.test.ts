import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ModelRegistry, type StageState } from '../src/registry/model-registry';
import { defineModel, definePlugin } from '../src/plugins/define';
import { createRegistry } from '../src/plugins/core-plugin';
import type { Artifact, FittedModel, Matrix } from '../src/models/model';
import { runSpec, type SpecRun } from '../src/runner/run-spec';
import { buildRunReport, type RunRecord } from '../src/runner/run-record';
import { predictRows } from '../src/runner/stages';
import { ModelError, RegistryError } from '../src/errors';
import { sha256Hex } from '../src/util/hash';
import { cli, ROOT, tempDir } from './helpers';

const dir = tempDir('model-registry');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A stand-in model: predicts its `bias` for every row, saves it to weights.txt. */
function fakeModel(bias: number, featureNames = ['a', 'b']): FittedModel {
  return {
    modelId: 'test/constant',
    modelVersion: '1.0.0',
    task: 'regression',
    featureNames,
    info: {},
    predict: async (X: Matrix) => new Float32Array(X.rows).fill(bias),
    async save(target: string): Promise<Artifact[]> {
      fs.mkdirSync(target, { recursive: true });
      const text = String(bias);
      fs.writeFileSync(path.join(target, 'weights.txt'), text);
      return [{ path: 'weights.txt', kind: 'weights', sha256: sha256Hex(Buffer.from(text)), bytes: text.length }];
    },
    dispose() {},
  };
}

const constantModel = defineModel({
  id: 'test/constant',
  version: '1.0.0',
  doc: 'Predicts a constant (registry tests).',
  task: 'regression',
  params: z.object({}),
  fit: async () => fakeModel(0),
  load: async (folder: string) => fakeModel(Number(fs.readFileSync(path.join(folder, 'weights.txt'), 'utf8'))),
});
const plugins = createRegistry([definePlugin({ id: '@test/constant', version: '1.0.0', models: [constantModel] })]);

const request = (bias: number, runId: string, extra: Record<string, unknown> = {}) => ({
  name: 'eth-return',
  createdAt: '2026-01-01T00:00:00.000Z',
  params: { bias, depth: 3 },
  label: { id: 'core/future-return', params: { bars: 4 } },
  metrics: { test: { mae: 0.02 * bias, rmse: 0.03, r2: 0.1 * bias } },
  dataFingerprint: `data-${bias}`,
  specHash: 's',
  runId,
  codeVersion: '0.1.0',
  model: fakeModel(bias),
  ...extra,
});

let tick = 0;
const clock = () => new Date(Date.UTC(2026, 0, 1, 0, 0, tick++));

async function registryWith(folder: string, versions: number): Promise<ModelRegistry> {
  const registry = new ModelRegistry(path.join(dir, folder), { clock });
  for (let i = 1; i <= versions; i++) await registry.register(request(i, `run-${i}`));
  return registry;
}

describe('registry stages: promote, rollback, history', () => {
  it('a new version starts in staging; promoting to production archives the previous production version', async () => {
    const registry = await registryWith('stages', 3);
    expect(registry.list('eth-return').map((v) => v.stage)).toEqual(['staging', 'staging', 'staging']);
    expect(registry.promote('eth-return', 1, 'production').stage).toBe('production');
    registry.promote('eth-return', 2, 'production');
    expect(registry.list('eth-return').map((v) => v.stage)).toEqual(['archived', 'production', 'staging']);
    expect(registry.resolve('eth-return', { stage: 'production' }).version).toBe(2);
    // version.json is never rewritten: stages live in stages.json
    const onDisk = JSON.parse(fs.readFileSync(path.join(registry.artifactDir('eth-return', 2), 'version.json'), 'utf8'));
    expect(onDisk.stage).toBe('staging');
    const state: StageState = JSON.parse(fs.readFileSync(path.join(dir, 'stages', 'eth-return', 'stages.json'), 'utf8'));
    expect(state).toMatchObject({ production: 2, previousProduction: [1], stages: { '1': 'archived', '2': 'production' } });
  });

  it('rollback returns production to the previous production version, again and again, and records it', async () => {
    const registry = await registryWith('rollback', 3);
    for (const v of [1, 2, 3]) registry.promote('eth-return', v, 'production');
    expect(registry.rollback('eth-return').version).toBe(2);
    expect(registry.list('eth-return').map((v) => v.stage)).toEqual(['archived', 'production', 'archived']);
    expect(registry.rollback('eth-return').version).toBe(1);
    expect(registry.list('eth-return').map((v) => v.stage)).toEqual(['production', 'archived', 'archived']);
    expect(() => registry.rollback('eth-return')).toThrow(/no earlier production version than v1 to roll back to/);
    const history = registry.history('eth-return');
    expect(history.map((e) => [e.action, e.version, e.from, e.to, e.archived])).toEqual([
      ['promote', 1, 'staging', 'production', undefined],
      ['promote', 2, 'staging', 'production', 1],
      ['promote', 3, 'staging', 'production', 2],
      ['rollback', 2, 'archived', 'production', 3],
      ['rollback', 1, 'archived', 'production', 2],
    ]);
    expect(new Set(history.map((e) => e.at)).size).toBe(5);
  });

  it('registering straight into production archives the current production version', async () => {
    const registry = await registryWith('register-production', 1);
    registry.promote('eth-return', 1, 'production');
    const v2 = await registry.register({ ...request(2, 'run-2'), stage: 'production' });
    expect(v2).toMatchObject({ version: 2, stage: 'production' });
    expect(registry.get('eth-return', 1).stage).toBe('archived');
    expect(registry.rollback('eth-return').version).toBe(1);
  });

  it('demoting production leaves none; removing a production version restores the previous one', async () => {
    const registry = await registryWith('demote', 3);
    registry.promote('eth-return', 1, 'production');
    registry.promote('eth-return', 2, 'production');
    registry.remove('eth-return', 2);
    expect(registry.resolve('eth-return', { stage: 'production' }).version).toBe(1);
    registry.promote('eth-return', 1, 'archived');
    expect(() => registry.resolve('eth-return', { stage: 'production' })).toThrow(/has no production version; promote one with: candlelab registry promote eth-return <version> production \(versions: v1 archived, v3 staging\)/);
    expect(() => registry.rollback('eth-return')).toThrow(/no production version to roll back/);
  });

  it('unknown names, versions and stages fail with one line listing the valid ones', async () => {
    const registry = await registryWith('errors', 2);
    expect(() => registry.promote('eth-retrun', 1, 'production')).toThrow(/no model named 'eth-retrun'.*\(did you mean 'eth-return'\?\); registered: eth-return/);
    expect(() => registry.promote('eth-return', 9, 'production')).toThrow(/has no version 9; versions: 1, 2/);
    expect(() => registry.promote('eth-return', 1, 'prod' as never)).toThrow(RegistryError);
    expect(() => registry.promote('eth-return', 1, 'producton' as never)).toThrow(/unknown stage 'producton' \(did you mean 'production'\?\); stages: staging, production, archived/);
  });
});

describe('registry compare and load', () => {
  it('compare: metric differences and percent change, params, features, data fingerprint', async () => {
    const registry = await registryWith('compare', 1);
    await registry.register({ ...request(2, 'run-2'), model: fakeModel(2, ['a', 'c']) });
    await registry.register({ ...request(3, 'run-3'), timings: { trainingMs: 200, singleRowP50Ms: 0.5 } });
    await registry.register({ ...request(4, 'run-4'), timings: { trainingMs: 300, singleRowP50Ms: 0.25 } });
    expect(registry.compare('eth-return', 3, 4).timings).toEqual([
      { metric: 'trainingMs', a: 200, b: 300, difference: 100, percentChange: 50 },
      { metric: 'singleRowP50Ms', a: 0.5, b: 0.25, difference: -0.25, percentChange: -50 },
    ]);
    const c = registry.compare('eth-return', 1, 2);
    expect(c.timings).toEqual([]);
    const byName = Object.fromEntries(c.metrics.map((m) => [m.metric, m]));
    expect(byName['test.mae'].difference).toBeCloseTo(0.02, 12);
    expect(byName['test.mae'].percentChange).toBeCloseTo(100, 9);
    expect(byName['test.rmse']).toMatchObject({ difference: 0, percentChange: 0 });
    expect(byName['test.r2'].percentChange).toBeCloseTo(100, 9);
    expect(c.params).toEqual([{ path: 'bias', a: 1, b: 2 }]);
    expect(c.features).toEqual({ added: ['c'], removed: ['b'], reordered: false });
    expect(c.dataFingerprint).toEqual({ a: 'data-1', b: 'data-2', same: false });
    expect(c.label).toEqual([]);
  });

  it('loadModel by stage or version returns a model ready to predict', async () => {
    const registry = await registryWith('load', 3);
    registry.promote('eth-return', 2, 'production');
    const X: Matrix = { values: new Float32Array(4), rows: 2, cols: 2 };
    const production = await registry.loadModel('eth-return', { stage: 'production' }, { plugins });
    expect(Array.from(await production.predict(X))).toEqual([2, 2]);
    const v3 = await registry.loadModel('eth-return', { version: 3 }, { plugins });
    expect(Array.from(await v3.predict(X))).toEqual([3, 3]);
    expect((await registry.loadModel('eth-return', { stage: 'staging' }, { plugins })).featureNames).toEqual(['a', 'b']);
    // a tampered artifact is refused
    fs.writeFileSync(path.join(registry.artifactDir('eth-return', 1), 'weights.txt'), '99');
    await expect(registry.loadModel('eth-return', { version: 1 }, { plugins })).rejects.toThrow(/weights.txt does not match its recorded sha256/);
  });

  it('a crash mid-write leaves the registry readable: half-written temp files and folders are ignored', async () => {
    const registry = await registryWith('crash', 2);
    registry.promote('eth-return', 2, 'production');
    const modelDir = path.join(dir, 'crash', 'eth-return');
    // a stage change that died before its rename, a version folder that died before its rename,
    // a numbered folder whose version.json never arrived, and a lock left by a dead process
    fs.writeFileSync(path.join(modelDir, '.stages.json.tmp-999-dead'), '{"format":1,"stages":{"1":"prod');
    fs.mkdirSync(path.join(modelDir, 'versions', '.tmp-999-dead'));
    fs.writeFileSync(path.join(modelDir, 'versions', '.tmp-999-dead', 'version.json'), '{"name":"eth-');
    fs.mkdirSync(path.join(modelDir, 'versions', '7'));
    const dead = spawn(process.execPath, ['-e', '0']);
    await new Promise((resolve) => dead.on('close', resolve));
    fs.writeFileSync(path.join(modelDir, 'stages.lock'), JSON.stringify({ pid: dead.pid, host: require('node:os').hostname(), token: 'dead', since: 0 }));

    expect(registry.names()).toEqual(['eth-return']);
    expect(registry.list('eth-return').map((v) => [v.version, v.stage])).toEqual([
      [1, 'staging'],
      [2, 'production'],
    ]);
    const X: Matrix = { values: new Float32Array(2), rows: 1, cols: 2 };
    expect(Array.from(await (await registry.loadModel('eth-return', undefined, { plugins })).predict(X))).toEqual([2]);
    // the dead writer's lock is taken over; the next version number skips the claimed folder 7
    expect(registry.promote('eth-return', 1, 'production').stage).toBe('production');
    expect((await registry.register(request(8, 'run-8'))).version).toBe(8);
    expect(fs.existsSync(path.join(modelDir, 'stages.lock'))).toBe(false);
  });
});

describe('candlelab registry promote | rollback | compare | history (CLI, concurrent processes)', () => {
  const modelsDir = path.join(dir, 'cli');
  beforeAll(async () => {
    const registry = new ModelRegistry(modelsDir);
    for (let i = 1; i <= 8; i++) await registry.register(request(i, `run-${i}`));
  });

  it('concurrent promotions from 8 processes serialize: one production, every other promoted version archived, a whole history', async () => {
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => cli(['registry', 'promote', 'eth-return', String(i + 1), 'production', '--models-dir', modelsDir])));
    for (const r of results) expect(r.stderr).toBe('');
    expect(results.every((r) => r.status === 0)).toBe(true);
    const registry = new ModelRegistry(modelsDir);
    const state = registry.stageState('eth-return');
    const history = state.history;
    expect(history).toHaveLength(8);
    expect(history.map((e) => e.version).sort()).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    // each promotion archived exactly the one before it: the history is one chain
    for (let i = 1; i < history.length; i++) expect(history[i].archived).toBe(history[i - 1].version);
    expect(state.production).toBe(history[7].version);
    expect(state.previousProduction).toEqual(history.slice(0, 7).map((e) => e.version));
    const stages = registry.list('eth-return').map((v) => v.stage);
    expect(stages.filter((s) => s === 'production')).toHaveLength(1);
    expect(stages.filter((s) => s === 'archived')).toHaveLength(7);
    expect(fs.readdirSync(path.join(modelsDir, 'eth-return')).sort()).toEqual(['stages.json', 'versions']);
  });

  it('rollback, compare, history and the error lines', async () => {
    const registry = new ModelRegistry(modelsDir);
    const before = registry.stageState('eth-return');
    const rolled = await cli(['registry', 'rollback', 'eth-return', '--models-dir', modelsDir]);
    expect(rolled.stdout.trim()).toBe(`eth-return: production v${before.production} → v${before.previousProduction.at(-1)} (v${before.production} archived)`);
    const compare = await cli(['registry', 'compare', 'eth-return', '1', '2', '--models-dir', modelsDir]);
    expect(compare.status).toBe(0);
    expect(compare.stdout).toMatch(/test\.mae\s+0\.0200000\s+0\.0400000\s+\+0\.0200\s+\+100\.00%/);
    expect(compare.stdout).toContain('params: bias 1 → 2');
    expect(compare.stdout).toContain('data fingerprint: data-1… → data-2…');
    const json = JSON.parse((await cli(['registry', 'compare', 'eth-return', '1', '2', '--json', '--models-dir', modelsDir])).stdout);
    expect(json.features).toEqual({ added: [], removed: [], reordered: false });
    const history = await cli(['registry', 'history', 'eth-return', '--models-dir', modelsDir]);
    expect(history.stdout.trim().split('\n')).toHaveLength(10);
    const list = await cli(['registry', 'list', '--models-dir', modelsDir]);
    expect(list.stdout.match(/\[production\]/g)).toHaveLength(1);

    const error = async (args: string[], pattern: RegExp) => {
      const r = await cli([...args, '--models-dir', modelsDir]);
      expect(r.status).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(pattern);
    };
    await error(['registry', 'promote', 'eth-retrn', '1', 'production'], /^candlelab: error: no model named 'eth-retrn'.*did you mean 'eth-return'.*registered: eth-return/);
    await error(['registry', 'promote', 'eth-return', '12', 'production'], /has no version 12; versions: 1, 2, 3, 4, 5, 6, 7, 8/);
    await error(['registry', 'promote', 'eth-return', '1', 'live'], /unknown stage 'live'; stages: staging, production, archived/);
    await error(['registry', 'promote', 'eth-return', 'one', 'staging'], /version 'one' must be a version number/);
    await error(['registry', 'compare', 'eth-return', '1', '30'], /has no version 30/);
    await error(['registry', 'rollback', 'nothing'], /no model named 'nothing'/);
  });
});

describe('a spec run records timings, code version and full metrics; the registered model loads and is checked', () => {
  const workspace = { dataDir: path.join(dir, 'run', 'data'), modelsDir: path.join(dir, 'run', 'models'), runsDir: path.join(dir, 'run', 'runs') };
  const SMALL = ['data.bars=3000', 'model.params.rounds=20', 'model.params.threads=1'];
  let first: SpecRun;
  let second: SpecRun;
  beforeAll(async () => {
    first = await runSpec(path.join(ROOT, 'specs', 'quickstart.json'), { overrides: SMALL, workspace, progress: 'quiet', log: () => {} });
    second = await runSpec(path.join(ROOT, 'specs', 'quickstart.json'), { overrides: SMALL, workspace, progress: 'quiet', log: () => {} });
  });

  it('run.json and the model version hold training time and inference latency; the fingerprint ignores them', () => {
    const saved: RunRecord = JSON.parse(fs.readFileSync(path.join(first.runDir, 'run.json'), 'utf8'));
    const inference = saved.timings.inference!;
    expect(saved.timings.trainingMs).toBeGreaterThan(0);
    expect(inference.singleRowSamples).toBe(256);
    expect(inference.batchRowsPerSecond).toBeGreaterThan(0);
    expect(inference.singleRowP99Ms).toBeGreaterThanOrEqual(inference.singleRowP50Ms);
    expect(saved.git?.commit).toMatch(/^[0-9a-f]{40}$/);
    const version = new ModelRegistry(workspace.modelsDir).get(saved.model.registered!.name, saved.model.registered!.version);
    expect(version.timings).toMatchObject({ trainingMs: saved.timings.trainingMs, singleRowP50Ms: inference.singleRowP50Ms, singleRowSamples: 256 });
    expect(version.gitCommit).toBe(saved.git?.commit);
    expect(version.metrics).toMatchObject({ test: { rocAucMacro: saved.metrics.classification!.test.rocAucMacro, flags: saved.metrics.classification!.test.flags } });
    // wall times differ from run to run; the fingerprint does not
    expect(second.record.timings.trainingMs).not.toBe(first.record.timings.trainingMs);
    expect(second.record.fingerprint).toBe(first.record.fingerprint);
  });

  it('the production model from the registry predicts what the run predicted; another feature set fails before predicting', async () => {
    const registry = new ModelRegistry(workspace.modelsDir);
    const name = first.record.model.registered!.name;
    registry.promote(name, first.record.model.registered!.version, 'production');
    const model = await registry.loadModel(name, { stage: 'production' });
    try {
      const { features, split } = first.results;
      const again = await predictRows(model, features, split, { latencySamples: 0 });
      expect(Array.from(again.values)).toEqual(Array.from(first.results.predictions.values));
      // the same columns in another order are reordered to the model's order
      const reversed = { ...features, frame: features.frame.select([...features.names].reverse()) };
      expect(Array.from((await predictRows(model, reversed, split, { latencySamples: 0 })).values)).toEqual(Array.from(first.results.predictions.values));
      const other = { ...features, frame: features.frame.select(features.names.slice(1)).withColumns({ extra_col: features.frame.column(features.names[0]) }) };
      await expect(predictRows(model, other, split)).rejects.toThrow(ModelError);
      await expect(predictRows(model, other, split)).rejects.toThrow(new RegExp(`missing ${features.names[0]}; extra extra_col`));
    } finally {
      model.dispose();
    }
  });

  it('report.html shows the metrics and timings; a never-predicted class is a banner at the top', () => {
    const report = fs.readFileSync(path.join(first.runDir, 'report.html'), 'utf8');
    expect(report).toContain('test ROC-AUC (one-vs-rest, macro)');
    expect(report).toContain('inference, one row');
    const test = first.record.metrics.classification!.test;
    expect(report.includes('class="alert"')).toBe(test.neverPredicted.length > 0);
    // force the case: a test segment where BUY is never the argmax
    const flagged = { ...test, neverPredicted: ['BUY'], flags: ['never-predicted:BUY'] };
    const html = buildRunReport(first.record, { ...first.results, evaluation: { task: 'classification', valid: test, test: flagged } });
    expect(html).toContain('<div class="alert" data-flags="never-predicted:BUY"><strong>Warning: the model never predicted BUY on the test segment</strong>');
    expect(html.indexOf('class="alert"')).toBeLessThan(html.indexOf('<table'));
  });
});
