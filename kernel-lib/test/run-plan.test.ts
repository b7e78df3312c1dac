import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Frame, type Candles } from '../src/frame/frame';
import { generateSyntheticCandles } from '../src/data/synthetic';
import { writeArrowFile } from '../src/data/arrow-file';
import { writeCandlesCsv } from '../src/data/csv-file';
import { mergeIntoStore, mergeSeriesIntoStore, type StoreKey } from '../src/data/store';
import { loadCandleSource, parseCandleSource } from '../src/data/load-candles';
import { computeFeatures } from '../src/features/compute-features';
import { createRegistry } from '../src/plugins/core-plugin';
import { defineFeature, defineLabeler, definePlugin } from '../src/plugins/define';
import { disposeCoinModels, runCoinStages } from '../src/runner/coin-run';
import { z } from 'zod';
import { backtestStrategy, buildFeatures, buildLabels, createRunContext, loadCandles, runStrategy, splitData, type StrategyRun } from '../src/runner/stages';
import { splitChronological } from '../src/validation/split';
import { backtestStrategyOutput } from '../src/backtest/strategy-backtest';
import { openWorkspace, workspaceStart } from '../src/workspace';
import { jobContext } from '../src/jobs/execute-job';
import type { JobSpec } from '../src/jobs/job';
import type { SpecInput } from '../src/spec/spec';
import { cli, tempDir, ROOT } from './helpers';

/**
 * The run plan and the one candle loader: a spec is resolved once, every path reads candles the same
 * way (store side tables, spec-relative files, the run's store), labels purge by their event ends,
 * regimes see the history before the traded bars, and the workspace is the one the user stands in.
 */

const dir = tempDir('run-plan');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const H = 3_600_000;

const baseSpec = (data: SpecInput['data'], extra: Partial<SpecInput> = {}): SpecInput => ({
  name: 'plan',
  data,
  features: [{ id: 'core/rsi', params: { period: 14 } }, { id: 'core/macd' }],
  label: { id: 'core/direction', params: { bars: 5, threshold: 0.005 } },
  model: { id: 'core/xgboost', params: { rounds: 20 } },
  strategy: { id: 'core/probability-threshold' },
  register: false,
  ...extra,
});

describe('the run plan', () => {
  it('resolves every reference once: outputs, lookbacks, horizon and settings are in the plan, and the stages never resolve again', () => {
    const workspace = { dataDir: path.join(dir, 'plan-data'), runsDir: path.join(dir, 'plan-runs'), modelsDir: path.join(dir, 'plan-models') };
    const context = createRunContext(baseSpec({ source: 'sample', bars: 1500 }, { backtest: { commissionBps: 7 } }), { workspace, log: () => {} });
    const { plan } = context;
    expect(plan.features.map((f) => f.definition.id)).toEqual(['core/rsi', 'core/macd']);
    expect(plan.features[0]).toMatchObject({ outputs: ['rsi_14'], lookback: 14, params: { period: 14 } });
    expect(plan.features[1].outputs).toHaveLength(3);
    expect(plan.lookback).toBe(Math.max(...plan.features.map((f) => f.lookback)));
    expect(plan.label).toMatchObject({ horizon: 5, lookback: 0, params: { bars: 5, threshold: 0.005 } });
    expect(plan.model.params).toMatchObject({ rounds: 20 });
    expect(plan.backtest.commissionBps).toBe(7);
    // The stages read the plan: a registry that can no longer resolve anything changes nothing.
    const registry = context.registry as unknown as { resolve: unknown; resolveWithParams: unknown };
    registry.resolve = registry.resolveWithParams = () => {
      throw new Error('resolved again');
    };
    const candles = loadCandles(context);
    const features = buildFeatures(context, candles);
    expect(features.names).toEqual(plan.features.flatMap((f) => f.outputs));
    const labels = buildLabels(context, candles);
    const split = splitData(context, candles, features, labels);
    const strategy = runStrategy(context, candles, features, { start: split.firstRow, rows: candles.length - split.firstRow, columns: ['SELL', 'HOLD', 'BUY'], values: new Float32Array((candles.length - split.firstRow) * 3).fill(1 / 3), microsecondsPerRow: 0 }, split);
    expect(backtestStrategy(context, candles, strategy).result.settings.commissionBps).toBe(7);
  });

  it('fails before anything runs on a bad reference or a mismatched pair, with one line', () => {
    expect(() => createRunContext(baseSpec({ source: 'sample' }, { features: [{ id: 'core/rsi', params: { period: 1 } }] }))).toThrow(/^feature core\/rsi: param 'period' number must be greater than or equal to 2$/);
    expect(() => createRunContext(baseSpec({ source: 'sample' }, { model: { id: 'core/xgboost-regressor' } }))).toThrow(/^model core\/xgboost-regressor does regression but labeler core\/direction makes classification targets/);
    expect(() => createRunContext(baseSpec({ source: 'sample' }, { backtest: { sizing: { kind: 'equity-fraction', fraktion: 1 } } as never }))).toThrow(/^spec: unknown field 'backtest\.sizing\.fraktion'/);
  });
});

describe('one candle loader', () => {
  const key: StoreKey = { exchange: 'binance', market: 'futures', symbol: 'BTC/USDT:USDT', timeframe: '1h' };
  const candles = generateSyntheticCandles({ seed: 5, bars: 600, timeframe: '1h', start: '2024-01-01T00:00:00Z' });

  it("gives a store-source spec every side table the store holds (funding, open interest), each as of the bar's close", () => {
    const dataDir = path.join(dir, 'side-tables');
    mergeIntoStore(key, candles, dataDir);
    // Funding every 8 h stamped at the hour; open interest every hour, stamped 1 ms after the hour.
    const fundingTimes = Float64Array.from({ length: 75 }, (_, k) => candles.time[0] + k * 8 * H);
    const funding = Frame.fromColumns(fundingTimes, { funding_rate: Float64Array.from(fundingTimes, (_, k) => 0.0001 * (k + 1)) }, { symbol: key.symbol, timeframe: '1h' });
    mergeSeriesIntoStore(key, 'funding', funding, dataDir);
    const oiTimes = Float64Array.from(candles.time, (t) => t + 1);
    mergeSeriesIntoStore(key, 'open-interest', Frame.fromColumns(oiTimes, { open_interest: Float64Array.from(oiTimes, (_, k) => 1000 + k), open_interest_value: Float64Array.from(oiTimes, (_, k) => 5000 + k) }, { symbol: key.symbol, timeframe: '1h' }), dataDir);

    const spec = baseSpec({ source: 'store', exchange: 'binance', market: 'futures', symbol: 'BTC/USDT:USDT', timeframe: '1h' }, {
      features: [{ id: 'core/funding', params: { window: 8 } }, { id: 'core/open-interest', params: { bars: 4 } }],
    });
    const context = createRunContext(spec, { workspace: { dataDir }, log: () => {} });
    const loaded = loadCandles(context);
    expect(loaded.names).toEqual(expect.arrayContaining(['funding_rate', 'open_interest', 'open_interest_value']));
    const rate = (loaded as Frame).column('funding_rate');
    for (let i = 0; i < loaded.length; i++) {
      // the latest funding stamped strictly before the bar's close (open + 1 h): at or before the open
      const k = Math.floor((loaded.time[i] - candles.time[0]) / (8 * H));
      expect(rate[i]).toBe(0.0001 * (k + 1));
    }
    const oi = (loaded as Frame).column('open_interest');
    expect(oi[10]).toBe(1010); // stamped 1 ms after bar 10's open: before its close
    const features = buildFeatures(context, loaded);
    expect(features.names).toEqual(['funding_level', 'funding_ma_8', 'funding_change', 'oi_change_4']);
    // Through the same loader, the store id names the perpetual (BTC/USDT:USDT, never BTC/USDT-USDT).
    const viaId = loadCandleSource(parseCandleSource('binance/futures/BTC-USDT-USDT/1h'), { dataDir });
    expect(viaId.meta.symbol).toBe('BTC/USDT:USDT');
    expect(viaId.has('funding_rate')).toBe(true);
  });

  it('candlelab backtest on a futures store id reports the perpetual symbol', async () => {
    const dataDir = path.join(dir, 'side-tables');
    const result = await cli(['backtest', 'binance/futures/BTC-USDT-USDT/1h', '--strategy', 'core/sma-crossover', '--json'], { CANDLELAB_DATA_DIR: dataDir, CANDLELAB_RUNS_DIR: path.join(dir, 'bt-runs') });
    expect(result.stderr).toBe('');
    expect(JSON.parse(result.stdout).data[0]).toMatchObject({ symbol: 'BTC/USDT:USDT', timeframe: '1h', rows: 600 });
  });

  it("reads core/cross-asset references relative to the spec's folder and from the run's store (--data-dir), not the working folder", () => {
    const project = path.join(dir, 'cross');
    fs.mkdirSync(path.join(project, 'refs'), { recursive: true });
    const btc = generateSyntheticCandles({ seed: 21, bars: 800 });
    const eth = generateSyntheticCandles({ seed: 22, bars: 800, symbol: 'ETH/USDT', startPrice: 2000 });
    writeArrowFile(path.join(project, 'btc.arrow'), btc);
    writeCandlesCsv(path.join(project, 'refs', 'eth.csv'), eth);
    const dataDir = path.join(dir, 'cross-store');
    mergeIntoStore({ exchange: 'kraken', market: 'spot', symbol: 'ETH/USDT', timeframe: '1h' }, eth, dataDir);
    const specFile = path.join(project, 'spec.json');
    fs.writeFileSync(
      specFile,
      JSON.stringify(
        baseSpec({ source: 'file', path: 'btc.arrow' }, {
          features: [
            { id: 'core/cross-asset', params: { reference: { path: 'refs/eth.csv' }, name: 'eth_file' } },
            { id: 'core/cross-asset', params: { reference: { exchange: 'kraken', symbol: 'ETH/USDT' }, name: 'eth_store' } },
          ],
        }),
      ),
    );
    expect(process.cwd()).not.toBe(project);
    const context = createRunContext(specFile, { workspace: { dataDir }, log: () => {} });
    const features = buildFeatures(context, loadCandles(context));
    const expected = computeFeatures(btc, [{ id: 'core/cross-asset', params: { reference: { path: path.join(project, 'refs', 'eth.csv') }, name: 'x' } }], createRegistry());
    expect(Array.from(features.frame.column('x_eth_file_corr_30'))).toEqual(Array.from(expected.frame.column('x_x_corr_30')));
    expect(Array.from(features.frame.column('x_eth_store_corr_30'))).toEqual(Array.from(expected.frame.column('x_x_corr_30')));
  });

  it('candlelab features reads store references from --data-dir', async () => {
    const out = path.join(dir, 'features.csv');
    const input = path.join(dir, 'cross', 'btc.arrow');
    const result = await cli(['features', input, '--feature', 'core/cross-asset:reference={"exchange":"kraken","symbol":"ETH/USDT"}', '--out', out, '--data-dir', path.join(dir, 'cross-store')]);
    expect(result.stderr).toBe('');
    expect(fs.readFileSync(out, 'utf8').split('\n')[0]).toMatch(/x_kraken_eth_usdt_corr_30/);
  });
});

describe('purged splits', () => {
  it("purge by each label's event end: no training label is decided inside the next segment", () => {
    const n = 1000;
    const time = Float64Array.from({ length: n }, (_, i) => i * H);
    // Events end 1..12 bars later, irregularly; the declared horizon (3) is shorter than some of them.
    const eventEnd = Float64Array.from({ length: n }, (_, i) => time[Math.min(n - 1, i + 1 + ((i * 7) % 12))]);
    const split = splitChronological(n, 10, 3, { train: 0.7, valid: 0.15, test: 0.15 }, time, eventEnd);
    expect(split.purgeBy).toBe('event-end');
    for (const [segment, next] of [[split.train, split.valid], [split.valid, split.test]] as const) {
      for (let r = segment.start; r < segment.end; r++) expect(eventEnd[r]).toBeLessThan(time[next.start]);
      // the segment ends right before the first row whose event reaches the next segment
      expect(eventEnd[segment.end]).toBeGreaterThanOrEqual(time[next.start]);
    }
    expect(split.purged.train).toBe(split.valid.start - split.train.end);
    // The horizon alone would have kept labels that look into the validation segment.
    const byHorizon = splitChronological(n, 10, 3, { train: 0.7, valid: 0.15, test: 0.15 }, time);
    expect(byHorizon.purgeBy).toBe('horizon');
    const leaking = Array.from({ length: byHorizon.train.end - byHorizon.train.start }, (_, k) => byHorizon.train.start + k).filter((r) => eventEnd[r] >= time[byHorizon.valid.start]);
    expect(leaking.length).toBeGreaterThan(0);
  });

  it('the runner purges by the event ends a labeler gives (a plugin labeler whose events outlast its horizon)', () => {
    const longEvents = defineLabeler({
      id: 'test/long-events',
      version: '1.0.0',
      doc: 'Direction over 1 bar, decided 10 bars later (its event end says so).',
      task: 'classification',
      params: z.object({}),
      horizon: () => 1,
      label: (candles: Candles) => {
        const close = candles.column('close');
        const n = candles.length;
        const target = Float64Array.from({ length: n }, (_, i) => (i + 1 < n ? (close[i + 1] > close[i] ? 2 : 0) : NaN));
        const eventEnd = Float64Array.from({ length: n }, (_, i) => (i + 10 < n ? candles.time[i + 10] : NaN));
        return { target, classes: ['SELL', 'HOLD', 'BUY'], eventEnd };
      },
    });
    const plugin = definePlugin({ id: 'test-long-events', version: '1.0.0', labelers: [longEvents] });
    const spec = baseSpec({ source: 'sample', bars: 1500 }, { label: { id: 'test/long-events' } });
    const context = createRunContext(spec, { workspace: { dataDir: path.join(dir, 'plan-data') }, plugins: [plugin], log: () => {} });
    const candles = loadCandles(context);
    const labels = buildLabels(context, candles);
    const features = buildFeatures(context, candles);
    const split = splitData(context, candles, features, labels);
    expect(split.purgeBy).toBe('event-end');
    expect(split.purged.train).toBe(10);
    for (let r = split.train.start; r < split.train.end; r++) expect(labels.eventEnd![r]).toBeLessThan(candles.time[split.valid.start]);
  });
});

describe('resolve once: a multi-coin run uses its plan', () => {
  it('parses each plugin\'s params exactly once per run, however many coins', async () => {
    const parses = { feature: 0, label: 0 };
    const counted = defineFeature({
      id: 'test/counted-returns',
      version: '1.0.0',
      doc: 'One-bar return; counts how often its params are parsed.',
      params: z.object({ bars: z.number().int().min(1).default(1).transform((v) => (parses.feature++, v)) }),
      lookback: (p) => p.bars,
      outputs: () => ['counted_return'],
      compute: (candles, p) => {
        const close = candles.column('close');
        return { counted_return: Float64Array.from(close, (c, i) => (i >= p.bars ? c / close[i - p.bars] - 1 : NaN)) };
      },
    });
    const direction = createRegistry().resolve('labeler', 'core/direction');
    const countedLabel = defineLabeler({
      id: 'test/counted-direction',
      version: '1.0.0',
      doc: 'core/direction; counts how often its params are parsed.',
      task: 'classification',
      params: z.object({ bars: z.number().int().min(1).default(5).transform((v) => (parses.label++, v)) }),
      horizon: (p) => p.bars,
      label: (candles, p) => direction.label(candles, direction.params.parse({ bars: p.bars, threshold: 0.005 })),
    });
    const plugin = definePlugin({ id: 'test-counted', version: '1.0.0', features: [counted], labelers: [countedLabel] });
    const spec = baseSpec(
      ['BTC/USDT', 'ETH/USDT', 'SOL/USDT'].map((symbol, k) => ({ source: 'sample', symbol, seed: 30 + k, bars: 1200 })) as never,
      { features: [{ id: 'test/counted-returns', params: { bars: 2 } }, { id: 'core/rsi' }], label: { id: 'test/counted-direction' }, model: { id: 'core/xgboost', params: { rounds: 5 } }, models: { mode: 'per-coin' } },
    );
    const context = createRunContext(spec, { workspace: { dataDir: path.join(dir, 'plan-data') }, plugins: [plugin], log: () => {} });
    expect(parses).toEqual({ feature: 1, label: 1 });
    const results = await runCoinStages(context);
    try {
      expect(results.coins.map((c) => c.coin)).toEqual(['BTC/USDT', 'ETH/USDT', 'SOL/USDT']);
      expect(results.coins[2].trained.features.names).toContain('counted_return');
      // the stages took the definitions and parsed params from the plan: no parse per coin
      expect(parses).toEqual({ feature: 1, label: 1 });
    } finally {
      disposeCoinModels(results);
    }
  });
});

describe('resolve once: a worker process resolves a walk-forward run\'s plan once for all its window jobs', () => {
  it('jobContext gives the same resolved context to every job of one spec, and another to another spec', () => {
    const workspace = openWorkspace({ root: dir, dataDir: path.join(dir, 'plan-data'), modelsDir: path.join(dir, 'models'), runsDir: path.join(dir, 'runs'), cacheDir: path.join(dir, 'cache') });
    const spec = baseSpec({ source: 'sample', bars: 1500 }, { validation: { method: 'walk-forward', train: '20d', test: '10d' } as never });
    const job = (value: unknown): JobSpec => ({ spec: value, baseDir: dir, workspace, dataFingerprint: 'x' });
    const first = jobContext(job(spec));
    expect(first.plan.validation?.definition.id).toBe('core/walk-forward');
    // the next fold's job (a new copy of the same spec, as it arrives over IPC): the same plan object
    expect(jobContext(job(JSON.parse(JSON.stringify(spec))))).toBe(first);
    const other = jobContext(job({ ...spec, seed: 7 }));
    expect(other).not.toBe(first);
    expect(other.spec.seed).toBe(7);
  });
});

describe('market regimes of a run', () => {
  it('classify each traded bar from the full history before it, not from the traded slice alone', () => {
    // 60 days of a steady climb (+0.05 % a bar), then 5 days traded: a 30-day window sees the climb.
    const n = 65 * 24;
    const close = Float64Array.from({ length: n }, (_, i) => 100 * 1.0005 ** i);
    const candles = Frame.fromColumns(Float64Array.from({ length: n }, (_, i) => i * H), { open: close, high: close.map((c) => c * 1.001), low: close.map((c) => c * 0.999), close, volume: close.map(() => 1) }, { symbol: 'BTC/USDT', timeframe: '1h' }) as Candles;
    const start = 60 * 24;
    const traded = candles.slice(start, n);
    const output = { targets: new Float64Array(traded.length).fill(1) };
    const alone = backtestStrategyOutput(traded, 'hold', output, {});
    expect(alone.report.regimes.find((r) => r.regime === 'sideways')!.bars).toBe(traded.length - 1); // the slice cannot see 30 days back
    const withHistory = backtestStrategyOutput(traded, 'hold', output, {}, undefined, candles.slice(0, start));
    expect(withHistory.report.regimes.find((r) => r.regime === 'bull')!.bars).toBe(traded.length - 1);
    // The run's backtest stage hands it the bars before the test segment.
    const context = createRunContext(baseSpec({ source: 'sample', bars: 1500 }), { workspace: { dataDir: path.join(dir, 'plan-data') }, log: () => {} });
    const run: StrategyRun = { targets: output.targets, output, definition: context.plan.strategy.definition, params: {}, start, end: n };
    expect(backtestStrategy(context, candles, run).report.regimes.find((r) => r.regime === 'bull')!.bars).toBe(traded.length - 1);
  });
});

describe('the workspace of a run', () => {
  it('is the one the working folder is in, else the spec folder', () => {
    expect(workspaceStart('/somewhere/specs', ROOT)).toBe(ROOT);
    const outside = tempDir('no-workspace');
    expect(workspaceStart('/somewhere/specs', outside)).toBe('/somewhere/specs');
  });

  it('candlelab run ../elsewhere/spec.json from a project writes runs/ and models/ in that project', async () => {
    const project = path.join(dir, 'project');
    const elsewhere = path.join(dir, 'elsewhere');
    fs.mkdirSync(project, { recursive: true });
    fs.mkdirSync(elsewhere, { recursive: true });
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'p', private: true, candlelab: {} }));
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(project, 'node_modules')); // candlelab installed there
    fs.writeFileSync(path.join(elsewhere, 'spec.json'), JSON.stringify({ ...baseSpec({ source: 'sample', bars: 2000 }), register: true }));
    // npx in the project, the spec given relative to it
    const result = await cli(['run', path.relative(project, path.join(elsewhere, 'spec.json')), '--json', '--progress', 'quiet', '--data-dir', path.join(dir, 'plan-data')], { CANDLELAB_RUNS_DIR: '', CANDLELAB_MODELS_DIR: '' }, project);
    expect(result.stderr).not.toMatch(/error/i);
    expect(result.status).toBe(0);
    const summary = JSON.parse(result.stdout);
    expect(path.dirname(summary.runDir)).toBe(path.join(project, 'runs'));
    expect(fs.readdirSync(path.join(project, 'models'))).toEqual(['plan-BTC-USDT-1h']);
    expect(fs.existsSync(path.join(elsewhere, 'runs'))).toBe(false);
    expect(fs.existsSync(path.join(elsewhere, 'models'))).toBe(false);
  });
});

describe('the machine-readable catalogue', () => {
  it('plugins list --json and features --list --json give id, version, kind, params with types and defaults, outputs, lookback/horizon and doc', async () => {
    const all = JSON.parse((await cli(['plugins', 'list', '--json'])).stdout);
    const kinds = new Set(all.map((e: { kind: string }) => e.kind));
    expect([...kinds].sort()).toEqual(['feature', 'labeler', 'model', 'source', 'splitter', 'strategy']);
    expect(all.filter((e: { kind: string }) => e.kind === 'splitter').map((e: { id: string }) => e.id).sort()).toEqual(['core/cpcv', 'core/purged-kfold', 'core/walk-forward']);
    expect(all.find((e: { id: string }) => e.id === 'core/rsi')).toEqual({
      kind: 'feature',
      id: 'core/rsi',
      version: '1.0.0',
      plugin: 'core',
      doc: expect.stringMatching(/Relative Strength Index/),
      params: [{ name: 'period', type: 'number', default: 14, required: false }],
      outputs: ['rsi_14'],
      lookback: 14,
      inputs: [],
    });
    expect(all.find((e: { id: string }) => e.id === 'core/triple-barrier')).toMatchObject({ kind: 'labeler', task: 'classification', horizon: 24 });
    expect(all.find((e: { id: string }) => e.id === 'core/cross-asset')).toMatchObject({ params: expect.arrayContaining([expect.objectContaining({ name: 'reference', required: true })]), outputs: null });
    const features = JSON.parse((await cli(['features', '--list', '--json'])).stdout);
    expect(features.every((e: { kind: string }) => e.kind === 'feature')).toBe(true);
    expect(features.length).toBe(all.filter((e: { kind: string }) => e.kind === 'feature').length);
    const labelers = JSON.parse((await cli(['label', '--list', '--json'])).stdout);
    expect(labelers.map((e: { id: string }) => e.id)).toContain('core/direction');
  });
});
